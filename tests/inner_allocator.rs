//! `Alloc::new` wraps any `GlobalAlloc`: every call reaches the inner allocator, with or
//! without the `track` feature, and a null from the inner allocator is passed through
//! uncounted.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};

/// Counts every call it receives and can be told to fail.
struct CountingAllocator {
    allocs: AtomicU64,
    zeroed: AtomicU64,
    reallocs: AtomicU64,
    deallocs: AtomicU64,
    fail_huge: AtomicBool,
}

const HUGE: usize = 1 << 40;

// SAFETY: forwards to `System` with the caller's arguments, or returns null (allowed).
unsafe impl GlobalAlloc for CountingAllocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        self.allocs.fetch_add(1, Relaxed);
        if layout.size() >= HUGE && self.fail_huge.load(Relaxed) {
            return std::ptr::null_mut();
        }
        // SAFETY: the caller's contract is passed on unchanged.
        unsafe { System.alloc(layout) }
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        self.zeroed.fetch_add(1, Relaxed);
        // SAFETY: as above.
        unsafe { System.alloc_zeroed(layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        self.reallocs.fetch_add(1, Relaxed);
        // SAFETY: as above.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        self.deallocs.fetch_add(1, Relaxed);
        // SAFETY: as above.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static ALLOC: allocsite::Alloc<CountingAllocator> = allocsite::Alloc::new(CountingAllocator {
    allocs: AtomicU64::new(0),
    zeroed: AtomicU64::new(0),
    reallocs: AtomicU64::new(0),
    deallocs: AtomicU64::new(0),
    fail_huge: AtomicBool::new(true),
});

#[test]
fn every_call_reaches_the_inner_allocator_and_nulls_are_not_counted() {
    let inner = ALLOC.inner();
    let layout = Layout::from_size_align(64, 8).unwrap();
    let (a, z, r, d) = (
        inner.allocs.load(Relaxed),
        inner.zeroed.load(Relaxed),
        inner.reallocs.load(Relaxed),
        inner.deallocs.load(Relaxed),
    );
    let before = allocsite::thread_stats();
    // SAFETY: non-zero sizes; every block is freed with the layout it has.
    unsafe {
        let p = ALLOC.alloc(layout);
        let q = ALLOC.alloc_zeroed(layout);
        let p = ALLOC.realloc(p, layout, 128);
        ALLOC.dealloc(p, Layout::from_size_align(128, 8).unwrap());
        ALLOC.dealloc(q, layout);
        let failed = ALLOC.alloc(Layout::from_size_align(HUGE, 8).unwrap());
        assert!(
            failed.is_null(),
            "the inner allocator's null is returned unchanged"
        );
    }
    // The calls above, and only those (this thread allocates nothing else meanwhile
    // except through `thread_stats`, which allocates nothing).
    assert!(inner.allocs.load(Relaxed) - a >= 2);
    assert_eq!(inner.zeroed.load(Relaxed) - z, 1);
    assert_eq!(inner.reallocs.load(Relaxed) - r, 1);
    assert!(inner.deallocs.load(Relaxed) - d >= 2);
    let after = allocsite::thread_stats();
    match (before, after) {
        (Ok(before), Ok(after)) => {
            // One plain and one zeroed allocation; the failed one is not counted.
            assert_eq!(after.allocations - before.allocations, 2);
            assert_eq!(after.reallocations - before.reallocations, 1);
            assert_eq!(after.deallocations - before.deallocations, 2);
            assert_eq!(
                after.bytes_allocated - before.bytes_allocated,
                64 + 64 + 128
            );
        }
        (before, after) => {
            assert!(!allocsite::tracking_enabled());
            assert_eq!(before, Err(allocsite::Error::TrackingDisabled));
            assert_eq!(after, Err(allocsite::Error::TrackingDisabled));
        }
    }
}
