//! The baseline: the system allocator, nothing in front of it.
use allocsite_workloads::{Args, print_result, run_workload, timed};

#[global_allocator]
static ALLOC: std::alloc::System = std::alloc::System;

fn main() {
    let args = Args::parse();
    let (checksum, work_s) = timed(|| run_workload(&args.workload));
    print_result(work_s, None, checksum);
}
