//! [`Profiler`]: start a heap profile, and get a DHAT file, an HTML report, folded stacks
//! and a terminal summary when it ends.

pub(crate) mod builder;
pub(crate) mod dump;
#[cfg(feature = "track")]
pub(crate) mod dumper;
mod environment;
pub(crate) mod finish;
#[cfg(feature = "track")]
pub(crate) mod process;
pub(crate) mod snapshot;

pub use builder::{DEFAULT_OUTPUT, DEFAULT_SAMPLE_BYTES, ProfilerBuilder};
pub use finish::ProfileReport;
pub use snapshot::{SnapshotFormat, snapshot};

use crate::backend;
use crate::error::Error;

impl ProfilerBuilder {
    /// Starts profiling.
    ///
    /// Without the `track` feature it returns an inert profiler whose [`Profiler::finish`]
    /// returns an empty report: a program that profiles itself builds and runs the same
    /// without the feature (a production build, say). It says once on stderr that no profile
    /// will be written, unless the summary is off ([`ProfilerBuilder::summary`] or
    /// `ALLOCSITE_SUMMARY=0`); the rest of the environment is not read.
    ///
    /// # Errors
    ///
    /// With the `track` feature: [`Error::AlreadyRunning`] if a profiler is running,
    /// [`Error::BadEnvironment`] if an `ALLOCSITE_*` variable is invalid,
    /// [`Error::NotInstalled`] if [`crate::Alloc`] is not the global allocator.
    pub fn start(self) -> Result<Profiler, Error> {
        if !crate::stats::tracking_enabled() {
            let summary = self
                .clone()
                .with_environment()
                .map_or(self.summary, |c| c.summary);
            static SAID: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);
            if summary && !SAID.swap(true, std::sync::atomic::Ordering::Relaxed) {
                eprintln!("{INERT_NOTICE}");
            }
            return Ok(Profiler { running: false });
        }
        backend::start_profiling(self.with_environment()?)?;
        Ok(Profiler { running: true })
    }
}

/// What an inert profiler (a build without the `track` feature) says, once per process.
const INERT_NOTICE: &str =
    "allocsite: no heap profile will be written (built without allocsite's `track` feature)";

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

impl Profiler {
    /// A builder with the defaults.
    pub fn builder() -> ProfilerBuilder {
        ProfilerBuilder::default()
    }

    /// Starts a profiler with the defaults (and the environment's overrides).
    ///
    /// # Errors
    ///
    /// As [`ProfilerBuilder::start`].
    pub fn start() -> Result<Profiler, Error> {
        Self::builder().start()
    }

    /// Ends the profile, writes the outputs and returns what was written. Without the
    /// `track` feature nothing was profiled: the report is empty (nothing `written`, every
    /// figure 0).
    ///
    /// # Errors
    ///
    /// [`Error::Write`] naming the file and the reason (the other outputs are still
    /// written).
    pub fn finish(mut self) -> Result<ProfileReport, Error> {
        if !std::mem::replace(&mut self.running, false) {
            return Ok(ProfileReport::default());
        }
        backend::finish_profiling()
    }
}

impl Drop for Profiler {
    fn drop(&mut self) {
        if std::mem::replace(&mut self.running, false)
            && let Err(error) = backend::finish_profiling()
        {
            eprintln!("allocsite: {error}");
        }
    }
}
