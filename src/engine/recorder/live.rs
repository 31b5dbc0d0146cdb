//! The recorded blocks still live, and the filter that lets a free skip the table when its
//! block was certainly not recorded.
//!
//! The table is split into [`SHARDS`] shards by a hash of the address's 1 MiB region, each
//! behind its own lock, so threads recording and freeing blocks of their own arenas rarely
//! meet on a lock or a cache line. Its memory
//! is mapped (`memory.rs`), never allocated.
//!
//! **Was this block recorded?** Every free must answer that, without a lock and without
//! touching much memory. The filter is a bitmap of 65,536 bits (8 KiB, so it stays in the
//! first-level cache of the thread that frees) indexed by a hash of the address: a clear bit
//! means no recorded block hashes there, so the free is certainly not of a recorded block
//! (one relaxed load of a word that is rarely written); a set bit sends the free to the
//! shard, which decides. Each bit stands for a counter of the recorded blocks that hash to
//! it; the counters live in the shard that owns the slot (slot `s` belongs to shard
//! `s / 1024`, so every bitmap word belongs to one shard) and change only under its lock,
//! which is also the only writer of the shard's bitmap words: the bit is set when its counter
//! leaves 0 and cleared when it returns to 0. While nothing has been recorded since the
//! tables were last found empty, even the bitmap load is skipped (`recording`).

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};

use super::memory::{DROPPED, IntMap, Zeroable};
use crate::lock::SpinLock;

/// One recorded live block (48 bytes; its size is the one its free reports, and its
/// fixed-point figures are recomputed from the size and weight when it is freed).
#[derive(Clone, Copy, Debug, PartialEq)]
#[repr(C)]
pub(crate) struct LiveBlock {
    pub(crate) site: u32,
    /// The `Local` (thread recording state) whose session figures hold this block.
    pub(crate) owner: u32,
    /// Profiling session the block was sampled in (0: not sampled).
    pub(crate) session: u32,
    /// Budget scope that allocated it (0: none).
    pub(crate) scope: u64,
    /// Its sampling weight (`1/p`).
    pub(crate) weight: f64,
    /// Session clock ticks when it was allocated.
    pub(crate) allocated_at: u64,
    /// The address of the owner's `SiteFigures` of `site` (valid while `session` is the
    /// running session; figures are never unmapped).
    pub(crate) figures: usize,
}

// SAFETY: integers and a float.
unsafe impl Zeroable for LiveBlock {}

const _: () = assert!(std::mem::size_of::<LiveBlock>() == 48);

/// Number of shards of the live-block table.
pub(crate) const SHARDS: usize = 64;
const FILTER_SLOTS: usize = 1 << 16;
const SLOTS_PER_SHARD: usize = FILTER_SLOTS / SHARDS;
const WORDS: usize = FILTER_SLOTS / 64;
const SATURATED: u8 = u8::MAX;

/// A shard's recorded blocks, and the counters of its filter slots.
struct ShardData {
    blocks: IntMap<LiveBlock>,
    /// Recorded blocks per slot of this shard; a counter that saturates stays saturated
    /// (its bit set: false positives only) until the tables are found empty.
    counts: [u8; SLOTS_PER_SHARD],
}

/// A shard, on its own cache lines.
#[repr(align(128))]
struct Shard {
    data: SpinLock<ShardData>,
}

static TABLE: [Shard; SHARDS] = [const {
    Shard {
        data: SpinLock::new(ShardData {
            blocks: IntMap::new(),
            counts: [0; SLOTS_PER_SHARD],
        }),
    }
}; SHARDS];

/// What a free's fast path reads: one static, so one address to load.
#[repr(C, align(128))]
struct Filter {
    /// Set while a recorded block may be live; cleared only with every shard locked.
    recording: AtomicBool,
    bits: [AtomicU64; WORDS],
}

static FILTER: Filter = Filter {
    recording: AtomicBool::new(false),
    bits: [const { AtomicU64::new(0) }; WORDS],
};

/// Bytes of address space whose blocks share a shard (1 MiB).
const REGION_SHIFT: u32 = 20;

