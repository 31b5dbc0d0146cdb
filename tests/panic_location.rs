//! Where a failing budget or baseline panics: the test harness prints "thread '…' panicked
//! at FILE:LINE" before the message, and that line must be the user's (the budget's call, or
//! the `.await` of an async one), never a file of allocsite. Sync and async budgets, the
//! macros, and baselines; with the `track` feature they fail on their figures, without it on
//! "tracking is off", and both must be located at the user's line. One test: it installs a
//! panic hook, which is process-wide.

use std::panic::{self, AssertUnwindSafe};
use std::sync::{Arc, Mutex};

#[global_allocator]
static ALLOC: allocsite::Alloc = allocsite::Alloc::system();

/// Three owned words: more allocations than any budget below allows.
#[inline(never)]
fn words() -> Vec<String> {
    "alpha beta gamma".split(' ').map(str::to_owned).collect()
}

async fn words_later() -> Vec<String> {
    tokio::task::yield_now().await;
    words()
}

fn line_of(marker: &str) -> u32 {
    include_str!("panic_location.rs")
        .lines()
        .position(|line| line.ends_with(marker))
        .unwrap_or_else(|| panic!("no line ends with {marker}")) as u32
        + 1
}

/// Runs `work`, which must panic, and returns the file and line its panic was located at.
/// The recording hook is installed only while `work` runs, so the test's own assertions
/// report as usual.
fn panic_location(work: impl FnOnce()) -> (String, u32) {
    let located = Arc::new(Mutex::new(None));
    let hook_located = Arc::clone(&located);
    panic::set_hook(Box::new(move |info| {
        let location = info.location().unwrap();
        *hook_located.lock().unwrap() = Some((location.file().to_owned(), location.line()));
    }));
    let outcome = panic::catch_unwind(AssertUnwindSafe(work));
    let _ = panic::take_hook(); // the default hook again
    assert!(outcome.is_err(), "the budget did not fail");
    located.lock().unwrap().take().expect("no panic location")
}

#[test]
fn a_failing_budget_or_baseline_panics_at_the_user_s_line() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let missing = std::env::temp_dir()
        .join(format!("allocsite-panic-location-{}", std::process::id()))
        .join("missing.txt");
    let here = |marker| ("tests/panic_location.rs".to_owned(), line_of(marker));

    let at = panic_location(|| {
        allocsite::Budget::new().max_allocations(1).run(words); // sync budget
    });
    assert_eq!(at, here("// sync budget"));

    let at = panic_location(|| {
        allocsite::Baseline::new(&missing).run(words); // sync baseline
    });
    assert_eq!(at, here("// sync baseline"));

    let at = panic_location(|| {
        runtime.block_on(async {
            allocsite::Budget::new()
                .max_allocations(1)
                .run_async(words_later())
                .await; // async budget
        });
    });
    assert_eq!(at, here("// async budget"));

    let at = panic_location(|| {
        runtime.block_on(async {
            allocsite::assert_allocs!(<= 1, async { words_later().await }); // async macro
        });
    });
    assert_eq!(at, here("// async macro"));

    let at = panic_location(|| {
        runtime.block_on(async {
            allocsite::Baseline::new(&missing)
                .run_async(words_later())
                .await; // async baseline
        });
    });
    assert_eq!(at, here("// async baseline"));

    if let Some(dir) = missing.parent() {
        let _ = std::fs::remove_dir_all(dir);
    }
}
