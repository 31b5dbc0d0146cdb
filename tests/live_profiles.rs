//! Profiles of a program while it runs, read by `go tool pprof`: `allocsite::snapshot`
//! (exact and sampled), dumps every N milliseconds, dumps on `SIGUSR1` (in a child process,
//! this binary re-executed), and the signals allocsite refuses.
//!
//! Runs without libtest's harness, so only the threads each check starts allocate: the exact
//! checks rely on it. Needs Go (see `go_pprof/mod.rs`).

mod go_pprof;

use std::hint::black_box;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use allocsite::report::dhat::DhatFile;
use allocsite::{Error, Profiler, SnapshotFormat, snapshot};
use go_pprof::{
    assert_contains, check_heap_totals, go, pprof, read_dhat, skipped, sum, top_names, totals,
};

#[global_allocator]
static ALLOC: allocsite::Alloc = allocsite::Alloc::system();

const HEAP_TYPES: [&str; 4] = [
    "alloc_space",
    "alloc_objects",
    "inuse_space",
    "inuse_objects",
];

fn scratch(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join("live_profiles")
        .join(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[inline(never)]
fn build_index(count: usize) -> Vec<String> {
    (0..count).map(|i| format!("entry number {i}")).collect()
}

#[inline(never)]
fn churn_buffers(count: usize) -> usize {
    (0..count)
        .map(|i| black_box(vec![i as u8; 100 + i % 300]).len())
        .sum()
}

#[inline(never)]
fn child_work(round: usize) -> Vec<Vec<u8>> {
    (0..50).map(|i| vec![round as u8; 64 + i]).collect()
}

/// Waits (up to two minutes) until `path` exists.
fn wait_for(path: &Path) {
    let start = Instant::now();
    while !path.exists() {
        assert!(
            start.elapsed() < Duration::from_secs(120),
            "{} did not appear",
            path.display()
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}

fn write_profile(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
    assert_eq!(&bytes[..2], &[0x1f, 0x8b], "{name}: gzip magic");
    let path = dir.join(name);
    std::fs::write(&path, bytes).unwrap();
    path
}

/// Every allocation recorded: a pprof snapshot taken right after a DHAT snapshot holds the
/// DHAT snapshot's figures plus exactly one block, the DHAT snapshot's own bytes (the only
/// allocation in between, still live), and the next one that block and the previous
/// snapshot's. The running profile goes on, and grows; when it finishes, its pprof output
/// (`.pprof(path)`) holds its DHAT output's figures.
fn exact_snapshots(go: Option<&Path>) {
    let dir = scratch("exact");
    let profiler = Profiler::builder()
        .sample_bytes(1)
        .output(dir.join("final.json"))
        .pprof(dir.join("final.pb.gz"))
        .summary(false)
        .start()
        .unwrap();
    let index = build_index(2_000);
    black_box(churn_buffers(1_000));

    let dhat = snapshot(SnapshotFormat::Dhat).unwrap();
    let allocs = snapshot(SnapshotFormat::Pprof).unwrap();
    let heap = snapshot(SnapshotFormat::PprofHeap).unwrap();
    let file: DhatFile = serde_json::from_slice(&dhat).unwrap();
    file.validate().unwrap();
    let between = allocs.len() as f64;
    let allocs = write_profile(&dir, "allocs.pb.gz", &allocs);
    let heap = write_profile(&dir, "heap.pb.gz", &heap);

    black_box(churn_buffers(2_000));
    let later = snapshot(SnapshotFormat::Pprof).unwrap();
    let later = write_profile(&dir, "later.pb.gz", &later);
    drop(index);
    profiler.finish().unwrap();

    let Some(go) = go else {
        return skipped("exact_snapshots");
    };
    let own = dhat.len() as f64;
    let expected = [
        file.total_bytes() + own,
        file.total_blocks() + 1.0,
        sum(&file, |p| p.end_bytes.unwrap()) + own,
        sum(&file, |p| p.end_blocks.unwrap()) + 1.0,
    ];
    assert_eq!(
        totals(go, &allocs, &HEAP_TYPES),
        expected,
        "snapshot totals"
    );
    let expected = [
        expected[0] + between,
        expected[1] + 1.0,
        expected[2] + between,
        expected[3] + 1.0,
    ];
    assert_eq!(
        totals(go, &heap, &HEAP_TYPES),
        expected,
        "heap snapshot totals"
    );

    let first = totals(go, &allocs, &["alloc_space"])[0];
    let second = totals(go, &later, &["alloc_space"])[0];
    assert!(second > first, "alloc_space went from {first} to {second}");

    let top = pprof(go, &["-top", "-nodecount=1000"], &allocs);
    assert_contains(&top, &["Type: alloc_space"], "-top of /allocs");
    let names = top_names(&top);
    for user in ["live_profiles::build_index", "live_profiles::churn_buffers"] {
        assert!(names.iter().any(|n| n == user), "{user} not in:\n{top}");
    }
    let raw = pprof(go, &["-raw"], &heap);
    assert_contains(
        &raw,
        &["Period: 1\n", "inuse_space/bytes[dflt]"],
        "-raw of /heap",
    );
    assert!(
        !raw.contains("bytes:["),
        "a live profile has no moving label:\n{raw}"
    );

    // The finished profile: its pprof output and its DHAT output agree; files keep the label.
    let final_file = read_dhat(&dir.join("final.json"));
    check_heap_totals(go, &final_file, &dir.join("final.pb.gz"));
    let raw = pprof(go, &["-raw"], &dir.join("final.pb.gz"));
    assert_contains(&raw, &["bytes:["], "-raw of the final file");
    println!(
        "exact_snapshots: ok ({} program points)",
        file.program_points.len()
    );
}

/// Sampled at the default rate: a snapshot's totals are the same unbiased estimates as the
/// DHAT output's, within the ±3% `tests/sampling_accuracy.rs` allows for totals (its
/// workload, its seed; deterministic, as only this thread allocates).
fn sampled_snapshot(go: Option<&Path>) {
    let dir = scratch("sampled");
    let sizes: [(u64, usize); 4] = [
        (1_000_000, 64),
        (200_000, 512),
        (50_000, 4096),
        (100, 1 << 20),
    ];
    let profiler = Profiler::builder()
        .sample_bytes(allocsite::DEFAULT_SAMPLE_BYTES)
        .seed(42)
        .no_json()
        .summary(false)
        .start()
        .unwrap();
    for (count, size) in sizes {
        for i in 0..count {
            drop(black_box(vec![i as u8; size]));
        }
    }
    let bytes = snapshot(SnapshotFormat::Pprof).unwrap();
    drop(profiler);
    let profile = write_profile(&dir, "sampled.pb.gz", &bytes);
    let Some(go) = go else {
        return skipped("sampled_snapshot");
    };
    let exact_bytes: f64 = sizes.iter().map(|&(n, s)| (n * s as u64) as f64).sum();
    let exact_blocks: f64 = sizes.iter().map(|&(n, _)| n as f64).sum();
    let raw = pprof(go, &["-raw"], &profile);
    assert_contains(
        &raw,
        &[&format!("Period: {}\n", allocsite::DEFAULT_SAMPLE_BYTES)],
        "-raw",
    );
    let measured = totals(go, &profile, &["alloc_space", "alloc_objects"]);
    for (what, estimate, exact) in [
        ("alloc_space", measured[0], exact_bytes),
        ("alloc_objects", measured[1], exact_blocks),
    ] {
        let error = (estimate - exact) / exact;
        println!(
            "sampled_snapshot: {what} {estimate} for {exact} ({:+.2}%)",
            100.0 * error
        );
        assert!(
            error.abs() <= 0.03,
            "{what}: {:+.2}% is outside ±3%",
            100.0 * error
        );
    }
}

/// Dumps every 150 ms: numbered files, each JSON/pprof pair with the same figures, growing;
/// the dump thread's own allocations are not counted (this thread sleeps meanwhile, and the
/// process's allocation count does not move), nor is anything allocsite allocates to start
/// it (the final profile, untrimmed, has no frame of allocsite's profiler or backend); after
/// `finish` no dump follows.
fn interval_dumps(go: Option<&Path>) {
    let dir = scratch("interval");
    let pid = std::process::id();
    let name = |n: u32, extension: &str| dir.join(format!("dump.{pid}.{n:04}.{extension}"));
    let (second, third) = (name(2, "pb.gz"), name(3, "json"));
    let profiler = Profiler::builder()
        .sample_bytes(1)
        .output(dir.join("dump.json"))
        .pprof(dir.join("dump.pb.gz"))
        .dump_every(Duration::from_millis(150))
        .trim_top(false)
        .summary(false)
        .start()
        .unwrap();
    let kept = build_index(500);
    let before = allocsite::stats().unwrap();
    wait_for(&second);
    let after = allocsite::stats().unwrap();
    black_box(churn_buffers(500));
    wait_for(&third);
    profiler.finish().unwrap();
    let dumps = std::fs::read_dir(&dir).unwrap().count();
    std::thread::sleep(Duration::from_millis(400));
    assert_eq!(
        std::fs::read_dir(&dir).unwrap().count(),
        dumps,
        "a dump after finish"
    );
    drop(kept);
    let last = read_dhat(&dir.join("dump.json"));
    for frame in &last.frames {
        assert!(
            !frame.contains("allocsite::backend::") && !frame.contains("allocsite::profiler::"),
            "allocsite's own allocation was recorded: {frame}"
        );
    }
    assert_eq!(
        (after.allocations, after.bytes_allocated),
        (before.allocations, before.bytes_allocated),
        "the dump thread's allocations were counted as the program's"
    );

    let Some(go) = go else {
        return skipped("interval_dumps");
    };
    let mut previous = 0.0;
    for n in 1..=3 {
        let file = read_dhat(&name(n, "json"));
        check_heap_totals(go, &file, &name(n, "pb.gz"));
        let alloc_space = file.total_bytes();
        assert!(
            alloc_space >= previous,
            "dump {n}: {alloc_space} < {previous}"
        );
        previous = alloc_space;
    }
    let top = pprof(go, &["-top", "-nodecount=1000"], &name(3, "pb.gz"));
    assert!(
        top_names(&top)
            .iter()
            .any(|n| n == "live_profiles::churn_buffers"),
        "{top}"
    );
    assert!(!top.contains("allocsite::profiler::dumper"), "{top}");
    println!("interval_dumps: ok ({dumps} files)");
}

/// A child process dumps on `SIGUSR1` (set by `ALLOCSITE_DUMP_SIGNAL`), once per signal,
/// says so on its standard error, keeps running, and gives the signal back its default
/// action when the profile ends.
fn signal_dumps(go: Option<&Path>) {
    let dir = scratch("signal");
    let mut child = Command::new(std::env::current_exe().unwrap())
        .env("ALLOCSITE_LIVE_SCENARIO", "signal")
        .env("ALLOCSITE_DUMP_SIGNAL", "USR1")
        .env("ALLOCSITE_DUMP_INTERVAL", "")
        .env("ALLOCSITE_SAMPLE_BYTES", "1")
        .env("ALLOCSITE_OUTPUT", dir.join("signal.json"))
        .env("ALLOCSITE_PPROF", dir.join("signal.pb.gz"))
        .env("ALLOCSITE_SUMMARY", "0")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let pid = child.id();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    stdout.read_line(&mut line).unwrap();
    assert_eq!(line, "ready\n");
    let name = |n: u32, extension: &str| dir.join(format!("signal.{pid}.{n:04}.{extension}"));
    for n in 1..=2 {
        // SAFETY: sends a signal to the child started above, which is still running.
        assert_eq!(unsafe { libc::kill(pid as i32, libc::SIGUSR1) }, 0);
        wait_for(&name(n, "pb.gz"));
        wait_for(&name(n, "json"));
    }
    assert!(child.try_wait().unwrap().is_none(), "the child stopped");
    child.stdin.take().unwrap().write_all(b"finish\n").unwrap();
    let output = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    let mut rest = String::new();
    std::io::Read::read_to_string(&mut stdout, &mut rest).unwrap();
    assert!(output.status.success(), "{}\n{stderr}", output.status);
    assert_eq!(rest, "default action restored\n", "{stderr}");
    for n in 1..=2 {
        let line = format!(
            "allocsite: SIGUSR1: dump {n} written: {}, {}\n",
            name(n, "json").display(),
            name(n, "pb.gz").display()
        );
        assert!(stderr.contains(&line), "no {line:?} in:\n{stderr}");
    }
    assert!(!name(3, "json").exists());

    let Some(go) = go else {
        return skipped("signal_dumps");
    };
    for n in 1..=2 {
        check_heap_totals(go, &read_dhat(&name(n, "json")), &name(n, "pb.gz"));
    }
    let first = totals(go, &name(1, "pb.gz"), &["alloc_space"])[0];
    let second = totals(go, &name(2, "pb.gz"), &["alloc_space"])[0];
    assert!(second >= first, "alloc_space went from {first} to {second}");
    let top = pprof(go, &["-top", "-nodecount=1000"], &name(2, "pb.gz"));
    assert!(
        top_names(&top)
            .iter()
            .any(|n| n == "live_profiles::child_work"),
        "{top}"
    );
    println!("signal_dumps: ok");
}

/// The child of [`signal_dumps`]: works on a second thread until told to finish.
fn signal_child() {
    static STOP: AtomicBool = AtomicBool::new(false);
    let profiler = Profiler::start().unwrap();
    let worker = std::thread::spawn(|| {
        let mut round = 0;
        while !STOP.load(Ordering::Relaxed) {
            black_box(child_work(round));
            round += 1;
            std::thread::sleep(Duration::from_millis(2));
        }
    });
    println!("ready");
    let mut line = String::new();
    std::io::stdin().read_line(&mut line).unwrap();
    STOP.store(true, Ordering::Relaxed);
    worker.join().unwrap();
    profiler.finish().unwrap();
    // SAFETY: `sigaction` is plain data; all zeros is a valid value.
    let mut action: libc::sigaction = unsafe { std::mem::zeroed() };
    // SAFETY: reads SIGUSR1's action; changes nothing.
    unsafe { libc::sigaction(libc::SIGUSR1, std::ptr::null(), &mut action) };
    if action.sa_sigaction == libc::SIG_DFL {
        println!("default action restored");
    }
}

/// A child forked while the parent's dump thread runs has no such thread: a profile it
/// starts with dumps gets a dump thread of its own (and the child's files its own pid); the
/// parent's dumps go on.
fn forked_child_dumps() {
    let dir = scratch("fork");
    let parent = std::process::id();
    let parent_dump = |n: u32| dir.join(format!("parent.{parent}.{n:04}.json"));
    let profiler = Profiler::builder()
        .sample_bytes(1)
        .output(dir.join("parent.json"))
        .dump_every(Duration::from_millis(100))
        .summary(false)
        .start()
        .unwrap();
    wait_for(&parent_dump(1));
    // SAFETY: the child allocates through glibc's malloc, which is fork-safe, and allocsite's
    // locks were taken around the fork by its handlers; it ends with `_exit`.
    let child = unsafe { libc::fork() };
    if child == 0 {
        let code = std::panic::catch_unwind(|| {
            let me = std::process::id();
            let own = Profiler::builder()
                .sample_bytes(1)
                .output(dir.join("child.json"))
                .dump_every(Duration::from_millis(50))
                .summary(false)
                .start()
                .unwrap();
            black_box(build_index(100));
            let first = dir.join(format!("child.{me}.0001.json"));
            let start = Instant::now();
            while !first.exists() && start.elapsed() < Duration::from_secs(20) {
                std::thread::sleep(Duration::from_millis(10));
            }
            own.finish().unwrap();
            i32::from(!first.exists())
        })
        .unwrap_or(2);
        // SAFETY: ends the child without running the parent's exit handlers.
        unsafe { libc::_exit(code) };
    }
    let mut status = 0;
    // SAFETY: waits for the child forked above.
    unsafe { libc::waitpid(child, &mut status, 0) };
    assert!(
        libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0,
        "the forked child's profile wrote no dump (status {status:#x})"
    );
    let after_fork = std::fs::read_dir(&dir)
        .unwrap()
        .filter(|entry| {
            let name = entry.as_ref().unwrap().file_name();
            name.to_string_lossy()
                .starts_with(&format!("parent.{parent}."))
        })
        .count() as u32;
    wait_for(&parent_dump(after_fork + 1));
    profiler.finish().unwrap();
    println!("forked_child_dumps: ok");
}

/// Signals that cannot trigger dumps are refused at start, with a message that says what
/// to use; nothing is left running.
fn refused_signals() {
    let error = Profiler::builder()
        .no_json()
        .dump_on_signal(libc::SIGKILL)
        .start()
        .unwrap_err();
    assert!(matches!(error, Error::BadDumpSignal { signal, .. } if signal == libc::SIGKILL));
    assert!(error.to_string().contains("SIGUSR1"), "{error}");

    extern "C" fn programs_own_handler(_: libc::c_int) {}
    // SAFETY: installs a handler that does nothing, and below puts the default back.
    unsafe {
        libc::signal(
            libc::SIGUSR2,
            programs_own_handler as *const () as libc::sighandler_t,
        )
    };
    let error = Profiler::builder()
        .no_json()
        .dump_on_signal(libc::SIGUSR2)
        .start()
        .unwrap_err();
    assert!(error.to_string().contains("already handles it"), "{error}");
    // SAFETY: as above.
    unsafe { libc::signal(libc::SIGUSR2, libc::SIG_DFL) };

    // Nothing was left running: a profile starts.
    let profiler = Profiler::builder()
        .no_json()
        .summary(false)
        .start()
        .unwrap();
    drop(profiler);
    println!("refused_signals: ok");
}

fn main() {
    if std::env::var("ALLOCSITE_LIVE_SCENARIO").as_deref() == Ok("signal") {
        return signal_child();
    }
    if !allocsite::tracking_enabled() {
        println!("live_profiles: needs --features track; skipped");
        return;
    }
    let go = go();
    exact_snapshots(go);
    sampled_snapshot(go);
    interval_dumps(go);
    signal_dumps(go);
    forked_child_dumps();
    refused_signals();
}
