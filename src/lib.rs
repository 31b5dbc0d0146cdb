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

#![deny(unsafe_op_in_unsafe_fn)]
#![warn(missing_docs)]

mod alloc;
mod budget;
mod error;
mod profiler;
pub mod report;
mod stats;

pub use alloc::Alloc;
pub use budget::{
    Baseline, Budget, BudgetExceeded, CallSite, Usage, abort_on_alloc, measure,
    measure_with_spawned_threads,
};
pub use error::{Error, INSTALL_LINE};
pub use profiler::{
    DEFAULT_OUTPUT, DEFAULT_SAMPLE_BYTES, ProfileReport, Profiler, ProfilerBuilder,
};
pub use report::FoldedMetric;
pub use stats::{Stats, ThreadStats, check_installed, stats, thread_stats, tracking_enabled};

// The tracking engine, compiled only with the `track` feature.
#[cfg(feature = "track")]
mod counters;
#[cfg(feature = "track")]
mod profiling;
#[cfg(feature = "track")]
mod recorder;
#[cfg(feature = "track")]
mod sampler;
#[cfg(feature = "track")]
mod scope;
#[cfg(feature = "track")]
mod sites;
#[cfg(feature = "track")]
mod stack;
#[cfg(feature = "track")]
mod symbolize;
#[cfg(feature = "track")]
mod thread_state;
#[cfg(feature = "track")]
mod tracking;

#[cfg(feature = "track")]
pub use stack::Unwinder;

/// Hooks for `benches/stack_capture.rs`. Not public API.
#[cfg(feature = "track")]
#[doc(hidden)]
pub mod __bench {
    pub use crate::stack::bench::*;
    pub use crate::symbolize::bench::*;
}

// The one switch between the two backends.
#[cfg(feature = "track")]
use tracking as backend;
#[cfg(not(feature = "track"))]
mod disabled;
#[cfg(not(feature = "track"))]
use disabled as backend;
