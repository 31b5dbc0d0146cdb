//! Measuring a closure: [`measure`], [`measure_with_spawned_threads`], [`abort_on_alloc`].

use super::usage::{ScopeKind, Usage};
use crate::backend;
use crate::error::Error;

/// Runs `work` and returns its result with the allocations it made on this thread.
///
/// Scopes nest: an inner scope's allocations also count in the outer one, and the outer
/// scope's peak includes the inner scope's. The inner `Usage` value itself is built outside
/// every scope, so it is not counted (its later drop inside the outer scope counts as frees).
///
/// For async code use [`measure_future`](crate::measure_future): `measure(|| async { … })`
/// measures building the future, not running it.
///
/// # Errors
///
/// Without running `work`: [`Error::TrackingDisabled`] without the `track` feature,
/// [`Error::NotInstalled`] if [`crate::Alloc`] is not the global allocator.
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

/// Like [`measure`], but also counts the threads `work` starts, and the threads they start,
/// for as long as the scope is open. A thread joins at its creation, before it runs any code
/// of its own; threads started anywhere else — other tests running in parallel included —
/// never join, and any number of these scopes can be open at once. It must not be opened
/// inside another scope.
///
/// Threads are followed through `pthread_create`, which allocsite forwards to the C library
/// on glibc Linux (dynamically linked); on other platforms the scope counts only the calling
/// thread.
///
/// # Errors
///
/// As [`measure`], and [`Error::NestedSpanningScope`] inside another scope.
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
/// # Errors
///
/// As [`measure`].
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
