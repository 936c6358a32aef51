//! The table of known CRSs: their identifiers, proj4 definitions, axis order and area of use.
//!
//! Built once, on first use, into a `'static` table so that a [`crate::Crs`] is a reference into
//! it (cheap to copy, compare and hash). The proj4 strings are those PROJ 9 gives for the EPSG
//! codes (`projinfo -o PROJ EPSG:n`), with the EPSG transformation to WGS 84 PROJ picks written as
//! `+towgs84` (null for the GRS80 datums, `-168,-60,320` for NTF); the areas of use are EPSG's.

use std::collections::HashMap;
use std::sync::LazyLock;

use proj4rs::Proj;

use crate::AxisOrder;

/// Latitude limit of Web Mercator: the square world, `atan(sinh(π))` in degrees.
pub(crate) const WEB_MERCATOR_MAX_LAT: f64 = 85.051_128_779_806_6;

/// One known CRS.
pub(crate) struct Def {
    /// Canonical identifier: `EPSG:n`, `CRS:84` or `IGNF:NAME`.
    pub(crate) code: String,
    /// Human name (EPSG's).
    pub(crate) name: String,
    /// EPSG code of the CRS with the same definition and axis order, if any.
    pub(crate) epsg: Option<u32>,
    /// Datum name: two CRSs are equivalent when datum and proj4 string are equal.
    pub(crate) datum: &'static str,
    pub(crate) geographic: bool,
    pub(crate) axis: AxisOrder,
    pub(crate) proj4: String,
    /// Area of use in WGS 84 degrees: west, south, east, north.
    pub(crate) area: [f64; 4],
    /// Whether coordinates outside `area` are meaningless (Web Mercator near the poles), so that
    /// bounding boxes are clamped to it before being transformed into this CRS.
    pub(crate) clamp_to_area: bool,
    /// The parsed definition (an error here is a bug of this table, caught by the tests).
    pub(crate) proj: Result<Proj, String>,
}

pub(crate) struct Registry {
    pub(crate) defs: Vec<Def>,
    /// Upper-case canonical keys (`EPSG:2154`, `CRS:84`, `IGNF:LAMB93`) and aliases → index.
    pub(crate) index: HashMap<String, usize>,
}

/// What a parse error message lists.
pub(crate) const KNOWN_SUMMARY: &str = "EPSG:4326, 4258, 4171, 3857 (alias 900913, 3785, 102100, \
    102113), 2154, 3942-3950, 27572, 3035, 32601-32660, 32701-32760, 2972, 2975, 4471, 5490, CRS:84, \
    and IGNF:WGS84G, RGF93G, ETRS89G, LAMB93, RGF93CC42-50, LAMBE, ETRS89LAEA, WGS84WMSV, \
    UTM20W84GUAD, UTM20W84MART, UTM22RGFG95, RGR92UTM40S, RGM04UTM38S, RGAF09UTM20, UTM30W84-UTM32W84, \
    UTM01SW84, UTM39SW84, UTM42SW84, UTM43SW84";

pub(crate) static REGISTRY: LazyLock<Registry> = LazyLock::new(build);

struct EpsgRow {
    code: u32,
    name: String,
    datum: &'static str,
    geographic: bool,
    proj4: String,
    area: [f64; 4],
}

const GRS80_NULL: &str = "+ellps=GRS80 +towgs84=0,0,0,0,0,0,0";

