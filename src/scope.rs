//! Budget scopes: the bookkeeping behind [`crate::measure`] and no-allocation zones.
//!
//! A scope belongs to the thread that opened it: that thread's [`ThreadState::scope`]
//! (crate::thread_state) holds the innermost open scope's id, and every allocation and free
//! the thread makes while it is non-zero takes the recording path. A *thread-spanning*
//! scope is also adopted by every thread that makes its first allocation while the scope is
//! open (threads the closure spawns); only one of those can be open at a time in the
//! process, which the budget module enforces with a lock.
//!
//! Nesting: when an inner scope closes, its figures are merged into its parent and its id is
//! forwarded to the parent, so a block the inner scope allocated and the outer scope frees
//! is still matched. Forwarding entries are dropped when the outermost scope closes.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

use crate::recorder::AllocationKind;
use crate::sites::SiteId;

/// The thread-spanning scope new threads join (0: none).
static SPANNING_SCOPE: AtomicU64 = AtomicU64::new(0);

/// The scope a thread making its first allocation now should join.
pub(crate) fn spanning_scope() -> u64 {
    SPANNING_SCOPE.load(Relaxed)
}

pub(crate) fn set_spanning_scope(id: u64) {
    SPANNING_SCOPE.store(id, Relaxed);
}

/// What a scope does when its thread allocates.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum OnAllocation {
    /// Record it (a measured scope, or a no-allocation zone that reports afterwards).
    Record,
    /// Print the stack and abort the process (a strict no-allocation zone).
    Abort,
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

struct ScopeRecord {
    parent: u64,
    counts: ScopeCounts,
    sites: HashMap<SiteId, SiteUsage>,
    on_allocation: OnAllocation,
    /// Ids of closed inner scopes forwarded to this one.
    forwarded: Vec<u64>,
}

/// A closed scope's figures.
pub(crate) struct ClosedScope {
    pub(crate) counts: ScopeCounts,
    pub(crate) sites: Vec<(SiteId, SiteUsage)>,
}

/// Result of offering an allocation to a scope.
pub(crate) enum Admission {
    Recorded,
    /// The scope has closed (a thread that joined a spanning scope that has since ended).
    ScopeClosed,
    /// A strict no-allocation zone: the caller prints the stack and aborts.
    Forbidden,
}

#[derive(Default)]
pub(crate) struct ScopeTable {
    open: HashMap<u64, ScopeRecord>,
    forward: HashMap<u64, u64>,
    next_id: u64,
}

impl ScopeTable {
    pub(crate) fn open(&mut self, parent: u64, on_allocation: OnAllocation) -> u64 {
        self.next_id += 1;
        let id = self.next_id;
        self.open.insert(
            id,
            ScopeRecord {
                parent,
                counts: ScopeCounts::default(),
                sites: HashMap::new(),
                on_allocation,
                forwarded: Vec::new(),
            },
        );
        id
    }

