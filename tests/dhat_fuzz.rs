//! A bounded property test over the DHAT reader and validator: mutations of the real
//! fixtures (`viewer/tests/fixtures/*.json`) — truncation, bit flips, wrong types, huge,
//! negative and fractional numbers, deep nesting, duplicate program points, bad frame
//! indices, missing fields — never panic any reader, and each rejected file gets one message
//! that names the problem (a field, a program point, a frame or a line and column). Files
//! that are accepted go through every writer that starts from a file (summary, folded
//! stacks, pprof, the HTML converter) without a panic.
//!
//! Deterministic (a fixed seed per round) and bounded: `ALLOCSITE_FUZZ_CASES` mutations
//! (default 3,000), stopping early after 60 s.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use allocsite::report::dhat::DhatFile;
use allocsite::report::folded::{FoldedMetric, write_folded};
use allocsite::report::summary::write_summary;
use serde_json::{Value, json};

/// xorshift64*: small, deterministic, good enough to pick mutations.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

fn fixtures() -> Vec<(String, String)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("viewer/tests/fixtures");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| {
            path.extension().is_some_and(|e| e == "json") && !path.ends_with("frame-classes.json")
        })
        .collect();
    files.sort();
    files
        .into_iter()
        .map(|path| {
            let text = std::fs::read_to_string(&path).unwrap();
            (
                path.file_name().unwrap().to_string_lossy().into_owned(),
                text,
            )
        })
        .collect()
}

/// Every JSON path in `value` (object keys and array indices).
fn paths(value: &Value, prefix: &mut Vec<Value>, out: &mut Vec<Vec<Value>>) {
    out.push(prefix.clone());
    match value {
        Value::Object(map) => {
            for (key, child) in map {
                prefix.push(Value::String(key.clone()));
                paths(child, prefix, out);
                prefix.pop();
            }
        }
        Value::Array(items) => {
            for (i, child) in items.iter().enumerate() {
                prefix.push(json!(i));
                paths(child, prefix, out);
                prefix.pop();
            }
        }
        _ => {}
    }
}

fn at<'a>(value: &'a mut Value, path: &[Value]) -> &'a mut Value {
    path.iter().fold(value, |v, step| match step {
        Value::String(key) => &mut v[key.as_str()],
        other => &mut v[other.as_u64().unwrap() as usize],
    })
}

/// Replacements of any value: other types, and numbers a reader must not choke on.
fn hostile_value(rng: &mut Rng) -> Value {
    let options = [
        json!(null),
        json!(true),
        json!("text"),
        json!([]),
        json!({}),
        json!([1, 2]),
        json!(-1),
        json!(0),
        json!(1.5),
        json!(1e300),
        json!(-1e300),
        json!(u64::MAX),
        json!(i64::MIN),
        json!(f64::MIN_POSITIVE),
        json!("x".repeat(100_000)),
    ];
    options[rng.below(options.len())].clone()
}

/// One mutation of `text` (parsed as `original`), and the family it belongs to.
fn mutate(text: &str, original: &Value, rng: &mut Rng) -> (&'static str, String) {
    let mut value = original.clone();
    let pps = original["pps"].as_array().map_or(0, Vec::len);
    let frames = original["ftbl"].as_array().map_or(1, Vec::len);
    match rng.below(9) {
        0 => {
            let cut = rng.below(text.len());
            let cut = (0..=cut).rev().find(|i| text.is_char_boundary(*i)).unwrap();
            ("truncation", text[..cut].to_owned())
        }
        1 => {
            let mut bytes = text.as_bytes().to_vec();
            for _ in 0..1 + rng.below(3) {
                let i = rng.below(bytes.len());
                bytes[i] ^= 1 << rng.below(8);
            }
            ("bit flip", String::from_utf8_lossy(&bytes).into_owned())
        }
        2 => {
            let mut all = Vec::new();
            paths(original, &mut Vec::new(), &mut all);
            let path = &all[1 + rng.below(all.len() - 1)];
            *at(&mut value, path) = hostile_value(rng);
            ("wrong type or number", value.to_string())
        }
        3 => {
            let mut all = Vec::new();
            paths(original, &mut Vec::new(), &mut all);
            let path = &all[1 + rng.below(all.len() - 1)];
            let (last, parent) = path.split_last().unwrap();
            match (at(&mut value, parent), last) {
                (Value::Object(map), Value::String(key)) => {
                    map.remove(key);
                }
                (Value::Array(items), index) => {
                    items.remove(index.as_u64().unwrap() as usize);
                }
                _ => {}
            }
            ("missing field", value.to_string())
        }
        4 => {
            let depth = 100 + rng.below(2000);
            let nested = format!("{}1{}", "[".repeat(depth), "]".repeat(depth));
            let field = ["cmd", "pps", "tb", "allocsite"][rng.below(4)];
            if field == "tb" && pps > 0 {
                let p = rng.below(pps);
                value["pps"][p]["tb"] = json!("NESTED");
            } else {
                value[field] = json!("NESTED");
            }
            (
                "deep nesting",
                value.to_string().replace("\"NESTED\"", &nested),
            )
        }
        5 if pps > 0 => {
            let copy = value["pps"][rng.below(pps)].clone();
            let items = value["pps"].as_array_mut().unwrap();
            let place = rng.below(items.len() + 1);
            items.insert(place, copy);
            ("duplicate program point", value.to_string())
        }
        6 if pps > 0 => {
            let p = rng.below(pps);
            let bad = [
                json!(0),
                json!(-1),
                json!(frames),
                json!(frames + 1000),
                json!(1.5),
                json!(1e300),
                json!("1"),
                json!(null),
            ];
            let bad = bad[rng.below(bad.len())].clone();
            match value["pps"][p]["fs"].as_array_mut() {
                Some(fs) if !fs.is_empty() => {
                    let j = rng.below(fs.len());
                    fs[j] = bad;
                }
                _ => value["pps"][p]["fs"] = json!([bad]),
            }
            ("bad frame index", value.to_string())
        }
        7 => {
            let numbers = ["1e400", "-1e400", "18446744073709551616", "-0", "1e-400"];
            let mut all = Vec::new();
            paths(original, &mut Vec::new(), &mut all);
            let path = &all[1 + rng.below(all.len() - 1)];
            *at(&mut value, path) = json!("NUMBER");
            let number = numbers[rng.below(numbers.len())];
            (
                "huge number",
                value.to_string().replace("\"NUMBER\"", number),
            )
        }
        _ => {
            // Many program points: the stacks of the real ones, extended so they differ.
            let Some(items) = value["pps"].as_array().cloned() else {
                return ("many program points", value.to_string());
            };
            let mut grown = Vec::new();
            for round in 0..8usize {
                for pp in &items {
                    let mut pp = pp.clone();
                    if let Some(fs) = pp["fs"].as_array_mut() {
                        fs.extend(std::iter::repeat_n(json!(1), round));
                    }
                    grown.push(pp);
                }
            }
            value["pps"] = Value::Array(grown);
            ("many program points", value.to_string())
        }
    }
}

