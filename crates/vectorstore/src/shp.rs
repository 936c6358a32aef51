//! Shapefiles without GDAL: a `.shp` with its `.dbf` (attributes, in the encoding its `.cpg`
//! names), `.shx` (optional) and `.prj` (the CRS) is copied into a plain GeoPackage of one
//! table named after the file, which then goes through the very same checks and integration
//! as an uploaded GeoPackage — as the `ogr` module does for GDAL's formats. The Géoplateforme's
//! own SDK delivers vector data this way (`1_dataset_vector/CANTON/CANTON.shp`).
//!
//! Read with the `shapefile` crate (and its `dbase`); shapes become `geo-types` geometries
//! (polygon rings sorted into polygons and holes by their winding, Z and M dropped as the
//! GeoPackage reader drops them). dBase `N` columns are integers when they have no decimals
//! and fewer than 19 digits, reals otherwise — as GDAL reads them.

use std::io::BufReader;
use std::path::{Path, PathBuf};

use shapefile::dbase::{self, FieldType, FieldValue};
use shapefile::{Shape, ShapeType};

use crate::table_copy::{Converted, TableCopy};
use crate::value::{AttributeType, Value};

/// Whether `path` names a Shapefile's main file.
pub(crate) fn is_shapefile(path: &Path) -> bool {
    path.extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("shp"))
}

/// Copies the Shapefile `shp` into a new GeoPackage at `output` (one table, named after the
/// file). The error says what is missing or unreadable, naming the file as uploaded.
pub(crate) fn convert(shp: &Path, output: &Path) -> Result<Converted, String> {
    let name = file_name(shp);
    let table = shp
        .file_stem()
        .map_or_else(|| "data".to_owned(), |s| s.to_string_lossy().into_owned());
    let dbf = sidecar(shp, "dbf").ok_or_else(|| {
        format!("the Shapefile '{name}' comes without its .dbf (the attributes): upload {table}.dbf beside it")
    })?;
    let encoding = sidecar(shp, "cpg")
        .and_then(|path| std::fs::read_to_string(path).ok())
        .map(|text| text.trim().trim_start_matches('\u{feff}').to_owned())
        .filter(|text| !text.is_empty());
    let dynamic = encoding
        .as_deref()
        .map(|label| {
            dbase::encoding::DynEncoding::from_name(label).ok_or_else(|| {
                format!("'{table}.cpg' names the encoding '{label}', which is not known")
            })
        })
        .transpose()?;
    let prj = sidecar(shp, "prj").and_then(|path| std::fs::read_to_string(path).ok());

    let open_dbf = |dbf: &Path| -> Result<dbase::Reader<BufReader<std::fs::File>>, String> {
        let file = std::fs::File::open(dbf)
            .map_err(|e| format!("cannot read '{}': {e}", file_name(dbf)))?;
        let builder = match &dynamic {
            Some(encoding) => dbase::ReaderBuilder::new().with_encoding(encoding.clone()),
            None => dbase::ReaderBuilder::new().with_encoding(dbase::encoding::UnicodeLossy),
        };
        builder
            .build(BufReader::new(file))
            .map_err(|e| format!("'{}' is not a readable dBase file: {e}", file_name(dbf)))
    };

    // GDAL and others write a NULL date as "00000000", which `dbase` refuses: blanked first.
    let dbf = without_zero_dates(&dbf, &open_dbf(&dbf)?, output)
        .map_err(|e| format!("cannot read '{}': {e}", file_name(&dbf)))?;
    // The columns and their types (a numeric column's decimals are only in the header).
    let attributes = open_dbf(&dbf)?;
    let decimals =
        field_decimals(&dbf).map_err(|e| format!("cannot read '{}': {e}", file_name(&dbf)))?;
    let columns: Vec<(String, AttributeType)> = attributes
        .fields()
        .iter()
        .enumerate()
        .map(|(k, f)| {
            let integral = decimals.get(k).is_some_and(|d| *d == 0) && f.length() < 19;
            (f.name().to_owned(), column_type(f.field_type(), integral))
        })
        .collect();
    drop(attributes);

    // Shapes and records together, read in file order (the `.shx` is not needed then, and a
    // hostile one cannot point the reader anywhere), once every record has been checked to
    // hold what it claims: a few hundred bytes must not make the reader reserve gigabytes.
    check_records(shp).map_err(|reason| format!("'{name}' is damaged: {reason}"))?;
    let source = std::fs::File::open(shp).map_err(|e| format!("cannot read '{name}': {e}"))?;
    let shapes = shapefile::ShapeReader::new(BufReader::new(source))
        .map_err(|e| format!("'{name}' is not a readable Shapefile: {e}"))?;
    let geometry_type = geometry_type(shapes.header().shape_type)
        .ok_or_else(|| format!("'{name}' holds multipatches, which this server does not read"))?;
    let mut reader = shapefile::Reader::new(shapes, open_dbf(&dbf)?);
    // An unrecognised .prj is kept under a custom id: the SRS detection then says so.
    let prj = prj.as_deref().map(str::trim).filter(|wkt| !wkt.is_empty());
    let code = prj.and_then(crate::table_copy::prj_epsg);
    let epsg = code.map(|c| format!("EPSG:{c}")).unwrap_or_default();
    let srs = prj.map(|wkt| (code.map_or(100_000, i64::from), epsg.as_str(), wkt));
    let mut copy = TableCopy::create(output, &table, geometry_type, srs, &columns)?;
    for (fid, item) in (1_i64..).zip(reader.iter_shapes_and_records()) {
        let (shape, record) = item.map_err(|e| {
            format!("'{name}' is damaged at feature {fid} (its shape cannot be read: {e})")
        })?;
        let geometry = match shape {
            Shape::NullShape => None,
            shape => Some(
                geo_types::Geometry::<f64>::try_from(shape)
                    .map_err(|e| format!("'{name}', feature {fid}: {e}"))?,
            ),
        };
        let values: Vec<Value> = columns
            .iter()
            .map(|(field, kind)| value(record.get(field), *kind))
            .collect();
        copy.add(fid, geometry.as_ref(), &values)?;
    }
    copy.finish()?;
    Ok(Converted {
        has_prj: srs.is_some(),
        encoding_note: encoding
            .is_none()
            .then_some("has no .cpg: its attributes were read as UTF-8"),
    })
}

