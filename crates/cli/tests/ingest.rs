//! `tuilerie ingest`: integrates good GeoPackages, refuses bad ones with findings, and exits
//! accordingly.

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../fixtures/gpkg")
        .join(name)
}

/// Runs `tuilerie ingest FILE --data DATA [--srs SRS] [--json]`; its exit status.
fn ingest(file: &str, data: &Path, srs: Option<&str>, json: bool) -> ExitCode {
    let mut command = Command::new(env!("CARGO_BIN_EXE_tuilerie"));
    command
        .arg("ingest")
        .arg(fixture(file))
        .arg("--data")
        .arg(data);
    if let Some(srs) = srs {
        command.args(["--srs", srs]);
    }
    if json {
        command.arg("--json");
    }
    let status = command.output().expect("tuilerie runs").status;
    ExitCode::from(u8::try_from(status.code().expect("exit code")).expect("small exit code"))
}

#[test]
fn ingesting_a_good_geopackage_stores_it_under_its_normalised_name_and_exits_0() {
    let data = tempfile::tempdir().expect("tempdir");
    let status = ingest("communes_2154.gpkg", data.path(), Some("EPSG:2154"), false);
    assert_eq!(status, ExitCode::SUCCESS);
    assert!(data.path().join("stored/communes_2154/data.gpkg").is_file());
    assert!(data
        .path()
        .join("stored/communes_2154/metadata.json")
        .is_file());
}

#[test]
fn ingesting_a_refused_file_exits_1_and_stores_nothing() {
    let data = tempfile::tempdir().expect("tempdir");
    assert_eq!(
        ingest("world.gpkg", data.path(), Some("EPSG:2154"), true),
        ExitCode::FAILURE
    );
    assert_eq!(
        ingest("bomb.zip", data.path(), None, false),
        ExitCode::FAILURE
    );
    assert!(!data.path().join("stored/world").exists());
    assert!(!data.path().join("stored/bomb").exists());
}

#[test]
fn an_unknown_srs_is_a_usage_error() {
    let data = tempfile::tempdir().expect("tempdir");
    assert_eq!(
        ingest("world.gpkg", data.path(), Some("EPSG:1"), false),
        ExitCode::from(2)
    );
}

fn run(args: &[&str]) -> (i32, serde_json::Value) {
    let out = Command::new(env!("CARGO_BIN_EXE_tuilerie"))
        .args(args)
        .output()
        .expect("tuilerie runs");
    let json = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "stdout is not JSON ({e}):\n{}\nstderr:\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    });
    (out.status.code().unwrap_or(-1), json)
}

#[test]
fn the_binary_prints_the_json_document_of_the_issue() {
    let data = tempfile::tempdir().expect("tempdir");
    let data_arg = data.path().to_str().expect("utf-8 path");
    let file = fixture("world.gpkg");
    let file = file.to_str().expect("utf-8 path");
    let (code, json) = run(&[
        "ingest",
        file,
        "--srs",
        "EPSG:2154",
        "--data",
        data_arg,
        "--json",
    ]);
    assert_eq!(code, 1);
    assert_eq!(json["status"], "refused");
    assert_eq!(json["findings"][0]["level"], "ERROR");
    assert_eq!(json["findings"][0]["layer"], "countries");
    assert_eq!(
        json["findings"][0]["message"],
        "layer 'countries' is in EPSG:4326 but the upload declares EPSG:2154"
    );
    let (code, json) = run(&["ingest", file, "--data", data_arg, "--json"]);
    assert_eq!(code, 0);
    assert_eq!(json["status"], "integrated");
    assert_eq!(json["layers"][0]["name"], "countries");
    assert_eq!(json["layers"][0]["srs"], "EPSG:4326");
    assert_eq!(json["layers"][0]["features"], 177);
    assert_eq!(json["layers"][0]["attributes"][1]["name"], "name");
}