/// The filter slot of `address`, whose shard is `slot / SLOTS_PER_SHARD`: the shard from a
/// hash of the address's 1 MiB region, the slot within it from a hash of the address (both
/// multiplicative: the top bits of the product, which every bit of the input reaches).
///
/// By region, not by block: each thread allocates from its own arena (glibc's, jemalloc's,
/// mimalloc's), so two threads recording at once mostly lock different shards and keep
/// their own table lines in their own caches (with blocks hashed over all shards, every
/// recorded free of two threads missed the cache on the other thread's slot writes).
#[inline(always)]
fn slot_of(address: usize) -> usize {
    const K: u64 = 0x9E37_79B9_7F4A_7C15;
    let shard = ((address >> REGION_SHIFT) as u64).wrapping_mul(K) >> (64 - SHARDS.ilog2());
    let within = (address as u64).wrapping_mul(K) >> (64 - SLOTS_PER_SHARD.ilog2());
    (shard << SLOTS_PER_SHARD.ilog2() | within) as usize
}

/// True if the block at `address` may have been recorded. A recorded block's bit was set
/// before its allocation returned, and the pointer reached the freeing thread through some
/// synchronisation, so a relaxed load here already sees it.
#[inline(always)]
pub(crate) fn maybe_recorded(address: *mut u8) -> bool {
    if !FILTER.recording.load(Relaxed) {
        return false;
    }
    let slot = slot_of(address as usize);
    FILTER.bits[slot / 64].load(Relaxed) & (1 << (slot % 64)) != 0
}

impl ShardData {
    /// Counts one more recorded block in `slot` (of this shard).
    #[inline]
    fn count(&mut self, slot: usize) {
        let count = &mut self.counts[slot % SLOTS_PER_SHARD];
        if *count == 0 {
            // This shard is the only writer of its bitmap words (its lock is held).
            let word = &FILTER.bits[slot / 64];
            word.store(word.load(Relaxed) | 1 << (slot % 64), Relaxed);
        }
        if *count != SATURATED {
            *count += 1;
        }
    }

    /// Counts one recorded block fewer in `slot`.
    #[inline]
    fn uncount(&mut self, slot: usize) {
        let count = &mut self.counts[slot % SLOTS_PER_SHARD];
        if *count == SATURATED || *count == 0 {
            return;
        }
        *count -= 1;
        if *count == 0 {
            let word = &FILTER.bits[slot / 64];
            word.store(word.load(Relaxed) & !(1 << (slot % 64)), Relaxed);
        }
    }
}

/// Records `block` at `address`. Returns false if the shard could not grow (out of memory;
/// counted as dropped).
#[inline(always)]
pub(crate) fn record(address: usize, block: LiveBlock) -> bool {
    let slot = slot_of(address);
    let mut shard = TABLE[slot / SLOTS_PER_SHARD].data.lock();
    // Written once per recording period, not per block: every free reads this line.
    if !FILTER.recording.load(Relaxed) {
        FILTER.recording.store(true, Relaxed);
    }
    match shard.blocks.insert(address as u64, block) {
        // A replaced entry is a block whose free we never saw: its count stays as it was.
        Ok(Some(_)) => true,
        Ok(None) => {
            shard.count(slot);
            true
        }
        Err(()) => {
            DROPPED.fetch_add(1, Relaxed);
            false
        }
    }
}

/// Removes and returns the record of the block at `address`, if it was recorded.
#[inline(always)]
pub(crate) fn forget(address: usize) -> Option<LiveBlock> {
    let slot = slot_of(address);
    let mut shard = TABLE[slot / SLOTS_PER_SHARD].data.lock();
    let block = shard.blocks.remove(address as u64)?;
    shard.uncount(slot);
    Some(block)
}

/// Applies `change` to every live record, then forgets the records `forget_if` selects
/// (under each shard's lock in turn).
pub(crate) fn for_each_live(
    mut change: impl FnMut(&mut LiveBlock),
    forget_if: impl Fn(&LiveBlock) -> bool,
) {
    for shard in &TABLE {
        let mut shard = shard.data.lock();
        for (_, block) in shard.blocks.iter_mut() {
            change(block);
        }
        // Remove in batches (the table cannot change while it is iterated); the predicate
        // is pure, so re-scanning is safe.
        loop {
            let mut batch = [0u64; 64];
            let mut count = 0;
            for (address, block) in shard.blocks.iter() {
                if forget_if(block) {
                    batch[count] = address;
                    count += 1;
                    if count == batch.len() {
                        break;
                    }
                }
            }
            for &address in &batch[..count] {
                shard.blocks.remove(address);
                shard.uncount(slot_of(address as usize));
            }
            if count < batch.len() {
                break;
            }
        }
    }
}

