//! A vector layer as Mapbox Vector Tiles, made on the fly: one MVT layer per table (named as
//! the table), every attribute, the feature ids, geometries clipped to the tile and its buffer
//! and simplified within one tile unit (`vectorstore::Store::add_to_tile`, which vector
//! pyramids use too).

use crs::Crs;

use super::layer::VectorLayer;

/// How tiles are written.
pub type MvtSettings = mvt::TileSettings;

impl VectorLayer {
    /// The tile over `bounds` (`[min_x, min_y, max_x, max_y]` in `crs`) holding every table
    /// with every attribute. `None` when `cancelled()` said to stop; an encoded tile with no
    /// feature when nothing reaches it.
    pub fn vector_tile(
        &self,
        bounds: [f64; 4],
        crs: &Crs,
        settings: MvtSettings,
        cancelled: &dyn Fn() -> bool,
    ) -> Result<Option<mvt::Encoded>, vectorstore::VectorError> {
        let mut builder = mvt::Tile::new(mvt::TileOptions::with(bounds, settings));
        for relation in &self.relations {
            if cancelled() {
                return Ok(None);
            }
            let attributes: Vec<&str> = relation.attributes.iter().map(String::as_str).collect();
            if !relation.store.add_to_tile(
                &relation.table,
                &attributes,
                &mut builder,
                crs,
                cancelled,
            )? {
                return Ok(None);
            }
        }
        Ok(Some(builder.encode()))
    }
}
