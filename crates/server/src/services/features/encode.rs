//! Features as documents: GML 3.2 (WFS 2.0.0), GML 3.1.1 (WFS 1.1.0) and GeoJSON, written
//! one feature at a time to a [`Write`] so that answers stream.
//!
//! Coordinates are written in the shortest form that reads back to the same `f64` (a round
//! trip loses nothing), in the axis order of the answer's CRS for GML (latitude first for
//! EPSG:4326, as WFS 2.0 clients expect) and always x/y in GeoJSON. Numbers are numbers,
//! booleans booleans, dates text as stored; absent values are left out of GML and `null` in
//! GeoJSON.

use std::io::{self, Write};

use geo_types::{Geometry, LineString, Polygon};
use vectorstore::{Record, Value};

use super::protocol::{NAMESPACE, PREFIX};
use super::schema::GEOMETRY_PROPERTY;
use crate::services::ogc::xml_escape;

/// An answer's document format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// GML 3.2 in a WFS 2.0 `FeatureCollection`.
    Gml32,
    /// GML 3.1.1 in a WFS 1.1 `FeatureCollection`.
    Gml311,
    /// A GeoJSON `FeatureCollection`.
    GeoJson,
    /// GetPropertyValue: a WFS 2.0 `ValueCollection` of one property (its value, or its GML
    /// geometry), named in [`Summary::value_reference`].
    Values,
}

impl Format {
    /// The `Content-Type` of the answer.
    pub fn content_type(self) -> &'static str {
        match self {
            Format::Gml32 | Format::Values => "application/gml+xml; version=3.2",
            Format::Gml311 => "text/xml; subtype=gml/3.1.1",
            Format::GeoJson => "application/geo+json",
        }
    }
}

/// What the collection's head (or tail, for GeoJSON) says.
#[derive(Debug, Clone)]
pub struct Summary {
    /// Features matching the query (all pages).
    pub matched: u64,
    /// Features in this answer.
    pub returned: u64,
    /// Whether only the number is asked (`RESULTTYPE=hits`).
    pub hits: bool,
    /// GetPropertyValue: the property (`None`: the geometry).
    pub value_reference: Option<String>,
    /// The next page, if any.
    pub next: Option<String>,
    /// The previous page, if any.
    pub previous: Option<String>,
    /// `xsi:schemaLocation` of the application schema (GML).
    pub schema_location: String,
    /// The answer's CRS, as a URN.
    pub crs_urn: String,
    /// Whether GML coordinates are written y first.
    pub north_east: bool,
    /// OGC API – Features: ids are the feature numbers, GeoJSON follows the CRS's axis order
    /// (`json_north_east`), and the tail carries these links instead of `next`/`previous`
    /// and `crs`.
    pub ogc_api: Option<OgcApiTail>,
}

/// What OGC API – Features changes in a GeoJSON answer.
#[derive(Debug, Clone, Default)]
pub struct OgcApiTail {
    /// The answer's links.
    pub links: Vec<serde_json::Value>,
    /// Whether coordinates are written y first (a CRS other than CRS84 whose axis order says
    /// so, as OGC API – Features Part 2 requires).
    pub json_north_east: bool,
}

fn timestamp() -> String {
    humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string()
}

/// The WFS 2.0 root's `timeStamp`, counts and page links, and the end of its start tag.
fn counts_and_links(out: &mut dyn Write, summary: &Summary) -> io::Result<()> {
    write!(
        out,
        "timeStamp=\"{}\" numberMatched=\"{}\" numberReturned=\"{}\"",
        timestamp(),
        summary.matched,
        summary.returned
    )?;
    if let Some(next) = &summary.next {
        write!(out, " next=\"{}\"", xml_escape(next))?;
    }
    if let Some(previous) = &summary.previous {
        write!(out, " previous=\"{}\"", xml_escape(previous))?;
    }
    out.write_all(b">\n")
}

