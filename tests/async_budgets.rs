//! Budgets for futures: a measured future's scope is entered for each poll on whichever
//! thread polls it. A hand-driven executor moves a future to a new thread at every poll while
//! other threads allocate; two futures interleaved on one thread; nesting with `measure` and
//! with other measured futures; tokio's multi-thread runtime with concurrent measured tasks
//! that yield between allocations; spawned tasks that carry the scope; and a failing async
//! budget that names the user's line. CI runs this binary 20 times in a row.
#![cfg(feature = "track")]

use std::future::Future;
use std::hint::black_box;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use allocsite::{ScopeHandle, Usage};

#[global_allocator]
static ALLOC: allocsite::Alloc = allocsite::Alloc::system();

/// Returns `Pending` once (waking itself), then `Ready`: a yield that allocates nothing on
/// any executor (tokio's `yield_now` can grow a per-worker list; see `measure_future`).
struct YieldOnce(bool);

impl Future for YieldOnce {
    type Output = ();
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.0 {
            return Poll::Ready(());
        }
        self.0 = true;
        cx.waker().wake_by_ref();
        Poll::Pending
    }
}

fn yield_once() -> YieldOnce {
    YieldOnce(false)
}

/// (allocations, reallocations, deallocations, bytes allocated, bytes freed, peak, leaked
/// blocks, leaked bytes).
fn figures(usage: &Usage) -> [u64; 8] {
    [
        usage.allocations,
        usage.reallocations,
        usage.deallocations,
        usage.bytes_allocated,
        usage.bytes_freed,
        usage.peak_live_bytes,
        usage.leaked_blocks,
        usage.leaked_bytes,
    ]
}

/// Threads that allocate and free until stopped: what they do must never show in a scope.
struct Noise {
    stop: Arc<AtomicBool>,
    threads: Vec<std::thread::JoinHandle<()>>,
}

fn noise(threads: usize) -> Noise {
    let stop = Arc::new(AtomicBool::new(false));
    let threads = (0..threads)
        .map(|n| {
            let stop = Arc::clone(&stop);
            std::thread::spawn(move || {
                let mut kept = Vec::new();
                let mut i = 0usize;
                while !stop.load(Ordering::Relaxed) {
                    kept.push(vec![n as u8; 16 + i % 200]);
                    if kept.len() > 64 {
                        kept.clear();
                        // Bursts, not a spin: the machine has other work (and two cores).
                        std::thread::sleep(Duration::from_micros(50));
                    }
                    i += 1;
                }
            })
        })
        .collect();
    Noise { stop, threads }
}

impl Drop for Noise {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        for thread in self.threads.drain(..) {
            thread.join().unwrap();
        }
    }
}

/// Polls `future` to completion, each poll on a thread of its own; `between` runs on the
/// driving thread after every `Pending`.
fn drive_on_fresh_threads<F>(future: F, mut between: impl FnMut()) -> F::Output
where
    F: Future + Send + 'static,
    F::Output: Send,
{
    let mut future = Box::pin(future);
    loop {
        let (returned, poll) = std::thread::spawn(move || {
            let poll = future
                .as_mut()
                .poll(&mut Context::from_waker(Waker::noop()));
            (future, poll)
        })
        .join()
        .unwrap();
        match poll {
            Poll::Ready(output) => return output,
            Poll::Pending => {
                future = returned;
                between();
            }
        }
    }
}

/// Polls `future` once on the calling thread.
fn poll_once<F: Future>(future: Pin<&mut F>) -> Poll<F::Output> {
    future.poll(&mut Context::from_waker(Waker::noop()))
}

/// Four allocations over five polls: one freed inside, one handed to another thread that
/// frees it between polls (freed, not leaked), two returned (leaked from the scope).
#[inline(never)]
async fn steps(handoff: Arc<Mutex<Option<Vec<u8>>>>) -> (Box<[u64; 4]>, String) {
    let a = vec![1u8; black_box(100)];
    yield_once().await;
    let b = Box::new(black_box([7u64; 4]));
    drop(a);
    yield_once().await;
    let d = vec![2u8; black_box(50)];
    *handoff.lock().unwrap() = Some(d);
    yield_once().await;
    let mut c = String::with_capacity(black_box(7));
    c.push_str("measure");
    yield_once().await;
    (b, c)
}

