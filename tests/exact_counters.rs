//! Exactness of the counters: a known set of allocations (1 byte to 4 MiB, alignments up to
//! 4096, zeroed, realloc growing and shrinking) gives exactly the expected figures.
//! Also compiled without the `track` feature, where it checks that tracking says it is off.

use std::alloc::{GlobalAlloc, Layout};

#[global_allocator]
static ALLOC: allocsite::Alloc = allocsite::Alloc::system();

/// Runs the known workload through the global allocator directly and returns what it did:
/// (allocations, reallocations, deallocations, bytes allocated, bytes freed).
fn known_workload() -> (u64, u64, u64, u64, u64) {
    let sizes = [1usize, 7, 16, 100, 4096, 65_536, 1 << 20, 4 << 20];
    let alignments = [1usize, 8, 64, 4096];
    let (mut allocations, mut reallocations, mut deallocations) = (0u64, 0u64, 0u64);
    let (mut allocated, mut freed) = (0u64, 0u64);
    for &size in &sizes {
        for &align in &alignments {
            let layout = Layout::from_size_align(size, align).unwrap();
            // SAFETY: `layout` has a non-zero size; every block is freed with its layout.
            unsafe {
                let plain = ALLOC.alloc(layout);
                let zeroed = ALLOC.alloc_zeroed(layout);
                assert!(!plain.is_null() && !zeroed.is_null());
                assert!(
                    std::slice::from_raw_parts(zeroed, size)
                        .iter()
                        .all(|&b| b == 0)
                );
                allocations += 2;
                allocated += 2 * size as u64;
                // Grow, then shrink.
                let grown = ALLOC.realloc(plain, layout, size * 3);
                let grown_layout = Layout::from_size_align(size * 3, align).unwrap();
                let shrunk = ALLOC.realloc(grown, grown_layout, size.div_ceil(2));
                let shrunk_layout = Layout::from_size_align(size.div_ceil(2), align).unwrap();
                reallocations += 2;
                allocated += (size * 3 + size.div_ceil(2)) as u64;
                freed += (size + size * 3) as u64;
                ALLOC.dealloc(shrunk, shrunk_layout);
                ALLOC.dealloc(zeroed, layout);
                deallocations += 2;
                freed += (size.div_ceil(2) + size) as u64;
            }
        }
    }
    (allocations, reallocations, deallocations, allocated, freed)
}

#[cfg(feature = "track")]
#[test]
fn thread_counters_are_exact_for_a_known_workload() {
    let before = allocsite::thread_stats().unwrap();
    let (allocations, reallocations, deallocations, allocated, freed) = known_workload();
    let after = allocsite::thread_stats().unwrap();
    assert_eq!(after.allocations - before.allocations, allocations);
    assert_eq!(after.reallocations - before.reallocations, reallocations);
    assert_eq!(after.deallocations - before.deallocations, deallocations);
    assert_eq!(after.bytes_allocated - before.bytes_allocated, allocated);
    assert_eq!(after.bytes_freed - before.bytes_freed, freed);
    assert_eq!(after.live_bytes, before.live_bytes);
    // The largest block alive at once was 3 × 4 MiB plus its 4 MiB zeroed twin.
    assert!(after.peak_live_bytes - before.live_bytes >= (16 << 20));
}

#[cfg(feature = "track")]
#[test]
fn thread_peak_and_live_bytes_follow_a_box() {
    let before = allocsite::thread_stats().unwrap();
    let block = std::hint::black_box(vec![0u8; 10_000]);
    let during = allocsite::thread_stats().unwrap();
    assert_eq!(during.live_bytes - before.live_bytes, 10_000);
    assert!(during.peak_live_bytes >= during.live_bytes);
    drop(block);
    let after = allocsite::thread_stats().unwrap();
    assert_eq!(after.live_bytes, before.live_bytes);
    assert_eq!(after.deallocations - before.deallocations, 1);
}

#[cfg(feature = "track")]
#[test]
fn process_counters_include_this_threads_work() {
    allocsite::check_installed().unwrap();
    let before = allocsite::stats().unwrap();
    let (allocations, _, _, allocated, _) = known_workload();
    let after = allocsite::stats().unwrap();
    // Other test threads may allocate too, so the process moved by at least our share.
    assert!(after.allocations - before.allocations >= allocations);
    assert!(after.bytes_allocated - before.bytes_allocated >= allocated);
    assert!(after.peak_live_bytes >= after.live_bytes);
    assert_eq!(
        after.total_blocks(),
        after.allocations + after.reallocations
    );
}

#[cfg(not(feature = "track"))]
#[test]
fn without_the_feature_tracking_reports_itself_off() {
    // The allocator still works as a pass-through.
    let _ = known_workload();
    assert!(!allocsite::tracking_enabled());
    assert_eq!(allocsite::stats(), Err(allocsite::Error::TrackingDisabled));
    assert_eq!(
        allocsite::thread_stats(),
        Err(allocsite::Error::TrackingDisabled)
    );
    assert_eq!(
        allocsite::check_installed(),
        Err(allocsite::Error::TrackingDisabled)
    );
    assert_eq!(
        allocsite::Error::TrackingDisabled.to_string(),
        "allocsite tracking is off: this build does not have the `track` cargo feature. \
         Enable it, e.g. `cargo test --features allocsite/track`, or \
         `features = [\"track\"]` on the allocsite dependency in Cargo.toml"
    );
}
