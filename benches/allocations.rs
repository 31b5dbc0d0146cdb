//! The same workloads measured three ways with criterion: allocations per iteration, bytes
//! allocated per iteration, and time.
//!
//! ```sh
//! cargo bench --features track,criterion --bench allocations
//! cargo bench --features track,criterion --bench allocations -- --save-baseline before
//! # ... change the code ...
//! cargo bench --features track,criterion --bench allocations -- --baseline before
//! ```
//!
//! Each measurement has its own group names (`allocations/…`, `bytes/…`, `time/…`): criterion
//! keeps results and baselines by benchmark id, so two measurements under one id would be
//! compared with each other.

use allocsite::criterion::{AllocatedBytes, Allocations};
use criterion::measurement::Measurement;
use criterion::{BatchSize, BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use std::hint::black_box;

#[global_allocator]
static ALLOC: allocsite::Alloc = allocsite::Alloc::system();

const LINE: &str = "id,name,email,city,country,joined";

/// One `String` per field, in a vector that grows as it goes.
fn fields_owned(line: &str) -> Vec<String> {
    line.split(',').map(String::from).collect()
}

/// Borrowed fields in a vector sized once.
fn fields_borrowed(line: &str) -> Vec<&str> {
    let mut fields = Vec::with_capacity(line.split(',').count());
    fields.extend(line.split(','));
    fields
}

/// `n` numbers pushed one by one (the vector reallocates as it doubles).
fn pushed(n: u64) -> Vec<u64> {
    let mut numbers = Vec::new();
    for i in 0..n {
        numbers.push(i);
    }
    numbers
}

/// `n` numbers collected into a vector allocated once.
fn collected(n: u64) -> Vec<u64> {
    (0..n).collect()
}

fn workloads<M: Measurement>(c: &mut Criterion<M>, measure: &str) {
    let fields = LINE.split(',').count() as u64;
    let mut group = c.benchmark_group(format!("{measure}/fields"));
    group.throughput(Throughput::Elements(fields));
    group.bench_function("owned", |b| b.iter(|| fields_owned(black_box(LINE))));
    group.bench_function("borrowed", |b| b.iter(|| fields_borrowed(black_box(LINE))));
    group.finish();

    let mut group = c.benchmark_group(format!("{measure}/numbers"));
    for n in [100u64, 10_000] {
        group.throughput(Throughput::Elements(n));
        group.bench_with_input(BenchmarkId::new("pushed", n), &n, |b, &n| {
            b.iter(|| pushed(black_box(n)))
        });
        group.bench_with_input(BenchmarkId::new("collected", n), &n, |b, &n| {
            b.iter(|| collected(black_box(n)))
        });
    }
    group.finish();

    // The input is built by `setup`, outside the measurement: only the sort's own
    // allocations count (a stable sort of this many elements allocates a scratch buffer).
    let mut group = c.benchmark_group(format!("{measure}/sort"));
    group.bench_function("stable", |b| {
        b.iter_batched(
            || {
                (0..10_000u32)
                    .map(|i| i.wrapping_mul(2_654_435_761))
                    .collect::<Vec<_>>()
            },
            |mut v| {
                v.sort();
                v
            },
            BatchSize::SmallInput,
        )
    });
    group.finish();
}

fn by_allocations(c: &mut Criterion<Allocations>) {
    workloads(c, "allocations");
}

fn by_bytes(c: &mut Criterion<AllocatedBytes>) {
    workloads(c, "bytes");
}

fn by_time(c: &mut Criterion) {
    workloads(c, "time");
}

criterion_group! {
    name = allocations;
    config = Criterion::default().with_measurement(Allocations);
    targets = by_allocations
}
criterion_group! {
    name = bytes;
    config = Criterion::default().with_measurement(AllocatedBytes);
    targets = by_bytes
}
criterion_group!(time, by_time);
criterion_main!(allocations, bytes, time);
