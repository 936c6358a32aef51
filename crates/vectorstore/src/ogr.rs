//! Other vector formats through GDAL/OGR (crate feature `gdal`): Shapefile, GeoJSON,
//! FlatGeobuf, GML, KML… are first copied into a plain GeoPackage, which then goes through the
//! very same checks and integration as an uploaded one — one code path for every format.
//!
//! Geometries are copied as OGR's WKB inside GeoPackage blobs (Z and M kept; the reader drops
//! them), attribute values with their OGR types (lists as JSON text), the layer's SRS by its
//! authority code when it has one, else by its WKT (which the SRS detection then matches).

use std::path::Path;

use gdal::vector::{FieldValue, LayerAccess, OGRFieldType};
use rusqlite::{params, Connection};

/// Copies every layer of an OGR dataset into a new GeoPackage at `output`.
pub(crate) fn convert(input: &Path, output: &Path) -> Result<usize, String> {
    let dataset = gdal::Dataset::open(input).map_err(|e| format!("GDAL cannot open it: {e}"))?;
    let driver = dataset.driver().short_name();
    if dataset.layer_count() == 0 {
        return Err(format!(
            "GDAL reads it as {driver} but finds no vector layer in it"
        ));
    }
    let mut connection = Connection::open(output).map_err(|e| e.to_string())?;
    connection
        .execute_batch(
            "PRAGMA application_id = 1196444487; PRAGMA user_version = 10300;
             CREATE TABLE gpkg_spatial_ref_sys (srs_name TEXT NOT NULL, srs_id INTEGER PRIMARY KEY,
               organization TEXT NOT NULL, organization_coordsys_id INTEGER NOT NULL,
               definition TEXT NOT NULL, description TEXT);
             INSERT INTO gpkg_spatial_ref_sys VALUES
               ('Undefined cartesian SRS', -1, 'NONE', -1, 'undefined', NULL),
               ('Undefined geographic SRS', 0, 'NONE', 0, 'undefined', NULL);
             CREATE TABLE gpkg_contents (table_name TEXT NOT NULL PRIMARY KEY, data_type TEXT NOT NULL,
               identifier TEXT UNIQUE, description TEXT DEFAULT '',
               last_change DATETIME NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now')),
               min_x DOUBLE, min_y DOUBLE, max_x DOUBLE, max_y DOUBLE, srs_id INTEGER);
             CREATE TABLE gpkg_geometry_columns (table_name TEXT NOT NULL, column_name TEXT NOT NULL,
               geometry_type_name TEXT NOT NULL, srs_id INTEGER NOT NULL, z TINYINT NOT NULL,
               m TINYINT NOT NULL, PRIMARY KEY (table_name, column_name));",
        )
        .map_err(|e| e.to_string())?;
    let mut next_custom_srs = 100_000;
    let mut copied = 0;
    for mut layer in dataset.layers() {
        let name = layer.name();
        let srs_id = match layer.spatial_ref() {
            None => -1,
            Some(mut srs) => {
                // Shapefiles' ESRI WKT names no authority: let GDAL recognise the EPSG code.
                if srs.auth_code().is_err() {
                    let _ = srs.auto_identify_epsg();
                }
                let code = srs
                    .auth_name()
                    .filter(|a| a.eq_ignore_ascii_case("EPSG"))
                    .and_then(|_| srs.auth_code().ok());
                let wkt = srs.to_wkt().unwrap_or_default();
                let (id, organization, organization_id) = if let Some(code) = code {
                    (code, "EPSG", code)
                } else {
                    next_custom_srs += 1;
                    (next_custom_srs, "NONE", next_custom_srs)
                };
                connection
                    .execute(
                        "INSERT OR IGNORE INTO gpkg_spatial_ref_sys VALUES (?1, ?2, ?3, ?4, ?5, NULL)",
                        params![srs.name().unwrap_or_else(|| format!("{organization}:{organization_id}")), id, organization, organization_id, wkt],
                    )
                    .map_err(|e| e.to_string())?;
                id
            }
        };
        let fields: Vec<(String, &'static str)> = layer
            .defn()
            .fields()
            .map(|f| (f.name(), sql_type(f.field_type())))
            .collect();
        let columns: Vec<String> = fields
            .iter()
            .map(|(n, t)| format!(", {} {t}", quote(n)))
            .collect();
        let columns = columns.concat();
        let table = quote(&name);
        let tx = connection.transaction().map_err(|e| e.to_string())?;
        tx.execute_batch(&format!(
            "CREATE TABLE {table} (fid INTEGER PRIMARY KEY AUTOINCREMENT, geom GEOMETRY{columns});"
        ))
        .map_err(|e| format!("layer '{name}': {e}"))?;
        let placeholders: Vec<String> =
            (0..fields.len()).map(|k| format!(", ?{}", k + 3)).collect();
        let placeholders = placeholders.concat();
        let names: Vec<String> = fields
            .iter()
            .map(|(n, _)| format!(", {}", quote(n)))
            .collect();
        let names = names.concat();
        let mut extent: Option<[f64; 4]> = None;
        {
            let mut insert = tx
                .prepare(&format!(
                    "INSERT INTO {table} (fid, geom{names}) VALUES (?1, ?2{placeholders})"
                ))
                .map_err(|e| e.to_string())?;
            for feature in layer.features() {
                let blob = match feature.geometry() {
                    Some(geometry) if !geometry.is_empty() => {
                        let e = geometry.envelope();
                        extent = Some(extent.map_or([e.MinX, e.MinY, e.MaxX, e.MaxY], |x| {
                            [
                                x[0].min(e.MinX),
                                x[1].min(e.MinY),
                                x[2].max(e.MaxX),
                                x[3].max(e.MaxY),
                            ]
                        }));
                        let wkb = geometry.wkb().map_err(|e| format!("layer '{name}': {e}"))?;
                        Some(gpkg_blob(&wkb, srs_id))
                    }
                    _ => None,
                };
                let mut values: Vec<rusqlite::types::Value> = Vec::with_capacity(fields.len() + 2);
                values.push(feature.fid().map_or(rusqlite::types::Value::Null, |f| {
                    rusqlite::types::Value::Integer(f as i64)
                }));
                values
                    .push(blob.map_or(rusqlite::types::Value::Null, rusqlite::types::Value::Blob));
                for k in 0..fields.len() {
                    let value = feature
                        .field(k)
                        .map_err(|e| format!("layer '{name}': {e}"))?;
                    values.push(sql_value(value));
                }
                insert
                    .execute(rusqlite::params_from_iter(values))
                    .map_err(|e| format!("layer '{name}': {e}"))?;
            }
        }
        let geometry_type = layer
            .defn()
            .geom_fields()
            .next()
            .map_or("GEOMETRY", |g| geometry_type_name(g.field_type()));
        let [min_x, min_y, max_x, max_y] = extent.map_or([None; 4], |e| e.map(Some));
        tx.execute(
            "INSERT INTO gpkg_contents (table_name, data_type, identifier, min_x, min_y, max_x, max_y, srs_id)
             VALUES (?1, 'features', ?1, ?2, ?3, ?4, ?5, ?6)",
            params![name, min_x, min_y, max_x, max_y, srs_id],
        )
        .map_err(|e| e.to_string())?;
        tx.execute(
            "INSERT INTO gpkg_geometry_columns VALUES (?1, 'geom', ?2, ?3, 0, 0)",
            params![name, geometry_type, srs_id],
        )
        .map_err(|e| e.to_string())?;
        tx.commit().map_err(|e| e.to_string())?;
        copied += 1;
    }
    Ok(copied)
}

/// A GeoPackage geometry blob: header (little-endian, no envelope) + WKB.
fn gpkg_blob(wkb: &[u8], srs_id: i32) -> Vec<u8> {
    let mut blob = Vec::with_capacity(wkb.len() + 8);
    blob.extend_from_slice(b"GP");
    blob.push(0); // version
    blob.push(0b0000_0001); // little-endian, no envelope, not empty
    blob.extend_from_slice(&srs_id.to_le_bytes());
    blob.extend_from_slice(wkb);
    blob
}

/// The GeoPackage name of an OGR geometry type (Z/M variants as their 2D type: the stored
/// geometries are 2D). Shapefiles declare polygons holding multipolygons: the generic
/// `GEOMETRY` is kept for anything but points.
fn geometry_type_name(ty: gdal::vector::OGRwkbGeometryType::Type) -> &'static str {
    use gdal::vector::OGRwkbGeometryType as G;
    match ty {
        G::wkbPoint | G::wkbPoint25D | G::wkbPointM | G::wkbPointZM => "POINT",
        _ => "GEOMETRY",
    }
}

