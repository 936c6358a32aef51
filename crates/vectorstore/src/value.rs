//! Attribute types and values.
//!
//! GeoPackage columns declare a type (`INTEGER`, `TEXT(80)`, `DOUBLE`, `BOOLEAN`, `DATETIME`…)
//! but SQLite stores whatever it is given; the declared type decides how a value is shown (a
//! BOOLEAN stored as 1 is `true`) and what a style may compare it with.

use std::fmt;

/// The type of an attribute column, from its declared SQL type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AttributeType {
    /// `BOOLEAN`, stored as 0 or 1.
    Boolean,
    /// `INTEGER`, `INT`, `MEDIUMINT`, `SMALLINT`, `TINYINT`.
    Integer,
    /// `REAL`, `DOUBLE`, `FLOAT`, `NUMERIC`.
    Real,
    /// `TEXT`, `TEXT(n)` and anything unrecognised.
    Text,
    /// `DATE` (ISO 8601 text).
    Date,
    /// `DATETIME` (ISO 8601 text).
    DateTime,
    /// `BLOB`, `BLOB(n)`, or a second geometry column.
    Blob,
}

impl AttributeType {
    /// The type of a declared SQL type.
    pub fn from_declared(declared: &str) -> AttributeType {
        let upper = declared.trim().to_ascii_uppercase();
        let base = upper.split('(').next().unwrap_or("").trim();
        match base {
            "BOOLEAN" | "BOOL" => AttributeType::Boolean,
            "INTEGER" | "INT" | "MEDIUMINT" | "SMALLINT" | "TINYINT" | "BIGINT" | "INT64" => {
                AttributeType::Integer
            }
            "REAL" | "DOUBLE" | "FLOAT" | "NUMERIC" | "DECIMAL" | "DOUBLE PRECISION" => {
                AttributeType::Real
            }
            "DATE" => AttributeType::Date,
            "DATETIME" | "TIMESTAMP" => AttributeType::DateTime,
            "BLOB" | "GEOMETRY" | "POINT" | "LINESTRING" | "POLYGON" | "MULTIPOINT"
            | "MULTILINESTRING" | "MULTIPOLYGON" | "GEOMETRYCOLLECTION" => AttributeType::Blob,
            _ => AttributeType::Text,
        }
    }

    /// The SQL type written in the stored table.
    pub fn sql(self) -> &'static str {
        match self {
            AttributeType::Boolean => "BOOLEAN",
            AttributeType::Integer => "INTEGER",
            AttributeType::Real => "REAL",
            AttributeType::Text => "TEXT",
            AttributeType::Date => "DATE",
            AttributeType::DateTime => "DATETIME",
            AttributeType::Blob => "BLOB",
        }
    }
}

/// One attribute value.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(untagged)]
pub enum Value {
    /// SQL NULL.
    Null,
    /// A BOOLEAN column's value.
    Bool(bool),
    /// An integer.
    Integer(i64),
    /// A floating-point number.
    Real(f64),
    /// Text (also dates and date-times).
    Text(String),
    /// Bytes.
    Blob(Vec<u8>),
}

impl Value {
    /// Reads an SQLite value, shaped by the column's declared type.
    pub(crate) fn from_sql(value: rusqlite::types::ValueRef<'_>, ty: AttributeType) -> Value {
        use rusqlite::types::ValueRef;
        match value {
            ValueRef::Null => Value::Null,
            ValueRef::Integer(i) if ty == AttributeType::Boolean => Value::Bool(i != 0),
            ValueRef::Integer(i) if ty == AttributeType::Real => Value::Real(i as f64),
            ValueRef::Integer(i) => Value::Integer(i),
            ValueRef::Real(r) => Value::Real(r),
            ValueRef::Text(t) => Value::Text(String::from_utf8_lossy(t).into_owned()),
            ValueRef::Blob(b) => Value::Blob(b.to_vec()),
        }
    }

    pub(crate) fn to_sql(&self) -> rusqlite::types::ToSqlOutput<'_> {
        use rusqlite::types::{ToSqlOutput, ValueRef};
        ToSqlOutput::Borrowed(match self {
            Value::Null => ValueRef::Null,
            Value::Bool(b) => ValueRef::Integer(i64::from(*b)),
            Value::Integer(i) => ValueRef::Integer(*i),
            Value::Real(r) => ValueRef::Real(*r),
            Value::Text(t) => ValueRef::Text(t.as_bytes()),
            Value::Blob(b) => ValueRef::Blob(b),
        })
    }
}

impl rusqlite::ToSql for Value {
    fn to_sql(&self) -> rusqlite::Result<rusqlite::types::ToSqlOutput<'_>> {
        Ok(Value::to_sql(self))
    }
}

impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Null => Ok(()),
            Value::Bool(b) => write!(f, "{b}"),
            Value::Integer(i) => write!(f, "{i}"),
            Value::Real(r) => write!(f, "{r}"),
            Value::Text(t) => f.write_str(t),
            Value::Blob(b) => write!(f, "<{} bytes>", b.len()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rusqlite::types::ValueRef;

    #[test]
    fn declared_types_map_to_attribute_types() {
        assert_eq!(
            AttributeType::from_declared("TEXT(80)"),
            AttributeType::Text
        );
        assert_eq!(
            AttributeType::from_declared("mediumint"),
            AttributeType::Integer
        );
        assert_eq!(AttributeType::from_declared("DOUBLE"), AttributeType::Real);
        assert_eq!(
            AttributeType::from_declared("BOOLEAN"),
            AttributeType::Boolean
        );
        assert_eq!(
            AttributeType::from_declared("DATETIME"),
            AttributeType::DateTime
        );
        assert_eq!(AttributeType::from_declared("BLOB"), AttributeType::Blob);
        assert_eq!(AttributeType::from_declared(""), AttributeType::Text);
    }

    #[test]
    fn booleans_stored_as_integers_read_as_booleans() {
        assert_eq!(
            Value::from_sql(ValueRef::Integer(1), AttributeType::Boolean),
            Value::Bool(true)
        );
        assert_eq!(
            Value::from_sql(ValueRef::Integer(3), AttributeType::Real),
            Value::Real(3.0)
        );
        assert_eq!(serde_json::to_string(&Value::Null).expect("json"), "null");
    }
}
