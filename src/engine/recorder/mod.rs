//! The recording (slow) path: everything that happens to an allocation that is sampled by
//! the profiler or made inside a budget scope.
//!
//! One process-wide [`Recorder`] behind a `std::sync::Mutex` holds the site table
//! ([`sites`]), the running profiling session ([`session`]), the recorded blocks still live
//! ([`live`], with the counting filter that lets frees skip the lock), and the open budget
//! scopes. Only recorded allocations and the frees of recorded blocks take the lock; the
//! unsampled fast path never does. Every function here runs with the thread's reentrancy
//! guard held, so the table's own allocations pass through untracked and the lock is never
//! re-entered.

use std::sync::{Mutex, MutexGuard};
use std::time::Instant;

pub(crate) mod live;
pub(crate) mod session;
pub(crate) mod sites;

use live::{LiveBlock, LiveBlocks};
use session::{FinishedSession, Session};
use sites::{SiteId, SiteTable};

use super::sampler;
use super::scope::abort::abort_on_forbidden_allocation;
use super::scope::table::{Admission, AllocationKind, ScopeTable};
use super::thread::ThreadState;
use crate::capture;
use crate::capture::unwinder::MAX_FRAMES;

#[derive(Default)]
pub(crate) struct Recorder {
    pub(crate) sites: SiteTable,
    pub(crate) session: Option<Session>,
    live: LiveBlocks,
    pub(crate) scopes: ScopeTable,
    next_session: u32,
}

static RECORDER: Mutex<Option<Recorder>> = Mutex::new(None);

/// Locks the recorder. Call only with the reentrancy guard held. A poisoned lock is taken
/// anyway: nothing here panics halfway through an update by design, and a profiler must
/// not take the program down.
pub(crate) fn lock() -> RecorderGuard {
    let mut guard = RECORDER.lock().unwrap_or_else(|poison| poison.into_inner());
    guard.get_or_insert_with(Recorder::default);
    RecorderGuard(guard)
}

