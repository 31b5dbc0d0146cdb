//! The Profiler end to end, in exact mode (`sample_bytes = 1`): attribution to source lines
//! (through Vec, String, Box, HashMap, recursion and inlining), DHAT output that validates,
//! cross-thread frees with 8 threads, folded stacks, errors (starting twice, unwritable
//! path). One profiler runs at a time in a process, so the tests take a lock.
#![cfg(feature = "track")]

use std::collections::HashMap;
use std::hint::black_box;
use std::path::PathBuf;
use std::sync::Mutex;

use allocsite::report::dhat::DhatFile;

#[global_allocator]
static ALLOC: allocsite::Alloc = allocsite::Alloc::system();

static ONE_PROFILER: Mutex<()> = Mutex::new(());

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("allocsite-profiler-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(name)
}

/// A profiler recording every allocation into `path`, quietly.
fn start_exact(path: &PathBuf) -> allocsite::Profiler {
    allocsite::Profiler::builder()
        .sample_bytes(1)
        .output(path)
        .summary(false)
        .start()
        .unwrap()
}

fn read(path: &PathBuf) -> DhatFile {
    let file: DhatFile = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    file.validate().unwrap();
    file
}

/// Total bytes and blocks of the program points with a frame mentioning `needle`.
fn figures_at(file: &DhatFile, needle: &str) -> (f64, f64, f64) {
    file.program_points
        .iter()
        .filter(|point| {
            point
                .frames
                .iter()
                .any(|&f| file.frames[f].contains(needle))
        })
        .fold((0.0, 0.0, 0.0), |(bytes, blocks, end), p| {
            (
                bytes + p.total_bytes,
                blocks + p.total_blocks,
                end + p.end_bytes.unwrap_or(0.0),
            )
        })
}

#[inline(never)]
fn make_vec() -> Vec<u64> {
    Vec::with_capacity(black_box(1000)) // line A: 8000 bytes
}

#[inline(never)]
fn make_string() -> String {
    "abc".repeat(black_box(700)) // line B: 2100 bytes
}

#[inline(never)]
fn make_box() -> Box<[u8; 3000]> {
    Box::new(black_box([9u8; 3000])) // line C: 3000 bytes
}

#[inline(never)]
fn make_map() -> HashMap<u64, u64> {
    let mut map = HashMap::with_capacity(black_box(100)); // line D
    map.insert(1, 1);
    map
}

#[inline(never)]
fn recurse(depth: u32, out: &mut Vec<Vec<u8>>) {
    let block = vec![depth as u8; 111]; // line E: 111 bytes per level
    out.push(block);
    if depth > 0 {
        recurse(depth - 1, out);
    }
}

#[inline(always)]
fn inlined_helper() -> Vec<u8> {
    vec![1u8; black_box(4444)] // line F: inlined into its caller
}

#[inline(never)]
fn calls_inlined_helper() -> Vec<u8> {
    inlined_helper()
}

fn line_of(needle: &str) -> u32 {
    let source = include_str!("profiler.rs");
    let index = source
        .lines()
        .position(|line| line.contains(needle) && line.contains("// line"))
        .unwrap();
    index as u32 + 1
}

#[test]
fn allocations_are_attributed_to_their_source_lines() {
    let _one = ONE_PROFILER
        .lock()
        .unwrap_or_else(|poison| poison.into_inner());
    let path = scratch("attribution.json");
    let profiler = start_exact(&path);
    let kept = (
        make_vec(),
        make_string(),
        make_box(),
        make_map(),
        calls_inlined_helper(),
    );
    let mut levels = Vec::new();
    recurse(9, &mut levels);
    let report = profiler.finish().unwrap();
    assert_eq!(report.written, vec![path.clone()]);
    assert!(!report.sampled);
    let file = read(&path);

    let at = |marker: &str| figures_at(&file, &format!("tests/profiler.rs:{}:", line_of(marker)));
    assert_eq!(at("line A"), (8000.0, 1.0, 8000.0));
    assert_eq!(at("line B").0, 2100.0);
    assert_eq!(at("line C"), (3000.0, 1.0, 3000.0));
    assert_eq!(
        at("line D").1,
        1.0,
        "HashMap::with_capacity allocates its table once"
    );
    assert_eq!(at("line F"), (4444.0, 1.0, 4444.0));
    // Ten levels of recursion, each allocating 111 bytes at the same line.
    assert_eq!(at("line E").0, 1110.0);
    assert_eq!(at("line E").1, 10.0);
    // The inlined helper shows up as its own frame above its caller.
    assert!(file.frames.iter().any(|f| f.contains("inlined_helper")));
    assert!(
        file.frames
            .iter()
            .any(|f| f.contains("calls_inlined_helper"))
    );
    // Trimming: no allocsite or allocator-entry frames, no runtime frames below main.
    for frame in &file.frames[1..] {
        assert!(!frame.contains("allocsite::"), "{frame}");
        assert!(
            !frame.contains("__rust_alloc") && !frame.contains("lang_start"),
            "{frame}"
        );
    }
    assert_eq!(file.frames[0], "[root]");
    drop(kept);
}

