//! Allocation budgets for tests: [`measure`] a closure, check its [`Usage`] against a
//! [`Budget`] or a committed [`Baseline`], and on failure name the call sites and write the
//! scope's profile.
//!
//! Scopes count the current thread only, so the tests of one `cargo test` process, running
//! on parallel threads, never see each other's allocations. Every allocation inside a scope
//! is recorded with its stack, whatever the profiler's sampling rate: budgets are exact.

use std::fmt;
use std::panic::Location;
use std::path::{Path, PathBuf};

use crate::report::dhat::{DhatFile, ProgramPoint};
use crate::{Error, backend};

/// What a measured closure did. Counts are exact.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Usage {
    /// Allocations (`alloc` and `alloc_zeroed`) made in the scope.
    pub allocations: u64,
    /// Reallocations made in the scope.
    pub reallocations: u64,
    /// Frees made in the scope (of any block, wherever it was allocated).
    pub deallocations: u64,
    /// Bytes allocated, including reallocations' new sizes.
    pub bytes_allocated: u64,
    /// Bytes freed, including reallocations' old sizes.
    pub bytes_freed: u64,
    /// Highest allocated-minus-freed bytes reached during the scope, relative to its start.
    pub peak_live_bytes: u64,
    /// Blocks allocated in the scope and still live at its end.
    pub leaked_blocks: u64,
    /// Bytes of those blocks.
    pub leaked_bytes: u64,
    /// Captured stacks of the scope's call sites (resolved by [`Usage::call_sites`]).
    pub(crate) stacks: Vec<SiteStack>,
}

/// One raw call site of a scope: its return addresses and what it allocated.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct SiteStack {
    pub(crate) addresses: Vec<usize>,
    pub(crate) allocations: u64,
    pub(crate) bytes: u64,
}

/// A call site of a measured scope, symbolized.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct CallSite {
    /// The first function outside std, core, alloc and allocsite (the line to look at).
    pub function: String,
    /// Its source file, as the debug info names it (e.g. `tests/budgets.rs`).
    pub file: Option<String>,
    /// Its line.
    pub line: Option<u32>,
    /// Allocations and reallocations made at this site.
    pub allocations: u64,
    /// Bytes they requested.
    pub bytes: u64,
    /// The whole trimmed stack in DHAT's frame format, innermost first.
    pub stack: Vec<String>,
}

impl CallSite {
    /// `file:line` (or the function name when there is no line information).
    pub fn location(&self) -> String {
        match (&self.file, self.line) {
            (Some(file), Some(line)) => format!("{file}:{line}"),
            (Some(file), None) => file.clone(),
            _ => self.function.clone(),
        }
    }
}

impl Usage {
    /// The scope's call sites, most allocations first (then most bytes), symbolized.
    ///
    /// ```
    /// #[global_allocator]
    /// static ALLOC: allocsite::Alloc = allocsite::Alloc::system();
    ///
    /// #[inline(never)]
    /// fn make_names() -> Vec<String> {
    ///     vec!["ada".to_string(), "grace".to_string()]
    /// }
    ///
    /// # fn main() {
    /// if let Ok((names, usage)) = allocsite::measure(make_names) {
    ///     let sites = usage.call_sites();
    ///     let total: u64 = sites.iter().map(|site| site.allocations).sum();
    ///     assert_eq!(total, 3); // the vector and two strings
    ///     assert!(sites.iter().all(|site| site.function.contains("make_names")));
    ///     drop(names);
    /// }
    /// # }
    /// ```
    pub fn call_sites(&self) -> Vec<CallSite> {
        let mut sites = backend::resolve_call_sites(&self.stacks);
        sites.sort_by_key(|site| std::cmp::Reverse((site.allocations, site.bytes)));
        sites
    }

    /// The scope as a DHAT file (no lifetimes: `bklt` is false), for the viewers.
    pub fn to_dhat(&self, command: &str) -> DhatFile {
        let mut frames = vec!["[root]".to_string()];
        let mut program_points: Vec<ProgramPoint> = Vec::new();
        let mut seen = std::collections::HashMap::new();
        for site in self.call_sites() {
            let indices: Vec<usize> = site
                .stack
                .iter()
                .map(|frame| {
                    *seen.entry(frame.clone()).or_insert_with(|| {
                        frames.push(frame.clone());
                        frames.len() - 1
                    })
                })
                .collect();
            match program_points.iter_mut().find(|p| p.frames == indices) {
                Some(point) => {
                    point.total_bytes += site.bytes as f64;
                    point.total_blocks += site.allocations as f64;
                }
                None => program_points.push(ProgramPoint {
                    total_bytes: site.bytes as f64,
                    total_blocks: site.allocations as f64,
                    frames: indices,
                    ..ProgramPoint::default()
                }),
            }
        }
        DhatFile {
            program_points,
            frames,
            ..DhatFile::rust_heap(command.into(), u64::from(std::process::id()), 1, None)
        }
    }

