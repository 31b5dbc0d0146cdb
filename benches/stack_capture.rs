//! Cost of capturing a call stack with each unwinder, and of symbolizing one address.
//!
//! Run with `cargo bench --features track,criterion --bench stack_capture` (the default build:
//! the cached unwind tables), and once more with `RUSTFLAGS="-C force-frame-pointers=yes"`
//! (and its own `CARGO_TARGET_DIR`) to measure the frame-pointer walk. Each run measures the
//! unwinder detected in its build and the platform's unwinder beside it.

use allocsite::__bench::{MAX_FRAMES, TrimOptions, Unwinder, capture, frames_uncached, unwinder};
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use std::hint::black_box;
use std::time::{Duration, Instant};

/// Runs `f` `depth` frames below the caller.
#[inline(never)]
fn at_depth(depth: u32, f: &mut dyn FnMut()) {
    if depth == 0 {
        f();
    } else {
        at_depth(depth - 1, f);
        black_box(depth);
    }
}

/// Times `iters` captures made from a fresh thread, `extra` frames below its entry, so the
/// stack depth is known exactly (criterion's own stack is already ~15 frames deep).
fn timed_captures(u: Unwinder, extra: u32, iters: u64) -> (Duration, usize) {
    std::thread::spawn(move || {
        let mut result = (Duration::ZERO, 0);
        at_depth(extra, &mut || {
            let mut out = [0usize; MAX_FRAMES];
            let start = Instant::now();
            let mut frames = 0;
            for _ in 0..iters {
                frames = capture(u, black_box(&mut out));
            }
            result = (start.elapsed(), frames);
        });
        result
    })
    .join()
    .unwrap()
}

fn bench_capture(c: &mut Criterion) {
    let detected = unwinder();
    eprintln!("allocsite unwinder in this build: {}", detected.name());
    // The detected unwinder, and the platform's for comparison.
    let mut unwinders = vec![detected];
    if detected != Unwinder::UnwindTables {
        unwinders.push(Unwinder::UnwindTables);
    }
    // Frames a capture sees in a fresh thread with no extra depth (tables see the thread's
    // whole stack, down to `clone3`).
    let base = timed_captures(Unwinder::UnwindTables, 0, 1).1 as u32;
    let mut group = c.benchmark_group("capture");
    for u in unwinders {
        for frames in [10u32, 30] {
            let extra = frames.saturating_sub(base);
            let captured = timed_captures(u, extra, 1).1;
            eprintln!("  {}: {captured} frames captured", u.name());
            group.bench_function(BenchmarkId::new(u.name(), frames), |b| {
                b.iter_custom(|iters| timed_captures(u, extra, iters).0)
            });
        }
    }
    group.finish();
}

fn bench_symbolize(c: &mut Criterion) {
    let mut out = [0usize; MAX_FRAMES];
    let mut n = 0;
    at_depth(20, &mut || n = capture(Unwinder::UnwindTables, &mut out));
    let ips = &out[..n];
    let untrimmed = TrimOptions {
        top: false,
        bottom: false,
    };
    // Warm `backtrace`'s process-wide cache of parsed debug info first: the cost measured is
    // the steady state, per distinct address.
    black_box(frames_uncached(ips, untrimmed));
    let mut group = c.benchmark_group("symbolize");
    group.throughput(Throughput::Elements(n as u64));
    group.bench_function("per_address", |b| {
        b.iter(|| frames_uncached(black_box(ips), untrimmed))
    });
    group.finish();
}

criterion_group!(benches, bench_capture, bench_symbolize);
criterion_main!(benches);
