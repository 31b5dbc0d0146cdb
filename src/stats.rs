//! Exact allocation counters as the public API sees them: [`stats`] for the whole process,
//! [`thread_stats`] for the calling thread.

use crate::backend;
use crate::error::Error;

/// Process-wide counters since the program started.
///
/// `realloc` is counted the way the `dhat` crate and Valgrind's DHAT count it: one more
/// block of the new size. So [`Stats::total_blocks`] and `bytes_allocated` equal DHAT's
/// "total blocks" and "total bytes", and the old size counts in `bytes_freed`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Stats {
    /// Calls to `alloc` and `alloc_zeroed` that succeeded.
    pub allocations: u64,
    /// Calls to `dealloc`.
    pub deallocations: u64,
    /// Calls to `realloc` that succeeded.
    pub reallocations: u64,
    /// Bytes requested by allocations plus the new sizes of reallocations.
    pub bytes_allocated: u64,
    /// Bytes given back by deallocations plus the old sizes of reallocations.
    pub bytes_freed: u64,
    /// Bytes allocated and not yet freed.
    pub live_bytes: u64,
    /// Blocks allocated and not yet freed.
    pub live_blocks: u64,
    /// Highest `live_bytes` seen. Exact for a single thread to within 64 KiB; with `n`
    /// threads within `n × 64 KiB` (each thread publishes its changes in batches).
    pub peak_live_bytes: u64,
    /// Highest `live_blocks` seen, within `n × 256` blocks for `n` threads.
    pub peak_live_blocks: u64,
}

impl Stats {
    /// DHAT's "total blocks": allocations plus reallocations.
    pub fn total_blocks(&self) -> u64 {
        self.allocations + self.reallocations
    }
}

/// The calling thread's counters since its first allocation.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ThreadStats {
    /// Calls to `alloc` and `alloc_zeroed` made by this thread.
    pub allocations: u64,
    /// Calls to `dealloc` made by this thread (whoever allocated the block).
    pub deallocations: u64,
    /// Calls to `realloc` made by this thread.
    pub reallocations: u64,
    /// Bytes this thread allocated, including reallocations' new sizes.
    pub bytes_allocated: u64,
    /// Bytes this thread freed, including reallocations' old sizes.
    pub bytes_freed: u64,
    /// Allocated minus freed by this thread; negative if it frees more than it allocates.
    pub live_bytes: i64,
    /// The highest `live_bytes` this thread reached.
    pub peak_live_bytes: i64,
}

/// Process-wide counters.
///
/// Exact once the threads that allocated have finished (joined).
///
/// # Errors
///
/// [`Error::TrackingDisabled`] without the `track` feature and [`Error::NotInstalled`] if
/// [`crate::Alloc`] is not the global allocator — never a silent zero.
///
/// ```
/// #[global_allocator]
/// static ALLOC: allocsite::Alloc = allocsite::Alloc::system();
///
/// # fn main() {
/// if let Ok(before) = allocsite::stats() {
///     let boxed = std::hint::black_box(Box::new([0u8; 32]));
///     let after = allocsite::stats().unwrap();
///     assert!(after.bytes_allocated >= before.bytes_allocated + 32);
///     drop(boxed);
/// }
/// # }
/// ```
pub fn stats() -> Result<Stats, Error> {
    backend::stats()
}

/// The calling thread's counters.
///
/// # Errors
///
/// As [`stats`].
///
/// ```
/// #[global_allocator]
/// static ALLOC: allocsite::Alloc = allocsite::Alloc::system();
///
/// # fn main() {
/// match allocsite::thread_stats() {
///     Ok(before) => {
///         let text = std::hint::black_box(String::from("hello"));
///         let after = allocsite::thread_stats().unwrap();
///         assert_eq!(after.allocations, before.allocations + 1);
///         drop(text);
///     }
///     Err(error) => println!("{error}"),
/// }
/// # }
/// ```
pub fn thread_stats() -> Result<ThreadStats, Error> {
    backend::thread_stats()
}

/// Checks that tracking is compiled in and that [`crate::Alloc`] is the global allocator,
/// by making one small allocation and seeing whether it was counted.
///
/// # Errors
///
/// [`Error::TrackingDisabled`] or [`Error::NotInstalled`].
///
/// ```
/// // No #[global_allocator] here, so this can only fail:
/// let error = allocsite::check_installed().unwrap_err();
/// assert!(matches!(error, allocsite::Error::NotInstalled | allocsite::Error::TrackingDisabled));
/// ```
pub fn check_installed() -> Result<(), Error> {
    backend::check_installed()
}

/// True if this build counts allocations (the `track` feature is on).
pub const fn tracking_enabled() -> bool {
    cfg!(feature = "track")
}