/// Writes the collection's start.
pub fn start(out: &mut dyn Write, format: Format, summary: &Summary) -> io::Result<()> {
    match format {
        Format::Gml32 => {
            write!(
                out,
                "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n\
                 <wfs:FeatureCollection xmlns:wfs=\"http://www.opengis.net/wfs/2.0\" \
                 xmlns:gml=\"http://www.opengis.net/gml/3.2\" xmlns:{PREFIX}=\"{NAMESPACE}\" \
                 xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\" \
                 xsi:schemaLocation=\"http://www.opengis.net/wfs/2.0 http://schemas.opengis.net/wfs/2.0/wfs.xsd \
                 http://www.opengis.net/gml/3.2 http://schemas.opengis.net/gml/3.2.1/gml.xsd {NAMESPACE} {}\" \
                 ",
                xml_escape(&summary.schema_location),
            )?;
            counts_and_links(out, summary)
        }
        Format::Gml311 => write!(
            out,
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n\
             <wfs:FeatureCollection xmlns:wfs=\"http://www.opengis.net/wfs\" \
             xmlns:gml=\"http://www.opengis.net/gml\" xmlns:{PREFIX}=\"{NAMESPACE}\" \
             xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\" \
             xsi:schemaLocation=\"http://www.opengis.net/wfs http://schemas.opengis.net/wfs/1.1.0/wfs.xsd {NAMESPACE} {}\" \
             timeStamp=\"{}\" numberOfFeatures=\"{}\">\n",
            xml_escape(&summary.schema_location),
            timestamp(),
            if summary.hits {
                summary.matched
            } else {
                summary.returned
            }
        ),
        Format::GeoJson => out.write_all(b"{\"type\":\"FeatureCollection\",\"features\":["),
        Format::Values => {
            write!(
                out,
                "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n\
                 <wfs:ValueCollection xmlns:wfs=\"http://www.opengis.net/wfs/2.0\" \
                 xmlns:gml=\"http://www.opengis.net/gml/3.2\" xmlns:{PREFIX}=\"{NAMESPACE}\" \
                 "
            )?;
            counts_and_links(out, summary)
        }
    }
}

/// Writes the collection's end.
pub fn end(out: &mut dyn Write, format: Format, summary: &Summary) -> io::Result<()> {
    match format {
        Format::Gml32 | Format::Gml311 => out.write_all(b"</wfs:FeatureCollection>\n"),
        Format::Values => out.write_all(b"</wfs:ValueCollection>\n"),
        Format::GeoJson => {
            let tail = if let Some(ogc_api) = &summary.ogc_api {
                serde_json::json!({
                    "numberMatched": summary.matched,
                    "numberReturned": summary.returned,
                    "timeStamp": timestamp(),
                    "links": ogc_api.links,
                })
            } else {
                let mut links = Vec::new();
                for (rel, href) in [("next", &summary.next), ("prev", &summary.previous)] {
                    if let Some(href) = href {
                        links.push(serde_json::json!({
                            "rel": rel, "href": href, "type": "application/geo+json"
                        }));
                    }
                }
                serde_json::json!({
                    "numberMatched": summary.matched,
                    "numberReturned": summary.returned,
                    "timeStamp": timestamp(),
                    "crs": {"type": "name", "properties": {"name": summary.crs_urn}},
                    "links": links,
                })
            };
            let tail = tail.to_string();
            // The object's members after "features": drop its opening brace.
            out.write_all(b"],")?;
            out.write_all(&tail.as_bytes()[1..])?;
            out.write_all(b"\n")
        }
    }
}

