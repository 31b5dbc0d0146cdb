//! Reading pprof profiles with the reference client, `go tool pprof`, for the test files
//! that check allocsite's pprof output (`tests/pprof.rs`, `tests/live_profiles.rs`,
//! `tests/serve_pprof.rs`).
//!
//! Needs Go (`apt-get install -y golang-go`). Without it the tests fail and say so, unless
//! `ALLOCSITE_SKIP_GO=1`, which skips the `go tool pprof` checks (and prints that it did).

// Each test file uses its own subset.
#![allow(dead_code)]

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use allocsite::report::dhat::{DhatFile, ProgramPoint};

/// The `go` binary, or `None` if `ALLOCSITE_SKIP_GO=1` says to skip. Panics, saying how to
/// install Go, if it is missing.
pub(crate) fn go() -> Option<&'static Path> {
    static GO: OnceLock<Option<PathBuf>> = OnceLock::new();
    GO.get_or_init(|| {
        if std::env::var_os("ALLOCSITE_SKIP_GO").is_some_and(|v| v == "1") {
            return None;
        }
        let found = std::env::var_os("PATH")
            .into_iter()
            .flat_map(|path| std::env::split_paths(&path).collect::<Vec<_>>())
            .map(|dir| dir.join("go"))
            .find(|go| go.is_file());
        match found {
            Some(go) => Some(go),
            None => panic!(
                "`go` was not found on PATH: these tests read the pprof files with \
                 `go tool pprof`, the reference client. Install Go (`apt-get install -y \
                 golang-go` on Debian and Ubuntu, or from go.dev), or set \
                 ALLOCSITE_SKIP_GO=1 to skip the `go tool pprof` checks."
            ),
        }
    })
    .as_deref()
}

pub(crate) fn skipped(test: &str) {
    eprintln!("{test}: SKIPPED the `go tool pprof` checks (ALLOCSITE_SKIP_GO=1)");
}

pub(crate) fn read_dhat(path: &Path) -> DhatFile {
    let text = std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// `go tool pprof ARGS PROFILE`'s standard output; panics with its error output on failure.
pub(crate) fn pprof(go: &Path, args: &[&str], profile: &Path) -> String {
    pprof_target(go, args, profile, profile.parent().unwrap())
}

/// `go tool pprof ARGS TARGET` (a file or a URL), keeping what pprof saves in `home`.
pub(crate) fn pprof_target(
    go: &Path,
    args: &[&str],
    target: impl AsRef<OsStr>,
    home: &Path,
) -> String {
    let target = target.as_ref();
    let mut command = Command::new(go);
    command.arg("tool").arg("pprof").args(args).arg(target);
    // pprof saves a copy of a fetched profile under $PPROF_TMPDIR (else $HOME/pprof).
    command.env("PPROF_TMPDIR", home);
    if std::env::var_os("HOME").is_none() {
        command.env("HOME", home);
    }
    let output = command.output().expect("running go tool pprof");
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "go tool pprof {args:?} {} failed ({}):\n{stderr}\n{stdout}",
        target.to_string_lossy(),
        output.status
    );
    stdout
}

/// N of "… of N total" in `-top` output, without its unit suffix (`B`, `units`).
pub(crate) fn top_total(top: &str) -> f64 {
    let line = top
        .lines()
        .find(|line| line.starts_with("Showing nodes accounting for"))
        .unwrap_or_else(|| panic!("no total in:\n{top}"));
    let total = line
        .rsplit_once(" of ")
        .and_then(|(_, rest)| rest.strip_suffix(" total"))
        .unwrap_or_else(|| panic!("no total in {line:?}"));
    let number = total.trim_end_matches(|c: char| c.is_ascii_alphabetic());
    number
        .parse()
        .unwrap_or_else(|e| panic!("total {total:?} in {line:?}: {e}"))
}

/// The `-top` total of each sample type (`-unit=B`, so bytes are not scaled).
pub(crate) fn totals(go: &Path, profile: &Path, types: &[&str]) -> Vec<f64> {
    types
        .iter()
        .map(|sample_type| {
            let index = format!("-sample_index={sample_type}");
            top_total(&pprof(go, &["-top", &index, "-unit=B"], profile))
        })
        .collect()
}

/// `go tool pprof -top` totals of each sample type equal the DHAT file's sums.
pub(crate) fn check_totals(go: &Path, file: &DhatFile, profile: &Path, types: &[(&str, f64)]) {
    for &(sample_type, expected) in types {
        let index = format!("-sample_index={sample_type}");
        let top = pprof(go, &["-top", &index, "-unit=B"], profile);
        assert_eq!(
            top_total(&top),
            expected,
            "{sample_type} of {} ({}):\n{top}",
            profile.display(),
            file.command
        );
    }
}

pub(crate) fn sum(file: &DhatFile, figure: impl Fn(&ProgramPoint) -> f64) -> f64 {
    file.program_points.iter().map(figure).sum()
}

/// All four heap totals: `alloc_space` = Σ tb, `alloc_objects` = Σ tbk, `inuse_space` =
/// Σ eb, `inuse_objects` = Σ ebk.
pub(crate) fn check_heap_totals(go: &Path, file: &DhatFile, profile: &Path) {
    check_totals(
        go,
        file,
        profile,
        &[
            ("alloc_space", file.total_bytes()),
            ("alloc_objects", file.total_blocks()),
            ("inuse_space", sum(file, |p| p.end_bytes.unwrap())),
            ("inuse_objects", sum(file, |p| p.end_blocks.unwrap())),
        ],
    );
}

/// The function names `go tool pprof -top` lists.
pub(crate) fn top_names(top: &str) -> Vec<String> {
    top.lines()
        .skip_while(|line| !line.trim_start().starts_with("flat"))
        .skip(1)
        .filter_map(|line| {
            // flat flat% sum% cum cum% NAME…
            let name = line
                .split_whitespace()
                .skip(5)
                .collect::<Vec<_>>()
                .join(" ");
            (!name.is_empty()).then(|| name.trim_end_matches(" (inline)").to_owned())
        })
        .collect()
}

pub(crate) fn assert_contains(haystack: &str, needles: &[&str], what: &str) {
    for needle in needles {
        assert!(
            haystack.contains(needle),
            "{what} lacks {needle:?}:\n{haystack}"
        );
    }
}
