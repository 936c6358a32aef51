//! GeoPackage geometry blobs: the binary header, WKB decoding into geo-types, and the checks
//! that geo-types would hide.
//!
//! A blob is `GP`, a version byte, a flags byte (empty flag, envelope kind 0–4, byte order), an
//! `srs_id`, an optional envelope (xy, xyz, xym or xyzm), then ISO WKB. Converting to geo-types
//! silently closes open rings and accepts two-point rings, so those defects are looked for on
//! the raw WKB first; Z and M are read and dropped, since the renderer draws in 2D.

use geo::{BoundingRect, CoordsIter, Validation};
use geo_traits::to_geo::ToGeoGeometry;
use geo_traits::{
    CoordTrait, GeometryCollectionTrait, GeometryTrait, GeometryType as Gt, LineStringTrait,
    MultiLineStringTrait, MultiPolygonTrait, PolygonTrait,
};
use geo_types::{Geometry, Rect};

/// The seven simple-feature geometry kinds the store handles.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum GeometryKind {
    /// `POINT`
    Point,
    /// `LINESTRING`
    LineString,
    /// `POLYGON`
    Polygon,
    /// `MULTIPOINT`
    MultiPoint,
    /// `MULTILINESTRING`
    MultiLineString,
    /// `MULTIPOLYGON`
    MultiPolygon,
    /// `GEOMETRYCOLLECTION`
    GeometryCollection,
}

impl GeometryKind {
    /// The GeoPackage spelling (`MULTIPOLYGON`…).
    pub fn name(self) -> &'static str {
        match self {
            GeometryKind::Point => "POINT",
            GeometryKind::LineString => "LINESTRING",
            GeometryKind::Polygon => "POLYGON",
            GeometryKind::MultiPoint => "MULTIPOINT",
            GeometryKind::MultiLineString => "MULTILINESTRING",
            GeometryKind::MultiPolygon => "MULTIPOLYGON",
            GeometryKind::GeometryCollection => "GEOMETRYCOLLECTION",
        }
    }

    /// The kind of a geo-types geometry (rects, lines and triangles count as their WKB form).
    pub fn of(geometry: &Geometry<f64>) -> GeometryKind {
        match geometry {
            Geometry::Point(_) => GeometryKind::Point,
            Geometry::Line(_) | Geometry::LineString(_) => GeometryKind::LineString,
            Geometry::Polygon(_) | Geometry::Rect(_) | Geometry::Triangle(_) => {
                GeometryKind::Polygon
            }
            Geometry::MultiPoint(_) => GeometryKind::MultiPoint,
            Geometry::MultiLineString(_) => GeometryKind::MultiLineString,
            Geometry::MultiPolygon(_) => GeometryKind::MultiPolygon,
            Geometry::GeometryCollection(_) => GeometryKind::GeometryCollection,
        }
    }

    fn multi_of(self) -> Option<GeometryKind> {
        match self {
            GeometryKind::Point => Some(GeometryKind::MultiPoint),
            GeometryKind::LineString => Some(GeometryKind::MultiLineString),
            GeometryKind::Polygon => Some(GeometryKind::MultiPolygon),
            _ => None,
        }
    }
}

/// What a geometry column declares (`gpkg_geometry_columns.geometry_type_name`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum DeclaredType {
    Any,
    Kind(GeometryKind),
}

impl DeclaredType {
    /// Parses a declared type; `None` for curve and surface types we do not handle.
    pub(crate) fn parse(name: &str) -> Option<DeclaredType> {
        Some(match name.trim().to_ascii_uppercase().as_str() {
            "GEOMETRY" => DeclaredType::Any,
            "POINT" => DeclaredType::Kind(GeometryKind::Point),
            "LINESTRING" => DeclaredType::Kind(GeometryKind::LineString),
            "POLYGON" => DeclaredType::Kind(GeometryKind::Polygon),
            "MULTIPOINT" => DeclaredType::Kind(GeometryKind::MultiPoint),
            "MULTILINESTRING" => DeclaredType::Kind(GeometryKind::MultiLineString),
            "MULTIPOLYGON" => DeclaredType::Kind(GeometryKind::MultiPolygon),
            "GEOMETRYCOLLECTION" => DeclaredType::Kind(GeometryKind::GeometryCollection),
            _ => return None,
        })
    }

