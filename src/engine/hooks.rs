//! The hooks [`crate::Alloc`] calls on every allocation, free and reallocation.
//!
//! The fast path of every hook is thread-local: the reentrancy check, owner-only counter
//! stores, the live-bytes bookkeeping, and (while profiling) the sampling countdown. Only a
//! sampled allocation, an allocation inside a budget scope, or the free of a recorded block
//! goes to the [`recorder`], which takes a lock.

use super::counters::{add_orphan, orphan_block};
use super::recorder::{self, live::maybe_recorded};
use super::scope::table::AllocationKind;
use super::thread::{self as thread_state, Counters, ThreadState};
use crate::capture::Origin;

/// Aborts the process if dropped during unwinding: nothing may unwind out of a
/// `GlobalAlloc` method. Forgotten on the normal path, so it costs nothing there.
struct AbortOnUnwind;

impl Drop for AbortOnUnwind {
    fn drop(&mut self) {
        std::process::abort();
    }
}

/// Runs a recording slow path with the reentrancy guard held and unwinding turned into an
/// abort. Inlined (like `recorder::on_allocation`) into the general paths, which are out of
/// line already: every frame between the program and the stack capture costs a frame walk
/// on every recorded allocation.
#[inline(always)]
fn slow_path(thread: &ThreadState, work: impl FnOnce()) {
    let bomb = AbortOnUnwind;
    thread.set_busy(true);
    work();
    thread.set_busy(false);
    std::mem::forget(bomb);
}

// Each hook is split so that its fast path makes no call but the one to the inner
// allocator (a tail call in `dealloc`): the fast path first checks, without changing
// anything, that nothing unusual is due — not busy, registered, no scope, no event mark
// passed, the block not possibly recorded — then commits its counts. Anything else goes to
// an `#[inline(never)]` general path that redoes the whole accounting. Keeping calls out of
// the fast path keeps registers and stack frames out of it too.

/// Accounts for an allocation the inner allocator made (`pointer` is not null) and returns
/// `pointer`.
#[inline(always)]
pub(crate) fn on_alloc(pointer: *mut u8, size: usize) -> *mut u8 {
    let counted = thread_state::with(|thread| match thread.fast_block() {
        Some(block) => thread.try_count_allocation(block, size),
        None => false,
    });
    if counted {
        return pointer;
    }
    on_alloc_general(pointer, size)
}

/// Every other case: busy (allocsite's own allocation), first allocation of the thread,
/// after thread exit, inside a budget scope, or an event (publication, sample) is due.
#[inline(never)]
fn on_alloc_general(pointer: *mut u8, size: usize) -> *mut u8 {
    // A recorded stack starts at this frame's caller (`__rust_alloc`): the frames below this
    // one are allocsite's and are not walked.
    let origin = Origin::here();
    thread_state::with(|thread| {
        if thread.is_busy() {
            return;
        }
        let weight = match thread.counters() {
            Counters::Own(block) => thread.count_allocation(block, size, true),
            Counters::Orphan => {
                let orphans = orphan_block();
                add_orphan(&orphans.allocations, 1);
                add_orphan(&orphans.bytes_allocated, size as u64);
                None
            }
        };
        if weight.is_some() || thread.scope() != 0 {
            slow_path(thread, || {
                recorder::on_allocation(
                    thread,
                    pointer,
                    size,
                    AllocationKind::Alloc,
                    weight,
                    origin,
                );
            });
        }
    });
    pointer
}

/// The free fast path: accounts for a free and returns true, or does nothing and returns
/// false, in which case the caller calls [`on_dealloc`] from an out-of-line function (so
/// that the fast path, free of calls, needs no stack frame). Either way the accounting
/// comes before the block goes back to the inner allocator: once it has it, another thread
/// may receive the same address, and its record must not be confused with this one.
#[inline(always)]
pub(crate) fn try_dealloc_fast(pointer: *mut u8, size: usize) -> bool {
    thread_state::with(|thread| match thread.fast_block() {
        Some(block) => thread.try_count_free(block, size, pointer),
        None => false,
    })
}

/// Every free the fast path declined.
#[inline(always)]
pub(crate) fn on_dealloc(pointer: *mut u8, size: usize) {
    thread_state::with(|thread| {
        if thread.is_busy() {
            return;
        }
        count_free(thread, size, true);
        if maybe_recorded(pointer) || thread.scope() != 0 {
            slow_path(thread, || {
                recorder::on_dealloc(thread, pointer, size);
            });
        }
    });
}

