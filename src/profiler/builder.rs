//! [`ProfilerBuilder`]: what a profile samples and which files it writes.

use std::path::PathBuf;
use std::time::Duration;

use super::dump::{DumpSettings, DumpSignal};
use crate::report::folded::FoldedMetric;
use crate::report::output::{DEFAULT_DHAT_OUTPUT, OutputFormat, Outputs};

/// Mean bytes between sampled allocations when nothing else is configured.
///
/// Chosen by measurement (BENCHMARKS.md, "Choosing the default sample rate"): at 64 KiB a
/// site holding 5% of a 1 GB workload's bytes is estimated within a few percent, while the
/// stack captures cost about one capture per 64 KiB allocated — a few percent of the time of
/// the allocations themselves with the frame-pointer walk, more without it.
pub const DEFAULT_SAMPLE_BYTES: u64 = 64 * 1024;

/// The file name written when no output is configured.
pub const DEFAULT_OUTPUT: &str = DEFAULT_DHAT_OUTPUT;

/// Configures and starts a [`Profiler`](crate::Profiler). Environment variables override what the code sets,
/// so a rate or path can change without recompiling:
///
/// | variable | meaning |
/// |---|---|
/// | `ALLOCSITE_SAMPLE_BYTES` | mean bytes between samples (`65536`, `64k`, `64KiB`, `1m`: k = 1024); `1` records every allocation |
/// | `ALLOCSITE_OUTPUT` | DHAT JSON path; empty for none |
/// | `ALLOCSITE_HTML` | self-contained HTML report path |
/// | `ALLOCSITE_FOLDED` | folded-stacks path |
/// | `ALLOCSITE_FOLDED_METRIC` | `total-bytes`, `total-blocks`, `peak-bytes` or `end-bytes` |
/// | `ALLOCSITE_PPROF` | pprof path (gzip-compressed `profile.proto`) |
/// | `ALLOCSITE_SEED` | sampling seed (a number) |
/// | `ALLOCSITE_SUMMARY` | `0` (or `false`, `no`) to not print the summary to stderr |
/// | `ALLOCSITE_TRIM` | `both` (default), `top`, `bottom` or `none` |
/// | `ALLOCSITE_DUMP_SIGNAL` | dump the running profile on `SIGUSR1`, `SIGUSR2`, `SIGHUP` or a signal number; empty for none |
/// | `ALLOCSITE_DUMP_INTERVAL` | dump it every `60` (seconds), `60s`, `500ms`, `5m`, `1h`; `0` for none |
///
/// Each output format's path variable is its
/// [`OutputFormat::environment_variable`](crate::report::OutputFormat::environment_variable).
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
/// let report = profiler.finish().unwrap();
/// if allocsite::tracking_enabled() {
///     assert_eq!(report.written, vec![dir.join("profile.json")]);
/// } else {
///     assert!(report.written.is_empty()); // an inert profiler: nothing profiled
/// }
/// # }
/// ```
#[derive(Clone, Debug)]
#[must_use = "a builder does nothing until `start` is called"]
// Without the `track` feature the configuration is accepted but never read.
#[cfg_attr(not(feature = "track"), allow(dead_code))]
pub struct ProfilerBuilder {
    pub(crate) sample_bytes: u64,
    pub(crate) outputs: Outputs,
    pub(crate) trim_top: bool,
    pub(crate) trim_bottom: bool,
    pub(crate) seed: u64,
    pub(crate) summary: bool,
    pub(crate) summary_sites: usize,
    pub(crate) dumps: DumpSettings,
}

impl Default for ProfilerBuilder {
    fn default() -> Self {
        ProfilerBuilder {
            sample_bytes: DEFAULT_SAMPLE_BYTES,
            outputs: Outputs::default(),
            trim_top: true,
            trim_bottom: true,
            seed: 0x5EED,
            summary: true,
            summary_sites: 10,
            dumps: DumpSettings::default(),
        }
    }
}

impl ProfilerBuilder {
    /// Mean bytes between sampled allocations; `1` records every allocation exactly.
    pub fn sample_bytes(mut self, bytes: u64) -> Self {
        self.sample_bytes = bytes.max(1);
        self
    }

    /// Writes the profile in `format` to `path` when it ends (and in each dump), in place
    /// of any path given before for that format. Every [`OutputFormat`] works here; the
    /// methods below are shorthands for it. The format's variable
    /// ([`OutputFormat::environment_variable`]) overrides the path.
    ///
    /// ```
    /// use allocsite::report::OutputFormat;
    ///
    /// let builder = allocsite::Profiler::builder()
    ///     .write(OutputFormat::Pprof, "heap.pb.gz")
    ///     .write(OutputFormat::Html, "heap.html");
    /// # drop(builder);
    /// ```
    pub fn write(mut self, format: OutputFormat, path: impl Into<PathBuf>) -> Self {
        self.outputs.set(format, Some(path.into()));
        self
    }

    /// Where to write the DHAT JSON (default `allocsite-profile.json`):
    /// `write(OutputFormat::Dhat, path)`.
    pub fn output(self, path: impl Into<PathBuf>) -> Self {
        self.write(OutputFormat::Dhat, path)
    }

    /// Writes no DHAT JSON (for example when only the HTML report is wanted).
    pub fn no_json(mut self) -> Self {
        self.outputs.set(OutputFormat::Dhat, None);
        self
    }