    fn describe(&self) -> String {
        format!(
            "{} allocations, {} reallocations, {} deallocations, {} bytes allocated, peak {} bytes, \
             {} blocks / {} bytes still live at the end",
            self.allocations,
            self.reallocations,
            self.deallocations,
            self.bytes_allocated,
            self.peak_live_bytes,
            self.leaked_blocks,
            self.leaked_bytes
        )
    }
}

/// Runs `work` and returns its result with the allocations it made on this thread.
///
/// Scopes nest: an inner scope's allocations also count in the outer one, and the outer
/// scope's peak includes the inner scope's. The inner `Usage` value itself is built outside
/// every scope, so it is not counted (its later drop inside the outer scope counts as frees).
///
/// Fails (without running `work`) with [`Error::TrackingDisabled`] or
/// [`Error::NotInstalled`] when nothing could be measured.
///
/// ```
/// #[global_allocator]
/// static ALLOC: allocsite::Alloc = allocsite::Alloc::system();
///
/// # fn main() {
/// match allocsite::measure(|| vec![0u8; 100]) {
///     Ok((vector, usage)) => {
///         assert_eq!(usage.allocations, 1);
///         assert_eq!(usage.bytes_allocated, 100);
///         assert_eq!(usage.leaked_bytes, 100); // `vector` outlives the scope
///         drop(vector);
///     }
///     Err(error) => assert_eq!(error, allocsite::Error::TrackingDisabled),
/// }
/// # }
/// ```
pub fn measure<R>(work: impl FnOnce() -> R) -> Result<(R, Usage), Error> {
    backend::run_scope(ScopeKind::CurrentThread, work)
}

/// Like [`measure`], but also counts every thread that starts while `work` runs (the
/// threads it spawns). New threads join the scope when they first allocate. Only one such
/// scope can be open in the process at a time (others wait), so threads started by other
/// tests meanwhile cannot join it; it must not be opened inside another scope.
///
/// ```
/// #[global_allocator]
/// static ALLOC: allocsite::Alloc = allocsite::Alloc::system();
///
/// # fn main() {
/// if let Ok(((), usage)) = allocsite::measure_with_spawned_threads(|| {
///     std::thread::spawn(|| drop(std::hint::black_box(vec![1u8; 64]))).join().unwrap();
/// }) {
///     assert!(usage.bytes_allocated >= 64);
/// }
/// # }
/// ```
pub fn measure_with_spawned_threads<R>(work: impl FnOnce() -> R) -> Result<(R, Usage), Error> {
    backend::run_scope(ScopeKind::SpawnedThreads, work)
}

/// Runs `work` in a strict no-allocation zone: an allocation on this thread prints its
/// stack and aborts the process (a panic inside the allocator would be undefined
/// behaviour). For a report instead of an abort, use [`assert_no_alloc!`](crate::assert_no_alloc).
///
/// ```
/// #[global_allocator]
/// static ALLOC: allocsite::Alloc = allocsite::Alloc::system();
///
/// # fn main() {
/// let mut buffer = [0u32; 16];
/// let result = allocsite::abort_on_alloc(|| buffer.iter_mut().for_each(|x| *x += 1));
/// assert!(result.is_ok() || !allocsite::tracking_enabled());
/// # }
/// ```
pub fn abort_on_alloc<R>(work: impl FnOnce() -> R) -> Result<R, Error> {
    backend::run_scope(ScopeKind::AbortOnAllocation, work).map(|(value, _)| value)
}

/// How a scope is delimited; see [`measure`], [`measure_with_spawned_threads`], [`abort_on_alloc`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ScopeKind {
    CurrentThread,
    SpawnedThreads,
    AbortOnAllocation,
}

/// Limits for a measured closure. Unset limits are not checked.
///
/// ```
/// #[global_allocator]
/// static ALLOC: allocsite::Alloc = allocsite::Alloc::system();
///
/// # fn main() {
/// # if !allocsite::tracking_enabled() { return; }
/// let words = allocsite::Budget::new()
///     .max_allocations(1)
///     .max_bytes(64)
///     .no_leaks()
///     .run(|| "a b c".split(' ').count());
/// assert_eq!(words, 3);
/// # }
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[must_use = "a budget checks nothing until `run` or `check` is called"]
pub struct Budget {
    max_allocations: Option<u64>,
    exact_allocations: Option<u64>,
    max_reallocations: Option<u64>,
    max_bytes: Option<u64>,
    max_peak_bytes: Option<u64>,
    no_leaks: bool,
}