    pub(crate) fn name(self) -> &'static str {
        match self {
            DeclaredType::Any => "GEOMETRY",
            DeclaredType::Kind(kind) => kind.name(),
        }
    }

    /// How a geometry of `actual` kind fits this declaration.
    pub(crate) fn fit(self, actual: GeometryKind) -> Fit {
        match self {
            DeclaredType::Any => Fit::Exact,
            DeclaredType::Kind(declared) if declared == actual => Fit::Exact,
            DeclaredType::Kind(GeometryKind::GeometryCollection)
                if matches!(
                    actual,
                    GeometryKind::MultiPoint
                        | GeometryKind::MultiLineString
                        | GeometryKind::MultiPolygon
                ) =>
            {
                Fit::Exact
            }
            DeclaredType::Kind(declared) if actual.multi_of() == Some(declared) => {
                Fit::SingleInMulti
            }
            DeclaredType::Kind(_) => Fit::Mismatch,
        }
    }
}

/// How a geometry fits its column's declared type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Fit {
    Exact,
    /// A `POLYGON` in a `MULTIPOLYGON` column: harmless, many writers do it.
    SingleInMulti,
    Mismatch,
}

/// Why a blob could not be read.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum BlobError {
    /// Fewer bytes than the header or the WKB needs.
    #[error("geometry blob is truncated ({len} bytes, header needs {needed})")]
    Truncated {
        /// Bytes in the blob.
        len: usize,
        /// Bytes the header announces.
        needed: usize,
    },
    /// The blob does not start with `GP`.
    #[error("geometry blob does not start with the GeoPackage magic 'GP'")]
    BadMagic,
    /// A version other than 0 (GeoPackage 1.x).
    #[error("geometry blob has version {0}, only version 0 (GeoPackage 1.x) exists")]
    BadVersion(u8),
    /// Envelope indicator 5–7.
    #[error("geometry blob has envelope kind {0}, valid kinds are 0 to 4")]
    BadEnvelope(u8),
    /// The extended geometry type flag (a GeoPackage extension we do not read).
    #[error("geometry blob uses an extended (non-standard) geometry type")]
    Extended,
    /// The WKB after the header is malformed or of an unsupported type (curves…).
    #[error("unreadable WKB: {0}")]
    Wkb(String),
}

/// The parsed GeoPackage binary header.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BlobHeader {
    /// Version byte (0).
    pub version: u8,
    /// The `srs_id` written in the blob.
    pub srs_id: i32,
    /// Envelope kind: 0 none, 1 xy, 2 xyz, 3 xym, 4 xyzm.
    pub envelope_kind: u8,
    /// The xy part of the envelope when there is one: `[min_x, min_y, max_x, max_y]`.
    pub envelope: Option<[f64; 4]>,
    /// The empty flag.
    pub empty: bool,
    /// Offset of the WKB in the blob.
    pub wkb_offset: usize,
}

/// Parses the header of a GeoPackage geometry blob.
pub fn parse_header(blob: &[u8]) -> Result<BlobHeader, BlobError> {
    if blob.len() < 8 {
        return Err(BlobError::Truncated {
            len: blob.len(),
            needed: 8,
        });
    }
    if &blob[0..2] != b"GP" {
        return Err(BlobError::BadMagic);
    }
    let version = blob[2];
    if version != 0 {
        return Err(BlobError::BadVersion(version));
    }
    let flags = blob[3];
    if flags & 0b0010_0000 != 0 {
        return Err(BlobError::Extended);
    }
    let empty = flags & 0b0001_0000 != 0;
    let envelope_kind = (flags >> 1) & 0b111;
    let little = flags & 1 == 1;
    let envelope_len = match envelope_kind {
        0 => 0,
        1 => 32,
        2 | 3 => 48,
        4 => 64,
        other => return Err(BlobError::BadEnvelope(other)),
    };
    let needed = 8 + envelope_len;
    if blob.len() < needed {
        return Err(BlobError::Truncated {
            len: blob.len(),
            needed,
        });
    }
    let srs_bytes = [blob[4], blob[5], blob[6], blob[7]];
    let srs_id = if little {
        i32::from_le_bytes(srs_bytes)
    } else {
        i32::from_be_bytes(srs_bytes)
    };
    let read = |i: usize| {
        let at = 8 + 8 * i;
        let mut b = [0u8; 8];
        b.copy_from_slice(&blob[at..at + 8]);
        if little {
            f64::from_le_bytes(b)
        } else {
            f64::from_be_bytes(b)
        }
    };
    let envelope = (envelope_kind > 0).then(|| [read(0), read(2), read(1), read(3)]);
    Ok(BlobHeader {
        version,
        srs_id,
        envelope_kind,
        envelope,
        empty,
        wkb_offset: needed,
    })
}

