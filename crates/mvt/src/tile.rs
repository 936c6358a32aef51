//! Building a tile: features in map coordinates go in, a size-bounded encoded tile comes out.

use std::collections::HashMap;

use geo_types::{Coord, Geometry};
use prost::Message;

use crate::geometry::{self, ClipRect, TileGeometry};
use crate::proto;

/// An attribute value as MVT types it.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// Text (also dates and anything else written as text).
    String(String),
    /// An integer.
    Int(i64),
    /// A floating-point number.
    Float(f64),
    /// A boolean.
    Bool(bool),
}

/// Where the tile is and how it is written.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TileOptions {
    /// The tile's extent in map coordinates: `[min_x, min_y, max_x, max_y]`.
    pub bounds: [f64; 4],
    /// Tile units across the tile (MVT's `extent`; 4096 is the convention).
    pub extent: u32,
    /// Tile units kept around the tile, so that renderers draw strokes and symbols across
    /// tile edges without seams.
    pub buffer: u32,
    /// Encoded bytes a tile may not exceed; above it the tile is thinned.
    pub max_bytes: usize,
}

impl TileOptions {
    /// A tile over `bounds` with the conventional settings: 4096 units, a 64-unit buffer,
    /// 500 kB at most (as tippecanoe).
    pub fn new(bounds: [f64; 4]) -> TileOptions {
        TileOptions::with(bounds, TileSettings::default())
    }

    /// A tile over `bounds` with `settings`.
    pub fn with(bounds: [f64; 4], settings: TileSettings) -> TileOptions {
        TileOptions {
            bounds,
            extent: settings.extent,
            buffer: settings.buffer,
            max_bytes: settings.max_bytes,
        }
    }
}

/// How every tile of a set is written: [`TileOptions`] without the bounds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TileSettings {
    /// Tile units across a tile.
    pub extent: u32,
    /// Tile units kept around the tile.
    pub buffer: u32,
    /// Bytes a tile may not exceed.
    pub max_bytes: usize,
}

impl Default for TileSettings {
    /// 4096 units, a 64-unit buffer, 500 kB.
    fn default() -> TileSettings {
        TileSettings {
            extent: 4096,
            buffer: 64,
            max_bytes: 500_000,
        }
    }
}

/// A tile being built: layers of features clipped to the buffered tile.
#[derive(Debug)]
pub struct Tile {
    options: TileOptions,
    clip: ClipRect,
    scale: (f64, f64),
    layers: Vec<Layer>,
}

/// One layer of a [`Tile`].
#[derive(Debug)]
pub struct Layer {
    name: String,
    features: Vec<Pending>,
}

#[derive(Debug)]
struct Pending {
    id: Option<u64>,
    geometry: TileGeometry,
    properties: Vec<(String, Value)>,
}

/// How a tile was thinned to fit its byte budget.
#[derive(Debug, Clone, PartialEq)]
pub struct Thinning {
    /// Bytes of the tile as first encoded.
    pub original_bytes: usize,
    /// Simplification tolerance applied, in tile units (0: none).
    pub tolerance: f64,
    /// Features dropped (the smallest first).
    pub dropped: usize,
}

/// An encoded tile.
#[derive(Debug, Clone, PartialEq)]
pub struct Encoded {
    /// The protobuf bytes (uncompressed).
    pub bytes: Vec<u8>,
    /// Features written.
    pub features: usize,
    /// `Some` when the tile had to be thinned to fit [`TileOptions::max_bytes`].
    pub thinning: Option<Thinning>,
}

impl Tile {
    /// An empty tile.
    pub fn new(options: TileOptions) -> Tile {
        let extent = f64::from(options.extent.max(1));
        let buffer = f64::from(options.buffer);
        let [min_x, min_y, max_x, max_y] = options.bounds;
        Tile {
            options,
            clip: [-buffer, -buffer, extent + buffer, extent + buffer],
            scale: (extent / (max_x - min_x), extent / (max_y - min_y)),
            layers: Vec::new(),
        }
    }

