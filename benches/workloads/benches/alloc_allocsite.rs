//! Micro-benchmarks of allocsite. Without the workload crate's `track` feature: the
//! pass-through (`allocsite-off`). With it: counters only (`allocsite-on`), then a profiler at
//! the default sample rate (`allocsite-profile64K`), then every allocation recorded
//! (`allocsite-every`). The profiler's output goes to a scratch file, written after timing.
mod common;

#[global_allocator]
static ALLOC: allocsite::Alloc = allocsite::Alloc::system();

fn main() {
    let mut c = common::criterion();
    if !allocsite::tracking_enabled() {
        common::all(&mut c, "allocsite-off");
    } else {
        common::all(&mut c, "allocsite-on");
        for (name, sample_bytes) in [("allocsite-profile64K", 64 * 1024), ("allocsite-every", 1)] {
            let path = std::env::temp_dir().join(format!("allocsite-micro-{}.json", std::process::id()));
            let profiler = allocsite::Profiler::builder()
                .sample_bytes(sample_bytes)
                .output(&path)
                .summary(false)
                .start()
                .expect("start the profiler");
            common::all(&mut c, name);
            profiler.finish().expect("finish the profiler");
            let _ = std::fs::remove_file(&path);
        }
    }
    c.final_summary();
}
