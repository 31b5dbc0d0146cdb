//! Whole-program workloads for comparing allocators and heap profilers, and the bits every
//! configuration binary shares (argument parsing, timing, the result line).
//!
//! Each binary in `src/bin/` installs its own `#[global_allocator]` and calls [`run`]. The
//! `compare` binary runs them as whole processes, alternating, and prints medians.
//!
//! Every workload does the same work whatever the allocator; `WORKLOAD_SCALE` (a float,
//! default 1) scales the iteration counts for quick trials only.

use std::collections::BTreeMap;
use std::hint::black_box;
use std::time::Instant;

/// The workloads, by the name used on the command line.
pub const WORKLOADS: &[&str] = &["churn", "tree", "json", "churn2"];

fn scale() -> f64 {
    std::env::var("WORKLOAD_SCALE").ok().and_then(|s| s.parse().ok()).unwrap_or(1.0)
}

fn scaled(n: usize) -> usize {
    ((n as f64 * scale()) as usize).max(1)
}

/// A small deterministic generator, so every run does identical work.
#[derive(Clone)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }
    pub fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n
    }
}

struct Item {
    name: String,
    values: Vec<u32>,
    boxed: Box<[u64; 4]>,
    blob: Option<Vec<u8>>,
}

/// Allocation churn: per iteration a `format!` string, a `Vec<u32>` grown by `push` (so a few
/// reallocs), a `Box`, and every 16th iteration a zeroed buffer of 1 KiB to 64 KiB. Items live
/// in a ring of 4096 slots, so frees happen in a different order from allocations and a few
/// MiB stay live.
pub fn churn(iterations: usize, seed: u64) -> u64 {
    let mut rng = Rng::new(seed);
    let mut ring: Vec<Option<Item>> = (0..4096).map(|_| None).collect();
    let mut checksum = 0u64;
    for i in 0..iterations {
        let len = rng.below(48) as u32;
        let mut values = Vec::new();
        for v in 0..len {
            values.push(v ^ i as u32);
        }
        let blob = (i % 16 == 0).then(|| vec![i as u8; 1024 << rng.below(7)]);
        let item = Item {
            name: format!("item-{i}-{}", rng.next_u64() % 100_000),
            values,
            boxed: Box::new([i as u64; 4]),
            blob,
        };
        let slot = rng.below(4096) as usize;
        if let Some(old) = ring[slot].replace(black_box(item)) {
            checksum = checksum
                .wrapping_add(old.name.len() as u64)
                .wrapping_add(old.values.len() as u64)
                .wrapping_add(old.boxed[0])
                .wrapping_add(old.blob.map_or(0, |b| b.len() as u64));
        }
    }
    checksum
}

/// Builds a `BTreeMap<String, Vec<u32>>` of `keys` entries (random keys, values of 0..32
/// elements), looks every key up once, and drops it. Repeated `rounds` times.
pub fn tree(keys: usize, rounds: usize) -> u64 {
    let mut checksum = 0u64;
    for round in 0..rounds {
        let mut rng = Rng::new(round as u64 + 7);
        let mut map: BTreeMap<String, Vec<u32>> = BTreeMap::new();
        for i in 0..keys {
            let key = format!("key-{:016x}", rng.next_u64());
            let values: Vec<u32> = (0..rng.below(32) as u32).map(|v| v + i as u32).collect();
            map.insert(key, values);
        }
        let mut rng = Rng::new(round as u64 + 7);
        for _ in 0..keys {
            let key = format!("key-{:016x}", rng.next_u64());
            rng.next_u64();
            checksum = checksum.wrapping_add(map.get(&key).map_or(0, |v| v.len() as u64));
        }
        drop(black_box(map));
    }
    checksum
}

