//! The [`Crs`] value and the parsing of its OGC spellings.

use std::fmt;
use std::hash::{Hash, Hasher};
use std::str::FromStr;

use crate::registry::{Def, KNOWN_SUMMARY, REGISTRY};
use crate::{AxisOrder, Bbox, CrsError};

/// Metres in one degree, as OGC tile matrix sets count them: 2π·6378137/360.
pub const METRES_PER_DEGREE: f64 = 2.0 * std::f64::consts::PI * 6_378_137.0 / 360.0;

/// A known coordinate reference system.
///
/// A `Crs` is a reference into a static table: cloning, comparing and hashing are cheap.
/// Two values are equal (`==`) when they have the same canonical [`code`](Crs::code):
/// `IGNF:LAMB93` and `EPSG:2154` are different identifiers of one definition, which
/// [`equivalent`](Crs::equivalent) tells.
///
/// ```
/// use crs::{AxisOrder, Crs};
///
/// let wgs84 = Crs::parse("urn:ogc:def:crs:EPSG::4326").expect("known");
/// assert_eq!(wgs84, Crs::wgs84());
/// assert_eq!(wgs84.axis_order(), AxisOrder::NorthEast);
/// assert_eq!(Crs::parse("CRS:84").expect("known").axis_order(), AxisOrder::EastNorth);
///
/// let lamb93 = Crs::parse("IGNF:LAMB93").expect("known");
/// assert_eq!(lamb93.code(), "IGNF:LAMB93");
/// assert_eq!(lamb93.epsg(), Some(2154));
/// assert!(lamb93.equivalent(&Crs::from_epsg(2154).expect("known")));
/// ```
#[derive(Clone)]
pub struct Crs {
    def: &'static Def,
}

impl Crs {
    /// Parses any OGC spelling or alias of a CRS, case-insensitively:
    /// `EPSG:n`, `urn:ogc:def:crs:EPSG::n` (any version, also `urn:x-ogc:…`),
    /// `http://www.opengis.net/def/crs/EPSG/0/n`, `http://www.opengis.net/gml/srs/epsg.xml#n`,
    /// `CRS:84`, `OGC:CRS84`, `urn:ogc:def:crs:OGC:1.3:CRS84`,
    /// `http://www.opengis.net/def/crs/OGC/1.3/CRS84`, `IGNF:NAME` (and its urn and http forms).
    pub fn parse(text: &str) -> Result<Crs, CrsError> {
        let key = normalize(text).ok_or_else(|| CrsError::Malformed(text.to_owned()))?;
        REGISTRY
            .index
            .get(&key)
            .map(|&i| Crs {
                def: &REGISTRY.defs[i],
            })
            .ok_or_else(|| CrsError::Unknown(text.to_owned()))
    }

    /// The known CRS a WKT1 definition without an authority describes (a Shapefile's `.prj`
    /// in ESRI's dialect): by projection, parameters, ellipsoid and unit, or for a geographic
    /// CRS by its datum; `None` when nothing known matches.
    pub fn identify_wkt(wkt: &str) -> Option<Crs> {
        crate::wkt::identify(wkt)
    }

    /// The CRS of an EPSG code (or of an alias such as 900913 for 3857).
    pub fn from_epsg(code: u32) -> Result<Crs, CrsError> {
        REGISTRY
            .index
            .get(&format!("EPSG:{code}"))
            .map(|&i| Crs {
                def: &REGISTRY.defs[i],
            })
            .ok_or_else(|| CrsError::Unknown(format!("EPSG:{code}")))
    }

    /// EPSG:4326, WGS 84 in latitude, longitude order.
    pub fn wgs84() -> Crs {
        Crs::known_code("EPSG:4326")
    }

    /// OGC's CRS:84, WGS 84 in longitude, latitude order.
    pub fn crs84() -> Crs {
        Crs::known_code("CRS:84")
    }

    /// EPSG:3857, Web Mercator.
    pub fn web_mercator() -> Crs {
        Crs::known_code("EPSG:3857")
    }

