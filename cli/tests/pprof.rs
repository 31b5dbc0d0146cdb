//! `allocsite convert --to pprof`, read by the reference client: the totals
//! `go tool pprof -top -sample_index=… -unit=B FILE` prints equal the DHAT file's sums, for
//! the dhat crate's, Valgrind's (heap, copy, ad-hoc) and allocsite's files.
//!
//! Needs Go (`apt-get install -y golang-go`; .ci/run installs it). Without it these tests
//! fail and say so, unless `ALLOCSITE_SKIP_GO=1`, which skips the `go tool pprof` checks (as
//! the library's tests/pprof.rs does).

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::{fixture, run, scratch};

fn go() -> Option<PathBuf> {
    if std::env::var_os("ALLOCSITE_SKIP_GO").is_some_and(|v| v == "1") {
        eprintln!("SKIPPED the `go tool pprof` checks (ALLOCSITE_SKIP_GO=1)");
        return None;
    }
    let path = std::env::var_os("PATH").unwrap_or_default();
    let found = std::env::split_paths(&path)
        .map(|dir| dir.join("go"))
        .find(|go| go.is_file());
    assert!(
        found.is_some(),
        "`go` was not found on PATH: these tests read the pprof files with `go tool pprof`, \
         the reference client. Install Go (`apt-get install -y golang-go`), or set \
         ALLOCSITE_SKIP_GO=1 to skip the checks."
    );
    found
}

/// The total of `go tool pprof -top -sample_index=TYPE -unit=B PROFILE` ("… of N total").
fn pprof_total(go: &Path, sample_type: &str, profile: &Path) -> f64 {
    let output = Command::new(go)
        .args(["tool", "pprof", "-top"])
        .arg(format!("-sample_index={sample_type}"))
        .arg("-unit=B")
        .arg(profile)
        .env("PPROF_TMPDIR", profile.parent().unwrap())
        .output()
        .expect("running go tool pprof");
    let top = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "go tool pprof failed on {}: {}",
        profile.display(),
        String::from_utf8_lossy(&output.stderr)
    );
    let line = top
        .lines()
        .find(|line| line.starts_with("Showing nodes accounting for"))
        .unwrap_or_else(|| panic!("no total in:\n{top}"));
    let total = line
        .rsplit_once(" of ")
        .and_then(|(_, rest)| rest.strip_suffix(" total"))
        .unwrap_or_else(|| panic!("no total in {line:?}"));
    total
        .trim_end_matches(|c: char| c.is_ascii_alphabetic())
        .parse()
        .unwrap_or_else(|e| panic!("{total:?}: {e}"))
}

/// Σ `field` over the file's program points (each a whole number in these files, as the
/// check asserts).
fn dhat_sum(file: &serde_json::Value, field: &str) -> f64 {
    file["pps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|point| {
            let value = point[field].as_f64().unwrap();
            assert_eq!(value.fract(), 0.0, "{field} = {value}");
            value
        })
        .sum()
}

/// Converts `name` with the command and checks each (sample type, DHAT field) total.
fn check(go: Option<&Path>, name: &str, types: &[(&str, &str)]) {
    let dir = scratch(&format!("pprof-{name}"));
    let profile = dir.join("profile.pb.gz");
    let out = run(&[
        &"convert",
        &fixture(name),
        &"--to",
        &"pprof",
        &"-o",
        &profile,
    ])
    .ok();
    assert_eq!(out, format!("wrote {}\n", profile.display()));
    let Some(go) = go else { return };
    let file: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(fixture(name)).unwrap()).unwrap();
    for (sample_type, field) in types {
        let expected = dhat_sum(&file, field);
        assert!(expected > 0.0, "{name}: Σ {field} is 0, a weak check");
        assert_eq!(
            pprof_total(go, sample_type, &profile),
            expected,
            "{name}: {sample_type} against Σ {field}"
        );
    }
}

#[test]
fn heap_files_of_every_tool() {
    let go = go();
    check(
        go.as_deref(),
        "dhat-crate-heap.json",
        &[("alloc_space", "tb"), ("alloc_objects", "tbk")],
    );
    check(
        go.as_deref(),
        "valgrind-heap.json",
        &[
            ("alloc_space", "tb"),
            ("inuse_space", "eb"),
            ("inuse_objects", "ebk"),
        ],
    );
    check(
        go.as_deref(),
        "allocsite-profile.json",
        &[("alloc_space", "tb"), ("inuse_space", "eb")],
    );
}

#[test]
fn copy_and_ad_hoc_files() {
    let go = go();
    check(
        go.as_deref(),
        "valgrind-copy.json",
        &[("copy_space", "tb"), ("copies", "tbk")],
    );
    check(go.as_deref(), "valgrind-ad-hoc.json", &[("units", "tb")]);
    check(
        go.as_deref(),
        "dhat-crate-ad-hoc.json",
        &[("units", "tb"), ("events", "tbk")],
    );
}
