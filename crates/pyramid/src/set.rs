//! Tile matrix sets and their two JSON encodings.
//!
//! ROK4's tile matrix set files (github.com/rok4/tilematrixsets) follow the shape of OGC
//! 2D-TMS 2.0 JSON (`id`, `crs`, `orderedAxes`, `tileMatrices[…]`) with a short CRS code
//! (`EPSG:3857`, `IGNF:LAMB93`) and no OGC-only fields. One reader therefore takes both; it
//! records which flavour it saw ([`TmsFormat`]) and accepts the OGC extras (`crs` as
//! `{"uri": …}`, `cornerOfOrigin`), refusing only `variableMatrixWidths`, which this crate does
//! not implement.

use std::ops::RangeInclusive;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::matrix::{
    resolution_from_scale_denominator, scale_denominator_from_resolution, CornerOfOrigin,
};
use crate::{PyramidError, TileCoord, TileMatrix};

/// Relative tolerance when comparing resolutions: requests computed from a bbox and a pixel
/// size rarely hit a level's resolution exactly.
const RESOLUTION_EPSILON: f64 = 1e-9;

/// The smallest tile span, relative to the magnitude of the coordinates, that keeps every tile
/// boundary distinct in `f64`.
const MIN_RELATIVE_SPAN: f64 = 1e-12;

/// Which encoding a tile matrix set was read from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TmsFormat {
    /// A ROK4 file: short CRS code, no OGC-only fields.
    Rok4,
    /// OGC 2D-TMS 2.0 JSON: CRS URI, or any of `uri`, `title`, `wellKnownScaleSet`,
    /// `cornerOfOrigin`.
    Ogc,
}

/// A tile matrix set: a CRS and its tile matrices, ordered from the coarsest to the finest.
#[derive(Debug, Clone)]
pub struct TileMatrixSet {
    id: String,
    title: Option<String>,
    uri: Option<String>,
    well_known_scale_set: Option<String>,
    crs: crs::Crs,
    declared_crs: String,
    ordered_axes: Option<Vec<String>>,
    north_first: bool,
    format: TmsFormat,
    matrices: Vec<TileMatrix>,
}

impl TileMatrixSet {
    /// Reads a tile matrix set from ROK4 or OGC 2D-TMS 2.0 JSON (told apart automatically).
    ///
    /// `pointOfOrigin` is read in the order `orderedAxes` gives (`["Lat","Lon"]` means latitude
    /// first); without `orderedAxes`, in the CRS's own axis order. Tile matrices are sorted from
    /// the coarsest to the finest; ids must be unique.
    pub fn from_json(text: &str) -> Result<TileMatrixSet, PyramidError> {
        let wire: WireTms = serde_json::from_str(text).map_err(PyramidError::json)?;
        TileMatrixSet::from_wire(wire)
    }