    /// Also writes a self-contained HTML report (the viewer with the data inside):
    /// `write(OutputFormat::Html, path)`.
    pub fn html(self, path: impl Into<PathBuf>) -> Self {
        self.write(OutputFormat::Html, path)
    }

    /// Also writes a pprof profile (gzip-compressed `profile.proto`, Go's heap conventions:
    /// `alloc_objects`, `alloc_space`, `inuse_objects`, `inuse_space`), for `go tool pprof`,
    /// Pyroscope, Parca and the other pprof readers: `write(OutputFormat::Pprof, path)`.
    pub fn pprof(self, path: impl Into<PathBuf>) -> Self {
        self.write(OutputFormat::Pprof, path)
    }

    /// Also writes folded stacks carrying `metric`, for `inferno-flamegraph`/`flamegraph.pl`:
    /// `write(OutputFormat::Folded, path)` with `metric` (default total bytes) as the figure.
    pub fn folded(mut self, path: impl Into<PathBuf>, metric: FoldedMetric) -> Self {
        self.outputs.folded_metric = metric;
        self.write(OutputFormat::Folded, path)
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

    /// Dumps the running profile whenever the process receives `signal` (`libc::SIGUSR1`,
    /// `libc::SIGUSR2`, `libc::SIGHUP`, or a real-time signal on Linux), without stopping it:
    /// `kill -USR1 <pid>`. Each dump writes every configured output with the process id and
    /// a sequence number before the extension (`allocsite-profile.4242.0001.json`,
    /// `heap.4242.0001.pb.gz`), atomically, and prints one line naming the files.
    ///
    /// The handler only wakes allocsite's dump thread (it does nothing that is unsafe in a
    /// signal handler); the thread takes the dump, and its own allocations are not counted.
    /// [`ProfilerBuilder::start`] refuses a signal the program already handles
    /// ([`crate::Error::BadDumpSignal`]); when the profile ends the signal gets back its
    /// previous action. `ALLOCSITE_DUMP_SIGNAL` overrides this (`USR1`, `SIGUSR2`, `HUP`, a
    /// number, or empty for none).
    ///
    /// ```
    /// #[global_allocator]
    /// static ALLOC: allocsite::Alloc = allocsite::Alloc::system();
    ///
    /// # fn main() {
    /// let dir = std::env::temp_dir().join(format!("allocsite-signal-doc-{}", std::process::id()));
    /// std::fs::create_dir_all(&dir).unwrap();
    /// let profiler = allocsite::Profiler::builder()
    ///     .output(dir.join("profile.json"))
    ///     .pprof(dir.join("heap.pb.gz"))
    ///     .dump_on_signal(libc::SIGUSR1)
    ///     .summary(false)
    ///     .start()
    ///     .unwrap();
    /// let kept: Vec<String> = (0..100).map(|i| i.to_string()).collect();
    /// if allocsite::tracking_enabled() {
    ///     // What `kill -USR1 <pid>` does from outside.
    ///     // SAFETY: SIGUSR1 now has allocsite's handler, which only wakes its dump thread.
    ///     unsafe { libc::raise(libc::SIGUSR1) };
    ///     let pid = std::process::id();
    ///     let dump = dir.join(format!("heap.{pid}.0001.pb.gz"));
    ///     while !dump.exists() {
    ///         std::thread::sleep(std::time::Duration::from_millis(5));
    ///     }
    ///     assert!(dir.join(format!("profile.{pid}.0001.json")).exists());
    /// }
    /// drop(kept);
    /// drop(profiler);
    /// # }
    /// ```
    pub fn dump_on_signal(mut self, signal: i32) -> Self {
        self.dumps.signal = Some(DumpSignal::Number(signal));
        self
    }

    /// Dumps the running profile every `interval` (measured from the end of the previous
    /// dump; zero: no interval dumps), as [`ProfilerBuilder::dump_on_signal`] does, but
    /// silently unless a file cannot be written (said once per output and reason).
    /// `ALLOCSITE_DUMP_INTERVAL` overrides this (`60`, `60s`, `500ms`, `5m`, `1h`, `0`).
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// #[global_allocator]
    /// static ALLOC: allocsite::Alloc = allocsite::Alloc::system();
    ///
    /// # fn main() {
    /// let dir = std::env::temp_dir().join(format!("allocsite-every-doc-{}", std::process::id()));
    /// std::fs::create_dir_all(&dir).unwrap();
    /// let profiler = allocsite::Profiler::builder()
    ///     .no_json()
    ///     .pprof(dir.join("heap.pb.gz"))
    ///     .dump_every(Duration::from_millis(20))
    ///     .summary(false)
    ///     .start()
    ///     .unwrap();
    /// let kept: Vec<String> = (0..100).map(|i| i.to_string()).collect();
    /// if allocsite::tracking_enabled() {
    ///     let second = dir.join(format!("heap.{}.0002.pb.gz", std::process::id()));
    ///     while !second.exists() {
    ///         std::thread::sleep(Duration::from_millis(5));
    ///     }
    /// }
    /// drop(kept);
    /// drop(profiler);
    /// # }
    /// ```
    pub fn dump_every(mut self, interval: Duration) -> Self {
        self.dumps.every = (!interval.is_zero()).then_some(interval);
        self
    }
}
