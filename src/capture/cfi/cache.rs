//! The rule cache: return address → [`Rule`], shared by every thread, without a lock.
//!
//! A direct-mapped table of [`SLOTS`] words in static memory (`.bss`: pages are touched only
//! as slots are filled). A slot holds an address and its rule *in one word*, so a reader
//! gets a consistent pair from one atomic load, and a writer replaces it with one store:
//! no torn pair, no sequence lock, nothing to wait for. A new address evicts the old one.
//!
//! The word fits because the slot's index and the word's tag together determine the
//! address: the index is `(a ^ (a >> TAG_SHIFT)) % N` and the tag is `a >> TAG_SHIFT`, so
//! the address's low bits are `index ^ (tag % N)`. User-space addresses on x86_64 Linux are
//! below 2^47, which leaves [`TAG_BITS`] bits of tag and 30 bits of rule ([`Packed`]).
//!
//! [`flush`] (called when a library is unloaded: its addresses may be reused by the next one
//! loaded) empties the table. A rule is only ever computed for a return address on a live
//! stack, whose library cannot be unloaded meanwhile, so no stale rule is written back after
//! a flush.

use core::sync::atomic::{AtomicU64, Ordering};

use super::rule::Packed;

/// Slots in the process's table: distinct return addresses it holds at once, if they hash
/// apart (a 128 KiB table).
pub(super) const SLOTS: usize = 1 << 14;

/// The address bits below the tag: the slot index covers them.
const TAG_SHIFT: u32 = 14;
/// Tag bits kept: addresses up to 2^(14 + 33) = 2^47, all of x86_64 Linux user space.
const TAG_BITS: u32 = 33;
/// The rule's share of a word.
const RULE_BITS: u32 = 64 - TAG_BITS;

/// Lookups are for addresses at or above this one: below it, addresses have the empty
/// slot's tag (0), and [`Cache::get`] does not test for an empty slot. The walk stops at a
/// return address at or below it (no code is mapped in the first 16 KiB), so the address
/// it looks up (one byte before) is never below it; its first address is in `capture`.
pub(super) const LOWEST_ADDRESS: usize = 1 << TAG_SHIFT;

/// The process's rule cache.
pub(super) static CACHE: Cache = Cache::new();

/// Makes every cached rule a miss.
pub(super) fn flush() {
    CACHE.clear();
}

/// A direct-mapped table of [`SLOTS`] slots (2^[`TAG_SHIFT`]: the index covers exactly the
/// bits below the tag).
pub(super) struct Cache {
    slots: [AtomicU64; SLOTS],
}

const _: () = assert!(SLOTS == 1 << TAG_SHIFT);

impl Cache {
    pub(super) const fn new() -> Self {
        Cache {
            slots: [const { AtomicU64::new(0) }; SLOTS],
        }
    }

    #[inline(always)]
    fn slot(&self, address: usize) -> &AtomicU64 {
        &self.slots[(address ^ (address >> TAG_SHIFT)) & (SLOTS - 1)]
    }

    /// The word for `address` and `rule`, or `None` if they do not fit.
    #[inline(always)]
    fn word(address: usize, rule: u64) -> Option<u64> {
        let tag = (address as u64) >> TAG_SHIFT;
        (tag >> TAG_BITS == 0 && rule >> RULE_BITS == 0).then_some((tag << RULE_BITS) | rule)
    }

    /// The cached rule for `address` (at least [`LOWEST_ADDRESS`]), if there is one.
    #[inline(always)]
    pub(super) fn get(&self, address: usize) -> Option<Packed> {
        debug_assert!(address >= LOWEST_ADDRESS);
        let word = self.slot(address).load(Ordering::Relaxed);
        // An empty slot is 0, whose tag is 0: never the tag of an address from
        // `LOWEST_ADDRESS` up, so it is a miss without a test of its own.
        let tag = (address as u64) >> TAG_SHIFT;
        (word >> RULE_BITS == tag).then_some(Packed(word & ((1 << RULE_BITS) - 1)))
    }

    /// Caches `rule` for `address` (nothing, if the address is outside user space).
    pub(super) fn put(&self, address: usize, rule: Packed) {
        if let Some(word) = Self::word(address, rule.0) {
            self.slot(address).store(word, Ordering::Relaxed);
        }
    }

    /// Empties every slot.
    pub(super) fn clear(&self) {
        for slot in &self.slots {
            slot.store(0, Ordering::Relaxed);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::capture::cfi::rule::{Base, Rule};

    const A: usize = 0x7000_0000_0010;

    fn step(cfa_offset: u32) -> Rule {
        Rule::Step {
            base: Base::Rsp,
            cfa_offset,
            saved_rbp: Some(-16),
        }
    }

    #[test]
    fn put_then_get_eviction_and_clear() {
        static CACHE: Cache = Cache::new();
        let cache = &CACHE;
        let get = |a| cache.get(a).map(Rule::unpack);
        assert_eq!(get(A), None);
        // An empty slot is a miss, down to the lowest address looked up.
        assert_eq!(get(LOWEST_ADDRESS), None);
        cache.put(A, step(24).pack());
        assert_eq!(get(A), Some(step(24)));
        // Another address in the same slot evicts it, and is not mistaken for it.
        let other = (1..)
            .map(|i| A + i * 7)
            .find(|&b| core::ptr::eq(cache.slot(b), cache.slot(A)))
            .unwrap();
        cache.put(other, Rule::Outermost.pack());
        assert_eq!(get(A), None);
        assert_eq!(get(other), Some(Rule::Outermost));
        cache.clear();
        assert_eq!(get(other), None);
        // Addresses outside x86_64 user space are never cached.
        cache.put(1 << 50, step(8).pack());
        assert_eq!(get(1 << 50), None);
    }

    #[test]
    fn every_address_of_a_slot_is_told_apart() {
        // Addresses that share a slot differ in their tags: the index and the tag give the
        // address back.
        static CACHE: Cache = Cache::new();
        let cache = &CACHE;
        let mut seen = std::collections::HashMap::new();
        for address in (A..A + (1 << 16)).step_by(3) {
            cache.put(address, step(8 * (address as u32 % 1000 + 1)).pack());
            assert_eq!(
                cache.get(address).map(Rule::unpack),
                Some(step(8 * (address as u32 % 1000 + 1)))
            );
            let slot = cache.slot(address) as *const AtomicU64;
            let word = cache.slot(address).load(Ordering::Relaxed);
            if let Some(previous) = seen.insert((slot, word >> RULE_BITS), address) {
                assert_eq!(previous, address, "two addresses with one slot and tag");
            }
        }
    }

    #[test]
    fn readers_never_see_a_torn_pair() {
        // Two writers put different (address, rule) pairs into one slot while a reader checks
        // that whatever it gets for an address is that address's rule.
        const B: usize = 0x7100_0000_0020;
        static CACHE: Cache = Cache::new();
        let cache = &CACHE;
        let c = (1..)
            .map(|i| B + i)
            .find(|&c| core::ptr::eq(cache.slot(c), cache.slot(B)))
            .unwrap();
        let rule_of = |address: usize| step(if address == B { 8 } else { 4096 });
        std::thread::scope(|s| {
            for address in [B, c] {
                s.spawn(move || {
                    for _ in 0..100_000 {
                        cache.put(address, rule_of(address).pack());
                    }
                });
            }
            s.spawn(move || {
                for i in 0..200_000 {
                    let address = if i % 2 == 0 { B } else { c };
                    if let Some(rule) = cache.get(address).map(Rule::unpack) {
                        assert_eq!(rule, rule_of(address));
                    }
                }
            });
        });
    }
}
