//! Exact allocation counters: one block of counters per thread, summed on read.
//!
//! Every tracked thread owns one [`CounterBlock`]. Only the owning thread writes it, with a
//! plain relaxed load + store (no locked read-modify-write), so the hot path touches no cache
//! line that another thread writes. Readers ([`process_totals`]) sum every block with relaxed
//! loads. Blocks live in a push-only, lock-free list and are never freed: when a thread exits
//! its block is released and the next new thread adopts it and keeps adding to it. Because
//! every field is a cumulative sum, it does not matter which thread added what — the process
//! totals stay exact. A thread's own figures are its block minus the values the block held
//! when the thread adopted it (see [`crate::thread_state`]).
//!
//! The process-wide peak is *bounded*, not exact: each thread publishes its change of live
//! bytes and blocks to two shared atomics only at an *event*, once it has allocated
//! [`FLUSH_BYTES`] since the last one or freed [`FLUSH_BYTES`] since the last one (see
//! `thread.rs`); the peak is taken over the published values. What a thread holds back is
//! less than `FLUSH_BYTES` plus the size of one allocation, so the reported peak is within
//! about `threads × FLUSH_BYTES` bytes of the true peak, and the peak block count within
//! `threads × FLUSH_BYTES / s` blocks for allocations of `s` bytes (4,096 blocks per thread for
//! 16-byte blocks). A single-threaded program's peak is exact to within `FLUSH_BYTES`.
//! Publishing on every allocation would make the peak exact but costs a contended atomic
//! per call (ARCHITECTURE.md has the measurement).

use std::sync::atomic::{AtomicBool, AtomicI64, AtomicPtr, AtomicU64, Ordering::*};

/// A thread publishes its live change once it allocated, or freed, this many bytes.
pub(crate) const FLUSH_BYTES: i64 = 64 * 1024;

/// The cumulative counters of one thread (or of one retired-thread slot).
///
/// Aligned to 128 bytes so that two threads' blocks never share a cache line (or the
/// adjacent-line prefetch pair on x86_64).
#[repr(align(128))]
pub(crate) struct CounterBlock {
    pub(crate) allocations: AtomicU64,
    pub(crate) deallocations: AtomicU64,
    pub(crate) reallocations: AtomicU64,
    pub(crate) bytes_allocated: AtomicU64,
    pub(crate) bytes_freed: AtomicU64,
    /// The owner's allocation fast path leaves it once `bytes_allocated` passes this mark
    /// (to publish its live change, or because the sampler's next sample is due). Written by
    /// the owner, and set to 0 by [`wake_all`] when a profiling session starts.
    pub(crate) event_mark: AtomicU64,
    /// True while a live thread owns this block.
    owned: AtomicBool,
    next: AtomicPtr<CounterBlock>,
}

/// Owner-only increment: a relaxed load and store, no locked instruction. Correct because
/// only the owning thread ever writes the field (readers only load).
#[inline(always)]
pub(crate) fn bump(counter: &AtomicU64, by: u64) {
    counter.store(counter.load(Relaxed).wrapping_add(by), Relaxed);
}

impl CounterBlock {
    const fn new() -> Self {
        CounterBlock {
            allocations: AtomicU64::new(0),
            deallocations: AtomicU64::new(0),
            reallocations: AtomicU64::new(0),
            bytes_allocated: AtomicU64::new(0),
            bytes_freed: AtomicU64::new(0),
            event_mark: AtomicU64::new(0),
            owned: AtomicBool::new(true),
            next: AtomicPtr::new(std::ptr::null_mut()),
        }
    }

    pub(crate) fn snapshot(&self) -> RawCounts {
        RawCounts {
            allocations: self.allocations.load(Relaxed),
            deallocations: self.deallocations.load(Relaxed),
            reallocations: self.reallocations.load(Relaxed),
            bytes_allocated: self.bytes_allocated.load(Relaxed),
            bytes_freed: self.bytes_freed.load(Relaxed),
        }
    }

    /// Gives the block back for the next new thread to adopt.
    pub(crate) fn release(&self) {
        self.owned.store(false, Release);
    }
}

/// Plain copies of a block's counters.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct RawCounts {
    pub(crate) allocations: u64,
    pub(crate) deallocations: u64,
    pub(crate) reallocations: u64,
    pub(crate) bytes_allocated: u64,
    pub(crate) bytes_freed: u64,
}

impl RawCounts {
    pub(crate) fn add(&mut self, other: RawCounts) {
        self.allocations += other.allocations;
        self.deallocations += other.deallocations;
        self.reallocations += other.reallocations;
        self.bytes_allocated += other.bytes_allocated;
        self.bytes_freed += other.bytes_freed;
    }

    pub(crate) fn since(self, base: RawCounts) -> RawCounts {
        RawCounts {
            allocations: self.allocations.wrapping_sub(base.allocations),
            deallocations: self.deallocations.wrapping_sub(base.deallocations),
            reallocations: self.reallocations.wrapping_sub(base.reallocations),
            bytes_allocated: self.bytes_allocated.wrapping_sub(base.bytes_allocated),
            bytes_freed: self.bytes_freed.wrapping_sub(base.bytes_freed),
        }
    }
}

/// Head of the push-only list of every block ever created.
static BLOCKS: AtomicPtr<CounterBlock> = AtomicPtr::new(std::ptr::null_mut());

/// Counts made by threads whose thread-local state is already destroyed (allocations in
/// thread-local destructors that run after ours). Updated with real atomic adds: rare.
static ORPHANS: CounterBlock = CounterBlock::new();

pub(crate) fn orphan_block() -> &'static CounterBlock {
    &ORPHANS
}

