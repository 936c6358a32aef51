//! Which known CRS a WKT1 definition without an authority describes — the `.prj` of a Shapefile
//! as ArcGIS, QGIS and GDAL write it (`PROJCS["RGF_1993_Lambert_93",…]`, ESRI names, no
//! `AUTHORITY`). GDAL answers this with its database; without it, the definition is compared
//! with the known CRSs: a projected one by its projection method, parameters, ellipsoid and
//! unit against each known proj4 definition; a geographic one by its datum's name.

use std::collections::HashMap;

use crate::Crs;

/// The known CRS `wkt` describes, preferring EPSG codes; `None` when none matches exactly.
pub(crate) fn identify(wkt: &str) -> Option<Crs> {
    let wkt = wkt.trim();
    let upper = wkt.to_ascii_uppercase();
    if upper.starts_with("PROJCS") {
        let method = projection(wkt)?;
        let parameters = parameters(wkt);
        let (a, inverse_flattening) = spheroid(wkt)?;
        let unit = last_unit(wkt).unwrap_or(1.0);
        Crs::known()
            .filter(|crs| !crs.is_geographic())
            .filter(|crs| crs.epsg().is_some())
            .find(|crs| {
                matches_projected(
                    crs.proj4(),
                    method,
                    &parameters,
                    (a, inverse_flattening),
                    unit,
                )
            })
    } else if upper.starts_with("GEOGCS") {
        let datum = datum_name(wkt)?
            .to_ascii_uppercase()
            .replace(['_', ' ', '-'], "");
        let code = if datum.contains("WGS1984") || datum.contains("WGS84") {
            4326
        } else if datum.contains("RGF1993") || datum.contains("RGF93") {
            4171
        } else if datum.contains("ETRS1989")
            || datum.contains("EUROPEANTERRESTRIALREFERENCESYSTEM1989")
        {
            4258
        } else {
            return None;
        };
        Crs::from_epsg(code).ok()
    } else {
        None
    }
}

/// The proj method of a WKT `PROJECTION["…"]` name (ESRI and OGC spellings).
fn projection(wkt: &str) -> Option<&'static str> {
    let name = quoted_after(wkt, "PROJECTION[")?.to_ascii_lowercase();
    let method = match name.as_str() {
        "lambert_conformal_conic"
        | "lambert_conformal_conic_2sp"
        | "lambert_conformal_conic_1sp" => "lcc",
        "transverse_mercator" => "tmerc",
        "lambert_azimuthal_equal_area" => "laea",
        // Web Mercator only: a Mercator on the ellipsoid (EPSG:3395) is not among the known.
        "mercator_auxiliary_sphere" | "popular_visualisation_pseudo_mercator" => "merc",
        _ => return None,
    };
    Some(method)
}

/// `PARAMETER["name",value]` pairs, names lower-cased.
fn parameters(wkt: &str) -> HashMap<String, f64> {
    let mut found = HashMap::new();
    let mut rest = wkt;
    while let Some(at) = find_keyword(rest, "PARAMETER[") {
        rest = &rest[at + "PARAMETER[".len()..];
        let Some(end) = rest.find(']') else { break };
        let mut parts = rest[..end].splitn(2, ',');
        let name = parts
            .next()
            .unwrap_or("")
            .trim()
            .trim_matches('"')
            .to_ascii_lowercase();
        if let Some(value) = parts.next().and_then(|v| v.trim().parse::<f64>().ok()) {
            found.insert(name, value);
        }
    }
    found
}

/// The spheroid's semi-major axis and inverse flattening.
fn spheroid(wkt: &str) -> Option<(f64, f64)> {
    let at = find_keyword(wkt, "SPHEROID[").or_else(|| find_keyword(wkt, "ELLIPSOID["))?;
    let rest = &wkt[at..];
    let inner = &rest[rest.find('[')? + 1..rest.find(']')?];
    let mut parts = inner.split(',').skip(1);
    let a = parts.next()?.trim().parse().ok()?;
    let inverse_flattening = parts.next()?.trim().parse().ok()?;
    Some((a, inverse_flattening))
}

/// The factor of the last `UNIT` (a PROJCS's own unit comes after its GEOGCS).
fn last_unit(wkt: &str) -> Option<f64> {
    let upper = wkt.to_ascii_uppercase();
    let at = upper.rfind("UNIT[")?;
    let rest = &wkt[at..];
    let inner = &rest[rest.find('[')? + 1..rest.find(']')?];
    inner.split(',').nth(1)?.trim().parse().ok()
}

fn datum_name(wkt: &str) -> Option<String> {
    quoted_after(wkt, "DATUM[").map(str::to_owned)
}