    fn known_code(code: &str) -> Crs {
        let i = REGISTRY.index[code];
        Crs {
            def: &REGISTRY.defs[i],
        }
    }

    /// Every known CRS under its canonical code (aliases such as `EPSG:900913` are not listed).
    pub fn known() -> impl Iterator<Item = Crs> {
        REGISTRY.defs.iter().map(|def| Crs { def })
    }

    /// The canonical identifier, e.g. `EPSG:4326`, `CRS:84`, `IGNF:LAMB93`.
    pub fn code(&self) -> &str {
        &self.def.code
    }

    /// The human name, EPSG's, e.g. `RGF93 v1 / Lambert-93`.
    pub fn name(&self) -> &str {
        &self.def.name
    }

    /// The EPSG code of the CRS with the same definition *and axis order*, when there is one:
    /// `Some(2154)` for `IGNF:LAMB93`, `None` for `CRS:84` and `IGNF:WGS84G` (longitude first,
    /// unlike EPSG:4326).
    pub fn epsg(&self) -> Option<u32> {
        self.def.epsg
    }

    /// The OGC URN that clients understand: `urn:ogc:def:crs:EPSG::n`,
    /// `urn:ogc:def:crs:OGC:1.3:CRS84` for CRS:84 and IGNF:WGS84G, else `urn:ogc:def:crs:IGNF::NAME`.
    pub fn urn(&self) -> String {
        match (self.def.epsg, self.lon_lat_wgs84()) {
            (Some(n), _) => format!("urn:ogc:def:crs:EPSG::{n}"),
            (None, true) => "urn:ogc:def:crs:OGC:1.3:CRS84".to_owned(),
            (None, false) => format!("urn:ogc:def:crs:IGNF::{}", self.ignf_name()),
        }
    }

    /// The OGC http URI (OGC API, 2D-TMS JSON): `http://www.opengis.net/def/crs/EPSG/0/n`,
    /// `http://www.opengis.net/def/crs/OGC/1.3/CRS84`, else `http://www.opengis.net/def/crs/IGNF/0/NAME`.
    pub fn uri(&self) -> String {
        match (self.def.epsg, self.lon_lat_wgs84()) {
            (Some(n), _) => format!("http://www.opengis.net/def/crs/EPSG/0/{n}"),
            (None, true) => "http://www.opengis.net/def/crs/OGC/1.3/CRS84".to_owned(),
            (None, false) => format!("http://www.opengis.net/def/crs/IGNF/0/{}", self.ignf_name()),
        }
    }

    fn lon_lat_wgs84(&self) -> bool {
        self.def.geographic && self.def.datum == "WGS84" && self.def.axis == AxisOrder::EastNorth
    }

    fn ignf_name(&self) -> &str {
        self.def
            .code
            .strip_prefix("IGNF:")
            .unwrap_or(&self.def.code)
    }

    /// The axis order as the CRS defines it: north-east for EPSG geographic CRSs, east-north for
    /// projected ones and for `CRS:84` and IGNF's geographic CRSs. It matters only when reading
    /// or writing OGC coordinates (WMS 1.3.0 BBOX, WMTS TopLeftCorner): everywhere else in this
    /// API coordinates are `(x, y)` = (easting or longitude, northing or latitude).
    pub fn axis_order(&self) -> AxisOrder {
        self.def.axis
    }

    /// Whether coordinates are angles (degrees).
    pub fn is_geographic(&self) -> bool {
        self.def.geographic
    }

    /// Metres per CRS unit, as OGC tile matrix sets count them (degrees: 2π·6378137/360).
    pub fn metres_per_unit(&self) -> f64 {
        if self.def.geographic {
            METRES_PER_DEGREE
        } else {
            1.0
        }
    }