fn sql_type(ty: OGRFieldType::Type) -> &'static str {
    match ty {
        OGRFieldType::OFTInteger | OGRFieldType::OFTInteger64 => "INTEGER",
        OGRFieldType::OFTReal => "REAL",
        OGRFieldType::OFTDate => "DATE",
        OGRFieldType::OFTDateTime => "DATETIME",
        OGRFieldType::OFTBinary => "BLOB",
        _ => "TEXT",
    }
}

fn sql_value(value: Option<FieldValue>) -> rusqlite::types::Value {
    use rusqlite::types::Value;
    let json = |v: serde_json::Value| Value::Text(v.to_string());
    match value {
        None => Value::Null,
        Some(FieldValue::IntegerValue(i)) => Value::Integer(i64::from(i)),
        Some(FieldValue::Integer64Value(i)) => Value::Integer(i),
        Some(FieldValue::RealValue(r)) => Value::Real(r),
        Some(FieldValue::StringValue(s)) => Value::Text(s),
        // chrono's Display of a date and Debug of a date-time are ISO 8601.
        Some(FieldValue::DateValue(d)) => Value::Text(d.to_string()),
        Some(FieldValue::DateTimeValue(d)) => Value::Text(format!("{d:?}")),
        Some(FieldValue::IntegerListValue(l)) => json(l.into()),
        Some(FieldValue::Integer64ListValue(l)) => json(l.into()),
        Some(FieldValue::RealListValue(l)) => json(l.into()),
        Some(FieldValue::StringListValue(l)) => json(l.into()),
    }
}

fn quote(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}