/// Counts a free in the thread's own block, or in the orphan block after the thread exited.
#[inline(always)]
fn count_free(thread: &ThreadState, size: usize, old_block: bool) {
    match thread.counters() {
        Counters::Own(block) => thread.count_free(block, size, old_block),
        Counters::Orphan => {
            let orphans = orphan_block();
            if old_block {
                add_orphan(&orphans.deallocations, 1);
            }
            add_orphan(&orphans.bytes_freed, size as u64);
        }
    }
}

/// True if a realloc of `pointer` is *plain*: on this thread nothing unusual is going on and
/// the block is certainly not recorded, so the caller may call the inner realloc directly and
/// account for it afterwards with [`after_plain_realloc`]; otherwise it calls [`on_realloc`].
#[inline(always)]
pub(crate) fn realloc_is_plain(pointer: *mut u8) -> bool {
    thread_state::with(|thread| thread.fast_block().is_some() && !maybe_recorded(pointer))
}

/// Accounts for a plain realloc that succeeded and returns `new_pointer`. Call only right
/// after [`realloc_is_plain`] returned true on this thread (and the inner realloc).
#[inline(always)]
pub(crate) fn after_plain_realloc(
    new_pointer: *mut u8,
    old_size: usize,
    new_size: usize,
) -> *mut u8 {
    let counted = thread_state::with(|thread| {
        // SAFETY: `realloc_is_plain` saw nothing unusual on this thread just before, and
        // the inner realloc in between runs no code of ours that could leave it changed (a
        // signal handler's or nested allocation restores the state it found).
        let block = unsafe { thread.fast_block_unchecked() };
        thread.try_count_reallocation(block, old_size, new_size)
    });
    if counted {
        return new_pointer;
    }
    count_reallocation(new_pointer, old_size, new_size, None)
}

/// Every realloc that is not plain; `reallocate` performs the inner allocator's realloc.
#[inline(always)]
pub(crate) fn on_realloc(
    pointer: *mut u8,
    old_size: usize,
    new_size: usize,
    reallocate: impl FnOnce() -> *mut u8,
) -> *mut u8 {
    on_realloc_general(pointer, old_size, new_size, reallocate)
}

/// A realloc that is not plain: allocsite's own, the thread's first, inside a scope, or of
/// a block that may be recorded. A recorded old block is settled before the inner realloc
/// runs (afterwards its address may already belong to another thread), and restored if
/// the realloc fails (the old block is then still the program's).
///
/// When the recorder is involved, the whole realloc runs in one slow path (the recorder is
/// entered once, with one guard and one abort-on-unwind frame); the reentrancy guard is
/// lifted around the inner realloc itself, so a signal handler's allocation there is
/// tracked as it would be outside, and no recorder lock is held across it.
#[inline(always)]
fn on_realloc_general(
    pointer: *mut u8,
    old_size: usize,
    new_size: usize,
    reallocate: impl FnOnce() -> *mut u8,
) -> *mut u8 {
    // Inlined into the frame `__rust_realloc` calls: a recorded stack starts at its caller.
    let origin = Origin::here();
    let mut reallocate = Some(reallocate);
    let recorded = thread_state::with(|thread| {
        if thread.is_busy() || !(maybe_recorded(pointer) || thread.scope() != 0) {
            return None;
        }
        let mut new_pointer = std::ptr::null_mut();
        slow_path(thread, || {
            let settlement = recorder::on_free(thread, pointer, old_size, AllocationKind::Realloc);
            if let Some(reallocate) = reallocate.take() {
                thread.set_busy(false);
                new_pointer = reallocate();
                thread.set_busy(true);
            }
            if new_pointer.is_null() {
                recorder::on_failed_realloc(thread, pointer, old_size, settlement);
                return;
            }
            let weight = count_reallocation_counts(thread, old_size, new_size);
            if weight.is_some() || thread.scope() != 0 {
                recorder::on_allocation(
                    thread,
                    new_pointer,
                    new_size,
                    AllocationKind::Realloc,
                    weight,
                    origin,
                );
            }
        });
        Some(new_pointer)
    });
    if let Some(new_pointer) = recorded {
        return new_pointer;
    }
    let Some(reallocate) = reallocate.take() else {
        return std::ptr::null_mut();
    };
    let new_pointer = reallocate();
    if new_pointer.is_null() {
        return new_pointer;
    }
    if thread_state::with(|thread| thread.is_busy()) {
        return new_pointer;
    }
    count_reallocation(new_pointer, old_size, new_size, Some(origin))
}