fn epsg_rows() -> Vec<EpsgRow> {
    let row = |code, name: &str, datum, geographic, proj4: String, area| EpsgRow {
        code,
        name: name.to_owned(),
        datum,
        geographic,
        proj4,
        area,
    };
    let mut rows = vec![
        row(
            4326,
            "WGS 84",
            "WGS84",
            true,
            "+proj=longlat +datum=WGS84 +no_defs".to_owned(),
            [-180.0, -90.0, 180.0, 90.0],
        ),
        row(
            4258,
            "ETRS89",
            "ETRS89",
            true,
            format!("+proj=longlat {GRS80_NULL} +no_defs"),
            [-16.1, 32.88, 40.18, 84.73],
        ),
        row(
            4171,
            "RGF93 v1",
            "RGF93",
            true,
            format!("+proj=longlat {GRS80_NULL} +no_defs"),
            [-9.86, 41.15, 10.38, 51.56],
        ),
        row(
            3857,
            "WGS 84 / Pseudo-Mercator",
            "WGS84",
            false,
            "+proj=merc +a=6378137 +b=6378137 +lat_ts=0 +lon_0=0 +x_0=0 +y_0=0 +k=1 +units=m \
             +nadgrids=@null +no_defs"
                .to_owned(),
            [-180.0, -WEB_MERCATOR_MAX_LAT, 180.0, WEB_MERCATOR_MAX_LAT],
        ),
        row(
            2154,
            "RGF93 v1 / Lambert-93",
            "RGF93",
            false,
            format!(
                "+proj=lcc +lat_0=46.5 +lon_0=3 +lat_1=49 +lat_2=44 +x_0=700000 +y_0=6600000 \
                 {GRS80_NULL} +units=m +no_defs"
            ),
            [-9.86, 41.15, 10.38, 51.56],
        ),
        row(
            27572,
            "NTF (Paris) / Lambert zone II",
            "NTF",
            false,
            "+proj=lcc +lat_1=46.8 +lat_0=46.8 +lon_0=0 +k_0=0.99987742 +x_0=600000 +y_0=2200000 \
             +a=6378249.2 +b=6356515 +pm=paris +towgs84=-168,-60,320,0,0,0,0 +units=m +no_defs"
                .to_owned(),
            [-4.87, 42.33, 8.23, 51.14],
        ),
        row(
            3035,
            "ETRS89-extended / LAEA Europe",
            "ETRS89",
            false,
            format!(
                "+proj=laea +lat_0=52 +lon_0=10 +x_0=4321000 +y_0=3210000 {GRS80_NULL} +units=m \
                 +no_defs"
            ),
            [-35.58, 24.6, 44.83, 84.73],
        ),
        row(
            2972,
            "RGFG95 / UTM zone 22N",
            "RGFG95",
            false,
            format!("+proj=utm +zone=22 {GRS80_NULL} +units=m +no_defs"),
            [-54.0, 2.17, -49.45, 8.88],
        ),
        row(
            2975,
            "RGR92 / UTM zone 40S",
            "RGR92",
            false,
            format!("+proj=utm +zone=40 +south {GRS80_NULL} +units=m +no_defs"),
            [54.0, -24.72, 58.24, -18.28],
        ),
        row(
            4471,
            "RGM04 / UTM zone 38S",
            "RGM04",
            false,
            format!("+proj=utm +zone=38 +south {GRS80_NULL} +units=m +no_defs"),
            [43.68, -14.49, 46.7, -11.33],
        ),
        row(
            5490,
            "RGAF09 / UTM zone 20N",
            "RGAF09",
            false,
            format!("+proj=utm +zone=20 {GRS80_NULL} +units=m +no_defs"),
            [-63.66, 14.08, -60.0, 18.31],
        ),
    ];
    // RGF93 v1 / CC42 … CC50: conic conformal zones one degree of latitude apart.
    let cc_areas: [[f64; 4]; 9] = [
        [-1.06, 41.31, 9.63, 43.07],
        [-1.79, 42.33, 7.65, 44.01],
        [-1.79, 42.92, 7.71, 45.0],
        [-1.46, 44.0, 7.71, 46.0],
        [-2.21, 45.0, 7.16, 47.0],
        [-4.77, 46.0, 7.63, 48.0],
        [-4.87, 47.0, 8.23, 49.0],
        [-4.87, 48.0, 8.23, 50.0],
        [-2.03, 49.0, 8.08, 51.14],
    ];
    for (lat, area) in (42..=50).zip(cc_areas) {
        rows.push(row(
            3900 + lat,
            &format!("RGF93 v1 / CC{lat}"),
            "RGF93",
            false,
            format!(
                "+proj=lcc +lat_0={lat} +lon_0=3 +lat_1={} +lat_2={} +x_0=1700000 +y_0={} \
                 {GRS80_NULL} +units=m +no_defs",
                f64::from(lat) - 0.75,
                f64::from(lat) + 0.75,
                (lat - 41) * 1_000_000 + 200_000,
            ),
            area,
        ));
    }
    for zone in 1..=60_u32 {
        let west = -186.0 + 6.0 * f64::from(zone);
        rows.push(row(
            32600 + zone,
            &format!("WGS 84 / UTM zone {zone}N"),
            "WGS84",
            false,
            format!("+proj=utm +zone={zone} +datum=WGS84 +units=m +no_defs"),
            [west, 0.0, west + 6.0, 84.0],
        ));
    }
    for zone in 1..=60_u32 {
        let west = -186.0 + 6.0 * f64::from(zone);
        rows.push(row(
            32700 + zone,
            &format!("WGS 84 / UTM zone {zone}S"),
            "WGS84",
            false,
            format!("+proj=utm +zone={zone} +south +datum=WGS84 +units=m +no_defs"),
            [west, -80.0, west + 6.0, 0.0],
        ));
    }
    rows
}

/// Spellings of EPSG codes that mean another EPSG CRS.
const EPSG_ALIASES: &[(u32, u32)] = &[
    (900_913, 3857),
    (3785, 3857),
    (102_100, 3857),
    (102_113, 3857),
];