/// `dbf` itself when it has no date column; else a copy beside `output` whose all-zero dates
/// (a NULL date as GDAL writes it) are blank, which is how dBase says NULL.
fn without_zero_dates(
    dbf: &Path,
    table: &dbase::Reader<BufReader<std::fs::File>>,
    output: &Path,
) -> std::io::Result<PathBuf> {
    use std::io::{Read as _, Write as _};
    let mut dates = Vec::new();
    let mut offset = 1; // the deletion flag
    for field in table.fields() {
        if field.field_type() == FieldType::Date {
            dates.push((offset, usize::from(field.length())));
        }
        offset += usize::from(field.length());
    }
    if dates.is_empty() {
        return Ok(dbf.to_owned());
    }
    let header = table.header();
    let copy = output.with_extension("dbf");
    let mut source = BufReader::new(std::fs::File::open(dbf)?);
    let mut target = std::io::BufWriter::new(std::fs::File::create(&copy)?);
    let mut head = vec![0_u8; usize::from(header.offset_to_first_record)];
    source.read_exact(&mut head)?;
    target.write_all(&head)?;
    let mut record = vec![0_u8; usize::from(header.size_of_record).max(offset)];
    for _ in 0..header.num_records {
        source.read_exact(&mut record)?;
        for &(start, length) in &dates {
            let date = &mut record[start..start + length];
            if date.iter().all(|&b| b == b'0') {
                date.fill(b' ');
            }
        }
        target.write_all(&record)?;
    }
    // The end-of-file mark and anything after it, as they are.
    std::io::copy(&mut source, &mut target)?;
    target.flush()?;
    Ok(copy)
}

/// Checks that each record of a `.shp` lies inside the file and that its part and point counts
/// fit in its declared length (the reader reserves memory from those counts).
fn check_records(shp: &Path) -> Result<(), String> {
    let bytes = std::fs::read(shp).map_err(|e| e.to_string())?;
    let be = |at: usize| {
        bytes
            .get(at..at + 4)
            .map(|b| i64::from(i32::from_be_bytes([b[0], b[1], b[2], b[3]])))
    };
    let le = |at: usize| {
        bytes
            .get(at..at + 4)
            .map(|b| i64::from(i32::from_le_bytes([b[0], b[1], b[2], b[3]])))
    };
    if bytes.len() < 100 {
        return Err("shorter than a Shapefile header (100 bytes)".to_owned());
    }
    let mut at = 100_usize;
    let mut record = 0_u64;
    while at < bytes.len() {
        record += 1;
        let length = be(at + 4)
            .ok_or_else(|| format!("the file ends inside the header of record {record}"))?
            * 2;
        let content = at + 8;
        let fits = usize::try_from(length)
            .ok()
            .and_then(|l| content.checked_add(l))
            .is_some_and(|end| end <= bytes.len());
        if length < 4 || !fits {
            return Err(format!(
                "record {record} claims {length} bytes where the file has {} left",
                bytes.len().saturating_sub(content)
            ));
        }
        let needed = match le(content).unwrap_or(0) {
            // Polylines, polygons, multipatches: box, part and point counts, then the arrays.
            3 | 5 | 13 | 15 | 23 | 25 | 31 => match (le(content + 36), le(content + 40)) {
                (Some(parts), Some(points)) if parts >= 0 && points >= 0 => {
                    44 + 4 * parts + 16 * points
                }
                _ => i64::MAX,
            },
            // Multipoints: box and point count, then the points.
            8 | 18 | 28 => match le(content + 36) {
                Some(points) if points >= 0 => 40 + 16 * points,
                _ => i64::MAX,
            },
            _ => 4,
        };
        if needed > length {
            return Err(format!(
                "record {record} counts more parts or points than its {length} bytes can hold"
            ));
        }
        // Each part starts at a point index, in order, within the points.
        if matches!(le(content).unwrap_or(0), 3 | 5 | 13 | 15 | 23 | 25 | 31) {
            let (parts, points) = (le(content + 36).unwrap_or(0), le(content + 40).unwrap_or(0));
            let mut previous = 0;
            for part in 0..usize::try_from(parts).unwrap_or(0) {
                let start = le(content + 44 + 4 * part).unwrap_or(-1);
                if start < previous || start > points || (part == 0 && start != 0) {
                    return Err(format!(
                        "record {record}: part {part} starts at point {start}, outside its {points} points"
                    ));
                }
                previous = start;
            }
        }
        at = content + usize::try_from(length).unwrap_or(usize::MAX);
    }
    Ok(())
}

