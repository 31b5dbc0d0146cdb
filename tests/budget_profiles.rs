//! Where a broken budget's profile goes, seen from outside: under the target directory the
//! test binary was built in (here a copy of this binary placed as `--target-dir` elsewhere
//! would place it, run from another working directory), named after the test, one file per
//! test however many times it fails, and printed as an absolute path.
#![cfg(feature = "track")]

use std::path::{Path, PathBuf};
use std::process::Command;

#[global_allocator]
static ALLOC: allocsite::Alloc = allocsite::Alloc::system();

const CHILD: &str = "ALLOCSITE_TEST_BROKEN_BUDGET";

/// In a child only: a budget that breaks.
#[test]
fn child_breaks_a_budget() {
    if std::env::var_os(CHILD).is_none() {
        return;
    }
    allocsite::assert_no_alloc!({
        std::thread::sleep(std::time::Duration::from_millis(SCOPE_MS));
        std::hint::black_box(vec![1u8; 10])
    });
}

/// How long the child's scope runs: the profile's run time is at least this.
const SCOPE_MS: u64 = 30;

/// The profile path a failure message names.
fn named_profile(output: &str) -> PathBuf {
    let start = output.find("profile of the scope: ").expect(output) + 22;
    let end = output[start..].find(" (open").unwrap();
    PathBuf::from(&output[start..start + end])
}

#[test]
fn profiles_go_under_the_binarys_target_directory_named_after_the_test() {
    let root = std::env::temp_dir().join(format!("allocsite-target-dir-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&root);
    // What `cargo test --target-dir <root>/elsewhere` builds: <target>/debug/deps/<name>-<hash>,
    // and cargo's tag at the top of the target directory.
    let target = root.join("elsewhere");
    let deps = target.join("debug/deps");
    std::fs::create_dir_all(&deps).unwrap();
    std::fs::write(
        target.join("CACHEDIR.TAG"),
        "Signature: 8a477f597d28d172789f06886806bc55\n",
    )
    .unwrap();
    let binary = deps.join("budget_profiles-0123456789abcdef");
    std::fs::copy(std::env::current_exe().unwrap(), &binary).unwrap();
    let working = root.join("somewhere/else");
    std::fs::create_dir_all(&working).unwrap();

    let expected = target.join("allocsite/budget_profiles/child_breaks_a_budget.json");
    for run in 0..2 {
        let output = Command::new(&binary)
            .args(["--exact", "child_breaks_a_budget"])
            .env(CHILD, "1")
            .env_remove("CARGO_TARGET_DIR")
            .current_dir(&working)
            .output()
            .unwrap();
        assert!(!output.status.success(), "the budget breaks");
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        let named = named_profile(&text);
        assert!(named.is_absolute(), "run {run}: {text}");
        assert_eq!(named, expected, "run {run}: {text}");
        let profile =
            allocsite::report::dhat::DhatFile::from_json(&std::fs::read_to_string(&named).unwrap())
                .unwrap();
        assert_eq!(profile.total_blocks(), 1.0);
        // The run time (t-end) is the scope's, not a placeholder.
        assert!(
            (SCOPE_MS * 1000..60_000_000).contains(&profile.end_time),
            "run {run}: t-end {} µs",
            profile.end_time
        );
    }
    let kept: Vec<_> = std::fs::read_dir(expected.parent().unwrap())
        .unwrap()
        .map(|entry| entry.unwrap().file_name())
        .collect();
    assert_eq!(
        kept,
        ["child_breaks_a_budget.json"],
        "only the latest is kept"
    );
    assert!(
        !working.join("target").exists() && !Path::new(&working).join("allocsite").exists(),
        "nothing written relative to the working directory"
    );
    std::fs::remove_dir_all(&root).unwrap();
}
