//! Filter Encoding evaluation on a table of cases: comparisons with GeoServer's number/text
//! coercion, `matchCase`, `PropertyIsLike` patterns, NULL, Between, logic, ids and BBOX.

use sld::{Attributes, Value};

struct Feature {
    attributes: Vec<(&'static str, Value)>,
    id: &'static str,
    envelope: [f64; 4],
}

impl Attributes for Feature {
    fn attribute(&self, name: &str) -> Option<Value> {
        self.attributes.attribute(name)
    }
    fn id(&self) -> Option<&str> {
        Some(self.id)
    }
    fn envelope(&self) -> Option<[f64; 4]> {
        Some(self.envelope)
    }
}

fn feature() -> Feature {
    Feature {
        attributes: vec![
            ("nom", Value::from("Rue de la Paix")),
            ("nature", Value::from("Route à 2 chaussées")),
            ("importance", Value::Number(2.0)),
            ("largeur", Value::Number(7.5)),
            ("code", Value::from("075")),
            ("cpx", Value::from("10")),
            ("actif", Value::Bool(true)),
            ("vide", Value::Null),
            ("pct", Value::from("50%")),
        ],
        id: "troncon.42",
        envelope: [10.0, 10.0, 20.0, 20.0],
    }
}

fn style(filter: &str) -> String {
    format!(
        r#"<StyledLayerDescriptor version="1.1.0" xmlns="http://www.opengis.net/sld"
  xmlns:se="http://www.opengis.net/se" xmlns:ogc="http://www.opengis.net/ogc"
  xmlns:fes="http://www.opengis.net/fes/2.0" xmlns:gml="http://www.opengis.net/gml">
<NamedLayer><se:Name>t</se:Name><UserStyle><se:FeatureTypeStyle><se:Rule>
{filter}
<se:LineSymbolizer/></se:Rule></se:FeatureTypeStyle></UserStyle></NamedLayer>
</StyledLayerDescriptor>"#
    )
}

fn cmp(op: &str, property: &str, literal: &str, attrs: &str) -> String {
    format!(
        "<ogc:Filter><ogc:{op}{attrs}><ogc:PropertyName>{property}</ogc:PropertyName>\
         <ogc:Literal>{literal}</ogc:Literal></ogc:{op}></ogc:Filter>"
    )
}

fn like(pattern: &str, attrs: &str) -> String {
    format!(
        "<ogc:Filter><ogc:PropertyIsLike {attrs}><ogc:PropertyName>nom</ogc:PropertyName>\
         <ogc:Literal>{pattern}</ogc:Literal></ogc:PropertyIsLike></ogc:Filter>"
    )
}

const LIKE_ATTRS: &str = r#"wildCard="*" singleChar="." escapeChar="!""#;

#[test]
fn filters_evaluate_as_geoserver_does_on_a_table_of_cases() {
    let f = feature();
    let cases: Vec<(String, bool, &str)> = vec![
        (cmp("PropertyIsEqualTo", "importance", "2", ""), true, "number = text reading as the same number"),
        (cmp("PropertyIsEqualTo", "importance", "2.0", ""), true, "2 = 2.0 as numbers"),
        (cmp("PropertyIsEqualTo", "importance", " 2 ", ""), true, "literal is trimmed"),
        (cmp("PropertyIsEqualTo", "importance", "deux", ""), false, "number vs text that is no number"),
        (cmp("PropertyIsNotEqualTo", "importance", "3", ""), true, "not equal"),
        (cmp("PropertyIsLessThan", "largeur", "10", ""), true, "7.5 < 10 numerically"),
        (cmp("PropertyIsLessThan", "cpx", "9", ""), false, "text '10' vs '9' compares as numbers, not as text"),
        (cmp("PropertyIsGreaterThan", "code", "74", ""), true, "'075' reads as 75"),
        (cmp("PropertyIsGreaterThanOrEqualTo", "largeur", "7.5", ""), true, ">= at the bound"),
        (cmp("PropertyIsLessThanOrEqualTo", "largeur", "7.4", ""), false, "<= below"),
        (cmp("PropertyIsEqualTo", "nom", "rue de la paix", ""), false, "matchCase defaults to true"),
        (cmp("PropertyIsEqualTo", "nom", "rue de la paix", r#" matchCase="false""#), true, "matchCase=false"),
        (cmp("PropertyIsNotEqualTo", "nom", "RUE DE LA PAIX", r#" matchCase="false""#), false, "not equal, case-insensitive"),
        (cmp("PropertyIsEqualTo", "nature", "Route à 2 chaussées", ""), true, "non-ASCII text"),
        (cmp("PropertyIsEqualTo", "actif", "true", ""), true, "boolean vs 'true'"),
        (cmp("PropertyIsEqualTo", "actif", "1", ""), true, "boolean vs '1'"),
        (cmp("PropertyIsEqualTo", "vide", "", ""), false, "NULL equals nothing"),
        (cmp("PropertyIsNotEqualTo", "vide", "x", ""), false, "NULL is not unequal either"),
        (cmp("PropertyIsEqualTo", "absent", "x", ""), false, "a missing attribute is NULL"),
        ("<ogc:Filter><ogc:Not>".to_owned() + &cmp("PropertyIsEqualTo", "vide", "x", "").replace("<ogc:Filter>", "").replace("</ogc:Filter>", "") + "</ogc:Not></ogc:Filter>", true, "Not of a NULL comparison"),
        (like("Rue*", LIKE_ATTRS), true, "wildcard at the end"),
        (like("*Paix", LIKE_ATTRS), true, "wildcard at the start"),
        (like("*de*", LIKE_ATTRS), true, "wildcard both sides"),
        (like("Rue de la Pai.", LIKE_ATTRS), true, "single char"),
        (like("Rue de la Pa.", LIKE_ATTRS), false, "single char is exactly one"),
        (like("rue*", LIKE_ATTRS), false, "Like matches case by default"),
        (like("rue*", &format!("{LIKE_ATTRS} matchCase=\"false\"")), true, "Like matchCase=false"),
        (like("Rue de la Paix!*", LIKE_ATTRS), false, "escaped wildcard is a literal *"),
        (like("Rue%", r#"wildCard="%" singleChar="_" escape="\""#), true, "FE 1.0 escape attribute, % wildcard"),
        (like("R_e%", r#"wildCard="%" singleChar="_" escapeChar="\""#), true, "QGIS-style _ and %"),
        (like("*a*a*a*a*a*a*a*a*a*a*a*a*b", LIKE_ATTRS), false, "many wildcards finish fast"),
        ("<ogc:Filter><ogc:PropertyIsLike wildCard=\"*\" singleChar=\".\" escapeChar=\"!\"><ogc:PropertyName>pct</ogc:PropertyName><ogc:Literal>50%</ogc:Literal></ogc:PropertyIsLike></ogc:Filter>".to_owned(), true, "% is an ordinary character with wildCard=*"),
        ("<ogc:Filter><ogc:PropertyIsNull><ogc:PropertyName>vide</ogc:PropertyName></ogc:PropertyIsNull></ogc:Filter>".to_owned(), true, "IsNull on NULL"),
        ("<ogc:Filter><ogc:PropertyIsNull><ogc:PropertyName>absent</ogc:PropertyName></ogc:PropertyIsNull></ogc:Filter>".to_owned(), true, "IsNull on a missing attribute"),
        ("<ogc:Filter><ogc:PropertyIsNull><ogc:PropertyName>nom</ogc:PropertyName></ogc:PropertyIsNull></ogc:Filter>".to_owned(), false, "IsNull on a value"),
        ("<fes:Filter><fes:PropertyIsNil><fes:ValueReference>vide</fes:ValueReference></fes:PropertyIsNil></fes:Filter>".to_owned(), true, "FES 2.0 PropertyIsNil"),
        ("<ogc:Filter><ogc:PropertyIsBetween><ogc:PropertyName>largeur</ogc:PropertyName><ogc:LowerBoundary><ogc:Literal>7.5</ogc:Literal></ogc:LowerBoundary><ogc:UpperBoundary><ogc:Literal>8</ogc:Literal></ogc:UpperBoundary></ogc:PropertyIsBetween></ogc:Filter>".to_owned(), true, "Between includes its bounds"),
        ("<ogc:Filter><ogc:PropertyIsBetween><ogc:PropertyName>largeur</ogc:PropertyName><ogc:LowerBoundary><ogc:Literal>8</ogc:Literal></ogc:LowerBoundary><ogc:UpperBoundary><ogc:Literal>9</ogc:Literal></ogc:UpperBoundary></ogc:PropertyIsBetween></ogc:Filter>".to_owned(), false, "Between outside"),
        (format!("<ogc:Filter><ogc:And>{}{}</ogc:And></ogc:Filter>", cmp("PropertyIsEqualTo", "importance", "2", "").replace("<ogc:Filter>", "").replace("</ogc:Filter>", ""), cmp("PropertyIsGreaterThan", "largeur", "5", "").replace("<ogc:Filter>", "").replace("</ogc:Filter>", "")), true, "And of two true"),
        (format!("<ogc:Filter><ogc:Or>{}{}</ogc:Or></ogc:Filter>", cmp("PropertyIsEqualTo", "importance", "3", "").replace("<ogc:Filter>", "").replace("</ogc:Filter>", ""), cmp("PropertyIsGreaterThan", "largeur", "5", "").replace("<ogc:Filter>", "").replace("</ogc:Filter>", "")), true, "Or of false and true"),
        ("<ogc:Filter><ogc:FeatureId fid=\"troncon.42\"/></ogc:Filter>".to_owned(), true, "FeatureId"),
        ("<ogc:Filter><ogc:FeatureId fid=\"troncon.7\"/><ogc:FeatureId fid=\"troncon.42\"/></ogc:Filter>".to_owned(), true, "several FeatureIds"),
        ("<ogc:Filter><ogc:GmlObjectId gml:id=\"troncon.43\"/></ogc:Filter>".to_owned(), false, "GmlObjectId of another feature"),
        ("<fes:Filter><fes:ResourceId rid=\"42\"/></fes:Filter>".to_owned(), true, "ResourceId without the layer prefix"),
        ("<ogc:Filter><ogc:BBOX><ogc:PropertyName>geom</ogc:PropertyName><gml:Envelope><gml:lowerCorner>15 15</gml:lowerCorner><gml:upperCorner>30 30</gml:upperCorner></gml:Envelope></ogc:BBOX></ogc:Filter>".to_owned(), true, "BBOX overlapping"),
        ("<ogc:Filter><ogc:BBOX><gml:Box><gml:coordinates>21,21 30,30</gml:coordinates></gml:Box></ogc:BBOX></ogc:Filter>".to_owned(), false, "BBOX disjoint"),
        ("<ogc:Filter><ogc:PropertyIsEqualTo><ogc:Function name=\"strToLowerCase\"><ogc:PropertyName>nom</ogc:PropertyName></ogc:Function><ogc:Literal>rue de la paix</ogc:Literal></ogc:PropertyIsEqualTo></ogc:Filter>".to_owned(), true, "function operand"),
        ("<ogc:Filter><ogc:PropertyIsGreaterThan><ogc:Mul><ogc:PropertyName>largeur</ogc:PropertyName><ogc:Literal>2</ogc:Literal></ogc:Mul><ogc:Literal>14</ogc:Literal></ogc:PropertyIsGreaterThan></ogc:Filter>".to_owned(), true, "arithmetic operand"),
        ("<ogc:Filter><ogc:PropertyIsEqualTo><ogc:Literal>2</ogc:Literal><ogc:PropertyName>importance</ogc:PropertyName></ogc:PropertyIsEqualTo></ogc:Filter>".to_owned(), true, "literal on the left"),
    ];
    let mut failures = Vec::new();
    for (filter, expected, what) in &cases {
        let text = style(filter);
        let parsed = sld::parse(&text).unwrap_or_else(|e| panic!("{what}: {e}"));
        let problems: Vec<_> = parsed
            .validate()
            .into_iter()
            .filter(sld::Problem::is_error)
            .collect();
        assert!(problems.is_empty(), "{what}: {problems:?}");
        let rule = parsed.rules().next().expect("one rule");
        let filter = rule.filter.as_ref().expect("a filter");
        if filter.matches(&f) != *expected {
            failures.push(format!("{what}: expected {expected}"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn value_comparison_coerces_numbers_and_text_like_geoserver() {
    use std::cmp::Ordering::{Equal, Greater, Less};
    let n = Value::Number;
    let t = |s: &str| Value::from(s);
    assert_eq!(n(10.0).compare(&t("10"), true), Some(Equal));
    assert_eq!(t("10").compare(&t("9"), true), Some(Greater));
    assert_eq!(t("abc").compare(&t("abd"), true), Some(Less));
    assert_eq!(t("ABC").compare(&t("abc"), false), Some(Equal));
    assert_eq!(t("ABC").compare(&t("abc"), true), Some(Less));
    assert_eq!(n(1.0).compare(&Value::Null, true), None);
    assert_eq!(Value::Bool(false).compare(&t("false"), true), Some(Equal));
}
