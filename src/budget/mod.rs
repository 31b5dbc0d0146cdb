//! Allocation budgets for tests: [`measure`] a closure, check its [`Usage`] against a
//! [`Budget`] or a committed [`Baseline`], and on failure name the call sites and write the
//! scope's profile.
//!
//! Scopes count the current thread only, so the tests of one `cargo test` process, running
//! on parallel threads, never see each other's allocations. Every allocation inside a scope
//! is recorded with its stack, whatever the profiler's sampling rate: budgets are exact.
//! Futures are measured the same way, each poll inside the future's scope on whichever
//! thread polls it ([`future`]).
//!
//! - [`usage`]: what a scope did; [`sites`]: its call sites, symbolized.
//! - [`measure`]: running a closure in a scope; [`future`]: measuring a future and carrying
//!   its scope into spawned tasks; [`limits`]: [`Budget`]; [`baseline`]: [`Baseline`], and
//!   `baseline_file`: its file format (figures and the call sites kept); [`failure`]: the
//!   messages of broken budgets, and `profile_path`: where the scope profiles they name are
//!   written;
//!   [`macros`]: the assertion macros.

pub(crate) mod baseline;
mod baseline_file;
pub(crate) mod failure;
pub(crate) mod future;
pub(crate) mod limits;
#[macro_use]
pub(crate) mod macros;
pub(crate) mod measure;
#[cfg(feature = "report")]
mod profile_path;
pub(crate) mod sites;
pub(crate) mod usage;

pub use baseline::Baseline;
pub use future::{InScope, MeasuredFuture, ScopeHandle, in_current_scope, measure_future};
pub use limits::{Budget, BudgetExceeded};
#[doc(hidden)]
pub use macros::__macro_support;
pub use measure::{abort_on_alloc, measure, measure_with_spawned_threads};
pub use usage::{CallSite, Usage};
