//! Reading a tile back: layers, features with ids, typed attributes and integer geometries.
//! The server never decodes what it serves; tests, the differential check against the source
//! data, and the checks of stored vector pyramids do.

use prost::Message;

use crate::geometry::{self, GridGeometry};
use crate::proto;
use crate::tile::Value;
use crate::MvtError;

/// A decoded layer.
#[derive(Debug, Clone, PartialEq)]
pub struct DecodedLayer {
    /// The layer name.
    pub name: String,
    /// Tile units across the tile.
    pub extent: u32,
    /// The features, in tile order.
    pub features: Vec<DecodedFeature>,
}

/// A decoded feature.
#[derive(Debug, Clone, PartialEq)]
pub struct DecodedFeature {
    /// The feature id, when the tile has one.
    pub id: Option<u64>,
    /// The geometry in tile units (x right, y down).
    pub geometry: GridGeometry,
    /// The attributes, in tile order.
    pub properties: Vec<(String, Value)>,
}

impl DecodedFeature {
    /// The value of an attribute.
    pub fn property(&self, name: &str) -> Option<&Value> {
        self.properties
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v)
    }
}

/// Decodes an (uncompressed) tile.
pub fn decode(bytes: &[u8]) -> Result<Vec<DecodedLayer>, MvtError> {
    let tile = proto::Tile::decode(bytes).map_err(|e| MvtError::Invalid(e.to_string()))?;
    let mut layers = Vec::with_capacity(tile.layers.len());
    for layer in tile.layers {
        let mut features = Vec::with_capacity(layer.features.len());
        for (index, feature) in layer.features.iter().enumerate() {
            let invalid = |what: String| {
                MvtError::Invalid(format!("layer '{}', feature {index}: {what}", layer.name))
            };
            let kind = feature
                .r#type
                .and_then(|t| proto::GeomType::try_from(t).ok())
                .unwrap_or(proto::GeomType::Unknown);
            let geometry = geometry::decode_commands(kind, &feature.geometry).map_err(invalid)?;
            if feature.tags.len() % 2 != 0 {
                return Err(invalid("an odd number of tags".to_owned()));
            }
            let mut properties = Vec::with_capacity(feature.tags.len() / 2);
            for pair in feature.tags.chunks_exact(2) {
                let key = layer
                    .keys
                    .get(pair[0] as usize)
                    .ok_or_else(|| invalid(format!("key index {} out of range", pair[0])))?;
                let value = layer
                    .values
                    .get(pair[1] as usize)
                    .ok_or_else(|| invalid(format!("value index {} out of range", pair[1])))?;
                let value = typed(value).ok_or_else(|| invalid("an empty value".to_owned()))?;
                properties.push((key.clone(), value));
            }
            features.push(DecodedFeature {
                id: feature.id,
                geometry,
                properties,
            });
        }
        layers.push(DecodedLayer {
            name: layer.name,
            extent: layer.extent.unwrap_or(4096),
            features,
        });
    }
    Ok(layers)
}

fn typed(value: &proto::Value) -> Option<Value> {
    if let Some(s) = &value.string_value {
        return Some(Value::String(s.clone()));
    }
    if let Some(f) = value.float_value {
        return Some(Value::Float(f64::from(f)));
    }
    if let Some(f) = value.double_value {
        return Some(Value::Float(f));
    }
    if let Some(i) = value.int_value.or(value.sint_value) {
        return Some(Value::Int(i));
    }
    if let Some(u) = value.uint_value {
        return Some(i64::try_from(u).map_or(Value::Float(u as f64), Value::Int));
    }
    value.bool_value.map(Value::Bool)
}
