//! 8 threads × 100,000 allocations and frees of mixed sizes: the process totals move by
//! exactly the work done, and live bytes return to where they started.
//! Runs without libtest's harness so no other thread allocates meanwhile.

use std::sync::{Arc, Barrier};

#[global_allocator]
static ALLOC: allocsite::Alloc = allocsite::Alloc::system();

const THREADS: usize = 8;
const ROUNDS: usize = 100_000;

fn size_of_round(thread: usize, round: usize) -> usize {
    1 + (thread * 7919 + round * 104_729) % 2048
}

fn main() {
    if !allocsite::tracking_enabled() {
        assert_eq!(allocsite::stats(), Err(allocsite::Error::TrackingDisabled));
        println!("concurrency: tracking is off; checked that it says so");
        return;
    }
    allocsite::check_installed().unwrap();
    // Everyone meets four times: ready (start-up done), go (the main thread has read the
    // totals), done (work finished), read (the main thread has read them again), so the
    // totals are read while no thread allocates, not even to exit.
    let ready = Arc::new(Barrier::new(THREADS + 1));
    let go = Arc::new(Barrier::new(THREADS + 1));
    let done = Arc::new(Barrier::new(THREADS + 1));
    let read = Arc::new(Barrier::new(THREADS + 1));
    let workers: Vec<_> = (0..THREADS)
        .map(|thread| {
            let (ready, go, done, read) = (ready.clone(), go.clone(), done.clone(), read.clone());
            std::thread::spawn(move || {
                ready.wait();
                go.wait();
                let own_before = allocsite::thread_stats().unwrap();
                let mut kept: Vec<Vec<u8>> = Vec::with_capacity(64);
                for round in 0..ROUNDS {
                    let block = vec![thread as u8; size_of_round(thread, round)];
                    // Keep a few alive for a while so frees interleave with allocations.
                    if kept.len() == 64 {
                        kept.swap_remove(round % 64);
                    }
                    kept.push(std::hint::black_box(block));
                }
                drop(kept);
                let own_after = allocsite::thread_stats().unwrap();
                assert_eq!(
                    own_after.allocations - own_before.allocations,
                    ROUNDS as u64 + 1
                );
                done.wait();
                read.wait();
            })
        })
        .collect();
    ready.wait();
    let before = allocsite::stats().unwrap();
    go.wait();
    done.wait();
    let after = allocsite::stats().unwrap();
    read.wait();
    for worker in workers {
        worker.join().unwrap();
    }

    let expected_bytes: u64 = (0..THREADS)
        .flat_map(|thread| (0..ROUNDS).map(move |round| size_of_round(thread, round) as u64))
        .sum();
    // Each thread also allocated and freed its `kept` vector once (64 × 24 bytes).
    let kept_bytes = (THREADS * 64 * std::mem::size_of::<Vec<u8>>()) as u64;
    let expected_allocations = (THREADS * (ROUNDS + 1)) as u64;
    assert_eq!(after.allocations - before.allocations, expected_allocations);
    assert_eq!(
        after.deallocations - before.deallocations,
        expected_allocations
    );
    assert_eq!(after.reallocations, before.reallocations);
    assert_eq!(
        after.bytes_allocated - before.bytes_allocated,
        expected_bytes + kept_bytes
    );
    assert_eq!(
        after.bytes_freed - before.bytes_freed,
        expected_bytes + kept_bytes
    );
    assert_eq!(after.live_bytes, before.live_bytes);
    assert_eq!(after.live_blocks, before.live_blocks);
    println!(
        "concurrency: {} allocations across {THREADS} threads counted exactly; live bytes back to {}",
        expected_allocations, after.live_bytes
    );
}
