//! Per-thread recording state ([`Local`]): the sites this thread met (a cache in front of
//! the site table's lock, which also holds each site's figures), a scratch buffer for the
//! captured stack, and this thread's share of the running session's per-site figures.
//!
//! A recorded allocation touches only its own thread's `Local` (and one shard of the
//! live-block table), so threads recording at the same sites do not share cache lines. The
//! session's figures are the sums over every `Local` that holds figures for it, taken when
//! the session finishes (`session.rs`).
//!
//! Who writes what: the owning thread writes everything with plain relaxed load+store pairs
//! (no locked instruction), including the live figures of the blocks it allocated and frees
//! itself. A thread that frees a block another thread allocated adds it to the allocating
//! thread's `freed_elsewhere_*` figures (a relaxed `fetch_add`, the only cross-thread write,
//! uncontended unless threads free each other's blocks), so a site's live figure in a
//! `Local` is `live_* - freed_elsewhere_*`: never negative, and its running maximum (taken
//! at each of the owner's allocations) is that thread's true maximum. Readers (finishing,
//! the peak snapshot) load with relaxed loads: figures read while threads still record are a
//! consistent-enough snapshot of monotonic sums.
//!
//! `Local`s live in mapped memory (never the allocator, see `memory.rs`), in a push-only
//! list like the counter blocks: a thread adopts a free one on its first recording and
//! gives it back at exit; the next thread keeps adding to its figures.

use std::cell::UnsafeCell;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicPtr, AtomicU32, AtomicU64, Ordering};

use super::memory::{Chunks, DROPPED, Region, Zeroable};
use super::sites::{SITES, SiteId, SiteSlot, hash};
use crate::capture::unwinder::MAX_FRAMES;

use Ordering::Relaxed;

/// Fixed-point scale of live figures: weights (`1/p`) and weighted bytes are kept as
/// integers in units of `1/FIXED`, so a block's addition and its later subtraction cancel
/// exactly.
pub(crate) const FIXED: f64 = 65536.0;

/// A block's weighted bytes and weight in fixed point (see [`FIXED`]). Computed the same way
/// when the block is recorded and when it is freed, so the two cancel exactly. Weight 1
/// (every allocation recorded) takes integer arithmetic; other weights round half up (both
/// figures are positive) without a call to `round`, a library call on baseline x86_64.
#[inline]
pub(crate) fn fixed_figures(size: usize, weight: f64) -> (i64, i64) {
    if weight == 1.0 {
        return ((size as i64) << FIXED_SHIFT, 1 << FIXED_SHIFT);
    }
    (
        (size as f64 * weight * FIXED + 0.5) as i64,
        (weight * FIXED + 0.5) as i64,
    )
}

/// `FIXED` as a shift.
const FIXED_SHIFT: u32 = 16;
const _: () = assert!(FIXED == (1u64 << FIXED_SHIFT) as f64);

/// One site's figures in one thread's `Local`.
#[repr(C)]
pub(crate) struct SiteFigures {
    /// Sums of weights (`f64` bits): total bytes and blocks, lifetimes (in clock ticks
    /// times weight), and the sampled count.
    pub(crate) total_bytes: AtomicU64,
    pub(crate) total_blocks: AtomicU64,
    pub(crate) total_lifetime: AtomicU64,
    pub(crate) samples: AtomicU64,
    /// Live figures in fixed point (see [`FIXED`]) of the blocks this thread allocated,
    /// minus those it freed itself; the maximum of the live bytes, and the blocks at that
    /// moment (both net of `freed_elsewhere_*`).
    pub(crate) live_bytes: AtomicI64,
    pub(crate) live_blocks: AtomicI64,
    pub(crate) max_bytes: AtomicI64,
    pub(crate) max_blocks: AtomicI64,
    /// This thread's blocks freed by other threads (their only write here).
    pub(crate) freed_elsewhere_bytes: AtomicI64,
    pub(crate) freed_elsewhere_blocks: AtomicI64,
    /// The live figures as they were when the peak of `snapshot_epoch` was sealed, saved by
    /// the first change after it (`session.rs` explains the copy-on-write snapshot).
    snapshot_bytes: AtomicI64,
    snapshot_blocks: AtomicI64,
    snapshot_epoch: AtomicU32,
}

