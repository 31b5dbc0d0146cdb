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

use std::sync::atomic::Ordering::{Relaxed, SeqCst};
use std::sync::atomic::compiler_fence;

use super::counters::{self, CounterBlock, RawCounts, bump};
use super::recorder::live::maybe_recorded;
use super::recorder::local::Local;
use super::recorder::session;
use super::sampler::{self, Countdown};

/// Bits of [`ThreadState::unusual`]: why a hook cannot take the fast path.
const BUSY: u8 = 1;
const NO_BLOCK: u8 = 2;
const IN_SCOPE: u8 = 4;

pub(crate) struct ThreadState {
    /// Zero on the fast path. Otherwise some of: `BUSY` (allocsite's own code runs on this
    /// thread: allocations pass straight through, neither counted nor recorded), `NO_BLOCK`
    /// (no counter block yet, or the thread has exited), `IN_SCOPE` (a budget scope is open).
    /// One byte so the hooks test all three with one compare.
    unusual: Cell<u8>,
    /// The adopted counter block; null exactly when `NO_BLOCK` is set.
    block: Cell<*const CounterBlock>,
    exited: Cell<bool>,
    /// The block's counters when this thread adopted it (the block may have served others).
    base: Cell<RawCounts>,
    /// This thread's peak, kept as a mark on the block's `bytes_allocated`: the thread's live
    /// bytes reach a new peak exactly when `bytes_allocated` passes `peak_mark`, which is
    /// `peak + bytes_freed + (base.bytes_allocated - base.bytes_freed)`. Allocations compare
    /// (and raise it on a new peak); frees add their size. See [`ThreadState::peak_live_bytes`].
    peak_mark: Cell<u64>,
    /// A free is an *event* (the held-back change is published) once the block's
    /// `bytes_freed` passes this mark. The allocation side's mark is `CounterBlock::event_mark`.
    free_mark: Cell<u64>,
    /// The allocation side publishes at an event once the block's `bytes_allocated` reaches
    /// this (events also come for samples, every allocation when every one is recorded).
    publish_at: Cell<u64>,
    /// `bytes_allocated` when the block's event mark was last set: the sampler measures the
    /// bytes allocated since then.
    mark_base: Cell<u64>,
    /// The live bytes and blocks (relative to `base`) this thread last published to the
    /// process-wide figures.
    published_bytes: Cell<i64>,
    published_blocks: Cell<i64>,
    /// The sampling countdown (owned by `sampler`).
    countdown: Countdown,
    /// This thread's recording state, adopted on its first recording (null: none yet).
    local: Cell<*const Local>,
    /// The thread-spanning scope threads created by this thread join (0: none): set while
    /// a `measure_with_spawned_threads` scope runs here, and inherited at thread creation
    /// (`engine/spawn.rs`), so threads started by those threads join it too.
    spanning: Cell<u64>,
    /// Identifier of the innermost open budget scope on this thread (0: none).
    scope: Cell<u64>,
}

thread_local! {
    // `const` with no destructor: access is a plain TLS offset, valid at any point of the
    // thread's life, and touching it cannot allocate (which would recurse into the allocator).
    static STATE: ThreadState = const {
        ThreadState {
            unusual: Cell::new(NO_BLOCK),
            block: Cell::new(std::ptr::null()),
            exited: Cell::new(false),
            base: Cell::new(RawCounts {
                allocations: 0,
                deallocations: 0,
                reallocations: 0,
                bytes_allocated: 0,
                bytes_freed: 0,
            }),
            peak_mark: Cell::new(0),
            free_mark: Cell::new(0),
            publish_at: Cell::new(0),
            mark_base: Cell::new(0),
            published_bytes: Cell::new(0),
            published_blocks: Cell::new(0),
            countdown: Countdown::new(),
            local: Cell::new(std::ptr::null()),
            spanning: Cell::new(0),
            scope: Cell::new(0),
        }
    };
    static EXIT_NOTICE: ExitNotice = const { ExitNotice };
}

