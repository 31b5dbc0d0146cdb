//! Micro-benchmarks of the `dhat` crate's heap profiler (every allocation, with its stack).
mod common;

#[global_allocator]
static ALLOC: dhat::Alloc = dhat::Alloc;

fn main() {
    let mut c = common::criterion();
    let path = std::env::temp_dir().join(format!("dhat-micro-{}.json", std::process::id()));
    let profiler = dhat::Profiler::builder().file_name(&path).build();
    common::all(&mut c, "dhat");
    drop(profiler);
    let _ = std::fs::remove_file(&path);
    c.final_summary();
}
