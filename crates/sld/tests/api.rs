//! The public API: publication checks, rule selection, expression evaluation, safety bounds,
//! and a property test feeding random and mutated corpus bytes to the parser.

use std::collections::HashMap;
use std::path::Path;
use std::time::{Duration, Instant};

use proptest::prelude::*;
use sld::{Severity, SldError, Value};

fn fixture(name: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../fixtures/sld")
        .join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn parse(name: &str) -> sld::Sld {
    sld::parse(&fixture(name)).unwrap_or_else(|e| panic!("{name}: {e}"))
}

fn feature(pairs: &[(&str, Value)]) -> HashMap<String, Value> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), v.clone()))
        .collect()
}

#[test]
fn check_layer_accepts_the_named_layer_and_names_the_mismatch_with_its_line() {
    let sld = parse("good/qgis_simple_line.sld");
    assert!(sld.check_layer("troncon_de_route").is_empty());
    let problems = sld.check_layer("routes");
    assert_eq!(problems.len(), 1);
    assert_eq!(problems[0].severity, Severity::Error);
    assert_eq!(problems[0].line, 4);
    assert_eq!(
        problems[0].message,
        "NamedLayer name 'troncon_de_route' does not match the layer 'routes'"
    );
    assert!(problems[0]
        .hint
        .as_deref()
        .is_some_and(|h| h.contains("<Name>routes</Name>")));
}

#[test]
fn check_layer_only_warns_when_names_match_after_normalisation() {
    let sld = sld::parse(
        r#"<StyledLayerDescriptor version="1.0.0" xmlns="http://www.opengis.net/sld">
        <NamedLayer><Name>Cantons-Lux</Name><UserStyle><FeatureTypeStyle><Rule><LineSymbolizer/>
        </Rule></FeatureTypeStyle></UserStyle></NamedLayer></StyledLayerDescriptor>"#,
    )
    .expect("parses");
    let problems = sld.check_layer("cantons_lux");
    assert_eq!(problems.len(), 1);
    assert_eq!(problems[0].severity, Severity::Warning);
}

#[test]
fn check_attributes_names_every_unknown_property_with_the_attributes_there_are() {
    let sld = parse("good/qgis_rule_based.sld");
    assert!(sld
        .check_attributes(&["id", "nature", "importance"])
        .is_empty());
    let problems = sld.check_attributes(&["id", "nom", "importance"]);
    assert_eq!(problems.len(), 2, "{problems:#?}");
    assert!(problems.iter().all(|p| p.severity == Severity::Error));
    assert_eq!(
        problems[0].message,
        "PropertyName 'nature' is not an attribute of 'troncon_de_route' (attributes: id, nom, importance)"
    );
    assert!(problems[0].line > 0 && problems[0].line < problems[1].line);
    // NAME_1 written against the original file, name_1 in the stored table: a warning.
    let upper = sld.check_attributes(&["NATURE", "IMPORTANCE"]);
    assert!(
        upper.iter().all(|p| p.severity == Severity::Warning),
        "{upper:#?}"
    );
}

#[test]
fn properties_lists_uses_in_filters_labels_and_parameters() {
    let sld = parse("good/gs_functions.sld");
    let names: Vec<&str> = sld.properties().iter().map(|(n, _)| *n).collect();
    for wanted in ["pop_est", "continent", "gdp_md_est", "name_fr", "name"] {
        assert!(names.contains(&wanted), "{wanted} in {names:?}");
    }
}

#[test]
fn rules_for_honours_filters_scales_and_else_filter() {
    let sld = parse("good/pair_categorized_labels_1.0.0.sld");
    let style = sld.default_style().expect("a style");
    let home = feature(&[
        ("usage", Value::from("Résidentiel")),
        ("nom", Value::from("A")),
    ]);
    let shop = feature(&[("usage", Value::from("Commerce"))]);
    let names = |f: &HashMap<String, Value>, scale| -> Vec<String> {
        style
            .rules_for(f, scale)
            .iter()
            .filter_map(|r| r.name.clone())
            .collect()
    };
    assert_eq!(names(&home, 4000.0), ["habitat", "noms"]);
    // As in GeoServer, a rule without a filter takes the feature too, so no ElseFilter here.
    assert_eq!(names(&shop, 4000.0), ["noms"]);
    assert_eq!(names(&shop, 10_000.0), ["autres"]);
    assert_eq!(names(&home, 10_000.0), ["habitat"]);
    assert!(
        names(&home, 25_000.0).is_empty(),
        "MaxScaleDenominator is exclusive"
    );
}

