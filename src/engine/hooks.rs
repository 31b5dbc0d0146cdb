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
