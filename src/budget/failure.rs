//! Failure messages of broken budgets and baselines, and the scope profile they point to
//! (written where `profile_path.rs` says).

#[cfg(feature = "report")]
use super::profile_path::write_failure_profile;
#[cfg(feature = "report")]
use super::sites::call_sites_of;
use super::usage::Usage;
use std::panic::Location;

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
            let _ = writeln!(message, "    {site}");
        }
        let more = sites.len().saturating_sub(SITES_SHOWN);
        if more > 0 {
            let plural = if more == 1 { "" } else { "s" };
            let _ = writeln!(message, "    … and {more} more site{plural}");
        }
        // A site's count is DHAT's blocks (`CallSite::allocations`): without this line the
        // sites add up to more than the `allocations` figure above them.
        if usage.reallocations > 0 {
            let _ = writeln!(
                message,
                "    (the sites' counts include the scope's {} reallocation{}: each counts as \
                 one more allocation, as in DHAT)",
                usage.reallocations,
                if usage.reallocations == 1 { "" } else { "s" }
            );
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

#[cfg(all(test, feature = "report"))]
mod tests {
    use super::shell_word;

    #[test]
    fn paths_are_quoted_only_when_a_shell_needs_it() {
        assert_eq!(
            shell_word("/work/target/allocsite/budgets/parse_stays_within_its_budget.json"),
            "/work/target/allocsite/budgets/parse_stays_within_its_budget.json"
        );
        assert_eq!(shell_word("/my dir/p.json"), "'/my dir/p.json'");
        assert_eq!(shell_word("/it's/p.json"), r"'/it'\''s/p.json'");
        assert_eq!(shell_word(""), "''");
    }
}
