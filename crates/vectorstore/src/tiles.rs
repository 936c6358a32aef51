//! A table's features into a Mapbox Vector Tile: the features inside the tile and its buffer,
//! in the tile's CRS, simplified within one tile unit (the zoom bands), with their ids and the
//! chosen attributes typed as MVT types them. The server's tiles made on the fly and the
//! vector pyramids (from the configuration or the publication API) all come through here.

use crs::{Bbox, Crs};

use crate::store::Store;
use crate::value::Value;
use crate::VectorError;

impl Store {
    /// Adds the features of `table` that reach `tile` (whose bounds are in `crs`) as the MVT
    /// layer `table`, with `attributes` (stored or original names). `Ok(false)` when
    /// `cancelled()` said to stop.
    pub fn add_to_tile(
        &self,
        table: &str,
        attributes: &[&str],
        tile: &mut mvt::Tile,
        crs: &Crs,
        cancelled: &dyn Fn() -> bool,
    ) -> Result<bool, VectorError> {
        let [min_x, min_y, max_x, max_y] = tile.query_bounds();
        let Ok(query) = Bbox::new(min_x, min_y, max_x, max_y) else {
            return Ok(true);
        };
        // Simplified within one tile unit: the store's tolerance is half a pixel of 0.28 mm
        // at a scale, so the scale of a pixel of two tile units (in metres).
        let scale = 2.0 * tile.unit() * crs.metres_per_unit() / 0.000_28;
        let layer = self.metadata().layers[self.resolve_layer(table)?]
            .name
            .clone();
        for (n, feature) in self
            .features(table, &query, crs, scale, attributes)?
            .enumerate()
        {
            if n % 1024 == 1023 && cancelled() {
                return Ok(false);
            }
            let properties = feature
                .properties
                .iter()
                .filter_map(|(name, value)| Some((name.to_string(), mvt_value(value)?)))
                .collect();
            tile.add_feature(
                &layer,
                u64::try_from(feature.fid).ok(),
                &feature.geometry,
                properties,
            );
        }
        Ok(true)
    }
}

/// An attribute value as MVT types it; `None` for nulls and blobs (MVT has neither).
fn mvt_value(value: &Value) -> Option<mvt::Value> {
    Some(match value {
        Value::Null | Value::Blob(_) => return None,
        Value::Bool(b) => mvt::Value::Bool(*b),
        Value::Integer(i) => mvt::Value::Int(*i),
        Value::Real(r) => mvt::Value::Float(*r),
        Value::Text(t) => mvt::Value::String(t.clone()),
    })
}