    /// The map-coordinate box features must intersect to reach the tile (the tile and its
    /// buffer): `[min_x, min_y, max_x, max_y]`.
    pub fn query_bounds(&self) -> [f64; 4] {
        let [min_x, min_y, max_x, max_y] = self.options.bounds;
        let margin_x = f64::from(self.options.buffer) / self.scale.0;
        let margin_y = f64::from(self.options.buffer) / self.scale.1;
        [
            min_x - margin_x,
            min_y - margin_y,
            max_x + margin_x,
            max_y + margin_y,
        ]
    }

    /// Map units per tile unit (x): the quantization step.
    pub fn unit(&self) -> f64 {
        1.0 / self.scale.0
    }

    /// Adds a feature to a layer (created at its first feature). The geometry, in map
    /// coordinates, is clipped to the buffered tile; `false` when nothing of it is left.
    pub fn add_feature(
        &mut self,
        layer: &str,
        id: Option<u64>,
        geometry: &Geometry<f64>,
        properties: Vec<(String, Value)>,
    ) -> bool {
        let parts = self.to_tile(geometry);
        if parts.is_empty() {
            return false;
        }
        let index = if let Some(i) = self.layers.iter().position(|l| l.name == layer) {
            i
        } else {
            self.layers.push(Layer {
                name: layer.to_owned(),
                features: Vec::new(),
            });
            self.layers.len() - 1
        };
        let features = &mut self.layers[index].features;
        let last = parts.len() - 1;
        let mut properties = Some(properties);
        for (i, geometry) in parts.into_iter().enumerate() {
            // A collection mixing points, lines and polygons is one MVT feature per type.
            let properties = if i == last {
                properties.take().unwrap_or_default()
            } else {
                properties.clone().unwrap_or_default()
            };
            features.push(Pending {
                id,
                geometry,
                properties,
            });
        }
        true
    }

    /// Whether no feature reached the tile.
    pub fn is_empty(&self) -> bool {
        self.layers.iter().all(|l| l.features.is_empty())
    }

    /// The geometry in tile space, clipped: one entry per MVT geometry type present.
    fn to_tile(&self, geometry: &Geometry<f64>) -> Vec<TileGeometry> {
        let mut points = Vec::new();
        let mut lines = Vec::new();
        let mut polygons = Vec::new();
        self.collect(geometry, &mut points, &mut lines, &mut polygons);
        let mut out = Vec::new();
        if !points.is_empty() {
            out.push(TileGeometry::Points(points));
        }
        if !lines.is_empty() {
            out.push(TileGeometry::Lines(lines));
        }
        if !polygons.is_empty() {
            out.push(TileGeometry::Polygons(polygons));
        }
        out
    }

    fn project(&self, coords: &[Coord<f64>]) -> Option<Vec<Coord<f64>>> {
        let [min_x, _, _, max_y] = self.options.bounds;
        coords
            .iter()
            .map(|c| {
                let p = Coord {
                    x: (c.x - min_x) * self.scale.0,
                    y: (max_y - c.y) * self.scale.1,
                };
                (p.x.is_finite() && p.y.is_finite()).then_some(p)
            })
            .collect()
    }