/// Counts a successful realloc (the old block's free and the new block); the new block's
/// weight if it is sampled.
#[inline(always)]
fn count_reallocation_counts(
    thread: &ThreadState,
    old_size: usize,
    new_size: usize,
) -> Option<f64> {
    count_free(thread, old_size, false);
    match thread.counters() {
        Counters::Own(block) => thread.count_allocation(block, new_size, false),
        Counters::Orphan => {
            let orphans = orphan_block();
            add_orphan(&orphans.reallocations, 1);
            add_orphan(&orphans.bytes_allocated, new_size as u64);
            None
        }
    }
}

/// The accounting of a successful realloc, off the fast path. A recorded stack starts at
/// `origin`, taken by the caller in the frame `__rust_realloc` called, or else at this
/// frame's caller.
#[inline(never)]
fn count_reallocation(
    new_pointer: *mut u8,
    old_size: usize,
    new_size: usize,
    origin: Option<Origin>,
) -> *mut u8 {
    let origin = origin.unwrap_or_else(Origin::here);
    thread_state::with(|thread| {
        let weight = count_reallocation_counts(thread, old_size, new_size);
        if weight.is_some() || thread.scope() != 0 {
            slow_path(thread, || {
                recorder::on_allocation(
                    thread,
                    new_pointer,
                    new_size,
                    AllocationKind::Realloc,
                    weight,
                    origin,
                );
            });
        }
    });
    new_pointer
}

// These tests run with `Alloc` installed as the test binary's global allocator (lib.rs), so
// every allocation below goes through the hooks above. Each test runs on its own thread
// (libtest), and the figures it checks are that thread's own.
#[cfg(test)]
mod tests {
    use std::alloc::{GlobalAlloc, Layout, System};
    use std::hint::black_box;

    use crate::alloc::Alloc;
    use crate::engine::stats::thread_stats;

    #[test]
    fn an_allocation_and_its_free_count_once_each() {
        let before = thread_stats().unwrap();
        drop(black_box(vec![7u8; 100]));
        let after = thread_stats().unwrap();
        assert_eq!(after.allocations - before.allocations, 1);
        assert_eq!(after.deallocations - before.deallocations, 1);
        assert_eq!(after.bytes_allocated - before.bytes_allocated, 100);
        assert_eq!(after.bytes_freed - before.bytes_freed, 100);
        assert_eq!(after.live_bytes, before.live_bytes);
    }

    #[test]
    fn a_realloc_counts_one_more_block_of_the_new_size() {
        let mut v: Vec<u8> = Vec::with_capacity(16);
        let before = thread_stats().unwrap();
        v.reserve_exact(black_box(48));
        let after = thread_stats().unwrap();
        assert_eq!(after.reallocations - before.reallocations, 1);
        assert_eq!(after.allocations, before.allocations);
        assert_eq!(after.bytes_allocated - before.bytes_allocated, 48);
        assert_eq!(after.bytes_freed - before.bytes_freed, 16);
        assert_eq!(after.live_bytes - before.live_bytes, 32);
        drop(v);
    }

    /// An inner allocator that always fails.
    struct Exhausted;

    // SAFETY: never hands out memory; `dealloc` is never reached because nothing is allocated.
    unsafe impl GlobalAlloc for Exhausted {
        unsafe fn alloc(&self, _layout: Layout) -> *mut u8 {
            std::ptr::null_mut()
        }
        unsafe fn dealloc(&self, _pointer: *mut u8, _layout: Layout) {}
        unsafe fn realloc(&self, _: *mut u8, _: Layout, _: usize) -> *mut u8 {
            std::ptr::null_mut()
        }
    }

    #[test]
    fn a_failed_allocation_or_realloc_is_returned_unchanged_and_not_counted() {
        let failing = Alloc::new(Exhausted);
        let layout = Layout::from_size_align(64, 8).unwrap();
        let block = Alloc::system();
        // SAFETY: a valid layout; the block from `System` is freed below with the same layout.
        let real = unsafe { block.alloc(layout) };
        let before = thread_stats().unwrap();
        // SAFETY: `layout` is valid and non-zero; `real` came from the system allocator with
        // `layout`, and a failed realloc leaves it valid.
        unsafe {
            assert!(failing.alloc(layout).is_null());
            assert!(failing.alloc_zeroed(layout).is_null());
            assert!(failing.realloc(real, layout, 128).is_null());
        }
        let after = thread_stats().unwrap();
        assert_eq!(after.allocations, before.allocations);
        assert_eq!(after.reallocations, before.reallocations);
        assert_eq!(after.bytes_freed, before.bytes_freed);
        // SAFETY: `real` is still the block `System` gave for `layout`.
        unsafe { block.dealloc(real, layout) };
        let _ = System;
    }
}
