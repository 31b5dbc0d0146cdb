//! Profiles while the program runs: [`snapshot`] returns the running profile's current
//! figures without stopping it, as DHAT JSON or pprof bytes — what a service hands to a
//! continuous profiler that scrapes `/debug/pprof/heap` (see `examples/serve_pprof.rs`).

use crate::backend;
use crate::error::Error;

/// The format of a [`snapshot`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum SnapshotFormat {
    /// DHAT JSON (`dhatFileVersion` 2), as the profiler writes at the end.
    Dhat,
    /// pprof: gzip-compressed `profile.proto` with Go's heap sample types, opening on
    /// `alloc_space` (everything allocated so far), as Go's `/debug/pprof/allocs` does.
    Pprof,
    /// The same pprof profile opening on `inuse_space` (what is live now), as Go's
    /// `/debug/pprof/heap` does.
    PprofHeap,
}

/// The running profile's figures so far, as if it ended now, without stopping it: totals
/// and per-site figures up to now, blocks still live counted as live, lifetimes up to now.
/// The profiler goes on recording; call it as often as you like (each call symbolizes the
/// sites and costs about as much as writing the final report).
///
/// ```
/// #[global_allocator]
/// static ALLOC: allocsite::Alloc = allocsite::Alloc::system();
///
/// # fn main() {
/// let profiler = allocsite::Profiler::builder().no_json().summary(false).start().unwrap();
/// let kept: Vec<String> = (0..100).map(|i| i.to_string()).collect();
/// match allocsite::snapshot(allocsite::SnapshotFormat::Pprof) {
///     Ok(bytes) => assert_eq!(&bytes[..2], &[0x1f, 0x8b]), // gzip
///     Err(error) => assert_eq!(error, allocsite::Error::TrackingDisabled),
/// }
/// drop(kept);
/// drop(profiler);
/// # }
/// ```
///
/// # Errors
///
/// [`Error::NotProfiling`] when no profiler runs (also in a forked child of the process that
/// started it), [`Error::TrackingDisabled`] without the `track` feature.
pub fn snapshot(format: SnapshotFormat) -> Result<Vec<u8>, Error> {
    backend::snapshot(format)
}
