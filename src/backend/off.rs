//! The backend of builds without the `track` feature: [`crate::Alloc`] is a pure
//! pass-through (these hooks are empty and inline away), and every function that would
//! report figures says plainly that tracking is off. This file is the whole feature-off
//! path; `track.rs` is its counterpart.

#[cfg(feature = "report")]
use crate::budget::usage::{ResolvedStack, SiteStack};
use crate::budget::usage::{ScopeKind, Usage};
use crate::error::Error;
use crate::profiler::builder::ProfilerBuilder;
use crate::profiler::finish::ProfileReport;
use crate::profiler::snapshot::SnapshotFormat;
use crate::stats::{Stats, ThreadStats};

#[inline(always)]
pub(crate) fn on_alloc(pointer: *mut u8, _size: usize) -> *mut u8 {
    pointer
}

#[inline(always)]
pub(crate) fn try_dealloc_fast(_pointer: *mut u8, _size: usize) -> bool {
    true
}

#[inline(always)]
pub(crate) fn on_dealloc(_pointer: *mut u8, _size: usize) {}

#[inline(always)]
pub(crate) fn realloc_is_plain(_pointer: *mut u8) -> bool {
    true
}

#[inline(always)]
pub(crate) fn after_plain_realloc(
    new_pointer: *mut u8,
    _old_size: usize,
    _new_size: usize,
) -> *mut u8 {
    new_pointer
}

#[inline(always)]
pub(crate) fn on_realloc(
    _pointer: *mut u8,
    _old_size: usize,
    _new_size: usize,
    reallocate: impl FnOnce() -> *mut u8,
) -> *mut u8 {
    reallocate()
}

pub(crate) fn stats() -> Result<Stats, Error> {
    Err(Error::TrackingDisabled)
}

pub(crate) fn thread_stats() -> Result<ThreadStats, Error> {
    Err(Error::TrackingDisabled)
}

pub(crate) fn check_installed() -> Result<(), Error> {
    Err(Error::TrackingDisabled)
}

pub(crate) fn start_profiling(_config: ProfilerBuilder) -> Result<(), Error> {
    Err(Error::TrackingDisabled)
}

pub(crate) fn finish_profiling() -> Result<ProfileReport, Error> {
    Err(Error::TrackingDisabled)
}

pub(crate) fn run_scope<R>(
    _kind: ScopeKind,
    _work: impl FnOnce() -> R,
) -> Result<(R, Usage), Error> {
    Err(Error::TrackingDisabled)
}

/// A measured future's scope: none can be opened without tracking.
pub(crate) enum FutureScope {}

pub(crate) fn open_future_scope() -> Result<FutureScope, Error> {
    Err(Error::TrackingDisabled)
}

impl FutureScope {
    pub(crate) fn enter(&self) -> ScopeEntered {
        match *self {}
    }

    pub(crate) fn finish(self) -> Usage {
        match self {}
    }
}

/// Entering a scope does nothing without tracking (a guard like the engine's, so callers
/// read the same either way).
pub(crate) struct ScopeEntered;

impl Drop for ScopeEntered {
    #[inline(always)]
    fn drop(&mut self) {}
}

#[inline(always)]
pub(crate) fn current_scope() -> u64 {
    0
}

#[inline(always)]
pub(crate) fn enter_scope(_id: u64) -> ScopeEntered {
    ScopeEntered
}

#[cfg(feature = "report")]
pub(crate) fn resolve_stacks(_stacks: &[SiteStack]) -> Vec<ResolvedStack> {
    Vec::new()
}

pub(crate) fn snapshot(_format: SnapshotFormat) -> Result<Vec<u8>, Error> {
    Err(Error::TrackingDisabled)
}