/// Generates a JSON document of about `target_bytes` as a `serde_json::Value`, serialises it,
/// then `rounds` times parses the text back into a `Value` and serialises that.
pub fn json(target_bytes: usize, rounds: usize) -> u64 {
    use serde_json::{Value, json};
    let mut rng = Rng::new(42);
    let mut records = Vec::new();
    let mut approx = 0usize;
    let mut id = 0u64;
    while approx < target_bytes {
        let tags: Vec<Value> =
            (0..rng.below(6)).map(|t| Value::String(format!("tag{}", rng.below(1000) + t))).collect();
        let scores: Vec<Value> =
            (0..rng.below(8)).map(|_| json!(rng.below(1_000_000) as f64 / 1000.0)).collect();
        let record = json!({
            "id": id,
            "name": format!("user-{:x}", rng.next_u64()),
            "email": format!("u{}@example.{}", rng.below(1_000_000), ["com", "org", "net"][rng.below(3) as usize]),
            "active": rng.below(2) == 0,
            "tags": tags,
            "scores": scores,
            "address": { "street": format!("{} Main St", rng.below(9999)), "zip": format!("{:05}", rng.below(99999)) },
        });
        approx += 200;
        id += 1;
        records.push(record);
    }
    let document = Value::Array(records);
    let mut text = serde_json::to_string(&document).unwrap();
    drop(document);
    let mut checksum = text.len() as u64;
    for _ in 0..rounds {
        let parsed: Value = serde_json::from_str(&text).unwrap();
        checksum = checksum.wrapping_add(parsed.as_array().map_or(0, |a| a.len() as u64));
        text = serde_json::to_string(&parsed).unwrap();
        drop(black_box(parsed));
    }
    checksum.wrapping_add(text.len() as u64)
}

/// Iterations of [`churn`] per thread.
pub fn churn_iterations() -> usize {
    scaled(1_000_000)
}

/// Runs the named workload; returns a checksum so nothing is optimised away.
pub fn run_workload(name: &str) -> u64 {
    match name {
        "churn" => churn(churn_iterations(), 1),
        "tree" => tree(scaled(120_000), 3),
        "json" => json(scaled(20 << 20), 2),
        "churn2" => {
            let threads: Vec<_> = (0..2u64)
                .map(|t| std::thread::spawn(move || churn(churn_iterations(), t + 1)))
                .collect();
            threads.into_iter().map(|t| t.join().unwrap()).fold(0, u64::wrapping_add)
        }
        other => panic!("unknown workload {other:?}; expected one of {WORKLOADS:?}"),
    }
}

/// Command line of a configuration binary: `<bin> <workload> [key[=value]]...`.
pub struct Args {
    pub workload: String,
    pub options: Vec<(String, String)>,
}

impl Args {
    pub fn parse() -> Args {
        let mut args = std::env::args().skip(1);
        let workload = args.next().unwrap_or_else(|| {
            eprintln!("usage: <bin> <workload: {}> [option[=value]]...", WORKLOADS.join("|"));
            std::process::exit(2)
        });
        let options = args
            .map(|a| match a.split_once('=') {
                Some((k, v)) => (k.to_string(), v.to_string()),
                None => (a, String::new()),
            })
            .collect();
        Args { workload, options }
    }

    pub fn get(&self, key: &str) -> Option<&str> {
        self.options.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
    }

    pub fn number(&self, key: &str) -> Option<u64> {
        self.get(key).map(|v| v.parse().unwrap_or_else(|_| panic!("{key}={v}: not a number")))
    }
}

/// Times `work` (the workload only), then prints the result line the `compare` driver reads:
/// `RESULT work_s=.. allocs=.. maxrss_kb=..`. `allocs` is the number of allocations plus
/// reallocations, where the configuration can count them, else `-`.
pub fn timed<R>(work: impl FnOnce() -> R) -> (R, f64) {
    let start = Instant::now();
    let result = work();
    (result, start.elapsed().as_secs_f64())
}

pub fn print_result(work_s: f64, allocs: Option<u64>, checksum: u64) {
    // SAFETY: getrusage with a valid out-pointer.
    let maxrss_kb = unsafe {
        let mut usage: libc::rusage = std::mem::zeroed();
        libc::getrusage(libc::RUSAGE_SELF, &mut usage);
        usage.ru_maxrss
    };
    let allocs = allocs.map_or("-".to_string(), |n| n.to_string());
    println!("RESULT work_s={work_s:.6} allocs={allocs} maxrss_kb={maxrss_kb} checksum={checksum}");
}

/// A per-process scratch path for profile output, removed by the caller.
pub fn scratch_path(tool: &str) -> std::path::PathBuf {
    std::env::temp_dir().join(format!("allocsite-bench-{tool}-{}.json", std::process::id()))
}
