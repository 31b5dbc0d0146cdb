//! The tracking backend (feature `track`): the hooks [`crate::Alloc`] calls, and the
//! process- and thread-wide figures built from them. `disabled.rs` has the same functions
//! for builds without the feature.
//!
//! The fast path of every hook is thread-local: the reentrancy check, owner-only counter
//! stores, the live-bytes bookkeeping, and (while profiling) the sampling countdown. Only a
//! sampled allocation, an allocation inside a budget scope, or the free of a recorded block
//! goes to [`crate::recorder`], which takes a lock.

use std::sync::atomic::Ordering::Relaxed;

use std::sync::atomic::AtomicU64;

use crate::counters::{self, CounterBlock, add_orphan, bump, orphan_block};
use crate::recorder::{self, AllocationKind};
use crate::thread_state::{self, Counters, ThreadState};
use crate::{Error, Stats, ThreadStats};

pub(crate) use crate::profiling::{finish_profiling, start_profiling};
pub(crate) use crate::scope::run as run_scope;

/// Symbolizes budget scopes' call sites (untracked), then copies them into tracked memory
/// for the caller.
pub(crate) fn resolve_call_sites(stacks: &[crate::budget::SiteStack]) -> Vec<crate::CallSite> {
    use crate::report::profile::first_user_frame;
    use crate::symbolize::{Symbolizer, TrimOptions};
    let resolved: Vec<crate::CallSite> = thread_state::untracked(|| {
        let mut symbolizer = Symbolizer::new();
        stacks
            .iter()
            .map(|site| {
                let frames = symbolizer.frames(&site.addresses, TrimOptions::default());
                let user = first_user_frame(&frames);
                crate::CallSite {
                    function: user.map_or_else(|| "[unknown]".into(), |f| f.function.clone()),
                    file: user.and_then(|f| f.file.clone()),
                    line: user.and_then(|f| f.line),
                    allocations: site.allocations,
                    bytes: site.bytes,
                    stack: frames.iter().map(|f| f.dhat_string()).collect(),
                }
            })
            .collect()
    });
    let copy = resolved.clone();
    thread_state::untracked(|| drop(resolved));
    copy
}

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

/// True if the sampling countdown ran out (or belongs to an older session).
#[inline(always)]
fn sample_due(thread: &ThreadState, size: usize) -> bool {
    let session = crate::sampler::SESSION.load(Relaxed);
    if session == 0 {
        return false;
    }
    let left = thread.bytes_until_sample.get() - size as i64;
    thread.bytes_until_sample.set(left);
    left <= 0 || thread.sample_session.get() != session
}

/// True if this allocation must take the recording path: sampled, or inside a budget scope.
#[inline(always)]
fn wants_recording(thread: &ThreadState, size: usize) -> bool {
    // Evaluate the countdown first: it must move on every allocation while profiling.
    sample_due(thread, size) | (thread.scope() != 0)
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
            if sample_due(thread, size) {
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
            if recorder::maybe_recorded(pointer) {
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
    if recorder::maybe_recorded(pointer) || thread.scope() != 0 {
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
        if recorder::maybe_recorded(pointer) || thread.scope() != 0 {
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
            live_bytes: thread.live_bytes.get(),
            peak_live_bytes: thread.peak_live_bytes.get(),
        }
    }))
}

/// Set once an allocation was seen through the hooks; afterwards checks are free.
static INSTALLED: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

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
