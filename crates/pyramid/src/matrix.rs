//! One tile matrix (a zoom level) and the tile math on it.
//!
//! All the math goes through one function per axis, [`Axis::edge`], which gives the coordinate
//! of the k-th tile boundary. Tile bounding boxes, point lookups and bbox → tile ranges are all
//! answered by comparing coordinates with those same edges (by binary search), never by a
//! separately rounded division, so they can never disagree with each other on a boundary.

use std::ops::RangeInclusive;

use crate::{Bbox, PyramidError};

/// The size of the OGC "standardized rendering pixel": 0.28 mm × 0.28 mm (WMTS 1.0.0, 2D-TMS).
pub const STANDARD_PIXEL_SIZE_M: f64 = 0.000_28;

/// Scale denominator of a resolution (CRS units per pixel) with the 0.28 mm standard pixel:
/// `resolution · metres_per_unit / 0.00028`.
///
/// `metres_per_unit` is 1 for metric CRSs and `2π·6378137/360` for degrees
/// ([`crs::Crs::metres_per_unit`]).
pub fn scale_denominator_from_resolution(resolution: f64, metres_per_unit: f64) -> f64 {
    resolution * metres_per_unit / STANDARD_PIXEL_SIZE_M
}

/// Resolution (CRS units per pixel) of a scale denominator with the 0.28 mm standard pixel; the
/// inverse of [`scale_denominator_from_resolution`].
pub fn resolution_from_scale_denominator(scale_denominator: f64, metres_per_unit: f64) -> f64 {
    scale_denominator * STANDARD_PIXEL_SIZE_M / metres_per_unit
}

/// Which corner of the matrix the point of origin is, and where rows are counted from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum CornerOfOrigin {
    /// Row 0 is the northernmost row (WMTS, ROK4, XYZ). The default.
    #[default]
    TopLeft,
    /// Row 0 is the southernmost row (OGC 2D-TMS `cornerOfOrigin: bottomLeft`).
    BottomLeft,
}

/// The tile boundaries along one axis: `count` tiles of `span` units from `origin`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Axis {
    origin: f64,
    span: f64,
    count: u32,
    /// Whether indices grow towards smaller coordinates (rows of a top-left matrix).
    descending: bool,
}

impl Axis {
    /// The coordinate of boundary `k` (`0..=count`); tile `k` lies between edges `k` and `k + 1`.
    fn edge(&self, k: u32) -> f64 {
        let offset = f64::from(k) * self.span;
        if self.descending {
            self.origin - offset
        } else {
            self.origin + offset
        }
    }

    /// Whether `v` is at or beyond edge `k` in the counting direction.
    fn reached(&self, v: f64, k: u32) -> bool {
        if self.descending {
            v <= self.edge(k)
        } else {
            v >= self.edge(k)
        }
    }

    /// Whether `v` is strictly beyond edge `k` in the counting direction.
    fn passed(&self, v: f64, k: u32) -> bool {
        if self.descending {
            v < self.edge(k)
        } else {
            v > self.edge(k)
        }
    }

    /// The smallest `k` in `0..=count` for which `pred(k)` holds (`count + 1` if none); `pred`
    /// must be monotone (false… then true…).
    fn first(&self, pred: impl Fn(u32) -> bool) -> u64 {
        let (mut lo, mut hi) = (0_u64, u64::from(self.count) + 1);
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            if pred(mid as u32) {
                hi = mid;
            } else {
                lo = mid + 1;
            }
        }
        lo
    }

    /// The tile holding `v`: tile `k` holds the half-open interval from edge `k` (included) to
    /// edge `k + 1` (excluded), in the counting direction.
    fn index_of(&self, v: f64) -> Option<u32> {
        if v.is_nan() {
            return None;
        }
        // Number of edges reached, minus one.
        let reached = self.first(|k| !self.reached(v, k));
        let k = reached.checked_sub(1)?;
        (k < u64::from(self.count)).then_some(k as u32)
    }

    /// The tiles whose open interval meets the closed interval `[lo, hi]` (`lo <= hi`).
    fn overlapping(&self, lo: f64, hi: f64) -> Option<RangeInclusive<u32>> {
        let (near, far) = if self.descending { (hi, lo) } else { (lo, hi) };
        let count = u64::from(self.count);
        // First tile whose far edge lies strictly beyond `near`: edges 0..j are reached by
        // `near`, so tile j - 1 is the first one (tile 0 if `near` is before the matrix).
        let j = self.first(|k| !self.reached(near, k));
        if j > count {
            return None;
        }
        let first = j.saturating_sub(1);
        // Last tile whose near edge lies strictly before `far`: `far` passes edges 0..n.
        let n = self.first(|k| !self.passed(far, k));
        let last = n.checked_sub(1)?.min(count - 1);
        (first <= last).then_some(first as u32..=last as u32)
    }

    fn bounds(&self, k: u32) -> (f64, f64) {
        let (a, b) = (self.edge(k), self.edge(k + 1));
        if self.descending {
            (b, a)
        } else {
            (a, b)
        }
    }
}

