//! The README as a new user follows it. Every `rust` and `toml` block of README.md is compiled
//! as written into the crates a user would make, each block into the file the comment above
//! it names (`<!-- checked by tests/readme.rs as myapp/src/main.rs -->`, or `…, appended to
//! …`), unless the comment says why not (`<!-- not compiled by tests/readme.rs: … -->`); the crates are built offline against this checkout (the README's git dependency
//! becomes a path dependency, the only edit) and run:
//!
//! - `myapp`, a program, with and without `--features track`: its counters, a profiler that
//!   writes its files with the feature and is inert without it, and an async budget test
//!   (skipped without the feature);
//! - `mylib`, a library whose tests hold budgets (`#[global_allocator]` under `#[cfg(test)]`
//!   in `lib.rs` and once per integration-test file, a `#[should_panic]` budget test, a
//!   baseline written by `ALLOCSITE_UPDATE_BASELINES=1`);
//! - `mybench`, the criterion benchmark, checked when this test is built with the
//!   `criterion` feature.
//!
//! The sample output's references to lines of `examples/profile.rs` and
//! `tests/attribution.rs` are checked against those files.
//!
//! The crates share a target directory with the other side crates (`tests/support`), so
//! allocsite compiles once for all of them.

mod support;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The dependency line that works before allocsite is on crates.io.
const GIT_SOURCE: &str = concat!("git = \"", env!("CARGO_PKG_REPOSITORY"), "\"");

const MARKER: &str = "<!-- checked by tests/readme.rs";
/// Above a block this test leaves alone, with the reason.
const NOT_COMPILED: &str = "<!-- not compiled by tests/readme.rs: ";

/// A code block of the README and the file it goes to.
struct Block {
    /// Line of the opening fence, for messages.
    line: usize,
    language: String,
    /// `crate/path`, or `None` for a block without a marker.
    file: Option<String>,
    /// Marked as left alone, with a reason.
    exempt: bool,
    append: bool,
    code: String,
}

fn readme() -> String {
    std::fs::read_to_string(support::allocsite_dir().join("README.md")).unwrap()
}

/// Every fenced block of the README, with the marker just above it (blank lines allowed).
fn blocks() -> Vec<Block> {
    let text = readme();
    let mut blocks = Vec::new();
    let mut lines = text.lines().enumerate();
    let mut marker: Option<&str> = None;
    while let Some((number, line)) = lines.next() {
        if let Some(language) = line.strip_prefix("```") {
            let mut code = String::new();
            for (_, line) in lines.by_ref() {
                if line.starts_with("```") {
                    break;
                }
                code.push_str(line);
                code.push('\n');
            }
            let exempt = marker.is_some_and(|marker| marker.starts_with(NOT_COMPILED));
            let (file, append) = match marker.take().filter(|_| !exempt) {
                Some(marker) => {
                    let rest = &marker[MARKER.len()..];
                    let (append, rest) = match rest.strip_prefix(", appended to ") {
                        Some(rest) => (true, rest),
                        None => (false, rest.strip_prefix(" as ").unwrap_or(rest)),
                    };
                    let file = rest.split(" ").next().unwrap_or_default();
                    (Some(file.to_owned()), append)
                }
                None => (None, false),
            };
            blocks.push(Block {
                line: number + 1,
                language: language.trim().to_owned(),
                file,
                exempt,
                append,
                code,
            });
        } else if line.starts_with(MARKER) || line.starts_with(NOT_COMPILED) {
            marker = Some(line);
        } else if !line.trim().is_empty() {
            marker = None;
        }
    }
    blocks
}

#[test]
fn every_rust_and_toml_block_is_compiled_by_this_test() {
    let unchecked: Vec<usize> = blocks()
        .iter()
        .filter(|block| {
            matches!(block.language.as_str(), "rust" | "toml")
                && block.file.is_none()
                && !block.exempt
        })
        .map(|block| block.line)
        .collect();
    assert!(
        unchecked.is_empty(),
        "README.md blocks at lines {unchecked:?} are not compiled: put `{MARKER} as \
         <crate>/<file> -->` above each (see tests/readme.rs), or `{NOT_COMPILED}<why> -->`"
    );
}

