//! [`Baseline`]: a committed file of expected figures for a scope (its format:
//! `baseline_file.rs`).

use std::future::Future;
use std::io::Write;
use std::panic::Location;
use std::path::{Path, PathBuf};

use super::baseline_file::{self, FIGURES, figures};
use super::failure::failure_message;
use super::future::{PanicsAtAwait, measure_future_or_fail};
use super::limits::measure_or_panic;
use super::usage::{CallSite, Usage};
use crate::report::write::write_atomically;
use crate::settings;

/// The variable that rewrites baselines from the current run.
const UPDATE: &str = "ALLOCSITE_UPDATE_BASELINES";

/// A committed file of expected figures for a scope, for budgets nobody can guess up
/// front. Set `ALLOCSITE_UPDATE_BASELINES=1` (or `true`, `yes`; `0`, `false`, `no` are off)
/// to (re)write the files from the current run, like `INSTA_UPDATE` for snapshots.
///
/// - A figure above the file's (beyond the tolerance) fails, naming each figure and the call
///   sites that changed since the file was written (it keeps the top call sites).
/// - A figure below the file's passes, and says on stderr (even when the test's output is
///   captured) that the baseline improved and how to lock the gain in; otherwise a later
///   regression back up to the old figures would pass unnoticed.
/// - A missing file fails; its folder is created and the current figures written beside it
///   as `<name>.new` for review (`*.new` belongs in `.gitignore`).
///
/// ```
/// #[global_allocator]
/// static ALLOC: allocsite::Alloc = allocsite::Alloc::system();
///
/// # fn main() {
/// # if !allocsite::tracking_enabled() { return; }
/// let dir = std::env::temp_dir().join(format!("allocsite-baseline-doc-{}", std::process::id()));
/// std::fs::create_dir_all(&dir).unwrap();
/// let path = dir.join("words.txt");
/// // A `Vec<&str>` of capacity 4: one allocation of 64 bytes, freed in the scope.
/// std::fs::write(&path, "allocations = 1\nreallocations = 0\nbytes_allocated = 64\npeak_live_bytes = 64\nleaked_blocks = 0\nleaked_bytes = 0\n").unwrap();
/// let count = allocsite::Baseline::new(&path).run(|| {
///     let words: Vec<&str> = std::hint::black_box("a b c").split(' ').collect();
///     words.len()
/// });
/// assert_eq!(count, 3);
/// # }
/// ```
#[derive(Clone, Debug)]
pub struct Baseline {
    path: PathBuf,
    tolerance_percent: f64,
}

/// What comparing a scope with its baseline found.
#[derive(Debug)]
enum Outcome {
    /// Every figure as in the file, within the tolerance.
    Held,
    /// Within the tolerance, and these figures went down (one line each).
    Improved(Vec<String>),
    /// `ALLOCSITE_UPDATE_BASELINES` is on and the file was written.
    Updated,
    /// The test fails: the baseline `headline` (`exceeded`, `missing`, …) and one line per
    /// reason.
    Failed {
        headline: &'static str,
        lines: Vec<String>,
    },
}

impl Baseline {
    /// A baseline stored at `path` (relative paths are relative to the working directory,
    /// which `cargo test` sets to the package root; [`assert_baseline!`](crate::assert_baseline)
    /// makes them relative to the calling crate's manifest).
    pub fn new(path: impl Into<PathBuf>) -> Self {
        Baseline {
            path: path.into(),
            tolerance_percent: 0.0,
        }
    }

    /// Accept figures up to `percent` % above the baseline (default 0: exact).
    pub fn tolerance_percent(mut self, percent: f64) -> Self {
        self.tolerance_percent = percent.max(0.0);
        self
    }

    /// Compares `usage` with the file (or, with `ALLOCSITE_UPDATE_BASELINES` on, writes it).
    /// Figures that went down pass.
    ///
    /// # Errors
    ///
    /// One line per figure that grew (then the call sites that changed, and where the
    /// current figures were written), or the lines saying why the file is missing, cannot be
    /// read or parsed, cannot be written, or why `ALLOCSITE_UPDATE_BASELINES` is invalid.
    pub fn check(&self, usage: &Usage) -> Result<(), Vec<String>> {
        match self.compare(usage) {
            Outcome::Failed { lines, .. } => Err(lines),
            Outcome::Held | Outcome::Improved(_) | Outcome::Updated => Ok(()),
        }
    }

    /// Runs `work` and compares its usage with the baseline: panics naming each figure that
    /// grew (with the call sites and the scope's profile), and says on stderr when figures
    /// went down.
    ///
    /// # Panics
    ///
    /// When a figure grew, the file is missing or cannot be used, or nothing can be measured
    /// (tracking off, allocator not installed).
    #[track_caller]
    pub fn run<R>(&self, work: impl FnOnce() -> R) -> R {
        let caller = Location::caller();
        let (value, usage) = measure_or_panic(caller, work);
        if let Err(message) = self.conclude(caller, &usage) {
            panic!("{message}");
        }
        value
    }

    /// The async form of [`Baseline::run`]: measures `future` (see
    /// [`measure_future`](crate::measure_future)) and compares its usage with the baseline
    /// when it completes.
    ///
    /// # Panics
    ///
    /// As [`Baseline::run`], when the future completes.
    #[track_caller]
    pub fn run_async<F: Future>(&self, future: F) -> impl Future<Output = F::Output> + use<F> {
        let caller = Location::caller();
        let baseline = self.clone();
        PanicsAtAwait::new(async move {
            let (value, usage) = measure_future_or_fail(caller, future).await?;
            baseline.conclude(caller, &usage)?;
            Ok(value)
        })
    }

