//! Which CRS a GeoPackage layer is in.
//!
//! A layer points at a row of `gpkg_spatial_ref_sys`. Writers fill that row unevenly: GDAL and
//! QGIS set `organization = 'EPSG'` and the code, some tools write `NONE` and only the WKT, and
//! files exist whose row is missing altogether. The platform promises that "the projection is
//! detected automatically", so we try the code first, then the WKT's outermost EPSG authority.

use crs::Crs;

/// The outcome of SRS detection for one `srs_id`.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum SrsDetection {
    /// A CRS that the `crs` crate knows.
    Known(Crs),
    /// A CRS named by the file that the `crs` crate does not know, e.g. `EPSG:9999`.
    Unsupported(String),
    /// The GeoPackage's undefined systems: `-1` (Cartesian) or `0` (geographic).
    Undefined(i64),
    /// The row says nothing we can read (no EPSG code, no usable WKT).
    Unreadable(i64),
    /// `gpkg_spatial_ref_sys` has no row for this `srs_id`.
    MissingRow(i64),
}

impl SrsDetection {
    /// The CRS, when detection found a known one.
    pub fn crs(&self) -> Option<&Crs> {
        match self {
            SrsDetection::Known(crs) => Some(crs),
            _ => None,
        }
    }

    /// A short description for reports, e.g. `EPSG:2154` or `srs_id 7 (no EPSG code)`.
    pub fn describe(&self) -> String {
        match self {
            SrsDetection::Known(crs) => crs.code().to_owned(),
            SrsDetection::Unsupported(code) => format!("{code} (not supported)"),
            SrsDetection::Undefined(id) => format!("srs_id {id} (undefined)"),
            SrsDetection::Unreadable(id) => format!("srs_id {id} (no EPSG code nor readable WKT)"),
            SrsDetection::MissingRow(id) => {
                format!("srs_id {id} (missing from gpkg_spatial_ref_sys)")
            }
        }
    }
}

/// Detects the CRS of one `gpkg_spatial_ref_sys` row.
pub(crate) fn detect(
    srs_id: i64,
    organization: Option<&str>,
    coordsys_id: Option<i64>,
    definition: Option<&str>,
) -> SrsDetection {
    if srs_id == -1 || srs_id == 0 {
        return SrsDetection::Undefined(srs_id);
    }
    let org = organization.unwrap_or("").trim();
    if org.eq_ignore_ascii_case("EPSG") {
        if let Some(code) = coordsys_id.and_then(|c| u32::try_from(c).ok()) {
            return from_epsg(code);
        }
    }
    if !org.is_empty() && !org.eq_ignore_ascii_case("NONE") && !org.eq_ignore_ascii_case("EPSG") {
        if let Some(id) = coordsys_id {
            if let Ok(crs) = Crs::parse(&format!("{org}:{id}")) {
                return SrsDetection::Known(crs);
            }
        }
    }
    if let Some(code) = definition.and_then(epsg_from_wkt) {
        return from_epsg(code);
    }
    // A WKT without authority (ESRI's dialect): by its parameters.
    if let Some(crs) = definition.and_then(Crs::identify_wkt) {
        return SrsDetection::Known(crs);
    }
    SrsDetection::Unreadable(srs_id)
}

fn from_epsg(code: u32) -> SrsDetection {
    match Crs::from_epsg(code) {
        Ok(crs) => SrsDetection::Known(crs),
        Err(_) => SrsDetection::Unsupported(format!("EPSG:{code}")),
    }
}