// SAFETY: all fields are atomic integers.
unsafe impl Zeroable for SiteFigures {}

impl SiteFigures {
    /// Call before changing this site's live figures, with `session::peak_epoch()` (or what
    /// `session::before_decrease` returned): the first change after a peak was sealed saves
    /// the figures as they were at the seal.
    #[inline]
    pub(crate) fn before_change(&self, epoch: u32) {
        if self.snapshot_epoch.load(Relaxed) != epoch {
            self.take_snapshot(epoch);
        }
    }

    #[inline(never)]
    fn take_snapshot(&self, epoch: u32) {
        let (bytes, blocks) = self.live();
        self.snapshot_bytes.store(bytes, Relaxed);
        self.snapshot_blocks.store(blocks, Relaxed);
        self.snapshot_epoch.store(epoch, Relaxed);
    }

    /// The live bytes and blocks at the last sealed peak (`epoch` = `session::peak_epoch()`).
    pub(crate) fn at_peak(&self, epoch: u32) -> (i64, i64) {
        if self.snapshot_epoch.load(Relaxed) == epoch {
            (
                self.snapshot_bytes.load(Relaxed),
                self.snapshot_blocks.load(Relaxed),
            )
        } else {
            self.live()
        }
    }
}

impl SiteFigures {
    /// The live bytes and blocks (fixed point) of this thread's blocks at this site.
    pub(crate) fn live(&self) -> (i64, i64) {
        (
            self.live_bytes.load(Relaxed) - self.freed_elsewhere_bytes.load(Relaxed),
            self.live_blocks.load(Relaxed) - self.freed_elsewhere_blocks.load(Relaxed),
        )
    }

    fn reset(&self) {
        for cell in [
            &self.total_bytes,
            &self.total_blocks,
            &self.total_lifetime,
            &self.samples,
        ] {
            cell.store(0, Relaxed);
        }
        for cell in [
            &self.live_bytes,
            &self.live_blocks,
            &self.max_bytes,
            &self.max_blocks,
            &self.freed_elsewhere_bytes,
            &self.freed_elsewhere_blocks,
            &self.snapshot_bytes,
            &self.snapshot_blocks,
        ] {
            cell.store(0, Relaxed);
        }
        self.snapshot_epoch.store(0, Relaxed);
    }
}

/// Adds to an `f64` kept as bits; only the owner writes it.
#[inline]
fn add_float(cell: &AtomicU64, amount: f64) {
    let value = f64::from_bits(cell.load(Relaxed)) + amount;
    cell.store(value.to_bits(), Relaxed);
}

/// Owner-only addition to an integer figure (a load and a store, no locked instruction).
#[inline]
fn add_owned(cell: &AtomicI64, amount: i64) {
    cell.store(cell.load(Relaxed).wrapping_add(amount), Relaxed);
}

/// Entries of a thread's site cache (direct-mapped by stack hash).
const CACHE: usize = 512;

/// An entry is empty while its hash is 0 (a stack's hash never is); the owner fills it in
/// `Local::site_slow`, and only the owner reads it.
#[repr(C)]
struct CacheEntry {
    hash: AtomicU64,
    /// Site id.
    site: AtomicU32,
    /// The site's slot in the site table (its stack, to compare; slots never move).
    slot: AtomicPtr<SiteSlot>,
    /// The owning `Local`'s figures of that site (valid for every session: figures never
    /// move; `Local::enter_session` zeroes them when a new session starts).
    figures: AtomicPtr<SiteFigures>,
}

/// A site as the recording path uses it: its id and this thread's figures of it.
#[derive(Clone, Copy)]
pub(crate) struct Site {
    pub(crate) id: SiteId,
    pub(crate) figures: &'static SiteFigures,
}

