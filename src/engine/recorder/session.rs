//! The running profiling session: its identity and clock, the session-wide live figures
//! and their peak (DHAT's t-gmax), and, when it finishes, the per-site figures summed over
//! every thread's [`Local`].
//!
//! The global peak. Each thread adds the live change of its recorded blocks (weighted, in
//! fixed point) to the session's live figure in batches of [`PUBLISH_BYTES`], so threads do
//! not contend on one cache line and a recorded allocation makes no locked write there.
//! While only one thread records, it knows the session's live figure exactly (what it saw
//! at its last publication plus its pending change: nobody else changed it meanwhile, which
//! `local::owners` tells) and checks every change against the peak; while several do, the
//! published figure is checked batch by batch. When the figure reaches a new maximum, the
//! peak and its time are noted; the first decrease after it *seals* the peak: the sites'
//! live figures at that moment are their at-peak figures (`gb`/`gbk`). DHAT copies every
//! site's figures there (O(sites) per rise, which growing programs pay on nearly every
//! free); here sealing only advances the peak epoch ([`peak_epoch`]), and each site's
//! figures keep a copy-on-write snapshot: the first change to a site after a seal saves the
//! site's live figures as they were (`SiteFigures::before_change`), so a site's at-peak
//! figure is its snapshot if it changed since the seal and its live figure otherwise. With
//! one recording thread the peak and its figures are exact; with `n`, within about
//! `n × PUBLISH_BYTES` of the true one.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU32, AtomicU64, Ordering::Relaxed};

use super::clock::{self, Mark};
use super::live::{self, LiveBlock};
use super::local::{self, FIXED, Local, float};
use super::sites::{SITES, SiteId};
use crate::lock::SpinLock;

/// A thread publishes its live change once it exceeds this many (weighted) bytes.
pub(crate) const PUBLISH_BYTES: i64 = 64 * 1024;

/// DHAT's per-program-point figures for one site of a finished session. Sampled figures
/// are estimates, sums of per-allocation weights, rounded when written.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub(crate) struct SiteStats {
    pub(crate) total_bytes: f64,
    pub(crate) total_blocks: f64,
    /// Sum of block lifetimes, in microseconds (blocks live at the end count up to the end).
    pub(crate) total_lifetime: f64,
    pub(crate) live_bytes: f64,
    pub(crate) live_blocks: f64,
    /// This site's largest live bytes (and the blocks at that moment). With several
    /// threads, the sum of each thread's maximum: an upper bound of the site's maximum.
    pub(crate) max_bytes: f64,
    pub(crate) max_blocks: f64,
    /// Live at the moment of the global peak (t-gmax).
    pub(crate) peak_bytes: f64,
    pub(crate) peak_blocks: f64,
    /// Exact number of allocations that were sampled here.
    pub(crate) samples: u64,
}

/// One site of a finished session.
pub(crate) struct FinishedSite {
    pub(crate) stack: Box<[usize]>,
    pub(crate) stats: SiteStats,
}

/// What a finished session hands to the report writers.
pub(crate) struct FinishedSession {
    pub(crate) sample_bytes: u64,
    /// Microseconds from the start to the end, and to the global peak.
    pub(crate) end_time: u64,
    pub(crate) peak_time: u64,
    /// Allocations whose stacks were captured.
    pub(crate) samples: u64,
    /// Every site with figures.
    pub(crate) sites: Vec<FinishedSite>,
}

/// The session-wide state (one session at a time).
struct State {
    id: AtomicU32,
    sample_bytes: AtomicU64,
    live_bytes: AtomicI64,
    live_blocks: AtomicI64,
    peak_bytes: AtomicI64,
    peak_blocks: AtomicI64,
    peak_ticks: AtomicU64,
    peak_unsaved: AtomicBool,
    /// Advanced when a peak is sealed (see the module docs); never 0 while a session runs.
    peak_epoch: AtomicU32,
    /// Serialises starts, finishes and snapshots; holds the start mark.
    control: SpinLock<Option<Mark>>,
}

static STATE: State = State {
    id: AtomicU32::new(0),
    sample_bytes: AtomicU64::new(0),
    live_bytes: AtomicI64::new(0),
    live_blocks: AtomicI64::new(0),
    peak_bytes: AtomicI64::new(0),
    peak_blocks: AtomicI64::new(0),
    peak_ticks: AtomicU64::new(0),
    peak_unsaved: AtomicBool::new(false),
    peak_epoch: AtomicU32::new(1),
    control: SpinLock::new(None),
};

static NEXT_ID: AtomicU32 = AtomicU32::new(1);

/// The running session's id (0: none).
#[inline]
pub(crate) fn current() -> u32 {
    STATE.id.load(Relaxed)
}

