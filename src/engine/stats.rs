//! The figures the public API reads from the engine: process-wide [`stats`], the calling
//! thread's [`thread_stats`], and [`check_installed`] (is `Alloc` the global allocator?).

use std::sync::atomic::{AtomicBool, Ordering::Relaxed};

use super::counters;
use super::thread as thread_state;
use crate::error::Error;
use crate::stats::{Stats, ThreadStats};

pub(crate) fn stats() -> Result<Stats, Error> {
    check_installed()?;
    thread_state::with(|thread| thread.publish_pending());
    let totals = counters::process_totals();
    let live_bytes = totals.bytes_allocated.saturating_sub(totals.bytes_freed);
    let live_blocks = totals.allocations.saturating_sub(totals.deallocations);
    let (peak_live_bytes, peak_live_blocks) = counters::peak(live_bytes, live_blocks);
    Ok(Stats {
        allocations: totals.allocations,
        deallocations: totals.deallocations,
        reallocations: totals.reallocations,
        bytes_allocated: totals.bytes_allocated,
        bytes_freed: totals.bytes_freed,
        live_bytes,
        live_blocks,
        peak_live_bytes,
        peak_live_blocks,
    })
}

pub(crate) fn thread_stats() -> Result<ThreadStats, Error> {
    check_installed()?;
    Ok(thread_state::with(|thread| {
        let counts = thread.own_counts();
        ThreadStats {
            allocations: counts.allocations,
            deallocations: counts.deallocations,
            reallocations: counts.reallocations,
            bytes_allocated: counts.bytes_allocated,
            bytes_freed: counts.bytes_freed,
            live_bytes: thread.live_bytes(),
            peak_live_bytes: thread.peak_live_bytes(),
        }
    }))
}

/// Set once an allocation was seen through the hooks; afterwards checks are free.
static INSTALLED: AtomicBool = AtomicBool::new(false);

/// Allocates one small box and checks that this thread's counter moved. Once that has
/// succeeded the answer is cached, so later calls allocate nothing.
pub(crate) fn check_installed() -> Result<(), Error> {
    if INSTALLED.load(Relaxed) {
        return Ok(());
    }
    if thread_state::with(|thread| thread.is_busy()) {
        // Called from inside allocsite's own code: allocations are not tracked right now.
        return Ok(());
    }
    let before = thread_state::with(|thread| thread.own_counts().allocations);
    drop(std::hint::black_box(Box::new(0u64)));
    let after = thread_state::with(|thread| thread.own_counts().allocations);
    if after != before {
        INSTALLED.store(true, Relaxed);
        Ok(())
    } else {
        Err(Error::NotInstalled)
    }
}