/// The first quoted string after `keyword` (case-insensitive).
fn quoted_after<'a>(wkt: &'a str, keyword: &str) -> Option<&'a str> {
    let at = find_keyword(wkt, keyword)? + keyword.len();
    let rest = &wkt[at..];
    let start = rest.find('"')? + 1;
    let end = start + rest[start..].find('"')?;
    Some(&rest[start..end])
}

fn find_keyword(text: &str, keyword: &str) -> Option<usize> {
    text.to_ascii_uppercase()
        .find(&keyword.to_ascii_uppercase())
}

/// Whether a known CRS's proj4 string says what the WKT says.
fn matches_projected(
    proj4: &str,
    method: &str,
    wkt: &HashMap<String, f64>,
    (a, inverse_flattening): (f64, f64),
    unit: f64,
) -> bool {
    let mut known: HashMap<&str, String> = proj4
        .split_whitespace()
        .filter_map(|t| t.strip_prefix('+'))
        .map(|t| t.split_once('=').unwrap_or((t, "")))
        .map(|(k, v)| (k, v.to_owned()))
        .collect();
    // UTM as the transverse Mercator it is.
    if known.get("proj").map(String::as_str) == Some("utm") {
        let zone: f64 = known
            .get("zone")
            .and_then(|z| z.parse().ok())
            .unwrap_or(0.0);
        let south = known.contains_key("south");
        known.insert("proj", "tmerc".to_owned());
        known.insert("lon_0", (zone * 6.0 - 183.0).to_string());
        known.insert("k_0", "0.9996".to_owned());
        known.insert("x_0", "500000".to_owned());
        known.insert("y_0", if south { "10000000" } else { "0" }.to_owned());
    }
    if known.get("proj").map(String::as_str) != Some(method) {
        return false;
    }
    let number = |key: &str, default: f64| {
        known
            .get(key)
            .and_then(|v| v.parse::<f64>().ok())
            .unwrap_or(default)
    };
    let given = |names: &[&str], default: f64| {
        names
            .iter()
            .find_map(|n| wkt.get(*n).copied())
            .unwrap_or(default)
    };
    let close = |x: f64, y: f64| (x - y).abs() <= 1e-9 * x.abs().max(y.abs()).max(1.0);
    let lat_0 = given(&["latitude_of_origin", "latitude_of_center"], 0.0);
    let (lat_1, lat_2) = if method == "lcc" && !wkt.contains_key("standard_parallel_1") {
        (lat_0, lat_0) // the one-parallel form: its parallel is the origin's
    } else {
        (
            given(&["standard_parallel_1"], 0.0),
            given(
                &["standard_parallel_2"],
                given(&["standard_parallel_1"], 0.0),
            ),
        )
    };
    let lon_0 = given(&["central_meridian", "longitude_of_center"], 0.0);
    let k = given(&["scale_factor"], 1.0);
    let checks = [
        close(number("x_0", 0.0), given(&["false_easting"], 0.0) * unit),
        close(number("y_0", 0.0), given(&["false_northing"], 0.0) * unit),
        close(number("lon_0", 0.0), lon_0),
        close(number("lat_0", 0.0), lat_0) || method == "merc",
        method != "lcc"
            || (close(number("lat_1", lat_1), lat_1) && close(number("lat_2", lat_1), lat_2)),
        close(number("k_0", number("k", 1.0)), k),
        close(number("units_factor", 1.0), 1.0) && close(unit, 1.0),
    ];
    checks.iter().all(|c| *c) && ellipsoid_matches(&known, a, inverse_flattening)
}