#[test]
fn applies_at_includes_the_min_scale_and_excludes_the_max_scale() {
    let sld = parse("good/gs_point_zoom_based.sld");
    let rules: Vec<_> = sld.rules().collect();
    assert!(rules[0].applies_at(159_999_999.0));
    assert!(!rules[0].applies_at(160_000_000.0));
    assert!(rules[1].applies_at(160_000_000.0));
    assert!(rules[2].applies_at(1e12));
}

#[test]
fn expressions_evaluate_categorize_recode_interpolate_and_mixed_labels() {
    let sld = parse("good/gs_functions.sld");
    let rule = sld.rules().next().expect("a rule");
    let sld::Symbolizer::Polygon(polygon) = &rule.symbolizers[0] else {
        panic!("a polygon symbolizer")
    };
    let sld::Symbolizer::Text(text) = &rule.symbolizers[1] else {
        panic!("a text symbolizer")
    };
    let fill = polygon
        .fill
        .as_ref()
        .and_then(|f| f.color.as_ref())
        .expect("fill");
    let stroke = polygon.stroke.as_ref().expect("stroke");
    let france = feature(&[
        ("pop_est", Value::Number(67_000_000.0)),
        ("continent", Value::from("Europe")),
        ("gdp_md_est", Value::Number(500_000.0)),
        ("name", Value::from("France")),
        ("name_fr", Value::Null),
    ]);
    assert_eq!(fill.evaluate(&france), Value::from("#FFFACD"));
    assert_eq!(
        fill.evaluate_color(&france),
        Some(sld::Color {
            r: 255,
            g: 250,
            b: 205,
            a: 255
        })
    );
    assert_eq!(
        stroke.color.as_ref().expect("c").evaluate(&france),
        Value::from("#0000FF")
    );
    let width = stroke
        .width
        .as_ref()
        .expect("w")
        .evaluate_number(&france)
        .expect("number");
    assert!((width - 1.75).abs() < 1e-9, "{width}");
    let label = text.label.as_ref().expect("label").evaluate(&france);
    assert_eq!(label, Value::from("France (67,000 k)"));
}

#[test]
fn colours_read_the_forms_qgis_and_geoserver_write() {
    let c = |s| sld::Color::parse(s);
    assert_eq!(
        c("#ff8800"),
        Some(sld::Color {
            r: 255,
            g: 136,
            b: 0,
            a: 255
        })
    );
    assert_eq!(
        c("#F80"),
        Some(sld::Color {
            r: 255,
            g: 136,
            b: 0,
            a: 255
        })
    );
    assert_eq!(
        c("#80ff8800"),
        Some(sld::Color {
            r: 255,
            g: 136,
            b: 0,
            a: 128
        })
    );
    assert_eq!(
        c("0xFF8800"),
        Some(sld::Color {
            r: 255,
            g: 136,
            b: 0,
            a: 255
        })
    );
    assert_eq!(c("red"), None);
    assert_eq!(c("#12345"), None);
    assert_eq!(
        sld::Uom::parse("http://www.opengeospatial.org/se/units/metre"),
        Some(sld::Uom::Metre)
    );
    assert_eq!(
        sld::Uom::parse("http://www.opengeospatial.org/se/units/foot"),
        Some(sld::Uom::Foot)
    );
}

#[test]
fn a_qgis_style_keeps_its_metre_unit_and_vendor_options() {
    let sld = parse("good/qgis_offset_line_metres.sld");
    let rule = sld.rules().next().expect("rule");
    assert_eq!(rule.symbolizers[0].common().uom, sld::Uom::Metre);
    let labels = parse("good/qgis_labels_lines.sld");
    let rule = labels.rules().next().expect("rule");
    let options: Vec<&str> = rule.symbolizers[1]
        .common()
        .vendor_options
        .iter()
        .map(|o| o.name.as_str())
        .collect();
    assert_eq!(options, ["followLine", "repeat", "maxAngleDelta", "group"]);
}

fn assert_fast(what: &str, started: Instant) {
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{what} took {:?}",
        started.elapsed()
    );
}

