//! The messages of Mapbox's `vector_tile.proto` (version 2.1), declared with prost's derive:
//! no `protoc` and no build script, and the field tags below are the whole schema.

/// A vector tile: its layers.
#[derive(Clone, PartialEq, prost::Message)]
pub struct Tile {
    /// The layers, each with a unique name.
    #[prost(message, repeated, tag = "3")]
    pub layers: Vec<Layer>,
}

/// A typed attribute value; exactly one field is set.
#[derive(Clone, PartialEq, prost::Message)]
pub struct Value {
    /// A string.
    #[prost(string, optional, tag = "1")]
    pub string_value: Option<String>,
    /// A 32-bit float.
    #[prost(float, optional, tag = "2")]
    pub float_value: Option<f32>,
    /// A 64-bit float.
    #[prost(double, optional, tag = "3")]
    pub double_value: Option<f64>,
    /// A signed integer (varint).
    #[prost(int64, optional, tag = "4")]
    pub int_value: Option<i64>,
    /// An unsigned integer.
    #[prost(uint64, optional, tag = "5")]
    pub uint_value: Option<u64>,
    /// A signed integer (zigzag).
    #[prost(sint64, optional, tag = "6")]
    pub sint_value: Option<i64>,
    /// A boolean.
    #[prost(bool, optional, tag = "7")]
    pub bool_value: Option<bool>,
}

/// One feature: id, attributes as key/value index pairs, geometry commands.
#[derive(Clone, PartialEq, prost::Message)]
pub struct Feature {
    /// The feature id.
    #[prost(uint64, optional, tag = "1")]
    pub id: Option<u64>,
    /// Pairs of indexes into the layer's keys and values.
    #[prost(uint32, repeated, packed = "true", tag = "2")]
    pub tags: Vec<u32>,
    /// [`GeomType`].
    #[prost(enumeration = "GeomType", optional, tag = "3")]
    pub r#type: Option<i32>,
    /// Command integers and zigzag-encoded parameters.
    #[prost(uint32, repeated, packed = "true", tag = "4")]
    pub geometry: Vec<u32>,
}

/// One layer: name, features and the key and value tables their tags index.
#[derive(Clone, PartialEq, prost::Message)]
pub struct Layer {
    /// Always 2 here.
    #[prost(uint32, required, tag = "15")]
    pub version: u32,
    /// The layer name.
    #[prost(string, required, tag = "1")]
    pub name: String,
    /// The features.
    #[prost(message, repeated, tag = "2")]
    pub features: Vec<Feature>,
    /// Attribute names.
    #[prost(string, repeated, tag = "3")]
    pub keys: Vec<String>,
    /// Attribute values.
    #[prost(message, repeated, tag = "4")]
    pub values: Vec<Value>,
    /// Tile coordinates span 0..extent.
    #[prost(uint32, optional, tag = "5")]
    pub extent: Option<u32>,
}

/// Geometry types.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, prost::Enumeration)]
#[repr(i32)]
pub enum GeomType {
    /// Unknown (never written).
    Unknown = 0,
    /// Point or multipoint.
    Point = 1,
    /// Linestring or multilinestring.
    Linestring = 2,
    /// Polygon or multipolygon.
    Polygon = 3,
}