fn ellipsoid_matches(known: &HashMap<&str, String>, a: f64, inverse_flattening: f64) -> bool {
    let name = known.get("ellps").or_else(|| known.get("datum"));
    let (known_a, known_rf) = match name.map(String::as_str) {
        Some("GRS80") => (6_378_137.0, 298.257_222_101),
        Some("WGS84") => (6_378_137.0, 298.257_223_563),
        Some("clrk80ign") => (6_378_249.2, 293.466_021_293_627),
        Some("intl") => (6_378_388.0, 297.0),
        _ => match (known.get("a"), known.get("b")) {
            // A sphere (Web Mercator): a = b, no flattening.
            (Some(a), Some(b)) if a == b => (a.parse().unwrap_or(0.0), 0.0),
            _ => return false,
        },
    };
    (a - known_a).abs() < 1e-3
        && ((inverse_flattening - known_rf).abs() < 1e-6
            // Web Mercator's WKT names the WGS 84 ellipsoid; its proj4 string the sphere.
            || (known_rf == 0.0 && (inverse_flattening - 298.257_223_563).abs() < 1e-6))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn esri_prj_files_are_recognised() {
        let cases = [
            (
                r#"PROJCS["RGF_1993_Lambert_93",GEOGCS["GCS_RGF_1993",DATUM["D_RGF_1993",SPHEROID["GRS_1980",6378137.0,298.257222101]],PRIMEM["Greenwich",0.0],UNIT["Degree",0.0174532925199433]],PROJECTION["Lambert_Conformal_Conic"],PARAMETER["False_Easting",700000.0],PARAMETER["False_Northing",6600000.0],PARAMETER["Central_Meridian",3.0],PARAMETER["Standard_Parallel_1",49.0],PARAMETER["Standard_Parallel_2",44.0],PARAMETER["Latitude_Of_Origin",46.5],UNIT["Meter",1.0]]"#,
                "EPSG:2154",
            ),
            (
                r#"PROJCS["RGF_1993_CC46",GEOGCS["GCS_RGF_1993",DATUM["D_RGF_1993",SPHEROID["GRS_1980",6378137.0,298.257222101]],PRIMEM["Greenwich",0.0],UNIT["Degree",0.0174532925199433]],PROJECTION["Lambert_Conformal_Conic"],PARAMETER["False_Easting",1700000.0],PARAMETER["False_Northing",5200000.0],PARAMETER["Central_Meridian",3.0],PARAMETER["Standard_Parallel_1",45.25],PARAMETER["Standard_Parallel_2",46.75],PARAMETER["Latitude_Of_Origin",46.0],UNIT["Meter",1.0]]"#,
                "EPSG:3946",
            ),
            (
                r#"PROJCS["WGS_1984_Web_Mercator_Auxiliary_Sphere",GEOGCS["GCS_WGS_1984",DATUM["D_WGS_1984",SPHEROID["WGS_1984",6378137.0,298.257223563]],PRIMEM["Greenwich",0.0],UNIT["Degree",0.0174532925199433]],PROJECTION["Mercator_Auxiliary_Sphere"],PARAMETER["False_Easting",0.0],PARAMETER["False_Northing",0.0],PARAMETER["Central_Meridian",0.0],PARAMETER["Standard_Parallel_1",0.0],PARAMETER["Auxiliary_Sphere_Type",0.0],UNIT["Meter",1.0]]"#,
                "EPSG:3857",
            ),
            (
                r#"PROJCS["WGS_1984_UTM_Zone_31N",GEOGCS["GCS_WGS_1984",DATUM["D_WGS_1984",SPHEROID["WGS_1984",6378137.0,298.257223563]],PRIMEM["Greenwich",0.0],UNIT["Degree",0.0174532925199433]],PROJECTION["Transverse_Mercator"],PARAMETER["False_Easting",500000.0],PARAMETER["False_Northing",0.0],PARAMETER["Central_Meridian",3.0],PARAMETER["Scale_Factor",0.9996],PARAMETER["Latitude_Of_Origin",0.0],UNIT["Meter",1.0]]"#,
                "EPSG:32631",
            ),
            (
                r#"GEOGCS["GCS_WGS_1984",DATUM["D_WGS_1984",SPHEROID["WGS_1984",6378137.0,298.257223563]],PRIMEM["Greenwich",0.0],UNIT["Degree",0.0174532925199433]]"#,
                "EPSG:4326",
            ),
            (
                r#"GEOGCS["GCS_RGF_1993",DATUM["D_RGF_1993",SPHEROID["GRS_1980",6378137.0,298.257222101]],PRIMEM["Greenwich",0.0],UNIT["Degree",0.0174532925199433]]"#,
                "EPSG:4171",
            ),
        ];
        for (wkt, code) in cases {
            assert_eq!(
                identify(wkt).map(|c| c.code().to_owned()),
                Some(code.to_owned()),
                "{wkt}"
            );
        }
    }

    #[test]
    fn a_definition_that_matches_nothing_known_is_not_guessed() {
        // Lambert-93 with another false easting; a projection we do not know; a datum we do not.
        let shifted = r#"PROJCS["x",GEOGCS["g",DATUM["D_RGF_1993",SPHEROID["GRS_1980",6378137.0,298.257222101]],PRIMEM["Greenwich",0.0],UNIT["Degree",0.0174532925199433]],PROJECTION["Lambert_Conformal_Conic"],PARAMETER["False_Easting",700001.0],PARAMETER["False_Northing",6600000.0],PARAMETER["Central_Meridian",3.0],PARAMETER["Standard_Parallel_1",49.0],PARAMETER["Standard_Parallel_2",44.0],PARAMETER["Latitude_Of_Origin",46.5],UNIT["Meter",1.0]]"#;
        assert_eq!(identify(shifted), None);
        let other = shifted.replace("Lambert_Conformal_Conic", "Polyconic");
        assert_eq!(identify(&other), None);
        let datum = r#"GEOGCS["GCS_Tokyo",DATUM["D_Tokyo",SPHEROID["Bessel_1841",6377397.155,299.1528128]],PRIMEM["Greenwich",0.0],UNIT["Degree",0.0174532925199433]]"#;
        assert_eq!(identify(datum), None);
        assert_eq!(identify("not a definition"), None);
    }
}
