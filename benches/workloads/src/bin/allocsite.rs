//! allocsite as the global allocator. Built without the workload crate's `track` feature it
//! measures the pass-through; with it, options pick what runs:
//!
//! - (none): exact counters only, no profiler;
//! - `profile=N`: a `Profiler` with `sample_bytes(N)` (1 = every allocation) around the
//!   workload, finished (symbolized and written) before exit, inside the process time;
//! - `measure`: the workload inside `allocsite::measure` (a budget scope: every allocation
//!   recorded with its stack).
use allocsite_workloads::{Args, print_result, run_workload, timed};

#[global_allocator]
static ALLOC: allocsite::Alloc = allocsite::Alloc::system();

fn main() {
    let args = Args::parse();
    let workload = args.workload.clone();
    let (checksum, work_s) = if let Some(sample_bytes) = args.number("profile") {
        let path = allocsite_workloads::scratch_path("allocsite");
        let profiler = allocsite::Profiler::builder()
            .sample_bytes(sample_bytes)
            .output(&path)
            .summary(false)
            .start()
            .expect("start the profiler (build with --features track)");
        let result = timed(|| run_workload(&workload));
        profiler.finish().expect("finish the profiler");
        let _ = std::fs::remove_file(&path);
        result
    } else if args.get("measure").is_some() {
        let ((checksum, usage), work_s) =
            timed(|| allocsite::measure(|| run_workload(&workload)).expect("measure (build with --features track)"));
        eprintln!("measure: {} allocations, {} reallocations recorded", usage.allocations, usage.reallocations);
        drop(usage);
        (checksum, work_s)
    } else {
        timed(|| run_workload(&workload))
    };
    let allocs = allocsite::stats().ok().map(|s| s.allocations + s.reallocations);
    print_result(work_s, allocs, checksum);
}
