//! Allocations made by short-lived threads and by thread-local destructors — including
//! destructors that run after allocsite's own per-thread state is gone — are counted, and
//! 1000 spawned threads neither crash nor lose anything from the process totals.
//! Runs without libtest's harness so no other thread allocates meanwhile.

use std::cell::Cell;

#[global_allocator]
static ALLOC: allocsite::Alloc = allocsite::Alloc::system();

const THREADS: usize = 1000;
const DESTRUCTOR_ALLOCATIONS: u64 = 3;

/// Allocates and frees `DESTRUCTOR_ALLOCATIONS` blocks when the thread's locals are
/// destroyed.
struct AllocatesOnDrop {
    armed: Cell<bool>,
}

impl Drop for AllocatesOnDrop {
    fn drop(&mut self) {
        if self.armed.get() {
            for size in 1..=DESTRUCTOR_ALLOCATIONS as usize {
                drop(std::hint::black_box(vec![0u8; size * 100]));
            }
        }
    }
}

thread_local! {
    // Touched before the thread allocates anything, so its destructor is registered before
    // allocsite's and runs after it: these allocations find allocsite's state gone.
    static EARLY: AllocatesOnDrop = const { AllocatesOnDrop { armed: Cell::new(false) } };
    // Touched after the first allocation: its destructor runs while allocsite's state lives.
    static LATE: AllocatesOnDrop = const { AllocatesOnDrop { armed: Cell::new(false) } };
}

/// Spawns `THREADS` threads, one at a time, each making two allocations and optionally
/// arming its destructors. Returns the change in process allocations and live bytes.
fn run(arm_destructors: bool) -> (u64, i64) {
    let before = allocsite::stats().unwrap();
    for index in 0..THREADS {
        std::thread::spawn(move || {
            EARLY.with(|early| early.armed.set(arm_destructors));
            let work = std::hint::black_box(vec![index as u8; 64]);
            LATE.with(|late| late.armed.set(arm_destructors));
            drop(std::hint::black_box(format!("{index}")));
            drop(work);
        })
        .join()
        .unwrap();
    }
    let after = allocsite::stats().unwrap();
    (
        after.allocations - before.allocations,
        after.live_bytes as i64 - before.live_bytes as i64,
    )
}

fn main() {
    if !allocsite::tracking_enabled() {
        run_without_tracking();
        return;
    }
    allocsite::check_installed().unwrap();
    // Warm up std's lazily initialised state so both measured runs do identical work.
    run(false);
    let (plain, plain_live) = run(false);
    let (with_destructors, destructors_live) = run(true);
    assert_eq!(
        with_destructors - plain,
        THREADS as u64 * 2 * DESTRUCTOR_ALLOCATIONS,
        "every allocation made in both thread-local destructors is counted"
    );
    assert_eq!(
        plain_live, 0,
        "short-lived threads free everything they allocate"
    );
    assert_eq!(
        destructors_live, 0,
        "destructor frees are counted with their allocations"
    );
    println!(
        "thread_teardown: {THREADS} threads, {plain} allocations without and {with_destructors} with destructor work; live bytes unchanged"
    );
}

fn run_without_tracking() {
    for _ in 0..10 {
        std::thread::spawn(|| drop(std::hint::black_box(vec![1u8; 10])))
            .join()
            .unwrap();
    }
    assert_eq!(allocsite::stats(), Err(allocsite::Error::TrackingDisabled));
    println!("thread_teardown: tracking is off; checked that it says so");
}
