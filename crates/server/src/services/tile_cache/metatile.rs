//! One metatile: drawn by the WMS renderer with a margin, cut into tiles, each encoded (or
//! found empty).

use std::sync::Arc;

use pyramid::{TileMatrix, TileMatrixSet};

use super::format::CacheFormat;
use crate::layers::Layer;
use crate::services::render_pool::Cancel;
use crate::services::wms::{draw_image, MapParams, WmsError, STANDARD_DPI};

/// A block of tiles of one matrix drawn by one render: columns and rows, inclusive, clipped to
/// the matrix.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Metatile {
    /// Tile matrix index in the set.
    pub level: u32,
    /// First column.
    pub min_col: u32,
    /// First row.
    pub min_row: u32,
    /// Columns.
    pub cols: u32,
    /// Rows.
    pub rows: u32,
    /// Tiles across and down a whole metatile (the slab's size).
    pub size: u32,
}

impl Metatile {
    /// The metatile holding tile (col, row) of `matrix`, `size`×`size` tiles aligned on
    /// multiples of `size`, clipped to the matrix.
    pub fn of(matrix: &TileMatrix, col: u32, row: u32, size: u32) -> Metatile {
        let size = size.max(1);
        let (min_col, min_row) = (col / size * size, row / size * size);
        Metatile {
            level: matrix.level(),
            min_col,
            min_row,
            cols: size
                .min(matrix.matrix_width().saturating_sub(min_col))
                .max(1),
            rows: size
                .min(matrix.matrix_height().saturating_sub(min_row))
                .max(1),
            size,
        }
    }

    /// Index of tile (col, row) in the slab (row-major, `size` per row).
    pub fn slot(&self, col: u32, row: u32) -> usize {
        ((row - self.min_row) * self.size + (col - self.min_col)) as usize
    }
}

/// What to draw a metatile with.
pub struct Drawing<'a> {
    /// The layer.
    pub layer: &'a Arc<Layer>,
    /// Index of its style.
    pub style: usize,
    /// The tile format.
    pub format: CacheFormat,
    /// The tile matrix set.
    pub set: &'a TileMatrixSet,
    /// Pixels drawn around the metatile and cut away (at scale 1).
    pub buffer: u32,
    /// Pixels per standard pixel: 2 for HiDPI tiles (drawn at twice the DPI).
    pub scale: u32,
}

/// Draws `metatile` and cuts it: the encoded tiles in slab order (`size`² slots), `None` for
/// slots outside the matrix and for tiles the render left blank.
pub fn draw(
    renderer: &render::Renderer,
    drawing: &Drawing<'_>,
    metatile: Metatile,
    cancel: &Cancel,
) -> Result<Vec<Option<Vec<u8>>>, WmsError> {
    let matrix = drawing.set.matrix_at(metatile.level).ok_or_else(|| {
        WmsError::internal(
            "drawing a metatile",
            &std::io::Error::other(format!("no tile matrix at level {}", metatile.level)),
        )
    })?;
    let (tile_w, tile_h) = (matrix.tile_width(), matrix.tile_height());
    let first = matrix
        .tile(i64::from(metatile.min_col), i64::from(metatile.min_row))
        .map_err(|e| WmsError::internal("drawing a metatile", &e))?;
    let last = matrix
        .tile(
            i64::from(metatile.min_col + metatile.cols - 1),
            i64::from(metatile.min_row + metatile.rows - 1),
        )
        .map_err(|e| WmsError::internal("drawing a metatile", &e))?;
    let inner = matrix.tile_bbox(first).union(&matrix.tile_bbox(last));
    let resolution = matrix.resolution();
    let buffer = drawing.buffer * drawing.scale.max(1);
    let margin = f64::from(buffer) * resolution;
    let bbox = crs::Bbox::new(
        inner.min_x() - margin,
        inner.min_y() - margin,
        inner.max_x() + margin,
        inner.max_y() + margin,
    )
    .map_err(|e| WmsError::internal("drawing a metatile", &e))?;
    let width = metatile.cols * tile_w + 2 * buffer;
    let height = metatile.rows * tile_h + 2 * buffer;
    let map = MapParams {
        layers: vec![(Arc::clone(drawing.layer), drawing.style)],
        crs: drawing.set.crs().clone(),
        bbox,
        width,
        height,
        format: drawing.format.map_format(),
        transparent: drawing.format.transparent(),
        bgcolor: [255, 255, 255],
        dpi: STANDARD_DPI * f64::from(drawing.scale.max(1)),
        label_buffer: -i32::try_from(buffer).unwrap_or(0),
    };
    let image = draw_image(renderer, &map, cancel)?;
    let background: [u8; 4] = if drawing.format.transparent() {
        [0, 0, 0, 0]
    } else {
        [255, 255, 255, 255]
    };
    let mut tiles = vec![None; (metatile.size * metatile.size) as usize];
    for r in 0..metatile.rows {
        for c in 0..metatile.cols {
            if cancel.is_cancelled() {
                return Err(WmsError::cancelled());
            }
            let tile = image
                .crop(buffer + c * tile_w, buffer + r * tile_h, tile_w, tile_h)
                .map_err(|e| WmsError::internal("cutting a metatile", &e))?;
            if tile.is_filled_with(background) {
                continue;
            }
            let bytes = render::encode(&tile, drawing.format.encoder())
                .map_err(|e| WmsError::internal("encoding a tile", &e))?;
            let slot = metatile.slot(metatile.min_col + c, metatile.min_row + r);
            tiles[slot] = Some(bytes);
        }
    }
    Ok(tiles)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metatiles_align_on_their_size_and_clip_to_the_matrix() {
        let sets = pyramid::TileMatrixSets::builtin();
        let set = sets.get("PM").expect("PM");
        let z0 = set.matrix_at(0).expect("z0");
        let m = Metatile::of(z0, 0, 0, 4);
        assert_eq!((m.min_col, m.min_row, m.cols, m.rows), (0, 0, 1, 1));
        let z3 = set.matrix_at(3).expect("z3");
        let m = Metatile::of(z3, 6, 5, 4);
        assert_eq!((m.min_col, m.min_row, m.cols, m.rows), (4, 4, 4, 4));
        assert_eq!(m.slot(6, 5), 6);
        // Every tile of a level belongs to exactly one metatile, which contains it.
        let z2 = set.matrix_at(2).expect("z2");
        for col in 0..4 {
            for row in 0..4 {
                let m = Metatile::of(z2, col, row, 3);
                assert!((m.min_col..m.min_col + m.cols).contains(&col));
                assert!((m.min_row..m.min_row + m.rows).contains(&row));
                assert!(m.slot(col, row) < 9);
            }
        }
    }
}
