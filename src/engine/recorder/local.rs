//! Per-thread recording state ([`Local`]): the sites this thread met (a cache in front of
//! the site table's lock), and its share of the running session's per-site figures.
//!
//! A recorded allocation touches only its own thread's `Local` (and one shard of the
//! live-block table), so threads recording at the same sites do not share cache lines. The
//! session's figures are the sums over every `Local` that holds figures for it, taken when
//! the session finishes (`session.rs`).
//!
//! Who writes what: the owning thread writes everything, with relaxed stores, except the
//! live figures, which the thread that frees a block subtracts from the *allocating*
//! thread's `Local` (a relaxed `fetch_sub`; uncontended unless threads free each other's
//! blocks). So each `Local`'s live figures are never negative and its running maximum is
//! that thread's true maximum. Readers (finishing, the peak snapshot) load with relaxed
//! loads: figures read while threads still record are a consistent-enough snapshot of
//! monotonic sums.
//!
//! `Local`s live in mapped memory (never the allocator, see `memory.rs`), in a push-only
//! list like the counter blocks: a thread adopts a free one on its first recording and
//! gives it back at exit; the next thread keeps adding to its figures.

use std::sync::atomic::{AtomicBool, AtomicI64, AtomicPtr, AtomicU32, AtomicU64, Ordering};

use super::memory::{Chunks, DROPPED, Region, Zeroable};
use super::sites::{SITES, SiteId, hash};

use Ordering::Relaxed;

/// Fixed-point scale of live figures: weights (`1/p`) and weighted bytes are kept as
/// integers in units of `1/FIXED`, so a block's addition and its later subtraction cancel
/// exactly.
pub(crate) const FIXED: f64 = 65536.0;

/// `value` in fixed point.
pub(crate) fn fixed(value: f64) -> i64 {
    (value * FIXED).round() as i64
}

/// One site's figures in one thread's `Local`.
#[repr(C)]
pub(crate) struct SiteFigures {
    /// Sums of weights (`f64` bits): total bytes and blocks, lifetimes (in clock ticks
    /// times weight), and the sampled count.
    pub(crate) total_bytes: AtomicU64,
    pub(crate) total_blocks: AtomicU64,
    pub(crate) total_lifetime: AtomicU64,
    pub(crate) samples: AtomicU64,
    /// Live figures in fixed point (see [`FIXED`]); the maximum of the live bytes and the
    /// blocks at that moment.
    pub(crate) live_bytes: AtomicI64,
    pub(crate) live_blocks: AtomicI64,
    pub(crate) max_bytes: AtomicI64,
    pub(crate) max_blocks: AtomicI64,
}

// SAFETY: all fields are atomic integers.
unsafe impl Zeroable for SiteFigures {}

/// Adds to an `f64` kept as bits; only the owner writes it.
fn add_float(cell: &AtomicU64, amount: f64) {
    let value = f64::from_bits(cell.load(Relaxed)) + amount;
    cell.store(value.to_bits(), Relaxed);
}

/// Entries of a thread's site cache (direct-mapped by stack hash).
const CACHE: usize = 512;

#[repr(C)]
struct CacheEntry {
    hash: AtomicU64,
    /// Site id plus one (0: empty).
    site: AtomicU32,
}

/// One thread's recording state.
#[repr(C)]
pub(crate) struct Local {
    next: AtomicPtr<Local>,
    owned: AtomicBool,
    /// Position in the list of `Local`s, named by live blocks as their allocating thread.
    number: AtomicU32,
    /// The session whose figures `figures` holds (0: none).
    session: AtomicU32,
    /// One more than the highest site with figures for `session` (owner writes).
    high: AtomicU32,
    cache: [CacheEntry; CACHE],
    figures: Chunks<SiteFigures>,
    /// Live change (fixed-point weighted bytes and blocks) not yet published to the
    /// session's global live figure; owner only.
    pub(crate) pending_bytes: AtomicI64,
    pub(crate) pending_blocks: AtomicI64,
}

// SAFETY: atomics, an array of atomics and a `Chunks` (an array of atomic pointers).
unsafe impl Zeroable for Local {}

/// Head of the list of every `Local` ever made.
static LOCALS: AtomicPtr<Local> = AtomicPtr::new(std::ptr::null_mut());
static COUNT: AtomicU32 = AtomicU32::new(0);
/// `Local`s owned by a live thread.
static OWNED: AtomicU32 = AtomicU32::new(0);
/// Every `Local` by its number.
static BY_NUMBER: Chunks<AtomicPtr<Local>> = Chunks::new();