    /// Compares `usage`, measured at `caller`, with the baseline: `Err` is the failure
    /// message when the test fails (the caller panics with it, so that the panic is located
    /// at the user's line); says so on stderr when figures went down.
    fn conclude(&self, caller: &Location<'_>, usage: &Usage) -> Result<(), String> {
        match self.compare(usage) {
            Outcome::Failed { headline, lines } => {
                let title = format!("allocation baseline {} {headline}", self.path.display());
                return Err(failure_message(&title, caller, &lines, usage));
            }
            Outcome::Improved(lines) => {
                // Straight to the process's stderr: a passing test's `eprintln!` is captured
                // by the test harness and never shown.
                let _ = std::io::stderr().write_all(
                    format!(
                        "allocsite: allocation baseline {} improved at {caller}: {}; lock the \
                         gain in with {UPDATE}=1\n",
                        self.path.display(),
                        lines.join(", ")
                    )
                    .as_bytes(),
                );
            }
            Outcome::Held | Outcome::Updated => {}
        }
        Ok(())
    }

    fn compare(&self, usage: &Usage) -> Outcome {
        let path = self.path.display();
        let failed = |headline, line: String| Outcome::Failed {
            headline,
            lines: vec![line],
        };
        match update_requested() {
            Err(reason) => return failed("cannot be checked", reason),
            Ok(true) => {
                return match write_file(&self.path, usage, &usage.call_sites()) {
                    Ok(()) => {
                        // A proposal left by an earlier failure is out of date now.
                        let _ = std::fs::remove_file(self.proposal_path());
                        Outcome::Updated
                    }
                    Err(error) => failed(
                        "cannot be written",
                        format!("could not write baseline {path}: {error}"),
                    ),
                };
            }
            Ok(false) => {}
        }
        let text = match std::fs::read_to_string(&self.path) {
            Ok(text) => text,
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
                return Outcome::Failed {
                    headline: "missing",
                    lines: vec![
                        format!("baseline {path} does not exist"),
                        self.propose(usage, &usage.call_sites()),
                    ],
                };
            }
            Err(error) => {
                return failed(
                    "cannot be used",
                    format!("baseline {path} cannot be read: {error}"),
                );
            }
        };
        let file = match baseline_file::parse(&text) {
            Ok(file) => file,
            Err(reason) => return failed("cannot be used", format!("baseline {path} {reason}")),
        };
        let mut grew = Vec::new();
        let mut improved = Vec::new();
        for (name, actual) in FIGURES.iter().zip(figures(usage)) {
            let Some(&base) = file.figures.get(*name) else {
                grew.push(format!("{name}: missing from baseline {path}"));
                continue;
            };
            let allowed = base as f64 * (1.0 + self.tolerance_percent / 100.0);
            if actual as f64 > allowed {
                grew.push(format!("{name} grew: {actual}, baseline {base}"));
            } else if actual < base {
                improved.push(format!("{name} {actual}, baseline {base}"));
            }
        }
        if grew.is_empty() {
            return match improved.is_empty() {
                true => Outcome::Held,
                false => Outcome::Improved(improved),
            };
        }
        let sites = usage.call_sites();
        let changes = baseline_file::site_changes(&file.sites, &sites);
        if !file.sites.is_empty() && !changes.is_empty() {
            grew.push("call sites that changed since the baseline:".to_owned());
            grew.extend(changes.into_iter().map(|line| format!("  {line}")));
        }
        grew.push(self.propose(usage, &sites));
        Outcome::Failed {
            headline: "exceeded",
            lines: grew,
        }
    }

    /// `<name>.new` beside the baseline: the current figures, for review.
    fn proposal_path(&self) -> PathBuf {
        self.path.with_extension("new")
    }

    /// Writes the current figures beside the baseline and says where, or why not.
    fn propose(&self, usage: &Usage, sites: &[CallSite]) -> String {
        let (path, new) = (self.path.display(), self.proposal_path());
        match write_file(&new, usage, sites) {
            Ok(()) => format!(
                "the current figures are in {}: review it and rename it to {path}, or run with \
                 {UPDATE}=1 to write {path}",
                new.display()
            ),
            Err(error) => format!(
                "(could not write the current figures to {}: {error}) run with {UPDATE}=1 to \
                 write {path}",
                new.display()
            ),
        }
    }
}

/// Whether `ALLOCSITE_UPDATE_BASELINES` asks to rewrite the files, or why its value is invalid.
fn update_requested() -> Result<bool, String> {
    match std::env::var(UPDATE) {
        Ok(value) => settings::switch(UPDATE, &value).map_err(|error| error.to_string()),
        Err(std::env::VarError::NotPresent) => Ok(false),
        Err(std::env::VarError::NotUnicode(value)) => Err(format!(
            "environment variable {UPDATE}={value:?} is invalid: expected {}",
            settings::SWITCH_VALUES
        )),
    }
}

/// Writes a baseline file for `usage` at `path`, creating its folder.
fn write_file(path: &Path, usage: &Usage, sites: &[CallSite]) -> std::io::Result<()> {
    if let Some(parent) = path
        .parent()
        .filter(|parent| !parent.as_os_str().is_empty())
    {
        std::fs::create_dir_all(parent)?;
    }
    let text = baseline_file::render(usage, sites);
    write_atomically(path, |out| out.write_all(text.as_bytes()))
}
