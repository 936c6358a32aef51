//! `tuilerie style check`: the real binary on the committed SLD corpus — exit status, human
//! `file:line:column: message` output with hints, and the `--json` document.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const BIN: &str = env!("CARGO_BIN_EXE_tuilerie");

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../fixtures/sld")
        .join(name)
}

fn style_check(args: &[&str]) -> Output {
    Command::new(BIN)
        .args(["style", "check"])
        .args(args)
        .output()
        .expect("run tuilerie")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn a_valid_style_for_its_layer_and_attributes_exits_0() {
    let file = fixture("good/qgis_rule_based.sld");
    let output = style_check(&[
        file.to_str().expect("utf-8 path"),
        "--layer",
        "troncon_de_route",
        "--attributes",
        "id,nature,importance",
    ]);
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
    assert!(text(&output.stdout).contains("valid"));
}

#[test]
fn a_broken_style_prints_file_line_column_messages_with_hints_and_exits_1() {
    let file = fixture("broken/bad_values.sld");
    let path = file.to_str().expect("utf-8 path");
    let output = style_check(&[path]);
    assert_eq!(output.status.code(), Some(1));
    let stderr = text(&output.stderr);
    assert!(
        stderr.contains(&format!(
            "{path}:15:15: stroke-width must be a number, got 'thin'"
        )),
        "{stderr}"
    );
    assert!(stderr.contains("    hint: "), "{stderr}");
    assert!(stderr.trim_end().ends_with("6 problems found"), "{stderr}");
}

#[test]
fn the_wrong_layer_and_unknown_attributes_are_problems() {
    let file = fixture("good/qgis_rule_based.sld");
    let path = file.to_str().expect("utf-8 path");
    let output = style_check(&[
        path,
        "--layer",
        "routes",
        "--attributes",
        "id,nom,importance",
    ]);
    assert_eq!(output.status.code(), Some(1));
    let stderr = text(&output.stderr);
    assert!(
        stderr.contains(&format!(
            "{path}:4:5: NamedLayer name 'troncon_de_route' does not match the layer 'routes'"
        )),
        "{stderr}"
    );
    assert!(
        stderr.contains("PropertyName 'nature' is not an attribute of 'troncon_de_route' (attributes: id, nom, importance)"),
        "{stderr}"
    );
}

#[test]
fn json_output_is_one_document_with_validity_and_positioned_problems() {
    let file = fixture("broken/doctype_xxe.sld");
    let output = style_check(&[file.to_str().expect("utf-8 path"), "--json"]);
    assert_eq!(output.status.code(), Some(1));
    let document: serde_json::Value =
        serde_json::from_slice(&output.stdout).expect("one JSON document on stdout");
    assert_eq!(document["valid"], false);
    let problems = document["problems"].as_array().expect("problems");
    assert_eq!(problems.len(), 1);
    assert_eq!(problems[0]["line"], 2);
    assert_eq!(problems[0]["column"], 1);
    assert!(problems[0]["message"]
        .as_str()
        .is_some_and(|m| m.contains("DOCTYPE")));
    assert!(problems[0]["hint"].is_string());

    let good = fixture("good/gs_polygon_simple.sld");
    let output = style_check(&[good.to_str().expect("utf-8 path"), "--json"]);
    assert_eq!(output.status.code(), Some(0));
    let document: serde_json::Value = serde_json::from_slice(&output.stdout).expect("JSON");
    assert_eq!(document["valid"], true);
    assert_eq!(document["problems"], serde_json::json!([]));
}

#[test]
fn a_missing_file_is_a_problem_not_a_panic() {
    let output = style_check(&["does/not/exist.sld"]);
    assert_eq!(output.status.code(), Some(1));
    assert!(text(&output.stderr).contains("cannot read the file"));
}
