//! The recorded blocks still live, and the counting filter that lets a free skip the
//! table when its block was certainly not recorded.
//!
//! The table is split into [`SHARDS`] shards by a hash of the address, each behind its own
//! lock, so threads recording and freeing different blocks rarely meet on a lock or a cache
//! line. Its memory is mapped (`memory.rs`), never allocated.
//!
//! **Was this block recorded?** A free must answer that without taking a lock. The filter is
//! 65,536 one-byte counters indexed by the same hash; each counter belongs to one shard and
//! changes only under that shard's lock (so counts are exact), incremented when a block is
//! recorded and decremented when it is forgotten. A free whose counter is zero was certainly
//! not recorded (one relaxed load of a line that is almost never written); a non-zero
//! counter sends it to the shard, which decides. While nothing has been recorded since the
//! tables were last found empty, even that load is skipped (`RECORDING`).

use std::sync::atomic::{AtomicBool, AtomicU8, Ordering::Relaxed};

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
const SATURATED: u8 = u8::MAX;

/// A shard, on its own cache lines.
#[repr(align(128))]
struct Shard {
    blocks: SpinLock<IntMap<LiveBlock>>,
}

static TABLE: [Shard; SHARDS] = [const {
    Shard {
        blocks: SpinLock::new(IntMap::new()),
    }
}; SHARDS];

static FILTER: [AtomicU8; FILTER_SLOTS] = [const { AtomicU8::new(0) }; FILTER_SLOTS];
/// Set while a recorded block may be live; cleared only with every shard locked.
static RECORDING: AtomicBool = AtomicBool::new(false);

fn slot_of(address: usize) -> usize {
    (((address as u64) >> 4).wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 48) as usize
}

/// True if the block at `address` may have been recorded. A recorded block's filter count
/// was raised before its allocation returned, and the pointer reached the freeing thread
/// through some synchronisation, so a relaxed load here already sees it.
#[inline(always)]
pub(crate) fn maybe_recorded(address: *mut u8) -> bool {
    RECORDING.load(Relaxed) && FILTER[slot_of(address as usize)].load(Relaxed) != 0
}

/// Records `block` at `address`. Returns false if the shard could not grow (out of memory;
/// counted as dropped).
pub(crate) fn record(address: usize, block: LiveBlock) -> bool {
    let slot = slot_of(address);
    let mut blocks = TABLE[slot / SLOTS_PER_SHARD].blocks.lock();
    RECORDING.store(true, Relaxed);
    match blocks.insert(address as u64, block) {
        // A replaced entry is a block whose free we never saw: its count stays as it was.
        Ok(Some(_)) => true,
        Ok(None) => {
            let count = FILTER[slot].load(Relaxed);
            if count != SATURATED {
                FILTER[slot].store(count + 1, Relaxed);
            }
            true
        }
        Err(()) => {
            DROPPED.fetch_add(1, Relaxed);
            false
        }
    }
}

/// Removes and returns the record of the block at `address`, if it was recorded.
pub(crate) fn forget(address: usize) -> Option<LiveBlock> {
    let slot = slot_of(address);
    let mut blocks = TABLE[slot / SLOTS_PER_SHARD].blocks.lock();
    let block = blocks.remove(address as u64)?;
    uncount(slot);
    Some(block)
}

/// Lowers a filter counter; call with its shard's lock held.
fn uncount(slot: usize) {
    let count = FILTER[slot].load(Relaxed);
    if count != SATURATED && count != 0 {
        FILTER[slot].store(count - 1, Relaxed);
    }
}

/// Applies `change` to every live record, then forgets the records `forget_if` selects
/// (under each shard's lock in turn).
pub(crate) fn for_each_live(
    mut change: impl FnMut(&mut LiveBlock),
    forget_if: impl Fn(&LiveBlock) -> bool,
) {
    for shard in &TABLE {
        let mut blocks = shard.blocks.lock();
        for (_, block) in blocks.iter_mut() {
            change(block);
        }
        // Remove in batches (the table cannot change while it is iterated); the predicate
        // is pure, so re-scanning is safe.
        loop {
            let mut batch = [0u64; 64];
            let mut count = 0;
            for (address, block) in blocks.iter() {
                if forget_if(block) {
                    batch[count] = address;
                    count += 1;
                    if count == batch.len() {
                        break;
                    }
                }
            }
            for &address in &batch[..count] {
                blocks.remove(address);
                uncount(slot_of(address as usize));
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
    fn hold(shard: usize, all_empty: bool) {
        if shard == SHARDS {
            if all_empty {
                for counter in &FILTER {
                    counter.store(0, Relaxed);
                }
                RECORDING.store(false, Relaxed);
            }
            return;
        }
        let blocks = TABLE[shard].blocks.lock();
        hold(shard + 1, all_empty && blocks.len() == 0);
    }
    hold(0, true);
}

/// For `fork`: takes every shard's lock and keeps it.
pub(crate) fn lock_for_fork() {
    for shard in &TABLE {
        shard.blocks.lock_and_hold();
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
        unsafe { shard.blocks.release_held() };
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
    fn a_recorded_block_is_seen_by_the_filter_until_it_is_forgotten() {
        let address = 0x0ff0;
        assert!(record(address, block(1)));
        assert!(maybe_recorded(address as *mut u8));
        // Recording the same address again replaces the entry without a second count.
        assert!(record(address, block(2)));
        assert_eq!(forget(address).map(|b| b.scope), Some(2));
        assert!(forget(address).is_none());
        assert_eq!(FILTER[slot_of(address)].load(Relaxed), 0);
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
