//! What measuring a future costs per poll: entering its scope before the poll and leaving it
//! after, against the same poll unmeasured; and the one-time cost of a measured future
//! (opening its scope at the first poll, closing it and building its `Usage` at the end).
//!
//! ```sh
//! cargo bench --features track,criterion --bench scope_entry
//! # Instructions per poll, with callgrind (the bench binary polls N times and exits):
//! ALLOCSITE_BENCH_POLLS=1000000 ALLOCSITE_BENCH_KIND=measured \
//!   valgrind --tool=callgrind --callgrind-out-file=/dev/null target/release/deps/scope_entry-…
//! ```
//!
//! The polled future is never ready and allocates nothing, so the difference between the
//! `plain` and `measured` rows is the scope's entry and exit alone (`in_scope`: a future
//! carrying a scope with `ScopeHandle::wrap`). BENCHMARKS.md has the figures.

use std::future::Future;
use std::hint::black_box;
use std::pin::{Pin, pin};
use std::task::{Context, Poll, Waker};

use criterion::Criterion;

#[global_allocator]
static ALLOC: allocsite::Alloc = allocsite::Alloc::system();

/// Never ready; allocates nothing.
struct Never(u64);

impl Future for Never {
    type Output = ();
    #[inline(never)]
    fn poll(mut self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<()> {
        self.0 = black_box(self.0 + 1);
        Poll::Pending
    }
}

fn poll<F: Future>(future: Pin<&mut F>, cx: &mut Context<'_>) -> bool {
    black_box(future.poll(cx)).is_pending()
}

/// A handle of a scope (closed by now: entering it costs the same, and the never-ready future
/// allocates nothing that would look the scope up).
fn carried_scope() -> allocsite::ScopeHandle {
    let (handle, _) = allocsite::measure(allocsite::ScopeHandle::current).unwrap();
    assert!(!handle.is_none());
    handle
}

fn per_poll(c: &mut Criterion) {
    let mut cx = Context::from_waker(Waker::noop());
    let mut group = c.benchmark_group("poll");
    let mut plain = pin!(Never(0));
    group.bench_function("plain", |b| b.iter(|| poll(plain.as_mut(), &mut cx)));
    let mut measured = pin!(allocsite::measure_future(Never(0)));
    // The first poll opens the scope; every later poll enters and leaves it.
    assert!(poll(measured.as_mut(), &mut cx));
    group.bench_function("measured", |b| b.iter(|| poll(measured.as_mut(), &mut cx)));
    let mut carried = pin!(carried_scope().wrap(Never(0)));
    group.bench_function("in_scope", |b| b.iter(|| poll(carried.as_mut(), &mut cx)));
    group.finish();

    // The fixed cost, beside a closure's scope for comparison.
    let mut group = c.benchmark_group("whole scope");
    group.bench_function("measure closure", |b| {
        b.iter(|| allocsite::measure(|| black_box(1)).map(|(value, _)| value))
    });
    group.bench_function("measure_future, ready", |b| {
        b.iter(|| {
            let mut future = pin!(allocsite::measure_future(std::future::ready(black_box(1))));
            black_box(future.as_mut().poll(&mut cx))
        })
    });
    group.finish();
}

/// `ALLOCSITE_BENCH_POLLS=n` (and `ALLOCSITE_BENCH_KIND=plain|measured|in_scope|whole`): poll `n`
/// times (`whole`: measure `n` ready futures) and exit, for callgrind and `time`.
fn polls_only(polls: u64) {
    let mut cx = Context::from_waker(Waker::noop());
    let kind = std::env::var("ALLOCSITE_BENCH_KIND").unwrap_or_default();
    if kind == "whole" {
        for _ in 0..polls {
            let mut future = pin!(allocsite::measure_future(std::future::ready(black_box(1))));
            let _ = black_box(future.as_mut().poll(&mut cx));
        }
    } else if kind == "measured" {
        let mut measured = pin!(allocsite::measure_future(Never(0)));
        for _ in 0..polls {
            poll(measured.as_mut(), &mut cx);
        }
    } else if kind == "in_scope" {
        let mut carried = pin!(carried_scope().wrap(Never(0)));
        for _ in 0..polls {
            poll(carried.as_mut(), &mut cx);
        }
    } else {
        let mut plain = pin!(Never(0));
        for _ in 0..polls {
            poll(plain.as_mut(), &mut cx);
        }
    }
}

fn main() {
    if let Some(polls) = std::env::var("ALLOCSITE_BENCH_POLLS")
        .ok()
        .and_then(|polls| polls.parse().ok())
    {
        polls_only(polls);
        return;
    }
    let mut criterion = Criterion::default().configure_from_args();
    per_poll(&mut criterion);
    criterion.final_summary();
}
