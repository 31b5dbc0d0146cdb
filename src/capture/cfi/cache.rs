//! The rule cache: return address → [`Rule`], shared by every thread, without a lock.
//!
//! A direct-mapped table of [`SLOTS`] slots in static memory (`.bss`: pages are touched only
//! as slots are filled). Each slot is a sequence lock over two words (the address and the
//! packed rule): a reader takes a consistent pair or sees a miss, never a torn one; a writer
//! that finds the slot being written by another thread gives up (the rule is computed again
//! next time). A new address evicts the old one. Nothing here allocates, blocks or waits.
//!
//! Slots carry the *epoch* their rule was computed in; [`flush`] (called when a library is
//! unloaded: its addresses may be reused by the next one loaded) starts a new epoch, which
//! turns every older rule into a miss. (The epoch is 32 bits: it would take four billion
//! `dlclose` calls to bring an old rule back.)

use core::sync::atomic::{AtomicU32, AtomicU64, AtomicUsize, Ordering, fence};

use super::rule::{Packed, Rule};

/// Slots in the process's table: distinct return addresses it holds at once, if they hash
/// apart.
pub(super) const SLOTS: usize = 1 << 14;

/// The process's rule cache.
pub(super) static CACHE: Cache<SLOTS> = Cache::new();

/// The current epoch (see the module docs).
static EPOCH: AtomicU32 = AtomicU32::new(0);

/// The epoch to tag and check rules with during one capture.
#[inline(always)]
pub(super) fn epoch() -> u32 {
    EPOCH.load(Ordering::Acquire)
}

/// Makes every cached rule a miss.
pub(super) fn flush() {
    EPOCH.fetch_add(1, Ordering::AcqRel);
}

/// A direct-mapped table of `N` slots (`N` a power of two).
pub(super) struct Cache<const N: usize> {
    slots: [Slot; N],
}

#[repr(C, align(32))]
struct Slot {
    /// Odd while a writer is filling the slot.
    sequence: AtomicU32,
    epoch: AtomicU32,
    address: AtomicUsize,
    rule: AtomicU64,
}

impl<const N: usize> Cache<N> {
    pub(super) const fn new() -> Self {
        assert!(N.is_power_of_two());
        Cache {
            slots: [const {
                Slot {
                    sequence: AtomicU32::new(0),
                    epoch: AtomicU32::new(0),
                    address: AtomicUsize::new(0),
                    rule: AtomicU64::new(0),
                }
            }; N],
        }
    }

    #[inline(always)]
    fn slot(&self, address: usize) -> &Slot {
        // Fibonacci hashing: return addresses differ mostly in their low bits.
        let hash =
            (address as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15) >> (64 - N.trailing_zeros());
        &self.slots[hash as usize & (N - 1)]
    }

    /// The cached rule for `address`, if there is one from `epoch`.
    #[inline(always)]
    pub(super) fn get(&self, address: usize, epoch: u32) -> Option<Packed> {
        let slot = self.slot(address);
        let before = slot.sequence.load(Ordering::Acquire);
        let cached = slot.address.load(Ordering::Relaxed);
        let cached_epoch = slot.epoch.load(Ordering::Relaxed);
        let word = slot.rule.load(Ordering::Relaxed);
        // Orders the loads above before the check below (the reader half of a seqlock).
        fence(Ordering::Acquire);
        let after = slot.sequence.load(Ordering::Relaxed);
        // An empty slot has rule 0, which is no rule.
        (before == after
            && before & 1 == 0
            && cached == address
            && cached_epoch == epoch
            && word != 0)
            .then_some(Packed(word))
    }

    /// Caches `rule` for `address`, unless another thread is writing the same slot.
    pub(super) fn put(&self, address: usize, rule: Rule, epoch: u32) {
        let slot = self.slot(address);
        let sequence = slot.sequence.load(Ordering::Relaxed);
        if sequence & 1 != 0
            || slot
                .sequence
                .compare_exchange(
                    sequence,
                    sequence.wrapping_add(1),
                    Ordering::Relaxed,
                    Ordering::Relaxed,
                )
                .is_err()
        {
            return;
        }
        // Readers that see either word below also see the odd sequence number (the writer
        // half of a seqlock).
        fence(Ordering::Release);
        slot.address.store(address, Ordering::Relaxed);
        slot.epoch.store(epoch, Ordering::Relaxed);
        slot.rule.store(rule.pack().0, Ordering::Relaxed);
        slot.sequence
            .store(sequence.wrapping_add(2), Ordering::Release);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::capture::cfi::rule::Base;

    const A: usize = 0x7000_0000_0010;

    #[test]
    fn put_then_get_and_eviction() {
        let cache = Cache::<64>::new();
        let get = |a, e| cache.get(a, e).map(Rule::unpack);
        let put = |a, r, e| cache.put(a, r, e);
        let epoch = 7;
        let rule = Rule::Step {
            base: Base::Rsp,
            cfa_offset: 24,
            saved_rbp: Some(-16),
        };
        assert_eq!(get(A, epoch), None);
        put(A, rule, epoch);
        assert_eq!(get(A, epoch), Some(rule));
        // Another address in the same slot evicts it.
        let other = (1..)
            .map(|i| A + i)
            .find(|&b| core::ptr::eq(cache.slot(b), cache.slot(A)))
            .unwrap();
        put(other, Rule::Outermost, epoch);
        assert_eq!(get(A, epoch), None);
        assert_eq!(get(other, epoch), Some(Rule::Outermost));
        // A rule from an older epoch is a miss.
        assert_eq!(get(other, epoch.wrapping_add(1)), None);
    }

    #[test]
    fn readers_never_see_a_torn_pair() {
        // Two writers put different (address, rule) pairs into one slot while a reader checks
        // that whatever it gets for an address is that address's rule.
        const B: usize = 0x7100_0000_0020;
        let cache = Cache::<64>::new();
        let c = (1..)
            .map(|i| B + i)
            .find(|&c| core::ptr::eq(cache.slot(c), cache.slot(B)))
            .unwrap();
        let rule_of = |address: usize| Rule::Step {
            base: Base::Rsp,
            cfa_offset: if address == B { 8 } else { 4096 },
            saved_rbp: None,
        };
        let epoch = 3;
        let cache = &cache;
        std::thread::scope(|s| {
            for address in [B, c] {
                s.spawn(move || {
                    for _ in 0..100_000 {
                        cache.put(address, rule_of(address), epoch);
                    }
                });
            }
            s.spawn(move || {
                for i in 0..200_000 {
                    let address = if i % 2 == 0 { B } else { c };
                    if let Some(rule) = cache.get(address, epoch).map(Rule::unpack) {
                        assert_eq!(rule, rule_of(address));
                    }
                }
            });
        });
    }
}