/// One thread's recording state.
#[repr(C)]
pub(crate) struct Local {
    next: AtomicPtr<Local>,
    owned: AtomicBool,
    /// This `Local`'s number (its position in the list), named by live blocks as their
    /// allocating thread.
    number: AtomicU32,
    /// The session whose figures `figures` holds (0: none).
    session: AtomicU32,
    /// One more than the highest site with figures for `session` (owner writes).
    high: AtomicU32,
    /// Live change (fixed-point weighted bytes and blocks) not yet published to the
    /// session's global live figure; owner only (a retiring thread's flush swaps them).
    pub(crate) pending_bytes: AtomicI64,
    pub(crate) pending_blocks: AtomicI64,
    /// The session's live figure as this thread's last publication left it.
    pub(crate) seen_bytes: AtomicI64,
    pub(crate) seen_blocks: AtomicI64,
    /// [`owners`] at this thread's last publication if it was then the only thread with a
    /// `Local` (0 otherwise): while `owners()` still equals it, nobody else has published
    /// since, so `seen + pending` is the session's exact live figure (`session::publish`).
    pub(crate) alone_since: AtomicU64,
    /// Where the recording path captures the stack (owner only, see [`Local::stack_buffer`]):
    /// no array to zero on every recorded allocation.
    frames: UnsafeCell<[usize; MAX_FRAMES]>,
    cache: [CacheEntry; CACHE],
    figures: Chunks<SiteFigures>,
}

// SAFETY: atomics, arrays of atomics and integers, and a `Chunks` (an array of atomic
// pointers): all valid as zeros.
unsafe impl Zeroable for Local {}

/// Head of the list of every `Local` ever made.
static LOCALS: AtomicPtr<Local> = AtomicPtr::new(std::ptr::null_mut());
static COUNT: AtomicU32 = AtomicU32::new(0);
/// `Local`s owned by a live thread (low 32 bits), and how many times a thread took or gave
/// one up (high 32 bits), so that a thread can tell whether it has been alone all along.
static OWNERS: AtomicU64 = AtomicU64::new(0);
const OWNER: u64 = 1;
const GENERATION: u64 = 1 << 32;

/// How many threads own a `Local` now, and how many times that changed (see [`alone`]).
/// Acquire: a thread that gave its `Local` up flushed its pending change before (release),
/// so whoever sees the new value publishes after that flush.
#[inline]
pub(crate) fn owners() -> u64 {
    OWNERS.load(Ordering::Acquire)
}

/// `Some(owners)` if `owners` (from [`owners`]) says one thread owns a `Local`.
#[inline]
pub(crate) fn alone(owners: u64) -> Option<u64> {
    (owners as u32 == 1).then_some(owners)
}

