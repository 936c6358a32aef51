//! The committed corpus (`fixtures/sld/`): every good style parses, validates cleanly and
//! matches its model snapshot; every broken style is refused with exactly the expected problems.
//!
//! Snapshots (`good/*.snap`, `broken/*.expected`) are regenerated with `UPDATE_SNAPSHOTS=1`;
//! without it a missing snapshot is a failure, never silently created.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/sld")
}

fn files(dir: &str) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(fixtures().join(dir))
        .expect("fixtures/sld exists")
        .map(|entry| entry.expect("readable").path())
        .filter(|path| path.extension().is_some_and(|e| e == "sld"))
        .collect();
    files.sort();
    files
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The model's pretty `Debug`, without empty fields (`None`, `[]`), so snapshots stay short.
fn dump(sld: &sld::Sld) -> String {
    let mut out = String::new();
    for line in format!("{sld:#?}").lines() {
        let trimmed = line.trim_start();
        if trimmed.ends_with(": None,") || trimmed.ends_with(": [],") {
            continue;
        }
        let _ = writeln!(out, "{line}");
    }
    out
}

/// The dump without positions, to compare the same style written two ways.
fn dump_without_positions(layers: &[sld::NamedLayer]) -> String {
    format!("{layers:#?}")
        .lines()
        .filter(|line| {
            let t = line.trim_start();
            !(t.starts_with("pos: ") && t.trim_end_matches(',')[5..].contains(':'))
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// Compares `actual` with the committed file, or rewrites it under `UPDATE_SNAPSHOTS=1`.
fn compare(path: &Path, actual: &str, failures: &mut Vec<String>) {
    if std::env::var_os("UPDATE_SNAPSHOTS").is_some() {
        std::fs::write(path, actual).expect("write snapshot");
        return;
    }
    match std::fs::read_to_string(path) {
        Err(_) => failures.push(format!(
            "{}: missing snapshot (run with UPDATE_SNAPSHOTS=1 and review it)",
            path.display()
        )),
        Ok(expected) if expected != actual => {
            let line = expected
                .lines()
                .zip(actual.lines())
                .position(|(a, b)| a != b)
                .unwrap_or_else(|| expected.lines().count().min(actual.lines().count()));
            failures.push(format!(
                "{}: differs from line {}:\n  expected: {:?}\n  actual:   {:?}",
                path.display(),
                line + 1,
                expected.lines().nth(line).unwrap_or("<end>"),
                actual.lines().nth(line).unwrap_or("<end>"),
            ));
        }
        Ok(_) => {}
    }
}

#[test]
fn the_good_corpus_has_at_least_thirty_styles_from_qgis_and_geoserver() {
    let names: Vec<String> = files("good")
        .iter()
        .map(|p| p.file_name().expect("name").to_string_lossy().into_owned())
        .collect();
    assert!(names.len() >= 30, "{} styles", names.len());
    assert!(names.iter().filter(|n| n.starts_with("qgis_")).count() >= 10);
    assert!(names.iter().filter(|n| n.starts_with("gs_")).count() >= 10);
}

#[test]
fn every_good_style_parses_validates_cleanly_and_matches_its_snapshot() {
    let mut failures = Vec::new();
    for path in files("good") {
        let text = read(&path);
        let sld = match sld::parse(&text) {
            Ok(sld) => sld,
            Err(error) => {
                failures.push(format!("{}: {error}", path.display()));
                continue;
            }
        };
        for problem in sld.validate() {
            failures.push(format!("{}:{problem}", path.display()));
        }
        compare(&path.with_extension("snap"), &dump(&sld), &mut failures);
    }
    assert!(failures.is_empty(), "\n{}", failures.join("\n"));
}

#[test]
fn every_broken_style_gives_exactly_its_expected_problems_each_with_a_line_and_a_fix() {
    let mut failures = Vec::new();
    for path in files("broken") {
        let text = read(&path);
        let problems = sld::check(&text, None, None);
        if !problems.iter().any(sld::Problem::is_error) {
            failures.push(format!("{}: accepted", path.display()));
        }
        for problem in &problems {
            if problem.line == 0 || problem.hint.is_none() {
                failures.push(format!(
                    "{}: problem without a line or a fix: {problem}",
                    path.display()
                ));
            }
        }
        let mut actual = String::new();
        for problem in &problems {
            let _ = writeln!(actual, "{problem}");
        }
        compare(&path.with_extension("expected"), &actual, &mut failures);
    }
    assert!(failures.is_empty(), "\n{}", failures.join("\n"));
}

fn pair(name: &str) -> (sld::Sld, sld::Sld) {
    let dir = fixtures().join("good");
    let a = sld::parse(&read(&dir.join(format!("{name}_1.0.0.sld")))).expect("1.0.0 parses");
    let b = sld::parse(&read(&dir.join(format!("{name}_1.1.0.sld")))).expect("1.1.0 parses");
    assert_eq!(a.version, Some(sld::Version::V1_0_0));
    assert_eq!(b.version, Some(sld::Version::V1_1_0));
    (a, b)
}

#[test]
fn the_same_categorized_style_with_labels_in_sld_1_0_and_se_1_1_gives_the_same_model() {
    let (a, b) = pair("pair_categorized_labels");
    assert_eq!(
        dump_without_positions(&a.layers),
        dump_without_positions(&b.layers)
    );
}

#[test]
fn the_same_point_style_in_sld_1_0_and_se_1_1_gives_the_same_model() {
    let (a, b) = pair("pair_points");
    assert_eq!(
        dump_without_positions(&a.layers),
        dump_without_positions(&b.layers)
    );
}

#[test]
fn sld_1_0_colour_maps_and_se_categorize_and_interpolate_give_the_same_model() {
    let (a, b) = pair("pair_raster_intervals");
    assert_eq!(
        dump_without_positions(&a.layers),
        dump_without_positions(&b.layers)
    );
}