    fn collect(
        &self,
        geometry: &Geometry<f64>,
        points: &mut Vec<Coord<f64>>,
        lines: &mut Vec<Vec<Coord<f64>>>,
        polygons: &mut Vec<Vec<Vec<Coord<f64>>>>,
    ) {
        let polygon = |p: &geo_types::Polygon<f64>, polygons: &mut Vec<_>| {
            let Some(exterior) = self.ring(p.exterior()) else {
                return;
            };
            let mut rings = vec![exterior];
            rings.extend(p.interiors().iter().filter_map(|r| self.ring(r)));
            polygons.push(rings);
        };
        let line = |l: &geo_types::LineString<f64>, lines: &mut Vec<_>| {
            if let Some(coords) = self.project(&l.0) {
                lines.extend(geometry::clip_line(&coords, self.clip));
            }
        };
        match geometry {
            Geometry::Point(p) => {
                if let Some(c) = self.project(&[p.0]) {
                    points.extend(geometry::clip_points(&c, self.clip));
                }
            }
            Geometry::MultiPoint(m) => {
                let coords: Vec<Coord<f64>> = m.iter().map(|p| p.0).collect();
                if let Some(c) = self.project(&coords) {
                    points.extend(geometry::clip_points(&c, self.clip));
                }
            }
            Geometry::Line(l) => line(&geo_types::LineString::new(vec![l.start, l.end]), lines),
            Geometry::LineString(l) => line(l, lines),
            Geometry::MultiLineString(m) => {
                for l in m {
                    line(l, lines);
                }
            }
            Geometry::Polygon(p) => polygon(p, polygons),
            Geometry::MultiPolygon(m) => {
                for p in m {
                    polygon(p, polygons);
                }
            }
            Geometry::Rect(r) => polygon(&r.to_polygon(), polygons),
            Geometry::Triangle(t) => polygon(&t.to_polygon(), polygons),
            Geometry::GeometryCollection(c) => {
                for g in c {
                    self.collect(g, points, lines, polygons);
                }
            }
        }
    }

    /// A ring projected and clipped, open (no repeated first point); `None` when nothing of
    /// it is inside.
    fn ring(&self, ring: &geo_types::LineString<f64>) -> Option<Vec<Coord<f64>>> {
        let mut coords = self.project(&ring.0)?;
        if coords.len() > 1 && coords.first() == coords.last() {
            coords.pop();
        }
        let clipped = geometry::clip_ring(&coords, self.clip);
        (clipped.len() >= 3).then_some(clipped)
    }

    /// Encodes the tile. When it exceeds the byte budget, geometries are simplified more
    /// coarsely (up to 16 tile units, while that still shrinks the tile by a tenth a step),
    /// then the smallest features are dropped until it fits;
    /// [`Encoded::thinning`] says what was done.
    pub fn encode(self) -> Encoded {
        let (bytes, features) = self.encode_with(0.0, &[]);
        if bytes.len() <= self.options.max_bytes {
            return Encoded {
                bytes,
                features,
                thinning: None,
            };
        }
        let original_bytes = bytes.len();
        let mut last = (bytes, features, 0.0);
        for tolerance in [1.0, 4.0, 16.0] {
            let (bytes, features) = self.encode_with(tolerance, &[]);
            let fits = bytes.len() <= self.options.max_bytes;
            // Geometries with few vertices (parcels, buildings) do not shrink when simplified:
            // when a step gains less than a tenth, coarser ones will not do better.
            let stalled = bytes.len() * 10 > last.0.len() * 9;
            let previous = std::mem::replace(&mut last, (bytes, features, tolerance));
            if stalled && !fits {
                last = previous;
                break;
            }
            if fits {
                return Encoded {
                    bytes: last.0,
                    features: last.1,
                    thinning: Some(Thinning {
                        original_bytes,
                        tolerance,
                        dropped: 0,
                    }),
                };
            }
        }
        // Still too large: drop the smallest features, keeping a share that should fit.
        let tolerance = last.2;
        let mut order: Vec<(usize, usize, f64)> = self
            .layers
            .iter()
            .enumerate()
            .flat_map(|(l, layer)| {
                layer
                    .features
                    .iter()
                    .enumerate()
                    .map(move |(f, feature)| (l, f, feature.geometry.size()))
            })
            .collect();
        // Smallest first; among equals (points) the order of the data, every other one first.
        order.sort_by(|a, b| a.2.total_cmp(&b.2).then((a.1 % 2).cmp(&(b.1 % 2))));
        let total = order.len();
        let mut keep = total;
        let mut size = last.0.len();
        let mut encoded = last.0;
        let mut written = last.1;
        while size > self.options.max_bytes && keep > 0 {
            let ratio = self.options.max_bytes as f64 / size as f64 * 0.9;
            keep = ((keep as f64 * ratio) as usize).min(keep - 1);
            let dropped: Vec<(usize, usize)> = order[..total - keep]
                .iter()
                .map(|(l, f, _)| (*l, *f))
                .collect();
            let mut dropped = dropped;
            dropped.sort_unstable();
            let (bytes, features) = self.encode_with(tolerance, &dropped);
            size = bytes.len();
            encoded = bytes;
            written = features;
        }
        Encoded {
            bytes: encoded,
            features: written,
            thinning: Some(Thinning {
                original_bytes,
                tolerance,
                dropped: total - keep,
            }),
        }
    }

