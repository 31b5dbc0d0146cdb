//! The micro-benchmarks every allocator configuration runs. Each configuration is its own
//! bench binary (it installs its own `#[global_allocator]`); all of them use the same group
//! names and put their configuration in the benchmark id, so criterion's output (and
//! `benches/micro.sh`'s table) lines them up: `alloc_free/<config>/<size>`,
//! `realloc_growth/<config>`, `alloc_free_2threads/<config>/64`.
#![allow(dead_code)]

use criterion::{BenchmarkId, Criterion, Throughput};
use std::hint::black_box;
use std::time::{Duration, Instant};

/// Block sizes of the alloc/free pairs: 16 B to 64 KiB.
pub const SIZES: &[usize] = &[16, 64, 256, 1024, 4096, 16384, 65536];

/// The configuration's label, prefixed with `BENCH_PREFIX` (micro.sh sets `fp:` for the
/// frame-pointer build).
pub fn label(config: &str) -> String {
    format!("{}{config}", std::env::var("BENCH_PREFIX").unwrap_or_default())
}

pub fn criterion() -> Criterion {
    Criterion::default()
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2))
        .sample_size(30)
        .configure_from_args()
}

#[inline(never)]
fn pair(size: usize) {
    // An alloc/free pair through the global allocator, not optimised away.
    let v: Vec<u8> = Vec::with_capacity(black_box(size));
    black_box(&v);
}

fn pairs_on_threads(threads: usize, size: usize, iters: u64) -> Duration {
    let barrier = std::sync::Arc::new(std::sync::Barrier::new(threads + 1));
    let handles: Vec<_> = (0..threads)
        .map(|_| {
            let barrier = barrier.clone();
            std::thread::spawn(move || {
                barrier.wait();
                for _ in 0..iters {
                    pair(size);
                }
            })
        })
        .collect();
    barrier.wait();
    let start = Instant::now();
    for h in handles {
        h.join().unwrap();
    }
    start.elapsed()
}

/// Registers every micro-benchmark under `config`.
pub fn all(c: &mut Criterion, config: &str) {
    let config = label(config);
    let mut group = c.benchmark_group("alloc_free");
    group.throughput(Throughput::Elements(1));
    for &size in SIZES {
        group.bench_with_input(BenchmarkId::new(&config, size), &size, |b, &size| b.iter(|| pair(size)));
    }
    group.finish();

    let mut group = c.benchmark_group("realloc_growth");
    // Vec<u32> grown by push to 1024 elements: one allocation and 8 reallocations, one free.
    group.bench_function(BenchmarkId::from_parameter(&config), |b| {
        b.iter(|| {
            let mut v: Vec<u32> = Vec::new();
            for i in 0..1024u32 {
                v.push(black_box(i));
            }
            black_box(v)
        })
    });
    group.finish();

    let mut group = c.benchmark_group("alloc_free_2threads");
    // Two threads each doing `iters` 64-byte pairs at once; time per pair per thread.
    group.bench_with_input(BenchmarkId::new(&config, 64), &64usize, |b, &size| {
        b.iter_custom(|iters| pairs_on_threads(2, size, iters))
    });
    group.finish();
}