/// A decoded blob.
#[derive(Debug, Clone, PartialEq)]
pub struct Decoded {
    /// The header.
    pub header: BlobHeader,
    /// The WKB's kind (also for empty geometries).
    pub kind: GeometryKind,
    /// The geometry, `None` when empty (empty flag, no coordinates, or `POINT EMPTY`).
    pub geometry: Option<Geometry<f64>>,
    /// A defect that geo-types would have hidden (unclosed ring, too few points), if any.
    pub raw_defect: Option<String>,
}

/// Decodes a GeoPackage geometry blob into geo-types, dropping Z and M.
pub fn decode(blob: &[u8]) -> Result<Decoded, BlobError> {
    let header = parse_header(blob)?;
    let wkb = wkb::reader::read_wkb(&blob[header.wkb_offset..])
        .map_err(|e| BlobError::Wkb(e.to_string()))?;
    let kind = match wkb.as_type() {
        Gt::Point(_) => GeometryKind::Point,
        Gt::LineString(_) => GeometryKind::LineString,
        Gt::Polygon(_) => GeometryKind::Polygon,
        Gt::MultiPoint(_) => GeometryKind::MultiPoint,
        Gt::MultiLineString(_) => GeometryKind::MultiLineString,
        Gt::MultiPolygon(_) => GeometryKind::MultiPolygon,
        Gt::GeometryCollection(_) => GeometryKind::GeometryCollection,
        _ => return Err(BlobError::Wkb("unsupported geometry type".into())),
    };
    let raw_defect = raw_defect(&wkb);
    let geometry = if header.empty {
        None
    } else {
        match wkb.try_to_geometry() {
            Some(g) if g.coords_count() > 0 => Some(g),
            Some(_) => None,
            None if kind == GeometryKind::Point => None,
            None => {
                return Err(BlobError::Wkb(
                    "a multi-geometry holds an empty point".into(),
                ))
            }
        }
    };
    Ok(Decoded {
        header,
        kind,
        geometry,
        raw_defect,
    })
}

/// Defects visible only in the raw WKB: rings not closed or with fewer than 4 points, lines
/// with a single point.
fn raw_defect<G: GeometryTrait<T = f64>>(g: &G) -> Option<String> {
    match g.as_type() {
        Gt::LineString(ls) => line_defect(ls),
        Gt::Polygon(p) => polygon_defect(p),
        Gt::MultiLineString(m) => m.line_strings().find_map(|ls| line_defect(&ls)),
        Gt::MultiPolygon(m) => m.polygons().find_map(|p| polygon_defect(&p)),
        Gt::GeometryCollection(c) => c.geometries().find_map(|g| raw_defect(&g)),
        _ => None,
    }
}

fn line_defect<L: LineStringTrait<T = f64>>(ls: &L) -> Option<String> {
    (ls.num_coords() == 1).then(|| "linestring with a single point".to_owned())
}

#[allow(clippy::float_cmp)]
fn polygon_defect<P: PolygonTrait<T = f64>>(p: &P) -> Option<String> {
    p.exterior()
        .into_iter()
        .chain(p.interiors())
        .find_map(|ring| {
            let n = ring.num_coords();
            if n == 0 {
                return None;
            }
            if n < 4 {
                return Some(format!(
                    "ring with {n} points (a closed ring needs at least 4)"
                ));
            }
            // A ring is closed when its ends are exactly equal: no tolerance is meant here.
            let first = ring.coord(0)?;
            let last = ring.coord(n - 1)?;
            (first.x() != last.x() || first.y() != last.y())
                .then(|| "ring is not closed (first point differs from last)".to_owned())
        })
}

/// The first validity problem of a geometry (self-intersection, non-finite coordinate…).
pub(crate) fn invalidity(geometry: &Geometry<f64>) -> Option<String> {
    let mut problem = None;
    // The visitor stops at the first error it is given back.
    let _ = geometry.visit_validation(Box::new(|e| {
        problem = Some(e.to_string());
        Err(e)
    }));
    problem
}

