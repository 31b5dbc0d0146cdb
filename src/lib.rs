//! allocsite tells a program where its heap allocations come from.
//!
//! Install [`Alloc`] as the `#[global_allocator]` and build with the `track` cargo feature:
//! every allocation is counted exactly, per thread and process-wide ([`stats`],
//! [`thread_stats`]). Without the feature the allocator is a zero-cost pass-through and
//! every function that would report figures returns [`Error::TrackingDisabled`]; budgets
//! fail saying so, and a [`Profiler`] is inert (it returns `Ok` and writes nothing, so a
//! program that profiles itself builds the same without the feature).
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
//! Tests get exact, parallel-safe allocation budgets that name the line that broke them:
//! [`measure`], [`Budget`], [`Baseline`], [`assert_allocs!`], [`assert_no_alloc!`],
//! [`assert_baseline!`]. Async code too: [`measure_future`] measures a future on any
//! executor (its scope is entered for each poll, on whichever thread polls it),
//! [`Budget::run_async`] checks one, and the macros await an `async` block:
//!
//! ```
//! #[global_allocator]
//! static ALLOC: allocsite::Alloc = allocsite::Alloc::system();
//!
//! async fn greet(name: &str) -> String {
//!     tokio::task::yield_now().await;
//!     format!("hello, {name}")
//! }
//!
//! #[tokio::test(flavor = "multi_thread")]
//! # async fn unused() {}
//! async fn greet_allocates_its_reply_only() {
//!     let reply = allocsite::assert_allocs!(<= 2, async { greet("ada").await });
//!     assert_eq!(reply, "hello, ada");
//!     // Tasks it spawns count when they carry its scope.
//!     let (length, usage) = allocsite::measure_future(async {
//!         let task = tokio::spawn(allocsite::in_current_scope(greet("grace")));
//!         task.await.unwrap().len()
//!     })
//!     .await
//!     .unwrap();
//!     assert_eq!(length, 12);
//!     assert!(usage.allocations >= 2); // tokio's task and the task's reply
//! }
//! # fn main() {
//! #     if !allocsite::tracking_enabled() { return; }
//! #     let runtime = tokio::runtime::Runtime::new().unwrap();
//! #     runtime.block_on(greet_allocates_its_reply_only());
//! # }
//! ```
//!
//! (`<= 2`: tokio's `yield_now` may allocate its worker's waker list the first time a thread
//! uses it, inside the poll; see [`measure_future`] for what counts.)
//!
//! # Signal handlers and `fork`
//!
//! allocsite adds no deadlock of its own to a signal handler that allocates: its recording
//! path never calls an allocator (its tables are mapped from the kernel), and while
//! allocsite's own code runs on a thread, a handler's allocations on that thread pass
//! straight to the inner allocator, so a handler never waits for a lock its own thread
//! holds. What it cannot do is make the inner allocator safer: glibc's `malloc` is not
//! async-signal-safe, and a handler that interrupts `malloc` and allocates can deadlock
//! inside glibc or corrupt its heap, with or without allocsite (allocsite's own allocations
//! go to the inner allocator as well). Allocate in a handler only over an async-signal-safe inner
//! allocator. The figures may then be off by the handler's
//! allocations: one that interrupts allocsite's own code on its thread is not counted, and
//! one that interrupts the hook's counting of another allocation on the same thread may be
//! lost from the counts. Starting or finishing a profiler, or opening a scope, in a handler
//! is not supported.
//!
//! `fork` is safe while other threads allocate: allocsite's `pthread_atfork` handlers take
//! every one of its locks before the fork and release them in both processes. A child does
//! not write its parent's profile (at exit or otherwise) and may start a profiler of its own.
//!
//! # Cargo features
//!
//! - `track`: compiles the tracking in: counters, call sites, budgets, profiles and their
//!   reports (turns on `report` and `pprof`). Off (the default), [`Alloc`] forwards to the
//!   inner allocator and allocsite compiles no dependency at all.
//! - `report`: [`report`] without tracking: read, validate, summarise and convert any DHAT
//!   file (the only feature that compiles `serde` and `serde_json`).
//! - `pprof`: the pprof writer, `report::pprof` (`flate2`).
//! - `criterion`: criterion measurements of allocations and bytes, `allocsite::criterion`.
//!
//! ARCHITECTURE.md in the repository maps the modules.

#![warn(missing_docs)]

// The public API.
mod alloc;
mod budget;
mod error;
mod profiler;
pub mod report;
mod settings;
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
#[doc(hidden)]
pub use budget::__macro_support;
pub use budget::{
    Baseline, Budget, BudgetExceeded, CallSite, InScope, MeasuredFuture, ScopeHandle, Usage,
    abort_on_alloc, in_current_scope, measure, measure_future, measure_with_spawned_threads,
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
