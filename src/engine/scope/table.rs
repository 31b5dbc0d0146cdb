//! The scope table: every open budget scope's exact figures and per-site usage, nesting,
//! and the forwarding of closed inner scopes' ids. One table ([`SCOPES`]) behind one lock;
//! its maps live in mapped memory (`recorder/memory.rs`), because allocations inside scopes
//! update it from inside the allocator.

use crate::engine::recorder::memory::{IntMap, Zeroable};
use crate::engine::recorder::sites::SiteId;
use crate::lock::SpinLock;

/// The process's open scopes.
pub(crate) static SCOPES: SpinLock<ScopeTable> = SpinLock::new(ScopeTable::new());

/// What kind of event a recorded allocation is, for budget scopes' counts.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum AllocationKind {
    Alloc,
    Realloc,
}

/// What a scope does when its thread allocates.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub(crate) enum OnAllocation {
    /// Record it (a measured scope, or a no-allocation zone that reports afterwards).
    Record = 0,
    /// Print the stack and abort the process (a strict no-allocation zone). Scopes opened
    /// inside one inherit it: a no-allocation zone holds for everything inside it.
    Abort = 1,
}

/// Exact figures of one scope.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct ScopeCounts {
    pub(crate) allocations: u64,
    pub(crate) reallocations: u64,
    pub(crate) deallocations: u64,
    pub(crate) bytes_allocated: u64,
    pub(crate) bytes_freed: u64,
    /// Allocated minus freed bytes so far, and its maximum (peak live bytes relative to the start).
    pub(crate) net_bytes: i64,
    pub(crate) peak_net_bytes: i64,
    /// Blocks allocated in the scope and not yet freed.
    pub(crate) live_blocks: u64,
    pub(crate) live_bytes: u64,
}

/// Allocations and bytes of one call site inside a scope.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct SiteUsage {
    pub(crate) allocations: u64,
    pub(crate) bytes: u64,
}

// SAFETY: integers.
unsafe impl Zeroable for ScopeCounts {}
// SAFETY: integers.
unsafe impl Zeroable for SiteUsage {}

struct ScopeRecord {
    parent: u64,
    counts: ScopeCounts,
    /// Usage by site (keys: site id plus one).
    sites: IntMap<SiteUsage>,
    on_allocation: OnAllocation,
    /// Ids of closed inner scopes forwarded to this one (a set: values unused).
    forwarded: IntMap<u64>,
}

// SAFETY: integers, maps (zeroable) and a `u8` enum whose zero is `Record`.
unsafe impl Zeroable for ScopeRecord {}

/// A closed scope's figures.
pub(crate) struct ClosedScope {
    pub(crate) counts: ScopeCounts,
    sites: IntMap<SiteUsage>,
}

impl ClosedScope {
    /// Each call site of the scope with its usage.
    pub(crate) fn sites(&self) -> impl Iterator<Item = (SiteId, SiteUsage)> + '_ {
        self.sites
            .iter()
            .map(|(key, usage)| ((key - 1) as SiteId, *usage))
    }
}

/// Result of offering an allocation to a scope.
pub(crate) enum Admission {
    Recorded,
    /// The scope has closed (a thread that joined a spanning scope that has since ended).
    ScopeClosed,
    /// A strict no-allocation zone: the caller prints the stack and aborts.
    Forbidden,
}

pub(crate) struct ScopeTable {
    open: IntMap<ScopeRecord>,
    forward: IntMap<u64>,
    next_id: u64,
}

impl Default for ScopeTable {
    fn default() -> Self {
        Self::new()
    }
}

impl ScopeTable {
    pub(crate) const fn new() -> Self {
        ScopeTable {
            open: IntMap::new(),
            forward: IntMap::new(),
            next_id: 0,
        }
    }

    /// Opens a scope inside `parent` (0: none). A scope inside a no-allocation zone is one
    /// too. `None` if out of memory.
    pub(crate) fn open(&mut self, parent: u64, on_allocation: OnAllocation) -> Option<u64> {
        let inherited = match self.resolve(parent) {
            Some(record) if record.on_allocation == OnAllocation::Abort => OnAllocation::Abort,
            _ => on_allocation,
        };
        self.next_id += 1;
        let id = self.next_id;
        let record = ScopeRecord {
            parent,
            counts: ScopeCounts::default(),
            sites: IntMap::new(),
            on_allocation: inherited,
            forwarded: IntMap::new(),
        };
        self.open.insert(id, record).ok()?;
        Some(id)
    }

    /// Closes scope `id`, merging it into its parent. `None` if it was not open.
    pub(crate) fn close(&mut self, id: u64) -> Option<ClosedScope> {
        let mut record = self.open.remove(id)?;
        match self.open.get_mut(record.parent) {
            Some(parent) => {
                let inner = record.counts;
                let outer = &mut parent.counts;
                outer.peak_net_bytes = outer
                    .peak_net_bytes
                    .max(outer.net_bytes + inner.peak_net_bytes);
                outer.net_bytes += inner.net_bytes;
                outer.allocations += inner.allocations;
                outer.reallocations += inner.reallocations;
                outer.deallocations += inner.deallocations;
                outer.bytes_allocated += inner.bytes_allocated;
                outer.bytes_freed += inner.bytes_freed;
                outer.live_blocks += inner.live_blocks;
                outer.live_bytes += inner.live_bytes;
                for (key, usage) in record.sites.iter() {
                    add_usage(&mut parent.sites, key, usage.allocations, usage.bytes);
                }
                let _ = parent.forwarded.insert(id, 1);
                for (inner, _) in record.forwarded.iter() {
                    let _ = parent.forwarded.insert(inner, 1);
                }
                let _ = self.forward.insert(id, record.parent);
            }
            None => {
                for (inner, _) in record.forwarded.iter() {
                    self.forward.remove(inner);
                }
            }
        }
        Some(ClosedScope {
            counts: record.counts,
            sites: std::mem::take(&mut record.sites),
        })
    }

