//! Allocating signal handlers and the recording path.
//!
//! 1. The recording path never asks the inner allocator for memory (its tables are mapped
//!    from the kernel): while a profiler records every allocation, the inner allocator sees
//!    exactly the program's own calls. If the recorder allocated, a handler interrupting
//!    the inner allocator could deadlock against it (glibc's arena lock) or corrupt its heap.
//! 2. A SIGALRM or SIGPROF handler that allocates, firing every 200 µs while two threads
//!    allocate under a profiler recording every allocation, under budget scopes, or both (six
//!    configurations, two runs each), never hangs the process.
//!    The inner allocator here is a lock-free bump allocator, which is async-signal-safe, so
//!    any hang would be allocsite's own. Each run is a child process with a 20 s limit.
//!
//! Runs without libtest's harness.

use std::alloc::{GlobalAlloc, Layout};
use std::hint::black_box;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering::Relaxed};
use std::time::{Duration, Instant};

/// Counts its calls, and allocates by bumping a pointer in a region mapped at first use
/// (frees are ignored): lock-free, so safe to call from a signal handler.
struct Bump;

static CALLS: AtomicU64 = AtomicU64::new(0);
static BASE: AtomicUsize = AtomicUsize::new(0);
static NEXT: AtomicUsize = AtomicUsize::new(0);
const ARENA: usize = 8 << 30;

fn arena() -> usize {
    let base = BASE.load(Relaxed);
    if base != 0 {
        return base;
    }
    // SAFETY: an anonymous private reservation; pages are committed on first touch.
    let fresh = unsafe {
        libc::mmap(
            std::ptr::null_mut(),
            ARENA,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_NORESERVE,
            -1,
            0,
        )
    } as usize;
    match BASE.compare_exchange(0, fresh, Relaxed, Relaxed) {
        Ok(_) => fresh,
        Err(winner) => {
            // SAFETY: our own mapping, never used.
            unsafe { libc::munmap(fresh as *mut _, ARENA) };
            winner
        }
    }
}

// SAFETY: hands out disjoint, aligned ranges of one mapping and never reuses them.
unsafe impl GlobalAlloc for Bump {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        CALLS.fetch_add(1, Relaxed);
        let base = arena();
        let mut offset = NEXT.load(Relaxed);
        loop {
            let start = (base + offset).next_multiple_of(layout.align()) - base;
            let end = start + layout.size();
            if end > ARENA {
                return std::ptr::null_mut();
            }
            match NEXT.compare_exchange_weak(offset, end, Relaxed, Relaxed) {
                Ok(_) => return (base + start) as *mut u8,
                Err(actual) => offset = actual,
            }
        }
    }
    unsafe fn dealloc(&self, _: *mut u8, _: Layout) {
        CALLS.fetch_add(1, Relaxed);
    }
    unsafe fn realloc(&self, pointer: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: as for `alloc`; the old block stays valid and is copied.
        unsafe {
            let new = self.alloc(Layout::from_size_align_unchecked(new_size, layout.align()));
            if !new.is_null() {
                std::ptr::copy_nonoverlapping(pointer, new, layout.size().min(new_size));
            }
            CALLS.fetch_sub(1, Relaxed); // one realloc is one call
            new
        }
    }
}

#[global_allocator]
static ALLOC: allocsite::Alloc<Bump> = allocsite::Alloc::new(Bump);

fn main() {
    if !allocsite::tracking_enabled() {
        println!("signals: needs --features track; skipped");
        return;
    }
    if let Ok(configuration) = std::env::var("ALLOCSITE_SIGNALS_CHILD") {
        storm(&configuration);
        return;
    }
    recording_makes_no_inner_allocation();
    let exe = std::env::current_exe().unwrap();
    let configurations = [
        "alrm profile",
        "alrm scope",
        "alrm both",
        "prof profile",
        "prof scope",
        "prof both",
    ];
    for run in 0..2 * configurations.len() {
        let configuration = configurations[run % configurations.len()];
        let mut child = std::process::Command::new(&exe)
            .env("ALLOCSITE_SIGNALS_CHILD", configuration)
            .spawn()
            .unwrap();
        let started = Instant::now();
        let status = loop {
            if let Some(status) = child.try_wait().unwrap() {
                break status;
            }
            if started.elapsed() > Duration::from_secs(20) {
                child.kill().unwrap();
                panic!(
                    "signals: run {run} ({configuration}) hung with an allocating signal handler"
                );
            }
            std::thread::sleep(Duration::from_millis(10));
        };
        assert!(
            status.success(),
            "signals: run {run} ({configuration}) failed: {status}"
        );
    }
    println!(
        "signals: the recorder made no inner allocation; 12 runs of an allocating handler finished"
    );
}

