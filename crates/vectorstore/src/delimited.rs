//! CSV without GDAL, as GDAL's CSV driver reads it and producers write it: geometries in a WKT
//! column (`WKT`, `geom`, `geometry`, `the_geom`, `wkt_geom`) or as points from x/y columns
//! (`x`/`y`, `lon`/`lat`, `lng`/`lat`, `longitude`/`latitude`, `easting`/`northing`); column
//! types from a `.csvt` beside the file (`Integer`, `Real`, `String`, `Date`, `DateTime`,
//! `Boolean`, `WKT`, `CoordX`, `CoordY`…), else guessed from the values — integers, reals, else
//! text, and a value with a leading zero (`01004`, an INSEE code) keeps the column text. The
//! delimiter is the header's most frequent of `,` `;` tab; UTF-8 (a BOM is skipped), else
//! Windows-1252; the CRS from a `.prj` beside it, else the upload's declared one. Copied into a
//! GeoPackage of one table named after the file, then checked and integrated as one.

use std::path::Path;

use wkt::TryFromWkt as _;

use crate::table_copy::{Converted, TableCopy};
use crate::value::{AttributeType, Value};

/// Whether `path` names a CSV file.
pub(crate) fn is_csv(path: &Path) -> bool {
    path.extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("csv"))
}

/// Where a row's geometry is.
enum GeometryColumns {
    Wkt(usize),
    Point(usize, usize),
}

/// Copies the CSV `path` into a new GeoPackage at `output` (one table named after the file).
pub(crate) fn convert(path: &Path, output: &Path) -> Result<Converted, String> {
    let name = path
        .file_name()
        .map_or_else(String::new, |f| f.to_string_lossy().into_owned());
    let table = path
        .file_stem()
        .map_or_else(|| "data".to_owned(), |s| s.to_string_lossy().into_owned());
    let bytes = std::fs::read(path).map_err(|e| format!("cannot read '{name}': {e}"))?;
    let (text, windows_1252) = decode(&bytes);
    let delimiter = delimiter(text.lines().next().unwrap_or(""));
    let mut reader = csv::ReaderBuilder::new()
        .delimiter(delimiter)
        .flexible(false)
        .from_reader(text.as_bytes());
    let header: Vec<String> = reader
        .headers()
        .map_err(|e| format!("'{name}' has no readable header line: {e}"))?
        .iter()
        .map(|h| h.trim().to_owned())
        .collect();
    let mut rows = Vec::new();
    for (line, record) in (2_u64..).zip(reader.records()) {
        let record = record.map_err(|e| format!("'{name}', line {line}: {e}"))?;
        rows.push(record.iter().map(str::to_owned).collect::<Vec<_>>());
    }
    let declared = declared_types(path, header.len())?;
    let geometry = geometry_columns(&header, declared.as_deref()).ok_or_else(|| {
        format!(
            "'{name}' has no geometry: name a column WKT (or geom, geometry) holding WKT, or two \
             columns x and y (or lon and lat, longitude and latitude), or type them WKT, CoordX \
             and CoordY in a {table}.csvt beside it"
        )
    })?;
    let geometry_indices: Vec<usize> = match geometry {
        GeometryColumns::Wkt(k) => vec![k],
        GeometryColumns::Point(x, y) => vec![x, y],
    };
    let columns: Vec<(usize, String, AttributeType)> = header
        .iter()
        .enumerate()
        .filter(|(k, _)| !geometry_indices.contains(k))
        .map(|(k, h)| {
            let kind = declared
                .as_ref()
                .and_then(|types| declared_type(types.get(k)?))
                .unwrap_or_else(|| guess(rows.iter().map(|r| r[k].as_str())));
            (k, h.clone(), kind)
        })
        .collect();

    let prj = ["prj", "PRJ"]
        .iter()
        .map(|e| path.with_extension(e))
        .find(|p| p.is_file())
        .and_then(|p| std::fs::read_to_string(p).ok());
    let epsg = prj.as_deref().and_then(crate::table_copy::prj_epsg);
    let mut geometries = Vec::with_capacity(rows.len());
    for (line, row) in (2_u64..).zip(&rows) {
        let geometry = match geometry {
            GeometryColumns::Wkt(k) if row[k].trim().is_empty() => None,
            GeometryColumns::Wkt(k) => Some(
                geo_types::Geometry::<f64>::try_from_wkt_str(row[k].trim())
                    .map_err(|e| format!("'{name}', line {line}: not a WKT geometry ({e})"))?,
            ),
            GeometryColumns::Point(x, y)
                if row[x].trim().is_empty() && row[y].trim().is_empty() =>
            {
                None
            }
            GeometryColumns::Point(x, y) => {
                let number = |k: usize| {
                    parse_number(&row[k]).ok_or_else(|| {
                        format!(
                            "'{name}', line {line}: '{}' is not a coordinate ({})",
                            row[k], header[k]
                        )
                    })
                };
                Some(geo_types::Geometry::Point(geo_types::Point::new(
                    number(x)?,
                    number(y)?,
                )))
            }
        };
        geometries.push(geometry);
    }
    let geometry_type = match geometry {
        GeometryColumns::Point(..) => "POINT",
        GeometryColumns::Wkt(_) => "GEOMETRY",
    };

    // An unrecognised .prj is left out: the declared CRS is used, with a warning.
    let code = epsg.map(|c| format!("EPSG:{c}")).unwrap_or_default();
    let srs = epsg
        .zip(prj.as_deref())
        .map(|(c, wkt)| (i64::from(c), code.as_str(), wkt.trim()));
    let attributes: Vec<(String, AttributeType)> =
        columns.iter().map(|(_, h, t)| (h.clone(), *t)).collect();
    let mut copy = TableCopy::create(output, &table, geometry_type, srs, &attributes)?;
    for ((fid, row), geometry) in (1_i64..).zip(&rows).zip(&geometries) {
        let values: Vec<Value> = columns
            .iter()
            .map(|(k, _, kind)| value(&row[*k], *kind))
            .collect();
        copy.add(fid, geometry.as_ref(), &values)?;
    }
    copy.finish()?;
    Ok(Converted {
        has_prj: srs.is_some(),
        encoding_note: windows_1252
            .then_some("is not UTF-8: it was read as Windows-1252 (Latin-1)"),
    })
}