/// Writes one feature of type `type_name`; `first` is whether it opens the list.
pub fn feature(
    out: &mut dyn Write,
    format: Format,
    summary: &Summary,
    type_name: &str,
    record: &Record,
    first: bool,
) -> io::Result<()> {
    match format {
        Format::GeoJson => geojson_feature(out, summary, type_name, record, first),
        Format::Values => {
            out.write_all(b"<wfs:member>")?;
            match &summary.value_reference {
                None => {
                    if let Some(geometry) = &record.geometry {
                        let id = format!("{type_name}.{}", record.fid);
                        Gml {
                            out,
                            srs: &summary.crs_urn,
                            north_east: summary.north_east,
                            id: &id,
                            count: 0,
                            with_ids: true,
                        }
                        .geometry(geometry, true)?;
                    }
                }
                Some(name) => {
                    if let Some(text) = record.property(name).and_then(xml_value) {
                        out.write_all(text.as_bytes())?;
                    }
                }
            }
            out.write_all(b"</wfs:member>\n")
        }
        Format::Gml32 | Format::Gml311 => {
            let (open, close) = if format == Format::Gml32 {
                ("<wfs:member>", "</wfs:member>\n")
            } else {
                ("<gml:featureMember>", "</gml:featureMember>\n")
            };
            let id = format!("{type_name}.{}", record.fid);
            write!(
                out,
                "{open}<{PREFIX}:{type_name} gml:id=\"{}\">",
                xml_escape(&id)
            )?;
            if let Some(geometry) = &record.geometry {
                write!(out, "<{PREFIX}:{GEOMETRY_PROPERTY}>")?;
                let mut gml = Gml {
                    out,
                    srs: &summary.crs_urn,
                    north_east: summary.north_east,
                    id: &id,
                    count: 0,
                    with_ids: format == Format::Gml32,
                };
                gml.geometry(geometry, true)?;
                write!(out, "</{PREFIX}:{GEOMETRY_PROPERTY}>")?;
            }
            for (name, value) in &record.properties {
                if let Some(text) = xml_value(value) {
                    write!(out, "<{PREFIX}:{name}>{text}</{PREFIX}:{name}>")?;
                }
            }
            write!(out, "</{PREFIX}:{type_name}>{close}")
        }
    }
}

/// A value as XML text (escaped); `None` for a null (left out).
fn xml_value(value: &Value) -> Option<String> {
    Some(match value {
        Value::Bool(b) => b.to_string(),
        Value::Integer(i) => i.to_string(),
        Value::Real(r) if r.is_finite() => r.to_string(),
        Value::Null | Value::Real(_) => return None,
        Value::Text(t) => xml_escape(t).into_owned(),
        Value::Blob(b) => hex(b),
    })
}

fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write as _;
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        let _ = write!(out, "{b:02X}");
    }
    out
}

fn geojson_feature(
    out: &mut dyn Write,
    summary: &Summary,
    type_name: &str,
    record: &Record,
    first: bool,
) -> io::Result<()> {
    if !first {
        out.write_all(b",\n")?;
    }
    let id = match &summary.ogc_api {
        Some(_) => serde_json::Value::from(record.fid),
        None => serde_json::Value::from(format!("{type_name}.{}", record.fid)),
    };
    write!(out, "{{\"type\":\"Feature\",\"id\":{id},\"geometry\":")?;
    let swap = summary.ogc_api.as_ref().is_some_and(|o| o.json_north_east);
    match &record.geometry {
        Some(geometry) => geojson_geometry(out, geometry, swap)?,
        None => out.write_all(b"null")?,
    }
    out.write_all(b",\"properties\":{")?;
    for (k, (name, value)) in record.properties.iter().enumerate() {
        if k > 0 {
            out.write_all(b",")?;
        }
        let value = match value {
            Value::Null => serde_json::Value::Null,
            Value::Bool(b) => serde_json::Value::from(*b),
            Value::Integer(i) => serde_json::Value::from(*i),
            Value::Real(r) => serde_json::Number::from_f64(*r)
                .map_or(serde_json::Value::Null, serde_json::Value::Number),
            Value::Text(t) => serde_json::Value::from(t.as_str()),
            Value::Blob(b) => serde_json::Value::from(hex(b)),
        };
        write!(out, "{}:{}", serde_json::Value::from(&**name), value)?;
    }
    out.write_all(b"}}")
}

