//! A vector layer rendered into a pyramid (`tuilerie pyramid build --layer NAME`): the
//! precomputed tiles a WMS layer lacks — images, or vector tiles (`TIFF_PBF_MVT`, ROK4's
//! vector pyramids: each level lists its tables, and a composition may keep some tables on
//! some levels only, with some of their attributes).
//!
//! Every level is drawn at its own scale (rules, symbol and label sizes as WMS would draw them
//! there), tile by tile in parallel, each tile drawn `buffer` pixels larger on every side and
//! cut: a label crossing a tile edge is placed in both neighbours from the same features, so its
//! halves meet. Tiles without any feature are not stored. Slabs are written whole (temporary
//! file, then rename); a restarted build keeps the slabs already written.

use std::path::PathBuf;

use crs::{Bbox, Crs, Transformer};
use pyramid::{
    PyramidError, PyramidSpec, PyramidWriter, Samples, TileFormat, TileImage, TileLimits,
    TileMatrix, TileMatrixSet,
};

use crate::config::Config;
use crate::error::error_chain;
use crate::layers::{LayerError, LayerSource, Layers, MvtSettings, VectorLayer};

/// Widest buffer around a tile, in pixels.
pub const MAX_BUFFER: u32 = 1024;

/// What to bake and where.
#[derive(Debug, Clone)]
pub struct BakeOptions<'a> {
    /// The vector layer of the configuration.
    pub layer: &'a str,
    /// The tile matrix set.
    pub tms: &'a TileMatrixSet,
    /// The coarsest level (tile matrix id).
    pub top: &'a str,
    /// The finest level (tile matrix id).
    pub bottom: &'a str,
    /// The slabs' format: colours (`TIFF_PNG_UINT8` keeps transparency, `TIFF_JPG_UINT8` draws
    /// on white).
    pub format: TileFormat,
    /// Tiles per slab, across and down.
    pub slab_size: u32,
    /// Pixels drawn around each tile and cut away.
    pub buffer: u32,
    /// Where the pyramid goes: a folder, or a folder key in object storage.
    pub out: &'a pyramid::Location,
    /// Object storage, for an `out` there.
    pub storage: &'a std::sync::Arc<pyramid::ObjectStorage>,
    /// Vector pyramids: which tables on which levels, with which attributes (`None`: every
    /// table on every level, with every attribute).
    pub composition: Option<&'a [Composition]>,
}

/// One table of a vector pyramid's composition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Composition {
    /// The table's stored name.
    pub table: String,
    /// Its coarsest level (tile matrix id).
    pub top: String,
    /// Its finest level (tile matrix id).
    pub bottom: String,
    /// The attributes to keep (`None`: all).
    pub attributes: Option<Vec<String>>,
}

/// What a bake did.
#[derive(Debug, Clone)]
pub struct BakeReport {
    /// Tiles written.
    pub tiles: u64,
    /// Slabs written.
    pub slabs_written: u64,
    /// Slabs kept from an earlier run.
    pub slabs_kept: u64,
    /// The descriptor written.
    pub descriptor: PathBuf,
}

