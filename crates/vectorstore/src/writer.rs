//! Writing the stored GeoPackage.
//!
//! The stored file is a plain GeoPackage 1.3 (GDAL 3.6 and QGIS open it) with one table per layer:
//! `fid INTEGER PRIMARY KEY`, `geom` (little-endian blobs with an xy envelope, 2D WKB) and the
//! normalised attribute columns, plus a `gpkg_rtree_index` R-tree per layer. It is written once
//! into a staging directory that is thrown away on failure, so it runs without a journal and
//! is fsynced at the end; the R-tree has no maintenance triggers because the file is never
//! edited after integration.

use std::path::{Path, PathBuf};

use rusqlite::Connection;

use crate::gpkg::{quote, GPKG_APPLICATION_ID};
use crate::value::{AttributeType, Value};
use crate::VectorError;

pub(crate) struct StoreWriter {
    conn: Connection,
    path: PathBuf,
    layer: Option<String>,
}

impl std::fmt::Debug for StoreWriter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StoreWriter")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

const SCHEMA: &str = "
PRAGMA journal_mode = OFF;
PRAGMA synchronous = OFF;
BEGIN;
CREATE TABLE gpkg_spatial_ref_sys (
  srs_name TEXT NOT NULL, srs_id INTEGER PRIMARY KEY, organization TEXT NOT NULL,
  organization_coordsys_id INTEGER NOT NULL, definition TEXT NOT NULL, description TEXT);
CREATE TABLE gpkg_contents (
  table_name TEXT NOT NULL PRIMARY KEY, data_type TEXT NOT NULL, identifier TEXT UNIQUE,
  description TEXT DEFAULT '', last_change DATETIME NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now')),
  min_x DOUBLE, min_y DOUBLE, max_x DOUBLE, max_y DOUBLE, srs_id INTEGER,
  CONSTRAINT fk_gc_r_srs_id FOREIGN KEY (srs_id) REFERENCES gpkg_spatial_ref_sys(srs_id));
CREATE TABLE gpkg_geometry_columns (
  table_name TEXT NOT NULL, column_name TEXT NOT NULL, geometry_type_name TEXT NOT NULL,
  srs_id INTEGER NOT NULL, z TINYINT NOT NULL, m TINYINT NOT NULL,
  CONSTRAINT pk_geom_cols PRIMARY KEY (table_name, column_name),
  CONSTRAINT fk_gc_tn FOREIGN KEY (table_name) REFERENCES gpkg_contents(table_name),
  CONSTRAINT fk_gc_srs FOREIGN KEY (srs_id) REFERENCES gpkg_spatial_ref_sys (srs_id));
CREATE TABLE gpkg_extensions (
  table_name TEXT, column_name TEXT, extension_name TEXT NOT NULL, definition TEXT NOT NULL,
  scope TEXT NOT NULL, CONSTRAINT ge_tce UNIQUE (table_name, column_name, extension_name));
INSERT INTO gpkg_spatial_ref_sys VALUES
  ('Undefined cartesian SRS', -1, 'NONE', -1, 'undefined', 'undefined cartesian coordinate reference system'),
  ('Undefined geographic SRS', 0, 'NONE', 0, 'undefined', 'undefined geographic coordinate reference system');
";

impl StoreWriter {
    /// Creates a new GeoPackage at `path` (which must not exist).
    pub(crate) fn create(path: &Path) -> Result<StoreWriter, VectorError> {
        let sqlite = |source| VectorError::Sqlite {
            path: path.to_owned(),
            source,
        };
        let conn = Connection::open(path).map_err(sqlite)?;
        conn.pragma_update(None, "application_id", GPKG_APPLICATION_ID)
            .map_err(sqlite)?;
        conn.pragma_update(None, "user_version", 10_300)
            .map_err(sqlite)?;
        conn.execute_batch(SCHEMA).map_err(sqlite)?;
        Ok(StoreWriter {
            conn,
            path: path.to_owned(),
            layer: None,
        })
    }

    fn err(&self, source: rusqlite::Error) -> VectorError {
        VectorError::Sqlite {
            path: self.path.clone(),
            source,
        }
    }

    /// Adds the SRS row for `srs_id` unless present.
    pub(crate) fn ensure_srs(
        &self,
        srs_id: i64,
        code: &str,
        name: &str,
        definition: &str,
    ) -> Result<(), VectorError> {
        let (org, org_id) = match code.split_once(':') {
            Some((org, id)) => (org.to_owned(), id.parse::<i64>().unwrap_or(srs_id)),
            None => ("NONE".to_owned(), srs_id),
        };
        self.conn
            .execute(
                "INSERT OR IGNORE INTO gpkg_spatial_ref_sys VALUES (?1, ?2, ?3, ?4, ?5, NULL)",
                rusqlite::params![name, srs_id, org, org_id, definition],
            )
            .map(|_| ())
            .map_err(|e| self.err(e))
    }

