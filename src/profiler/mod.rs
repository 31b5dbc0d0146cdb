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
    /// Starts profiling. Without the `track` feature it prints once that tracking is off and
    /// returns a profiler that does nothing.
    ///
    /// # Errors
    ///
    /// [`Error::AlreadyRunning`] if a profiler is running, [`Error::BadEnvironment`] if an
    /// `ALLOCSITE_*` variable is invalid, [`Error::NotInstalled`] if [`crate::Alloc`] is not
    /// the global allocator.
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

    /// Ends the profile, writes the outputs and returns what was written.
    ///
    /// # Errors
    ///
    /// [`Error::Write`] naming the file and the reason (the other outputs are still
    /// written); [`Error::TrackingDisabled`] without the `track` feature.
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