/// Why a bake could not run.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BakeError {
    /// The format does not hold colours.
    #[error(
        "{format}: a rendered layer is colours; use TIFF_PNG_UINT8 (transparent), TIFF_JPG_UINT8, or TIFF_PBF_MVT for vector tiles"
    )]
    NotColours {
        /// The format asked for.
        format: TileFormat,
    },
    /// A composition names what the layer does not have.
    #[error("composition: {0}")]
    Composition(String),
    /// The buffer is wider than [`MAX_BUFFER`].
    #[error("a buffer of {0} pixels is too wide: use 0 to {MAX_BUFFER}")]
    Buffer(u32),
    /// The configuration has no layer of this name.
    #[error("layer '{layer}' is not in the configuration (its layers: {})", known.join(", "))]
    UnknownLayer {
        /// The name asked for.
        layer: String,
        /// The configuration's layers.
        known: Vec<String>,
    },
    /// The layer is not a vector layer.
    #[error("layer '{0}' is a pyramid already; only vector layers are rendered")]
    NotVector(String),
    /// The configuration's layers could not be opened.
    #[error(transparent)]
    Layers(#[from] LayerError),
    /// The renderer could not start.
    #[error(transparent)]
    Renderer(#[from] render::RenderError),
    /// The pyramid could not be written.
    #[error(transparent)]
    Pyramid(#[from] PyramidError),
}

/// Renders `options.layer` of `config` into a pyramid; `progress(done, total)` is called as
/// slabs are done.
pub fn bake(
    config: &Config,
    options: &BakeOptions<'_>,
    progress: &(dyn Fn(u64, u64) + Sync),
) -> Result<BakeReport, BakeError> {
    if options.format.is_vector() {
        let layers = Layers::from_config(config)?;
        let vector = find_vector(&layers, options.layer)?;
        let settings = MvtSettings {
            extent: config.vector_tiles.extent,
            buffer: config.vector_tiles.buffer,
            max_bytes: config.vector_tiles.max_tile_bytes,
        };
        return bake_vector(vector, settings, options, progress);
    }
    let channels: u8 = match options.format {
        TileFormat::JpgUint8 | TileFormat::Jpg90Uint8 => 3,
        TileFormat::PngUint8
        | TileFormat::WebpUint8
        | TileFormat::ZipUint8
        | TileFormat::RawUint8 => 4,
        format => return Err(BakeError::NotColours { format }),
    };
    if options.buffer > MAX_BUFFER {
        return Err(BakeError::Buffer(options.buffer));
    }
    let layers = Layers::from_config(config)?;
    let vector = find_vector(&layers, options.layer)?;
    let renderer = render::Renderer::new(render::RendererOptions {
        font_dir: config.wms.font_dir.clone(),
        graphics_dir: None,
    })?;
    let job = Job {
        vector,
        renderer: &renderer,
        tms: options.tms,
        channels,
        buffer: options.buffer,
    };
    Ok(job.run(options, progress)?)
}

/// The vector layer of a name.
fn find_vector<'a>(layers: &'a Layers, name: &str) -> Result<&'a VectorLayer, BakeError> {
    let Some(found) = layers.get(name) else {
        return Err(BakeError::UnknownLayer {
            layer: name.to_owned(),
            known: layers.iter().map(|l| l.name.clone()).collect(),
        });
    };
    match &found.source {
        LayerSource::Vector(vector) => Ok(vector),
        LayerSource::Pyramid(_) => Err(BakeError::NotVector(name.to_owned())),
    }
}

