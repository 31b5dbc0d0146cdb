//! Building and running other crates from a test: the crates a user would write (the
//! README's snippets, `tests/readme.rs`) and the one that compares allocsite with the `dhat`
//! crate (`tests/dhat-oracle`). They share one target directory under cargo's
//! `CARGO_TARGET_TMPDIR`, so allocsite and its dependencies compile once for all of them and
//! stay built between runs.

#![allow(dead_code)] // each test file uses part of it

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// allocsite's own directory.
pub(crate) fn allocsite_dir() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// The target directory every side crate builds into.
pub(crate) fn target_dir() -> PathBuf {
    Path::new(env!("CARGO_TARGET_TMPDIR")).join("side-crates")
}

/// `cargo args…` in `crate_dir`, building into [`target_dir`], with no `ALLOCSITE_*` variable
/// of the environment this test runs in (they would change what the programs do).
pub(crate) fn cargo(crate_dir: &Path, args: &[&str]) -> Command {
    let mut command = Command::new(env!("CARGO"));
    command
        .args(args)
        .current_dir(crate_dir)
        .env("CARGO_TARGET_DIR", target_dir())
        .env_remove("CARGO_BUILD_TARGET_DIR")
        .env("CARGO_TERM_COLOR", "never");
    for (name, _) in std::env::vars_os() {
        if name.to_string_lossy().starts_with("ALLOCSITE_") {
            command.env_remove(name);
        }
    }
    command
}

/// Runs `command` and returns its output, or panics with everything it printed.
pub(crate) fn succeed(command: &mut Command) -> Output {
    let output = command
        .output()
        .unwrap_or_else(|error| panic!("{command:?} could not run: {error}"));
    assert!(
        output.status.success(),
        "{command:?} failed ({}):\n--- stdout\n{}\n--- stderr\n{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    output
}