/// The text: UTF-8 without its BOM, else Windows-1252 (`true`).
fn decode(bytes: &[u8]) -> (String, bool) {
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    if let Ok(text) = std::str::from_utf8(bytes) {
        (text.to_owned(), false)
    } else {
        let (text, _, _) = encoding_rs::WINDOWS_1252.decode(bytes);
        (text.into_owned(), true)
    }
}

/// The header's most frequent of `,` `;` and tab (`,` on a tie or none).
fn delimiter(header: &str) -> u8 {
    let count = |c: char| header.matches(c).count();
    [(b';', count(';')), (b'\t', count('\t'))]
        .into_iter()
        .filter(|(_, n)| *n > count(','))
        .max_by_key(|(_, n)| *n)
        .map_or(b',', |(d, _)| d)
}

/// The type names a `.csvt` beside `path` declares, lower-cased (`None` without a `.csvt`).
fn declared_types(path: &Path, columns: usize) -> Result<Option<Vec<String>>, String> {
    let Some(text) = ["csvt", "CSVT"]
        .iter()
        .map(|e| path.with_extension(e))
        .find(|p| p.is_file())
        .and_then(|p| std::fs::read_to_string(p).ok())
    else {
        return Ok(None);
    };
    let names: Vec<String> = text
        .trim()
        .split(',')
        .map(|t| t.trim().trim_matches('"').to_ascii_lowercase())
        .collect();
    if names.len() != columns {
        return Err(format!(
            "the .csvt types {} columns where the CSV has {columns}",
            names.len()
        ));
    }
    Ok(Some(names))
}

/// The attribute type a `.csvt` name declares (`None`: a geometry's or one we do not know).
fn declared_type(name: &str) -> Option<AttributeType> {
    // `Integer(Boolean)`, `String(20)`, `Real(10.2)`: the width does not matter.
    let base = name.split('(').next().unwrap_or("");
    match base {
        "integer" | "integer64" if name.contains("boolean") => Some(AttributeType::Boolean),
        "integer" | "integer64" => Some(AttributeType::Integer),
        "real" => Some(AttributeType::Real),
        "date" => Some(AttributeType::Date),
        "datetime" => Some(AttributeType::DateTime),
        "boolean" => Some(AttributeType::Boolean),
        "string" | "time" => Some(AttributeType::Text),
        _ => None,
    }
}

