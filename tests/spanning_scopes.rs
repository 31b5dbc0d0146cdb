//! `measure_with_spawned_threads` counts the threads its closure starts — directly or
//! through threads they start — and never a thread started elsewhere, even while many other
//! tests start threads in parallel (CI runs this binary 50 times with 16 test threads).
#![cfg(feature = "track")]

use std::hint::black_box;
use std::sync::{Arc, Barrier};

#[global_allocator]
static ALLOC: allocsite::Alloc = allocsite::Alloc::system();

/// A spanning scope whose threads (and their threads) allocate 11,000 bytes; strangers
/// started by other tests meanwhile allocate megabytes, which must never show here.
fn spanning_scope_counts_its_own_threads_only() {
    let ((), usage) = allocsite::measure_with_spawned_threads(|| {
        let children: Vec<_> = (0..2)
            .map(|_| {
                std::thread::spawn(|| {
                    drop(black_box(vec![1u8; 5000]));
                    std::thread::spawn(|| drop(black_box(vec![2u8; 500])))
                        .join()
                        .unwrap();
                })
            })
            .collect();
        for child in children {
            child.join().unwrap();
        }
    })
    .unwrap();
    // 11,000 bytes of work plus std's bookkeeping for four threads (a few hundred bytes).
    assert!(
        (11_000..20_000).contains(&usage.bytes_allocated),
        "{usage:?}"
    );
}

#[test]
fn spanning_scope_a() {
    spanning_scope_counts_its_own_threads_only();
}

#[test]
fn spanning_scope_b() {
    spanning_scope_counts_its_own_threads_only();
}

/// Ordinary tests that start threads allocating a megabyte each, beside the spanning ones.
fn stranger(seed: u8) {
    let threads: Vec<_> = (0..3)
        .map(|i| std::thread::spawn(move || drop(black_box(vec![seed ^ i; 1 << 20]))))
        .collect();
    let ((), usage) = allocsite::measure(|| drop(black_box(vec![seed; 64]))).unwrap();
    assert_eq!((usage.allocations, usage.bytes_allocated), (1, 64));
    for thread in threads {
        thread.join().unwrap();
    }
}

#[test]
fn stranger_1() {
    stranger(1);
}
#[test]
fn stranger_2() {
    stranger(2);
}
#[test]
fn stranger_3() {
    stranger(3);
}
#[test]
fn stranger_4() {
    stranger(4);
}
#[test]
fn stranger_5() {
    stranger(5);
}
#[test]
fn stranger_6() {
    stranger(6);
}

#[test]
fn threads_the_closure_starts_count_and_their_children_too() {
    let ((), usage) = allocsite::measure_with_spawned_threads(|| {
        std::thread::spawn(|| {
            drop(black_box(vec![1u8; 100]));
            std::thread::spawn(|| drop(black_box(vec![2u8; 1000])))
                .join()
                .unwrap();
        })
        .join()
        .unwrap();
    })
    .unwrap();
    assert!(usage.bytes_allocated >= 1100, "{usage:?}");
}

#[test]
fn a_thread_started_elsewhere_during_the_scope_does_not_join_it() {
    let start = Arc::new(Barrier::new(2));
    let done = Arc::new(Barrier::new(2));
    let (s, d) = (start.clone(), done.clone());
    // A stranger: started before the scope, allocates 1 MiB while it is open.
    let stranger = std::thread::spawn(move || {
        s.wait();
        drop(black_box(vec![0u8; 1 << 20]));
        d.wait();
    });
    let ((), usage) = allocsite::measure_with_spawned_threads(|| {
        start.wait();
        done.wait();
    })
    .unwrap();
    stranger.join().unwrap();
    assert!(
        usage.bytes_allocated < 1 << 20,
        "the stranger's megabyte was counted: {usage:?}"
    );
}
