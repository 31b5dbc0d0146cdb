//! The baseline file: a scope's figures, one `figure = number` line each, and its top call
//! sites when the file was written (`site = … | … | … | …` lines, never checked: a failure
//! message compares them with the current ones, so a regression names what changed).
//!
//! ```text
//! allocations = 4
//! reallocations = 0
//! bytes_allocated = 110
//! peak_live_bytes = 110
//! leaked_blocks = 4
//! leaked_bytes = 110
//! # Call sites when this file was written, most allocations first (not checked: failure
//! # messages compare them with the current ones).
//! site = 3 allocations | 15 bytes | tests/parse.rs:18 | alloc::str::<impl str>::to_owned ← parse::words
//! ```

use std::collections::HashMap;
use std::fmt::Write;

use super::usage::{CallSite, Usage};

/// The figures a baseline file holds, in file order.
pub(super) const FIGURES: [&str; 6] = [
    "allocations",
    "reallocations",
    "bytes_allocated",
    "peak_live_bytes",
    "leaked_blocks",
    "leaked_bytes",
];

/// How many call sites a baseline file keeps: as many as a failure message lists.
const SITES_KEPT: usize = super::failure::SITES_SHOWN;

/// `usage`'s figures, in [`FIGURES`] order.
pub(super) fn figures(usage: &Usage) -> [u64; 6] {
    [
        usage.allocations,
        usage.reallocations,
        usage.bytes_allocated,
        usage.peak_live_bytes,
        usage.leaked_blocks,
        usage.leaked_bytes,
    ]
}

/// A call site as a baseline file keeps it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct StoredSite {
    pub(super) allocations: u64,
    pub(super) bytes: u64,
    /// `file:line` (or the function when there is no line information).
    pub(super) location: String,
    /// `callee ← function`, as [`CallSite::describe`] writes it.
    pub(super) description: String,
}

impl StoredSite {
    fn of(site: &CallSite) -> Self {
        StoredSite {
            allocations: site.allocations,
            bytes: site.bytes,
            location: site.location(),
            description: site.describe(),
        }
    }

    /// What identifies a site across edits: its file (not its line, which moves when code
    /// above it changes) and what it does.
    fn key(&self) -> (&str, &str) {
        let file = match self.location.rsplit_once(':') {
            Some((file, line)) if line.bytes().all(|b| b.is_ascii_digit()) => file,
            _ => &self.location,
        };
        (file, &self.description)
    }
}

/// A parsed baseline file.
#[derive(Debug, Default)]
pub(super) struct BaselineFile {
    pub(super) figures: HashMap<String, u64>,
    pub(super) sites: Vec<StoredSite>,
}

/// The text of a baseline file for `usage` and its call sites.
pub(super) fn render(usage: &Usage, sites: &[CallSite]) -> String {
    let mut text: String = FIGURES
        .iter()
        .zip(figures(usage))
        .map(|(name, value)| format!("{name} = {value}\n"))
        .collect();
    if !sites.is_empty() {
        text.push_str(
            "# Call sites when this file was written, most allocations first (not checked: failure\n\
             # messages compare them with the current ones).\n",
        );
    }
    for site in sites.iter().take(SITES_KEPT).map(StoredSite::of) {
        let _ = writeln!(
            text,
            "site = {} allocations | {} bytes | {} | {}",
            site.allocations, site.bytes, site.location, site.description
        );
    }
    text
}

/// Parses a baseline file; the error names the first line it cannot read.
pub(super) fn parse(text: &str) -> Result<BaselineFile, String> {
    let mut file = BaselineFile::default();
    for (number, line) in text.lines().enumerate() {
        let trimmed = line.trim();
        if trimmed.is_empty() || trimmed.starts_with('#') {
            continue;
        }
        let bad =
            |expected: &str| format!("line {}: expected {expected}, found {line:?}", number + 1);
        let Some((name, value)) = trimmed.split_once('=') else {
            return Err(bad(&figure_syntax()));
        };
        let (name, value) = (name.trim(), value.trim());
        if name == "site" {
            let site = parse_site(value).ok_or_else(|| {
                bad("`site = <n> allocations | <n> bytes | <file:line> | <description>`")
            })?;
            file.sites.push(site);
        } else if FIGURES.contains(&name) {
            let value = value.parse().map_err(|_| bad(&figure_syntax()))?;
            file.figures.insert(name.to_owned(), value);
        } else {
            return Err(bad(&figure_syntax()));
        }
    }
    Ok(file)
}

fn figure_syntax() -> String {
    format!(
        "`<figure> = <number>` with a figure among {} (or a `site = …` line)",
        FIGURES.join(", ")
    )
}

fn parse_site(value: &str) -> Option<StoredSite> {
    let mut fields = value.splitn(4, " | ");
    let allocations = fields.next()?.strip_suffix(" allocations")?.parse().ok()?;
    let bytes = fields.next()?.strip_suffix(" bytes")?.parse().ok()?;
    let location = fields.next()?.to_owned();
    let description = fields.next()?.to_owned();
    Some(StoredSite {
        allocations,
        bytes,
        location,
        description,
    })
}

