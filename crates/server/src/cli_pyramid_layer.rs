//! `tuilerie pyramid build --layer NAME`: a configured vector layer rendered into a pyramid.
//!
//! Every level is drawn at its own scale (rules, symbol and label sizes as WMS would draw them
//! there), tile by tile in parallel, each tile drawn `--buffer` pixels larger on every side and
//! cut: a label crossing a tile edge is placed in both neighbours from the same features, so its
//! halves meet. Tiles without any feature are not stored. Slabs are written whole (temporary
//! file, then rename); a restarted build keeps the slabs already written.

use std::process::ExitCode;
use std::time::Instant;

use crs::{Bbox, Crs, Transformer};
use pyramid::{
    PyramidError, PyramidSpec, PyramidWriter, Samples, TileFormat, TileImage, TileLimits,
    TileMatrix, TileMatrixSet,
};

use crate::cli::error_chain;
use crate::cli_pyramid::{slab_progress, usage, BuildArgs};
use crate::config::Config;
use crate::layers::{LayerSource, Layers, VectorLayer};

/// Builds the pyramid of `layer`.
pub fn build(args: &BuildArgs, layer: &str, format: TileFormat, tms: &TileMatrixSet) -> ExitCode {
    let channels: u8 = match format {
        TileFormat::JpgUint8 | TileFormat::Jpg90Uint8 => 3,
        TileFormat::PngUint8 | TileFormat::ZipUint8 | TileFormat::RawUint8 => 4,
        _ => {
            return usage(&format!(
                "--format {format}: a rendered layer is colours; use TIFF_PNG_UINT8 (transparent) or TIFF_JPG_UINT8"
            ))
        }
    };
    if args.buffer > 1024 {
        return usage("--buffer: use 0 to 1024 pixels");
    }
    let Some(config_path) = &args.config else {
        return usage("--layer needs --config FILE: the configuration that declares the layer");
    };
    let config = match Config::load(config_path) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::FAILURE;
        }
    };
    let layers = match Layers::from_config(&config) {
        Ok(l) => l,
        Err(e) => {
            eprintln!("error: {}", error_chain(&e));
            return ExitCode::FAILURE;
        }
    };
    let Some(found) = layers.get(layer) else {
        let names: Vec<&str> = layers.iter().map(|l| l.name.as_str()).collect();
        return usage(&format!(
            "--layer '{layer}' is not in {} (its layers: {})",
            config_path.display(),
            names.join(", ")
        ));
    };
    let LayerSource::Vector(vector) = &found.source else {
        return usage(&format!(
            "--layer '{layer}' is a pyramid already; --layer renders vector layers"
        ));
    };
    let renderer = match render::Renderer::new(render::RendererOptions {
        font_dir: config.wms.font_dir.clone(),
        graphics_dir: None,
    }) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: {}", error_chain(&e));
            return ExitCode::FAILURE;
        }
    };
    let job = Job {
        vector,
        renderer: &renderer,
        tms,
        channels,
        buffer: args.buffer,
    };
    let started = Instant::now();
    match job.run(args, format) {
        Ok((tiles, slabs, kept, descriptor)) => {
            let seconds = started.elapsed().as_secs_f64();
            eprintln!(
                "built {}: {tiles} tiles in {slabs} slabs written, {kept} slabs kept from an earlier run, in {seconds:.1} s ({:.0} tiles/s)",
                descriptor.display(),
                tiles as f64 / seconds.max(1e-9)
            );
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {}", error_chain(&e));
            ExitCode::FAILURE
        }
    }
}

struct Job<'a> {
    vector: &'a VectorLayer,
    renderer: &'a render::Renderer,
    tms: &'a TileMatrixSet,
    channels: u8,
    buffer: u32,
}

/// Tiles written, slabs written, slabs kept, descriptor path.
type Outcome = (u64, u64, u64, std::path::PathBuf);

impl Job<'_> {
    fn run(&self, args: &BuildArgs, format: TileFormat) -> Result<Outcome, PyramidError> {
        let fail = |reason: String| PyramidError::Build { reason };
        let top = self.tms.matrix(&args.top).ok_or_else(|| {
            fail(format!(
                "--top {} is not a matrix of {}",
                args.top,
                self.tms.id()
            ))
        })?;
        let bottom = self.tms.matrix(&args.bottom).ok_or_else(|| {
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
            format,
            channels: self.channels,
            nodata,
            interpolation: "linear".to_owned(),
            slab_size: (args.slab_size, args.slab_size),
            path_depth: 2,
        };
        let mut writer = PyramidWriter::new(&args.out, self.tms.clone(), spec)?;
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
        let bar = slab_progress();
        bar.set_length(slabs.len() as u64);
        let (mut tiles, mut written, mut kept) = (0u64, 0u64, 0u64);
        let counted = std::sync::atomic::AtomicU64::new(0);
        for (matrix, sc, sr) in slabs {
            if writer.slab_file(matrix.id(), sc, sr).is_file() {
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
            bar.inc(1);
        }
        bar.finish_and_clear();
        tiles += counted.load(std::sync::atomic::Ordering::Relaxed);
        let descriptor = writer.finish()?;
        Ok((tiles, written, kept, descriptor))
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