impl Budget {
    /// A budget with no limits yet.
    pub fn new() -> Self {
        Self::default()
    }
    /// At most `count` allocations.
    pub fn max_allocations(mut self, count: u64) -> Self {
        self.max_allocations = Some(count);
        self
    }
    /// Exactly `count` allocations.
    pub fn exact_allocations(mut self, count: u64) -> Self {
        self.exact_allocations = Some(count);
        self
    }
    /// At most `count` reallocations.
    pub fn max_reallocations(mut self, count: u64) -> Self {
        self.max_reallocations = Some(count);
        self
    }
    /// At most `bytes` allocated in total (reallocations' new sizes included).
    pub fn max_bytes(mut self, bytes: u64) -> Self {
        self.max_bytes = Some(bytes);
        self
    }
    /// At most `bytes` live at once, relative to the start.
    pub fn max_peak_bytes(mut self, bytes: u64) -> Self {
        self.max_peak_bytes = Some(bytes);
        self
    }
    /// Nothing allocated in the scope may still be live at its end.
    pub fn no_leaks(mut self) -> Self {
        self.no_leaks = true;
        self
    }

    /// Checks `usage` against the limits; the error lists every figure over budget.
    ///
    /// ```
    /// #[global_allocator]
    /// static ALLOC: allocsite::Alloc = allocsite::Alloc::system();
    ///
    /// # fn main() {
    /// if let Ok((text, usage)) = allocsite::measure(|| "x".repeat(100)) {
    ///     let exceeded = allocsite::Budget::new().max_bytes(10).check(&usage).unwrap_err();
    ///     assert_eq!(exceeded.broken, vec!["bytes allocated: 100, budget at most 10"]);
    ///     drop(text);
    /// }
    /// # }
    /// ```
    pub fn check(&self, usage: &Usage) -> Result<(), BudgetExceeded> {
        let mut broken = Vec::new();
        let mut limit = |name: &str, actual: u64, limit: Option<u64>, exact: bool| {
            if let Some(limit) = limit {
                if (exact && actual != limit) || (!exact && actual > limit) {
                    let relation = if exact { "exactly" } else { "at most" };
                    broken.push(format!("{name}: {actual}, budget {relation} {limit}"));
                }
            }
        };
        limit(
            "allocations",
            usage.allocations,
            self.max_allocations,
            false,
        );
        limit(
            "allocations",
            usage.allocations,
            self.exact_allocations,
            true,
        );
        limit(
            "reallocations",
            usage.reallocations,
            self.max_reallocations,
            false,
        );
        limit(
            "bytes allocated",
            usage.bytes_allocated,
            self.max_bytes,
            false,
        );
        limit(
            "peak live bytes",
            usage.peak_live_bytes,
            self.max_peak_bytes,
            false,
        );
        if self.no_leaks && usage.leaked_blocks > 0 {
            broken.push(format!(
                "leaked: {} blocks / {} bytes still live at the end, budget none",
                usage.leaked_blocks, usage.leaked_bytes
            ));
        }
        if broken.is_empty() {
            Ok(())
        } else {
            Err(BudgetExceeded {
                broken,
                usage: usage.clone(),
            })
        }
    }

    /// Runs `work`, checks its usage and panics with the details if the budget is broken
    /// (or cannot be checked). On failure the scope's profile is written under
    /// `target/allocsite/` and named in the message.
    #[track_caller]
    pub fn run<R>(&self, work: impl FnOnce() -> R) -> R {
        let caller = Location::caller();
        let (value, usage) = measure_or_panic(caller, work);
        if let Err(exceeded) = self.check(&usage) {
            panic!("{}", exceeded.report(caller));
        }
        value
    }
}

#[track_caller]
fn measure_or_panic<R>(caller: &Location<'_>, work: impl FnOnce() -> R) -> (R, Usage) {
    match measure(work) {
        Ok(measured) => measured,
        Err(error) => panic!("allocation budget at {caller} cannot be checked: {error}"),
    }
}

/// A broken budget: the figures over their limits and the scope's usage.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BudgetExceeded {
    /// One line per broken limit, e.g. `allocations: 3, budget at most 2`.
    pub broken: Vec<String>,
    /// Everything the scope did.
    pub usage: Usage,
}

