//! `allocsite view`: the report in a new private folder of the temporary directory, its
//! path printed, the desktop's opener run when there is one. The opener here is a script
//! named `xdg-open` on a PATH of the test's own, so no browser is ever started.
#![cfg(all(unix, not(target_os = "macos")))]

mod common;

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use common::{Run, command, fixture, scratch};

/// A folder holding an executable `xdg-open` with `body` (a shell script).
fn fake_opener(dir: &Path, body: &str) -> PathBuf {
    let bin = dir.join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    let script = bin.join("xdg-open");
    std::fs::write(&script, format!("#!/bin/sh\n{body}\n")).unwrap();
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    bin
}

/// `allocsite view FILE…` with its own TMPDIR, no HOME, and the given PATH and DISPLAY.
fn view(
    dir: &Path,
    args: &[&dyn AsRef<std::ffi::OsStr>],
    path: &str,
    display: Option<&str>,
) -> Run {
    let tmp = dir.join("tmp");
    std::fs::create_dir_all(&tmp).unwrap();
    let mut all: Vec<&dyn AsRef<std::ffi::OsStr>> = vec![&"view"];
    all.extend_from_slice(args);
    let mut command = command(dir, &all);
    command
        .env("TMPDIR", &tmp)
        .env("PATH", path)
        .env_remove("HOME");
    if let Some(display) = display {
        command.env("DISPLAY", display);
    }
    command.output().unwrap().into()
}

/// The report's path (stdout), checked: in a new folder of `dir/tmp` that only the user
/// can read, named after the profile, with the profile inside.
fn report_of(dir: &Path, run: &Run, name: &str) -> PathBuf {
    assert_eq!(run.status, Some(0), "{}", run.stderr);
    assert_eq!(run.stdout.lines().count(), 1, "{}", run.stdout);
    let report = PathBuf::from(run.stdout.trim_end());
    assert_eq!(report.file_name().unwrap(), name);
    let folder = report.parent().unwrap();
    assert_eq!(folder.parent().unwrap(), dir.join("tmp"));
    assert!(
        folder
            .file_name()
            .unwrap()
            .to_str()
            .unwrap()
            .starts_with("allocsite-view-")
    );
    let mode = std::fs::metadata(folder).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o700, "{mode:o}");
    let page = std::fs::read_to_string(&report).unwrap();
    assert!(page.contains(r#"id="allocsite-data""#));
    report
}

#[test]
fn opens_the_report_with_xdg_open() {
    let dir = scratch("view-open");
    let bin = fake_opener(&dir, r#"echo "$@" > "$(dirname "$0")/opened.txt""#);
    let path = format!("{}:/usr/bin:/bin", bin.display());
    let run = view(
        &dir,
        &[&fixture("dhat-crate-heap.json")],
        &path,
        Some(":77"),
    );
    let report = report_of(&dir, &run, "dhat-crate-heap.html");
    assert_eq!(run.stderr, "allocsite: opened it with xdg-open\n");
    let opened = std::fs::read_to_string(bin.join("opened.txt")).unwrap();
    assert_eq!(opened.trim_end(), report.to_str().unwrap());

    // Each run gets its own folder.
    let again = view(
        &dir,
        &[&fixture("dhat-crate-heap.json")],
        &path,
        Some(":77"),
    );
    assert_ne!(report_of(&dir, &again, "dhat-crate-heap.html"), report);
}

#[test]
fn a_comparison_opens_on_both_profiles() {
    let dir = scratch("view-baseline");
    let bin = fake_opener(&dir, "exit 0");
    let path = format!("{}:/usr/bin:/bin", bin.display());
    let run = view(
        &dir,
        &[
            &fixture("compare-after.json"),
            &"--baseline",
            &fixture("compare-before.json"),
        ],
        &path,
        Some(":77"),
    );
    let report = report_of(&dir, &run, "compare-after.html");
    let page = std::fs::read_to_string(report).unwrap();
    assert!(page.contains(r#"id="allocsite-data-baseline" data-name="compare-before.json""#));
}

#[test]
fn without_a_desktop_the_path_is_printed_all_the_same() {
    let dir = scratch("view-no-desktop");
    let bin = fake_opener(&dir, r#"touch "$(dirname "$0")/ran""#);
    let path = format!("{}:/usr/bin:/bin", bin.display());
    let run = view(&dir, &[&fixture("valgrind-heap.json")], &path, None);
    report_of(&dir, &run, "valgrind-heap.html");
    assert_eq!(
        run.stderr,
        "allocsite: not opened: no desktop session (DISPLAY and WAYLAND_DISPLAY are not set); \
         open the file above in a browser\n"
    );
    assert!(
        !bin.join("ran").exists(),
        "the opener ran without a desktop"
    );

    // A desktop without xdg-open.
    let run = view(
        &dir,
        &[&fixture("valgrind-heap.json")],
        "/nonexistent",
        Some(":77"),
    );
    report_of(&dir, &run, "valgrind-heap.html");
    assert_eq!(
        run.stderr,
        "allocsite: not opened: xdg-open is not installed (Debian: apt install xdg-utils); \
         open the file above in a browser\n"
    );

    // --no-open: the path only.
    let run = view(
        &dir,
        &[&"--no-open", &fixture("valgrind-heap.json")],
        &path,
        Some(":77"),
    );
    report_of(&dir, &run, "valgrind-heap.html");
    assert_eq!(run.stderr, "");
    assert!(!bin.join("ran").exists());
}

#[test]
fn an_opener_that_fails_or_keeps_running() {
    let dir = scratch("view-opener-fails");
    let bin = fake_opener(&dir, "echo 'no method available' >&2; exit 3");
    let path = format!("{}:/usr/bin:/bin", bin.display());
    let run = view(&dir, &[&fixture("valgrind-copy.json")], &path, Some(":77"));
    report_of(&dir, &run, "valgrind-copy.html");
    assert_eq!(
        run.stderr,
        "allocsite: xdg-open could not open it (exit status: 3); open the file above in a browser\n"
    );

    // A browser started in the foreground: allocsite does not wait for it.
    let dir = scratch("view-opener-stays");
    let bin = fake_opener(&dir, "sleep 6");
    let path = format!("{}:/usr/bin:/bin", bin.display());
    let started = Instant::now();
    let run = view(&dir, &[&fixture("valgrind-copy.json")], &path, Some(":77"));
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
    report_of(&dir, &run, "valgrind-copy.html");
    assert_eq!(run.stderr, "allocsite: opening it with xdg-open\n");
}