pub(crate) struct RecorderGuard(MutexGuard<'static, Option<Recorder>>);

impl std::ops::Deref for RecorderGuard {
    type Target = Recorder;
    fn deref(&self) -> &Recorder {
        self.0.as_ref().expect("initialised in lock()")
    }
}
impl std::ops::DerefMut for RecorderGuard {
    fn deref_mut(&mut self) -> &mut Recorder {
        self.0.as_mut().expect("initialised in lock()")
    }
}

impl Recorder {
    pub(crate) fn start_session(&mut self, sample_bytes: u64) -> u32 {
        self.next_session = self.next_session.wrapping_add(1).max(1);
        self.session = Some(Session::new(self.next_session, sample_bytes));
        self.next_session
    }

    /// Ends the running session: blocks still live count as live at the end and their
    /// lifetimes run to the end. Returns `None` if no session is running.
    pub(crate) fn finish_session(&mut self) -> Option<FinishedSession> {
        let mut session = self.session.take()?;
        let end_time = session.now().max(1);
        session.save_peak();
        let mut forgotten = Vec::new();
        for (&address, block) in self.live.iter_mut() {
            if block.session != session.id {
                continue;
            }
            let lifetime = end_time.saturating_sub(block.allocated_at) as f64 * block.weight;
            session.site(block.site).total_lifetime += lifetime;
            block.session = 0;
            if block.scope == 0 {
                forgotten.push(address);
            }
        }
        for address in forgotten {
            self.live.forget(address);
        }
        let stacks = session
            .sites
            .iter()
            .enumerate()
            .filter(|(_, stats)| stats.samples > 0)
            .map(|(id, _)| (id as SiteId, self.sites.stack(id as SiteId).into()))
            .collect();
        Some(FinishedSession {
            session,
            end_time,
            stacks,
        })
    }
}

/// The slow path of an allocation (or of a realloc's new block): records it with its stack
/// when it is sampled (`weight`, decided by the thread's countdown) or inside a budget scope.
pub(crate) fn on_allocation(
    thread: &ThreadState,
    address: *mut u8,
    size: usize,
    kind: AllocationKind,
    weight: Option<f64>,
) {
    let session_id = sampler::session();
    let scope = thread.scope();
    if weight.is_none() && scope == 0 {
        return;
    }
    let mut frames = [0usize; MAX_FRAMES];
    let depth = capture::capture(capture::unwinder(), &mut frames);
    // Read the clock before taking the lock, to keep the critical section short.
    let clock = weight.map(|_| Instant::now());
    let mut recorder = lock();
    let recorder = &mut *recorder;
    let site = recorder.sites.intern(&frames[..depth]);
    let mut block = LiveBlock {
        site,
        size: size as u64,
        session: 0,
        weight: 0.0,
        allocated_at: 0,
        scope: 0,
    };
    if let (Some(weight), Some(clock), Some(session)) = (weight, clock, recorder.session.as_mut()) {
        if session.id == session_id {
            let now = session.micros_at(clock);
            session.add(site, size as u64, weight, now);
            block.session = session_id;
            block.weight = weight;
            block.allocated_at = now;
        }
    }
    if scope != 0 {
        let abort = recorder
            .scopes
            .on_allocation(scope, site, size as u64, kind);
        match abort {
            Admission::Recorded => block.scope = scope,
            Admission::ScopeClosed => thread.set_scope(0),
            Admission::Forbidden => {
                abort_on_forbidden_allocation(size, &frames[..depth]);
            }
        }
    }
    if block.session != 0 || block.scope != 0 {
        recorder.live.record(address as usize, block);
    }
}

/// What [`on_free`] did to a realloc's old block, so that [`on_failed_realloc`] can undo it.
pub(crate) struct Settlement {
    /// The block's record, removed from the live table, and the lifetime it was charged.
    record: Option<(LiveBlock, u64)>,
    /// The thread's scope was charged with the free.
    scope: u64,
}

/// The slow path of a free (or of a realloc's old block).
pub(crate) fn on_free(
    thread: &ThreadState,
    address: *mut u8,
    size: usize,
    kind: AllocationKind,
) -> Settlement {
    // Read the clock before taking the lock (only a profiling session needs it).
    let clock = (sampler::session() != 0).then(Instant::now);
    let mut recorder = lock();
    let recorder = &mut *recorder;
    let mut settlement = Settlement {
        record: None,
        scope: 0,
    };
    if let Some(block) = recorder.live.forget(address as usize) {
        let mut now = 0;
        if let Some(session) = recorder.session.as_mut() {
            if block.session == session.id {
                now = clock.map_or_else(|| session.now(), |clock| session.micros_at(clock));
                session.remove(&block, now);
            }
        }
        if block.scope != 0 {
            recorder
                .scopes
                .on_recorded_block_freed(block.scope, block.size);
        }
        settlement.record = Some((block, now));
    }
    let scope = thread.scope();
    if scope != 0 {
        if recorder.scopes.on_free(scope, size as u64, kind) {
            settlement.scope = scope;
        } else {
            thread.set_scope(0);
        }
    }
    settlement
}

/// The inner allocator's realloc failed after [`on_free`] settled the old block: the old
/// block is still the program's, so its record and the scope's figures are put back.
pub(crate) fn on_failed_realloc(address: *mut u8, size: usize, settlement: Settlement) {
    let mut recorder = lock();
    let recorder = &mut *recorder;
    if let Some((block, now)) = settlement.record {
        if let Some(session) = recorder.session.as_mut() {
            if block.session == session.id {
                session.restore(&block, now);
            }
        }
        if block.scope != 0 {
            recorder
                .scopes
                .on_recorded_block_restored(block.scope, block.size);
        }
        recorder.live.record(address as usize, block);
    }
    if settlement.scope != 0 {
        recorder
            .scopes
            .on_free_undone(settlement.scope, size as u64);
    }
}