/// Cuts a vector layer into a vector pyramid (`TIFF_PBF_MVT`): its tables (or the
/// composition's) as MVT, resumable as image bakes are.
pub fn bake_vector(
    vector: &VectorLayer,
    settings: MvtSettings,
    options: &BakeOptions<'_>,
    progress: &(dyn Fn(u64, u64) + Sync),
) -> Result<BakeReport, BakeError> {
    let tms = options.tms;
    let level_of = |id: &str, what: &str| {
        tms.matrix(id).map(TileMatrix::level).ok_or_else(|| {
            let ids: Vec<&str> = tms.matrices().iter().map(TileMatrix::id).collect();
            BakeError::Composition(format!(
                "{what} '{id}' is not a level of {} (levels: {})",
                tms.id(),
                ids.join(", ")
            ))
        })
    };
    let top = level_of(options.top, "top level")?;
    let bottom = level_of(options.bottom, "bottom level")?;
    if top > bottom {
        return Err(BakeError::Composition(
            "the top level is finer than the bottom level: top is the coarsest".to_owned(),
        ));
    }
    let mut tables = Vec::new();
    match options.composition {
        None => {
            for relation in &vector.relations {
                tables.push(catalog::SourceTable {
                    store: &relation.store,
                    table: relation.table.clone(),
                    attributes: relation.attributes.clone(),
                    top,
                    bottom,
                });
            }
        }
        Some(composition) => {
            for item in composition {
                let Some(relation) = vector.relations.iter().find(|r| r.table == item.table) else {
                    let known: Vec<&str> =
                        vector.relations.iter().map(|r| r.table.as_str()).collect();
                    return Err(BakeError::Composition(format!(
                        "table '{}' is not in the layer (tables: {})",
                        item.table,
                        known.join(", ")
                    )));
                };
                let attributes = match &item.attributes {
                    None => relation.attributes.clone(),
                    Some(chosen) => {
                        if let Some(unknown) = chosen.iter().find(|a| {
                            !relation.attributes.contains(a)
                                && !catalog::GEOMETRY_NAMES.contains(&a.as_str())
                        }) {
                            return Err(BakeError::Composition(format!(
                                "table '{}' has no attribute '{unknown}' (attributes: {})",
                                item.table,
                                relation.attributes.join(", ")
                            )));
                        }
                        chosen
                            .iter()
                            .filter(|a| relation.attributes.contains(a))
                            .cloned()
                            .collect()
                    }
                };
                let (t, b) = (
                    level_of(&item.top, "top_level")?,
                    level_of(&item.bottom, "bottom_level")?,
                );
                if t > b {
                    return Err(BakeError::Composition(format!(
                        "table '{}': top_level {} is finer than bottom_level {}",
                        item.table, item.top, item.bottom
                    )));
                }
                tables.push(catalog::SourceTable {
                    store: &relation.store,
                    table: item.table.clone(),
                    attributes,
                    top: t.max(top),
                    bottom: b.min(bottom),
                });
            }
        }
    }
    let report = catalog::build_vector_pyramid(
        &tables,
        &catalog::VectorPyramidOptions {
            tms,
            slab_size: options.slab_size,
            settings,
            out: options.out,
            storage: options.storage,
        },
        progress,
    )?;
    Ok(BakeReport {
        tiles: report.tiles,
        slabs_written: report.slabs_written,
        slabs_kept: report.slabs_kept,
        descriptor: report.descriptor,
    })
}

struct Job<'a> {
    vector: &'a VectorLayer,
    renderer: &'a render::Renderer,
    tms: &'a TileMatrixSet,
    channels: u8,
    buffer: u32,
}

