//! Allocation budgets for tests: [`measure`] a closure, check its [`Usage`] against a
//! [`Budget`] or a committed [`Baseline`], and on failure name the call sites and write the
//! scope's profile.
//!
//! Scopes count the current thread only, so the tests of one `cargo test` process, running
//! on parallel threads, never see each other's allocations. Every allocation inside a scope
//! is recorded with its stack, whatever the profiler's sampling rate: budgets are exact.

//!
//! - [`usage`]: what a scope did; [`sites`]: its call sites, symbolized.
//! - [`measure`]: running a closure in a scope; [`limits`]: [`Budget`]; [`baseline`]:
//!   [`Baseline`]; [`failure`]: the messages and scope profiles of broken budgets;
//!   [`macros`]: the assertion macros.

pub(crate) mod baseline;
pub(crate) mod failure;
pub(crate) mod limits;
#[macro_use]
mod macros;
pub(crate) mod measure;
pub(crate) mod sites;
pub(crate) mod usage;

pub use baseline::Baseline;
pub use limits::{Budget, BudgetExceeded};
pub use measure::{abort_on_alloc, measure, measure_with_spawned_threads};
pub use usage::{CallSite, Usage};
