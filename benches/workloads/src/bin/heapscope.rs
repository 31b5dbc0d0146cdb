//! heapscope as the global allocator: every allocation recorded (its default), or sampled
//! with `sampling=N`. Writes its DHAT file before exit, inside the process time. Needs
//! `-C force-frame-pointers=yes` on x86_64.
use allocsite_workloads::{Args, print_result, run_workload, timed};

#[global_allocator]
static ALLOC: heapscope::Alloc = heapscope::Alloc::system();

fn main() {
    let args = Args::parse();
    let path = allocsite_workloads::scratch_path("heapscope");
    let mut builder = heapscope::Profiler::builder().output(heapscope::Output::dhat_v2(&path));
    if let Some(bytes) = args.number("sampling") {
        builder = builder.sampling(bytes);
    }
    let profiler = builder.build().expect("start heapscope");
    let (checksum, work_s) = timed(|| run_workload(&args.workload));
    drop(profiler);
    let _ = std::fs::remove_file(&path);
    print_result(work_s, None, checksum);
}