/// How the current call sites differ from the ones the baseline kept: one line per site
/// that changed, appeared or disappeared, most allocations first, at most [`SITES_KEPT`].
pub(super) fn site_changes(stored: &[StoredSite], current: &[CallSite]) -> Vec<String> {
    let current: Vec<StoredSite> = current.iter().map(StoredSite::of).collect();
    let before: HashMap<_, _> = stored.iter().map(|site| (site.key(), site)).collect();
    let now: HashMap<_, _> = current.iter().map(|site| (site.key(), site)).collect();
    // A file that kept fewer sites than it could kept all of them: a site it lacks is new.
    let kept_all = stored.len() < SITES_KEPT;
    let mut changes: Vec<(u64, String)> = Vec::new();
    for site in &current {
        let head = format!("{}  {}", site.location, site.description);
        match before.get(&site.key()) {
            Some(old) if (old.allocations, old.bytes) == (site.allocations, site.bytes) => {}
            Some(old) => changes.push((
                site.allocations,
                format!(
                    "{head}: {} allocations (baseline {}), {} bytes (baseline {})",
                    site.allocations, old.allocations, site.bytes, old.bytes
                ),
            )),
            None => {
                let new = if kept_all {
                    "new"
                } else {
                    "not among the baseline's sites"
                };
                changes.push((
                    site.allocations,
                    format!(
                        "{head}: {new}, {} allocations, {} bytes",
                        site.allocations, site.bytes
                    ),
                ));
            }
        }
    }
    for old in stored {
        if !now.contains_key(&old.key()) {
            changes.push((
                old.allocations,
                format!(
                    "{}  {}: gone (baseline {} allocations, {} bytes)",
                    old.location, old.description, old.allocations, old.bytes
                ),
            ));
        }
    }
    changes.sort_by_key(|(allocations, _)| std::cmp::Reverse(*allocations));
    let more = changes.len().saturating_sub(SITES_KEPT);
    let mut lines: Vec<String> = changes
        .into_iter()
        .take(SITES_KEPT)
        .map(|(_, line)| line)
        .collect();
    if more > 0 {
        lines.push(format!("… and {more} more"));
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::symbolize::classify::FrameClass;

    fn site(line: u32, function: &str, allocations: u64, bytes: u64) -> CallSite {
        CallSite {
            function: function.to_owned(),
            file: Some("src/parse.rs".to_owned()),
            line: Some(line),
            callee: Some("alloc::string::String::from".to_owned()),
            class: FrameClass::User,
            allocations,
            bytes,
            stack: Vec::new(),
        }
    }

    fn usage() -> Usage {
        Usage {
            allocations: 4,
            bytes_allocated: 110,
            peak_live_bytes: 110,
            leaked_blocks: 4,
            leaked_bytes: 110,
            ..Usage::default()
        }
    }

    #[test]
    fn a_file_reads_back_what_was_written() {
        let sites = [
            site(18, "parse::words", 3, 15),
            site(20, "parse::line", 1, 95),
        ];
        let text = render(&usage(), &sites);
        assert_eq!(
            text.lines().last().unwrap(),
            "site = 1 allocations | 95 bytes | src/parse.rs:20 | alloc::string::String::from ← parse::line"
        );
        let file = parse(&text).unwrap();
        assert_eq!(file.figures["allocations"], 4);
        assert_eq!(file.figures["bytes_allocated"], 110);
        assert_eq!(file.sites.len(), 2);
        assert_eq!(file.sites[0], StoredSite::of(&sites[0]));
        // Files written before sites were kept still read.
        assert!(parse(&render(&usage(), &[])).unwrap().sites.is_empty());
    }

    #[test]
    fn a_bad_line_is_named() {
        assert_eq!(
            parse("allocations = 1\nallocs = 2\n").unwrap_err(),
            "line 2: expected `<figure> = <number>` with a figure among allocations, \
             reallocations, bytes_allocated, peak_live_bytes, leaked_blocks, leaked_bytes \
             (or a `site = …` line), found \"allocs = 2\""
        );
        assert!(
            parse("site = 3 allocations | 15 | src/a.rs:1 | f\n")
                .unwrap_err()
                .starts_with("line 1: expected `site = ")
        );
    }

    #[test]
    fn changes_name_sites_that_grew_appeared_and_went_by_file_not_line() {
        let stored: Vec<StoredSite> = [
            site(18, "parse::words", 3, 15),
            site(30, "parse::old", 2, 10),
        ]
        .iter()
        .map(StoredSite::of)
        .collect();
        // The line moved from 18 to 19 (an edit above it): still the same site.
        let current = [
            site(19, "parse::words", 5, 25),
            site(40, "parse::cache", 1, 64),
        ];
        assert_eq!(
            site_changes(&stored, &current),
            [
                "src/parse.rs:19  alloc::string::String::from ← parse::words: 5 allocations (baseline 3), 25 bytes (baseline 15)",
                "src/parse.rs:30  alloc::string::String::from ← parse::old: gone (baseline 2 allocations, 10 bytes)",
                "src/parse.rs:40  alloc::string::String::from ← parse::cache: new, 1 allocations, 64 bytes",
            ]
        );
        let unchanged = [
            site(18, "parse::words", 3, 15),
            site(30, "parse::old", 2, 10),
        ];
        assert!(site_changes(&stored, &unchanged).is_empty());
    }
}