impl Job<'_> {
    fn run(
        &self,
        args: &BakeOptions<'_>,
        progress: &(dyn Fn(u64, u64) + Sync),
    ) -> Result<BakeReport, PyramidError> {
        let fail = |reason: String| PyramidError::Build { reason };
        let top = self.tms.matrix(args.top).ok_or_else(|| {
            fail(format!(
                "--top {} is not a matrix of {}",
                args.top,
                self.tms.id()
            ))
        })?;
        let bottom = self.tms.matrix(args.bottom).ok_or_else(|| {
            fail(format!(
                "--bottom {} is not a matrix of {}",
                args.bottom,
                self.tms.id()
            ))
        })?;
        if top.level() > bottom.level() {
            return Err(fail(
                "--top is finer than --bottom: top is the coarsest level".to_owned(),
            ));
        }
        // The layer's extent in the tile matrix set's CRS.
        let to_tms =
            Transformer::new(&self.vector.crs, self.tms.crs()).map_err(|e| fail(e.to_string()))?;
        let extent = to_tms
            .transform_bbox(&self.vector.native_bbox)
            .map_err(|e| {
                fail(format!(
                    "the layer's extent has no image in {}: {e}",
                    self.tms.crs()
                ))
            })?;
        let nodata = vec![0.0; usize::from(self.channels)];
        let spec = PyramidSpec {
            format: args.format,
            channels: self.channels,
            nodata,
            interpolation: "linear".to_owned(),
            slab_size: (args.slab_size, args.slab_size),
            path_depth: 2,
        };
        let mut writer = PyramidWriter::create(args.out, self.tms.clone(), spec, args.storage)?;
        let levels: Vec<(&TileMatrix, TileLimits)> = writer
            .add_levels_over(top.level()..=bottom.level(), &extent)?
            .into_iter()
            .filter_map(|(level, limits)| Some((self.tms.matrix_at(level)?, limits)))
            .collect();
        let slabs: Vec<(&TileMatrix, u32, u32)> = levels
            .iter()
            .flat_map(|(matrix, l)| {
                let n = args.slab_size;
                (l.min_row / n..=l.max_row / n).flat_map(move |sr| {
                    (l.min_col / n..=l.max_col / n).map(move |sc| (*matrix, sc, sr))
                })
            })
            .collect();
        let total = slabs.len() as u64;
        progress(0, total);
        let (mut tiles, mut written, mut kept) = (0u64, 0u64, 0u64);
        let counted = std::sync::atomic::AtomicU64::new(0);
        for (done, (matrix, sc, sr)) in (1..).zip(slabs) {
            if writer.slab_exists(matrix.id(), sc, sr)? {
                kept += 1;
            } else if writer.write_slab(matrix.id(), sc, sr, |col, row| {
                let tile = self.tile(matrix, col, row)?;
                if tile.is_some() {
                    counted.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                }
                Ok(tile)
            })? {
                written += 1;
            }
            progress(done, total);
        }
        tiles += counted.load(std::sync::atomic::Ordering::Relaxed);
        let descriptor = writer.finish()?;
        Ok(BakeReport {
            tiles,
            slabs_written: written,
            slabs_kept: kept,
            descriptor,
        })
    }

    /// One tile, drawn with its buffer and cut; `None` when no feature touches it.
    fn tile(
        &self,
        matrix: &TileMatrix,
        col: u32,
        row: u32,
    ) -> Result<Option<TileImage>, PyramidError> {
        let fail = |reason: String| PyramidError::Build { reason };
        let coord = matrix.tile(i64::from(col), i64::from(row))?;
        let bbox = matrix.tile_bbox(coord);
        let (tw, th) = (matrix.tile_width(), matrix.tile_height());
        let res = matrix.resolution();
        let margin = f64::from(self.buffer) * res;
        let drawn = Bbox::new(
            bbox.min_x() - margin,
            bbox.min_y() - margin,
            bbox.max_x() + margin,
            bbox.max_y() + margin,
        )
        .map_err(|e| fail(e.to_string()))?;
        let crs: &Crs = self.tms.crs();
        let request = render::MapRequest {
            extent: drawn,
            crs: crs.clone(),
            width: tw + 2 * self.buffer,
            height: th + 2 * self.buffer,
            dpi: render::STANDARD_DPI,
            background: [255, 255, 255, 255],
            transparent: self.channels == 4,
            buffer: 0,
        };
        let fetched = self
            .vector
            .fetch(&drawn, crs, request.scale_denominator(), "")
            .map_err(|e| {
                fail(format!(
                    "tile {}/{col}/{row}: {}",
                    matrix.id(),
                    error_chain(&e)
                ))
            })?;
        if fetched.iter().all(|(features, _)| features.is_empty()) {
            return Ok(None);
        }
        let layers: Vec<render::RenderLayer<'_, vectorstore::Feature>> = fetched
            .iter()
            .map(|(features, style)| render::RenderLayer { features, style })
            .collect();
        let image = self
            .renderer
            .render(&request, &layers)
            .map_err(|e| fail(format!("tile {}/{col}/{row}: {e}", matrix.id())))?;
        let full = image.to_rgba8();
        let stride = request.width as usize * 4;
        let n = usize::from(self.channels);
        let mut samples = Vec::with_capacity(tw as usize * th as usize * n);
        let mut any = false;
        for y in 0..th as usize {
            let start = (y + self.buffer as usize) * stride + self.buffer as usize * 4;
            for p in full[start..start + tw as usize * 4].chunks_exact(4) {
                any |= p[3] != 0;
                samples.extend_from_slice(&p[..n]);
            }
        }
        if !any {
            return Ok(None);
        }
        Ok(TileImage::new(tw, th, self.channels, Samples::U8(samples)))
    }
}