    /// Closes scope `id`, merging it into its parent. `None` if it was not open.
    pub(crate) fn close(&mut self, id: u64) -> Option<ClosedScope> {
        let record = self.open.remove(&id)?;
        let closed = ClosedScope {
            counts: record.counts,
            sites: record
                .sites
                .iter()
                .map(|(&site, &usage)| (site, usage))
                .collect(),
        };
        match self.open.get_mut(&record.parent) {
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
                for (site, usage) in record.sites {
                    let entry = parent.sites.entry(site).or_default();
                    entry.allocations += usage.allocations;
                    entry.bytes += usage.bytes;
                }
                parent.forwarded.push(id);
                parent.forwarded.extend(record.forwarded);
                self.forward.insert(id, record.parent);
            }
            None => {
                for inner in record.forwarded {
                    self.forward.remove(&inner);
                }
            }
        }
        Some(closed)
    }

    fn resolve(&mut self, mut id: u64) -> Option<&mut ScopeRecord> {
        while !self.open.contains_key(&id) {
            id = *self.forward.get(&id)?;
        }
        self.open.get_mut(&id)
    }

    pub(crate) fn on_allocation(
        &mut self,
        id: u64,
        site: SiteId,
        size: u64,
        kind: AllocationKind,
    ) -> Admission {
        let Some(record) = self.open.get_mut(&id) else {
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
        let usage = record.sites.entry(site).or_default();
        usage.allocations += 1;
        usage.bytes += size;
        Admission::Recorded
    }

    /// A block allocated in scope `id` (or a scope since merged into another) was freed.
    pub(crate) fn on_recorded_block_freed(&mut self, id: u64, size: u64) {
        if let Some(record) = self.resolve(id) {
            record.counts.live_blocks -= 1;
            record.counts.live_bytes -= size;
        }
    }

    /// The scope's thread freed `size` bytes (a free, or a realloc's old block). Returns
    /// false if the scope is no longer open.
    pub(crate) fn on_free(&mut self, id: u64, size: u64, kind: AllocationKind) -> bool {
        let Some(record) = self.open.get_mut(&id) else {
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

use crate::budget::{ScopeKind, SiteStack, Usage};

/// Serialises thread-spanning scopes: new threads can join only one of them.
static SPANNING: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// Runs `work` inside a new scope and returns its figures with the captured stacks of its
/// call sites. The scope is closed even if `work` panics.
pub(crate) fn run<R>(
    kind: ScopeKind,
    work: impl FnOnce() -> R,
) -> Result<(R, Usage), crate::Error> {
    use crate::thread_state::{self, untracked};
    crate::tracking::check_installed()?;
    let parent = thread_state::with(|thread| thread.scope());
    let _spanning = match kind {
        ScopeKind::SpawnedThreads if parent != 0 => return Err(crate::Error::NestedSpanningScope),
        ScopeKind::SpawnedThreads => {
            Some(SPANNING.lock().unwrap_or_else(|poison| poison.into_inner()))
        }
        _ => None,
    };
    let on_allocation = match kind {
        ScopeKind::AbortOnAllocation => OnAllocation::Abort,
        _ => OnAllocation::Record,
    };
    if parent == 0 {
        // Learn where this thread's stack enters user code, so captures can stop there
        // (cheap after the first time: the symbolizer's caches are warm).
        untracked(crate::stack::learn_runtime_entry);
    }
    let id = untracked(|| crate::recorder::lock().scopes.open(parent, on_allocation));
    /// Closes the scope on every exit path, including a panic in `work`.
    struct Close {
        id: u64,
        parent: u64,
        spanning: bool,
        closed: Option<ClosedScope>,
    }
    impl Close {
        fn close(&mut self) {
            if self.spanning {
                set_spanning_scope(0);
            }
            thread_state::with(|thread| thread.set_scope(self.parent));
            let id = self.id;
            self.closed = untracked(|| crate::recorder::lock().scopes.close(id));
        }
    }
    impl Drop for Close {
        fn drop(&mut self) {
            if self.closed.is_none() {
                self.close();
            }
            if let Some(closed) = self.closed.take() {
                untracked(|| drop(closed));
            }
        }
    }
    let mut guard = Close {
        id,
        parent,
        spanning: kind == ScopeKind::SpawnedThreads,
        closed: None,
    };
    if guard.spanning {
        set_spanning_scope(id);
    }
    thread_state::with(|thread| thread.set_scope(id));
    let value = work();
    guard.close();
    // Build the result outside every scope: an enclosing scope counts what the closure
    // did, not allocsite's report of it.
    thread_state::with(|thread| thread.set_scope(0));
    let closed = guard
        .closed
        .as_ref()
        .expect("a scope is open until closed here");
    // Resolve the stacks untracked, then copy everything into tracked memory.
    let stacks: Vec<(Box<[usize]>, SiteUsage)> = untracked(|| {
        let recorder = crate::recorder::lock();
        closed
            .sites
            .iter()
            .map(|(site, usage)| (recorder.sites.stack(*site).into(), *usage))
            .collect()
    });
    let counts = closed.counts;
    let usage = Usage {
        allocations: counts.allocations,
        reallocations: counts.reallocations,
        deallocations: counts.deallocations,
        bytes_allocated: counts.bytes_allocated,
        bytes_freed: counts.bytes_freed,
        peak_live_bytes: counts.peak_net_bytes.max(0) as u64,
        leaked_blocks: counts.live_blocks,
        leaked_bytes: counts.live_bytes,
        stacks: stacks
            .iter()
            .map(|(addresses, usage)| SiteStack {
                addresses: addresses.to_vec(),
                allocations: usage.allocations,
                bytes: usage.bytes,
            })
            .collect(),
    };
    untracked(|| drop(stacks));
    thread_state::with(|thread| thread.set_scope(parent));
    Ok((value, usage))
}

/// A strict no-allocation zone was violated: print the stack and abort. Unwinding out of a
/// `GlobalAlloc` method is undefined behaviour, so a panic is not an option here.
#[cold]
pub(crate) fn abort_on_forbidden_allocation(size: usize, stack: &[usize]) -> ! {
    use std::io::Write;
    let mut symbolizer = crate::symbolize::Symbolizer::new();
    let frames = symbolizer.frames(stack, crate::symbolize::TrimOptions::default());
    let mut stderr = std::io::stderr().lock();
    let _ = writeln!(
        stderr,
        "allocsite: a {size}-byte allocation inside a no-allocation zone (abort mode); stack, innermost first:"
    );
    for frame in &frames {
        let _ = writeln!(stderr, "    {}", frame.dhat_string());
    }
    std::process::abort();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inner_scope_merges_into_outer_and_forwards_its_blocks() {
        let mut table = ScopeTable::default();
        let outer = table.open(0, OnAllocation::Record);
        table.on_allocation(outer, 0, 100, AllocationKind::Alloc);
        let inner = table.open(outer, OnAllocation::Record);
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
        assert!(table.forward.is_empty());
    }
}
