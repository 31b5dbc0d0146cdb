//! What a user of allocsite downloads and builds, checked the way they would see it: the
//! dependency tree of each feature set (`cargo tree`), what the examples compile, the files
//! of the package (`cargo package --list`), its docs.rs metadata and `rust-version`, and that
//! the repository commits no generated file.
//!
//! Runs cargo (and git) on this package, offline; a check whose tool is missing says so and
//! passes (a packaged copy has no `.git`).

use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command;

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// Runs `program args` in the package root: its stdout, or why it could not run or failed
/// (with what it said on stderr).
fn run(program: &str, args: &[&str]) -> Result<String, String> {
    let output = Command::new(program)
        .args(args)
        .current_dir(root())
        .output()
        .map_err(|error| format!("{program} could not run: {error}"))?;
    if output.status.success() {
        Ok(String::from_utf8_lossy(&output.stdout).into_owned())
    } else {
        Err(format!(
            "`{program} {}` failed ({}):\n{}",
            args.join(" "),
            output.status,
            String::from_utf8_lossy(&output.stderr)
        ))
    }
}

/// True when the package root is the top of a git checkout (not a packaged copy, and not a
/// directory inside someone else's repository).
fn in_own_git_checkout() -> bool {
    run("git", &["rev-parse", "--show-toplevel"])
        .is_ok_and(|top| Path::new(top.trim()).canonicalize().ok() == root().canonicalize().ok())
}

#[test]
fn no_baseline_proposal_is_committed_and_git_ignores_them() {
    if !in_own_git_checkout() {
        eprintln!("not a git checkout of allocsite: nothing to check");
        return;
    }
    let committed = run("git", &["ls-files", "--", "*.new"]).unwrap();
    assert_eq!(
        committed, "",
        "`.new` files are a failing baseline's current figures, written for review: \
         rename them over the baseline or delete them, never commit them"
    );
    run(
        "git",
        &[
            "check-ignore",
            "--no-index",
            "-q",
            "tests/baselines/any.new",
        ],
    )
    .expect("git ignores `.new` files (.gitignore: `*.new`)");
}

/// The names of the crates `cargo tree` lists for allocsite with `features` (none: `&[]`),
/// following the dependency `edges` (`normal,build`: what a dependent compiles).
fn crates(features: &[&str], edges: &str) -> BTreeSet<String> {
    let mut args = vec![
        "tree",
        "--offline",
        "-p",
        "allocsite",
        "--prefix",
        "none",
        "--format",
        "{p}",
        "-e",
        edges,
        "--no-default-features",
    ];
    let features = features.join(",");
    if !features.is_empty() {
        args.extend(["--features", &features]);
    }
    let cargo = env!("CARGO");
    let tree = run(cargo, &args).unwrap();
    tree.lines()
        .filter_map(|line| line.split_whitespace().next())
        .map(str::to_owned)
        .collect()
}

fn set(names: &[&str]) -> BTreeSet<String> {
    names.iter().map(|name| name.to_string()).collect()
}

#[test]
fn a_dependent_without_features_compiles_allocsite_alone() {
    assert_eq!(
        crates(&[], "normal,build"),
        set(&["allocsite"]),
        "the pass-through build must pull in no dependency: make new ones optional, \
         behind the feature that uses them"
    );
}

#[test]
fn json_is_compiled_only_by_the_features_that_read_or_write_it() {
    let json = set(&["serde", "serde_derive", "serde_json"]);
    let report = crates(&["report"], "normal,build");
    assert!(report.is_superset(&json), "{report:?}");
    for tracking_only in ["backtrace", "libc", "flate2"] {
        assert!(
            !report.contains(tracking_only),
            "{tracking_only} in {report:?}"
        );
    }
    let track = crates(&["track"], "normal,build");
    assert!(
        track.is_superset(&json) && track.contains("backtrace") && track.contains("flate2"),
        "{track:?}"
    );
    assert!(
        !track.contains("criterion"),
        "criterion only with its feature"
    );
}
#[test]
fn examples_compile_nothing_the_library_does_not() {
    // `cargo run --example profile --features track` (the README's first command) builds the
    // dev-dependencies too: they must add no crate to what `track` itself compiles. Tools
    // compared against (dhat, criterion) live in their own crates or behind features.
    // The exceptions, each with its reason:
    // - tokio (and what it brings): the async budget tests and the `#[tokio::test]` doctests
    //   need a real multi-thread runtime, and doctests can only use dev-dependencies.
    let allowed = set(&["tokio", "tokio-macros", "pin-project-lite"]);
    let library = crates(&["track"], "normal,build");
    let examples = crates(&["track"], "normal,build,dev");
    let extra: Vec<&String> = examples
        .difference(&library)
        .filter(|name| !allowed.contains(*name))
        .collect();
    assert!(
        extra.is_empty(),
        "dev-dependencies that every example and test build compiles on top of the library: \
         {extra:?} (a tool to compare with goes in a crate of its own, like tests/dhat-oracle)"
    );
}