#[test]
fn the_dependency_lines_work_before_allocsite_is_on_crates_io() {
    for block in blocks().iter().filter(|block| block.language == "toml") {
        for line in block.code.lines() {
            let line = line.trim();
            if line.starts_with("allocsite = ") {
                assert!(
                    line.contains(GIT_SOURCE),
                    "README.md line {}: `{line}` fails until allocsite is published: \
                     depend on {GIT_SOURCE} (the crates.io line in a comment)",
                    block.line
                );
            }
        }
    }
    assert!(
        readme().contains("# allocsite = \"0.1\""),
        "the crates.io line is kept, commented, for when allocsite is published"
    );
}

/// The README's sample output names lines of allocsite's own files (`examples/profile.rs:84`
/// after a call site `… collect ← profile::parse_log`, `tests/attribution.rs:24  …Box<T>::new
/// ← …`): each such line must still make the call the README says it makes, so that the
/// sample stays true when the file is edited.
#[test]
fn the_sample_output_names_lines_that_make_the_calls_it_says() {
    let readme = readme();
    let mut checked = 0;
    for (number, line) in readme.lines().enumerate() {
        for file in ["examples/profile.rs", "tests/attribution.rs"] {
            let Some(at) = line.find(&format!("{file}:")) else {
                continue;
            };
            let digits: String = line[at + file.len() + 1..]
                .chars()
                .take_while(char::is_ascii_digit)
                .collect();
            let Some(callee) = line[..at]
                .rfind(" \u{2190} ")
                .map(|arrow| &line[..arrow])
                .or_else(|| {
                    line[at..]
                        .find(" \u{2190} ")
                        .map(|arrow| &line[at..at + arrow])
                })
            else {
                continue;
            };
            // The callee's method: the last path segment of the frame before the arrow.
            let method = callee.rsplit("::").next().unwrap().trim();
            let source = std::fs::read_to_string(support::allocsite_dir().join(file)).unwrap();
            let named: usize = digits.parse().unwrap();
            let text = source.lines().nth(named - 1).unwrap_or("");
            assert!(
                text.contains(method),
                "README.md line {}: {file}:{named} is `{}`, which does not call `{method}`: \
                 the sample output is out of date (run it again, or renumber the lines)",
                number + 1,
                text.trim()
            );
            checked += 1;
        }
    }
    assert!(checked >= 10, "only {checked} sample lines found");
}

/// Writes the crate `name` from the README's blocks into a fresh directory and returns it.
fn write_crate(name: &str) -> PathBuf {
    let mut files: BTreeMap<String, String> = BTreeMap::new();
    for block in blocks() {
        let Some(relative) = block
            .file
            .as_deref()
            .and_then(|file| file.strip_prefix(&format!("{name}/")))
        else {
            continue;
        };
        let text = files.entry(relative.to_owned()).or_default();
        assert!(
            block.append || text.is_empty(),
            "README.md line {}: {name}/{relative} is written twice",
            block.line
        );
        if block.append {
            text.push('\n');
        }
        text.push_str(&block.code);
    }
    let manifest = files.remove("Cargo.toml").expect("a Cargo.toml block");
    let allocsite = format!("path = {:?}", support::allocsite_dir());
    let manifest = format!(
        "[package]\nname = \"{name}\"\nversion = \"0.0.0\"\nedition = \"2024\"\npublish = false\n\n\
         # A workspace of its own (not allocsite's).\n[workspace]\n\n{}",
        manifest.replace(GIT_SOURCE, &allocsite)
    );
    files.insert("Cargo.toml".to_owned(), manifest);
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join("readme")
        .join(name);
    let _ = std::fs::remove_dir_all(&dir);
    for (relative, text) in &files {
        let path = dir.join(relative);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }
    // allocsite's own versions of the dependencies: resolved offline, built once.
    std::fs::copy(
        support::allocsite_dir().join("Cargo.lock"),
        dir.join("Cargo.lock"),
    )
    .unwrap();
    dir
}