/// The decimal count of each field, from the dBase header (32-byte field descriptors after the
/// 32-byte file header, up to the 0x0D terminator; the count is the descriptor's byte 17).
fn field_decimals(dbf: &Path) -> std::io::Result<Vec<u8>> {
    use std::io::Read as _;
    let mut file = BufReader::new(std::fs::File::open(dbf)?);
    let mut head = [0_u8; 32];
    file.read_exact(&mut head)?;
    let mut decimals = Vec::new();
    let mut descriptor = [0_u8; 32];
    loop {
        file.read_exact(&mut descriptor[..1])?;
        if descriptor[0] == 0x0D {
            return Ok(decimals);
        }
        file.read_exact(&mut descriptor[1..])?;
        decimals.push(descriptor[17]);
    }
}

/// The file beside `shp` with the extension `extension`, in either case.
fn sidecar(shp: &Path, extension: &str) -> Option<PathBuf> {
    [extension.to_owned(), extension.to_ascii_uppercase()]
        .into_iter()
        .map(|e| shp.with_extension(e))
        .find(|p| p.is_file())
}

fn file_name(path: &Path) -> String {
    path.file_name()
        .map_or_else(String::new, |f| f.to_string_lossy().into_owned())
}

/// The GeoPackage geometry type of a Shapefile's shape type (`None`: multipatch).
fn geometry_type(kind: ShapeType) -> Option<&'static str> {
    match kind {
        ShapeType::Point | ShapeType::PointZ | ShapeType::PointM => Some("POINT"),
        ShapeType::Polyline | ShapeType::PolylineZ | ShapeType::PolylineM => {
            Some("MULTILINESTRING")
        }
        ShapeType::Polygon | ShapeType::PolygonZ | ShapeType::PolygonM => Some("MULTIPOLYGON"),
        ShapeType::Multipoint | ShapeType::MultipointZ | ShapeType::MultipointM => {
            Some("MULTIPOINT")
        }
        // A file of null shapes only: any type will do.
        ShapeType::NullShape => Some("GEOMETRY"),
        ShapeType::Multipatch => None,
    }
}

fn column_type(kind: FieldType, integral: bool) -> AttributeType {
    match kind {
        FieldType::Numeric if integral => AttributeType::Integer,
        FieldType::Integer => AttributeType::Integer,
        FieldType::Numeric | FieldType::Float | FieldType::Double | FieldType::Currency => {
            AttributeType::Real
        }
        FieldType::Logical => AttributeType::Boolean,
        FieldType::Date => AttributeType::Date,
        FieldType::DateTime => AttributeType::DateTime,
        FieldType::Character | FieldType::Memo => AttributeType::Text,
    }
}

fn value(field: Option<&FieldValue>, kind: AttributeType) -> Value {
    match field {
        None => Value::Null,
        Some(FieldValue::Character(text)) => text.clone().map_or(Value::Null, Value::Text),
        Some(FieldValue::Memo(text)) => Value::Text(text.clone()),
        Some(FieldValue::Numeric(number)) => match (number, kind) {
            (None, _) => Value::Null,
            #[allow(clippy::cast_possible_truncation)]
            (Some(v), AttributeType::Integer) => Value::Integer(*v as i64),
            (Some(v), _) => Value::Real(*v),
        },
        Some(FieldValue::Float(number)) => {
            number.map_or(Value::Null, |v| Value::Real(f64::from(v)))
        }
        Some(FieldValue::Integer(v)) => Value::Integer(i64::from(*v)),
        Some(FieldValue::Double(v) | FieldValue::Currency(v)) => Value::Real(*v),
        Some(FieldValue::Logical(v)) => v.map_or(Value::Null, Value::Bool),
        Some(FieldValue::Date(date)) => date.map_or(Value::Null, |d| {
            Value::Text(format!("{:04}-{:02}-{:02}", d.year(), d.month(), d.day()))
        }),
        Some(FieldValue::DateTime(moment)) => {
            let (d, t) = (moment.date(), moment.time());
            Value::Text(format!(
                "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z",
                d.year(),
                d.month(),
                d.day(),
                t.hours(),
                t.minutes(),
                t.seconds()
            ))
        }
    }
}