impl Local {
    /// Adopts a released `Local` or maps a new one; `None` if out of memory.
    pub(crate) fn adopt() -> Option<&'static Local> {
        for local in all() {
            if local
                .owned
                .compare_exchange(false, true, Ordering::Acquire, Relaxed)
                .is_ok()
            {
                OWNERS.fetch_add(GENERATION + OWNER, Ordering::AcqRel);
                return Some(local);
            }
        }
        let Some(region) = Region::new(std::mem::size_of::<Local>()) else {
            DROPPED.fetch_add(1, Relaxed);
            return None;
        };
        let local: &'static Local = {
            // SAFETY: the region is zeroed, `Local: Zeroable`, and it is leaked, so the
            // reference lives as long as the process.
            unsafe { &*region.leak().cast::<Local>() }
        };
        local.owned.store(true, Relaxed);
        local.number.store(COUNT.fetch_add(1, Relaxed), Relaxed);
        OWNERS.fetch_add(GENERATION + OWNER, Ordering::AcqRel);
        let mut head = LOCALS.load(Relaxed);
        loop {
            local.next.store(head, Relaxed);
            match LOCALS.compare_exchange_weak(
                head,
                local as *const Local as *mut Local,
                Ordering::Release,
                Relaxed,
            ) {
                Ok(_) => return Some(local),
                Err(actual) => head = actual,
            }
        }
    }

    /// Gives this `Local` back for the next new thread (its figures stay for the session).
    /// The caller publishes its pending change first (`session::flush`).
    pub(crate) fn release(&self) {
        OWNERS.fetch_add(GENERATION.wrapping_sub(OWNER), Ordering::AcqRel);
        self.owned.store(false, Ordering::Release);
    }

    /// True if this `Local` holds figures of `session`.
    pub(crate) fn holds_session(&self, session: u32) -> bool {
        self.session.load(Relaxed) == session
    }

    #[inline]
    pub(crate) fn number(&self) -> u32 {
        self.number.load(Relaxed)
    }

    /// The buffer the recording path captures stacks into.
    ///
    /// # Safety
    ///
    /// Only the thread that owns this `Local`, on its recording path (the reentrancy guard
    /// held, so never re-entered, not even by a signal handler's allocation), and only one
    /// borrow at a time.
    #[allow(clippy::mut_from_ref)]
    #[inline]
    pub(crate) unsafe fn stack_buffer(&self) -> &mut [usize; MAX_FRAMES] {
        // SAFETY: the caller's contract makes this the only access to the buffer.
        unsafe { &mut *self.frames.get() }
    }

    /// The site of `stack` with this thread's figures of it: from this thread's cache, else
    /// from the site table. `None` only when out of memory.
    #[inline(always)]
    pub(crate) fn site(&self, stack: &[usize]) -> Option<Site> {
        let hash = hash(stack);
        let entry = &self.cache[(hash >> 7) as usize % CACHE];
        if entry.hash.load(Relaxed) == hash {
            // A filled entry (its hash is not 0): its slot and figures were set by this
            // thread from a site the table handed out (so the slot is written and
            // published, and never written again) and from this `Local`'s figures; both
            // are mapped for the rest of the process.
            // SAFETY: as just said.
            let (slot, figures) =
                unsafe { (&*entry.slot.load(Relaxed), &*entry.figures.load(Relaxed)) };
            if slot.holds(stack) {
                return Some(Site {
                    id: entry.site.load(Relaxed),
                    figures,
                });
            }
        }
        self.site_slow(stack, hash, entry)
    }

    #[inline(never)]
    fn site_slow(&self, stack: &[usize], hash: u64, entry: &CacheEntry) -> Option<Site> {
        let id = SITES.intern(stack, hash)?;
        let slot = SITES.slot(id)?;
        let Some(figures) = self.figures.get_or_map(id as usize) else {
            DROPPED.fetch_add(1, Relaxed);
            return None;
        };
        // SAFETY: `Chunks` elements are never unmapped, and this `Local` is never unmapped.
        let figures: &'static SiteFigures = unsafe { &*(figures as *const SiteFigures) };
        entry.site.store(id, Relaxed);
        entry
            .slot
            .store(slot as *const SiteSlot as *mut SiteSlot, Relaxed);
        entry
            .figures
            .store(figures as *const SiteFigures as *mut SiteFigures, Relaxed);
        entry.hash.store(hash, Relaxed);
        Some(Site { id, figures })
    }

    /// Makes this `Local`'s figures those of `session` (zeroing an older session's first)
    /// and notes that `site` has figures in it. Owner only.
    #[inline]
    pub(crate) fn enter_session(&self, session: u32, site: SiteId) {
        if self.session.load(Relaxed) != session {
            self.switch_session(session);
        }
        if site >= self.high.load(Relaxed) {
            self.high.store(site + 1, Relaxed);
        }
    }

    #[cold]
    fn switch_session(&self, session: u32) {
        for (_, figures) in self.figures.iter() {
            figures.reset();
        }
        for cell in [
            &self.pending_bytes,
            &self.pending_blocks,
            &self.seen_bytes,
            &self.seen_blocks,
        ] {
            cell.store(0, Relaxed);
        }
        self.alone_since.store(0, Relaxed);
        self.high.store(0, Relaxed);
        self.session.store(session, Relaxed);
    }

    /// This thread's figures of `site` for `session` (see [`Local::enter_session`]); `None`
    /// if out of memory. Owner only.
    pub(crate) fn figures(&self, session: u32, site: SiteId) -> Option<&SiteFigures> {
        self.enter_session(session, site);
        let figures = self.figures.get_or_map(site as usize);
        if figures.is_none() {
            DROPPED.fetch_add(1, Relaxed);
        }
        figures
    }

    /// Every site this `Local` has figures of for `session`.
    pub(crate) fn all_figures(&self, session: u32) -> impl Iterator<Item = (SiteId, &SiteFigures)> {
        let high = if self.session.load(Relaxed) == session {
            self.high.load(Relaxed)
        } else {
            0
        };
        (0..high).filter_map(move |site| Some((site, self.figures.get(site as usize)?)))
    }
}