/// One tile matrix of a [`TileMatrixSet`](crate::TileMatrixSet): a grid of
/// `matrix_width × matrix_height` tiles of `tile_width × tile_height` pixels of
/// `resolution` CRS units, anchored at a point of origin.
///
/// Built only by [`TileMatrixSet`](crate::TileMatrixSet), which validates it: positive finite
/// resolution and scale, finite origin and extent, tile boundaries that are distinct in `f64`.
#[derive(Debug, Clone, PartialEq)]
pub struct TileMatrix {
    pub(crate) id: String,
    pub(crate) level: u32,
    pub(crate) scale_denominator: f64,
    pub(crate) resolution: f64,
    pub(crate) corner: CornerOfOrigin,
    pub(crate) origin: (f64, f64),
    pub(crate) tile_width: u32,
    pub(crate) tile_height: u32,
    pub(crate) matrix_width: u32,
    pub(crate) matrix_height: u32,
}

impl TileMatrix {
    /// The tile matrix identifier (`"0"`…`"21"` for PM).
    pub fn id(&self) -> &str {
        &self.id
    }
    /// Position in the set, 0 being the coarsest matrix.
    pub fn level(&self) -> u32 {
        self.level
    }
    /// Scale denominator as declared (0.28 mm standard pixel); what WMTS capabilities advertise.
    pub fn scale_denominator(&self) -> f64 {
        self.scale_denominator
    }
    /// Size of a pixel in CRS units (`cellSize`).
    pub fn resolution(&self) -> f64 {
        self.resolution
    }
    /// Which corner the point of origin is, and where rows are counted from.
    pub fn corner_of_origin(&self) -> CornerOfOrigin {
        self.corner
    }
    /// The point of origin `(x, y)` = (east, north), whatever the CRS's axis order.
    pub fn point_of_origin(&self) -> (f64, f64) {
        self.origin
    }
    /// The top-left corner `(x, y)` of the matrix (WMTS `TopLeftCorner`, in east/north order).
    pub fn top_left(&self) -> (f64, f64) {
        let rows = self.rows();
        (
            self.origin.0,
            rows.edge(0).max(rows.edge(self.matrix_height)),
        )
    }
    /// Tile width in pixels.
    pub fn tile_width(&self) -> u32 {
        self.tile_width
    }
    /// Tile height in pixels.
    pub fn tile_height(&self) -> u32 {
        self.tile_height
    }
    /// Number of tile columns.
    pub fn matrix_width(&self) -> u32 {
        self.matrix_width
    }
    /// Number of tile rows.
    pub fn matrix_height(&self) -> u32 {
        self.matrix_height
    }
    /// Width of a tile in CRS units.
    pub fn tile_span_x(&self) -> f64 {
        self.resolution * f64::from(self.tile_width)
    }
    /// Height of a tile in CRS units.
    pub fn tile_span_y(&self) -> f64 {
        self.resolution * f64::from(self.tile_height)
    }

    pub(crate) fn cols(&self) -> Axis {
        Axis {
            origin: self.origin.0,
            span: self.tile_span_x(),
            count: self.matrix_width,
            descending: false,
        }
    }

    pub(crate) fn rows(&self) -> Axis {
        Axis {
            origin: self.origin.1,
            span: self.tile_span_y(),
            count: self.matrix_height,
            descending: self.corner == CornerOfOrigin::TopLeft,
        }
    }

    /// The area covered by the whole matrix.
    pub fn extent(&self) -> Bbox {
        let (cols, rows) = (self.cols(), self.rows());
        let (y0, y1) = (rows.edge(0), rows.edge(self.matrix_height));
        valid_bbox(
            cols.edge(0),
            y0.min(y1),
            cols.edge(self.matrix_width),
            y0.max(y1),
        )
    }

    /// The tile at `col`, `row` (rows counted from the corner of origin), if it is in the matrix.
    ///
    /// Takes signed values so that a request's `TileRow=-1` is reported as it was written.
    pub fn tile(&self, col: i64, row: i64) -> Result<TileCoord, PyramidError> {
        match (u32::try_from(col), u32::try_from(row)) {
            (Ok(c), Ok(r)) if c < self.matrix_width && r < self.matrix_height => Ok(TileCoord {
                level: self.level,
                col: c,
                row: r,
            }),
            _ => Err(self.out_of_range(col, row)),
        }
    }