    /// Encodes with a simplification tolerance, leaving out `dropped` (layer, feature)
    /// indexes (sorted); returns the bytes and the number of features written.
    fn encode_with(&self, tolerance: f64, dropped: &[(usize, usize)]) -> (Vec<u8>, usize) {
        let mut tile = proto::Tile { layers: Vec::new() };
        let mut written = 0;
        for (l, layer) in self.layers.iter().enumerate() {
            let mut out = LayerWriter::new(&layer.name, self.options.extent);
            for (f, feature) in layer.features.iter().enumerate() {
                if dropped.binary_search(&(l, f)).is_ok() {
                    continue;
                }
                let simplified;
                let geometry = if tolerance > 0.0 {
                    simplified = feature.geometry.simplified(tolerance);
                    &simplified
                } else {
                    &feature.geometry
                };
                if out.push(feature.id, geometry, &feature.properties) {
                    written += 1;
                }
            }
            if !out.layer.features.is_empty() {
                tile.layers.push(out.layer);
            }
        }
        (tile.encode_to_vec(), written)
    }
}

/// One layer's protobuf, with its key and value tables deduplicated.
struct LayerWriter {
    layer: proto::Layer,
    keys: HashMap<String, u32>,
    values: HashMap<ValueKey, u32>,
}

#[derive(Hash, PartialEq, Eq)]
enum ValueKey {
    String(String),
    Int(i64),
    Float(u64),
    Bool(bool),
}

impl LayerWriter {
    fn new(name: &str, extent: u32) -> LayerWriter {
        LayerWriter {
            layer: proto::Layer {
                version: 2,
                name: name.to_owned(),
                features: Vec::new(),
                keys: Vec::new(),
                values: Vec::new(),
                extent: Some(extent),
            },
            keys: HashMap::new(),
            values: HashMap::new(),
        }
    }

    fn push(
        &mut self,
        id: Option<u64>,
        geometry: &TileGeometry,
        properties: &[(String, Value)],
    ) -> bool {
        let Some(commands) = geometry::encode_commands(geometry) else {
            return false;
        };
        let mut tags = Vec::with_capacity(properties.len() * 2);
        for (key, value) in properties {
            let keys = &mut self.layer.keys;
            let k = *self.keys.entry(key.clone()).or_insert_with(|| {
                keys.push(key.clone());
                keys.len() as u32 - 1
            });
            let value_key = match value {
                Value::String(s) => ValueKey::String(s.clone()),
                Value::Int(i) => ValueKey::Int(*i),
                Value::Float(f) => ValueKey::Float(f.to_bits()),
                Value::Bool(b) => ValueKey::Bool(*b),
            };
            let values = &mut self.layer.values;
            let v = *self.values.entry(value_key).or_insert_with(|| {
                values.push(proto_value(value));
                values.len() as u32 - 1
            });
            tags.push(k);
            tags.push(v);
        }
        self.layer.features.push(proto::Feature {
            id,
            tags,
            r#type: Some(geometry.kind() as i32),
            geometry: commands,
        });
        true
    }
}

