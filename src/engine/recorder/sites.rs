//! The call-site table: every distinct captured stack gets a small integer, its [`SiteId`].
//!
//! Stacks are stored as raw return addresses (innermost first) and symbolized only when a
//! report is written. The table only grows: ids stay valid for the whole process, so budget
//! scopes and profiling sessions can both refer to sites without coordinating.
//!
//! Reading is lock-free: a site's slot is written once, before its id is handed out, in a
//! [`Chunks`] array whose elements never move, so any thread holding an id can read its
//! stack. Adding a site takes the table's lock (for the hash index). Each thread keeps a
//! small cache of the sites it met (`local.rs`), so the lock is taken only the first time a
//! thread meets a stack.

use std::sync::atomic::{AtomicU32, AtomicU64, AtomicUsize, Ordering::Relaxed};

use super::memory::{Chunks, DROPPED, IntMap, Zeroable};
use crate::capture::unwinder::MAX_FRAMES;
use crate::lock::SpinLock;

pub(crate) type SiteId = u32;

/// One site: its stack and the next site with the same hash (a collision chain).
#[repr(C)]
pub(crate) struct SiteSlot {
    hash: AtomicU64,
    /// Next site with the same hash, plus one (0: none).
    next: AtomicU32,
    depth: AtomicU32,
    frames: [AtomicUsize; MAX_FRAMES],
}

// SAFETY: all fields are atomics of integers.
unsafe impl Zeroable for SiteSlot {}

impl SiteSlot {
    /// True if this slot holds exactly `stack`.
    ///
    /// Call only with a slot whose id this thread obtained from [`SiteTable::intern`] (itself
    /// or through synchronisation): the slot was then written before its id was handed out
    /// and is never written again, so its frames can be read as plain words. Compares every
    /// frame without an early exit (one OR of differences), which the compiler vectorises.
    #[inline]
    pub(crate) fn holds(&self, stack: &[usize]) -> bool {
        if self.depth.load(Relaxed) as usize != stack.len() || stack.len() > MAX_FRAMES {
            return false;
        }
        // SAFETY: `AtomicUsize` has the layout of `usize`, and the frames are immutable once
        // the slot is published (see above), so plain reads race with no write.
        let frames = unsafe {
            &*(&self.frames as *const [AtomicUsize; MAX_FRAMES]).cast::<[usize; MAX_FRAMES]>()
        };
        frames[..stack.len()]
            .iter()
            .zip(stack)
            .fold(0, |difference, (&stored, &address)| {
                difference | (stored ^ address)
            })
            == 0
    }

    /// Copies the stack into `out`; returns its depth.
    pub(crate) fn copy_to(&self, out: &mut [usize; MAX_FRAMES]) -> usize {
        let depth = (self.depth.load(Relaxed) as usize).min(MAX_FRAMES);
        for (target, slot) in out.iter_mut().zip(&self.frames).take(depth) {
            *target = slot.load(Relaxed);
        }
        depth
    }
}

/// The process's site table.
pub(crate) struct SiteTable {
    slots: Chunks<SiteSlot>,
    /// Hash → first site with that hash, plus one; and the number of sites.
    index: SpinLock<(IntMap<u32>, u32)>,
    /// Sites added so far (published after each slot is written).
    count: AtomicU32,
}

/// The one site table.
pub(crate) static SITES: SiteTable = SiteTable {
    slots: Chunks::new(),
    index: SpinLock::new((IntMap::new(), 0)),
    count: AtomicU32::new(0),
};

impl SiteTable {
    /// The id of `stack` (whose [`hash`] is `hash`), adding it on first sight; `None` when
    /// the table cannot grow (out of memory: the caller drops the record).
    pub(crate) fn intern(&self, stack: &[usize], hash: u64) -> Option<SiteId> {
        let stack = &stack[..stack.len().min(MAX_FRAMES)];
        let mut index = self.index.lock();
        let (map, count) = &mut *index;
        let first = map.get(hash).copied().unwrap_or(0);
        let mut cursor = first;
        while cursor != 0 {
            let id = cursor - 1;
            let slot = self.slot(id)?;
            if slot.holds(stack) {
                return Some(id);
            }
            cursor = slot.next.load(Relaxed);
        }
        let id = *count;
        let Some(slot) = self.slots.get_or_map(id as usize) else {
            DROPPED.fetch_add(1, Relaxed);
            return None;
        };
        slot.hash.store(hash, Relaxed);
        slot.next.store(first, Relaxed);
        slot.depth.store(stack.len() as u32, Relaxed);
        for (target, &address) in slot.frames.iter().zip(stack) {
            target.store(address, Relaxed);
        }
        if map.insert(hash, id + 1).is_err() {
            DROPPED.fetch_add(1, Relaxed);
            return None;
        }
        *count += 1;
        self.count
            .store(*count, std::sync::atomic::Ordering::Release);
        Some(id)
    }

