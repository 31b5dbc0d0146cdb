//! The recording (slow) path: everything that happens to an allocation that is sampled by
//! the profiler or made inside a budget scope.
//!
//! One process-wide [`Recorder`] behind a `std::sync::Mutex` holds the site table, the
//! running profiling session, the recorded blocks still live, and the open budget scopes.
//! Only recorded allocations and the frees of recorded blocks take the lock; the unsampled
//! fast path never does. Every function here runs with the thread's reentrancy guard held,
//! so the table's own allocations pass through untracked and the lock is never re-entered.
//!
//! **Was this block recorded?** A free must answer that without taking the lock. The
//! recorder keeps a counting filter: 65,536 one-byte atomic counters indexed by a hash of the
//! address, incremented when a block is recorded and decremented when it is freed. A free
//! whose counter is zero was certainly not recorded (one relaxed load of a line that is
//! almost never written); a non-zero counter sends it to the locked table, which decides.
//! With no recorded block live at all, even that load is skipped.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU8, AtomicU64, Ordering::Relaxed};
use std::sync::{Mutex, MutexGuard};
use std::time::Instant;

use crate::scope::ScopeTable;
use crate::sites::{AddressHasher, SiteId, SiteStats, SiteTable};
use crate::stack;
use crate::thread_state::ThreadState;

const FILTER_SLOTS: usize = 1 << 16;
/// One byte per slot (64 KiB, so frees find it in L2). A slot that reaches 255 stays there:
/// it only costs lookups in the table, never a missed record.
static FILTER: [AtomicU8; FILTER_SLOTS] = [const { AtomicU8::new(0) }; FILTER_SLOTS];
const SATURATED: u8 = u8::MAX;
/// Set when a slot saturated; the filter is wiped the next time no recorded block is live.
static ANY_SATURATED: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);
/// Number of recorded blocks currently live.
static RECORDED_LIVE: AtomicU64 = AtomicU64::new(0);

fn filter_slot(address: usize) -> &'static AtomicU8 {
    let hash = ((address as u64) >> 4).wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 48;
    &FILTER[hash as usize]
}

/// True if the block at `address` may have been recorded. A recorded block's increments
/// were made before its allocation returned, and the pointer reached the freeing thread
/// through some synchronisation, so a relaxed load here already sees them.
#[inline(always)]
pub(crate) fn maybe_recorded(address: *mut u8) -> bool {
    RECORDED_LIVE.load(Relaxed) != 0 && filter_slot(address as usize).load(Relaxed) != 0
}

/// One recorded live block.
#[derive(Clone, Copy)]
struct LiveBlock {
    site: SiteId,
    size: u64,
    /// Profiling session the block was sampled in (0: not sampled) and its weight there.
    session: u32,
    weight: f64,
    allocated_at: u64,
    /// Budget scope that allocated it (0: none).
    scope: u64,
}

/// A running profiling session's figures.
pub(crate) struct Session {
    pub(crate) id: u32,
    pub(crate) started: Instant,
    pub(crate) sample_bytes: u64,
    pub(crate) sites: Vec<SiteStats>,
    live_bytes: f64,
    live_blocks: f64,
    pub(crate) peak_bytes: f64,
    pub(crate) peak_blocks: f64,
    pub(crate) peak_time: u64,
    /// The peak rose since the sites' at-peak figures were last copied.
    peak_unsaved: bool,
    pub(crate) samples: u64,
}

impl Session {
    pub(crate) fn new(id: u32, sample_bytes: u64) -> Self {
        Session {
            id,
            started: Instant::now(),
            sample_bytes,
            sites: Vec::new(),
            live_bytes: 0.0,
            live_blocks: 0.0,
            peak_bytes: 0.0,
            peak_blocks: 0.0,
            peak_time: 0,
            peak_unsaved: false,
            samples: 0,
        }
    }

    /// Microseconds since the session started (DHAT's time unit for Rust programs).
    pub(crate) fn now(&self) -> u64 {
        self.micros_at(Instant::now())
    }

    /// Microseconds from the session's start to `instant` (0 if it is earlier).
    fn micros_at(&self, instant: Instant) -> u64 {
        instant.saturating_duration_since(self.started).as_micros() as u64
    }

    fn site(&mut self, site: SiteId) -> &mut SiteStats {
        let index = site as usize;
        if index >= self.sites.len() {
            self.sites.resize(index + 1, SiteStats::default());
        }
        &mut self.sites[index]
    }

    fn add(&mut self, site: SiteId, size: u64, weight: f64, now: u64) {
        let bytes = size as f64 * weight;
        let stats = self.site(site);
        stats.samples += 1;
        stats.total_bytes += bytes;
        stats.total_blocks += weight;
        stats.live_bytes += bytes;
        stats.live_blocks += weight;
        if stats.live_bytes > stats.max_bytes {
            stats.max_bytes = stats.live_bytes;
            stats.max_blocks = stats.live_blocks;
        }
        self.samples += 1;
        self.live_bytes += bytes;
        self.live_blocks += weight;
        // `>=`: of equal peaks the latest counts, as in Valgrind's DHAT.
        if self.live_bytes >= self.peak_bytes {
            self.peak_bytes = self.live_bytes;
            self.peak_blocks = self.live_blocks;
            self.peak_time = now;
            self.peak_unsaved = true;
        }
    }

