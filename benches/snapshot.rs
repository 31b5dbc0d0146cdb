//! What a live profile costs (`allocsite::snapshot`, and so a dump or a scrape of
//! `examples/serve_pprof.rs`) and what it holds up meanwhile:
//!
//! - the whole snapshot, pprof and DHAT, wall and CPU time of the calling thread (the first,
//!   cold one separately: it loads the executable's debug info);
//! - its engine part alone (`__bench::snapshot_figures_only`): summing every thread's figures
//!   and one pass over each of the 64 live-block shards, the only part that takes locks a
//!   recording thread can wait on (each shard's lock for its own pass);
//! - the latency of recorded allocations (every allocation sampled) on another thread, with
//!   and without snapshots running back to back on this one.
//!
//! `cargo bench --features track --bench snapshot` (results in BENCHMARKS.md, "Live
//! profiles"). Runs are alternated between the formats; medians of 9.

use std::hint::black_box;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use allocsite::__bench::snapshot_figures_only;
use allocsite::SnapshotFormat;

#[global_allocator]
static ALLOC: allocsite::Alloc = allocsite::Alloc::system();

const RUNS: usize = 9;

/// CPU time of the calling thread.
fn thread_cpu() -> Duration {
    let mut now = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: writes the calling thread's CPU clock into a live `timespec`.
    unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut now) };
    Duration::new(now.tv_sec as u64, now.tv_nsec as u32)
}

/// Wall and CPU time of `f`.
fn timed(f: impl FnOnce()) -> (Duration, Duration) {
    let (wall, cpu) = (Instant::now(), thread_cpu());
    f();
    (wall.elapsed(), thread_cpu() - cpu)
}

fn median(mut values: Vec<Duration>) -> Duration {
    values.sort();
    values[values.len() / 2]
}

fn ms(duration: Duration) -> String {
    format!("{:.2} ms", duration.as_secs_f64() * 1e3)
}

// Distinct call stacks: `left`/`right` chosen by the bits of a site number, `depth` deep.
// Each does something after the call, so no call becomes a tail call and every path is
// its own stack.

#[inline(never)]
fn left(bits: u32, depth: u32, keep: &mut Vec<Vec<u8>>) -> usize {
    let kept = descend(bits, depth, keep);
    black_box(kept + 1)
}

#[inline(never)]
fn right(bits: u32, depth: u32, keep: &mut Vec<Vec<u8>>) -> usize {
    let kept = descend(bits, depth, keep);
    black_box(kept + 2)
}

#[inline(never)]
fn descend(bits: u32, depth: u32, keep: &mut Vec<Vec<u8>>) -> usize {
    if depth == 0 {
        keep.push(vec![bits as u8; 48]);
        return keep.len();
    }
    if bits & 1 == 0 {
        left(bits >> 1, depth - 1, keep)
    } else {
        right(bits >> 1, depth - 1, keep)
    }
}

/// Latencies (sorted) of `count` recorded allocate-and-free pairs on a new thread, while
/// `busy` runs on this thread (it is told to stop when the thread is done).
fn recording_latencies(count: usize, busy: impl FnOnce(&AtomicBool)) -> Vec<Duration> {
    let done = AtomicBool::new(false);
    std::thread::scope(|scope| {
        let worker = scope.spawn(|| {
            let mut latencies = Vec::with_capacity(count);
            for i in 0..count {
                let start = Instant::now();
                drop(black_box(vec![i as u8; 64]));
                latencies.push(start.elapsed());
            }
            done.store(true, Ordering::Relaxed);
            latencies
        });
        busy(&done);
        let mut latencies = worker.join().unwrap();
        latencies.sort();
        latencies
    })
}

fn quantile(sorted: &[Duration], q: f64) -> String {
    let at = ((sorted.len() - 1) as f64 * q).round() as usize;
    format!("{:.1} µs", sorted[at].as_secs_f64() * 1e6)
}

fn scenario(depth: u32, live: usize) {
    let sites = 1usize << depth;
    let profiler = allocsite::Profiler::builder()
        .sample_bytes(1)
        .no_json()
        .summary(false)
        .start()
        .unwrap();
    let mut keep = Vec::with_capacity(live);
    for i in 0..live {
        descend((i % sites) as u32, depth, &mut keep);
    }
    println!("\n{sites} sites, {live} live recorded blocks (every allocation recorded)");
    let (wall, cpu) = timed(|| drop(black_box(allocsite::snapshot(SnapshotFormat::Pprof))));
    println!(
        "  first pprof snapshot (cold)   {} wall, {} CPU",
        ms(wall),
        ms(cpu)
    );

    let (mut figures, mut pprof, mut dhat) = (Vec::new(), Vec::new(), Vec::new());
    let mut sizes = (0, 0);
    for _ in 0..RUNS {
        figures.push(timed(|| assert!(snapshot_figures_only())));
        pprof.push(timed(|| {
            sizes.0 = allocsite::snapshot(SnapshotFormat::Pprof).unwrap().len();
        }));
        dhat.push(timed(|| {
            sizes.1 = allocsite::snapshot(SnapshotFormat::Dhat).unwrap().len();
        }));
    }
    for (label, runs) in [
        ("engine part (figures only)", &figures),
        ("pprof snapshot", &pprof),
        ("DHAT snapshot", &dhat),
    ] {
        let wall = median(runs.iter().map(|r| r.0).collect());
        let cpu = median(runs.iter().map(|r| r.1).collect());
        println!(
            "  {label:29} {} wall, {} CPU (median of {RUNS})",
            ms(wall),
            ms(cpu)
        );
    }
    println!("  sizes: pprof {} bytes, DHAT {} bytes", sizes.0, sizes.1);

    let count = 200_000;
    let idle = recording_latencies(count, |done| {
        while !done.load(Ordering::Relaxed) {
            std::thread::sleep(Duration::from_millis(1));
        }
    });
    let mut snapshots = 0;
    let busy = recording_latencies(count, |done| {
        while !done.load(Ordering::Relaxed) {
            black_box(allocsite::snapshot(SnapshotFormat::Pprof).unwrap());
            snapshots += 1;
        }
    });
    for (label, sorted) in [("idle", &idle), ("snapshots running", &busy)] {
        println!(
            "  recorded alloc+free on another thread, {label:17}: p50 {}, p99 {}, p99.9 {}, max {}",
            quantile(sorted, 0.5),
            quantile(sorted, 0.99),
            quantile(sorted, 0.999),
            quantile(sorted, 1.0)
        );
    }
    println!("  ({snapshots} snapshots taken during {count} recorded pairs)");
    drop(profiler);
    drop(keep);
}

fn main() {
    if !allocsite::tracking_enabled() {
        println!("snapshot: needs --features track; skipped");
        return;
    }
    // `cargo bench` passes `--bench`; nothing to parse.
    println!(
        "allocsite snapshot costs (unwinder: {})",
        allocsite::__bench::unwinder().name()
    );
    scenario(4, 10_000);
    scenario(10, 10_000);
    scenario(10, 200_000);
}
