//! The `dhat` crate's heap profiler (every allocation, with its stack), writing its JSON file
//! before exit, inside the process time.
use allocsite_workloads::{Args, print_result, run_workload, timed};

#[global_allocator]
static ALLOC: dhat::Alloc = dhat::Alloc;

fn main() {
    let args = Args::parse();
    let path = allocsite_workloads::scratch_path("dhat");
    let profiler = dhat::Profiler::builder().file_name(&path).build();
    let (checksum, work_s) = timed(|| run_workload(&args.workload));
    let stats = dhat::HeapStats::get();
    drop(profiler);
    let _ = std::fs::remove_file(&path);
    print_result(work_s, Some(stats.total_blocks), checksum);
}
