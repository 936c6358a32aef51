//! Reading a producer's GeoPackage with rusqlite.
//!
//! The file is untrusted: it is opened read-only and immutable (nothing is ever written beside
//! an upload, no `-wal` or `-shm` appears), with `trusted_schema` off so that a crafted view or
//! trigger cannot call functions, and with cell size checks on. Layers are the `features` rows
//! of `gpkg_contents` joined with `gpkg_geometry_columns`; their CRS comes from
//! `gpkg_spatial_ref_sys` (see [`crate::SrsDetection`]).

use std::path::{Path, PathBuf};

use rusqlite::{Connection, OpenFlags, OptionalExtension};

use crate::srs::{self, SrsDetection};
use crate::value::{AttributeType, Value};
use crate::VectorError;

/// SQLite files start with these 16 bytes.
pub(crate) const SQLITE_MAGIC: &[u8; 16] = b"SQLite format 3\0";

/// The `application_id` of GeoPackage 1.2 and later (`GPKG`).
pub(crate) const GPKG_APPLICATION_ID: i32 = 0x4750_4B47;

/// An open GeoPackage, read-only.
#[derive(Debug)]
pub struct GeoPackage {
    conn: Connection,
    path: PathBuf,
}

/// An attribute column of a source layer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceAttribute {
    /// The column name as written in the file.
    pub name: String,
    /// The declared SQL type, as written.
    pub declared: String,
    /// The type it maps to.
    pub ty: AttributeType,
}

/// A feature layer of a GeoPackage, as its tables describe it.
#[derive(Debug, Clone, PartialEq)]
pub struct SourceLayer {
    /// `gpkg_contents.table_name`.
    pub table: String,
    /// The geometry column (`gpkg_geometry_columns.column_name`).
    pub geometry_column: String,
    /// The declared geometry type name (`MULTIPOLYGON`, `GEOMETRY`…).
    pub geometry_type: String,
    /// Whether Z is declared (0 prohibited, 1 mandatory, 2 optional).
    pub z: i64,
    /// Whether M is declared (same values).
    pub m: i64,
    /// `srs_id` of the geometry column.
    pub srs_id: i64,
    /// The detected CRS.
    pub srs: SrsDetection,
    /// The `definition` (WKT) of the SRS row, if any.
    pub srs_definition: Option<String>,
    /// The integer primary key column (the feature id), `None` when the table uses its rowid.
    pub primary_key: Option<String>,
    /// Attribute columns in table order (neither the key nor the geometry).
    pub attributes: Vec<SourceAttribute>,
}

/// One feature as read from the file: its id, raw geometry blob and attribute values.
#[derive(Debug)]
pub struct RawFeature<'a> {
    /// The feature id (primary key or rowid).
    pub fid: i64,
    /// The geometry blob, `None` for a NULL geometry.
    pub blob: Option<&'a [u8]>,
    /// Attribute values, in the order of [`SourceLayer::attributes`].
    pub values: Vec<Value>,
}