#[test]
fn eight_threads_freeing_each_others_blocks_leave_nothing_live() {
    let _one = ONE_PROFILER
        .lock()
        .unwrap_or_else(|poison| poison.into_inner());
    let path = scratch("threads.json");
    let profiler = start_exact(&path);
    const THREADS: usize = 8;
    const BLOCKS: usize = 2000;
    let (senders, receivers): (Vec<_>, Vec<_>) = (0..THREADS)
        .map(|_| std::sync::mpsc::channel::<Vec<u8>>())
        .unzip();
    std::thread::scope(|scope| {
        for (index, receiver) in receivers.into_iter().enumerate() {
            let next = senders[(index + 1) % THREADS].clone();
            scope.spawn(move || {
                for round in 0..BLOCKS {
                    // Allocated here, freed by the neighbouring thread.
                    next.send(cross_thread_block(index, round)).unwrap();
                }
                drop(next);
                for block in receiver.iter().take(BLOCKS) {
                    drop(black_box(block));
                }
            });
        }
        drop(senders);
    });
    let report = profiler.finish().unwrap();
    let file = read(&path);
    let (bytes, blocks, end) = figures_at(&file, "cross_thread_block");
    assert_eq!(blocks, (THREADS * BLOCKS) as f64);
    assert_eq!(
        bytes,
        (0..THREADS)
            .flat_map(|i| (0..BLOCKS).map(move |r| block_size(i, r) as f64))
            .sum::<f64>()
    );
    assert_eq!(end, 0.0, "every block was freed by another thread");
    assert!(report.samples as usize >= THREADS * BLOCKS);
}

#[inline(never)]
fn peak_first() -> Vec<u8> {
    black_box(vec![1u8; 1 << 20])
}

#[inline(never)]
fn peak_second() -> Vec<u8> {
    black_box(vec![2u8; 2 << 20])
}

#[inline(never)]
fn after_the_peak() -> Vec<u8> {
    black_box(vec![3u8; 1 << 19])
}

/// The figures at the global peak (`gb`) are each site's live bytes at that moment: one
/// site freed right after the peak, one unchanged since, one allocated after it.
#[test]
fn the_figures_at_the_global_peak_are_each_site_s_live_bytes_then() {
    let _one = ONE_PROFILER
        .lock()
        .unwrap_or_else(|poison| poison.into_inner());
    let path = scratch("peak.json");
    let profiler = start_exact(&path);
    let first = peak_first();
    let second = peak_second();
    drop(first);
    let third = after_the_peak();
    profiler.finish().unwrap();
    drop((second, third));
    let file = read(&path);
    let at_peak = |needle: &str| -> f64 {
        file.program_points
            .iter()
            .filter(|point| {
                point
                    .frames
                    .iter()
                    .any(|&f| file.frames[f].contains(needle))
            })
            .map(|point| point.peak_bytes.unwrap_or(0.0))
            .sum()
    };
    assert_eq!(at_peak("peak_first"), (1 << 20) as f64);
    assert_eq!(at_peak("peak_second"), (2 << 20) as f64);
    assert_eq!(at_peak("after_the_peak"), 0.0);
}

fn block_size(thread: usize, round: usize) -> usize {
    16 + (thread * 31 + round * 7) % 500
}

#[inline(never)]
fn cross_thread_block(thread: usize, round: usize) -> Vec<u8> {
    vec![thread as u8; block_size(thread, round)]
}