/// How many threads own a `Local` now (the session publishes at once while it is one).
pub(crate) fn owned_count() -> u32 {
    OWNED.load(Relaxed)
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
                OWNED.fetch_add(1, Relaxed);
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
        let number = COUNT.fetch_add(1, Relaxed);
        let Some(entry) = BY_NUMBER.get_or_map(number as usize) else {
            DROPPED.fetch_add(1, Relaxed);
            return None;
        };
        local.owned.store(true, Relaxed);
        local.number.store(number, Relaxed);
        entry.store(local as *const Local as *mut Local, Ordering::Release);
        OWNED.fetch_add(1, Relaxed);
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
    pub(crate) fn release(&self) {
        OWNED.fetch_sub(1, Relaxed);
        self.owned.store(false, Ordering::Release);
    }

    pub(crate) fn number(&self) -> u32 {
        self.number.load(Relaxed)
    }

    /// The site of `stack`: from this thread's cache, else from the site table.
    pub(crate) fn site(&self, stack: &[usize]) -> Option<SiteId> {
        let hash = hash(stack);
        let entry = &self.cache[(hash >> 7) as usize % CACHE];
        if entry.hash.load(Relaxed) == hash {
            let site = entry.site.load(Relaxed);
            if site != 0 && SITES.slot(site - 1).is_some_and(|slot| slot.holds(stack)) {
                return Some(site - 1);
            }
        }
        let site = SITES.intern(stack, hash)?;
        entry.hash.store(hash, Relaxed);
        entry.site.store(site + 1, Relaxed);
        Some(site)
    }

    /// This thread's figures of `site` for `session`, clearing the figures of an older
    /// session first; `None` if out of memory.
    pub(crate) fn figures(&self, session: u32, site: SiteId) -> Option<&SiteFigures> {
        if self.session.load(Relaxed) != session {
            for (_, figures) in self.figures.iter() {
                for cell in [
                    &figures.total_bytes,
                    &figures.total_blocks,
                    &figures.total_lifetime,
                    &figures.samples,
                ] {
                    cell.store(0, Relaxed);
                }
                for cell in [
                    &figures.live_bytes,
                    &figures.live_blocks,
                    &figures.max_bytes,
                    &figures.max_blocks,
                ] {
                    cell.store(0, Relaxed);
                }
            }
            self.pending_bytes.store(0, Relaxed);
            self.pending_blocks.store(0, Relaxed);
            self.high.store(0, Relaxed);
            self.session.store(session, Relaxed);
        }
        if site >= self.high.load(Relaxed) {
            self.high.store(site + 1, Relaxed);
        }
        let figures = self.figures.get_or_map(site as usize);
        if figures.is_none() {
            DROPPED.fetch_add(1, Relaxed);
        }
        figures
    }

    /// This `Local`'s figures of `site` if it holds figures for `session`.
    pub(crate) fn figures_of(&self, session: u32, site: SiteId) -> Option<&SiteFigures> {
        if self.session.load(Relaxed) != session {
            return None;
        }
        self.figures.get(site as usize)
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

/// The `Local` numbered `number` (the allocating thread of a live block).
pub(crate) fn by_number(number: u32) -> Option<&'static Local> {
    let local = BY_NUMBER.get(number as usize)?.load(Ordering::Acquire);
    // SAFETY: entries are leaked mappings of `Local`s, never unmapped.
    (!local.is_null()).then(|| unsafe { &*local })
}

/// Adds a sampled allocation of `size` bytes with `weight` to this thread's figures.
pub(crate) fn add_allocation(
    figures: &SiteFigures,
    size: u64,
    weight: f64,
    bytes_fixed: i64,
    weight_fixed: i64,
) {
    add_float(&figures.total_bytes, size as f64 * weight);
    add_float(&figures.total_blocks, weight);
    figures
        .samples
        .store(figures.samples.load(Relaxed) + 1, Relaxed);
    let live = figures.live_bytes.fetch_add(bytes_fixed, Relaxed) + bytes_fixed;
    let blocks = figures.live_blocks.fetch_add(weight_fixed, Relaxed) + weight_fixed;
    if live > figures.max_bytes.load(Relaxed) {
        figures.max_bytes.store(live, Relaxed);
        figures.max_blocks.store(blocks, Relaxed);
    }
}

/// Adds a freed block's lifetime (ticks times weight) to this thread's figures.
pub(crate) fn add_lifetime(figures: &SiteFigures, weighted_ticks: f64) {
    add_float(&figures.total_lifetime, weighted_ticks);
}

/// Takes a freed block's live figures off the allocating thread's figures.
pub(crate) fn remove_live(figures: &SiteFigures, bytes_fixed: i64, weight_fixed: i64) {
    figures.live_bytes.fetch_sub(bytes_fixed, Relaxed);
    figures.live_blocks.fetch_sub(weight_fixed, Relaxed);
}

/// Puts back live figures taken by [`remove_live`] (a failed realloc).
pub(crate) fn restore_live(figures: &SiteFigures, bytes_fixed: i64, weight_fixed: i64) {
    figures.live_bytes.fetch_add(bytes_fixed, Relaxed);
    figures.live_blocks.fetch_add(weight_fixed, Relaxed);
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
        assert_eq!(local.site(&stack), Some(site));
        assert_eq!(SITES.stack(site), stack);
        let figures = local.figures(7, site).unwrap();
        add_allocation(figures, 100, 2.0, fixed(200.0), fixed(2.0));
        assert_eq!(float(&figures.total_bytes), 200.0);
        remove_live(figures, fixed(200.0), fixed(2.0));
        assert_eq!(figures.live_bytes.load(Relaxed), 0);
        assert_eq!(figures.max_bytes.load(Relaxed), fixed(200.0));
        assert!(local.figures_of(7, site).is_some());
        // A new session starts from zero.
        let fresh = local.figures(8, site).unwrap();
        assert_eq!(float(&fresh.total_bytes), 0.0);
        assert!(local.figures_of(7, site).is_none());
        local.release();
        assert!(by_number(local.number()).is_some());
    }
}