/// Words at least one of which a message naming the problem contains.
const NAMES: [&str; 12] = [
    "field",
    "program point",
    "ftbl",
    "line",
    "dhatFileVersion",
    "top level",
    "empty",
    "pps",
    "frame index",
    "stack",
    "number",
    "truncated",
];

/// The writers that start from a file, each of which must not panic.
fn write_everything(file: &DhatFile, text: &str, scratch: &Path) {
    // An error (a mode pprof has no equivalent for) is a message, not a failure.
    let _ = write_summary(file, 10, &mut Vec::new());
    for metric in [FoldedMetric::TotalBytes, FoldedMetric::TotalBlocks] {
        let _ = write_folded(file, metric, &mut Vec::new());
    }
    #[cfg(feature = "pprof")]
    let _ = allocsite::report::pprof::pprof_bytes(file, &Default::default());
    let input = scratch.join("in.json");
    std::fs::write(&input, text).unwrap();
    allocsite::report::html::convert_file(&input, &scratch.join("out.html")).unwrap();
}

#[test]
fn mutated_fixtures_never_panic_a_reader_and_every_rejection_names_its_problem() {
    let cases: usize = std::env::var("ALLOCSITE_FUZZ_CASES")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(3000);
    let scratch = std::env::temp_dir().join(format!("allocsite-fuzz-{}", std::process::id()));
    std::fs::create_dir_all(&scratch).unwrap();
    let fixtures = fixtures();
    let parsed: Vec<Value> = fixtures
        .iter()
        .map(|(_, text)| serde_json::from_str(text).unwrap())
        .collect();
    let started = Instant::now();
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let (mut accepted, mut rejected, mut done) = (0, 0, 0);
    let mut failures = Vec::new();
    let mut time_by_family = std::collections::BTreeMap::<&str, (usize, Duration)>::new();
    while done < cases && started.elapsed() < Duration::from_secs(60) {
        let which = rng.below(fixtures.len());
        let (name, text) = &fixtures[which];
        let (family, mutated) = mutate(text, &parsed[which], &mut rng);
        done += 1;
        let case_started = Instant::now();
        let outcome = catch_unwind(AssertUnwindSafe(|| match DhatFile::from_json(&mutated) {
            Ok(file) => {
                write_everything(&file, &mutated, &scratch);
                None
            }
            Err(error) => Some(error.0),
        }));
        let entry = time_by_family.entry(family).or_default();
        entry.0 += 1;
        entry.1 += case_started.elapsed();
        match outcome {
            Err(_) => failures.push(format!("{name}, {family} (case {done}): a reader panicked")),
            Ok(None) => accepted += 1,
            Ok(Some(message)) => {
                rejected += 1;
                if message.trim().is_empty() || !NAMES.iter().any(|n| message.contains(n)) {
                    failures.push(format!(
                        "{name}, {family} (case {done}): a message that names nothing: {message:?}"
                    ));
                }
                // Every reader says the same: the HTML converter refuses it with that message.
                let input = scratch.join("in.json");
                std::fs::write(&input, &mutated).unwrap();
                let html = allocsite::report::html::convert_file(&input, &scratch.join("x.html"));
                match html {
                    Err(error) if error.to_string().contains(&message) => {}
                    other => failures.push(format!(
                        "{name}, {family} (case {done}): the typed reader says {message:?}, the HTML converter {other:?}"
                    )),
                }
            }
        }
    }
    std::fs::remove_dir_all(&scratch).unwrap();
    for (family, (count, time)) in &time_by_family {
        println!(
            "dhat_fuzz: {family}: {count} cases, {:.2} s",
            time.as_secs_f64()
        );
    }
    println!(
        "dhat_fuzz: {done} mutations in {:.1} s: {accepted} accepted, {rejected} rejected",
        started.elapsed().as_secs_f64()
    );
    assert!(
        failures.is_empty(),
        "{} failures:\n{}",
        failures.len(),
        failures.join("\n")
    );
    assert!(
        done >= cases.min(500),
        "only {done} cases ran in the time bound"
    );
}