    /// The slot of site `id` (any id this table handed out).
    #[inline]
    pub(crate) fn slot(&self, id: SiteId) -> Option<&SiteSlot> {
        self.slots.get(id as usize)
    }

    /// Number of sites so far.
    #[cfg(test)]
    pub(crate) fn count(&self) -> u32 {
        self.count.load(std::sync::atomic::Ordering::Acquire)
    }

    /// The stack of site `id`, copied out (empty for an unknown id).
    pub(crate) fn stack(&self, id: SiteId) -> Vec<usize> {
        let mut frames = [0usize; MAX_FRAMES];
        let depth = self.slot(id).map_or(0, |slot| slot.copy_to(&mut frames));
        frames[..depth].to_vec()
    }

    /// For `fork`: the child's only thread may need the lock its parent's threads held.
    pub(crate) fn lock_for_fork(&self) {
        self.index.lock_and_hold();
    }

    /// Releases what [`SiteTable::lock_for_fork`] took.
    ///
    /// # Safety
    ///
    /// Only in `fork`'s parent or child handler after `lock_for_fork` on this thread.
    pub(crate) unsafe fn unlock_after_fork(&self) {
        // SAFETY: the caller's contract.
        unsafe { self.index.release_held() };
    }
}

/// A multiplicative hash of a stack's return addresses (they are not attacker-controlled,
/// and SipHash would dominate the cost of an exact-mode allocation). Four independent lanes
/// take every fourth frame, so the multiplications do not wait for each other (one chain
/// costs a multiply's latency per frame); a final mix lets every bit of every lane reach
/// every bit of the result.
#[inline]
pub(crate) fn hash(stack: &[usize]) -> u64 {
    const K: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut lanes = [stack.len() as u64, K, K.rotate_left(16), K.rotate_left(32)];
    let mut quads = stack.chunks_exact(4);
    for quad in &mut quads {
        for (lane, &address) in lanes.iter_mut().zip(quad) {
            *lane = (*lane ^ address as u64).wrapping_mul(K);
        }
    }
    for (lane, &address) in lanes.iter_mut().zip(quads.remainder()) {
        *lane = (*lane ^ address as u64).wrapping_mul(K);
    }
    let mut state =
        lanes[0] ^ lanes[1].rotate_left(16) ^ lanes[2].rotate_left(32) ^ lanes[3].rotate_left(48);
    state ^= state >> 32;
    state = state.wrapping_mul(K);
    state ^= state >> 29;
    // Never 0: the maps reserve key 0 for empty slots.
    state | 1
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_stack_same_id_and_distinct_stacks_distinct_ids() {
        let a = SITES
            .intern(&[0x1001, 2, 3], hash(&[0x1001, 2, 3]))
            .unwrap();
        let b = SITES
            .intern(&[0x1001, 2, 4], hash(&[0x1001, 2, 4]))
            .unwrap();
        assert_ne!(a, b);
        assert_eq!(
            SITES.intern(&[0x1001, 2, 3], hash(&[0x1001, 2, 3])),
            Some(a)
        );
        assert_eq!(SITES.stack(b), [0x1001, 2, 4]);
        assert!(SITES.count() > a.max(b));
    }

    #[test]
    fn the_hash_depends_on_every_frame_and_the_depth() {
        let stack: Vec<usize> = (0..13).map(|i| 0x5555_0000 + i * 0x40).collect();
        let whole = hash(&stack);
        for i in 0..stack.len() {
            let mut changed = stack.clone();
            changed[i] ^= 0x10;
            assert_ne!(hash(&changed), whole, "frame {i}");
        }
        assert_ne!(hash(&stack[..12]), whole);
        let mut swapped = stack.clone();
        swapped.swap(0, 4);
        assert_ne!(hash(&swapped), whole, "frames of one lane in another order");
    }

    #[test]
    fn colliding_hashes_keep_their_stacks_apart() {
        // Two stacks forced onto one hash are told apart by their frames.
        let c = SITES.intern(&[0x2001, 7], 0xdead_beef).unwrap();
        let d = SITES.intern(&[0x2001, 8], 0xdead_beef).unwrap();
        assert_ne!(c, d);
        assert_eq!(SITES.intern(&[0x2001, 7], 0xdead_beef), Some(c));
        assert_eq!(SITES.intern(&[0x2001, 8], 0xdead_beef), Some(d));
    }
}
