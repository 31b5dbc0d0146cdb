//! [`Profiler`]: start a heap profile, and get a DHAT file, an HTML report, folded stacks
//! and a terminal summary when it ends.

use std::path::PathBuf;

use crate::report::FoldedMetric;
use crate::{Error, backend};

/// Mean bytes between sampled allocations when nothing else is configured.
///
/// Chosen by measurement (BENCHMARKS.md, "Choosing the default sample rate"): at 64 KiB a
/// site holding 5% of a 1 GB workload's bytes is estimated within a few percent, while the
/// stack captures cost about one capture per 64 KiB allocated — a few percent of the time of
/// the allocations themselves with the frame-pointer walk, more without it.
pub const DEFAULT_SAMPLE_BYTES: u64 = 64 * 1024;

/// The file name written when no output is configured.
pub const DEFAULT_OUTPUT: &str = "allocsite-profile.json";

/// Configures and starts a [`Profiler`]. Environment variables override what the code sets,
/// so a rate or path can change without recompiling:
///
/// | variable | meaning |
/// |---|---|
/// | `ALLOCSITE_SAMPLE_BYTES` | mean bytes between samples; `1` records every allocation |
/// | `ALLOCSITE_OUTPUT` | DHAT JSON path; empty for none |
/// | `ALLOCSITE_HTML` | self-contained HTML report path |
/// | `ALLOCSITE_FOLDED` | folded-stacks path |
/// | `ALLOCSITE_FOLDED_METRIC` | `total-bytes`, `total-blocks`, `peak-bytes` or `end-bytes` |
/// | `ALLOCSITE_SEED` | sampling seed (a number) |
/// | `ALLOCSITE_SUMMARY` | `0` to not print the summary to stderr |
/// | `ALLOCSITE_TRIM` | `both` (default), `top`, `bottom` or `none` |
///
/// ```
/// #[global_allocator]
/// static ALLOC: allocsite::Alloc = allocsite::Alloc::system();
///
/// # fn main() {
/// let dir = std::env::temp_dir().join(format!("allocsite-doc-{}", std::process::id()));
/// std::fs::create_dir_all(&dir).unwrap();
/// let profiler = allocsite::Profiler::builder()
///     .sample_bytes(1)
///     .output(dir.join("profile.json"))
///     .summary(false)
///     .start()
///     .unwrap();
/// let data: Vec<u64> = (0..1000).collect();
/// drop(data);
/// match profiler.finish() {
///     Ok(report) => assert_eq!(report.written, vec![dir.join("profile.json")]),
///     Err(error) => assert_eq!(error, allocsite::Error::TrackingDisabled),
/// }
/// # }
/// ```
#[derive(Clone, Debug)]
#[must_use = "a builder does nothing until `start` is called"]
// Without the `track` feature the configuration is accepted but never read.
#[cfg_attr(not(feature = "track"), allow(dead_code))]
pub struct ProfilerBuilder {
    pub(crate) sample_bytes: u64,
    pub(crate) json_path: Option<PathBuf>,
    pub(crate) html_path: Option<PathBuf>,
    pub(crate) folded: Option<(PathBuf, FoldedMetric)>,
    pub(crate) trim_top: bool,
    pub(crate) trim_bottom: bool,
    pub(crate) seed: u64,
    pub(crate) summary: bool,
    pub(crate) summary_sites: usize,
}

impl Default for ProfilerBuilder {
    fn default() -> Self {
        ProfilerBuilder {
            sample_bytes: DEFAULT_SAMPLE_BYTES,
            json_path: Some(PathBuf::from(DEFAULT_OUTPUT)),
            html_path: None,
            folded: None,
            trim_top: true,
            trim_bottom: true,
            seed: 0x5EED,
            summary: true,
            summary_sites: 10,
        }
    }
}

