//! Where a broken budget's scope profile is written:
//! `<target>/allocsite/<test binary>/<test>.json`.
//!
//! - `<target>` is the target directory the running test binary was built in, found from the
//!   binary's own path (the closest directory above it holding cargo's `CACHEDIR.TAG`), so
//!   `--target-dir`, `CARGO_TARGET_DIR` and `build.target-dir` are all followed whatever the
//!   working directory; failing that, the closest `target` directory above it, else the
//!   system's temporary directory. The path is absolute.
//! - `<test>` is the name libtest (and nextest) gives the test's thread, e.g.
//!   `parser::tests::splits_fields` (`::` written as `.`); outside a named thread (a program,
//!   a test without libtest's harness, a thread the test started), the budget's source
//!   location.
//! - One file per test: the latest failure replaces the last, so the folder does not fill up
//!   across runs. Written atomically, so a reader never sees half a file.

use std::panic::Location;
use std::path::{Path, PathBuf};

use crate::report::dhat::DhatFile;
use crate::report::write::write_atomically;

/// Writes `profile`, the scope of the budget at `caller`, and returns its absolute path.
pub(super) fn write_failure_profile(
    caller: &Location<'_>,
    profile: &DhatFile,
) -> std::io::Result<PathBuf> {
    let executable = std::env::current_exe()?;
    let path = profile_path(
        &executable,
        std::thread::current().name(),
        caller,
        Path::exists,
    );
    if let Some(directory) = path.parent() {
        std::fs::create_dir_all(directory)?;
    }
    let text = serde_json::to_string(profile)?;
    write_atomically(&path, |out| out.write_all(text.as_bytes()))?;
    Ok(path)
}

/// The profile path for a budget at `caller` in the thread `thread` of `executable`;
/// `exists` tells whether a path exists (a parameter, for the tests).
fn profile_path(
    executable: &Path,
    thread: Option<&str>,
    caller: &Location<'_>,
    exists: impl Fn(&Path) -> bool,
) -> PathBuf {
    let ancestors = || executable.ancestors().skip(1);
    let target = ancestors()
        .find(|dir| exists(&dir.join("CACHEDIR.TAG")))
        .or_else(|| ancestors().find(|dir| dir.file_name().is_some_and(|name| name == "target")))
        .map_or_else(std::env::temp_dir, Path::to_path_buf);
    let binary = executable
        .file_stem()
        .map_or_else(|| "test".into(), |stem| stem.to_string_lossy())
        .into_owned();
    // cargo names test binaries `<name>-<16 hex digits>`.
    let binary = match binary.rsplit_once('-') {
        Some((name, hash)) if hash.len() == 16 && hash.bytes().all(|b| b.is_ascii_hexdigit()) => {
            name.to_owned()
        }
        _ => binary,
    };
    let test = match thread {
        Some(name) if name != "main" => name.replace("::", "."),
        _ => format!("{}-{}", caller.file(), caller.line()),
    };
    target
        .join("allocsite")
        .join(file_name(&binary))
        .join(format!("{}.json", file_name(&test)))
}

/// `name` with anything but letters, digits, `_`, `.` and `-` replaced by `-`.
fn file_name(name: &str) -> String {
    let name: String = name
        .chars()
        .map(|c| match c {
            'a'..='z' | 'A'..='Z' | '0'..='9' | '_' | '.' | '-' => c,
            _ => '-',
        })
        .take(200)
        .collect();
    match name.trim_start_matches('.') {
        "" => "scope".to_owned(),
        _ => name,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[track_caller]
    fn here() -> &'static Location<'static> {
        Location::caller()
    }

    #[test]
    fn named_after_the_test_under_the_target_directory_holding_the_binary() {
        let tagged = |dir: &Path| dir == Path::new("/work/out/CACHEDIR.TAG");
        let caller = here();
        // `--target-dir /work/out`, with a target triple: not a directory named `target`.
        let path = profile_path(
            Path::new("/work/out/x86_64-unknown-linux-gnu/debug/deps/parser-0123456789abcdef"),
            Some("tests::splits_fields"),
            caller,
            tagged,
        );
        assert_eq!(
            path,
            Path::new("/work/out/allocsite/parser/tests.splits_fields.json")
        );
        // No tag: the closest `target`; no test thread: the budget's location.
        let path = profile_path(
            Path::new("/src/app/target/debug/examples/demo"),
            Some("main"),
            caller,
            |_| false,
        );
        assert_eq!(
            path,
            Path::new(&format!(
                "/src/app/target/allocsite/demo/src-budget-profile_path.rs-{}.json",
                caller.line()
            ))
        );
        // Neither: the temporary directory, still absolute.
        let path = profile_path(Path::new("/opt/bin/tool"), None, caller, |_| false);
        assert!(path.starts_with(std::env::temp_dir().join("allocsite/tool")));
        assert!(path.is_absolute());
    }

    #[test]
    fn names_become_file_names() {
        assert_eq!(file_name("a/b c::d<T>"), "a-b-c--d-T-");
        assert_eq!(file_name(".."), "scope");
        assert_eq!(file_name(&"x".repeat(500)).len(), 200);
    }
}