/// `[a,b,…]`, each item written by `each`.
fn list<T>(
    out: &mut dyn Write,
    items: &[T],
    mut each: impl FnMut(&mut dyn Write, &T) -> io::Result<()>,
) -> io::Result<()> {
    out.write_all(b"[")?;
    for (k, item) in items.iter().enumerate() {
        if k > 0 {
            out.write_all(b",")?;
        }
        each(out, item)?;
    }
    out.write_all(b"]")
}

/// `[x,y]`, or `[y,x]` when `swap`.
fn position(out: &mut dyn Write, c: &geo_types::Coord<f64>, swap: bool) -> io::Result<()> {
    if swap {
        write!(out, "[{},{}]", c.y, c.x)
    } else {
        write!(out, "[{},{}]", c.x, c.y)
    }
}

fn positions(out: &mut dyn Write, line: &LineString<f64>, swap: bool) -> io::Result<()> {
    list(out, &line.0, |out, c| position(out, c, swap))
}

fn rings(out: &mut dyn Write, polygon: &Polygon<f64>, swap: bool) -> io::Result<()> {
    out.write_all(b"[")?;
    positions(out, polygon.exterior(), swap)?;
    for ring in polygon.interiors() {
        out.write_all(b",")?;
        positions(out, ring, swap)?;
    }
    out.write_all(b"]")
}

fn geojson_geometry(out: &mut dyn Write, geometry: &Geometry<f64>, swap: bool) -> io::Result<()> {
    let (kind, member) = match geometry {
        Geometry::Point(_) => ("Point", "coordinates"),
        Geometry::LineString(_) | Geometry::Line(_) => ("LineString", "coordinates"),
        Geometry::Polygon(_) | Geometry::Rect(_) | Geometry::Triangle(_) => {
            ("Polygon", "coordinates")
        }
        Geometry::MultiPoint(_) => ("MultiPoint", "coordinates"),
        Geometry::MultiLineString(_) => ("MultiLineString", "coordinates"),
        Geometry::MultiPolygon(_) => ("MultiPolygon", "coordinates"),
        Geometry::GeometryCollection(_) => ("GeometryCollection", "geometries"),
    };
    write!(out, "{{\"type\":\"{kind}\",\"{member}\":")?;
    match geometry {
        Geometry::Point(p) => position(out, &p.0, swap)?,
        Geometry::LineString(l) => positions(out, l, swap)?,
        Geometry::Line(l) => positions(out, &LineString::from(vec![l.start, l.end]), swap)?,
        Geometry::Polygon(p) => rings(out, p, swap)?,
        Geometry::Rect(r) => rings(out, &r.to_polygon(), swap)?,
        Geometry::Triangle(t) => rings(out, &t.to_polygon(), swap)?,
        Geometry::MultiPoint(m) => list(out, &m.0, |out, p| position(out, &p.0, swap))?,
        Geometry::MultiLineString(m) => list(out, &m.0, |out, l| positions(out, l, swap))?,
        Geometry::MultiPolygon(m) => list(out, &m.0, |out, p| rings(out, p, swap))?,
        Geometry::GeometryCollection(c) => {
            list(out, &c.0, |out, g| geojson_geometry(out, g, swap))?;
        }
    }
    out.write_all(b"}")
}

/// A GML geometry writer: `gml:id`s numbered under the feature's (GML 3.2 requires them).
struct Gml<'a> {
    out: &'a mut dyn Write,
    srs: &'a str,
    north_east: bool,
    id: &'a str,
    count: usize,
    with_ids: bool,
}

