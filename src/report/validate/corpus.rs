//! The validator against the viewer's hostile-file corpus (`viewer/tests/fixtures/invalid/`,
//! which `viewer/tests/model.test.mjs` checks the page's parser against): every file the
//! page rejects is rejected here for the same kind of problem, at the same place, with the
//! same message (JSON syntax errors aside: parsers word and place those differently), and
//! every file it accepts — the corpus's and the real fixtures — is accepted and read by
//! [`DhatFile::from_json`].

use std::path::{Path, PathBuf};

use serde_json::Value;

use super::check_text;
use crate::report::dhat::DhatFile;

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("viewer/tests/fixtures")
}

fn list(path: &Path) -> Vec<Value> {
    let text = std::fs::read_to_string(path).unwrap();
    serde_json::from_str::<Value>(&text)
        .unwrap()
        .as_array()
        .unwrap()
        .clone()
}

#[test]
fn rejects_what_the_viewer_rejects_for_the_same_reason() {
    let dir = fixtures().join("invalid");
    let expected = list(&dir.join("expected.json"));
    assert!(expected.len() > 100, "the corpus is there");
    let mut differences = Vec::new();
    for case in &expected {
        let file = case["file"].as_str().unwrap();
        let (kind, at, message) = (
            case["kind"].as_str().unwrap(),
            case["where"].as_str().unwrap(),
            case["message"].as_str().unwrap(),
        );
        let text = std::fs::read_to_string(dir.join(file)).unwrap();
        let Err(problem) = check_text(&text) else {
            differences.push(format!("{file}: accepted; the viewer says: {message}"));
            continue;
        };
        let syntax = matches!(kind, "not-json" | "truncated") || message.contains("Infinity");
        let same =
            problem.kind == kind && (syntax || (problem.at == at && problem.message == message));
        if !same {
            differences.push(format!(
                "{file}: {} at {}: {}\n    the viewer: {kind} at {at}: {message}",
                problem.kind, problem.at, problem.message
            ));
        }
        // The typed reader says the same.
        let typed = DhatFile::from_json(&text).unwrap_err();
        assert_eq!(typed.0, problem.message, "{file}");
    }
    assert!(
        differences.is_empty(),
        "{} of {} files judged differently:\n{}",
        differences.len(),
        expected.len(),
        differences.join("\n")
    );
}

#[test]
fn accepts_and_reads_what_the_viewer_accepts() {
    let dir = fixtures();
    let mut files: Vec<PathBuf> = list(&dir.join("invalid/accepted.json"))
        .iter()
        .map(|case| dir.join("invalid").join(case["file"].as_str().unwrap()))
        .collect();
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        if name.ends_with(".json") && name != "frame-classes.json" {
            files.push(path);
        }
    }
    assert!(files.len() > 30);
    for path in files {
        let text = std::fs::read_to_string(&path).unwrap();
        if let Err(error) = DhatFile::from_json(&text) {
            panic!("{}: {error}", path.display());
        }
    }
}
