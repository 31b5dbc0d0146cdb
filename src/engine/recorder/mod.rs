//! The recording (slow) path: what happens to an allocation that is sampled by the
//! profiler or made inside a budget scope, and to the free of such a block.
//!
//! The recorder's state is spread so that threads recording at once rarely meet:
//! - [`sites`]: the site table (stack → id), lock-free to read, locked to add; each thread
//!   caches the sites it met in its [`local`] state;
//! - [`local`]: each thread's share of the running session's per-site figures;
//! - [`live`]: the recorded blocks still live, in 64 locked shards, with the counting
//!   filter that lets frees skip them;
//! - [`session`]: the session's identity, clock, global live figure and peak;
//! - the open budget scopes (`engine/scope/table.rs`), behind their own lock.
//!
//! No lock is held while another is taken (except the shards, all at once, when the tables
//! are found empty), and nothing here asks an allocator for memory: the tables are mapped
//! ([`memory`]). So a signal handler that allocates cannot deadlock on a recorder lock
//! against an allocator lock, and everything here runs with the thread's reentrancy guard
//! held (allocsite's own allocations, elsewhere, pass straight through).

pub(crate) mod clock;
pub(crate) mod live;
pub(crate) mod local;
pub(crate) mod memory;
pub(crate) mod session;
pub(crate) mod sites;

use live::LiveBlock;
use local::fixed_figures;

use super::scope::abort::abort_on_forbidden_allocation;
use super::scope::table::{Admission, AllocationKind, SCOPES};
use super::thread::ThreadState;
use crate::capture;
use crate::capture::unwinder::MAX_FRAMES;

/// The slow path of an allocation (or of a realloc's new block): records it with its stack
/// when it is sampled (`weight`, decided by the thread's countdown) or inside a budget scope.
/// The stack starts at `origin`, which the hook took in the frame the allocator's entry
/// point called (see [`capture::capture_from`]).
#[inline(always)]
pub(crate) fn on_allocation(
    thread: &ThreadState,
    address: *mut u8,
    size: usize,
    kind: AllocationKind,
    weight: Option<f64>,
    origin: capture::Origin,
) {
    let scope = thread.scope();
    let session = session::current();
    let sampled = weight.filter(|_| session != 0);
    if sampled.is_none() && scope == 0 {
        return;
    }
    let Some(local) = thread.local() else {
        // Out of memory (or after the thread retired its state): no stack is kept, but a
        // scope still counts the allocation.
        if scope != 0 {
            let mut frames = [0usize; MAX_FRAMES];
            let depth = capture::capture_from(capture::unwinder(), origin, &mut frames);
            admit(thread, scope, 0, size, kind, &frames[..depth]);
        }
        return;
    };
    // SAFETY: this thread owns `local` and runs its recording path (busy); the buffer is
    // borrowed only here, until this function returns.
    let frames = unsafe { local.stack_buffer() };
    let depth = capture::capture_from(capture::unwinder(), origin, frames);
    let stack = &frames[..depth];
    let Some(site) = local.site(stack) else {
        if scope != 0 {
            admit(thread, scope, 0, size, kind, stack);
        }
        return;
    };
    let mut block = LiveBlock {
        site: site.id,
        owner: 0,
        session: 0,
        scope: 0,
        weight: 0.0,
        allocated_at: 0,
        figures: 0,
    };
    if let Some(weight) = sampled {
        local.enter_session(session, site.id);
        let (bytes_fixed, weight_fixed) = fixed_figures(size, weight);
        let now = clock::ticks();
        local::add_allocation(
            site.figures,
            size,
            weight,
            bytes_fixed,
            weight_fixed,
            session::peak_epoch(),
        );
        session::publish(local, bytes_fixed, weight_fixed, now);
        block.owner = local.number();
        block.session = session;
        block.weight = weight;
        block.allocated_at = now;
        block.figures = site.figures as *const local::SiteFigures as usize;
    }
    if scope != 0 && admit(thread, scope, site.id, size, kind, stack) {
        block.scope = scope;
    }
    if block.session != 0 || block.scope != 0 {
        live::record(address as usize, block);
    }
}

