//! The one-table GeoPackage a Shapefile or a CSV is copied into before the checks (the `shp`
//! and `delimited` readers), written feature by feature: geometry blob, envelope and extent,
//! attribute values; and what their reading leaves for the report.

use crate::value::{AttributeType, Value};
use crate::writer::StoreWriter;

/// What a copy read, for the report's warnings.
#[derive(Debug)]
pub(crate) struct Converted {
    /// Whether a `.prj` gave the CRS.
    pub(crate) has_prj: bool,
    /// How the text was decoded when it had to be guessed (after the file's name: "has no .cpg:
    /// its attributes were read as UTF-8"), `None` when the file said.
    pub(crate) encoding_note: Option<&'static str>,
}

/// The EPSG code a `.prj` names: its authority, else its parameters (ESRI's dialect).
pub(crate) fn prj_epsg(wkt: &str) -> Option<u32> {
    crate::srs::epsg_from_wkt(wkt).or_else(|| crs::Crs::identify_wkt(wkt)?.epsg())
}

/// A GeoPackage being written with one table.
pub(crate) struct TableCopy {
    writer: StoreWriter,
    srs_id: i64,
    extent: Option<[f64; 4]>,
}

impl TableCopy {
    /// A new GeoPackage at `output` (replacing a leftover) with the table `table`; `srs`: the
    /// `gpkg_spatial_ref_sys` row (id, `EPSG:n` or empty, WKT) of its CRS, `None`: undefined.
    pub(crate) fn create(
        output: &std::path::Path,
        table: &str,
        geometry_type: &str,
        srs: Option<(i64, &str, &str)>,
        columns: &[(String, AttributeType)],
    ) -> Result<TableCopy, String> {
        let _ = std::fs::remove_file(output);
        let mut writer = StoreWriter::create(output).map_err(|e| e.to_string())?;
        if let Some((id, code, wkt)) = srs {
            writer
                .ensure_srs(id, code, table, wkt)
                .map_err(|e| e.to_string())?;
        }
        let srs_id = srs.map_or(-1, |(id, _, _)| id);
        writer
            .begin_layer(table, geometry_type, srs_id, columns)
            .map_err(|e| e.to_string())?;
        Ok(TableCopy {
            writer,
            srs_id,
            extent: None,
        })
    }

    /// Adds a feature.
    pub(crate) fn add(
        &mut self,
        fid: i64,
        geometry: Option<&geo_types::Geometry<f64>>,
        values: &[Value],
    ) -> Result<(), String> {
        let envelope = geometry.and_then(crate::geom::envelope);
        if let Some([a, b, c, d]) = envelope {
            self.extent = Some(self.extent.map_or([a, b, c, d], |[x0, y0, x1, y1]| {
                [x0.min(a), y0.min(b), x1.max(c), y1.max(d)]
            }));
        }
        let blob =
            geometry.map(|g| crate::geom::encode(g, i32::try_from(self.srs_id).unwrap_or(-1)));
        self.writer
            .insert(fid, blob.as_deref(), envelope, values)
            .map_err(|e| e.to_string())
    }

    /// Records the extent and closes the file.
    pub(crate) fn finish(mut self) -> Result<(), String> {
        self.writer
            .end_layer(self.extent)
            .map_err(|e| e.to_string())?;
        self.writer.finish().map_err(|e| e.to_string())
    }
}
