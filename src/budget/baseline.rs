//! [`Baseline`]: a committed file of expected figures for a scope.

use std::future::Future;
use std::panic::Location;
use std::path::PathBuf;

use super::failure::failure_message;
use super::future::measure_future_or_panic;
use super::limits::measure_or_panic;
use super::usage::Usage;

/// A committed file of expected figures for a scope, for budgets nobody can guess up
/// front. Set `ALLOCSITE_UPDATE_BASELINES=1` to (re)write the files from the current run,
/// like `INSTA_UPDATE` for snapshots; a missing file fails (and a `.new` file with the
/// current figures is written beside it for review).
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

/// The figures a baseline file holds, in file order.
const BASELINE_FIGURES: [&str; 6] = [
    "allocations",
    "reallocations",
    "bytes_allocated",
    "peak_live_bytes",
    "leaked_blocks",
    "leaked_bytes",
];

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

    fn figures(usage: &Usage) -> [u64; 6] {
        [
            usage.allocations,
            usage.reallocations,
            usage.bytes_allocated,
            usage.peak_live_bytes,
            usage.leaked_blocks,
            usage.leaked_bytes,
        ]
    }

    fn render(usage: &Usage) -> String {
        BASELINE_FIGURES
            .iter()
            .zip(Self::figures(usage))
            .map(|(name, value)| format!("{name} = {value}\n"))
            .collect()
    }

    /// Compares `usage` with the file.
    ///
    /// # Errors
    ///
    /// One line per figure that grew, or one line saying why the file could not be read,
    /// parsed or (with `ALLOCSITE_UPDATE_BASELINES`) written.
    pub fn check(&self, usage: &Usage) -> Result<(), Vec<String>> {
        if std::env::var_os("ALLOCSITE_UPDATE_BASELINES").is_some_and(|v| v != "0") {
            if let Some(parent) = self.path.parent() {
                let _ = std::fs::create_dir_all(parent);
            }
            return std::fs::write(&self.path, Self::render(usage)).map_err(|error| {
                vec![format!(
                    "could not write baseline {}: {error}",
                    self.path.display()
                )]
            });
        }
        let text = match std::fs::read_to_string(&self.path) {
            Ok(text) => text,
            Err(error) => {
                let new = self.path.with_extension("new");
                let _ = std::fs::write(&new, Self::render(usage));
                return Err(vec![format!(
                    "baseline {} cannot be read ({error}); the current figures are in {}: \
                     review and rename it, or run with ALLOCSITE_UPDATE_BASELINES=1",
                    self.path.display(),
                    new.display()
                )]);
            }
        };
        let mut expected = std::collections::HashMap::new();
        for (number, line) in text
            .lines()
            .enumerate()
            .filter(|(_, l)| !l.trim().is_empty())
        {
            let parsed = line.split_once('=').and_then(|(name, value)| {
                Some((name.trim().to_string(), value.trim().parse::<u64>().ok()?))
            });
            match parsed {
                Some((name, value)) if BASELINE_FIGURES.contains(&name.as_str()) => {
                    expected.insert(name, value);
                }
                _ => {
                    return Err(vec![format!(
                        "baseline {} line {}: expected `<figure> = <number>` with a figure among {}, found {line:?}",
                        self.path.display(),
                        number + 1,
                        BASELINE_FIGURES.join(", ")
                    )]);
                }
            }
        }
        let mut grew = Vec::new();
        for (name, actual) in BASELINE_FIGURES.iter().zip(Self::figures(usage)) {
            let Some(&base) = expected.get(*name) else {
                grew.push(format!(
                    "{name}: missing from baseline {}",
                    self.path.display()
                ));
                continue;
            };
            let allowed = base as f64 * (1.0 + self.tolerance_percent / 100.0);
            if actual as f64 > allowed {
                grew.push(format!("{name} grew: {actual}, baseline {base}"));
            }
        }
        if grew.is_empty() {
            Ok(())
        } else {
            let _ = std::fs::write(self.path.with_extension("new"), Self::render(usage));
            Err(grew)
        }
    }

    /// Runs `work`, compares its usage with the baseline, and panics naming each figure
    /// that grew (with the call sites and the scope's profile).
    ///
    /// # Panics
    ///
    /// When a figure grew, the file cannot be used, or nothing can be measured (tracking
    /// off, allocator not installed).
    #[track_caller]
    pub fn run<R>(&self, work: impl FnOnce() -> R) -> R {
        let caller = Location::caller();
        let (value, usage) = measure_or_panic(caller, work);
        if let Err(grew) = self.check(&usage) {
            let title = format!("allocation baseline {} exceeded", self.path.display());
            panic!("{}", failure_message(&title, caller, &grew, &usage));
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
        async move {
            let (value, usage) = measure_future_or_panic(caller, future).await;
            if let Err(grew) = baseline.check(&usage) {
                let title = format!("allocation baseline {} exceeded", baseline.path.display());
                panic!("{}", failure_message(&title, caller, &grew, &usage));
            }
            value
        }
    }
}