/// If no recorded block is live, clears the filter (saturated counters included) and lets
/// frees skip it again. Holds every shard's lock while it decides, so no record can slip in.
pub(crate) fn reset_if_empty() {
    /// Locks shard `index` and the ones after it; true if they were all empty, in which case
    /// their counters and the bitmap were cleared before the locks were released.
    fn hold(index: usize) -> bool {
        if index == SHARDS {
            if FILTER.recording.load(Relaxed) {
                for word in &FILTER.bits {
                    word.store(0, Relaxed);
                }
                FILTER.recording.store(false, Relaxed);
            }
            return true;
        }
        let mut shard = TABLE[index].data.lock();
        if shard.blocks.len() != 0 || !hold(index + 1) {
            return false;
        }
        shard.counts = [0; SLOTS_PER_SHARD];
        true
    }
    hold(0);
}

/// For `fork`: takes every shard's lock and keeps it.
pub(crate) fn lock_for_fork() {
    for shard in &TABLE {
        shard.data.lock_and_hold();
    }
}

/// Releases what [`lock_for_fork`] took.
///
/// # Safety
///
/// Only in `fork`'s parent or child handler after `lock_for_fork` on this thread.
pub(crate) unsafe fn unlock_after_fork() {
    for shard in &TABLE {
        // SAFETY: the caller's contract.
        unsafe { shard.data.release_held() };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn block(scope: u64) -> LiveBlock {
        LiveBlock {
            site: 0,
            owner: 0,
            session: 0,
            scope,
            weight: 0.0,
            allocated_at: 0,
            figures: 0,
        }
    }

    // Fake addresses in the first pages, where no real block lives.
    #[test]
    fn blocks_of_one_region_share_a_shard_and_spread_over_its_slots() {
        let region = 0x7f12_3450_0000usize; // a 1 MiB-aligned address
        let shard = slot_of(region) / SLOTS_PER_SHARD;
        let mut used = std::collections::HashSet::new();
        for address in (region..region + (1 << REGION_SHIFT)).step_by(16) {
            assert_eq!(slot_of(address) / SLOTS_PER_SHARD, shard, "{address:#x}");
            used.insert(slot_of(address));
        }
        assert!(
            used.len() > SLOTS_PER_SHARD * 9 / 10,
            "{} slots used",
            used.len()
        );
        // Regions, as arenas lay them out side by side, land on many shards.
        let shards: std::collections::HashSet<_> = (0..256)
            .map(|i| slot_of(region + (i << REGION_SHIFT)) / SLOTS_PER_SHARD)
            .collect();
        assert!(shards.len() > SHARDS * 3 / 4, "{} shards", shards.len());
    }

    #[test]
    fn a_recorded_block_is_seen_by_the_filter_until_it_is_forgotten() {
        let address = 0x0ff0;
        assert!(record(address, block(1)));
        assert!(maybe_recorded(address as *mut u8));
        // Recording the same address again replaces the entry without a second count.
        assert!(record(address, block(2)));
        assert_eq!(forget(address).map(|b| b.scope), Some(2));
        assert!(forget(address).is_none());
        let slot = slot_of(address);
        assert_eq!(
            TABLE[slot / SLOTS_PER_SHARD].data.lock().counts[slot % SLOTS_PER_SHARD],
            0
        );
    }

    #[test]
    fn a_filter_bit_stays_set_until_its_last_block_is_forgotten() {
        let first = 0x5000;
        let second = (first + 16..)
            .step_by(16)
            .find(|&address| slot_of(address) == slot_of(first))
            .unwrap();
        assert!(record(first, block(3)));
        assert!(record(second, block(3)));
        assert!(forget(first).is_some());
        assert!(
            maybe_recorded(second as *mut u8),
            "the other block keeps its bit"
        );
        assert!(forget(second).is_some());
        let slot = slot_of(first);
        assert_eq!(FILTER.bits[slot / 64].load(Relaxed) & (1 << (slot % 64)), 0);
    }

    #[test]
    fn for_each_live_can_change_and_forget_records() {
        for address in (0x2000..0x2000 + 200 * 16).step_by(16) {
            record(address, block(77));
        }
        let mut seen = 0;
        for_each_live(
            |block| {
                if block.scope == 77 {
                    seen += 1;
                    block.scope = 78;
                }
            },
            |block| block.scope == 78,
        );
        assert_eq!(seen, 200);
        assert!(forget(0x2000).is_none());
        assert!(forget(0x2000 + 199 * 16).is_none());
    }
}