/// Every `Local` ever made (owned or not), newest first.
pub(crate) fn all() -> impl Iterator<Item = &'static Local> {
    let mut cursor = LOCALS.load(Ordering::Acquire);
    std::iter::from_fn(move || {
        if cursor.is_null() {
            return None;
        }
        // SAFETY: list entries are leaked mappings, never unmapped.
        let local = unsafe { &*cursor };
        cursor = local.next.load(Ordering::Acquire);
        Some(local)
    })
}

/// Adds a sampled allocation of `size` bytes with `weight` to its allocating thread's
/// figures (owner only).
#[inline]
pub(crate) fn add_allocation(
    figures: &SiteFigures,
    size: usize,
    weight: f64,
    bytes_fixed: i64,
    weight_fixed: i64,
    epoch: u32,
) {
    figures.before_change(epoch);
    add_float(&figures.total_bytes, to_float(size as u64) * weight);
    add_float(&figures.total_blocks, weight);
    figures
        .samples
        .store(figures.samples.load(Relaxed) + 1, Relaxed);
    let live = figures.live_bytes.load(Relaxed) + bytes_fixed;
    figures.live_bytes.store(live, Relaxed);
    let blocks = figures.live_blocks.load(Relaxed) + weight_fixed;
    figures.live_blocks.store(blocks, Relaxed);
    let live = live - figures.freed_elsewhere_bytes.load(Relaxed);
    if live > figures.max_bytes.load(Relaxed) {
        figures.max_bytes.store(live, Relaxed);
        figures.max_blocks.store(
            blocks - figures.freed_elsewhere_blocks.load(Relaxed),
            Relaxed,
        );
    }
}

/// Takes a freed block's live figures off its allocating thread's figures (`direction` -1),
/// or puts them back (1: a failed realloc). `by_owner`: the acting thread is the one that
/// allocated the block (owner-only stores); otherwise the change goes to the
/// `freed_elsewhere_*` figures with atomic adds.
#[inline]
pub(crate) fn change_live(
    figures: &SiteFigures,
    by_owner: bool,
    bytes_fixed: i64,
    weight_fixed: i64,
    direction: i64,
    epoch: u32,
) {
    figures.before_change(epoch);
    if by_owner {
        add_owned(&figures.live_bytes, direction * bytes_fixed);
        add_owned(&figures.live_blocks, direction * weight_fixed);
    } else {
        figures
            .freed_elsewhere_bytes
            .fetch_sub(direction * bytes_fixed, Relaxed);
        figures
            .freed_elsewhere_blocks
            .fetch_sub(direction * weight_fixed, Relaxed);
    }
}

/// Adds a freed block's lifetime (ticks times weight) to the acting thread's figures.
#[inline]
pub(crate) fn add_lifetime(figures: &SiteFigures, weighted_ticks: f64) {
    add_float(&figures.total_lifetime, weighted_ticks);
}

