//! `fork` while other threads allocate under a profiler that records every allocation:
//! no child may hang (on a lock a parent thread held at the fork), every child can start a
//! profiler of its own, and a child that never allocates leaves through the exit hook
//! without touching a lock. 1,000 forks under load; a child that does not finish within
//! 10 s counts as hung. Runs without libtest's harness (a forking test wants to own the
//! process's threads).

use std::hint::black_box;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

#[global_allocator]
static ALLOC: allocsite::Alloc = allocsite::Alloc::system();

const FORKS: usize = 1000;

fn main() {
    if !allocsite::tracking_enabled() {
        println!("fork: needs --features track; skipped");
        return;
    }
    let dir = std::env::temp_dir().join(format!("allocsite-fork-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let profiler = allocsite::Profiler::builder()
        .sample_bytes(1)
        .output(dir.join("parent.json"))
        .summary(false)
        .start()
        .unwrap();
    static STOP: AtomicBool = AtomicBool::new(false);
    let workers: Vec<_> = (0..2u64)
        .map(|seed| {
            std::thread::spawn(move || {
                let mut kept: Vec<Vec<u8>> = Vec::new();
                let mut i = seed;
                while !STOP.load(Ordering::Relaxed) {
                    i = i.wrapping_mul(6364136223846793005).wrapping_add(1);
                    kept.push(vec![i as u8; (i % 512) as usize + 1]);
                    if kept.len() > 256 {
                        kept.swap_remove((i % 256) as usize);
                    }
                    // A scope too, so its locks are busy at fork time as well.
                    if i % 64 == 0 {
                        let _ = allocsite::measure(|| black_box(format!("{i}")));
                    }
                }
            })
        })
        .collect();

    let mut hung = 0;
    let mut failed = 0;
    for n in 0..FORKS {
        // SAFETY: the child only allocates, uses allocsite and exits; it never returns into
        // the parent's code or joins the parent's threads.
        let pid = unsafe { libc::fork() };
        assert!(pid >= 0, "fork failed");
        if pid == 0 {
            child(n, &dir);
        }
        match wait_for(pid, Duration::from_secs(10)) {
            Some(0) => {}
            Some(status) => {
                failed += 1;
                eprintln!("fork: child {n} exited with status {status}");
            }
            None => {
                hung += 1;
                eprintln!("fork: child {n} hung; killed");
            }
        }
    }
    STOP.store(true, Ordering::Relaxed);
    for worker in workers {
        worker.join().unwrap();
    }
    let report = profiler.finish().unwrap();
    std::fs::remove_dir_all(&dir).unwrap();
    println!(
        "fork: {FORKS} forks under load: {hung} hung, {failed} failed; the parent's profile has {} sites",
        report.sites
    );
    assert_eq!((hung, failed), (0, 0));
    assert!(report.sites > 0);
}

/// Every third child never allocates and leaves through `exit` (the exit hook must not
/// touch a lock); the others allocate and start and finish a profiler of their own, and
/// one in fifty also writes its profile (symbolizing takes long: most children don't).
fn child(n: usize, dir: &std::path::Path) -> ! {
    if n.is_multiple_of(3) {
        // SAFETY: ends the child; `exit` runs the atexit hooks, allocsite's among them.
        unsafe { libc::exit(0) };
    }
    let words: Vec<String> = (0..50).map(|i| format!("word-{i}")).collect();
    let writes = n % 50 == 1;
    let builder = allocsite::Profiler::builder()
        .sample_bytes(1)
        .summary(false);
    let builder = if writes {
        builder.output(dir.join(format!("child-{n}.json")))
    } else {
        builder.no_json()
    };
    let code = match builder.start() {
        Ok(profiler) => {
            drop(black_box(words.join(" ")));
            match profiler.finish() {
                Ok(report)
                    if report.written.len() == usize::from(writes)
                        && report.total_blocks >= 1.0 =>
                {
                    0
                }
                Ok(report) => {
                    eprintln!("fork: child {n} wrote {report:?}");
                    3
                }
                Err(error) => {
                    eprintln!("fork: child {n}: {error}");
                    4
                }
            }
        }
        Err(error) => {
            eprintln!("fork: child {n} could not start a profiler: {error}");
            2
        }
    };
    std::process::exit(code)
}

/// Waits for `pid` up to `limit`; its exit status, or `None` (killed) if it did not end.
fn wait_for(pid: libc::pid_t, limit: Duration) -> Option<i32> {
    let started = Instant::now();
    loop {
        let mut status = 0;
        // SAFETY: waits for our own child without blocking.
        let done = unsafe { libc::waitpid(pid, &mut status, libc::WNOHANG) };
        if done == pid {
            return Some(if libc::WIFEXITED(status) {
                libc::WEXITSTATUS(status)
            } else {
                128 + libc::WTERMSIG(status)
            });
        }
        if started.elapsed() > limit {
            if std::env::var_os("ALLOCSITE_FORK_GDB").is_some() {
                let _ = std::process::Command::new("gdb")
                    .args([
                        "-batch",
                        "-p",
                        &pid.to_string(),
                        "-ex",
                        "thread apply all bt",
                    ])
                    .status();
            }
            // SAFETY: kills and reaps our own hung child.
            unsafe {
                libc::kill(pid, libc::SIGKILL);
                libc::waitpid(pid, &mut status, 0);
            }
            return None;
        }
        std::thread::sleep(Duration::from_micros(200));
    }
}