fn proto_value(value: &Value) -> proto::Value {
    let mut out = proto::Value::default();
    match value {
        Value::String(s) => out.string_value = Some(s.clone()),
        Value::Int(i) if *i < 0 => out.sint_value = Some(*i),
        Value::Int(i) => out.uint_value = Some(*i as u64),
        Value::Float(f) => out.double_value = Some(*f),
        Value::Bool(b) => out.bool_value = Some(*b),
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decode;
    use geo_types::{line_string, point, polygon, Geometry, GeometryCollection};

    #[test]
    fn a_tile_over_its_budget_is_thinned_and_fits() {
        let mut tile = Tile::new(TileOptions {
            max_bytes: 20_000,
            ..TileOptions::new([0.0, 0.0, 4096.0, 4096.0])
        });
        for i in 0..2000 {
            let x = f64::from(i % 50) * 80.0;
            let y = f64::from(i / 50) * 100.0;
            let size = 5.0 + f64::from(i % 7) * 10.0;
            // A wiggly ring: many vertices for simplification to remove.
            let ring: Vec<(f64, f64)> = (0..64)
                .map(|k| {
                    let a = f64::from(k) / 64.0 * std::f64::consts::TAU;
                    let r = size * (1.0 + 0.05 * f64::from(k % 2));
                    (x + 40.0 + r * a.cos(), y + 40.0 + r * a.sin())
                })
                .collect();
            let polygon = geo_types::Polygon::new(ring.into(), vec![]);
            tile.add_feature(
                "blobs",
                Some(i as u64),
                &Geometry::Polygon(polygon),
                vec![("n".to_owned(), Value::Int(i.into()))],
            );
        }
        let encoded = tile.encode();
        assert!(encoded.bytes.len() <= 20_000, "{}", encoded.bytes.len());
        let thinning = encoded.thinning.expect("thinned");
        assert!(thinning.original_bytes > 20_000);
        assert!(thinning.dropped > 0);
        let layers = decode(&encoded.bytes).expect("decodes");
        assert_eq!(layers[0].features.len(), encoded.features);
        assert_eq!(encoded.features + thinning.dropped, 2000);
        // The largest features were kept.
        let smallest_kept = layers[0]
            .features
            .iter()
            .filter_map(|f| match f.property("n") {
                Some(Value::Int(n)) => Some(n % 7),
                _ => None,
            })
            .min();
        assert!(smallest_kept > Some(0));
    }

    #[test]
    fn collections_become_one_feature_per_type_with_typed_attributes() {
        let mut tile = Tile::new(TileOptions::new([0.0, 0.0, 100.0, 100.0]));
        let collection = Geometry::GeometryCollection(GeometryCollection::new_from(vec![
            Geometry::Point(point!(x: 10.0, y: 10.0)),
            Geometry::LineString(line_string![(x: 0.0, y: 0.0), (x: 50.0, y: 50.0)]),
            Geometry::Polygon(polygon![(x: 20.0, y: 20.0), (x: 40.0, y: 20.0), (x: 40.0, y: 40.0)]),
        ]));
        let properties = vec![
            ("s".to_owned(), Value::String("é".to_owned())),
            ("i".to_owned(), Value::Int(-3)),
            ("u".to_owned(), Value::Int(5)),
            ("f".to_owned(), Value::Float(0.5)),
            ("b".to_owned(), Value::Bool(true)),
        ];
        assert!(tile.add_feature("mixed", Some(1), &collection, properties.clone()));
        let outside = Geometry::Point(point!(x: 500.0, y: 500.0));
        assert!(!tile.add_feature("mixed", Some(2), &outside, Vec::new()));
        let encoded = tile.encode();
        let layers = decode(&encoded.bytes).expect("decodes");
        let features = &layers[0].features;
        assert_eq!(features.len(), 3);
        assert!(features
            .iter()
            .all(|f| f.id == Some(1) && f.properties == properties));
        assert!(matches!(
            features[0].geometry,
            crate::GridGeometry::Points(_)
        ));
        assert!(matches!(
            features[1].geometry,
            crate::GridGeometry::Lines(_)
        ));
        assert!(matches!(
            features[2].geometry,
            crate::GridGeometry::Polygons(_)
        ));
        // The point at (10, 10) in map units, y up, is at (410, 3686) in a 4096 tile.
        assert_eq!(
            features[0].geometry,
            crate::GridGeometry::Points(vec![geo_types::Coord { x: 410, y: 3686 }])
        );
    }
}
