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
/// The profiler goes on recording; call it as often as you like.
///
/// Cost (BENCHMARKS.md, "Live profiles"): a few milliseconds of CPU for a program with tens
/// of call sites, 30–50 ms for 1,024 sites, all of it on the calling thread (the first call
/// also loads the executable's debug info). It takes the engine's locks only to sum the
/// figures: each of the 64 live-block shards in turn, for one pass over that shard's
/// recorded blocks (~0.1 ms per shard with 200,000 live recorded blocks), so only a thread
/// that records an allocation or frees a recorded block in that shard can wait, and no
/// longer than that; unsampled allocations never wait. Symbolizing takes allocsite's
/// symbolizer lock one stack at a time; encoding holds nothing. In an async server, call it
/// on a blocking thread (`spawn_blocking`).
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

/// Hooks for `benches/snapshot.rs`, re-exported as `allocsite::__bench`. Not public API.
#[cfg(feature = "track")]
#[doc(hidden)]
pub(crate) mod bench {
    /// The engine's part of a snapshot alone (the figures summed under the engine's locks,
    /// then dropped, nothing symbolized or encoded); false if no profile runs.
    pub fn snapshot_figures_only() -> bool {
        crate::backend::snapshot_figures()
    }
}