/// allocations 4, reallocations 0, deallocations 1 (`a`), 189 bytes allocated, 100 freed,
/// peak 132 (`a` and `b`), leaked `b` and `c` (39 bytes); `d` was freed by another thread.
const STEPS_FIGURES: [u64; 8] = [4, 0, 1, 189, 100, 132, 2, 39];

#[test]
fn a_future_polled_on_a_new_thread_at_every_step_is_measured_exactly() {
    let _noise = noise(2);
    for _ in 0..10 {
        let handoff = Arc::new(Mutex::new(None));
        let measured = allocsite::measure_future(steps(Arc::clone(&handoff)));
        let mut freed_elsewhere = 0;
        let ((b, c), usage) = drive_on_fresh_threads(measured, || {
            // The driving thread, outside the scope, frees what the future handed over.
            if let Some(block) = handoff.lock().unwrap().take() {
                freed_elsewhere += block.len();
            }
        })
        .unwrap();
        assert_eq!(freed_elsewhere, 50);
        assert_eq!(figures(&usage), STEPS_FIGURES, "{usage:?}");
        assert_eq!((b[0], c.as_str()), (7, "measure"));
        let sites = usage.call_sites();
        assert_eq!(sites.len(), 4, "{sites:#?}");
        assert!(
            sites.iter().all(|site| site.function.contains("steps")
                && site.file.as_deref() == Some("tests/async_budgets.rs")),
            "{sites:#?}"
        );
    }
}

/// Like `steps` with other sizes and no hand-off: allocations 3, 2 freed inside.
#[inline(never)]
async fn other_steps() -> Vec<u16> {
    let x = vec![3u16; black_box(40)];
    yield_once().await;
    let y = vec![4u16; black_box(12)];
    yield_once().await;
    drop(x);
    let z = vec![5u16; black_box(5)];
    yield_once().await;
    drop(y);
    z
}

/// allocations 3, deallocations 2, 114 bytes allocated, 104 freed, peak 104, `z` leaked.
const OTHER_STEPS_FIGURES: [u64; 8] = [3, 0, 2, 114, 104, 104, 1, 10];

#[test]
fn two_futures_interleaved_on_one_thread_do_not_mix() {
    let handoff = Arc::new(Mutex::new(None));
    let mut first = Box::pin(allocsite::measure_future(steps(Arc::clone(&handoff))));
    let mut second = Box::pin(allocsite::measure_future(other_steps()));
    let (mut first_done, mut second_done) = (None, None);
    let mut between = Vec::new();
    while first_done.is_none() || second_done.is_none() {
        if first_done.is_none()
            && let Poll::Ready(output) = poll_once(first.as_mut())
        {
            first_done = Some(output.unwrap());
        }
        // This thread, between the two futures' polls, in neither scope.
        between.push(vec![9u8; black_box(33)]);
        drop(handoff.lock().unwrap().take());
        if second_done.is_none()
            && let Poll::Ready(output) = poll_once(second.as_mut())
        {
            second_done = Some(output.unwrap());
        }
    }
    let (_, first_usage) = first_done.unwrap();
    let (z, second_usage) = second_done.unwrap();
    assert_eq!(figures(&first_usage), STEPS_FIGURES, "{first_usage:?}");
    assert_eq!(
        figures(&second_usage),
        OTHER_STEPS_FIGURES,
        "{second_usage:?}"
    );
    assert_eq!(z, [5, 5, 5, 5, 5]);
    assert!(between.len() >= 4);
    assert!(ScopeHandle::current().is_none());
}