/// Starts a session and returns its id. The caller makes the sampler use it.
pub(crate) fn start(sample_bytes: u64) -> u32 {
    clock::init();
    let mut control = STATE.control.lock();
    let id = NEXT_ID.fetch_add(1, Relaxed).max(1);
    for cell in [
        &STATE.live_bytes,
        &STATE.live_blocks,
        &STATE.peak_bytes,
        &STATE.peak_blocks,
    ] {
        cell.store(0, Relaxed);
    }
    STATE.peak_unsaved.store(false, Relaxed);
    // Snapshots of an older session (or of zeroed figures, epoch 0) never match.
    STATE.peak_epoch.fetch_add(1, Relaxed);
    STATE.sample_bytes.store(sample_bytes, Relaxed);
    *control = Some(Mark::now());
    STATE.peak_ticks.store(clock::ticks(), Relaxed);
    STATE.id.store(id, Relaxed);
    id
}

/// Adds a recorded block's live change to the session's figure (see the module docs);
/// `local` is the acting thread's state.
///
/// While this thread is the only one recording (and has been since its last publication),
/// the session's live figure is exactly what it saw then plus its pending change, so it
/// checks for a new peak with no shared write at all and publishes in batches like any
/// thread. Otherwise the peak is checked on the published figure, batch by batch.
#[inline]
pub(crate) fn publish(local: &Local, bytes_fixed: i64, weight_fixed: i64, now: u64) {
    let bytes = local.pending_bytes.load(Relaxed) + bytes_fixed;
    let blocks = local.pending_blocks.load(Relaxed) + weight_fixed;
    let owners = local::owners();
    if owners == local.alone_since.load(Relaxed) {
        let live = local.seen_bytes.load(Relaxed) + bytes;
        // `>=`: of equal peaks the latest counts, as in Valgrind's DHAT.
        if bytes_fixed > 0 && live >= STATE.peak_bytes.load(Relaxed) {
            note_peak(live, local.seen_blocks.load(Relaxed) + blocks, now);
        }
        if bytes.abs() < PUBLISH_BYTES * FIXED as i64 {
            local.pending_bytes.store(bytes, Relaxed);
            local.pending_blocks.store(blocks, Relaxed);
            return;
        }
    } else if bytes.abs() < PUBLISH_BYTES * FIXED as i64 && local::alone(owners).is_none() {
        local.pending_bytes.store(bytes, Relaxed);
        local.pending_blocks.store(blocks, Relaxed);
        return;
    }
    publish_pending(local, bytes, blocks, owners, now);
}

/// Adds `local`'s pending change (`bytes`, `blocks`) to the session's live figure; unless
/// the thread has been alone since its last publication (it then checked every increase
/// already), checks the published figure against the peak.
#[cold]
#[inline(never)]
fn publish_pending(local: &Local, bytes: i64, blocks: i64, owners: u64, now: u64) {
    let alone = owners == local.alone_since.load(Relaxed);
    local.pending_bytes.store(0, Relaxed);
    local.pending_blocks.store(0, Relaxed);
    let live = STATE.live_bytes.fetch_add(bytes, Relaxed) + bytes;
    let live_blocks = STATE.live_blocks.fetch_add(blocks, Relaxed) + blocks;
    local.seen_bytes.store(live, Relaxed);
    local.seen_blocks.store(live_blocks, Relaxed);
    local
        .alone_since
        .store(local::alone(owners).unwrap_or(0), Relaxed);
    if alone {
        return;
    }
    // The plain load first spares the locked read-modify-write while the figure stays
    // below its peak.
    if bytes > 0
        && live >= STATE.peak_bytes.load(Relaxed)
        && live >= STATE.peak_bytes.fetch_max(live, Relaxed)
    {
        note_peak(live, live_blocks, now);
    }
}

/// The epoch a site's figures compare their snapshot with (see the module docs); load it
/// before changing a site's live figures.
#[inline]
pub(crate) fn peak_epoch() -> u32 {
    STATE.peak_epoch.load(Relaxed)
}

/// Call before a recorded block's live figures decrease: the first decrease after a peak
/// seals it (the figures as they are now are the at-peak figures). Returns the epoch to
/// snapshot against.
#[inline]
pub(crate) fn before_decrease() -> u32 {
    if STATE.peak_unsaved.load(Relaxed) {
        seal_peak();
    }
    peak_epoch()
}

/// Seals the noted peak: from now on, a site's first change saves its figures as they were.
#[cold]
#[inline(never)]
fn seal_peak() {
    if STATE.peak_unsaved.swap(false, Relaxed) {
        STATE.peak_epoch.fetch_add(1, Relaxed);
    }
}

/// Publishes what `local` holds back (a thread giving its `Local` up), if it belongs to
/// the running session.
pub(crate) fn flush(local: &Local) {
    let bytes = local.pending_bytes.swap(0, Relaxed);
    let blocks = local.pending_blocks.swap(0, Relaxed);
    let session = STATE.id.load(Relaxed);
    if session != 0 && local.holds_session(session) {
        STATE.live_bytes.fetch_add(bytes, Relaxed);
        STATE.live_blocks.fetch_add(blocks, Relaxed);
    }
}

/// A new peak of the session's live figure: noted now, sealed at the first decrease (see
/// [`before_decrease`]).
#[inline(never)]
fn note_peak(bytes: i64, blocks: i64, now: u64) {
    STATE.peak_bytes.store(bytes, Relaxed);
    STATE.peak_blocks.store(blocks, Relaxed);
    STATE.peak_ticks.store(now, Relaxed);
    STATE.peak_unsaved.store(true, Relaxed);
}