/// The EPSG code of a WKT1 (`AUTHORITY["EPSG","2154"]`) or WKT2 (`ID["EPSG",2154]`) definition:
/// the authority at nesting depth 1, i.e. the CRS's own, not its datum's or unit's.
pub(crate) fn epsg_from_wkt(wkt: &str) -> Option<u32> {
    let bytes = wkt.as_bytes();
    let mut depth = 0usize;
    let mut in_string = false;
    let mut found = None;
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        if in_string {
            if b == b'"' {
                in_string = false;
            }
        } else {
            match b {
                b'"' => in_string = true,
                b'[' | b'(' => depth += 1,
                b']' | b')' => depth = depth.saturating_sub(1),
                _ if depth == 1 && b.is_ascii_alphabetic() => {
                    let rest = &wkt[i..];
                    let keyword_len = rest
                        .find(|c: char| !c.is_ascii_alphabetic())
                        .unwrap_or(rest.len());
                    let keyword = &rest[..keyword_len];
                    if keyword.eq_ignore_ascii_case("AUTHORITY")
                        || keyword.eq_ignore_ascii_case("ID")
                    {
                        if let Some(code) = authority_code(&rest[keyword_len..]) {
                            found = Some(code);
                        }
                    }
                    i += keyword_len;
                    continue;
                }
                _ => {}
            }
        }
        i += 1;
    }
    found
}

/// Reads `["EPSG","2154"]` or `["EPSG",2154]` (leading spaces allowed).
fn authority_code(text: &str) -> Option<u32> {
    let inner = text.trim_start().strip_prefix(['[', '('])?;
    let end = inner.find([']', ')'])?;
    let mut parts = inner[..end].split(',');
    let authority = parts.next()?.trim().trim_matches('"');
    if !authority.eq_ignore_ascii_case("EPSG") {
        return None;
    }
    parts.next()?.trim().trim_matches('"').parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    const LAMB93_WKT1: &str = r#"PROJCS["RGF93 v1 / Lambert-93",GEOGCS["RGF93 v1",DATUM["Reseau_Geodesique_Francais_1993_v1",SPHEROID["GRS 1980",6378137,298.257222101,AUTHORITY["EPSG","7019"]],AUTHORITY["EPSG","6171"]],PRIMEM["Greenwich",0,AUTHORITY["EPSG","8901"]],UNIT["degree",0.0174532925199433,AUTHORITY["EPSG","9122"]],AUTHORITY["EPSG","4171"]],PROJECTION["Lambert_Conformal_Conic_2SP"],UNIT["metre",1,AUTHORITY["EPSG","9001"]],AUTHORITY["EPSG","2154"]]"#;

    #[test]
    fn the_epsg_code_wins_when_present() {
        let d = detect(2154, Some("EPSG"), Some(2154), Some("undefined"));
        assert_eq!(d.crs().map(Crs::code), Some("EPSG:2154"));
        let d = detect(4326, Some("epsg"), Some(4326), None);
        assert_eq!(d.crs().map(Crs::code), Some("EPSG:4326"));
    }

    #[test]
    fn the_wkt_gives_the_crs_when_the_code_is_missing() {
        assert_eq!(epsg_from_wkt(LAMB93_WKT1), Some(2154));
        let d = detect(100_000, Some("NONE"), None, Some(LAMB93_WKT1));
        assert_eq!(d.crs().map(Crs::code), Some("EPSG:2154"));
        let wkt2 = r#"GEOGCRS["WGS 84",DATUM["World Geodetic System 1984",ELLIPSOID["WGS 84",6378137,298.257223563,LENGTHUNIT["metre",1]]],CS[ellipsoidal,2],ID["EPSG",4326]]"#;
        assert_eq!(epsg_from_wkt(wkt2), Some(4326));
    }

    #[test]
    fn undefined_unknown_and_unreadable_systems_are_told_apart() {
        assert_eq!(
            detect(-1, Some("NONE"), Some(-1), Some("undefined")),
            SrsDetection::Undefined(-1)
        );
        assert_eq!(
            detect(0, Some("NONE"), Some(0), Some("undefined")),
            SrsDetection::Undefined(0)
        );
        assert_eq!(
            detect(7, Some("EPSG"), Some(999_999), None),
            SrsDetection::Unsupported("EPSG:999999".into())
        );
        assert_eq!(
            detect(7, Some("NONE"), None, Some("LOCAL_CS[\"x\"]")),
            SrsDetection::Unreadable(7)
        );
    }
}