#[test]
fn measured_futures_nest_in_each_other_and_in_measure() {
    // A measured future inside a measured future, and a `measure` inside that.
    let outer = allocsite::measure_future(async {
        let own = vec![1u8; black_box(10)];
        yield_once().await;
        let (z, inner) = allocsite::measure_future(other_steps()).await.unwrap();
        let (boxed, closure) = allocsite::measure(|| Box::new(black_box(5u32))).unwrap();
        yield_once().await;
        drop(own);
        (z, inner, boxed, closure)
    });
    let ((z, inner, boxed, closure), outer) = drive_on_fresh_threads(outer, || ()).unwrap();
    assert_eq!(figures(&inner), OTHER_STEPS_FIGURES, "{inner:?}");
    assert_eq!(figures(&closure), [1, 0, 0, 4, 0, 4, 1, 4], "{closure:?}");
    // The outer scope: its own 10-byte vector, the inner future's and the closure's figures
    // (the inner `Usage` values themselves are built outside every scope).
    assert_eq!(outer.allocations, 1 + 3 + 1, "{outer:?}");
    assert_eq!(outer.bytes_allocated, 10 + 114 + 4, "{outer:?}");
    assert_eq!(outer.deallocations, 1 + 2, "{outer:?}");
    assert_eq!(
        (outer.leaked_blocks, outer.leaked_bytes),
        (2, 14),
        "{outer:?}"
    );
    assert_eq!(outer.peak_live_bytes, 10 + 104, "{outer:?}");
    drop((z, boxed));

    // A measured future driven inside a `measure` closure on the same thread.
    let (output, closure) = allocsite::measure(|| {
        let mut future = Box::pin(allocsite::measure_future(other_steps()));
        loop {
            if let Poll::Ready(output) = poll_once(future.as_mut()) {
                break output.unwrap();
            }
        }
    })
    .unwrap();
    let (_z, inner) = output;
    assert_eq!(figures(&inner), OTHER_STEPS_FIGURES, "{inner:?}");
    // Plus the closure's own box of the future (allocated, then freed).
    assert_eq!(closure.allocations, 3 + 1, "{closure:?}");
    assert_eq!(closure.deallocations, 2 + 1, "{closure:?}");
    assert_eq!(closure.leaked_blocks, 1, "{closure:?}");
}

#[test]
fn a_panicking_poll_and_a_dropped_future_leave_the_thread_as_they_found_it() {
    let outer = ScopeHandle::current();
    assert!(outer.is_none());
    let mut future = Box::pin(allocsite::measure_future(async {
        yield_once().await;
        panic!("the future's own panic");
    }));
    assert!(poll_once(future.as_mut()).is_pending());
    assert_eq!(ScopeHandle::current(), outer);
    let panicked = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        let _ = poll_once(future.as_mut());
    }));
    assert!(panicked.is_err());
    assert_eq!(ScopeHandle::current(), outer);
    drop(future);

    // Dropped before it completed, inside a `measure`: the future's state is freed inside
    // its scope, which closes (its figures count in the enclosing scope, as a closed
    // scope's do), and the closure's scope is the thread's again.
    let ((), usage) = allocsite::measure(|| {
        let mut future = Box::pin(allocsite::measure_future(other_steps()));
        assert!(poll_once(future.as_mut()).is_pending());
        assert!(poll_once(future.as_mut()).is_pending());
        drop(future);
        drop(black_box(vec![0u8; 3]));
    })
    .unwrap();
    // The box of the future, `x` and `y`, the 3 bytes: all freed.
    assert_eq!(usage.allocations, 4, "{usage:?}");
    assert_eq!(usage.deallocations, 4, "{usage:?}");
    assert_eq!(usage.leaked_blocks, 0, "{usage:?}");
}

/// Bytes of task `task`'s vector at `step`: distinct per task and step.
fn size_of_step(task: usize, step: usize) -> usize {
    8 + task * 37 + step * 11
}

const TASK_STEPS: usize = 24;