/// The xy bounding box `[min_x, min_y, max_x, max_y]` of a geometry.
pub(crate) fn envelope(geometry: &Geometry<f64>) -> Option<[f64; 4]> {
    geometry
        .bounding_rect()
        .map(|r: Rect<f64>| [r.min().x, r.min().y, r.max().x, r.max().y])
}

/// Encodes a geometry as a GeoPackage blob: little-endian, xy envelope, 2D WKB.
pub fn encode(geometry: &Geometry<f64>, srs_id: i32) -> Vec<u8> {
    let mut out = Vec::with_capacity(48 + 16 * geometry.coords_count());
    out.extend_from_slice(b"GP");
    out.push(0);
    if let Some([min_x, min_y, max_x, max_y]) = envelope(geometry) {
        out.push(0b0000_0011);
        out.extend_from_slice(&srs_id.to_le_bytes());
        for v in [min_x, max_x, min_y, max_y] {
            out.extend_from_slice(&v.to_le_bytes());
        }
    } else {
        out.push(0b0001_0001);
        out.extend_from_slice(&srs_id.to_le_bytes());
    }
    let options = wkb::writer::WriteOptions {
        endianness: wkb::Endianness::LittleEndian,
    };
    // Writing into a Vec cannot fail for a geo-types geometry (counts fit in u32 in practice).
    if wkb::writer::write_geometry(&mut out, geometry, &options).is_err() {
        out.truncate(8);
        out[3] = 0b0001_0001;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use geo_types::{line_string, point, polygon, GeometryCollection, MultiPoint};

    fn wkb_of(g: &Geometry<f64>) -> Vec<u8> {
        let mut out = Vec::new();
        wkb::writer::write_geometry(&mut out, g, &wkb::writer::WriteOptions::default())
            .expect("writes");
        out
    }

    fn blob(flags: u8, envelope: &[f64], wkb: &[u8]) -> Vec<u8> {
        let mut b = vec![b'G', b'P', 0, flags];
        b.extend_from_slice(&4326i32.to_le_bytes());
        for v in envelope {
            b.extend_from_slice(&v.to_le_bytes());
        }
        b.extend_from_slice(wkb);
        b
    }

    #[test]
    fn every_envelope_kind_is_skipped_to_the_wkb() {
        let g: Geometry<f64> = point!(x: 2.0, y: 48.0).into();
        let w = wkb_of(&g);
        for (kind, n) in [(0u8, 0usize), (1, 4), (2, 6), (3, 6), (4, 8)] {
            let env: Vec<f64> = (0..n).map(|i| i as f64).collect();
            let b = blob((kind << 1) | 1, &env, &w);
            let d = decode(&b).expect("decodes");
            assert_eq!(d.header.envelope_kind, kind);
            assert_eq!(d.geometry, Some(g.clone()));
            if kind > 0 {
                assert_eq!(d.header.envelope, Some([0.0, 2.0, 1.0, 3.0]));
            }
        }
        assert_eq!(
            parse_header(&blob(5 << 1, &[], &w)),
            Err(BlobError::BadEnvelope(5))
        );
    }

    #[test]
    fn big_endian_headers_are_read() {
        let g: Geometry<f64> = point!(x: 1.0, y: 2.0).into();
        let mut b = vec![b'G', b'P', 0, 0b0000_0010];
        b.extend_from_slice(&2154i32.to_be_bytes());
        for v in [1.0f64, 1.0, 2.0, 2.0] {
            b.extend_from_slice(&v.to_be_bytes());
        }
        b.extend_from_slice(&wkb_of(&g));
        let d = decode(&b).expect("decodes");
        assert_eq!(d.header.srs_id, 2154);
        assert_eq!(d.header.envelope, Some([1.0, 2.0, 1.0, 2.0]));
    }

    #[test]
    fn the_empty_flag_and_empty_wkb_give_no_geometry() {
        let w = wkb_of(&line_string![].into());
        let d = decode(&blob(0b0001_0001, &[], &w)).expect("decodes");
        assert!(d.header.empty);
        assert_eq!(d.geometry, None);
        assert_eq!(d.kind, GeometryKind::LineString);
        let d = decode(&blob(1, &[], &w)).expect("decodes");
        assert_eq!(d.geometry, None);
        // POINT EMPTY is NaN, NaN in WKB.
        let mut nan_point = vec![1u8, 1, 0, 0, 0];
        nan_point.extend_from_slice(&f64::NAN.to_le_bytes());
        nan_point.extend_from_slice(&f64::NAN.to_le_bytes());
        let d = decode(&blob(1, &[], &nan_point)).expect("decodes");
        assert_eq!((d.kind, d.geometry), (GeometryKind::Point, None));
    }

    #[test]
    fn bad_blobs_are_errors_not_panics() {
        assert_eq!(
            decode(b"GP"),
            Err(BlobError::Truncated { len: 2, needed: 8 })
        );
        assert_eq!(decode(b"XX\0\x01\0\0\0\0"), Err(BlobError::BadMagic));
        assert!(matches!(
            decode(b"GP\x01\x01\0\0\0\0"),
            Err(BlobError::BadVersion(1))
        ));
        assert!(matches!(
            decode(b"GP\0\x21\0\0\0\0"),
            Err(BlobError::Extended)
        ));
        assert!(matches!(
            decode(b"GP\0\x01\0\0\0\0\x01\x02"),
            Err(BlobError::Wkb(_))
        ));
        let g: Geometry<f64> = polygon![(x: 0., y: 0.), (x: 1., y: 0.), (x: 1., y: 1.)].into();
        let b = encode(&g, 4326);
        for cut in 0..b.len() {
            let _ = decode(&b[..cut]);
        }
    }

    #[test]
    fn encoding_then_decoding_gives_the_same_geometry() {
        let geometries: Vec<Geometry<f64>> = vec![
            point!(x: 1.5, y: -2.0).into(),
            line_string![(x: 0., y: 0.), (x: 3., y: 4.)].into(),
            polygon![(x: 0., y: 0.), (x: 4., y: 0.), (x: 4., y: 4.), (x: 0., y: 0.)].into(),
            MultiPoint::from(vec![(1.0, 2.0), (3.0, 4.0)]).into(),
            Geometry::GeometryCollection(GeometryCollection::new_from(vec![
                point!(x: 1., y: 1.).into()
            ])),
        ];
        for g in geometries {
            let d = decode(&encode(&g, 2154)).expect("decodes");
            assert_eq!(d.geometry.as_ref(), Some(&g));
            assert_eq!(d.header.srs_id, 2154);
            assert_eq!(d.header.envelope, envelope(&g));
            assert_eq!(d.kind, GeometryKind::of(&g));
        }
    }

    #[test]
    fn unclosed_and_short_rings_are_defects() {
        // POLYGON((0 0, 1 0, 1 1, 0 1)) — not closed; WKB by hand.
        let mut w = vec![1u8, 3, 0, 0, 0, 1, 0, 0, 0, 4, 0, 0, 0];
        for v in [0.0f64, 0.0, 1.0, 0.0, 1.0, 1.0, 0.0, 1.0] {
            w.extend_from_slice(&v.to_le_bytes());
        }
        let d = decode(&blob(1, &[], &w)).expect("decodes");
        assert!(d.raw_defect.expect("a defect").contains("not closed"));
        let bowtie: Geometry<f64> =
            polygon![(x: 0., y: 0.), (x: 2., y: 2.), (x: 2., y: 0.), (x: 0., y: 2.), (x: 0., y: 0.)].into();
        assert!(invalidity(&bowtie).is_some());
        let square: Geometry<f64> =
            polygon![(x: 0., y: 0.), (x: 2., y: 0.), (x: 2., y: 2.), (x: 0., y: 2.), (x: 0., y: 0.)].into();
        assert_eq!(invalidity(&square), None);
    }

    #[test]
    fn declared_types_accept_their_kind_and_singles_in_multis() {
        let multi = DeclaredType::parse("MultiPolygon").expect("known");
        assert_eq!(multi.fit(GeometryKind::MultiPolygon), Fit::Exact);
        assert_eq!(multi.fit(GeometryKind::Polygon), Fit::SingleInMulti);
        assert_eq!(multi.fit(GeometryKind::Point), Fit::Mismatch);
        assert_eq!(DeclaredType::Any.fit(GeometryKind::Point), Fit::Exact);
        assert_eq!(DeclaredType::parse("CURVEPOLYGON"), None);
    }
}