    /// Whether the two CRSs have the same definition (datum and projection), whatever their
    /// identifiers and axis orders: a transform between them is the identity on `(x, y)`.
    /// `IGNF:LAMB93` ≡ `EPSG:2154`, `CRS:84` ≡ `EPSG:4326` ≡ `IGNF:WGS84G`; but `EPSG:4171`
    /// (RGF93) is not `EPSG:4258` (ETRS89), even though PROJ converts between them with a null shift.
    pub fn equivalent(&self, other: &Crs) -> bool {
        std::ptr::eq(self.def, other.def)
            || (self.def.datum == other.def.datum && self.def.proj4 == other.def.proj4)
    }

    /// The proj4 definition used for transforms.
    pub fn proj4(&self) -> &str {
        &self.def.proj4
    }

    /// The area of use, in WGS 84 longitude/latitude degrees (EPSG's; Web Mercator's is the
    /// square world, latitudes within ±85.0511287798066°).
    pub fn valid_area(&self) -> Bbox {
        let [w, s, e, n] = self.def.area;
        Bbox::new(w, s, e, n).unwrap_or_else(|_| Bbox::world())
    }

    pub(crate) fn def(&self) -> &'static Def {
        self.def
    }
}

impl PartialEq for Crs {
    fn eq(&self, other: &Crs) -> bool {
        std::ptr::eq(self.def, other.def) || self.def.code == other.def.code
    }
}

impl Eq for Crs {}

impl Hash for Crs {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.def.code.hash(state);
    }
}

impl fmt::Debug for Crs {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Crs").field(&self.def.code).finish()
    }
}

impl fmt::Display for Crs {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.def.code)
    }
}

impl FromStr for Crs {
    type Err = CrsError;
    fn from_str(s: &str) -> Result<Crs, CrsError> {
        Crs::parse(s)
    }
}

/// Strips `prefix` from `text`, ignoring ASCII case.
fn strip_prefix_ci<'a>(text: &'a str, prefix: &str) -> Option<&'a str> {
    let head = text.get(..prefix.len())?;
    head.eq_ignore_ascii_case(prefix)
        .then(|| &text[prefix.len()..])
}

/// Turns a spelling into a registry key (`EPSG:n`, `CRS:84`, `IGNF:NAME`), or `None` when it
/// is not a CRS spelling at all.
fn normalize(text: &str) -> Option<String> {
    let t = text.trim();
    let (authority, code) = if let Some(rest) =
        strip_prefix_ci(t, "urn:ogc:def:crs:").or_else(|| strip_prefix_ci(t, "urn:x-ogc:def:crs:"))
    {
        // authority:version:code, the version possibly empty (or missing altogether).
        let parts: Vec<&str> = rest.split(':').collect();
        match parts.as_slice() {
            [authority, _, code] | [authority, code] => (*authority, *code),
            _ => return None,
        }
    } else if let Some(rest) = strip_prefix_ci(t, "http://www.opengis.net/def/crs/")
        .or_else(|| strip_prefix_ci(t, "https://www.opengis.net/def/crs/"))
    {
        let parts: Vec<&str> = rest.split('/').collect();
        match parts.as_slice() {
            [authority, _version, code] => (*authority, *code),
            _ => return None,
        }
    } else if let Some(code) = strip_prefix_ci(t, "http://www.opengis.net/gml/srs/epsg.xml#") {
        ("EPSG", code)
    } else {
        t.split_once(':')?
    };
    let code = code.trim();
    match authority.trim().to_ascii_uppercase().as_str() {
        "EPSG" => code.parse::<u32>().ok().map(|n| format!("EPSG:{n}")),
        "OGC" | "CRS" => match code.to_ascii_uppercase().as_str() {
            "CRS84" | "84" => Some("CRS:84".to_owned()),
            _ => Some(format!("CRS:{}", code.to_ascii_uppercase())),
        },
        "IGNF" if !code.is_empty() => Some(format!("IGNF:{}", code.to_ascii_uppercase())),
        _ => None,
    }
}

/// Used by [`CrsError::Unknown`]'s message.
pub(crate) const KNOWN: &str = KNOWN_SUMMARY;