    fn remove(&mut self, block: &LiveBlock, now: u64) {
        self.save_peak();
        let bytes = block.size as f64 * block.weight;
        let lifetime = now.saturating_sub(block.allocated_at) as f64 * block.weight;
        let stats = self.site(block.site);
        stats.live_bytes -= bytes;
        stats.live_blocks -= block.weight;
        stats.total_lifetime += lifetime;
        self.live_bytes -= bytes;
        self.live_blocks -= block.weight;
    }

    /// Copies every site's live figures into its at-peak figures if the peak moved. Done
    /// lazily, before the first decrease after a rise, as DHAT does: O(sites) per peak.
    pub(crate) fn save_peak(&mut self) {
        if self.peak_unsaved {
            for stats in &mut self.sites {
                stats.peak_bytes = stats.live_bytes;
                stats.peak_blocks = stats.live_blocks;
            }
            self.peak_unsaved = false;
        }
    }
}

/// What a finished session hands to the report writers.
pub(crate) struct FinishedSession {
    pub(crate) session: Session,
    pub(crate) end_time: u64,
    /// The captured stack of every site that has figures, by site id.
    pub(crate) stacks: Vec<(SiteId, Box<[usize]>)>,
}

#[derive(Default)]
pub(crate) struct Recorder {
    pub(crate) sites: SiteTable,
    pub(crate) session: Option<Session>,
    live: HashMap<usize, LiveBlock, std::hash::BuildHasherDefault<AddressHasher>>,
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

/// What kind of event a recorded allocation is, for budget scopes' counts.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum AllocationKind {
    Alloc,
    Realloc,
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
            self.forget(address);
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

    fn forget(&mut self, address: usize) -> Option<LiveBlock> {
        let block = self.live.remove(&address)?;
        // Only the recorder (under its lock) changes the filter, so load-then-store is exact.
        let slot = filter_slot(address);
        let count = slot.load(Relaxed);
        if count != SATURATED {
            slot.store(count - 1, Relaxed);
        }
        if RECORDED_LIVE.fetch_sub(1, Relaxed) == 1 && ANY_SATURATED.swap(false, Relaxed) {
            // Nothing recorded is live: saturated slots can start from zero again.
            for slot in &FILTER {
                slot.store(0, Relaxed);
            }
        }
        Some(block)
    }

    fn record(&mut self, address: usize, block: LiveBlock) {
        // An existing entry would be a block whose free we never saw; replacing it keeps
        // the filter balanced (one count per address in the table).
        if self.live.insert(address, block).is_none() {
            let slot = filter_slot(address);
            let count = slot.load(Relaxed);
            if count != SATURATED {
                slot.store(count + 1, Relaxed);
            } else {
                ANY_SATURATED.store(true, Relaxed);
            }
            RECORDED_LIVE.fetch_add(1, Relaxed);
        }
    }
}

/// The slow path of an allocation (or of a realloc's new block): decides whether it is
/// sampled, and records it with its stack if it is sampled or inside a budget scope.
/// Returns without the lock when neither applies.
pub(crate) fn on_allocation(
    thread: &ThreadState,
    address: *mut u8,
    size: usize,
    kind: AllocationKind,
) {
    let session_id = crate::sampler::SESSION.load(Relaxed);
    let weight = crate::sampler::decide(thread, size, session_id);
    let scope = thread.scope();
    if weight.is_none() && scope == 0 {
        return;
    }
    let mut frames = [0usize; stack::MAX_FRAMES];
    let depth = stack::capture(stack::unwinder(), &mut frames);
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
            crate::scope::Admission::Recorded => block.scope = scope,
            crate::scope::Admission::ScopeClosed => thread.set_scope(0),
            crate::scope::Admission::Forbidden => {
                crate::scope::abort_on_forbidden_allocation(size, &frames[..depth]);
            }
        }
    }
    if block.session != 0 || block.scope != 0 {
        recorder.record(address as usize, block);
    }
}

/// The slow path of a free (or of a realloc's old block).
pub(crate) fn on_free(thread: &ThreadState, address: *mut u8, size: usize, kind: AllocationKind) {
    // Read the clock before taking the lock (only a profiling session needs it).
    let clock = (crate::sampler::SESSION.load(Relaxed) != 0).then(Instant::now);
    let mut recorder = lock();
    let recorder = &mut *recorder;
    if let Some(block) = recorder.forget(address as usize) {
        if let Some(session) = recorder.session.as_mut() {
            if block.session == session.id {
                let now = clock.map_or_else(|| session.now(), |clock| session.micros_at(clock));
                session.remove(&block, now);
            }
        }
        if block.scope != 0 {
            recorder
                .scopes
                .on_recorded_block_freed(block.scope, block.size);
        }
    }
    let scope = thread.scope();
    if scope != 0 && !recorder.scopes.on_free(scope, size as u64, kind) {
        thread.set_scope(0);
    }
}