impl Gml<'_> {
    fn open(&mut self, element: &str, top: bool) -> io::Result<()> {
        write!(self.out, "<gml:{element}")?;
        if self.with_ids {
            self.count += 1;
            write!(
                self.out,
                " gml:id=\"{}.g{}\"",
                xml_escape(self.id),
                self.count
            )?;
        }
        if top {
            write!(self.out, " srsName=\"{}\"", self.srs)?;
        }
        self.out.write_all(b">")
    }

    fn pair(&mut self, x: f64, y: f64) -> io::Result<()> {
        if self.north_east {
            write!(self.out, "{y} {x}")
        } else {
            write!(self.out, "{x} {y}")
        }
    }

    fn pos_list(&mut self, line: &LineString<f64>) -> io::Result<()> {
        self.out.write_all(b"<gml:posList srsDimension=\"2\">")?;
        for (k, c) in line.0.iter().enumerate() {
            if k > 0 {
                self.out.write_all(b" ")?;
            }
            self.pair(c.x, c.y)?;
        }
        self.out.write_all(b"</gml:posList>")
    }

    fn polygon(&mut self, polygon: &Polygon<f64>, top: bool) -> io::Result<()> {
        self.open("Polygon", top)?;
        self.out.write_all(b"<gml:exterior><gml:LinearRing>")?;
        self.pos_list(polygon.exterior())?;
        self.out.write_all(b"</gml:LinearRing></gml:exterior>")?;
        for ring in polygon.interiors() {
            self.out.write_all(b"<gml:interior><gml:LinearRing>")?;
            self.pos_list(ring)?;
            self.out.write_all(b"</gml:LinearRing></gml:interior>")?;
        }
        self.out.write_all(b"</gml:Polygon>")
    }

    fn line(&mut self, line: &LineString<f64>, top: bool) -> io::Result<()> {
        self.open("LineString", top)?;
        self.pos_list(line)?;
        self.out.write_all(b"</gml:LineString>")
    }

    fn point(&mut self, x: f64, y: f64, top: bool) -> io::Result<()> {
        self.open("Point", top)?;
        self.out.write_all(b"<gml:pos srsDimension=\"2\">")?;
        self.pair(x, y)?;
        self.out.write_all(b"</gml:pos></gml:Point>")
    }

    fn geometry(&mut self, geometry: &Geometry<f64>, top: bool) -> io::Result<()> {
        match geometry {
            Geometry::Point(p) => self.point(p.x(), p.y(), top),
            Geometry::LineString(l) => self.line(l, top),
            Geometry::Polygon(p) => self.polygon(p, top),
            Geometry::MultiPoint(m) => {
                self.open("MultiPoint", top)?;
                for p in &m.0 {
                    self.out.write_all(b"<gml:pointMember>")?;
                    self.point(p.x(), p.y(), false)?;
                    self.out.write_all(b"</gml:pointMember>")?;
                }
                self.out.write_all(b"</gml:MultiPoint>")
            }
            Geometry::MultiLineString(m) => {
                self.open("MultiCurve", top)?;
                for l in &m.0 {
                    self.out.write_all(b"<gml:curveMember>")?;
                    self.line(l, false)?;
                    self.out.write_all(b"</gml:curveMember>")?;
                }
                self.out.write_all(b"</gml:MultiCurve>")
            }
            Geometry::MultiPolygon(m) => {
                self.open("MultiSurface", top)?;
                for p in &m.0 {
                    self.out.write_all(b"<gml:surfaceMember>")?;
                    self.polygon(p, false)?;
                    self.out.write_all(b"</gml:surfaceMember>")?;
                }
                self.out.write_all(b"</gml:MultiSurface>")
            }
            Geometry::GeometryCollection(c) => {
                self.open("MultiGeometry", top)?;
                for g in &c.0 {
                    self.out.write_all(b"<gml:geometryMember>")?;
                    self.geometry(g, false)?;
                    self.out.write_all(b"</gml:geometryMember>")?;
                }
                self.out.write_all(b"</gml:MultiGeometry>")
            }
            Geometry::Line(l) => self.line(&LineString::from(vec![l.start, l.end]), top),
            Geometry::Rect(r) => self.polygon(&r.to_polygon(), top),
            Geometry::Triangle(t) => self.polygon(&t.to_polygon(), top),
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use std::sync::Arc;

    fn summary(north_east: bool) -> Summary {
        Summary {
            matched: 2,
            returned: 1,
            hits: false,
            value_reference: None,
            next: Some("http://h/wfs?STARTINDEX=1&a=<b>".to_owned()),
            previous: None,
            schema_location: "http://h/wfs?REQUEST=DescribeFeatureType".to_owned(),
            crs_urn: "urn:ogc:def:crs:EPSG::4326".to_owned(),
            north_east,
            ogc_api: None,
        }
    }

    fn record() -> Record {
        Record {
            fid: 7,
            geometry: Some(Geometry::Polygon(Polygon::new(
                LineString::from(vec![(2.5, 48.0), (3.0, 48.0), (3.0, 49.1), (2.5, 48.0)]),
                vec![],
            ))),
            properties: vec![
                (Arc::from("name"), Value::Text("Île <de> France".to_owned())),
                (Arc::from("pop"), Value::Integer(12)),
                (Arc::from("area"), Value::Real(0.1)),
                (Arc::from("capital"), Value::Bool(true)),
                (Arc::from("missing"), Value::Null),
            ],
        }
    }

    #[test]
    fn geojson_is_valid_json_with_typed_values() {
        let mut out = Vec::new();
        let s = summary(true);
        start(&mut out, Format::GeoJson, &s).unwrap();
        feature(&mut out, Format::GeoJson, &s, "regions", &record(), true).unwrap();
        feature(
            &mut out,
            Format::GeoJson,
            &s,
            "regions",
            &Record {
                fid: 8,
                geometry: None,
                properties: vec![],
            },
            false,
        )
        .unwrap();
        end(&mut out, Format::GeoJson, &s).unwrap();
        let json: serde_json::Value = serde_json::from_slice(&out).unwrap();
        assert_eq!(json["numberMatched"], 2);
        assert_eq!(json["features"][0]["id"], "regions.7");
        // GeoJSON stays x/y whatever the CRS's axis order.
        assert_eq!(
            json["features"][0]["geometry"]["coordinates"][0][2][1],
            49.1
        );
        let p = &json["features"][0]["properties"];
        assert_eq!(p["name"], "Île <de> France");
        assert_eq!(p["pop"], 12);
        assert_eq!(p["area"], 0.1);
        assert_eq!(p["capital"], true);
        assert!(p["missing"].is_null());
        assert!(json["features"][1]["geometry"].is_null());
        assert_eq!(json["links"][0]["rel"], "next");
    }

    #[test]
    fn gml_swaps_axes_escapes_text_and_numbers_geometries() {
        let mut out = Vec::new();
        let s = summary(true);
        start(&mut out, Format::Gml32, &s).unwrap();
        feature(&mut out, Format::Gml32, &s, "regions", &record(), true).unwrap();
        end(&mut out, Format::Gml32, &s).unwrap();
        let text = String::from_utf8(out).unwrap();
        assert!(
            text.contains("numberMatched=\"2\" numberReturned=\"1\""),
            "{text}"
        );
        assert!(text.contains("next=\"http://h/wfs?STARTINDEX=1&amp;a=&lt;b&gt;\""));
        assert!(
            text.contains(
                "<gml:posList srsDimension=\"2\">48 2.5 48 3 49.1 3 48 2.5</gml:posList>"
            ),
            "{text}"
        );
        assert!(text.contains(
            "<gml:Polygon gml:id=\"regions.7.g1\" srsName=\"urn:ogc:def:crs:EPSG::4326\">"
        ));
        assert!(text.contains("<tuilerie:name>Île &lt;de&gt; France</tuilerie:name>"));
        assert!(!text.contains("missing"));
        // Well-formed.
        let mut reader = quick_xml::Reader::from_str(&text);
        loop {
            if reader.read_event().unwrap() == quick_xml::events::Event::Eof {
                break;
            }
        }
    }
}