impl fmt::Display for BudgetExceeded {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "allocation budget exceeded: {}", self.broken.join("; "))
    }
}

impl std::error::Error for BudgetExceeded {}

impl BudgetExceeded {
    /// The full failure message: the broken limits, the call sites, and the profile written.
    pub fn report(&self, caller: &Location<'_>) -> String {
        failure_message(
            "allocation budget exceeded",
            caller,
            &self.broken,
            &self.usage,
        )
    }
}

/// Builds a failure message and writes the scope's profile.
fn failure_message(title: &str, caller: &Location<'_>, broken: &[String], usage: &Usage) -> String {
    use std::fmt::Write;
    let mut message = format!("{title} at {caller}\n");
    for line in broken {
        let _ = writeln!(message, "  {line}");
    }
    let _ = writeln!(message, "  the scope made {}", usage.describe());
    let sites = usage.call_sites();
    if !sites.is_empty() {
        let _ = writeln!(
            message,
            "  call sites in the scope, most allocations first:"
        );
        for site in sites.iter().take(8) {
            let _ = writeln!(
                message,
                "    {}  {}  ({} allocations, {} bytes)",
                site.location(),
                site.function,
                site.allocations,
                site.bytes
            );
        }
    }
    match write_failure_profile(caller, usage) {
        Ok(path) => {
            let _ = write!(
                message,
                "  profile of the scope: {} (open it in allocsite's viewer/index.html)",
                path.display()
            );
        }
        Err(reason) => {
            let _ = write!(message, "  (could not write the scope's profile: {reason})");
        }
    }
    message
}

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

fn write_failure_profile(caller: &Location<'_>, usage: &Usage) -> std::io::Result<PathBuf> {
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
    let command = format!("allocation budget at {caller}");
    let text = serde_json::to_string(&usage.to_dhat(&command))?;
    std::fs::write(&path, text)?;
    Ok(path)
}

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

    /// Compares `usage` with the file. `Err` lists each figure that grew (or says why the
    /// file could not be used).
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
}

/// Asserts the number of allocations an expression makes on this thread and returns its
/// value: `assert_allocs!(<= 2, expr)` or `assert_allocs!(== 2, expr)`. On failure it
/// panics naming the call sites and writes the scope's profile under `target/allocsite/`.
///
/// ```
/// #[global_allocator]
/// static ALLOC: allocsite::Alloc = allocsite::Alloc::system();
///
/// # fn main() {
/// # if !allocsite::tracking_enabled() { return; }
/// let text = allocsite::assert_allocs!(== 1, String::from("hello"));
/// assert_eq!(text, "hello");
/// # }
/// ```
#[macro_export]
macro_rules! assert_allocs {
    (<= $max:expr, $body:expr) => {
        $crate::Budget::new().max_allocations($max).run(|| $body)
    };
    (== $count:expr, $body:expr) => {
        $crate::Budget::new()
            .exact_allocations($count)
            .run(|| $body)
    };
}

/// Asserts that an expression neither allocates nor reallocates on this thread, and
/// returns its value. Reports after the expression (an allocation inside the allocator
/// cannot panic); see [`abort_on_alloc`](crate::abort_on_alloc) for a hard stop.
///
/// ```
/// #[global_allocator]
/// static ALLOC: allocsite::Alloc = allocsite::Alloc::system();
///
/// # fn main() {
/// # if !allocsite::tracking_enabled() { return; }
/// let sum = allocsite::assert_no_alloc!([1, 2, 3].iter().sum::<i32>());
/// assert_eq!(sum, 6);
/// # }
/// ```
#[macro_export]
macro_rules! assert_no_alloc {
    ($body:expr) => {
        $crate::Budget::new()
            .max_allocations(0)
            .max_reallocations(0)
            .run(|| $body)
    };
}

/// Compares an expression's allocation figures with a committed baseline file, relative to
/// the calling crate's root: `assert_baseline!("tests/baselines/parse.txt", parse(input))`.
/// `ALLOCSITE_UPDATE_BASELINES=1` rewrites the file.
#[macro_export]
macro_rules! assert_baseline {
    ($path:expr, $body:expr) => {
        $crate::Baseline::new(::std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join($path))
            .run(|| $body)
    };
    ($path:expr, tolerance_percent = $tolerance:expr, $body:expr) => {
        $crate::Baseline::new(::std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join($path))
            .tolerance_percent($tolerance)
            .run(|| $body)
    };
}