impl ProfilerBuilder {
    /// Mean bytes between sampled allocations; `1` records every allocation exactly.
    pub fn sample_bytes(mut self, bytes: u64) -> Self {
        self.sample_bytes = bytes.max(1);
        self
    }

    /// Where to write the DHAT JSON (default `allocsite-profile.json`).
    pub fn output(mut self, path: impl Into<PathBuf>) -> Self {
        self.json_path = Some(path.into());
        self
    }

    /// Writes no DHAT JSON (for example when only the HTML report is wanted).
    pub fn no_json(mut self) -> Self {
        self.json_path = None;
        self
    }

    /// Also writes a self-contained HTML report (the viewer with the data inside).
    pub fn html(mut self, path: impl Into<PathBuf>) -> Self {
        self.html_path = Some(path.into());
        self
    }

    /// Also writes folded stacks carrying `metric`, for `inferno-flamegraph`/`flamegraph.pl`.
    pub fn folded(mut self, path: impl Into<PathBuf>, metric: FoldedMetric) -> Self {
        self.folded = Some((path.into(), metric));
        self
    }

    /// Drop allocsite's and the allocator machinery's frames from the top of stacks (default on).
    pub fn trim_top(mut self, trim: bool) -> Self {
        self.trim_top = trim;
        self
    }

    /// Drop the runtime frames below `main` / the thread entry (default on).
    pub fn trim_bottom(mut self, trim: bool) -> Self {
        self.trim_bottom = trim;
        self
    }

    /// The sampling seed: the same seed samples a single-threaded program identically.
    pub fn seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }

    /// Print the summary to stderr when the profile ends (default on).
    pub fn summary(mut self, print: bool) -> Self {
        self.summary = print;
        self
    }

    /// How many call sites the summary lists (default 10).
    pub fn summary_sites(mut self, count: usize) -> Self {
        self.summary_sites = count;
        self
    }

    /// Applies the `ALLOCSITE_*` environment variables.
    fn with_environment(mut self) -> Result<Self, Error> {
        fn read(name: &'static str) -> Option<String> {
            std::env::var(name).ok()
        }
        fn number(name: &'static str, value: String) -> Result<u64, Error> {
            value.trim().parse().map_err(|_| Error::BadEnvironment {
                name,
                value,
                expected: "a whole number",
            })
        }
        if let Some(value) = read("ALLOCSITE_SAMPLE_BYTES") {
            let bytes = number("ALLOCSITE_SAMPLE_BYTES", value.clone())?;
            if bytes == 0 {
                return Err(Error::BadEnvironment {
                    name: "ALLOCSITE_SAMPLE_BYTES",
                    value,
                    expected: "a number of bytes of at least 1",
                });
            }
            self.sample_bytes = bytes;
        }
        if let Some(value) = read("ALLOCSITE_SEED") {
            self.seed = number("ALLOCSITE_SEED", value)?;
        }
        if let Some(value) = read("ALLOCSITE_OUTPUT") {
            self.json_path = (!value.is_empty()).then(|| PathBuf::from(value));
        }
        if let Some(value) = read("ALLOCSITE_HTML") {
            self.html_path = (!value.is_empty()).then(|| PathBuf::from(value));
        }
        let metric = match read("ALLOCSITE_FOLDED_METRIC") {
            Some(value) => Some(
                FoldedMetric::from_name(&value).ok_or(Error::BadEnvironment {
                    name: "ALLOCSITE_FOLDED_METRIC",
                    value,
                    expected: "total-bytes, total-blocks, peak-bytes or end-bytes",
                })?,
            ),
            None => None,
        };
        if let Some(value) = read("ALLOCSITE_FOLDED") {
            let metric = metric
                .or(self.folded.as_ref().map(|(_, m)| *m))
                .unwrap_or_default();
            self.folded = (!value.is_empty()).then(|| (PathBuf::from(value), metric));
        } else if let (Some(metric), Some((_, current))) = (metric, self.folded.as_mut()) {
            *current = metric;
        }
        if let Some(value) = read("ALLOCSITE_SUMMARY") {
            self.summary = match value.as_str() {
                "0" | "false" | "no" => false,
                "1" | "true" | "yes" => true,
                _ => {
                    return Err(Error::BadEnvironment {
                        name: "ALLOCSITE_SUMMARY",
                        value,
                        expected: "0 or 1",
                    });
                }
            };
        }
        if let Some(value) = read("ALLOCSITE_TRIM") {
            (self.trim_top, self.trim_bottom) = match value.as_str() {
                "both" => (true, true),
                "top" => (true, false),
                "bottom" => (false, true),
                "none" => (false, false),
                _ => {
                    return Err(Error::BadEnvironment {
                        name: "ALLOCSITE_TRIM",
                        value,
                        expected: "both, top, bottom or none",
                    });
                }
            };
        }
        Ok(self)
    }

    /// Starts profiling. Fails if a profiler is already running, if an environment variable
    /// is invalid, or if [`crate::Alloc`] is not the global allocator. Without the `track`
    /// feature it prints once that tracking is off and returns a profiler that does nothing.
    pub fn start(self) -> Result<Profiler, Error> {
        let config = self.with_environment()?;
        match backend::start_profiling(config) {
            Ok(()) => Ok(Profiler { running: true }),
            Err(Error::TrackingDisabled) => {
                static SAID: std::sync::atomic::AtomicBool =
                    std::sync::atomic::AtomicBool::new(false);
                if !SAID.swap(true, std::sync::atomic::Ordering::Relaxed) {
                    eprintln!(
                        "allocsite: {}; no profile will be written",
                        Error::TrackingDisabled
                    );
                }
                Ok(Profiler { running: false })
            }
            Err(error) => Err(error),
        }
    }
}

