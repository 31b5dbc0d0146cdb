//! Failure messages of broken budgets and baselines, and the scope profile they point to.

use std::panic::Location;
#[cfg(feature = "report")]
use std::path::{Path, PathBuf};

#[cfg(feature = "report")]
use super::sites::call_sites_of;
use super::usage::Usage;
#[cfg(feature = "report")]
use crate::report::dhat::DhatFile;

/// How many call sites a failure message lists before "… and N more sites" (and a baseline
/// file keeps).
pub(super) const SITES_SHOWN: usize = 8;

/// Builds a failure message and writes the scope's profile.
pub(super) fn failure_message(
    title: &str,
    caller: &Location<'_>,
    broken: &[String],
    usage: &Usage,
) -> String {
    use std::fmt::Write;
    let mut message = format!("{title} at {caller}\n");
    for line in broken {
        let _ = writeln!(message, "  {line}");
    }
    let _ = writeln!(message, "  the scope made {}", usage.describe());
    // Without `report` there is no `track` either: no stacks, no profile.
    #[cfg(feature = "report")]
    describe_sites_and_write_profile(&mut message, caller, usage);
    message
}

/// Adds the call sites to `message` and writes the scope's profile, naming it.
#[cfg(feature = "report")]
fn describe_sites_and_write_profile(message: &mut String, caller: &Location<'_>, usage: &Usage) {
    use std::fmt::Write;
    let profile = usage.to_dhat(&format!("allocation budget at {caller}"));
    let sites = call_sites_of(&profile);
    if !sites.is_empty() {
        let _ = writeln!(
            message,
            "  call sites in the scope, most allocations first:"
        );
        for site in sites.iter().take(SITES_SHOWN) {
            let _ = writeln!(
                message,
                "    {}  {}  ({} allocations, {} bytes)",
                site.location(),
                site.describe(),
                site.allocations,
                site.bytes
            );
        }
        let more = sites.len().saturating_sub(SITES_SHOWN);
        if more > 0 {
            let plural = if more == 1 { "" } else { "s" };
            let _ = writeln!(message, "    … and {more} more site{plural}");
        }
    }
    match write_failure_profile(caller, &profile) {
        Ok(path) => {
            let _ = write!(
                message,
                "  profile of the scope: {} (open it: allocsite view {})",
                path.display(),
                shell_word(&path.display().to_string())
            );
        }
        Err(reason) => {
            let _ = write!(message, "  (could not write the scope's profile: {reason})");
        }
    }
}

/// `text` as one word of a shell command: as it is when it needs no quoting, else in single
/// quotes (the `allocsite view` command printed above must work when pasted).
#[cfg(feature = "report")]
fn shell_word(text: &str) -> String {
    let plain = |c: char| c.is_ascii_alphanumeric() || "/._-+:=@,%".contains(c);
    if !text.is_empty() && text.chars().all(plain) {
        text.to_owned()
    } else {
        format!("'{}'", text.replace('\'', r"'\''"))
    }
}

#[cfg(feature = "report")]
/// `target/allocsite/` of the running test binary: `CARGO_TARGET_DIR` if set, else the
/// `target` directory the executable lives in, else `./target`.
fn profile_directory() -> PathBuf {
    if let Some(dir) = std::env::var_os("CARGO_TARGET_DIR") {
        return PathBuf::from(dir).join("allocsite");
    }
    let from_executable = std::env::current_exe().ok().and_then(|exe| {
        exe.ancestors()
            .find(|dir| dir.file_name().is_some_and(|name| name == "target"))
            .map(Path::to_path_buf)
    });
    from_executable
        .unwrap_or_else(|| PathBuf::from("target"))
        .join("allocsite")
}

#[cfg(feature = "report")]
fn write_failure_profile(caller: &Location<'_>, profile: &DhatFile) -> std::io::Result<PathBuf> {
    use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
    static COUNT: AtomicU64 = AtomicU64::new(0);
    let directory = profile_directory();
    std::fs::create_dir_all(&directory)?;
    let file_stem: String = caller
        .file()
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect();
    let path = directory.join(format!(
        "budget-{file_stem}-{}-{}-{}.json",
        caller.line(),
        std::process::id(),
        COUNT.fetch_add(1, Relaxed)
    ));
    let text = serde_json::to_string(profile)?;
    std::fs::write(&path, text)?;
    Ok(path)
}

#[cfg(all(test, feature = "report"))]
mod tests {
    use super::shell_word;

    #[test]
    fn paths_are_quoted_only_when_a_shell_needs_it() {
        assert_eq!(
            shell_word("/work/target/allocsite/budget-tests-a-rs-3-42-0.json"),
            "/work/target/allocsite/budget-tests-a-rs-3-42-0.json"
        );
        assert_eq!(shell_word("/my dir/p.json"), "'/my dir/p.json'");
        assert_eq!(shell_word("/it's/p.json"), r"'/it'\''s/p.json'");
        assert_eq!(shell_word(""), "''");
    }
}
