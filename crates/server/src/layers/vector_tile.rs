//! A vector layer as Mapbox Vector Tiles: one MVT layer per table (named as the table), every
//! attribute (or a chosen few), the feature ids, geometries clipped to the tile and its buffer
//! and simplified within one tile unit (the store's zoom bands). Shared by the tiles made on
//! the fly and by vector pyramids.

use crs::{Bbox, Crs};

use super::layer::VectorLayer;

/// How tiles are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MvtSettings {
    /// Tile units across a tile.
    pub extent: u32,
    /// Tile units kept around the tile.
    pub buffer: u32,
    /// Bytes a tile may not exceed.
    pub max_bytes: usize,
}

/// A table to put in tiles, with the attributes to keep (`None`: all).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableChoice {
    /// The table's stored name.
    pub table: String,
    /// Attributes to keep.
    pub attributes: Option<Vec<String>>,
}

impl VectorLayer {
    /// The tile over `bounds` (`[min_x, min_y, max_x, max_y]` in `crs`) holding `tables`
    /// (`None`: every table, every attribute). `None` when `cancelled()` said to stop; an
    /// encoded tile with no feature when nothing reaches it.
    pub fn vector_tile(
        &self,
        bounds: [f64; 4],
        crs: &Crs,
        settings: MvtSettings,
        tables: Option<&[TableChoice]>,
        cancelled: &dyn Fn() -> bool,
    ) -> Result<Option<mvt::Encoded>, vectorstore::VectorError> {
        let mut builder = mvt::Tile::new(mvt::TileOptions {
            bounds,
            extent: settings.extent,
            buffer: settings.buffer,
            max_bytes: settings.max_bytes,
        });
        let [min_x, min_y, max_x, max_y] = builder.query_bounds();
        let Ok(query) = Bbox::new(min_x, min_y, max_x, max_y) else {
            return Ok(Some(builder.encode()));
        };
        // Simplified within one tile unit: the store's tolerance is half a pixel of 0.28 mm
        // at a scale, so the scale of a pixel of two tile units (metres for metric CRSs).
        let scale = 2.0 * builder.unit() * crs.metres_per_unit() / 0.000_28;
        for relation in &self.relations {
            let chosen = match tables {
                None => None,
                Some(tables) => match tables.iter().find(|t| t.table == relation.table) {
                    Some(choice) => choice.attributes.as_deref(),
                    None => continue,
                },
            };
            if cancelled() {
                return Ok(None);
            }
            let attributes: Vec<&str> = chosen
                .unwrap_or(&relation.attributes)
                .iter()
                .map(String::as_str)
                .collect();
            let features =
                relation
                    .store
                    .features(&relation.table, &query, crs, scale, &attributes)?;
            for (n, feature) in features.enumerate() {
                if n % 1024 == 1023 && cancelled() {
                    return Ok(None);
                }
                let properties = feature
                    .properties
                    .iter()
                    .filter_map(|(name, value)| Some((name.to_string(), mvt_value(value)?)))
                    .collect();
                builder.add_feature(
                    &relation.table,
                    u64::try_from(feature.fid).ok(),
                    &feature.geometry,
                    properties,
                );
            }
        }
        Ok(Some(builder.encode()))
    }
}

/// An attribute value as MVT types it; `None` for nulls and blobs (MVT has neither).
fn mvt_value(value: &vectorstore::Value) -> Option<mvt::Value> {
    Some(match value {
        vectorstore::Value::Null | vectorstore::Value::Blob(_) => return None,
        vectorstore::Value::Bool(b) => mvt::Value::Bool(*b),
        vectorstore::Value::Integer(i) => mvt::Value::Int(*i),
        vectorstore::Value::Real(r) => mvt::Value::Float(*r),
        vectorstore::Value::Text(t) => mvt::Value::String(t.clone()),
    })
}