    /// The tile at `col` and TMS 1.0.0 row `tms_row` (rows counted from the bottom).
    pub fn tile_tms(&self, col: i64, tms_row: i64) -> Result<TileCoord, PyramidError> {
        let row = u32::try_from(tms_row).ok().and_then(|r| self.tms_row(r));
        match row {
            Some(row) => self
                .tile(col, i64::from(row))
                .map_err(|_| self.out_of_range(col, tms_row)),
            None => Err(self.out_of_range(col, tms_row)),
        }
    }

    /// Converts between this matrix's row numbering and TMS 1.0.0's (counted from the bottom):
    /// `matrix_height - 1 - row` for a top-left matrix, `row` for a bottom-left one. The
    /// conversion is its own inverse. `None` if `row` is outside the matrix.
    pub fn tms_row(&self, row: u32) -> Option<u32> {
        if row >= self.matrix_height {
            return None;
        }
        Some(match self.corner {
            CornerOfOrigin::TopLeft => self.matrix_height - 1 - row,
            CornerOfOrigin::BottomLeft => row,
        })
    }

    fn out_of_range(&self, col: i64, row: i64) -> PyramidError {
        PyramidError::TileOutOfRange {
            matrix: self.id.clone(),
            col,
            row,
            max_col: self.matrix_width - 1,
            max_row: self.matrix_height - 1,
        }
    }

    /// The area covered by a tile of this matrix.
    ///
    /// `tile` must come from this matrix (its level is checked in debug builds).
    pub fn tile_bbox(&self, tile: TileCoord) -> Bbox {
        debug_assert_eq!(tile.level, self.level, "tile of another tile matrix");
        let (min_x, max_x) = self.cols().bounds(tile.col);
        let (min_y, max_y) = self.rows().bounds(tile.row);
        valid_bbox(min_x, min_y, max_x, max_y)
    }

    /// The tile holding the point `(x, y)` (east, north), and the pixel `(i, j)` under it in
    /// that tile (`j` counted from the tile's top edge, as image rows are).
    ///
    /// Boundaries: a tile holds its west edge but not its east edge, and the edge on its
    /// corner-of-origin side but not the opposite one (for a top-left matrix: its north edge,
    /// not its south edge). So the east and far edges of the matrix are outside. `None` outside
    /// the matrix or for NaN.
    pub fn point_to_tile(&self, x: f64, y: f64) -> Option<TilePixel> {
        let col = self.cols().index_of(x)?;
        let row = self.rows().index_of(y)?;
        let tile = TileCoord {
            level: self.level,
            col,
            row,
        };
        let bbox = self.tile_bbox(tile);
        let i = pixel_index(x - bbox.min_x(), self.resolution, self.tile_width);
        let j = pixel_index(bbox.max_y() - y, self.resolution, self.tile_height);
        Some(TilePixel { tile, i, j })
    }

    /// The tiles whose interior meets `bbox`, clamped to the matrix; `None` if there are none.
    ///
    /// Half-open in effect: a bbox edge lying exactly on a tile boundary does not bring in the
    /// tile beyond it (only the interior of a tile counts), so a bbox equal to a tile's bbox gives
    /// exactly that tile.
    pub fn tile_range(&self, bbox: &Bbox) -> Option<TileRange> {
        let cols = self.cols().overlapping(bbox.min_x(), bbox.max_x())?;
        let rows = self.rows().overlapping(bbox.min_y(), bbox.max_y())?;
        Some(TileRange {
            level: self.level,
            min_col: *cols.start(),
            max_col: *cols.end(),
            min_row: *rows.start(),
            max_row: *rows.end(),
        })
    }

    /// A range from explicit limits (e.g. a pyramid level's `tile_limits`), checked to lie in
    /// the matrix and not to be reversed.
    pub fn range(
        &self,
        min_col: u32,
        max_col: u32,
        min_row: u32,
        max_row: u32,
    ) -> Result<TileRange, PyramidError> {
        self.tile(i64::from(min_col), i64::from(min_row))?;
        self.tile(i64::from(max_col), i64::from(max_row))?;
        if min_col > max_col || min_row > max_row {
            return Err(PyramidError::EmptyTileRange {
                matrix: self.id.clone(),
                min_col,
                max_col,
                min_row,
                max_row,
            });
        }
        Ok(TileRange {
            level: self.level,
            min_col,
            max_col,
            min_row,
            max_row,
        })
    }

    /// The whole matrix as a range.
    pub fn full_range(&self) -> TileRange {
        TileRange {
            level: self.level,
            min_col: 0,
            max_col: self.matrix_width - 1,
            min_row: 0,
            max_row: self.matrix_height - 1,
        }
    }
}