/// IGNF registry names (as used by ROK4 and the Géoplateforme) for projected CRSs with an EPSG
/// twin: their own identity, EPSG's definition, always east-north (as IGNF defines them).
const IGNF_PROJECTED: &[(&str, u32, &[&str])] = &[
    ("LAMB93", 2154, &["RGF93LAMB93"]),
    ("RGF93CC42", 3942, &[]),
    ("RGF93CC43", 3943, &[]),
    ("RGF93CC44", 3944, &[]),
    ("RGF93CC45", 3945, &[]),
    ("RGF93CC46", 3946, &[]),
    ("RGF93CC47", 3947, &[]),
    ("RGF93CC48", 3948, &[]),
    ("RGF93CC49", 3949, &[]),
    ("RGF93CC50", 3950, &[]),
    ("LAMBE", 27572, &[]),
    ("ETRS89LAEA", 3035, &[]),
    ("WGS84WMSV", 3857, &[]),
    ("UTM20W84GUAD", 32620, &[]),
    ("UTM20W84MART", 32620, &[]),
    ("UTM22RGFG95", 2972, &["RGFG95UTM22"]),
    ("RGR92UTM40S", 2975, &[]),
    ("RGM04UTM38S", 4471, &[]),
    ("RGAF09UTM20", 5490, &[]),
    ("UTM30W84", 32630, &["WGS84UTM30"]),
    ("UTM31W84", 32631, &["WGS84UTM31"]),
    ("UTM32W84", 32632, &["WGS84UTM32"]),
    ("UTM01SW84", 32701, &["WGS84UTM1S"]),
    ("UTM39SW84", 32739, &["WGS84UTM39S"]),
    ("UTM42SW84", 32742, &["WGS84UTM42S"]),
    ("UTM43SW84", 32743, &["WGS84UTM43S"]),
];

/// Longitude-first geographic CRSs: (canonical code, EPSG twin whose definition they share,
/// other spellings). IGNF's geographic CRSs are longitude-first, as PROJ's IGNF catalogue and
/// ROK4's tile matrix sets have them, so they are not the (latitude-first) EPSG CRS.
const LON_LAT: &[(&str, u32, &[&str])] = &[
    ("CRS:84", 4326, &[]),
    ("IGNF:WGS84G", 4326, &["IGNF:WGS84GDD"]),
    ("IGNF:RGF93G", 4171, &["IGNF:RGF93GDD"]),
    ("IGNF:ETRS89G", 4258, &[]),
];

fn build() -> Registry {
    let mut defs = Vec::new();
    let mut index = HashMap::new();
    let mut by_epsg = HashMap::new();
    for r in epsg_rows() {
        by_epsg.insert(r.code, defs.len());
        index.insert(format!("EPSG:{}", r.code), defs.len());
        defs.push(Def {
            code: format!("EPSG:{}", r.code),
            name: r.name,
            epsg: Some(r.code),
            datum: r.datum,
            geographic: r.geographic,
            // EPSG's axis order: latitude first for geographic CRSs, and northing first for
            // LAEA Europe; easting first for the others.
            axis: if r.geographic || r.code == 3035 {
                AxisOrder::NorthEast
            } else {
                AxisOrder::EastNorth
            },
            proj: parse(&r.proj4),
            proj4: r.proj4,
            area: r.area,
            clamp_to_area: r.code == 3857,
        });
    }
    for &(alias, code) in EPSG_ALIASES {
        if let Some(&i) = by_epsg.get(&code) {
            index.insert(format!("EPSG:{alias}"), i);
        }
    }
    for &(name, epsg, aliases) in IGNF_PROJECTED {
        let i = twin(
            &mut defs,
            &mut index,
            &by_epsg,
            &format!("IGNF:{name}"),
            epsg,
            true,
        );
        for alias in aliases {
            index.insert(format!("IGNF:{alias}"), i);
        }
    }
    for &(code, epsg, aliases) in LON_LAT {
        let i = twin(&mut defs, &mut index, &by_epsg, code, epsg, false);
        for alias in aliases {
            index.insert((*alias).to_owned(), i);
        }
    }
    Registry { defs, index }
}

fn parse(proj4: &str) -> Result<Proj, String> {
    Proj::from_proj_string(proj4).map_err(|e| format!("{e} in '{proj4}'"))
}

/// Adds a CRS sharing the definition of EPSG `epsg` under its own `code`, east-north.
fn twin(
    defs: &mut Vec<Def>,
    index: &mut HashMap<String, usize>,
    by_epsg: &HashMap<u32, usize>,
    code: &str,
    epsg: u32,
    keep_epsg: bool,
) -> usize {
    let base = &defs[by_epsg[&epsg]];
    let def = Def {
        code: code.to_owned(),
        name: base.name.clone(),
        // An EPSG code only when the axis order is EPSG's too (not for IGNF:ETRS89LAEA).
        epsg: (keep_epsg && base.axis == AxisOrder::EastNorth).then_some(epsg),
        datum: base.datum,
        geographic: base.geographic,
        axis: AxisOrder::EastNorth,
        proj4: base.proj4.clone(),
        area: base.area,
        clamp_to_area: base.clamp_to_area,
        proj: parse(&base.proj4),
    };
    index.insert(code.to_ascii_uppercase(), defs.len());
    defs.push(def);
    defs.len() - 1
}