/// `value` as an `f64`, through `i64`: one instruction on x86_64 where `u64` takes five.
/// Sizes (at most `isize::MAX`) and tick differences (centuries before they reach 2^63)
/// are in range; anything larger saturates instead of turning negative.
#[inline]
pub(crate) fn to_float(value: u64) -> f64 {
    value.min(i64::MAX as u64) as i64 as f64
}

/// Reads an `f64` kept as bits.
pub(crate) fn float(cell: &AtomicU64) -> f64 {
    f64::from_bits(cell.load(Relaxed))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_local_caches_sites_and_keeps_figures_per_session() {
        let local = Local::adopt().unwrap();
        let stack = [0x3001, 0x3002, 0x3003];
        let site = local.site(&stack).unwrap();
        let again = local.site(&stack).unwrap();
        assert_eq!(again.id, site.id);
        assert!(std::ptr::eq(again.figures, site.figures));
        assert_eq!(SITES.stack(site.id), stack);
        let figures = local.figures(7, site.id).unwrap();
        assert!(std::ptr::eq(figures, site.figures));
        let (bytes, weight) = fixed_figures(100, 2.0);
        assert_eq!((bytes, weight), (200 << 16, 2 << 16));
        add_allocation(figures, 100, 2.0, bytes, weight, 1);
        assert_eq!(float(&figures.total_bytes), 200.0);
        change_live(figures, true, bytes, weight, -1, 1);
        assert_eq!(figures.live(), (0, 0));
        assert_eq!(figures.max_bytes.load(Relaxed), bytes);
        assert!(local.all_figures(7).any(|(id, _)| id == site.id));
        // A new session starts from zero.
        let fresh = local.figures(8, site.id).unwrap();
        assert_eq!(float(&fresh.total_bytes), 0.0);
        assert_eq!(local.all_figures(7).count(), 0);
        local.release();
    }

    #[test]
    fn blocks_freed_by_another_thread_leave_the_owners_figures_exact() {
        let local = Local::adopt().unwrap();
        let site = local.site(&[0x3101, 0x3102]).unwrap();
        let figures = local.figures(9, site.id).unwrap();
        let (a, one) = fixed_figures(64, 1.0);
        add_allocation(figures, 64, 1.0, a, one, 1);
        add_allocation(figures, 64, 1.0, a, one, 1);
        // Another thread frees one, the owner the other: both come off the live figure.
        change_live(figures, false, a, one, -1, 1);
        assert_eq!(figures.live(), (a, one));
        add_allocation(figures, 64, 1.0, a, one, 1);
        assert_eq!(
            figures.max_bytes.load(Relaxed),
            2 * a,
            "max is net of remote frees"
        );
        change_live(figures, true, a, one, -1, 1);
        // A failed realloc puts a remote free back.
        change_live(figures, false, a, one, 1, 1);
        assert_eq!(figures.live(), (2 * a, 2 * one));
        local.release();
    }

    #[test]
    fn a_site_s_figures_at_the_peak_are_saved_by_its_first_change_after_the_seal() {
        let local = Local::adopt().unwrap();
        let site = local.site(&[0x3201, 0x3202]).unwrap();
        let figures = local.figures(10, site.id).unwrap();
        let (a, one) = fixed_figures(100, 1.0);
        add_allocation(figures, 100, 1.0, a, one, 5);
        add_allocation(figures, 100, 1.0, a, one, 5);
        // Unchanged since the peak of epoch 5 was sealed (epoch 6): its live figures.
        assert_eq!(figures.at_peak(6), (2 * a, 2 * one));
        // Changed after it: the figures as they were at the seal.
        change_live(figures, true, a, one, -1, 6);
        add_allocation(figures, 100, 1.0, a, one, 6);
        add_allocation(figures, 100, 1.0, a, one, 6);
        assert_eq!(figures.at_peak(6), (2 * a, 2 * one));
        assert_eq!(figures.live(), (3 * a, 3 * one));
        local.release();
    }
}