/// Runs `f` with this thread's state.
///
/// Takes the address with a trivial closure (which inlines to a TLS offset) and runs `f`
/// outside `LocalKey::with`: passing the hooks' bodies to `with` made the compiler call an
/// out-of-line `LocalKey::with` on every allocation.
#[inline(always)]
pub(crate) fn with<R>(f: impl FnOnce(&ThreadState) -> R) -> R {
    let state: *const ThreadState = STATE.with(|state| state as *const ThreadState);
    // SAFETY: the thread-local has no destructor, so it stays valid for the whole life of
    // this thread, which outlives this call; it is only used from this thread.
    f(unsafe { &*state })
}

/// Runs `f` with the reentrancy guard held, so allocations inside it are not tracked.
/// Nested use is fine: the guard is restored to its previous value.
pub(crate) fn untracked<R>(f: impl FnOnce() -> R) -> R {
    struct Restore(bool);
    impl Drop for Restore {
        fn drop(&mut self) {
            STATE.with(|state| state.set_busy(self.0));
        }
    }
    let _restore = Restore(STATE.with(|state| {
        let was_busy = state.is_busy();
        state.set_busy(true);
        was_busy
    }));
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
    #[inline(always)]
    fn set_flag(&self, flag: u8, on: bool) {
        let flags = self.unusual.get();
        self.unusual
            .set(if on { flags | flag } else { flags & !flag });
    }

    /// Is allocsite's own code running on this thread (allocations untracked)?
    #[inline(always)]
    pub(crate) fn is_busy(&self) -> bool {
        self.unusual.get() & BUSY != 0
    }

    /// Sets or clears the reentrancy guard. A signal handler that runs on this thread sees
    /// the guard exactly where the program order puts it: the compiler fences keep the
    /// guard's store before the locks taken under it and after the locks released under it,
    /// so a handler's allocation never records while this thread holds an allocsite lock
    /// (it passes straight to the inner allocator) and never waits for a lock of its own
    /// thread. They emit no instruction.
    #[inline(always)]
    pub(crate) fn set_busy(&self, busy: bool) {
        compiler_fence(SeqCst);
        self.set_flag(BUSY, busy);
        compiler_fence(SeqCst);
    }

    /// This thread's recording state, adopted on first use; `None` only when out of memory
    /// or after the thread retired its state. Call on the recording path (guard held).
    #[inline]
    pub(crate) fn local(&self) -> Option<&'static Local> {
        let local = self.local.get();
        if !local.is_null() {
            // SAFETY: set in `adopt_local` from a `&'static Local`.
            return Some(unsafe { &*local });
        }
        self.adopt_local()
    }

    #[cold]
    #[inline(never)]
    fn adopt_local(&self) -> Option<&'static Local> {
        if self.exited.get() {
            return None;
        }
        let local = Local::adopt()?;
        self.local.set(local);
        Some(local)
    }

    /// The thread-spanning scope threads started from this one join (0: none).
    // Unused where `pthread_create` is not interposed (see `engine/spawn.rs`).
    #[cfg_attr(any(miri, allocsite_tsan), allow(dead_code))]
    pub(crate) fn spanning(&self) -> u64 {
        self.spanning.get()
    }

    /// Sets [`ThreadState::spanning`].
    pub(crate) fn set_spanning(&self, scope: u64) {
        self.spanning.set(scope);
    }

    /// Joins the thread-spanning scope of the thread that created this one, at the very
    /// start of this thread (before it runs any code of its own).
    // Unused where `pthread_create` is not interposed (see `engine/spawn.rs`).
    #[cfg_attr(any(miri, allocsite_tsan), allow(dead_code))]
    pub(crate) fn join_spanning_scope(&self, scope: u64) {
        self.spanning.set(scope);
        if self.scope() == 0 {
            self.set_scope(scope);
        }
    }

    /// The innermost open budget scope (0: none).
    #[inline(always)]
    pub(crate) fn scope(&self) -> u64 {
        self.scope.get()
    }

    pub(crate) fn set_scope(&self, scope: u64) {
        self.scope.set(scope);
        self.set_flag(IN_SCOPE, scope != 0);
    }

    /// The thread's counter block when nothing is unusual: not busy, registered, no scope.
    /// `None` sends the hook to its general path.
    #[inline(always)]
    pub(crate) fn fast_block(&self) -> Option<&'static CounterBlock> {
        if self.unusual.get() != 0 {
            return None;
        }
        // SAFETY: `unusual == 0` means `NO_BLOCK` is clear, so `block` was set by
        // `counters_slow` from a `&'static CounterBlock`.
        Some(unsafe { &*self.block.get() })
    }

    /// The thread's counter block, known to be there.
    ///
    /// # Safety
    ///
    /// [`ThreadState::fast_block`] returned `Some` on this thread, and nothing has changed
    /// the thread's state since (see `hooks::after_plain_realloc`).
    #[inline(always)]
    pub(crate) unsafe fn fast_block_unchecked(&self) -> &'static CounterBlock {
        // SAFETY: as in `fast_block`, by the caller's contract.
        unsafe { &*self.block.get() }
    }

    /// This thread's counter block, adopting one on the thread's first allocation.
    #[inline(always)]
    pub(crate) fn counters(&self) -> Counters {
        let block = self.block.get();
        if !block.is_null() {
            // SAFETY: a non-null `block` was set by `counters_slow` from a `&'static CounterBlock`.
            return Counters::Own(unsafe { &*block });
        }
        self.counters_slow()
    }

    #[cold]
    fn counters_slow(&self) -> Counters {
        if self.exited.get() {
            return Counters::Orphan;
        }
        self.set_busy(true);
        let block = counters::adopt_block();
        let base = block.snapshot();
        self.base.set(base);
        // Live 0, peak 0 (see `peak_mark`); the first allocation is an event, which sets the
        // marks from the sampler's state.
        self.peak_mark.set(base.bytes_allocated);
        self.free_mark
            .set(base.bytes_freed.wrapping_add(counters::FLUSH_BYTES as u64));
        self.publish_at.set(base.bytes_allocated);
        self.mark_base.set(base.bytes_allocated);
        self.published_bytes.set(0);
        self.published_blocks.set(0);
        block.event_mark.store(0, Relaxed);
        self.block.set(block);
        self.set_flag(NO_BLOCK, false);
        // Registers `ExitNotice`'s destructor (std may allocate to do so; we are busy).
        // `try_with` fails only if this thread is already tearing its thread-locals down.
        if EXIT_NOTICE.try_with(|_| ()).is_err() {
            self.retire();
        }
        self.set_busy(false);
        self.counters()
    }

    /// The allocation fast path: counts an allocation of `size` bytes and returns true, or
    /// changes nothing and returns false when an event is due (the general path then counts
    /// it with [`ThreadState::count_allocation`]).
    #[inline(always)]
    pub(crate) fn try_count_allocation(&self, block: &CounterBlock, size: usize) -> bool {
        let allocated = block
            .bytes_allocated
            .load(Relaxed)
            .wrapping_add(size as u64);
        if allocated > block.event_mark.load(Relaxed) {
            return false;
        }
        bump(&block.allocations, 1);
        block.bytes_allocated.store(allocated, Relaxed);
        if allocated > self.peak_mark.get() {
            self.peak_mark.set(allocated);
        }
        true
    }

    /// The free fast path: counts a free and returns true, or changes nothing and returns
    /// false when a publication is due or the block may be recorded.
    #[inline(always)]
    pub(crate) fn try_count_free(
        &self,
        block: &CounterBlock,
        size: usize,
        pointer: *mut u8,
    ) -> bool {
        let freed = block.bytes_freed.load(Relaxed).wrapping_add(size as u64);
        if freed > self.free_mark.get() || maybe_recorded(pointer) {
            return false;
        }
        bump(&block.deallocations, 1);
        block.bytes_freed.store(freed, Relaxed);
        self.peak_mark
            .set(self.peak_mark.get().wrapping_add(size as u64));
        true
    }

    /// The realloc fast path (the inner realloc succeeded): counts the old block's bytes as
    /// freed and the new block's as allocated, or changes nothing and returns false.
    #[inline(always)]
    pub(crate) fn try_count_reallocation(
        &self,
        block: &CounterBlock,
        old_size: usize,
        new_size: usize,
    ) -> bool {
        let freed = block
            .bytes_freed
            .load(Relaxed)
            .wrapping_add(old_size as u64);
        let allocated = block
            .bytes_allocated
            .load(Relaxed)
            .wrapping_add(new_size as u64);
        if freed > self.free_mark.get() || allocated > block.event_mark.load(Relaxed) {
            return false;
        }
        bump(&block.reallocations, 1);
        block.bytes_freed.store(freed, Relaxed);
        block.bytes_allocated.store(allocated, Relaxed);
        let mark = self.peak_mark.get().wrapping_add(old_size as u64);
        self.peak_mark.set(mark.max(allocated));
        true
    }

    /// Counts an allocation of `size` bytes (or a realloc's new block) in this thread's own
    /// block and returns whether it must be recorded: `Some(weight)` when the profiler
    /// samples it. `new_block` is false for a realloc (the block count does not change).
    #[inline(always)]
    pub(crate) fn count_allocation(
        &self,
        block: &CounterBlock,
        size: usize,
        new_block: bool,
    ) -> Option<f64> {
        if new_block {
            bump(&block.allocations, 1);
        } else {
            bump(&block.reallocations, 1);
        }
        let allocated = block
            .bytes_allocated
            .load(Relaxed)
            .wrapping_add(size as u64);
        block.bytes_allocated.store(allocated, Relaxed);
        if allocated > self.peak_mark.get() {
            self.peak_mark.set(allocated);
        }
        if allocated > block.event_mark.load(Relaxed) {
            return self.allocation_event(block, allocated, size);
        }
        None
    }

    /// Counts a free of `size` bytes (or a realloc's old block) in this thread's own block.
    #[inline(always)]
    pub(crate) fn count_free(&self, block: &CounterBlock, size: usize, old_block: bool) {
        if old_block {
            bump(&block.deallocations, 1);
        }
        let freed = block.bytes_freed.load(Relaxed).wrapping_add(size as u64);
        block.bytes_freed.store(freed, Relaxed);
        self.peak_mark
            .set(self.peak_mark.get().wrapping_add(size as u64));
        if freed > self.free_mark.get() {
            self.publish(block);
        }
    }

    /// The allocation side ran past its event mark: publish the held-back change if it is
    /// due, let the sampler decide whether this allocation is sampled, and set the next mark
    /// at the nearer of the next publication and the next sample. (Publishing only when due
    /// matters when every allocation is recorded: each is an event, and publishing writes
    /// shared atomics.)
    #[inline(never)]
    fn allocation_event(&self, block: &CounterBlock, allocated: u64, size: usize) -> Option<f64> {
        if allocated >= self.publish_at.get() {
            self.publish(block);
        }
        if self.countdown.records_every(sampler::session()) {
            // Every allocation is recorded: the next one is an event too.
            self.mark_base.set(allocated);
            block.event_mark.store(allocated, Relaxed);
            return Some(1.0);
        }
        let since_mark = allocated.wrapping_sub(self.mark_base.get());
        let weight = self.countdown.advance(since_mark, size, sampler::session());
        let next = self
            .countdown
            .bytes_to_next_sample()
            .min(self.publish_at.get().wrapping_sub(allocated));
        self.mark_base.set(allocated);
        block
            .event_mark
            .store(allocated.wrapping_add(next.saturating_sub(1)), Relaxed);
        weight
    }

    /// Publishes this thread's live change since its last publication to the process-wide
    /// figures (and the peak), and moves the free side's mark.
    #[cold]
    pub(crate) fn publish(&self, block: &CounterBlock) {
        let counts = block.snapshot().since(self.base.get());
        let bytes = counts.bytes_allocated.wrapping_sub(counts.bytes_freed) as i64;
        let blocks = counts.allocations.wrapping_sub(counts.deallocations) as i64;
        counters::publish_live_change(
            bytes - self.published_bytes.replace(bytes),
            blocks - self.published_blocks.replace(blocks),
        );
        self.free_mark.set(
            block
                .bytes_freed
                .load(Relaxed)
                .wrapping_add(counters::FLUSH_BYTES as u64),
        );
        self.publish_at.set(
            block
                .bytes_allocated
                .load(Relaxed)
                .wrapping_add(counters::FLUSH_BYTES as u64),
        );
    }

    /// Publishes what this thread holds back (before reading process-wide figures).
    pub(crate) fn publish_pending(&self) {
        let block = self.block.get();
        if !block.is_null() {
            // SAFETY: see `counters`.
            self.publish(unsafe { &*block });
        }
    }

    /// This thread's allocated minus freed bytes.
    pub(crate) fn live_bytes(&self) -> i64 {
        let counts = self.own_counts();
        counts.bytes_allocated.wrapping_sub(counts.bytes_freed) as i64
    }

    /// The highest [`ThreadState::live_bytes`] this thread reached: `peak_mark` minus what
    /// it was offset by (see the field).
    pub(crate) fn peak_live_bytes(&self) -> i64 {
        let block = self.block.get();
        if block.is_null() {
            return 0;
        }
        // SAFETY: see `counters`.
        let freed = unsafe { &*block }.bytes_freed.load(Relaxed);
        let base = self.base.get();
        self.peak_mark
            .get()
            .wrapping_sub(freed)
            .wrapping_sub(base.bytes_allocated.wrapping_sub(base.bytes_freed)) as i64
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
        let local = self.local.replace(std::ptr::null());
        if !local.is_null() {
            // SAFETY: see `local`.
            let local = unsafe { &*local };
            session::flush(local);
            local.release();
        }
        let block = self.block.replace(std::ptr::null());
        self.set_flag(NO_BLOCK, true);
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

// The lib's test binary has `Alloc` installed (lib.rs), so allocations here go through the
// hooks and land in this thread's state.
#[cfg(test)]
mod tests {
    use std::hint::black_box;

    use super::*;

    #[test]
    fn untracked_allocations_are_not_counted_and_the_guard_nests() {
        let counted = || with(|thread| thread.own_counts().allocations);
        drop(black_box(Box::new(1u8))); // this thread has its counter block now
        let before = counted();
        untracked(|| {
            drop(black_box(vec![1u8; 10]));
            untracked(|| drop(black_box(vec![2u8; 10])));
            assert!(
                with(|thread| thread.is_busy()),
                "the inner guard restored the outer one"
            );
        });
        assert!(!with(|thread| thread.is_busy()));
        assert_eq!(counted(), before);
        drop(black_box(vec![3u8; 10]));
        assert_eq!(counted(), before + 1);
    }

    #[test]
    fn live_bytes_and_the_thread_peak_follow_allocations() {
        drop(black_box(Box::new(1u8)));
        let (live, peak) = with(|thread| (thread.live_bytes(), thread.peak_live_bytes()));
        let big = black_box(vec![0u8; 1 << 20]);
        let (grown, peaked) = with(|thread| (thread.live_bytes(), thread.peak_live_bytes()));
        assert_eq!(grown - live, 1 << 20);
        assert!(peaked >= peak.max(grown));
        drop(big);
        assert_eq!(with(|thread| thread.live_bytes()), live);
        assert_eq!(with(|thread| thread.peak_live_bytes()), peaked);
    }

    #[test]
    fn a_scope_takes_the_thread_off_the_fast_path() {
        drop(black_box(Box::new(1u8)));
        with(|thread| {
            assert!(thread.fast_block().is_some());
            thread.set_scope(42);
            assert!(thread.fast_block().is_none());
            assert_eq!(thread.scope(), 42);
            thread.set_scope(0);
            assert!(thread.fast_block().is_some());
        });
    }

    #[test]
    fn a_new_thread_gets_its_own_counters() {
        std::thread::spawn(|| {
            // std frees the spawn's own blocks here; this thread has allocated nothing yet.
            let start = with(|thread| thread.own_counts());
            assert_eq!(start.allocations, 0);
            drop(black_box(vec![1u8; 3]));
            let counts = with(|thread| thread.own_counts()).since(start);
            assert_eq!((counts.allocations, counts.bytes_allocated), (1, 3));
        })
        .join()
        .unwrap();
    }
}