/// A running heap profile. When it is dropped (or [`Profiler::finish`] is called) the
/// outputs are written and the summary is printed. If the program ends through
/// `std::process::exit` or returns from `main` with the profiler still running (for example
/// kept in a `static`), an exit hook writes it. A forked child never writes its parent's
/// report.
#[must_use = "the profile ends when this value is dropped"]
#[derive(Debug)]
pub struct Profiler {
    running: bool,
}

/// What a finished profile wrote and its headline figures.
#[derive(Clone, Debug, Default, PartialEq)]
#[non_exhaustive]
pub struct ProfileReport {
    /// Files written, in the order DHAT JSON, HTML, folded.
    pub written: Vec<PathBuf>,
    /// Total bytes allocated (an estimate when `sampled`).
    pub total_bytes: f64,
    /// Total blocks allocated (an estimate when `sampled`).
    pub total_blocks: f64,
    /// Bytes live at the global peak.
    pub peak_bytes: f64,
    /// Bytes still live at the end.
    pub end_bytes: f64,
    /// Distinct call sites (program points) after merging.
    pub sites: usize,
    /// Allocations whose stacks were captured.
    pub samples: u64,
    /// True when the figures are sampled estimates.
    pub sampled: bool,
}

impl Profiler {
    /// A builder with the defaults.
    pub fn builder() -> ProfilerBuilder {
        ProfilerBuilder::default()
    }

    /// Starts a profiler with the defaults (and the environment's overrides).
    pub fn start() -> Result<Profiler, Error> {
        Self::builder().start()
    }

    /// Ends the profile, writes the outputs and returns what was written. Errors name the
    /// file and the reason; [`Error::TrackingDisabled`] without the `track` feature.
    pub fn finish(mut self) -> Result<ProfileReport, Error> {
        if !std::mem::replace(&mut self.running, false) {
            return Err(Error::TrackingDisabled);
        }
        backend::finish_profiling()
    }
}

impl Drop for Profiler {
    fn drop(&mut self) {
        if std::mem::replace(&mut self.running, false) {
            if let Err(error) = backend::finish_profiling() {
                eprintln!("allocsite: {error}");
            }
        }
    }
}