/// `cargo <subcommand> args…` for the crate in `dir`, offline, run from `working` (where a
/// program writes its files).
fn cargo(dir: &Path, working: &Path, subcommand_and_args: &[&str]) -> Command {
    let (subcommand, args) = subcommand_and_args.split_first().unwrap();
    let manifest = dir.join("Cargo.toml");
    let mut command = support::cargo(dir, &[subcommand, "--offline"]);
    // `cargo test --quiet` would make the tests' own report terse too.
    if *subcommand != "test" {
        command.arg("--quiet");
    }
    command
        .arg("--manifest-path")
        .arg(manifest)
        .args(args)
        .current_dir(working);
    command
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// A fresh working directory.
fn working(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join("readme-runs")
        .join(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[test]
fn a_program_runs_the_same_with_and_without_tracking() {
    let app = write_crate("myapp");

    let off = working("off");
    let main = support::succeed(&mut cargo(&app, &off, &["run"]));
    assert_eq!(stdout(&main), "");
    assert!(
        stderr(&main).starts_with("allocsite tracking is off"),
        "{}",
        stderr(&main)
    );
    let profiling = support::succeed(&mut cargo(&app, &off, &["run", "--example", "profiling"]));
    assert_eq!(stdout(&profiling), "588890 bytes of text\n");
    assert_eq!(
        stderr(&profiling),
        "allocsite: no heap profile will be written (built without allocsite's `track` feature)\n",
        "one line, and no compiler warning"
    );
    assert!(
        std::fs::read_dir(&off).unwrap().next().is_none(),
        "nothing written"
    );

    let on = working("on");
    let main = support::succeed(&mut cargo(&app, &on, &["run", "--features", "track"]));
    assert!(
        stdout(&main).contains(" allocations, ") && stdout(&main).contains(" bytes live, peak "),
        "{}",
        stdout(&main)
    );
    assert_eq!(stderr(&main), "");
    let profiling = support::succeed(&mut cargo(
        &app,
        &on,
        &["run", "--features", "track", "--example", "profiling"],
    ));
    assert_eq!(stdout(&profiling), "588890 bytes of text\n");
    assert!(
        stderr(&profiling).starts_with("allocsite: heap profile of "),
        "the summary: {}",
        stderr(&profiling)
    );
    for file in ["profile.json", "profile.html", "profile.folded"] {
        assert!(on.join(file).exists(), "{file} written");
    }

    // The async budget test: skipped without the feature, passing with it.
    let skipped = support::succeed(&mut cargo(&app, &off, &["test"]));
    assert!(
        stdout(&skipped)
            .contains("test greet_allocates_its_reply_only ... ignored, needs --features track"),
        "{}",
        stdout(&skipped)
    );
    let tested = support::succeed(&mut cargo(&app, &on, &["test", "--features", "track"]));
    assert!(
        stdout(&tested).contains("test greet_allocates_its_reply_only ... ok"),
        "{}",
        stdout(&tested)
    );
    assert!(!stderr(&tested).contains("warning"), "{}", stderr(&tested));
}

#[test]
fn a_library_tests_its_budgets_with_the_allocator_installed_for_its_tests_only() {
    let lib = write_crate("mylib");
    let work = working("lib");
    // The library alone installs no allocator and needs nothing of allocsite's.
    support::succeed(&mut cargo(&lib, &work, &["build", "--lib"]));
    // The first run: the baseline does not exist yet.
    let first = cargo(&lib, &work, &["test"]).output().unwrap();
    assert!(!first.status.success());
    assert!(
        stdout(&first).contains("tests/baselines/parse.txt missing at tests/budgets.rs:"),
        "{}",
        stdout(&first)
    );
    let mut update = cargo(&lib, &work, &["test"]);
    support::succeed(update.env("ALLOCSITE_UPDATE_BASELINES", "1"));
    assert!(lib.join("tests/baselines/parse.txt").exists());
    let run = support::succeed(&mut cargo(&lib, &work, &["test", "--", "--test-threads=4"]));
    let out = stdout(&run);
    for passed in [
        "test tests::parse_allocates_only_the_vector ... ok",
        "test parse_stays_within_its_budget ... ok",
        "test copying_the_fields_breaks_the_budget - should panic ... ok",
    ] {
        assert!(out.contains(passed), "{passed}:\n{out}");
    }
    assert!(!stderr(&run).contains("warning"), "{}", stderr(&run));
}

#[cfg(feature = "criterion")]
#[test]
fn the_criterion_benchmark_builds() {
    let bench = write_crate("mybench");
    // Not offline: criterion's default features (plotters) are more than allocsite fetches.
    let check = support::succeed(&mut support::cargo(
        &bench,
        &["check", "--quiet", "--benches"],
    ));
    assert!(!stderr(&check).contains("warning"), "{}", stderr(&check));
}