#[test]
fn starting_twice_is_an_error_and_folded_stacks_are_written() {
    let _one = ONE_PROFILER
        .lock()
        .unwrap_or_else(|poison| poison.into_inner());
    let folded = scratch("profile.folded");
    let html = scratch("profile.html");
    let profiler = allocsite::Profiler::builder()
        .sample_bytes(1)
        .no_json()
        .folded(&folded, allocsite::FoldedMetric::TotalBytes)
        .html(&html)
        .summary(false)
        .start()
        .unwrap();
    assert_eq!(
        allocsite::Profiler::start().unwrap_err(),
        allocsite::Error::AlreadyRunning
    );
    let kept = make_box();
    profiler.finish().unwrap();
    let text = std::fs::read_to_string(&folded).unwrap();
    let line = text
        .lines()
        .find(|l| l.contains("make_box"))
        .expect("a folded line for make_box");
    let (stack, value) = line.rsplit_once(' ').unwrap();
    assert_eq!(value, "3000");
    assert!(
        stack
            .split(';')
            .any(|function| function == "profiler::make_box"),
        "frames are whole function names, outermost first: {line}"
    );
    assert!(
        stack.starts_with("profiler::starting_twice"),
        "the runtime below the test is trimmed: {line}"
    );
    // The stack ends at the call `make_box` made: std's frames inside it are folded into it.
    let after: Vec<&str> = stack
        .split("profiler::make_box;")
        .nth(1)
        .unwrap()
        .split(';')
        .collect();
    assert_eq!(after.len(), 1, "{line}");
    // The HTML report is named after the command.
    let page = std::fs::read_to_string(&html).unwrap();
    let program = std::env::args().next().unwrap();
    assert!(
        page.contains(&format!(r#"id="allocsite-data" data-name="{program}"#)),
        "{program}"
    );
    drop(kept);
}

#[test]
fn an_unwritable_output_is_an_error_naming_the_path() {
    let _one = ONE_PROFILER
        .lock()
        .unwrap_or_else(|poison| poison.into_inner());
    let path = PathBuf::from("/nonexistent-directory/profile.json");
    let profiler = allocsite::Profiler::builder()
        .output(&path)
        .summary(false)
        .start()
        .unwrap();
    let error = profiler.finish().unwrap_err();
    match &error {
        allocsite::Error::Write {
            path: failed,
            reason,
        } => {
            assert_eq!(failed, &path);
            assert!(reason.contains("No such file or directory"), "{reason}");
        }
        other => panic!("expected a write error, got {other:?}"),
    }
    assert!(
        error
            .to_string()
            .starts_with("could not write /nonexistent-directory/profile.json: ")
    );
    // Dropping a profiler whose write fails reports on stderr and does not panic.
    drop(
        allocsite::Profiler::builder()
            .output(&path)
            .summary(false)
            .start()
            .unwrap(),
    );
}

#[test]
fn bad_environment_values_are_named() {
    let _one = ONE_PROFILER
        .lock()
        .unwrap_or_else(|poison| poison.into_inner());
    // SAFETY: the variable is only read by profiler starts, which this lock serialises.
    unsafe { std::env::set_var("ALLOCSITE_SAMPLE_BYTES", "lots") };
    let error = allocsite::Profiler::start().unwrap_err();
    // SAFETY: as above.
    unsafe { std::env::remove_var("ALLOCSITE_SAMPLE_BYTES") };
    assert_eq!(
        error.to_string(),
        "environment variable ALLOCSITE_SAMPLE_BYTES=\"lots\" is invalid: expected a number of \
         bytes, optionally with a unit: 64k, 64KiB, 1m, 1MiB (k = 1024)"
    );
}

#[test]
fn sample_bytes_take_a_unit() {
    let _one = ONE_PROFILER
        .lock()
        .unwrap_or_else(|poison| poison.into_inner());
    let path = scratch("units.json");
    // SAFETY: the variable is only read by profiler starts, which this lock serialises.
    unsafe { std::env::set_var("ALLOCSITE_SAMPLE_BYTES", "16k") };
    let profiler = allocsite::Profiler::builder()
        .output(&path)
        .summary(false)
        .start();
    // SAFETY: as above.
    unsafe { std::env::remove_var("ALLOCSITE_SAMPLE_BYTES") };
    drop(black_box(vec![0u8; 100_000]));
    profiler.unwrap().finish().unwrap();
    let file = read(&path);
    assert_eq!(file.allocsite.unwrap().sample_bytes, 16 * 1024);
}

/// Set in the child of `a_write_failure_is_said_once`: `finish` or `drop`.
const WRITE_FAILURE_CHILD: &str = "ALLOCSITE_WRITE_FAILURE_CHILD";

#[test]
fn a_write_failure_is_said_once() {
    let json = "/nonexistent-directory/profile.json";
    let html = "/nonexistent-directory/profile.html";
    if let Ok(how) = std::env::var(WRITE_FAILURE_CHILD) {
        let profiler = allocsite::Profiler::builder()
            .output(json)
            .html(html)
            .summary(false)
            .start()
            .unwrap();
        if how == "finish" {
            // What `main` does with the error (`?` prints it too).
            eprintln!("main: {}", profiler.finish().unwrap_err());
        } else {
            drop(profiler);
        }
        return;
    }
    for how in ["finish", "drop"] {
        let output = std::process::Command::new(std::env::current_exe().unwrap())
            .args(["--exact", "a_write_failure_is_said_once", "--nocapture"])
            .env(WRITE_FAILURE_CHILD, how)
            .output()
            .unwrap();
        assert!(output.status.success());
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(
            stderr.matches("could not write").count(),
            1,
            "{how}: said once:\n{stderr}"
        );
        assert!(
            stderr.contains(json) && stderr.contains(html),
            "{how}: both failures named:\n{stderr}"
        );
    }
}
