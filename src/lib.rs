//! allocsite tells a program where its heap allocations come from.
//!
//! Install [`Alloc`] as the `#[global_allocator]` and build with the `track` cargo feature:
//! every allocation is counted exactly, per thread and process-wide ([`stats`],
//! [`thread_stats`]). Without the feature the allocator is a zero-cost pass-through and
//! every function that would report figures returns [`Error::TrackingDisabled`].
//!
//! ```
//! #[global_allocator]
//! static ALLOC: allocsite::Alloc = allocsite::Alloc::system();
//!
//! fn main() {
//!     let words: Vec<String> = "a b c".split(' ').map(String::from).collect();
//!     match allocsite::stats() {
//!         Ok(stats) => println!("{} allocations, {} bytes live", stats.allocations, stats.live_bytes),
//!         Err(error) => println!("{error}"),
//!     }
//!     drop(words);
//! }
//! ```
//!
//! ARCHITECTURE.md in the repository maps the modules.

#![warn(missing_docs)]

// The public API.
mod alloc;
mod budget;
mod error;
mod profiler;
pub mod report;
mod stats;

// criterion measurements (feature `criterion`).
#[cfg(feature = "criterion")]
pub mod criterion;

// The one switch between tracking compiled in (`track`) and the zero-cost pass-through.
mod backend;

// The lock every table of allocsite's uses (fork-safe).
#[cfg(feature = "track")]
mod lock;

// The tracking engine and what it stands on (feature `track`).
#[cfg(feature = "track")]
mod capture;
#[cfg(feature = "track")]
mod engine;
// Frames and their classes (symbolization itself needs `track`).
mod symbolize;

pub use alloc::Alloc;
pub use budget::{
    Baseline, Budget, BudgetExceeded, CallSite, Usage, abort_on_alloc, measure,
    measure_with_spawned_threads,
};
pub use error::{Error, INSTALL_LINE};
pub use profiler::{
    DEFAULT_OUTPUT, DEFAULT_SAMPLE_BYTES, ProfileReport, Profiler, ProfilerBuilder, SnapshotFormat,
    snapshot,
};
pub use report::folded::FoldedMetric;
pub use stats::{Stats, ThreadStats, check_installed, stats, thread_stats, tracking_enabled};
pub use symbolize::classify::FrameClass;

#[cfg(feature = "track")]
pub use capture::unwinder::Unwinder;

/// Hooks for `benches/stack_capture.rs`. Not public API.
#[cfg(feature = "track")]
#[doc(hidden)]
pub mod __bench {
    pub use crate::capture::bench::*;
    pub use crate::profiler::snapshot::bench::*;
    pub use crate::symbolize::bench::*;
}

// The crate's own unit tests run with its allocator installed, so the tests beside the
// engine exercise the real hooks (feature off: the pass-through).
#[cfg(test)]
#[global_allocator]
static TEST_ALLOCATOR: Alloc = Alloc::system();
