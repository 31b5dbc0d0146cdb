//! Sampling accuracy with the default mean (`DEFAULT_SAMPLE_BYTES`): on a workload of 1.25
//! million allocations (about 476 MB), every site holding at least 5% of the bytes is
//! estimated within ±10% and the totals within ±3%. The seed is fixed (42), so the run is
//! deterministic. The exact figures are known by construction.
//! Runs without libtest's harness so only this thread allocates.

use std::hint::black_box;

#[global_allocator]
static ALLOC: allocsite::Alloc = allocsite::Alloc::system();

const SEED: u64 = 42;

/// (function name, allocations, bytes each)
const SITES: [(&str, u64, u64); 4] = [
    ("small_blocks", 1_000_000, 64),
    ("medium_blocks", 200_000, 512),
    ("page_blocks", 50_000, 4096),
    ("huge_blocks", 100, 1 << 20),
];

#[inline(never)]
fn small_blocks(count: u64) {
    for i in 0..count {
        drop(black_box(vec![i as u8; 64]));
    }
}

#[inline(never)]
fn medium_blocks(count: u64) {
    for i in 0..count {
        drop(black_box(vec![i as u8; 512]));
    }
}

#[inline(never)]
fn page_blocks(count: u64) {
    for i in 0..count {
        drop(black_box(vec![i as u8; 4096]));
    }
}

#[inline(never)]
fn huge_blocks(count: u64) {
    for i in 0..count {
        drop(black_box(vec![i as u8; 1 << 20]));
    }
}

fn main() {
    if !allocsite::tracking_enabled() {
        println!("sampling_accuracy: needs --features track; skipped");
        return;
    }
    let path = std::env::temp_dir().join(format!("allocsite-sampling-{}.json", std::process::id()));
    let profiler = allocsite::Profiler::builder()
        .sample_bytes(allocsite::DEFAULT_SAMPLE_BYTES)
        .seed(SEED)
        .output(&path)
        .summary(false)
        .start()
        .unwrap();
    small_blocks(SITES[0].1);
    medium_blocks(SITES[1].1);
    page_blocks(SITES[2].1);
    huge_blocks(SITES[3].1);
    let report = profiler.finish().unwrap();
    let file: allocsite::report::dhat::DhatFile =
        serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    file.validate().unwrap();
    std::fs::remove_file(&path).unwrap();
    assert!(report.sampled);

    let exact_total: u64 = SITES.iter().map(|(_, count, size)| count * size).sum();
    let exact_blocks: u64 = SITES.iter().map(|(_, count, _)| count).sum();
    let relative = |estimate: f64, exact: u64| (estimate - exact as f64) / exact as f64;
    println!(
        "sampling_accuracy: mean {} bytes, seed {SEED}, {} samples for {} allocations",
        allocsite::DEFAULT_SAMPLE_BYTES,
        report.samples,
        exact_blocks
    );
    for (name, count, size) in SITES {
        let exact = count * size;
        assert!(
            exact as f64 >= 0.05 * exact_total as f64,
            "{name} holds ≥ 5% of bytes"
        );
        let estimate: f64 = file
            .program_points
            .iter()
            .filter(|p| p.frames.iter().any(|&f| file.frames[f].contains(name)))
            .map(|p| p.total_bytes)
            .sum();
        let error = relative(estimate, exact);
        println!(
            "  {name:14} exact {exact:>11} bytes, estimated {estimate:>13.0} ({:+.2}%)",
            100.0 * error
        );
        assert!(
            error.abs() <= 0.10,
            "{name}: {:+.2}% is outside ±10%",
            100.0 * error
        );
    }
    let total_error = relative(report.total_bytes, exact_total);
    let blocks_error = relative(report.total_blocks, exact_blocks);
    println!(
        "  total bytes {:+.2}%, total blocks {:+.2}%",
        100.0 * total_error,
        100.0 * blocks_error
    );
    assert!(
        total_error.abs() <= 0.03,
        "total bytes {:+.2}% is outside ±3%",
        100.0 * total_error
    );
    assert!(
        blocks_error.abs() <= 0.03,
        "total blocks {:+.2}% is outside ±3%",
        100.0 * blocks_error
    );
}