    /// Reads a tile matrix set file; errors name the file.
    pub fn load(path: impl AsRef<Path>) -> Result<TileMatrixSet, PyramidError> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path).map_err(|source| PyramidError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        TileMatrixSet::from_json(&text).map_err(|e| e.in_file(path))
    }

    fn from_wire(wire: WireTms) -> Result<TileMatrixSet, PyramidError> {
        let WireTms {
            id,
            title,
            uri,
            well_known_scale_set,
            crs: wire_crs,
            ordered_axes,
            tile_matrices,
        } = wire;
        let set_error = |field: &'static str, reason: String| PyramidError::InvalidTileMatrixSet {
            path: None,
            tms: id.clone(),
            field,
            reason,
        };
        let (declared_crs, crs_is_object) =
            match wire_crs {
                WireCrs::Code(code) => (code, false),
                WireCrs::Uri { uri } => (uri, true),
                WireCrs::Other(_) => return Err(set_error(
                    "crs",
                    "only a CRS code or {\"uri\": …} is supported, not WKT or a reference system"
                        .into(),
                )),
            };
        let crs = crs::Crs::parse(&declared_crs).map_err(|source| PyramidError::Crs {
            path: None,
            tms: id.clone(),
            crs: declared_crs.clone(),
            source: Box::new(source),
        })?;
        let north_first = match ordered_axes.as_deref().and_then(|axes| axes.first()) {
            Some(first) => match axis_is_north(first) {
                Some(north) => north,
                None => {
                    return Err(set_error(
                        "orderedAxes",
                        format!("unknown axis name '{first}'"),
                    ))
                }
            },
            None => crs.axis_order() == crs::AxisOrder::NorthEast,
        };
        if tile_matrices.is_empty() {
            return Err(set_error("tileMatrices", "no tile matrix".into()));
        }
        let ogc_looks = crs_is_object
            || declared_crs.starts_with("http")
            || declared_crs.starts_with("urn:")
            || title.is_some()
            || uri.is_some()
            || well_known_scale_set.is_some()
            || tile_matrices.iter().any(|m| m.corner_of_origin.is_some());
        let mpu = crs.metres_per_unit();
        let mut matrices = tile_matrices
            .into_iter()
            .map(|m| build_matrix(&id, &m, north_first, mpu))
            .collect::<Result<Vec<_>, _>>()?;
        // Coarsest first; stable, so equal resolutions keep the file's order.
        matrices.sort_by(|a, b| b.resolution.total_cmp(&a.resolution));
        for (level, m) in matrices.iter_mut().enumerate() {
            m.level = level as u32;
        }
        let mut ids: Vec<&str> = matrices.iter().map(TileMatrix::id).collect();
        ids.sort_unstable();
        if let Some(&[dup, _]) = ids.windows(2).find(|w| w[0] == w[1]) {
            return Err(set_error(
                "tileMatrices",
                format!("tile matrix id '{dup}' is used twice"),
            ));
        }
        Ok(TileMatrixSet {
            id,
            title,
            uri,
            well_known_scale_set,
            crs,
            declared_crs,
            ordered_axes,
            north_first,
            format: if ogc_looks {
                TmsFormat::Ogc
            } else {
                TmsFormat::Rok4
            },
            matrices,
        })
    }

    /// The same grid of tiles with `factor` times the pixels across each tile (a HiDPI
    /// variant: 512-pixel tiles of PM for `factor` 2), named `id`: each tile covers the same
    /// ground, at `factor` times finer resolution and scale (exactly, for powers of two).
    #[must_use]
    pub fn scaled(&self, factor: u32, id: &str) -> TileMatrixSet {
        let f = f64::from(factor.max(1));
        let mut scaled = self.clone();
        id.clone_into(&mut scaled.id);
        scaled.uri = None;
        scaled.well_known_scale_set = None;
        scaled.title = self
            .title
            .as_ref()
            .map(|t| format!("{t} ({factor}× pixels)"));
        for m in &mut scaled.matrices {
            m.tile_width *= factor.max(1);
            m.tile_height *= factor.max(1);
            m.resolution /= f;
            m.scale_denominator /= f;
        }
        scaled
    }

    /// The identifier (`PM`, `WebMercatorQuad`, `LAMB93_10cm`…).
    pub fn id(&self) -> &str {
        &self.id
    }
    /// The title, when the file has one (OGC).
    pub fn title(&self) -> Option<&str> {
        self.title.as_deref()
    }
    /// The set's registered URI, when the file has one (OGC).
    pub fn uri(&self) -> Option<&str> {
        self.uri.as_deref()
    }
    /// The well-known scale set it follows, when the file names one (OGC).
    pub fn well_known_scale_set(&self) -> Option<&str> {
        self.well_known_scale_set.as_deref()
    }
    /// The CRS.
    pub fn crs(&self) -> &crs::Crs {
        &self.crs
    }
    /// The CRS as the file wrote it (`EPSG:3857`, `http://www.opengis.net/def/crs/EPSG/0/3857`).
    pub fn declared_crs(&self) -> &str {
        &self.declared_crs
    }
    /// Which encoding the set was read from.
    pub fn format(&self) -> TmsFormat {
        self.format
    }
    /// The tile matrices, coarsest first.
    pub fn matrices(&self) -> &[TileMatrix] {
        &self.matrices
    }
    /// The tile matrix with this id.
    pub fn matrix(&self, id: &str) -> Option<&TileMatrix> {
        self.matrices.iter().find(|m| m.id == id)
    }
    /// The tile matrix at this level index (0 = coarsest).
    pub fn matrix_at(&self, level: u32) -> Option<&TileMatrix> {
        self.matrices.get(level as usize)
    }
    /// The tile matrix a tile belongs to.
    ///
    /// `None` only if the tile was made by another, shorter, tile matrix set.
    pub fn matrix_of(&self, tile: TileCoord) -> Option<&TileMatrix> {
        self.matrix_at(tile.level())
    }
    /// The tile at `col`, `row` of the tile matrix `matrix_id`.
    ///
    /// Fails with [`PyramidError::UnknownTileMatrix`] or [`PyramidError::TileOutOfRange`].
    pub fn tile(&self, matrix_id: &str, col: i64, row: i64) -> Result<TileCoord, PyramidError> {
        self.matrix(matrix_id)
            .ok_or_else(|| PyramidError::UnknownTileMatrix {
                tms: self.id.clone(),
                matrix: matrix_id.to_owned(),
            })?
            .tile(col, row)
    }

    /// Scale denominator of a resolution in this set's CRS (0.28 mm pixel).
    pub fn scale_denominator_of(&self, resolution: f64) -> f64 {
        scale_denominator_from_resolution(resolution, self.crs.metres_per_unit())
    }

    /// Resolution of a scale denominator in this set's CRS (0.28 mm pixel).
    pub fn resolution_of(&self, scale_denominator: f64) -> f64 {
        resolution_from_scale_denominator(scale_denominator, self.crs.metres_per_unit())
    }

    /// The tile matrix to read for a requested resolution (CRS units per pixel).
    ///
    /// Rule (as GDAL and MapServer choose overviews): the coarsest matrix at least as fine as
    /// the request (allowing a relative 1e-9 for rounding), so the image is downsampled from
    /// real pixels rather than upsampled; when the request is finer than every matrix, the
    /// finest one; when it is coarser than every matrix, the coarsest one.
    pub fn best_matrix_for_resolution(&self, resolution: f64) -> &TileMatrix {
        let all = 0..=(self.matrices.len() as u32 - 1);
        // The range is the whole, non-empty set: there is always an answer.
        best_in(&self.matrices, resolution, all).unwrap_or(&self.matrices[0])
    }

    /// [`best_matrix_for_resolution`](Self::best_matrix_for_resolution) restricted to the
    /// levels `levels` (indices, 0 = coarsest; e.g. a pyramid's top..=bottom). `None` if the
    /// range holds no level of this set.
    pub fn best_matrix_for_resolution_in(
        &self,
        resolution: f64,
        levels: RangeInclusive<u32>,
    ) -> Option<&TileMatrix> {
        best_in(&self.matrices, resolution, levels)
    }

    /// The set as OGC 2D-TMS 2.0 JSON (which ROK4 also reads), keeping the CRS as written and
    /// `pointOfOrigin` in `orderedAxes` order.
    pub fn to_json(&self) -> String {
        let matrices = self
            .matrices
            .iter()
            .map(|m| {
                let (x, y) = m.origin;
                OutMatrix {
                    id: &m.id,
                    scale_denominator: m.scale_denominator,
                    cell_size: m.resolution,
                    corner_of_origin: (m.corner == CornerOfOrigin::BottomLeft)
                        .then_some("bottomLeft"),
                    point_of_origin: if self.north_first { [y, x] } else { [x, y] },
                    tile_width: m.tile_width,
                    tile_height: m.tile_height,
                    matrix_width: m.matrix_width,
                    matrix_height: m.matrix_height,
                }
            })
            .collect();
        let axes = self.ordered_axes.clone().unwrap_or_else(|| {
            let (e, n) = if self.crs.is_geographic() {
                ("Lon", "Lat")
            } else {
                ("X", "Y")
            };
            if self.north_first {
                vec![n.into(), e.into()]
            } else {
                vec![e.into(), n.into()]
            }
        });
        let out = OutTms {
            id: &self.id,
            title: self.title.as_deref(),
            uri: self.uri.as_deref(),
            crs: &self.declared_crs,
            ordered_axes: axes,
            well_known_scale_set: self.well_known_scale_set.as_deref(),
            tile_matrices: matrices,
        };
        // Serializing plain structs of strings and finite numbers cannot fail.
        serde_json::to_string_pretty(&out).unwrap_or_default()
    }
}

