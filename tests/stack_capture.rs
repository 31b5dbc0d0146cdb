//! `capture` must not allocate: it runs inside `GlobalAlloc::alloc`. This test binary installs
//! its own counting allocator, so it lives in its own integration-test file.
#![cfg(feature = "track")]

use allocsite::__bench::{MAX_FRAMES, Unwinder, capture, flush_rule_cache, unwinder};
use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

thread_local! {
    static ALLOCATIONS: Cell<usize> = const { Cell::new(0) };
}

struct Counting;

// SAFETY: forwards to `System` unchanged; only counts, in a const thread-local that never
// allocates.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let _ = ALLOCATIONS.try_with(|c| c.set(c.get() + 1));
        // SAFETY: same contract as ours.
        unsafe { System.alloc(layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let _ = ALLOCATIONS.try_with(|c| c.set(c.get() + 1));
        // SAFETY: same contract as ours.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: same contract as ours.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static ALLOC: Counting = Counting;

fn allocations_during(f: impl FnOnce()) -> usize {
    let before = ALLOCATIONS.with(Cell::get);
    f();
    ALLOCATIONS.with(Cell::get) - before
}

#[test]
fn capture_never_allocates() {
    let detected = unwinder();
    let mut unwinders = vec![Unwinder::UnwindTables];
    if detected != Unwinder::UnwindTables {
        unwinders.push(detected);
    }
    for u in unwinders {
        // Every rule of the cached unwinder is computed again: misses must not allocate either.
        flush_rule_cache();
        // Also on a fresh thread, where the first capture fills the stack-bounds cache.
        let allocated = std::thread::spawn(move || {
            let mut out = [0; MAX_FRAMES];
            allocations_during(|| {
                for _ in 0..100 {
                    assert!(capture(u, &mut out) > 0);
                }
            })
        })
        .join()
        .unwrap();
        assert_eq!(allocated, 0, "{u:?} allocated");
    }
}