/// Adds to the orphan block: unlike [`bump`], safe from any number of threads at once.
pub(crate) fn add_orphan(counter: &AtomicU64, by: u64) {
    counter.fetch_add(by, Relaxed);
}

/// Adopts a released block, or creates one. May allocate: the caller holds the thread's
/// reentrancy guard, so the allocation passes straight to the inner allocator untracked.
pub(crate) fn adopt_block() -> &'static CounterBlock {
    let mut cursor = BLOCKS.load(Acquire);
    while !cursor.is_null() {
        // SAFETY: blocks are leaked `Box`es that are never freed, so every pointer in the
        // list stays valid for the rest of the process.
        let block = unsafe { &*cursor };
        if block
            .owned
            .compare_exchange(false, true, Acquire, Relaxed)
            .is_ok()
        {
            return block;
        }
        cursor = block.next.load(Acquire);
    }
    let block: &'static CounterBlock = Box::leak(Box::new(CounterBlock::new()));
    let mut head = BLOCKS.load(Relaxed);
    loop {
        block.next.store(head, Relaxed);
        match BLOCKS.compare_exchange_weak(head, block as *const _ as *mut _, Release, Relaxed) {
            Ok(_) => return block,
            Err(actual) => head = actual,
        }
    }
}

/// The sum of every block, including the orphan block.
pub(crate) fn process_totals() -> RawCounts {
    let mut total = ORPHANS.snapshot();
    let mut cursor = BLOCKS.load(Acquire);
    while !cursor.is_null() {
        // SAFETY: as in `adopt_block`, list entries are never freed.
        let block = unsafe { &*cursor };
        total.add(block.snapshot());
        cursor = block.next.load(Acquire);
    }
    total
}

/// Makes every live thread's next allocation an event, so that it notices a new profiling
/// session at once instead of at its next publication. Best effort: an owner resetting its
/// mark at the same moment wins, and then notices the session at its next event (within
/// `FLUSH_BYTES` of allocation).
pub(crate) fn wake_all() {
    let mut cursor = BLOCKS.load(Acquire);
    while !cursor.is_null() {
        // SAFETY: as in `adopt_block`, list entries are never freed.
        let block = unsafe { &*cursor };
        if block.owned.load(Relaxed) {
            block.event_mark.store(0, Relaxed);
        }
        cursor = block.next.load(Acquire);
    }
}

/// Live bytes and blocks as published by the threads (see the module docs for the bound).
static PUBLISHED_LIVE_BYTES: AtomicI64 = AtomicI64::new(0);
static PUBLISHED_LIVE_BLOCKS: AtomicI64 = AtomicI64::new(0);
static PEAK_LIVE_BYTES: AtomicI64 = AtomicI64::new(0);
static PEAK_LIVE_BLOCKS: AtomicI64 = AtomicI64::new(0);

/// Publishes a thread's held-back change of live bytes and blocks and raises the peak.
#[cold]
pub(crate) fn publish_live_change(bytes: i64, blocks: i64) {
    let live_bytes = PUBLISHED_LIVE_BYTES.fetch_add(bytes, Relaxed) + bytes;
    let live_blocks = PUBLISHED_LIVE_BLOCKS.fetch_add(blocks, Relaxed) + blocks;
    if bytes > 0 {
        PEAK_LIVE_BYTES.fetch_max(live_bytes, Relaxed);
    }
    if blocks > 0 {
        PEAK_LIVE_BLOCKS.fetch_max(live_blocks, Relaxed);
    }
}

/// The published peak, never below the exact live figures passed in.
pub(crate) fn peak(exact_live_bytes: u64, exact_live_blocks: u64) -> (u64, u64) {
    let bytes = PEAK_LIVE_BYTES.load(Relaxed).max(0) as u64;
    let blocks = PEAK_LIVE_BLOCKS.load(Relaxed).max(0) as u64;
    (bytes.max(exact_live_bytes), blocks.max(exact_live_blocks))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_since_a_base_subtract_field_by_field() {
        let base = RawCounts {
            allocations: 5,
            deallocations: 4,
            reallocations: 3,
            bytes_allocated: 200,
            bytes_freed: 100,
        };
        let mut now = base;
        now.add(RawCounts {
            allocations: 1,
            bytes_allocated: 8,
            ..RawCounts::default()
        });
        let delta = now.since(base);
        assert_eq!(delta.allocations, 1);
        assert_eq!(delta.bytes_allocated, 8);
        assert_eq!(delta.deallocations, 0);
    }

    #[test]
    fn a_released_block_is_adopted_again_and_keeps_its_sums() {
        // Blocks are process-wide: take one, release it, and find it among the adoptable ones.
        let block = adopt_block();
        bump(&block.allocations, 7);
        let sum_before = process_totals().allocations;
        block.release();
        // Other test threads allocate meanwhile, so the sum can only grow: a released block
        // left out would take its 7 (and more) off it.
        assert!(
            process_totals().allocations >= sum_before,
            "released blocks still count"
        );
        let mut adopted = Vec::new();
        loop {
            let next = adopt_block();
            adopted.push(next);
            if std::ptr::eq(next, block) {
                break;
            }
            assert!(
                adopted.len() < 10_000,
                "the released block was never adopted again"
            );
        }
        for other in adopted {
            other.release();
        }
    }

    #[test]
    fn the_peak_is_never_below_the_exact_live_figures() {
        publish_live_change(1000, 2);
        let (bytes, blocks) = peak(0, 0);
        assert!(bytes >= 1000 && blocks >= 2);
        assert_eq!(peak(u64::MAX / 2, 9).0, u64::MAX / 2);
        publish_live_change(-1000, -2);
    }
}
