//! [`Error`]: everything allocsite can refuse to do, with a message that says what to do.

use std::fmt;
use std::path::PathBuf;

/// The line a program needs to install allocsite's allocator.
pub const INSTALL_LINE: &str =
    "#[global_allocator] static ALLOC: allocsite::Alloc = allocsite::Alloc::system();";

/// Why allocsite could not measure, profile or write something.
///
/// ```
/// let error = allocsite::Error::AlreadyRunning;
/// assert!(error.to_string().contains("already running"));
/// ```
///
/// Its `Debug` form is the same message, since `fn main() -> Result<(), allocsite::Error>`
/// prints an error returned from `main` with `Debug`.
#[derive(Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Error {
    /// The crate was built without the `track` cargo feature, so nothing is counted.
    TrackingDisabled,
    /// `allocsite::Alloc` is not the program's `#[global_allocator]`.
    NotInstalled,
    /// A profiler is already running in this process.
    AlreadyRunning,
    /// A snapshot was asked for while no profiler runs.
    NotProfiling,
    /// An environment variable that configures the profiler has a value it cannot use.
    BadEnvironment {
        /// The variable's name.
        name: &'static str,
        /// Its value.
        value: String,
        /// What was expected instead.
        expected: &'static str,
    },
    /// A report could not be written.
    Write {
        /// The file being written.
        path: PathBuf,
        /// The operating system's explanation.
        reason: String,
    },
    /// A thread-spanning scope was opened inside another scope on the same thread.
    NestedSpanningScope,
    /// The kernel refused the memory allocsite needed for its own tables.
    OutOfMemory,
    /// The signal configured for profile dumps cannot be used
    /// ([`crate::ProfilerBuilder::dump_on_signal`], `ALLOCSITE_DUMP_SIGNAL`).
    BadDumpSignal {
        /// The signal's number.
        signal: i32,
        /// Why it cannot be used.
        reason: &'static str,
    },
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::TrackingDisabled => write!(
                f,
                "allocsite tracking is off: this build does not have the `track` cargo feature. \
                 Enable it, e.g. `cargo test --features allocsite/track`, or \
                 `features = [\"track\"]` on the allocsite dependency in Cargo.toml"
            ),
            Error::NotInstalled => write!(
                f,
                "allocsite::Alloc is not the #[global_allocator]: add `{INSTALL_LINE}` \
                 to the binary or test crate (for tests: at the top of the test file)"
            ),
            Error::AlreadyRunning => write!(
                f,
                "an allocsite profiler is already running in this process: finish or drop it \
                 before starting another"
            ),
            Error::NotProfiling => write!(
                f,
                "no allocsite profiler is running in this process: start one with \
                 allocsite::Profiler::start() before taking a snapshot"
            ),
            Error::BadEnvironment {
                name,
                value,
                expected,
            } => write!(
                f,
                "environment variable {name}={value:?} is invalid: expected {expected}"
            ),
            Error::Write { path, reason } => {
                write!(f, "could not write {}: {reason}", path.display())
            }
            Error::OutOfMemory => write!(
                f,
                "allocsite could not map memory for its tables (the system is out of memory); \
                 nothing was measured"
            ),
            Error::BadDumpSignal { signal, reason } => write!(
                f,
                "signal {signal} cannot trigger allocsite's profile dumps: {reason}. Use \
                 SIGUSR1 or SIGUSR2 (`.dump_on_signal(libc::SIGUSR1)`, or \
                 ALLOCSITE_DUMP_SIGNAL=USR1), or no dump signal (ALLOCSITE_DUMP_SIGNAL=)"
            ),
            Error::NestedSpanningScope => write!(
                f,
                "a thread-spanning allocsite scope cannot be opened inside another scope on \
                 the same thread; open it outermost"
            ),
        }
    }
}

/// The message, as `Display` writes it: `main` returning `Err` prints it after `Error: `, and
/// the message already names the variable, path or feature at fault (a derived form printed
/// `BadEnvironment { name: "ALLOCSITE_SAMPLE_BYTES", value: "bogus", expected: … }`).
impl fmt::Debug for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl std::error::Error for Error {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_is_the_message_that_main_prints() {
        let error = Error::BadEnvironment {
            name: "ALLOCSITE_SAMPLE_BYTES",
            value: "bogus".to_owned(),
            expected: "a number of bytes",
        };
        assert_eq!(
            format!("{error:?}"),
            "environment variable ALLOCSITE_SAMPLE_BYTES=\"bogus\" is invalid: expected a number of bytes"
        );
        let error = Error::Write {
            path: PathBuf::from("/nonexistent/x.json"),
            reason: "No such file or directory (os error 2)".to_owned(),
        };
        assert_eq!(format!("{error:?}"), error.to_string());
    }
}
