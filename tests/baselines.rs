//! Baselines as a user meets them: a missing file (in a folder that does not exist yet),
//! figures that grew (naming the call sites that changed since the file was written),
//! figures that went down (said even when the test's output is captured), and
//! `ALLOCSITE_UPDATE_BASELINES` (yes/no spellings, and an invalid value). Scenarios that
//! depend on the environment or on captured output run this binary again as a child.
#![cfg(feature = "track")]

use std::hint::black_box;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

#[global_allocator]
static ALLOC: allocsite::Alloc = allocsite::Alloc::system();

/// The measured work: three owned words in a vector (4 allocations), and with `extra` a
/// cached entry too (one more, of 10 bytes).
#[inline(never)]
fn words(extra: bool) -> Vec<String> {
    let mut words: Vec<String> = black_box("alpha beta gamma")
        .split(' ')
        .map(str::to_owned)
        .collect();
    if extra {
        words.push(black_box("cache").repeat(2)); // the extra allocation
    }
    words
}

/// A fresh directory for one test.
fn scratch(test: &str) -> PathBuf {
    let dir = std::env::temp_dir()
        .join(format!("allocsite-baselines-{}", std::process::id()))
        .join(test);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Set in a child: the baseline file `child_runs_a_baseline` checks.
const CHILD: &str = "ALLOCSITE_TEST_BASELINE";
/// Set in a child whose work makes the extra allocation.
const EXTRA: &str = "ALLOCSITE_TEST_BASELINE_EXTRA";
const UPDATE: &str = "ALLOCSITE_UPDATE_BASELINES";

/// In a child only: runs `words` against the baseline `CHILD` names.
#[test]
fn child_runs_a_baseline() {
    let Some(path) = std::env::var_os(CHILD) else {
        return;
    };
    let extra = std::env::var_os(EXTRA).is_some();
    let words = allocsite::Baseline::new(path).run(|| words(extra));
    assert_eq!(words.len(), 3 + usize::from(extra));
}

/// Runs `child_runs_a_baseline` in a child with its output captured by the test harness (as
/// a user's `cargo test` does), `ALLOCSITE_UPDATE_BASELINES` set to `update`.
fn child(path: &Path, extra: bool, update: Option<&str>) -> Output {
    let mut command = Command::new(std::env::current_exe().unwrap());
    command
        .args(["--exact", "child_runs_a_baseline", "--test-threads=1"])
        .env(CHILD, path)
        .env_remove(EXTRA)
        .env_remove(UPDATE);
    if extra {
        command.env(EXTRA, "1");
    }
    if let Some(value) = update {
        command.env(UPDATE, value);
    }
    command.output().unwrap()
}

fn text(output: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

/// The line of the comment `marker` in this file.
fn line_of(marker: &str) -> usize {
    include_str!("baselines.rs")
        .lines()
        .position(|line| line.ends_with(marker))
        .unwrap()
        + 1
}

#[test]
fn a_missing_baseline_in_a_missing_folder_fails_as_missing_and_writes_the_figures_there() {
    let dir = scratch("missing");
    let path = dir.join("not/yet/words.txt");
    let outcome = std::panic::catch_unwind(|| allocsite::Baseline::new(&path).run(|| words(false)));
    let message = *outcome.unwrap_err().downcast::<String>().unwrap();
    let proposal = dir.join("not/yet/words.new");
    assert!(
        message.starts_with(&format!(
            "allocation baseline {} missing at tests/baselines.rs:",
            path.display()
        )),
        "{message}"
    );
    assert!(
        message.contains(&format!(
            "the current figures are in {}: review it and rename it to {}, or run with \
             ALLOCSITE_UPDATE_BASELINES=1",
            proposal.display(),
            path.display()
        )),
        "{message}"
    );
    let written = std::fs::read_to_string(&proposal).expect("the proposal is written");
    assert!(written.starts_with("allocations = 4\n"), "{written}");
    assert!(
        written.contains("\nsite = 4 allocations | 110 bytes | tests/baselines.rs:"),
        "{written}"
    );
}

#[test]
fn each_figure_that_grew_is_named_within_the_tolerance() {
    let path = scratch("grew").join("grew.txt");
    std::fs::write(&path, "allocations = 1\nreallocations = 0\nbytes_allocated = 5\npeak_live_bytes = 5\nleaked_blocks = 0\nleaked_bytes = 0\n").unwrap();
    let ((), usage) = allocsite::measure(|| {
        drop(black_box(vec![
            String::from("hello"),
            String::from("world"),
        ]))
    })
    .unwrap();
    let grew = allocsite::Baseline::new(&path).check(&usage).unwrap_err();
    assert_eq!(
        grew[..3],
        [
            "allocations grew: 3, baseline 1",
            "bytes_allocated grew: 58, baseline 5",
            "peak_live_bytes grew: 58, baseline 5",
        ]
    );
    // The file kept no call sites, so there is nothing to compare: the proposal comes next.
    assert!(
        grew[3].starts_with("the current figures are in "),
        "{grew:?}"
    );
    assert_eq!(grew.len(), 4);
    let generous = allocsite::Baseline::new(&path).tolerance_percent(2000.0);
    assert!(generous.check(&usage).is_ok());
}

#[test]
fn a_regression_names_the_call_sites_that_changed_since_the_baseline() {
    let path = scratch("regression").join("words.txt");
    let written = child(&path, false, Some("1"));
    assert!(written.status.success(), "{}", text(&written));
    let ((), usage) = allocsite::measure(|| drop(words(true))).unwrap();
    let lines = allocsite::Baseline::new(&path).check(&usage).unwrap_err();
    let changed = lines
        .iter()
        .position(|line| line == "call sites that changed since the baseline:")
        .unwrap_or_else(|| panic!("{lines:#?}"));
    let extra = format!(
        "  tests/baselines.rs:{}  ",
        line_of("// the extra allocation")
    );
    let site = lines[changed + 1..]
        .iter()
        .find(|line| line.starts_with(&extra))
        .unwrap_or_else(|| panic!("{extra} in {lines:#?}"));
    assert!(
        site.contains("baselines::words: new, 1 allocations, 10 bytes"),
        "{site}"
    );
}

#[test]
fn an_improvement_passes_and_is_said_even_when_output_is_captured() {
    let path = scratch("improved").join("words.txt");
    let written = child(&path, true, Some("yes"));
    assert!(written.status.success(), "{}", text(&written));
    let improved = child(&path, false, None);
    let output = text(&improved);
    assert!(improved.status.success(), "{output}");
    assert!(
        output.contains(&format!(
            "allocsite: allocation baseline {} improved at tests/baselines.rs:",
            path.display()
        )) && output.contains("allocations 4, baseline 5")
            && output.contains("lock the gain in with ALLOCSITE_UPDATE_BASELINES=1"),
        "{output}"
    );
}

#[test]
fn update_takes_yes_and_no_spellings_and_rejects_the_rest() {
    let path = scratch("update").join("words.txt");
    // `false` is off: a missing file fails instead of being written.
    let off = child(&path, false, Some("false"));
    assert!(!off.status.success() && !path.exists(), "{}", text(&off));
    let on = child(&path, false, Some("true"));
    assert!(on.status.success(), "{}", text(&on));
    let kept = std::fs::read_to_string(&path).unwrap();
    assert!(kept.starts_with("allocations = 4\n"), "{kept}");
    // `no` is off: the extra allocation fails and the file stays as it was.
    let grew = child(&path, true, Some("no"));
    assert!(
        !grew.status.success() && text(&grew).contains("allocations grew: 5, baseline 4"),
        "{}",
        text(&grew)
    );
    assert_eq!(std::fs::read_to_string(&path).unwrap(), kept);
    let invalid = child(&path, false, Some("please"));
    assert!(
        !invalid.status.success()
            && text(&invalid).contains(
                "environment variable ALLOCSITE_UPDATE_BASELINES=\"please\" is invalid: \
                 expected 1, true or yes to turn it on; 0, false or no to turn it off"
            ),
        "{}",
        text(&invalid)
    );
    // Updating removes the proposal an earlier failure left.
    assert!(path.with_extension("new").exists());
    let updated = child(&path, true, Some("1"));
    assert!(updated.status.success(), "{}", text(&updated));
    assert!(!path.with_extension("new").exists());
    assert!(
        std::fs::read_to_string(&path)
            .unwrap()
            .starts_with("allocations = 5\n")
    );
}