/// One allocation per step, kept across the yields, a `sleep` every sixth step (the task
/// may come back on another worker), everything freed at the end.
#[inline(never)]
async fn task_work(task: usize) -> usize {
    let mut kept: Vec<Vec<u8>> = Vec::with_capacity(TASK_STEPS);
    for step in 0..TASK_STEPS {
        kept.push(vec![task as u8; size_of_step(task, step)]);
        if step % 6 == 5 {
            tokio::time::sleep(Duration::from_millis(1)).await;
        } else {
            yield_once().await;
        }
    }
    kept.iter().map(Vec::len).sum()
}

fn task_figures(task: usize) -> [u64; 8] {
    let outer = (TASK_STEPS * std::mem::size_of::<Vec<u8>>()) as u64;
    let steps: u64 = (0..TASK_STEPS).map(|s| size_of_step(task, s) as u64).sum();
    let total = outer + steps;
    let blocks = 1 + TASK_STEPS as u64;
    [blocks, 0, blocks, total, total, total, 0, 0]
}

fn multi_thread_runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(4)
        .enable_time()
        .build()
        .unwrap()
}

#[test]
fn concurrent_measured_tasks_on_tokio_s_multi_thread_runtime_neither_lose_nor_borrow() {
    let runtime = multi_thread_runtime();
    let _noise = noise(1);
    for round in 0..3 {
        let tasks: Vec<_> = (0..12)
            .map(|task| runtime.spawn(allocsite::measure_future(task_work(task))))
            .collect();
        for (task, handle) in tasks.into_iter().enumerate() {
            let (sum, usage) = runtime.block_on(handle).unwrap().unwrap();
            assert_eq!(sum as u64, task_figures(task)[3] - 24 * 24);
            assert_eq!(
                figures(&usage),
                task_figures(task),
                "round {round}, task {task}: {usage:?}"
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 3)]
async fn spawned_tasks_count_in_the_scope_when_they_carry_it() {
    for carry in [true, false] {
        let (total, usage) = allocsite::measure_future(async move {
            let handles: Vec<_> = (0..3)
                .map(|task| {
                    let work = async move {
                        yield_once().await;
                        let v = vec![1u8; 1000 + task];
                        yield_once().await;
                        v.len()
                    };
                    if carry {
                        tokio::spawn(allocsite::in_current_scope(work))
                    } else {
                        tokio::spawn(work)
                    }
                })
                .collect();
            let mut total = 0;
            for handle in handles {
                total += handle.await.unwrap();
            }
            total
        })
        .await
        .unwrap();
        assert_eq!(total, 3003);
        // The handles' vector, tokio's three tasks, and (carried) the tasks' vectors.
        let expected = if carry { 1 + 3 + 3 } else { 1 + 3 };
        assert_eq!(usage.allocations, expected, "carry {carry}: {usage:?}");
    }
}

/// Eight formatted lines, one per poll.
#[inline(never)]
async fn build_reply(lines: usize) -> Vec<String> {
    let mut reply = Vec::with_capacity(lines);
    for i in 0..lines {
        yield_once().await;
        reply.push(format!("line {i}")); // the reply's line
    }
    reply
}

fn line_of(marker: &str) -> u32 {
    include_str!("async_budgets.rs")
        .lines()
        .position(|line| line.ends_with(marker))
        .unwrap() as u32
        + 1
}

/// The panic message of a spawned task.
fn panic_message(error: tokio::task::JoinError) -> String {
    *error.into_panic().downcast::<String>().unwrap()
}

#[test]
fn a_failing_async_budget_names_the_user_s_line() {
    let runtime = multi_thread_runtime();
    let budget = allocsite::Budget::new().max_allocations(2);
    let checked = budget.run_async(build_reply(8)); // the budget's line
    let error = runtime.block_on(runtime.spawn(checked)).unwrap_err();
    let message = panic_message(error);
    let heading = format!(
        "allocation budget exceeded at tests/async_budgets.rs:{}:",
        line_of("// the budget's line")
    );
    assert!(message.starts_with(&heading), "{message}");
    assert!(
        message.contains("  allocations: 9, budget at most 2\n"),
        "{message}"
    );
    let lines: Vec<&str> = message.lines().collect();
    let sites = lines
        .iter()
        .position(|l| l.contains("call sites in the scope, most allocations first:"))
        .unwrap_or_else(|| panic!("{message}"));
    let first = format!(
        "    tests/async_budgets.rs:{}  ",
        line_of("// the reply's line")
    );
    assert!(lines[sites + 1].starts_with(&first), "{message}");
    assert!(
        lines[sites + 1].contains("async_budgets::build_reply"),
        "{message}"
    );
    assert!(!message.contains("allocsite::"), "{message}");
    assert!(!message.contains("tokio::"), "{message}");
}

#[test]
fn an_async_budget_s_profile_ends_at_the_user_s_future() {
    let runtime = multi_thread_runtime();
    let (_, usage) = runtime
        .block_on(runtime.spawn(allocsite::measure_future(build_reply(3))))
        .unwrap()
        .unwrap();
    assert_eq!(usage.allocations, 4, "{usage:?}");
    let profile = usage.to_dhat("async");
    profile.validate().unwrap();
    for point in &profile.program_points {
        let frames: Vec<&str> = point
            .frames
            .iter()
            .map(|&f| profile.frames[f].as_str())
            .collect();
        assert!(
            frames
                .iter()
                .all(|f| !f.contains("allocsite::") && !f.contains("tokio")),
            "{frames:#?}"
        );
        let root = frames.last().unwrap();
        assert!(
            root.contains("async_budgets::build_reply"),
            "the user's future is the root: {frames:#?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_assertion_macros_await_an_async_block() {
    let reply = allocsite::assert_allocs!(<= 4, async { build_reply(3).await });
    assert_eq!(reply.len(), 3);
    let lines = allocsite::assert_allocs!(== 4, async move { build_reply(3).await.len() });
    assert_eq!(lines, 3);
    let sum = allocsite::assert_no_alloc!(async {
        yield_once().await;
        [1u32, 2, 3].iter().sum::<u32>()
    });
    assert_eq!(sum, 6);
    let error = tokio::spawn(async {
        allocsite::assert_no_alloc!(async { build_reply(1).await }) // the macro's line
    })
    .await
    .unwrap_err();
    let message = panic_message(error);
    let heading = format!(
        "allocation budget exceeded at tests/async_budgets.rs:{}:",
        line_of("// the macro's line")
    );
    assert!(message.starts_with(&heading), "{message}");
}

// The README's example, compiled and run as written there.
async fn greet(name: &str) -> String {
    tokio::time::sleep(std::time::Duration::from_millis(1)).await;
    format!("hello, {name}")
}

#[tokio::test]
#[cfg_attr(not(feature = "track"), ignore = "needs --features track")]
async fn greet_allocates_its_reply_only() {
    let reply = allocsite::assert_allocs!(== 1, async { greet("ada").await });
    assert_eq!(reply, "hello, ada");
    allocsite::Budget::new()
        .max_bytes(64)
        .no_leaks()
        .run_async(async { greet("grace").await.len() })
        .await;
    let (reply, usage) = allocsite::measure_future(greet("alan")).await.unwrap();
    assert_eq!((usage.allocations, usage.leaked_blocks), (1, 1)); // `reply` outlives the scope
    drop(reply);
}

/// A measured future's duration runs from its first poll to its completion, waits included;
/// a closure's is its run.
#[test]
fn usage_says_how_long_the_scope_ran() {
    let (_, usage) = allocsite::measure(|| std::thread::sleep(Duration::from_millis(20))).unwrap();
    assert!(usage.duration >= Duration::from_millis(20), "{usage:?}");
    assert!(usage.duration < Duration::from_secs(60), "{usage:?}");
    let runtime = multi_thread_runtime();
    let usage = runtime.block_on(async {
        allocsite::measure_future(async {
            tokio::time::sleep(Duration::from_millis(25)).await;
        })
        .await
        .unwrap()
        .1
    });
    assert!(usage.duration >= Duration::from_millis(25), "{usage:?}");
    assert!(usage.duration < Duration::from_secs(60), "{usage:?}");
}
