//! Running the built `allocsite` binary on the repository's real DHAT files.

#![allow(dead_code)] // each test file uses its own part of this module

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The real DHAT files: the `dhat` crate's, Valgrind's (heap, copy, ad-hoc) and allocsite's,
/// and the invalid/ corpus of broken ones (viewer/tests/fixtures/).
pub(crate) fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../viewer/tests/fixtures")
        .canonicalize()
        .unwrap()
}

pub(crate) fn fixture(name: &str) -> PathBuf {
    fixtures().join(name)
}

/// Every valid fixture with its mode.
pub(crate) const VALID: &[(&str, &str)] = &[
    ("dhat-crate-heap.json", "heap"),
    ("dhat-crate-ad-hoc.json", "ad-hoc"),
    ("valgrind-heap.json", "heap"),
    ("valgrind-copy.json", "copy"),
    ("valgrind-ad-hoc.json", "ad-hoc"),
    ("allocsite-profile.json", "heap"),
    ("allocsite-heap.json", "heap"),
    ("allocsite-budget-serde.json", "heap"),
];

/// A new empty folder for one test.
pub(crate) fn scratch(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join("allocsite-cli")
        .join(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// `allocsite ARGS` with a plain environment: no desktop session (a test must never start
/// a browser), run in `dir`.
pub(crate) fn command(dir: &Path, args: &[&dyn AsRef<OsStr>]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_allocsite"));
    command
        .args(args.iter().map(|a| a.as_ref()))
        .current_dir(dir)
        .env_remove("DISPLAY")
        .env_remove("WAYLAND_DISPLAY");
    command
}

/// What a run printed and how it ended.
pub(crate) struct Run {
    pub(crate) status: Option<i32>,
    pub(crate) stdout: String,
    pub(crate) stderr: String,
}

impl From<Output> for Run {
    fn from(output: Output) -> Self {
        Run {
            status: output.status.code(),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        }
    }
}

pub(crate) fn run_in(dir: &Path, args: &[&dyn AsRef<OsStr>]) -> Run {
    command(dir, args)
        .output()
        .expect("running allocsite")
        .into()
}

pub(crate) fn run(args: &[&dyn AsRef<OsStr>]) -> Run {
    run_in(Path::new(env!("CARGO_TARGET_TMPDIR")), args)
}

impl Run {
    /// Asserts a success with nothing on stderr; returns stdout.
    pub(crate) fn ok(self) -> String {
        assert_eq!(
            self.status,
            Some(0),
            "stdout:\n{}\nstderr:\n{}",
            self.stdout,
            self.stderr
        );
        assert_eq!(self.stderr, "", "stderr of a success");
        self.stdout
    }

    /// Asserts exit status `code` with one line on stderr and nothing on stdout; returns
    /// that line.
    pub(crate) fn error(self, code: i32) -> String {
        assert_eq!(
            self.status,
            Some(code),
            "stdout:\n{}\nstderr:\n{}",
            self.stdout,
            self.stderr
        );
        assert!(!self.stderr.contains("panicked"), "{}", self.stderr);
        assert_eq!(self.stderr.lines().count(), 1, "one line:\n{}", self.stderr);
        assert!(self.stderr.starts_with("error: "), "{}", self.stderr);
        if code == 2 {
            assert_eq!(self.stdout, "", "stdout of an error");
        }
        self.stderr.trim_end().to_owned()
    }
}
