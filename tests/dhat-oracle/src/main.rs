//! Exact mode against the tool people use today: with `sample_bytes = 1`, a deterministic
//! workload gives the same total blocks and bytes in allocsite's profile as the `dhat`
//! crate reports for the same workload.
//!
//! `dhat::Alloc` is the inner allocator, so both see the same calls. The workload runs twice:
//! once under dhat's profiler (allocsite only counting), once under allocsite's (dhat idle).
//! A program of its own (run by allocsite's tests/dhat_oracle.rs), so no other thread
//! allocates meanwhile.

use std::collections::{BTreeMap, HashMap};
use std::hint::black_box;

#[global_allocator]
static ALLOC: allocsite::Alloc<dhat::Alloc> = allocsite::Alloc::new(dhat::Alloc);

/// Vec growth (realloc), String, Box, HashMap, BTreeMap, shrinking, frees.
#[inline(never)]
fn workload() -> usize {
    let mut words: Vec<String> = Vec::new();
    for i in 0..2000u32 {
        words.push(format!("word-{i}"));
    }
    let mut map: HashMap<String, Vec<u32>> = HashMap::new();
    for (i, word) in words.iter().enumerate() {
        map.entry(word[..6].to_string()).or_default().push(i as u32);
    }
    let mut tree = BTreeMap::new();
    for i in 0..500u32 {
        tree.insert(i, Box::new([i; 16]));
    }
    let mut buffer = Vec::with_capacity(10_000);
    buffer.extend(0..100u8);
    buffer.shrink_to_fit();
    let total = words.len() + map.len() + tree.len() + buffer.len();
    drop(black_box(words));
    black_box(total)
}

fn main() {
    assert!(
        allocsite::tracking_enabled(),
        "built with allocsite's `track`"
    );
    workload(); // warm up lazily initialised std state

    let dhat_profiler = dhat::Profiler::builder().testing().build();
    workload();
    let dhat_stats = dhat::HeapStats::get();
    drop(dhat_profiler);

    let path = std::env::temp_dir().join(format!("allocsite-oracle-{}.json", std::process::id()));
    let profiler = allocsite::Profiler::builder()
        .sample_bytes(1)
        .output(&path)
        .summary(false)
        .start()
        .unwrap();
    workload();
    let report = profiler.finish().unwrap();
    let file =
        allocsite::report::dhat::DhatFile::from_json(&std::fs::read_to_string(&path).unwrap())
            .unwrap();

    println!(
        "dhat_oracle: dhat {} blocks / {} bytes; allocsite {} blocks / {} bytes",
        dhat_stats.total_blocks, dhat_stats.total_bytes, report.total_blocks, report.total_bytes
    );
    assert_eq!(report.total_blocks, dhat_stats.total_blocks as f64);
    assert_eq!(report.total_bytes, dhat_stats.total_bytes as f64);
    assert_eq!(file.total_blocks(), dhat_stats.total_blocks as f64);
    assert_eq!(file.total_bytes(), dhat_stats.total_bytes as f64);
    std::fs::remove_file(path).unwrap();
}