/// Quotes an SQL identifier.
pub(crate) fn quote(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

impl GeoPackage {
    /// Opens a file read-only. Fails when it is not an SQLite database; whether it is a
    /// GeoPackage is for [`crate::check`] to say.
    pub fn open(path: &Path) -> Result<GeoPackage, VectorError> {
        let io = |source| VectorError::Io {
            path: path.to_owned(),
            source,
        };
        let mut head = [0u8; 16];
        let mut file = std::fs::File::open(path).map_err(io)?;
        let read = std::io::Read::read(&mut file, &mut head).map_err(io)?;
        if read < 16 || &head != SQLITE_MAGIC {
            return Err(VectorError::NotSqlite {
                path: path.to_owned(),
            });
        }
        let uri = format!("file:{}?immutable=1", uri_escape(&path.to_string_lossy()));
        let flags = OpenFlags::SQLITE_OPEN_READ_ONLY
            | OpenFlags::SQLITE_OPEN_URI
            | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let sqlite = |source| VectorError::Sqlite {
            path: path.to_owned(),
            source,
        };
        let conn = Connection::open_with_flags(uri, flags).map_err(sqlite)?;
        conn.execute_batch("PRAGMA trusted_schema = OFF; PRAGMA cell_size_check = ON;")
            .map_err(sqlite)?;
        Ok(GeoPackage {
            conn,
            path: path.to_owned(),
        })
    }

    /// The file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    pub(crate) fn sqlite_error(&self, source: rusqlite::Error) -> VectorError {
        VectorError::Sqlite {
            path: self.path.clone(),
            source,
        }
    }

    /// `PRAGMA integrity_check`: an empty list when the database is sound.
    pub fn integrity_problems(&self) -> Result<Vec<String>, VectorError> {
        let mut stmt = self
            .conn
            .prepare("PRAGMA integrity_check(20)")
            .map_err(|e| self.sqlite_error(e))?;
        let rows = stmt
            .query_map([], |row| row.get::<_, String>(0))
            .map_err(|e| self.sqlite_error(e))?;
        let mut problems = Vec::new();
        for row in rows {
            let line = row.map_err(|e| self.sqlite_error(e))?;
            if line != "ok" {
                problems.push(line);
            }
        }
        Ok(problems)
    }

    /// The `application_id` header field (`GPKG` = 0x47504B47 for GeoPackage 1.2+).
    pub fn application_id(&self) -> Result<i32, VectorError> {
        self.conn
            .query_row("PRAGMA application_id", [], |row| row.get(0))
            .map_err(|e| self.sqlite_error(e))
    }

    /// Whether a table (or view) of that name exists.
    pub fn has_table(&self, name: &str) -> Result<bool, VectorError> {
        self.conn
            .query_row(
                "SELECT count(*) FROM sqlite_master WHERE type IN ('table', 'view') AND name = ?1",
                [name],
                |row| row.get::<_, i64>(0),
            )
            .map(|n| n > 0)
            .map_err(|e| self.sqlite_error(e))
    }

    /// `features` rows of `gpkg_contents` that have no `gpkg_geometry_columns` row.
    pub fn layers_without_geometry_column(&self) -> Result<Vec<String>, VectorError> {
        let mut stmt = self
            .conn
            .prepare(
                "SELECT c.table_name FROM gpkg_contents c \
                 LEFT JOIN gpkg_geometry_columns g ON g.table_name = c.table_name \
                 WHERE lower(c.data_type) = 'features' AND g.table_name IS NULL ORDER BY 1",
            )
            .map_err(|e| self.sqlite_error(e))?;
        let names = stmt
            .query_map([], |row| row.get::<_, String>(0))
            .map_err(|e| self.sqlite_error(e))?
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| self.sqlite_error(e))?;
        Ok(names)
    }

    /// The feature layers, in `gpkg_contents` order of table name.
    pub fn layers(&self) -> Result<Vec<SourceLayer>, VectorError> {
        let mut stmt = self
            .conn
            .prepare(
                "SELECT c.table_name, g.column_name, g.geometry_type_name, g.srs_id, g.z, g.m \
                 FROM gpkg_contents c JOIN gpkg_geometry_columns g ON g.table_name = c.table_name \
                 WHERE lower(c.data_type) = 'features' ORDER BY c.table_name",
            )
            .map_err(|e| self.sqlite_error(e))?;
        let rows = stmt
            .query_map([], |row| {
                Ok((
                    row.get::<_, String>(0)?,
                    row.get::<_, String>(1)?,
                    row.get::<_, String>(2)?,
                    row.get::<_, i64>(3)?,
                    row.get::<_, Option<i64>>(4)?.unwrap_or(2),
                    row.get::<_, Option<i64>>(5)?.unwrap_or(2),
                ))
            })
            .map_err(|e| self.sqlite_error(e))?
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| self.sqlite_error(e))?;
        let mut layers = Vec::with_capacity(rows.len());
        for (table, geometry_column, geometry_type, srs_id, z, m) in rows {
            let (srs, srs_definition) = self.srs(srs_id)?;
            let (primary_key, attributes) = self.columns(&table, &geometry_column)?;
            layers.push(SourceLayer {
                table,
                geometry_column,
                geometry_type,
                z,
                m,
                srs_id,
                srs,
                srs_definition,
                primary_key,
                attributes,
            });
        }
        Ok(layers)
    }

    fn srs(&self, srs_id: i64) -> Result<(SrsDetection, Option<String>), VectorError> {
        let row = self
            .conn
            .query_row(
                "SELECT organization, organization_coordsys_id, definition \
                 FROM gpkg_spatial_ref_sys WHERE srs_id = ?1",
                [srs_id],
                |row| {
                    Ok((
                        row.get::<_, Option<String>>(0)?,
                        row.get::<_, Option<i64>>(1)?,
                        row.get::<_, Option<String>>(2)?,
                    ))
                },
            )
            .optional()
            .map_err(|e| self.sqlite_error(e))?;
        Ok(match row {
            None => (SrsDetection::MissingRow(srs_id), None),
            Some((org, code, definition)) => (
                srs::detect(srs_id, org.as_deref(), code, definition.as_deref()),
                definition,
            ),
        })
    }

    fn columns(
        &self,
        table: &str,
        geometry_column: &str,
    ) -> Result<(Option<String>, Vec<SourceAttribute>), VectorError> {
        let mut stmt = self
            .conn
            .prepare(&format!("PRAGMA table_info({})", quote(table)))
            .map_err(|e| self.sqlite_error(e))?;
        let columns = stmt
            .query_map([], |row| {
                Ok((
                    row.get::<_, String>(1)?,
                    row.get::<_, Option<String>>(2)?.unwrap_or_default(),
                    row.get::<_, i64>(5)?,
                ))
            })
            .map_err(|e| self.sqlite_error(e))?
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| self.sqlite_error(e))?;
        let pk_count = columns.iter().filter(|c| c.2 > 0).count();
        let mut primary_key = None;
        let mut attributes = Vec::new();
        for (name, declared, pk) in columns {
            if pk_count == 1
                && pk > 0
                && AttributeType::from_declared(&declared) == AttributeType::Integer
            {
                primary_key = Some(name);
            } else if !name.eq_ignore_ascii_case(geometry_column) {
                let ty = AttributeType::from_declared(&declared);
                attributes.push(SourceAttribute { name, declared, ty });
            }
        }
        Ok((primary_key, attributes))
    }

    /// The number of rows of a layer's table.
    pub fn count(&self, layer: &SourceLayer) -> Result<u64, VectorError> {
        self.conn
            .query_row(
                &format!("SELECT count(*) FROM {}", quote(&layer.table)),
                [],
                |row| row.get::<_, i64>(0),
            )
            .map(|n| n.max(0) as u64)
            .map_err(|e| self.sqlite_error(e))
    }

    /// Calls `f` for each feature of a layer, in feature id order, and stops at the first
    /// error: the outer `Err` is a read error of the file, the inner one is `f`'s.
    pub fn for_each_feature<F, E>(
        &self,
        layer: &SourceLayer,
        mut f: F,
    ) -> Result<Result<(), E>, VectorError>
    where
        F: FnMut(RawFeature<'_>) -> Result<(), E>,
    {
        let fid = layer
            .primary_key
            .as_deref()
            .map_or_else(|| "rowid".to_owned(), quote);
        let mut columns = vec![fid.clone(), quote(&layer.geometry_column)];
        columns.extend(layer.attributes.iter().map(|a| quote(&a.name)));
        let sql = format!(
            "SELECT {} FROM {} ORDER BY {fid}",
            columns.join(", "),
            quote(&layer.table)
        );
        let mut stmt = self.conn.prepare(&sql).map_err(|e| self.sqlite_error(e))?;
        let mut rows = stmt.query([]).map_err(|e| self.sqlite_error(e))?;
        while let Some(row) = rows.next().map_err(|e| self.sqlite_error(e))? {
            let fid: i64 = row.get(0).map_err(|e| self.sqlite_error(e))?;
            let geometry = row.get_ref(1).map_err(|e| self.sqlite_error(e))?;
            let blob = match geometry {
                rusqlite::types::ValueRef::Blob(b) => Some(b),
                rusqlite::types::ValueRef::Text(t) => Some(t),
                _ => None,
            };
            let mut values = Vec::with_capacity(layer.attributes.len());
            for (i, attribute) in layer.attributes.iter().enumerate() {
                let value = row.get_ref(i + 2).map_err(|e| self.sqlite_error(e))?;
                values.push(Value::from_sql(value, attribute.ty));
            }
            if let Err(e) = f(RawFeature { fid, blob, values }) {
                return Ok(Err(e));
            }
        }
        Ok(Ok(()))
    }
}

/// Escapes the characters that end or alter an SQLite URI filename.
fn uri_escape(path: &str) -> String {
    let mut out = String::with_capacity(path.len());
    for c in path.chars() {
        match c {
            '%' => out.push_str("%25"),
            '?' => out.push_str("%3f"),
            '#' => out.push_str("%23"),
            _ => out.push(c),
        }
    }
    out
}