fn best_in(
    matrices: &[TileMatrix],
    resolution: f64,
    levels: RangeInclusive<u32>,
) -> Option<&TileMatrix> {
    let start = *levels.start() as usize;
    let end = (*levels.end() as usize).min(matrices.len().checked_sub(1)?);
    let candidates = matrices.get(start..=end)?;
    let threshold = resolution * (1.0 + RESOLUTION_EPSILON);
    // Coarsest first: the coarsest level at least as fine as the request (so images are
    // downsampled, never blurred by upsampling), else the finest candidate.
    candidates
        .iter()
        .find(|m| m.resolution <= threshold)
        .or(candidates.last())
}

/// Whether an `orderedAxes` name designates the northing / latitude axis.
fn axis_is_north(name: &str) -> Option<bool> {
    match name.trim().to_ascii_lowercase().as_str() {
        "x" | "e" | "east" | "easting" | "lon" | "long" | "longitude" => Some(false),
        "y" | "n" | "north" | "northing" | "lat" | "latitude" => Some(true),
        _ => None,
    }
}

fn build_matrix(
    tms: &str,
    m: &WireMatrix,
    north_first: bool,
    mpu: f64,
) -> Result<TileMatrix, PyramidError> {
    let err = |field: &'static str, reason: String| PyramidError::InvalidTileMatrix {
        path: None,
        tms: tms.to_owned(),
        matrix: m.id.clone(),
        field,
        reason,
    };
    if m.variable_matrix_widths
        .as_ref()
        .is_some_and(|v| !v.is_empty())
    {
        return Err(PyramidError::Unsupported {
            path: None,
            tms: tms.to_owned(),
            matrix: m.id.clone(),
            field: "variableMatrixWidths",
        });
    }
    let positive = |v: f64| v.is_finite() && v > 0.0;
    let (resolution, scale_denominator) = match (m.cell_size, m.scale_denominator) {
        (Some(r), Some(s)) => (r, s),
        (Some(r), None) => (r, scale_denominator_from_resolution(r, mpu)),
        (None, Some(s)) => (resolution_from_scale_denominator(s, mpu), s),
        (None, None) => {
            return Err(err(
                "cellSize",
                "neither cellSize nor scaleDenominator is given".into(),
            ))
        }
    };
    if !positive(resolution) {
        return Err(err(
            "cellSize",
            format!("{resolution} is not a positive number"),
        ));
    }
    if !positive(scale_denominator) {
        return Err(err(
            "scaleDenominator",
            format!("{scale_denominator} is not a positive number"),
        ));
    }
    let [a, b] = m.point_of_origin;
    let origin = if north_first { (b, a) } else { (a, b) };
    if !(origin.0.is_finite() && origin.1.is_finite()) {
        return Err(err("pointOfOrigin", format!("[{a}, {b}] is not finite")));
    }
    let matrix = TileMatrix {
        id: m.id.clone(),
        level: 0,
        scale_denominator,
        resolution,
        corner: m.corner_of_origin.unwrap_or_default().into(),
        origin,
        tile_width: m.tile_width.get(),
        tile_height: m.tile_height.get(),
        matrix_width: m.matrix_width.get(),
        matrix_height: m.matrix_height.get(),
    };
    for (axis, span, count, field) in [
        (
            origin.0,
            matrix.tile_span_x(),
            matrix.matrix_width,
            "tileWidth",
        ),
        (
            origin.1,
            matrix.tile_span_y(),
            matrix.matrix_height,
            "tileHeight",
        ),
    ] {
        let far = axis + f64::from(count) * span;
        let far_neg = axis - f64::from(count) * span;
        if !(span.is_finite() && far.is_finite() && far_neg.is_finite()) {
            return Err(err(field, "the matrix extent overflows".into()));
        }
        let magnitude = axis.abs().max(far.abs()).max(far_neg.abs());
        if span <= magnitude * MIN_RELATIVE_SPAN {
            return Err(err(
                field,
                "tiles are too small for the coordinates' precision".into(),
            ));
        }
    }
    Ok(matrix)
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct WireTms {
    id: String,
    #[serde(default)]
    title: Option<String>,
    #[serde(default)]
    uri: Option<String>,
    #[serde(default)]
    well_known_scale_set: Option<String>,
    crs: WireCrs,
    #[serde(default)]
    ordered_axes: Option<Vec<String>>,
    tile_matrices: Vec<WireMatrix>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum WireCrs {
    Code(String),
    Uri { uri: String },
    Other(serde::de::IgnoredAny),
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct WireMatrix {
    id: String,
    #[serde(default)]
    scale_denominator: Option<f64>,
    #[serde(default)]
    cell_size: Option<f64>,
    #[serde(default)]
    corner_of_origin: Option<WireCorner>,
    point_of_origin: [f64; 2],
    tile_width: std::num::NonZeroU32,
    tile_height: std::num::NonZeroU32,
    matrix_width: std::num::NonZeroU32,
    matrix_height: std::num::NonZeroU32,
    #[serde(default)]
    variable_matrix_widths: Option<Vec<serde::de::IgnoredAny>>,
}

#[derive(Deserialize, Default, Clone, Copy)]
#[serde(rename_all = "camelCase")]
enum WireCorner {
    #[default]
    TopLeft,
    BottomLeft,
}

impl From<WireCorner> for CornerOfOrigin {
    fn from(c: WireCorner) -> Self {
        match c {
            WireCorner::TopLeft => CornerOfOrigin::TopLeft,
            WireCorner::BottomLeft => CornerOfOrigin::BottomLeft,
        }
    }
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct OutTms<'a> {
    id: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    title: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    uri: Option<&'a str>,
    crs: &'a str,
    ordered_axes: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    well_known_scale_set: Option<&'a str>,
    tile_matrices: Vec<OutMatrix<'a>>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct OutMatrix<'a> {
    id: &'a str,
    scale_denominator: f64,
    cell_size: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    corner_of_origin: Option<&'static str>,
    point_of_origin: [f64; 2],
    tile_width: u32,
    tile_height: u32,
    matrix_width: u32,
    matrix_height: u32,
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::float_cmp)]
mod tests {
    use crate::TileMatrixSets;

    #[test]
    fn a_scaled_set_covers_the_same_tiles_with_more_pixels() {
        let sets = TileMatrixSets::builtin();
        let pm = sets.get("PM").unwrap();
        let hidpi = pm.scaled(2, "PM@2x");
        assert_eq!(hidpi.id(), "PM@2x");
        assert_eq!(hidpi.matrices().len(), pm.matrices().len());
        for (a, b) in pm.matrices().iter().zip(hidpi.matrices()) {
            assert_eq!(b.tile_width(), 2 * a.tile_width());
            assert_eq!(
                (b.matrix_width(), b.matrix_height()),
                (a.matrix_width(), a.matrix_height())
            );
            assert_eq!(b.tile_span_x(), a.tile_span_x());
            assert_eq!(b.resolution() * 2.0, a.resolution());
            let tile = a.tile(0, i64::from(a.matrix_height()) - 1).unwrap();
            assert_eq!(b.tile_bbox(tile), a.tile_bbox(tile));
        }
    }
}