/// The geometry's columns: typed `WKT` / `CoordX`+`CoordY` in the `.csvt`, else by name.
fn geometry_columns(header: &[String], declared: Option<&[String]>) -> Option<GeometryColumns> {
    if let Some(types) = declared {
        let typed = |names: &[&str]| types.iter().position(|t| names.contains(&t.as_str()));
        if let Some(k) = typed(&["wkt"]) {
            return Some(GeometryColumns::Wkt(k));
        }
        if let (Some(x), Some(y)) = (
            typed(&["coordx", "point(x)"]),
            typed(&["coordy", "point(y)"]),
        ) {
            return Some(GeometryColumns::Point(x, y));
        }
    }
    let find = |names: &[&str]| {
        header
            .iter()
            .position(|h| names.iter().any(|n| h.eq_ignore_ascii_case(n)))
    };
    if let Some(k) = find(&["wkt", "geom", "geometry", "the_geom", "wkt_geom"]) {
        return Some(GeometryColumns::Wkt(k));
    }
    for (x, y) in [
        (&["x"][..], &["y"][..]),
        (
            &["lon", "lng", "long", "longitude"][..],
            &["lat", "latitude"][..],
        ),
        (&["easting"][..], &["northing"][..]),
    ] {
        if let (Some(x), Some(y)) = (find(x), find(y)) {
            return Some(GeometryColumns::Point(x, y));
        }
    }
    None
}

/// A number as producers write them: `1.5`, or `1,5` in a `;`-delimited French file.
fn parse_number(text: &str) -> Option<f64> {
    let text = text.trim();
    text.parse::<f64>()
        .ok()
        .or_else(|| text.replace(',', ".").parse::<f64>().ok())
        .filter(|v| v.is_finite())
}

/// The type of a column from its values: integers, reals, else text; empty values say nothing,
/// and a leading zero (`01004`) keeps the column text.
fn guess<'a>(values: impl Iterator<Item = &'a str>) -> AttributeType {
    let mut kind = None;
    for value in values.map(str::trim).filter(|v| !v.is_empty()) {
        let leading_zero = value.len() > 1
            && value.starts_with('0')
            && !value.starts_with("0.")
            && !value.starts_with("0,");
        let this = if leading_zero {
            AttributeType::Text
        } else if value.parse::<i64>().is_ok() {
            AttributeType::Integer
        } else if parse_number(value).is_some() {
            AttributeType::Real
        } else {
            AttributeType::Text
        };
        kind = Some(match (kind, this) {
            (None, t) => t,
            (Some(AttributeType::Text), _) | (_, AttributeType::Text) => AttributeType::Text,
            (Some(AttributeType::Real), _) | (_, AttributeType::Real) => AttributeType::Real,
            (Some(k), _) => k,
        });
    }
    kind.unwrap_or(AttributeType::Text)
}

fn value(text: &str, kind: AttributeType) -> Value {
    let trimmed = text.trim();
    if trimmed.is_empty() {
        return Value::Null;
    }
    match kind {
        AttributeType::Integer => trimmed
            .parse::<i64>()
            .map_or_else(|_| Value::Text(text.to_owned()), Value::Integer),
        AttributeType::Real => {
            parse_number(trimmed).map_or_else(|| Value::Text(text.to_owned()), Value::Real)
        }
        AttributeType::Boolean => match trimmed.to_ascii_lowercase().as_str() {
            "1" | "true" | "t" | "yes" | "y" | "oui" | "vrai" => Value::Bool(true),
            "0" | "false" | "f" | "no" | "n" | "non" | "faux" => Value::Bool(false),
            _ => Value::Text(text.to_owned()),
        },
        _ => Value::Text(text.to_owned()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn types_are_guessed_and_codes_with_leading_zeros_stay_text() {
        assert_eq!(guess(["1", "", "-3"].into_iter()), AttributeType::Integer);
        assert_eq!(guess(["1", "2.5"].into_iter()), AttributeType::Real);
        assert_eq!(guess(["1,5", "2"].into_iter()), AttributeType::Real);
        assert_eq!(guess(["01004", "75056"].into_iter()), AttributeType::Text);
        assert_eq!(guess(["0.5", "0"].into_iter()), AttributeType::Real);
        assert_eq!(guess(["Paris", "3"].into_iter()), AttributeType::Text);
        assert_eq!(guess(std::iter::empty()), AttributeType::Text);
    }

    #[test]
    fn the_delimiter_is_the_headers_most_frequent() {
        assert_eq!(delimiter("a,b,c"), b',');
        assert_eq!(delimiter("a;b;c"), b';');
        assert_eq!(delimiter("nom;x;y;\"a,b\""), b';');
        assert_eq!(delimiter("a\tb\tc"), b'\t');
        assert_eq!(delimiter("single"), b',');
    }
}