#[inline(never)]
fn distinct_site(i: u64) -> Vec<u64> {
    // Many distinct stacks and live blocks, so the recorder's tables must grow.
    match i % 4 {
        0 => vec![i; 3],
        1 => vec![i ^ 1; 5],
        2 => vec![i.rotate_left(3); 7],
        _ => vec![i.wrapping_mul(3); 9],
    }
}

fn recording_makes_no_inner_allocation() {
    let profiler = allocsite::Profiler::builder()
        .sample_bytes(1)
        .no_json()
        .summary(false)
        .start()
        .unwrap();
    let mut kept = Vec::with_capacity(20_000);
    let counted_before = allocsite::thread_stats().unwrap();
    let calls_before = CALLS.load(Relaxed);
    for i in 0..20_000 {
        kept.push(distinct_site(i));
    }
    for block in kept.drain(..10_000) {
        drop(block);
    }
    let calls = CALLS.load(Relaxed) - calls_before;
    let counted = allocsite::thread_stats().unwrap();
    let program = (counted.allocations - counted_before.allocations)
        + (counted.reallocations - counted_before.reallocations)
        + (counted.deallocations - counted_before.deallocations);
    drop(kept);
    profiler.finish().unwrap();
    assert_eq!(
        calls, program,
        "the inner allocator saw {calls} calls for the program's {program}: the recorder allocated"
    );
}

static ALARMS: AtomicU64 = AtomicU64::new(0);

extern "C" fn on_alarm(_: libc::c_int) {
    ALARMS.fetch_add(1, Relaxed);
    let text = black_box(format!("alarm {}", ALARMS.load(Relaxed)));
    drop(black_box(text.into_bytes()));
}

/// The child: an allocating handler for SIGALRM (a real-time timer) or SIGPROF (a CPU-time
/// timer) every 200 µs while two threads allocate under a profiler, scopes, or both.
fn storm(configuration: &str) {
    let (signal, timer_kind) = if configuration.starts_with("prof") {
        (libc::SIGPROF, libc::ITIMER_PROF)
    } else {
        (libc::SIGALRM, libc::ITIMER_REAL)
    };
    let profiled = !configuration.ends_with("scope");
    let scoped = !configuration.ends_with("profile");
    // SAFETY: installs a handler with a zeroed `sigaction` filled in here.
    unsafe {
        let mut action: libc::sigaction = std::mem::zeroed();
        action.sa_sigaction = on_alarm as *const () as usize;
        action.sa_flags = libc::SA_RESTART;
        libc::sigaction(signal, &action, std::ptr::null_mut());
    }
    let profiler = profiled.then(|| {
        allocsite::Profiler::builder()
            .sample_bytes(1)
            .no_json()
            .summary(false)
            .start()
            .unwrap()
    });
    let timer = libc::itimerval {
        it_interval: libc::timeval {
            tv_sec: 0,
            tv_usec: 200,
        },
        it_value: libc::timeval {
            tv_sec: 0,
            tv_usec: 200,
        },
    };
    // SAFETY: arms the process's interval timer.
    unsafe { libc::setitimer(timer_kind, &timer, std::ptr::null_mut()) };
    static STOP: AtomicBool = AtomicBool::new(false);
    let other = std::thread::spawn(move || {
        let mut i = 0u64;
        while !STOP.load(Relaxed) {
            i += 1;
            drop(black_box(distinct_site(i)));
            if scoped {
                let _ = allocsite::measure(|| black_box(distinct_site(i + 1)));
            }
        }
    });
    let started = Instant::now();
    let mut i = 0u64;
    while started.elapsed() < Duration::from_millis(700) {
        i += 1;
        drop(black_box(distinct_site(i)));
        if scoped {
            let _ = allocsite::measure(|| black_box(format!("{i}")));
        }
    }
    STOP.store(true, Relaxed);
    other.join().unwrap();
    let stop = libc::itimerval {
        it_interval: libc::timeval {
            tv_sec: 0,
            tv_usec: 0,
        },
        it_value: libc::timeval {
            tv_sec: 0,
            tv_usec: 0,
        },
    };
    // SAFETY: disarms the timer.
    unsafe { libc::setitimer(timer_kind, &stop, std::ptr::null_mut()) };
    if let Some(profiler) = profiler {
        profiler.finish().unwrap();
    }
    assert!(ALARMS.load(Relaxed) > 10, "the handler ran");
}
