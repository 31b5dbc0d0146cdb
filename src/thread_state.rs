//! The per-thread state every hook reads first: the reentrancy guard, the thread's counter
//! block, its live-byte bookkeeping, its sampling countdown and its budget scope.
//!
//! The thread-local is `const`-initialised and has no destructor, so reaching it never
//! allocates, never registers anything and never fails — not even while the thread's other
//! thread-locals are being destroyed. Thread exit is noticed by a second thread-local,
//! [`ExitNotice`], whose destructor publishes the thread's held-back figures and gives its
//! counter block back; allocations made after that (by later destructors) are counted in
//! the shared orphan block instead, so they are never lost from the process totals.

use std::cell::Cell;

use crate::counters::{self, CounterBlock, RawCounts};

pub(crate) struct ThreadState {
    /// True while allocsite's own code runs on this thread. Allocations made meanwhile pass
    /// straight to the inner allocator and are neither counted nor recorded.
    pub(crate) busy: Cell<bool>,
    /// The adopted counter block; null before the first allocation and after thread exit.
    block: Cell<*const CounterBlock>,
    exited: Cell<bool>,
    /// The block's counters when this thread adopted it (the block may have served others).
    base: Cell<RawCounts>,
    /// Live-bytes and live-blocks change not yet published to the process-wide peak.
    pending_bytes: Cell<i64>,
    pending_blocks: Cell<i64>,
    /// This thread's allocated minus freed bytes, and its running maximum.
    pub(crate) live_bytes: Cell<i64>,
    pub(crate) peak_live_bytes: Cell<i64>,
    /// Bytes left until the next sampled allocation, and the profiling session it was drawn for.
    pub(crate) bytes_until_sample: Cell<i64>,
    pub(crate) sample_session: Cell<u32>,
    pub(crate) random_state: Cell<u64>,
    /// Identifier of the innermost open budget scope on this thread (0: none).
    pub(crate) scope: Cell<u64>,
}

thread_local! {
    // `const` with no destructor: access is a plain TLS offset, valid at any point of the
    // thread's life, and touching it cannot allocate (which would recurse into the allocator).
    static STATE: ThreadState = const {
        ThreadState {
            busy: Cell::new(false),
            block: Cell::new(std::ptr::null()),
            exited: Cell::new(false),
            base: Cell::new(RawCounts {
                allocations: 0,
                deallocations: 0,
                reallocations: 0,
                bytes_allocated: 0,
                bytes_freed: 0,
            }),
            pending_bytes: Cell::new(0),
            pending_blocks: Cell::new(0),
            live_bytes: Cell::new(0),
            peak_live_bytes: Cell::new(0),
            bytes_until_sample: Cell::new(0),
            sample_session: Cell::new(0),
            random_state: Cell::new(0),
            scope: Cell::new(0),
        }
    };
    static EXIT_NOTICE: ExitNotice = const { ExitNotice };
}

/// Runs `f` with this thread's state.
#[inline(always)]
pub(crate) fn with<R>(f: impl FnOnce(&ThreadState) -> R) -> R {
    STATE.with(f)
}

/// Runs `f` with the reentrancy guard held, so allocations inside it are not tracked.
/// Nested use is fine: the guard is restored to its previous value.
pub(crate) fn untracked<R>(f: impl FnOnce() -> R) -> R {
    struct Restore(bool);
    impl Drop for Restore {
        fn drop(&mut self) {
            STATE.with(|state| state.busy.set(self.0));
        }
    }
    let _restore = Restore(STATE.with(|state| state.busy.replace(true)));
    f()
}

/// Where a hook adds its counts.
pub(crate) enum Counters {
    /// The thread's own block: owner-only stores.
    Own(&'static CounterBlock),
    /// The shared orphan block (thread-local state already destroyed): atomic adds.
    Orphan,
}

impl ThreadState {
    /// This thread's counter block, adopting one on the thread's first allocation.
    #[inline(always)]
    pub(crate) fn counters(&self) -> Counters {
        let block = self.block.get();
        if !block.is_null() {
            // SAFETY: a non-null `block` was set by `adopt` from a `&'static CounterBlock`.
            return Counters::Own(unsafe { &*block });
        }
        self.counters_slow()
    }

    #[cold]
    fn counters_slow(&self) -> Counters {
        if self.exited.get() {
            return Counters::Orphan;
        }
        self.busy.set(true);
        let block = counters::adopt_block();
        self.base.set(block.snapshot());
        self.block.set(block);
        // Registers `ExitNotice`'s destructor (std may allocate to do so; we are busy).
        // `try_with` fails only if this thread is already tearing its thread-locals down.
        if EXIT_NOTICE.try_with(|_| ()).is_err() {
            self.retire();
        }
        // A thread that starts while a thread-spanning budget scope is open joins it.
        self.scope.set(crate::scope::spanning_scope());
        self.busy.set(false);
        self.counters()
    }

    /// Records that this thread's live bytes grew (an allocation, or a growing realloc).
    #[inline(always)]
    pub(crate) fn live_grew(&self, bytes: i64, blocks: i64) {
        let live = self.live_bytes.get() + bytes;
        self.live_bytes.set(live);
        if live > self.peak_live_bytes.get() {
            self.peak_live_bytes.set(live);
        }
        self.hold_back(bytes, blocks);
    }

    /// Records that this thread's live bytes shrank (a free, or a shrinking realloc); the
    /// amounts are negative. No peak to check.
    #[inline(always)]
    pub(crate) fn live_shrank(&self, bytes: i64, blocks: i64) {
        self.live_bytes.set(self.live_bytes.get() + bytes);
        self.hold_back(bytes, blocks);
    }

    /// Adds to the held-back change and publishes it once it leaves
    /// `-FLUSH..=FLUSH` (one unsigned compare per figure).
    #[inline(always)]
    fn hold_back(&self, bytes: i64, blocks: i64) {
        let pending_bytes = self.pending_bytes.get() + bytes;
        let pending_blocks = self.pending_blocks.get() + blocks;
        let outside = |value: i64, limit: i64| (value + limit) as u64 > 2 * limit as u64;
        if outside(pending_bytes, counters::FLUSH_BYTES)
            || outside(pending_blocks, counters::FLUSH_BLOCKS)
        {
            counters::publish_live_change(pending_bytes, pending_blocks);
            self.pending_bytes.set(0);
            self.pending_blocks.set(0);
        } else {
            self.pending_bytes.set(pending_bytes);
            self.pending_blocks.set(pending_blocks);
        }
    }

    /// Publishes what this thread holds back (before reading process-wide figures).
    pub(crate) fn publish_pending(&self) {
        counters::publish_live_change(
            self.pending_bytes.replace(0),
            self.pending_blocks.replace(0),
        );
    }

    /// This thread's counts since it adopted its block (zero before its first allocation).
    pub(crate) fn own_counts(&self) -> RawCounts {
        let block = self.block.get();
        if block.is_null() {
            return RawCounts::default();
        }
        // SAFETY: see `counters`.
        unsafe { &*block }.snapshot().since(self.base.get())
    }

    fn retire(&self) {
        self.publish_pending();
        let block = self.block.replace(std::ptr::null());
        self.exited.set(true);
        if !block.is_null() {
            // SAFETY: see `counters`.
            unsafe { &*block }.release();
        }
    }
}

/// Its destructor runs when the thread exits and retires the thread's state.
struct ExitNotice;

impl Drop for ExitNotice {
    fn drop(&mut self) {
        STATE.with(|state| state.retire());
    }
}