/// `floor(offset / resolution)` clamped to `0..size`.
fn pixel_index(offset: f64, resolution: f64, size: u32) -> u32 {
    let p = (offset / resolution).floor();
    if p <= 0.0 {
        0
    } else {
        (p as u32).min(size - 1)
    }
}

/// Builds a bbox from values the tile matrix validation guarantees finite and ordered.
fn valid_bbox(min_x: f64, min_y: f64, max_x: f64, max_y: f64) -> Bbox {
    Bbox::new(min_x, min_y, max_x, max_y)
        .expect("tile matrix edges are validated finite and ordered")
}

/// A tile of a tile matrix, known to lie inside it.
///
/// Built only by [`TileMatrix::tile`], [`TileMatrix::tile_tms`], [`TileMatrix::point_to_tile`]
/// and by iterating a [`TileRange`], so it cannot hold a column or row outside its matrix. It
/// remembers its matrix by level index only: use it with the tile matrix set that made it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TileCoord {
    level: u32,
    col: u32,
    row: u32,
}

impl TileCoord {
    /// Level index of the tile matrix in its set (0 = coarsest).
    pub fn level(&self) -> u32 {
        self.level
    }
    /// Column, from the west.
    pub fn col(&self) -> u32 {
        self.col
    }
    /// Row, counted from the corner of origin (from the north for WMTS-style matrices).
    pub fn row(&self) -> u32 {
        self.row
    }
}

/// A tile and a pixel in it, as found by [`TileMatrix::point_to_tile`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TilePixel {
    /// The tile holding the point.
    pub tile: TileCoord,
    /// Pixel column in the tile, `0..tile_width`.
    pub i: u32,
    /// Pixel row in the tile from its top edge, `0..tile_height`.
    pub j: u32,
}

/// A non-empty rectangle of tiles of one matrix, bounds inclusive, inside the matrix.
///
/// Iterating yields its tiles row by row (row-major).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TileRange {
    level: u32,
    min_col: u32,
    max_col: u32,
    min_row: u32,
    max_row: u32,
}

impl TileRange {
    /// Level index of the tile matrix.
    pub fn level(&self) -> u32 {
        self.level
    }
    /// First column.
    pub fn min_col(&self) -> u32 {
        self.min_col
    }
    /// Last column (inclusive).
    pub fn max_col(&self) -> u32 {
        self.max_col
    }
    /// First row.
    pub fn min_row(&self) -> u32 {
        self.min_row
    }
    /// Last row (inclusive).
    pub fn max_row(&self) -> u32 {
        self.max_row
    }
    /// Number of columns.
    pub fn width(&self) -> u32 {
        self.max_col - self.min_col + 1
    }
    /// Number of rows.
    pub fn height(&self) -> u32 {
        self.max_row - self.min_row + 1
    }
    /// Number of tiles.
    pub fn len(&self) -> u64 {
        u64::from(self.width()) * u64::from(self.height())
    }
    /// Always false: a range holds at least one tile.
    pub fn is_empty(&self) -> bool {
        false
    }
    /// Whether the tile is in this range.
    pub fn contains(&self, tile: TileCoord) -> bool {
        tile.level == self.level
            && (self.min_col..=self.max_col).contains(&tile.col)
            && (self.min_row..=self.max_row).contains(&tile.row)
    }
    /// The tiles, row by row.
    pub fn iter(&self) -> TileRangeIter {
        TileRangeIter {
            range: *self,
            next: Some((self.min_col, self.min_row)),
        }
    }
}

impl IntoIterator for TileRange {
    type Item = TileCoord;
    type IntoIter = TileRangeIter;
    fn into_iter(self) -> TileRangeIter {
        self.iter()
    }
}

impl IntoIterator for &TileRange {
    type Item = TileCoord;
    type IntoIter = TileRangeIter;
    fn into_iter(self) -> TileRangeIter {
        self.iter()
    }
}

/// Iterator over the tiles of a [`TileRange`], row by row.
#[derive(Debug, Clone)]
pub struct TileRangeIter {
    range: TileRange,
    next: Option<(u32, u32)>,
}

impl Iterator for TileRangeIter {
    type Item = TileCoord;
    fn next(&mut self) -> Option<TileCoord> {
        let (col, row) = self.next?;
        let r = &self.range;
        self.next = if col < r.max_col {
            Some((col + 1, row))
        } else if row < r.max_row {
            Some((r.min_col, row + 1))
        } else {
            None
        };
        Some(TileCoord {
            level: r.level,
            col,
            row,
        })
    }
}
