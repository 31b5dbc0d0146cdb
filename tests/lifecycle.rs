//! The report is written however the program ends: `std::process::exit` with the profiler
//! still alive, returning from `main` with the profiler in a `static`; and a forked child
//! neither writes nor overwrites its parent's report. Each scenario runs in a child
//! process (this binary re-executed with `ALLOCSITE_LIFECYCLE_SCENARIO` set).
//! Runs without libtest's harness.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Mutex;

#[global_allocator]
static ALLOC: allocsite::Alloc = allocsite::Alloc::system();

static KEPT_PROFILER: Mutex<Option<allocsite::Profiler>> = Mutex::new(None);

fn start(path: &Path) -> allocsite::Profiler {
    allocsite::Profiler::builder()
        .sample_bytes(1)
        .output(path)
        .summary(false)
        .start()
        .unwrap()
}

#[inline(never)]
fn some_work() -> Vec<String> {
    (0..100).map(|i| format!("item {i}")).collect()
}

#[inline(never)]
fn allocates_in_a_no_allocation_zone() -> usize {
    std::hint::black_box(vec![1u8; 77]).len()
}

fn scenario(name: &str, path: &Path) {
    match name {
        "exit" => {
            let _profiler = start(path);
            std::hint::black_box(some_work());
            std::process::exit(0); // skips Drop; the exit hook writes the report
        }
        "static" => {
            *KEPT_PROFILER.lock().unwrap() = Some(start(path));
            std::hint::black_box(some_work());
            // Returning from main: statics are not dropped; the exit hook writes.
        }
        "fork" => {
            let profiler = start(path);
            std::hint::black_box(some_work());
            // SAFETY: the child only allocates a little and exits; it touches no lock
            // another thread could hold (this process has one thread).
            let child = unsafe { libc::fork() };
            if child == 0 {
                std::hint::black_box(some_work());
                std::process::exit(0); // runs the exit hook in the child: it must not write
            }
            let mut status = 0;
            // SAFETY: waiting for the child just forked.
            unsafe { libc::waitpid(child, &mut status, 0) };
            assert!(!path.exists(), "the forked child wrote the parent's report");
            profiler.finish().unwrap();
        }
        "abort_zone" => {
            let _ = allocsite::abort_on_alloc(allocates_in_a_no_allocation_zone);
            unreachable!("the allocation above aborts the process");
        }
        "abort_zone_inner_scope" => {
            // A scope opened inside a no-allocation zone does not lift it.
            let _ =
                allocsite::abort_on_alloc(|| allocsite::measure(allocates_in_a_no_allocation_zone));
            unreachable!("the allocation above aborts the process");
        }
        "abort_zone_c_thread" => {
            // A thread created by C code whose first allocation ever is inside the zone: setting
            // up its state must not erase the zone.
            extern "C" fn body(_: *mut libc::c_void) -> *mut libc::c_void {
                let _ = allocsite::abort_on_alloc(allocates_in_a_no_allocation_zone);
                std::ptr::null_mut()
            }
            // allocsite checks once per process that it is installed, with an allocation:
            // done here, so the zone holds the C thread's very first allocation.
            let _ = allocsite::measure(|| ());
            // SAFETY: a zeroed `pthread_t` filled by `pthread_create`, joined at once.
            unsafe {
                let mut thread: libc::pthread_t = std::mem::zeroed();
                libc::pthread_create(&mut thread, std::ptr::null(), body, std::ptr::null_mut());
                libc::pthread_join(thread, std::ptr::null_mut());
            }
            unreachable!("the allocation on the C thread aborts the process");
        }
        other => panic!("unknown scenario {other}"),
    }
}

fn run_child(name: &str) -> (PathBuf, u32) {
    let path = std::env::temp_dir().join(format!(
        "allocsite-lifecycle-{name}-{}.json",
        std::process::id()
    ));
    let _ = std::fs::remove_file(&path);
    let mut child = Command::new(std::env::current_exe().unwrap())
        .env("ALLOCSITE_LIFECYCLE_SCENARIO", name)
        .env("ALLOCSITE_LIFECYCLE_PATH", &path)
        .spawn()
        .unwrap();
    let pid = child.id();
    assert!(child.wait().unwrap().success(), "scenario {name} failed");
    (path, pid)
}

fn main() {
    if let (Ok(name), Ok(path)) = (
        std::env::var("ALLOCSITE_LIFECYCLE_SCENARIO"),
        std::env::var("ALLOCSITE_LIFECYCLE_PATH"),
    ) {
        scenario(&name, Path::new(&path));
        return;
    }
    if !allocsite::tracking_enabled() {
        println!("lifecycle: needs --features track; skipped");
        return;
    }
    // A strict no-allocation zone aborts with the offending stack on stderr, also when the
    // allocation happens inside a scope opened in the zone, or is the first allocation of a
    // thread created by C code.
    for scenario in [
        "abort_zone",
        "abort_zone_inner_scope",
        "abort_zone_c_thread",
    ] {
        let output = Command::new(std::env::current_exe().unwrap())
            .env("ALLOCSITE_LIFECYCLE_SCENARIO", scenario)
            .env("ALLOCSITE_LIFECYCLE_PATH", "unused")
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(
            !output.status.success(),
            "{scenario}: the zone must abort: {stderr}"
        );
        assert!(
            stderr.contains("allocsite: a 77-byte allocation inside a no-allocation zone"),
            "{scenario}: {stderr}"
        );
        assert!(
            stderr.contains("allocates_in_a_no_allocation_zone"),
            "{scenario}: the stack names the function: {stderr}"
        );
        println!("lifecycle: {scenario}: aborted with the stack printed");
    }

    for name in ["exit", "static", "fork"] {
        let (path, pid) = run_child(name);
        let text = std::fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("{name}: no report at {}: {e}", path.display()));
        let file: allocsite::report::dhat::DhatFile = serde_json::from_str(&text).unwrap();
        file.validate().unwrap();
        assert_eq!(
            file.pid,
            u64::from(pid),
            "{name}: the report is the parent's"
        );
        assert!(
            file.frames.iter().any(|f| f.contains("some_work")),
            "{name}: the work is in the report"
        );
        std::fs::remove_file(&path).unwrap();
        println!("lifecycle: {name}: report written by pid {pid}");
    }
}