/// Ends the running session: blocks still live count as live at the end and their lifetimes
/// run to the end; the records only the session needed are forgotten. `None` if no session
/// is running. Allocates (the caller holds the reentrancy guard).
pub(crate) fn finish() -> Option<FinishedSession> {
    let session = STATE.id.load(Relaxed);
    if session == 0 {
        return None;
    }
    if STATE.peak_unsaved.load(Relaxed) {
        seal_peak();
    }
    let start = STATE.control.lock().take()?;
    STATE.id.store(0, Relaxed);
    let finished = sum(session, start, true);
    live::reset_if_empty();
    Some(finished)
}

/// The running session's figures so far, as if it ended now, without ending it: what a
/// live profile (`Profiler::snapshot`, a dump) is written from. `None` if no session is
/// running. Allocates (the caller holds the reentrancy guard).
///
/// Cost: it takes no lock the recording path waits on for long — the session's control
/// lock only to copy the start mark, and each of the 64 live-block shards in turn, for one pass over
/// that shard's recorded blocks (to count their lifetimes so far). Recording threads go on
/// meanwhile; figures they add during the snapshot may or may not be in it.
pub(crate) fn snapshot() -> Option<FinishedSession> {
    let session = STATE.id.load(Relaxed);
    if session == 0 {
        return None;
    }
    if STATE.peak_unsaved.load(Relaxed) {
        seal_peak();
    }
    let start = (*STATE.control.lock())?;
    Some(sum(session, start, false))
}

/// Sums every thread's figures of `session` into per-site figures, counting the lifetimes of
/// blocks still live up to now; `ending` also forgets the records only the session needed.
fn sum(session: u32, start: Mark, ending: bool) -> FinishedSession {
    let end_ticks = clock::ticks();
    let end = Mark::now();
    let rate = clock::ticks_per_micro(start, end);
    let micros = |ticks: u64| (ticks.saturating_sub(start.ticks) as f64 / rate).round() as u64;
    let end_time = micros(end_ticks).max(1);
    let peak_time = micros(STATE.peak_ticks.load(Relaxed)).min(end_time);

    let epoch = peak_epoch();
    let mut sites: HashMap<SiteId, SiteStats> = HashMap::new();
    for local in local::all() {
        for (site, figures) in local.all_figures(session) {
            let samples = figures.samples.load(Relaxed);
            let lifetime = float(&figures.total_lifetime);
            let (live, live_blocks) = figures.live();
            if samples == 0 && lifetime == 0.0 && live == 0 {
                continue;
            }
            let stats = sites.entry(site).or_default();
            stats.total_bytes += float(&figures.total_bytes);
            stats.total_blocks += float(&figures.total_blocks);
            stats.total_lifetime += lifetime / rate;
            stats.live_bytes += live as f64 / FIXED;
            stats.live_blocks += live_blocks as f64 / FIXED;
            stats.max_bytes += figures.max_bytes.load(Relaxed) as f64 / FIXED;
            stats.max_blocks += figures.max_blocks.load(Relaxed) as f64 / FIXED;
            let (peak_bytes, peak_blocks) = figures.at_peak(epoch);
            stats.peak_bytes += peak_bytes as f64 / FIXED;
            stats.peak_blocks += peak_blocks as f64 / FIXED;
            stats.samples += samples;
        }
    }
    // Blocks still live: their lifetimes run to now.
    live::for_each_live(
        |block: &mut LiveBlock| {
            if block.session == session {
                let lifetime = end_ticks.saturating_sub(block.allocated_at) as f64 / rate;
                if let Some(stats) = sites.get_mut(&block.site) {
                    stats.total_lifetime += lifetime * block.weight;
                }
                if ending {
                    block.session = 0;
                }
            }
        },
        |block| ending && block.session == 0 && block.scope == 0,
    );
    let mut samples = 0;
    let sites = sites
        .into_iter()
        .map(|(id, stats)| {
            samples += stats.samples;
            FinishedSite {
                stack: SITES.stack(id).into_boxed_slice(),
                stats,
            }
        })
        .collect();
    FinishedSession {
        sample_bytes: STATE.sample_bytes.load(Relaxed),
        end_time,
        peak_time,
        samples,
        sites,
    }
}

/// For `fork`: takes the session's lock and keeps it.
pub(crate) fn lock_for_fork() {
    STATE.control.lock_and_hold();
}

/// Releases what [`lock_for_fork`] took.
///
/// # Safety
///
/// Only in `fork`'s parent or child handler after `lock_for_fork` on this thread.
pub(crate) unsafe fn unlock_after_fork() {
    // SAFETY: the caller's contract.
    unsafe { STATE.control.release_held() };
}

/// In a forked child: the parent's session is not the child's; forget it without writing
/// anything, so the child can start its own.
pub(crate) fn abandon_in_child() {
    STATE.id.store(0, Relaxed);
    *STATE.control.lock() = None;
}