#[test]
fn hostile_xml_is_refused_fast_without_reading_any_file() {
    let started = Instant::now();
    let error = sld::parse(&fixture("broken/billion_laughs.sld")).expect_err("refused");
    assert!(matches!(error, SldError::Doctype { .. }), "{error}");
    let error = sld::parse(&fixture("broken/doctype_xxe.sld")).expect_err("refused");
    assert!(matches!(error, SldError::Doctype { .. }), "{error}");
    assert!(
        !error.to_string().contains("root:"),
        "no file content leaks"
    );
    assert_fast("DTDs", started);

    let started = Instant::now();
    let deep = format!(
        "<StyledLayerDescriptor version=\"1.0.0\">{}",
        "<NamedLayer>".repeat(100_000)
    );
    let error = sld::parse(&deep).expect_err("too deep");
    assert!(
        matches!(error, SldError::TooDeep { limit: 64, .. }),
        "{error}"
    );
    assert_fast("deep nesting", started);

    let started = Instant::now();
    let wide = format!(
        "<StyledLayerDescriptor version=\"1.0.0\">{}</StyledLayerDescriptor>",
        "<Name/>".repeat(300_000)
    );
    let error = sld::parse(&wide).expect_err("too many elements");
    assert!(matches!(error, SldError::TooManyElements { .. }), "{error}");
    assert_fast("many elements", started);

    let huge = " ".repeat(9 * 1024 * 1024);
    assert!(matches!(sld::parse(&huge), Err(SldError::TooLarge { .. })));
}

#[test]
fn bytes_must_be_utf8_and_a_byte_order_mark_is_skipped() {
    let text = fixture("good/gs_polygon_simple.sld");
    let mut bytes = b"\xEF\xBB\xBF".to_vec();
    bytes.extend_from_slice(text.as_bytes());
    assert!(sld::parse_bytes(&bytes).is_ok());
    let latin1 = b"<StyledLayerDescriptor version=\"1.0.0\">\n<Name>r\xe9seau</Name>";
    let error = sld::parse_bytes(latin1).expect_err("not UTF-8");
    assert!(
        matches!(error, SldError::Encoding { line: 2, .. }),
        "{error}"
    );
}

#[test]
fn malformed_documents_are_errors_with_a_position() {
    for (text, line) in [
        (
            "<StyledLayerDescriptor version=\"1.0.0\">\n<NamedLayer>\n</StyledLayerDescriptor>",
            3,
        ),
        (
            "<StyledLayerDescriptor version=\"1.0.0\">\n<NamedLayer a=\"1\" a=\"2\"/>",
            2,
        ),
        (
            "<StyledLayerDescriptor version=\"1.0.0\">\n<NamedLayer>\n",
            3,
        ),
    ] {
        let error = sld::parse(text).expect_err(text);
        let pos = error
            .pos()
            .unwrap_or_else(|| panic!("{error} has a position"));
        assert_eq!(pos.line, line, "{error}");
    }
}

#[test]
fn check_returns_parse_errors_as_problems() {
    let problems = sld::check("<Nope/>", Some("x"), None);
    assert_eq!(problems.len(), 1);
    assert_eq!((problems[0].line, problems[0].column), (1, 1));
}

/// The corpus, to mutate (read once).
fn corpus() -> &'static [Vec<u8>] {
    static CORPUS: std::sync::OnceLock<Vec<Vec<u8>>> = std::sync::OnceLock::new();
    CORPUS.get_or_init(read_corpus)
}

fn read_corpus() -> Vec<Vec<u8>> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/sld");
    let mut out = Vec::new();
    for sub in ["good", "broken"] {
        for entry in std::fs::read_dir(dir.join(sub)).expect("dir") {
            let path = entry.expect("entry").path();
            if path.extension().is_some_and(|e| e == "sld") {
                out.push(std::fs::read(path).expect("read"));
            }
        }
    }
    out.sort();
    out
}

fn exercise(bytes: &[u8]) {
    if let Ok(sld) = sld::parse_bytes(bytes) {
        let _ = sld.validate();
        let _ = sld.check_layer("layer");
        let _ = sld.check_attributes(&["a", "b"]);
        let empty: HashMap<String, Value> = HashMap::new();
        for style in sld.styles() {
            let _ = style.rules_for(&empty, 1000.0);
        }
    }
}

proptest! {
    // 256 cases by default; PROPTEST_CASES=1000000 makes a long fuzzing run.
    #![proptest_config(ProptestConfig::default())]

    #[test]
    fn random_bytes_never_panic_the_parser(bytes in proptest::collection::vec(any::<u8>(), 0..2048)) {
        exercise(&bytes);
    }

    #[test]
    fn mutated_corpus_files_never_panic_the_parser(
        index in 0usize..1000,
        edits in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>(), 0u8..3), 1..16),
    ) {
        let corpus = corpus();
        let mut bytes = corpus[index % corpus.len()].clone();
        for (at, byte, kind) in edits {
            if bytes.is_empty() {
                break;
            }
            let i = at.index(bytes.len());
            match kind {
                0 => bytes[i] = byte,
                1 => { bytes.remove(i); }
                _ => bytes.insert(i, byte),
            }
        }
        exercise(&bytes);
    }
}