/// The files `cargo package` would publish.
fn packaged_files() -> BTreeSet<String> {
    run(
        env!("CARGO"),
        &[
            "package",
            "--list",
            "--allow-dirty",
            "--offline",
            "-p",
            "allocsite",
        ],
    )
    .unwrap()
    .lines()
    .map(str::to_owned)
    .collect()
}

/// Every file the sources include (`include_str!`, `include_bytes!`), relative to the root.
fn included_files() -> Vec<String> {
    let mut found = Vec::new();
    let mut pending = vec![root().join("src")];
    while let Some(dir) = pending.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                pending.push(path);
                continue;
            }
            let text = std::fs::read_to_string(&path).unwrap();
            // `report/html.rs` includes the viewer's scripts through a macro over a list of
            // paths relative to `viewer/`: `include_str!(concat!("../../viewer/", $path))`.
            if let Some(list) = text
                .split_once("viewer_scripts![")
                .and_then(|(_, rest)| rest.split_once("];"))
            {
                for script in list.0.split('"').skip(1).step_by(2) {
                    found.push(format!("viewer/{script}"));
                }
            }
            for macro_name in ["include_str!(\"", "include_bytes!(\""] {
                for (start, _) in text.match_indices(macro_name) {
                    let rest = &text[start + macro_name.len()..];
                    let relative = &rest[..rest.find('"').unwrap()];
                    let file = path
                        .parent()
                        .unwrap()
                        .join(relative)
                        .canonicalize()
                        .unwrap();
                    let file = file.strip_prefix(root().canonicalize().unwrap()).unwrap();
                    found.push(file.to_str().unwrap().to_owned());
                }
            }
        }
    }
    found
}

#[test]
fn the_package_holds_what_builds_and_documents_the_crate_and_no_fixtures_or_screenshots() {
    let files = packaged_files();
    for needed in ["Cargo.toml", "README.md", "CHANGELOG.md", "src/lib.rs"] {
        assert!(files.contains(needed), "{needed} is packaged");
    }
    let included = included_files();
    for script in ["viewer/model/parse.js", "viewer/views/shell.js"] {
        assert!(included.contains(&script.to_owned()), "{included:?}");
    }
    for file in &included {
        assert!(
            files.contains(file),
            "{file} is included by the sources: package it"
        );
    }
    let unwanted: Vec<&String> = files
        .iter()
        .filter(|file| {
            [
                ".ci/",
                "viewer/tests/",
                "viewer/screenshots/",
                "tests/dhat-oracle/",
                "benches/workloads/",
            ]
            .iter()
            .any(|folder| file.starts_with(folder))
                || file.ends_with(".png")
                || file.ends_with(".new")
                || file.ends_with(".sh")
                || file.contains("package-lock")
        })
        .collect();
    assert!(
        unwanted.is_empty(),
        "not needed by a user of the crate: {unwanted:?}"
    );
}

#[test]
fn docs_rs_documents_every_feature_and_a_rust_version_is_declared() {
    let metadata = run(
        env!("CARGO"),
        &[
            "metadata",
            "--offline",
            "--no-deps",
            "--format-version",
            "1",
        ],
    )
    .unwrap();
    let metadata: serde_json::Value = serde_json::from_str(&metadata).unwrap();
    let package = metadata["packages"]
        .as_array()
        .unwrap()
        .iter()
        .find(|package| package["name"] == "allocsite")
        .unwrap();
    assert_eq!(
        package["metadata"]["docs"]["rs"]["all-features"],
        serde_json::Value::Bool(true),
        "docs.rs builds without features unless told: most of the API would be missing"
    );
    // .ci/test checks that CI's toolchain is this version (or checks the crate with it).
    assert!(package["rust_version"].is_string(), "rust-version is set");
}
