//! Faults that must not skew a scope's figures: a realloc the inner allocator refuses, and a
//! thread created by C code whose very first allocation happens inside a scope.
#![cfg(feature = "track")]

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::hint::black_box;

/// The system allocator, except that a realloc fails while this thread asks it to.
struct RefusesRealloc;

thread_local! {
    static REFUSE: Cell<bool> = const { Cell::new(false) };
}

// SAFETY: forwards to `System`, or returns null from `realloc` (leaving the block valid),
// which the `GlobalAlloc` contract allows.
unsafe impl GlobalAlloc for RefusesRealloc {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: the caller's contract.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, pointer: *mut u8, layout: Layout) {
        // SAFETY: the caller's contract.
        unsafe { System.dealloc(pointer, layout) }
    }
    unsafe fn realloc(&self, pointer: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        if REFUSE.with(Cell::get) {
            return std::ptr::null_mut();
        }
        // SAFETY: the caller's contract.
        unsafe { System.realloc(pointer, layout, new_size) }
    }
}

#[global_allocator]
static ALLOC: allocsite::Alloc<RefusesRealloc> = allocsite::Alloc::new(RefusesRealloc);

#[test]
fn a_failed_realloc_inside_a_scope_leaves_the_block_counted_once() {
    let ((), usage) = allocsite::measure(|| {
        let layout = Layout::from_size_align(1000, 8).unwrap();
        // SAFETY: a valid layout; the block is freed below with the same layout.
        let block = unsafe { std::alloc::alloc(layout) };
        assert!(!block.is_null());
        REFUSE.with(|refuse| refuse.set(true));
        // SAFETY: `block` came from the global allocator with `layout`.
        let grown = unsafe { std::alloc::realloc(block, layout, 4000) };
        REFUSE.with(|refuse| refuse.set(false));
        assert!(grown.is_null());
        // SAFETY: the failed realloc left `block` valid, with `layout`.
        unsafe { std::alloc::dealloc(block, layout) };
    })
    .unwrap();
    assert_eq!(
        (usage.allocations, usage.reallocations, usage.deallocations),
        (1, 0, 1)
    );
    assert_eq!((usage.bytes_allocated, usage.bytes_freed), (1000, 1000));
    assert_eq!((usage.leaked_blocks, usage.leaked_bytes), (0, 0));
}

#[test]
fn a_failed_realloc_of_a_profiled_block_keeps_it_live_until_freed() {
    let dir = std::env::temp_dir().join(format!("allocsite-realloc-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("profile.json");
    let profiler = allocsite::Profiler::builder()
        .sample_bytes(1)
        .output(&path)
        .summary(false)
        .start()
        .unwrap();
    let layout = Layout::from_size_align(1000, 8).unwrap();
    // SAFETY: as above; the block is still live when the profile ends.
    let block = unsafe { std::alloc::alloc(layout) };
    REFUSE.with(|refuse| refuse.set(true));
    // SAFETY: as above.
    assert!(unsafe { std::alloc::realloc(block, layout, 4000) }.is_null());
    REFUSE.with(|refuse| refuse.set(false));
    let report = profiler.finish().unwrap();
    // SAFETY: still the block allocated with `layout`.
    unsafe { std::alloc::dealloc(block, layout) };
    assert!(
        report.end_bytes >= 1000.0,
        "the block is still live at the end: {report:?}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

/// A thread created with `pthread_create` directly, whose first allocation ever is inside
/// `measure`: the scope must see it (the thread's first allocation sets up its state, and
/// must not reset the scope).
#[test]
fn a_c_thread_s_first_allocation_counts_in_its_scope() {
    extern "C" fn body(result: *mut libc::c_void) -> *mut libc::c_void {
        let measured = allocsite::measure(|| black_box(vec![1u8; 100]));
        let (vector, usage) = measured.unwrap();
        // SAFETY: `result` points to the parent's `u64`, alive until the join below.
        unsafe { *result.cast::<u64>() = usage.allocations * 1000 + usage.bytes_allocated };
        drop(vector);
        std::ptr::null_mut()
    }
    let mut figures = 0u64;
    on_a_c_thread(body, &mut figures);
    assert_eq!(figures, 1100, "1 allocation of 100 bytes");
}

/// Runs `body` as the start routine of a thread created with `pthread_create` directly (no
/// std: the thread has allocated nothing when `body` starts) and joins it.
fn on_a_c_thread(body: extern "C" fn(*mut libc::c_void) -> *mut libc::c_void, data: *mut u64) {
    // allocsite checks once per process that it is installed, with an allocation: done
    // here, so that `body`'s first allocation is the thread's first.
    let _ = allocsite::measure(|| ());
    // SAFETY: a zeroed `pthread_t` filled by `pthread_create`; `data` outlives the thread
    // (joined before returning).
    unsafe {
        let mut thread: libc::pthread_t = std::mem::zeroed();
        assert_eq!(
            libc::pthread_create(&mut thread, std::ptr::null(), body, data.cast()),
            0
        );
        assert_eq!(libc::pthread_join(thread, std::ptr::null_mut()), 0);
    }
}

/// `assert_no_alloc!` as the first thing a C thread does: the allocation inside is the
/// thread's first, and must still break the budget (it used to erase the scope and pass).
#[test]
fn assert_no_alloc_sees_a_c_thread_s_first_allocation() {
    extern "C" fn body(result: *mut libc::c_void) -> *mut libc::c_void {
        let outcome = std::panic::catch_unwind(|| {
            allocsite::assert_no_alloc!(black_box(vec![1u8; 100]).len())
        });
        // SAFETY: `result` points to the parent's `u64`, alive until the join.
        unsafe { *result.cast::<u64>() = u64::from(outcome.is_err()) };
        std::ptr::null_mut()
    }
    let mut broke = 0u64;
    on_a_c_thread(body, &mut broke);
    assert_eq!(
        broke, 1,
        "assert_no_alloc! must fail on the C thread's allocation"
    );
}