/// Offers an allocation to the thread's scope; true if the scope recorded it.
fn admit(
    thread: &ThreadState,
    scope: u64,
    site: sites::SiteId,
    size: usize,
    kind: AllocationKind,
    stack: &[usize],
) -> bool {
    let admission = SCOPES.lock().on_allocation(scope, site, size as u64, kind);
    match admission {
        Admission::Recorded => true,
        Admission::ScopeClosed => {
            thread.set_scope(0);
            false
        }
        Admission::Forbidden => abort_on_forbidden_allocation(size, stack),
    }
}

/// What [`on_free`] did to a realloc's old block, so that [`on_failed_realloc`] can undo it.
pub(crate) struct Settlement {
    /// The block's record, removed from the live table, and the lifetime charged to the
    /// session figures (in ticks times weight).
    record: Option<(LiveBlock, f64)>,
    /// The thread's scope was charged with the free.
    scope: u64,
}

/// The slow path of a free of `size` bytes (a realloc's old block goes to [`on_free`]).
/// The same work with no settlement to hand back, so none is written.
#[inline(always)]
pub(crate) fn on_dealloc(thread: &ThreadState, address: *mut u8, size: usize) {
    on_free(thread, address, size, AllocationKind::Alloc);
}

/// The slow path of a free (or of a realloc's old block) of `size` bytes.
#[inline(always)]
pub(crate) fn on_free(
    thread: &ThreadState,
    address: *mut u8,
    size: usize,
    kind: AllocationKind,
) -> Settlement {
    let mut settlement = Settlement {
        record: None,
        scope: 0,
    };
    if let Some(block) = live::forget(address as usize) {
        let mut lifetime = 0.0;
        if block.session != 0 && block.session == session::current() {
            let now = clock::ticks();
            lifetime = local::to_float(now.saturating_sub(block.allocated_at)) * block.weight;
            settle_session_block(thread, &block, size, -1, lifetime, now);
        }
        if block.scope != 0 {
            SCOPES
                .lock()
                .on_recorded_block_freed(block.scope, size as u64);
        }
        settlement.record = Some((block, lifetime));
    }
    let scope = thread.scope();
    if scope != 0 {
        if SCOPES.lock().on_free(scope, size as u64, kind) {
            settlement.scope = scope;
        } else {
            thread.set_scope(0);
        }
    }
    settlement
}

/// Takes a freed session block of `size` bytes off its allocating thread's live figures and
/// charges its lifetime to the freeing thread (`direction` -1), or undoes that
/// (`direction` 1).
#[inline(always)]
fn settle_session_block(
    thread: &ThreadState,
    block: &LiveBlock,
    size: usize,
    direction: i64,
    lifetime: f64,
    now: u64,
) {
    let (bytes_fixed, weight_fixed) = fixed_figures(size, block.weight);
    // SAFETY: `figures` was set from a `&'static SiteFigures` of the running session (the
    // caller checked `block.session`); figures are never unmapped.
    let owners = unsafe { &*(block.figures as *const local::SiteFigures) };
    let acting = thread.local();
    let by_owner = acting.is_some_and(|acting| acting.number() == block.owner);
    let epoch = if direction < 0 {
        session::before_decrease()
    } else {
        session::peak_epoch()
    };
    local::change_live(
        owners,
        by_owner,
        bytes_fixed,
        weight_fixed,
        direction,
        epoch,
    );
    let Some(acting) = acting else {
        return;
    };
    let charged = if by_owner {
        Some(owners)
    } else {
        acting.figures(block.session, block.site)
    };
    if let Some(figures) = charged {
        local::add_lifetime(figures, -(direction as f64) * lifetime);
    }
    session::publish(
        acting,
        direction * bytes_fixed,
        direction * weight_fixed,
        now,
    );
}

/// The inner allocator's realloc failed after [`on_free`] settled the old block: the old
/// block is still the program's, so its record and the scope's figures are put back.
pub(crate) fn on_failed_realloc(
    thread: &ThreadState,
    address: *mut u8,
    size: usize,
    settlement: Settlement,
) {
    if let Some((block, lifetime)) = settlement.record {
        if block.session != 0 && block.session == session::current() {
            settle_session_block(thread, &block, size, 1, lifetime, clock::ticks());
        }
        if block.scope != 0 {
            SCOPES
                .lock()
                .on_recorded_block_restored(block.scope, size as u64);
        }
        live::record(address as usize, block);
    }
    if settlement.scope != 0 {
        SCOPES.lock().on_free_undone(settlement.scope, size as u64);
    }
}