    fn resolve(&mut self, mut id: u64) -> Option<&mut ScopeRecord> {
        if id == 0 {
            return None;
        }
        while self.open.get(id).is_none() {
            id = *self.forward.get(id)?;
        }
        self.open.get_mut(id)
    }

    pub(crate) fn on_allocation(
        &mut self,
        id: u64,
        site: SiteId,
        size: u64,
        kind: AllocationKind,
    ) -> Admission {
        let Some(record) = self.open.get_mut(id) else {
            return Admission::ScopeClosed;
        };
        if record.on_allocation == OnAllocation::Abort {
            return Admission::Forbidden;
        }
        let counts = &mut record.counts;
        match kind {
            AllocationKind::Alloc => counts.allocations += 1,
            AllocationKind::Realloc => counts.reallocations += 1,
        }
        counts.bytes_allocated += size;
        counts.net_bytes += size as i64;
        counts.peak_net_bytes = counts.peak_net_bytes.max(counts.net_bytes);
        counts.live_blocks += 1;
        counts.live_bytes += size;
        add_usage(&mut record.sites, u64::from(site) + 1, 1, size);
        Admission::Recorded
    }

    /// A block allocated in scope `id` (or a scope since merged into another) was freed.
    pub(crate) fn on_recorded_block_freed(&mut self, id: u64, size: u64) {
        if let Some(record) = self.resolve(id) {
            record.counts.live_blocks -= 1;
            record.counts.live_bytes -= size;
        }
    }

    /// Undoes [`ScopeTable::on_recorded_block_freed`] (a failed realloc).
    pub(crate) fn on_recorded_block_restored(&mut self, id: u64, size: u64) {
        if let Some(record) = self.resolve(id) {
            record.counts.live_blocks += 1;
            record.counts.live_bytes += size;
        }
    }

    /// Undoes [`ScopeTable::on_free`] of a realloc's old block (the realloc failed).
    pub(crate) fn on_free_undone(&mut self, id: u64, size: u64) {
        if let Some(record) = self.open.get_mut(id) {
            record.counts.bytes_freed -= size;
            record.counts.net_bytes += size as i64;
        }
    }

    /// The scope's thread freed `size` bytes (a free, or a realloc's old block). Returns
    /// false if the scope is no longer open.
    pub(crate) fn on_free(&mut self, id: u64, size: u64, kind: AllocationKind) -> bool {
        let Some(record) = self.open.get_mut(id) else {
            return false;
        };
        if kind == AllocationKind::Alloc {
            record.counts.deallocations += 1;
        }
        record.counts.bytes_freed += size;
        record.counts.net_bytes -= size as i64;
        true
    }
}

/// Adds to a site's usage in a scope's map (a failed insertion — out of memory — loses the
/// per-site split of that allocation, never the scope's exact counts).
fn add_usage(sites: &mut IntMap<SiteUsage>, key: u64, allocations: u64, bytes: u64) {
    match sites.get_mut(key) {
        Some(usage) => {
            usage.allocations += allocations;
            usage.bytes += bytes;
        }
        None => {
            let _ = sites.insert(key, SiteUsage { allocations, bytes });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inner_scope_merges_into_outer_and_forwards_its_blocks() {
        let mut table = ScopeTable::default();
        let outer = table.open(0, OnAllocation::Record).unwrap();
        table.on_allocation(outer, 0, 100, AllocationKind::Alloc);
        let inner = table.open(outer, OnAllocation::Record).unwrap();
        table.on_allocation(inner, 1, 50, AllocationKind::Alloc);
        table.on_allocation(inner, 1, 70, AllocationKind::Alloc);
        table.on_free(inner, 70, AllocationKind::Alloc);
        table.on_recorded_block_freed(inner, 70);
        let closed_inner = table.close(inner).unwrap();
        assert_eq!(closed_inner.counts.allocations, 2);
        assert_eq!(closed_inner.counts.peak_net_bytes, 120);
        assert_eq!(closed_inner.counts.live_bytes, 50);
        // The outer scope frees the inner scope's surviving block.
        table.on_free(outer, 50, AllocationKind::Alloc);
        table.on_recorded_block_freed(inner, 50);
        let closed_outer = table.close(outer).unwrap();
        assert_eq!(closed_outer.counts.allocations, 3);
        assert_eq!(closed_outer.counts.deallocations, 2);
        assert_eq!(closed_outer.counts.peak_net_bytes, 220);
        assert_eq!(closed_outer.counts.live_blocks, 1);
        assert_eq!(closed_outer.counts.live_bytes, 100);
        assert_eq!(table.forward.len(), 0);
        assert_eq!(closed_inner.sites().count(), 1);
    }

    #[test]
    fn a_scope_inside_a_no_allocation_zone_is_one_too() {
        let mut table = ScopeTable::default();
        let zone = table.open(0, OnAllocation::Abort).unwrap();
        let inner = table.open(zone, OnAllocation::Record).unwrap();
        assert!(matches!(
            table.on_allocation(inner, 0, 8, AllocationKind::Alloc),
            Admission::Forbidden
        ));
        table.close(inner);
        table.close(zone);
    }
}
