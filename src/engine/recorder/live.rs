//! The recorded blocks still live, and the counting filter that lets a free skip the
//! recorder's lock when its block was certainly not recorded.
//!
//! **Was this block recorded?** A free must answer that without taking the lock. The
//! filter is 65,536 one-byte atomic counters indexed by a hash of the address, incremented
//! when a block is recorded and decremented when it is freed. A free whose counter is zero
//! was certainly not recorded (one relaxed load of a line that is almost never written); a
//! non-zero counter sends it to the locked table, which decides. With no recorded block
//! live at all, even that load is skipped.

use std::collections::HashMap;
use std::hash::BuildHasherDefault;
use std::sync::atomic::{AtomicBool, AtomicU8, AtomicU64, Ordering::Relaxed};

use super::sites::{AddressHasher, SiteId};

const FILTER_SLOTS: usize = 1 << 16;
/// One byte per slot (64 KiB, so frees find it in L2). A slot that reaches 255 stays there:
/// it only costs lookups in the table, never a missed record.
static FILTER: [AtomicU8; FILTER_SLOTS] = [const { AtomicU8::new(0) }; FILTER_SLOTS];
const SATURATED: u8 = u8::MAX;
/// Set when a slot saturated; the filter is wiped the next time no recorded block is live.
static ANY_SATURATED: AtomicBool = AtomicBool::new(false);
/// Number of recorded blocks currently live.
static RECORDED_LIVE: AtomicU64 = AtomicU64::new(0);

pub(super) fn filter_slot(address: usize) -> &'static AtomicU8 {
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
pub(crate) struct LiveBlock {
    pub(crate) site: SiteId,
    pub(crate) size: u64,
    /// Profiling session the block was sampled in (0: not sampled) and its weight there.
    pub(crate) session: u32,
    pub(crate) weight: f64,
    pub(crate) allocated_at: u64,
    /// Budget scope that allocated it (0: none).
    pub(crate) scope: u64,
}

/// The recorded blocks still live, by address. Every entry has exactly one count in the
/// filter (`record` and `forget` keep that balanced).
#[derive(Default)]
pub(crate) struct LiveBlocks {
    blocks: HashMap<usize, LiveBlock, BuildHasherDefault<AddressHasher>>,
}

impl LiveBlocks {
    pub(crate) fn iter_mut(&mut self) -> impl Iterator<Item = (&usize, &mut LiveBlock)> {
        self.blocks.iter_mut()
    }

    pub(crate) fn forget(&mut self, address: usize) -> Option<LiveBlock> {
        let block = self.blocks.remove(&address)?;
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

    pub(crate) fn record(&mut self, address: usize, block: LiveBlock) {
        // An existing entry would be a block whose free we never saw; replacing it keeps
        // the filter balanced (one count per address in the table).
        if self.blocks.insert(address, block).is_none() {
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

#[cfg(test)]
mod tests {
    use super::*;

    fn block() -> LiveBlock {
        LiveBlock {
            site: 0,
            size: 8,
            session: 0,
            weight: 0.0,
            allocated_at: 0,
            scope: 1,
        }
    }

    // Fake addresses in the first page, where no real block lives.
    #[test]
    fn a_recorded_block_is_seen_by_the_filter_until_it_is_forgotten() {
        let mut blocks = LiveBlocks::default();
        let address = 0x0ff0;
        blocks.record(address, block());
        assert!(maybe_recorded(address as *mut u8));
        // Recording the same address again replaces the entry without a second count.
        blocks.record(address, block());
        assert!(blocks.forget(address).is_some());
        assert!(blocks.forget(address).is_none());
        assert_eq!(filter_slot(address).load(Relaxed), 0);
    }
}