    /// Creates a layer table and its R-tree.
    pub(crate) fn begin_layer(
        &mut self,
        name: &str,
        geometry_type: &str,
        srs_id: i64,
        attributes: &[(String, AttributeType)],
    ) -> Result<(), VectorError> {
        let mut columns = vec![
            "fid INTEGER PRIMARY KEY".to_owned(),
            format!("geom {geometry_type}"),
        ];
        columns.extend(
            attributes
                .iter()
                .map(|(n, t)| format!("{} {}", quote(n), t.sql())),
        );
        let rtree = quote(&format!("rtree_{name}_geom"));
        let sql = format!(
            "CREATE TABLE {table} ({columns});
             CREATE VIRTUAL TABLE {rtree} USING rtree(id, minx, maxx, miny, maxy);",
            table = quote(name),
            columns = columns.join(", ")
        );
        self.conn.execute_batch(&sql).map_err(|e| self.err(e))?;
        self.conn
            .execute(
                "INSERT INTO gpkg_contents (table_name, data_type, identifier, srs_id) VALUES (?1, 'features', ?1, ?2)",
                rusqlite::params![name, srs_id],
            )
            .map_err(|e| self.err(e))?;
        self.conn
            .execute(
                "INSERT INTO gpkg_geometry_columns VALUES (?1, 'geom', ?2, ?3, 0, 0)",
                rusqlite::params![name, geometry_type, srs_id],
            )
            .map_err(|e| self.err(e))?;
        self.conn
            .execute(
                "INSERT INTO gpkg_extensions VALUES (?1, 'geom', 'gpkg_rtree_index', \
                 'http://www.geopackage.org/spec120/#extension_rtree', 'write-only')",
                [name],
            )
            .map_err(|e| self.err(e))?;
        self.layer = Some(name.to_owned());
        Ok(())
    }

    /// Inserts one feature of the current layer.
    pub(crate) fn insert(
        &self,
        fid: i64,
        blob: Option<&[u8]>,
        envelope: Option<[f64; 4]>,
        values: &[Value],
    ) -> Result<(), VectorError> {
        let Some(layer) = &self.layer else {
            return Ok(());
        };
        let placeholders: Vec<String> = (1..=values.len() + 2).map(|i| format!("?{i}")).collect();
        let mut stmt = self
            .conn
            .prepare_cached(&format!(
                "INSERT INTO {} VALUES ({})",
                quote(layer),
                placeholders.join(", ")
            ))
            .map_err(|e| self.err(e))?;
        let mut params: Vec<&dyn rusqlite::ToSql> = Vec::with_capacity(values.len() + 2);
        params.push(&fid);
        params.push(&blob);
        params.extend(values.iter().map(|v| v as &dyn rusqlite::ToSql));
        stmt.execute(params.as_slice()).map_err(|e| self.err(e))?;
        if let Some([min_x, min_y, max_x, max_y]) = envelope {
            let mut rtree = self
                .conn
                .prepare_cached(&format!(
                    "INSERT INTO {} VALUES (?1, ?2, ?3, ?4, ?5)",
                    quote(&format!("rtree_{layer}_geom"))
                ))
                .map_err(|e| self.err(e))?;
            rtree
                .execute(rusqlite::params![fid, min_x, max_x, min_y, max_y])
                .map_err(|e| self.err(e))?;
        }
        Ok(())
    }

    /// Records the layer's extent.
    pub(crate) fn end_layer(&mut self, bbox: Option<[f64; 4]>) -> Result<(), VectorError> {
        if let (Some(layer), Some([min_x, min_y, max_x, max_y])) = (&self.layer, bbox) {
            self.conn
                .execute(
                    "UPDATE gpkg_contents SET min_x = ?2, min_y = ?3, max_x = ?4, max_y = ?5 WHERE table_name = ?1",
                    rusqlite::params![layer, min_x, min_y, max_x, max_y],
                )
                .map_err(|e| self.err(e))?;
        }
        self.layer = None;
        Ok(())
    }

    /// Commits, closes and fsyncs the file.
    pub(crate) fn finish(self) -> Result<(), VectorError> {
        self.conn
            .execute_batch("COMMIT;")
            .map_err(|e| self.err(e))?;
        let path = self.path.clone();
        self.conn
            .close()
            .map_err(|(_, source)| VectorError::Sqlite {
                path: path.clone(),
                source,
            })?;
        crate::fsutil::sync_file(&path)
    }
}
