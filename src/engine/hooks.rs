//! The hooks [`crate::Alloc`] calls on every allocation, free and reallocation.
//!
//! The fast path of every hook is thread-local: the reentrancy check, owner-only counter
//! stores, the live-bytes bookkeeping, and (while profiling) the sampling countdown. Only a
//! sampled allocation, an allocation inside a budget scope, or the free of a recorded block
//! goes to the [`recorder`], which takes a lock.

use std::sync::atomic::AtomicU64;

use super::counters::{CounterBlock, add_orphan, bump, orphan_block};
use super::recorder::{self, live::maybe_recorded};
use super::scope::table::AllocationKind;
use super::thread::{self as thread_state, Counters, ThreadState};

/// Aborts the process if dropped during unwinding: nothing may unwind out of a
/// `GlobalAlloc` method. Forgotten on the normal path, so it costs nothing there.
struct AbortOnUnwind;

impl Drop for AbortOnUnwind {
    fn drop(&mut self) {
        std::process::abort();
    }
}

/// Runs a recording slow path with the reentrancy guard held and unwinding turned into an
/// abort.
#[inline(never)]
fn slow_path(thread: &ThreadState, work: impl FnOnce()) {
    let bomb = AbortOnUnwind;
    thread.set_busy(true);
    work();
    thread.set_busy(false);
    std::mem::forget(bomb);
}

/// Picks one counter out of a block.
type Field = fn(&CounterBlock) -> &AtomicU64;

/// Adds `(field, amount)` pairs to this thread's counter block (one lookup of the block).
#[inline(always)]
fn count<const N: usize>(thread: &ThreadState, additions: [(Field, u64); N]) {
    match thread.counters() {
        Counters::Own(block) => {
            for (field, amount) in additions {
                bump(field(block), amount);
            }
        }
        Counters::Orphan => {
            for (field, amount) in additions {
                add_orphan(field(orphan_block()), amount);
            }
        }
    }
}

/// True if this allocation must take the recording path: sampled, or inside a budget scope.
#[inline(always)]
fn wants_recording(thread: &ThreadState, size: usize) -> bool {
    // Evaluate the countdown first: it must move on every allocation while profiling.
    thread.countdown().due(size) | (thread.scope() != 0)
}

/// The fast path: registered, not busy, no scope open — two owner-only counter stores,
/// the live-bytes bookkeeping and the sampling countdown.
#[inline(always)]
pub(crate) fn on_alloc(pointer: *mut u8, size: usize) {
    thread_state::with(|thread| match thread.fast_block() {
        Some(block) => {
            bump(&block.allocations, 1);
            bump(&block.bytes_allocated, size as u64);
            thread.live_grew(size as i64, 1);
            if thread.countdown().due(size) {
                slow_path(thread, || {
                    recorder::on_allocation(thread, pointer, size, AllocationKind::Alloc)
                });
            }
        }
        None => on_alloc_general(thread, pointer, size),
    })
}

/// Every other case: busy (allocsite's own allocation), first allocation of the thread,
/// after thread exit, or inside a budget scope.
#[inline(never)]
fn on_alloc_general(thread: &ThreadState, pointer: *mut u8, size: usize) {
    if thread.is_busy() {
        return;
    }
    count(
        thread,
        [
            (|b| &b.allocations, 1),
            (|b| &b.bytes_allocated, size as u64),
        ],
    );
    thread.live_grew(size as i64, 1);
    if wants_recording(thread, size) {
        slow_path(thread, || {
            recorder::on_allocation(thread, pointer, size, AllocationKind::Alloc)
        });
    }
}

#[inline(always)]
pub(crate) fn on_dealloc(pointer: *mut u8, size: usize) {
    thread_state::with(|thread| match thread.fast_block() {
        Some(block) => {
            bump(&block.deallocations, 1);
            bump(&block.bytes_freed, size as u64);
            thread.live_shrank(-(size as i64), -1);
            if maybe_recorded(pointer) {
                slow_path(thread, || {
                    recorder::on_free(thread, pointer, size, AllocationKind::Alloc)
                });
            }
        }
        None => on_dealloc_general(thread, pointer, size),
    })
}

#[inline(never)]
fn on_dealloc_general(thread: &ThreadState, pointer: *mut u8, size: usize) {
    if thread.is_busy() {
        return;
    }
    count(
        thread,
        [(|b| &b.deallocations, 1), (|b| &b.bytes_freed, size as u64)],
    );
    thread.live_shrank(-(size as i64), -1);
    if maybe_recorded(pointer) || thread.scope() != 0 {
        slow_path(thread, || {
            recorder::on_free(thread, pointer, size, AllocationKind::Alloc)
        });
    }
}

/// `reallocate` performs the inner allocator's realloc. A recorded old block is settled
/// before it runs (afterwards its address may already belong to another thread). If the
/// realloc fails, the old block stays valid but unrecorded: its later free is not matched.
#[inline(always)]
pub(crate) fn on_realloc(
    pointer: *mut u8,
    old_size: usize,
    new_size: usize,
    reallocate: impl FnOnce() -> *mut u8,
) -> *mut u8 {
    thread_state::with(|thread| {
        if thread.is_busy() {
            return reallocate();
        }
        if maybe_recorded(pointer) || thread.scope() != 0 {
            slow_path(thread, || {
                recorder::on_free(thread, pointer, old_size, AllocationKind::Realloc)
            });
        }
        let new_pointer = reallocate();
        if new_pointer.is_null() {
            return new_pointer;
        }
        count(
            thread,
            [
                (|b| &b.reallocations, 1),
                (|b| &b.bytes_allocated, new_size as u64),
                (|b| &b.bytes_freed, old_size as u64),
            ],
        );
        let change = new_size as i64 - old_size as i64;
        if change >= 0 {
            thread.live_grew(change, 0);
        } else {
            thread.live_shrank(change, 0);
        }
        if wants_recording(thread, new_size) {
            slow_path(thread, || {
                recorder::on_allocation(thread, new_pointer, new_size, AllocationKind::Realloc)
            });
        }
        new_pointer
    })
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
