//! Micro-benchmarks of heapscope, every allocation recorded (its default), or sampled at
//! `HEAPSCOPE_SAMPLING` bytes. Build with `-C force-frame-pointers=yes`.
mod common;

#[global_allocator]
static ALLOC: heapscope::Alloc = heapscope::Alloc::system();

fn main() {
    let mut c = common::criterion();
    let sampling: Option<u64> = std::env::var("HEAPSCOPE_SAMPLING").ok().and_then(|s| s.parse().ok());
    let mut builder = heapscope::Profiler::builder().no_output();
    if let Some(bytes) = sampling {
        builder = builder.sampling(bytes);
    }
    let profiler = builder.build().expect("start heapscope");
    let name = sampling.map_or("heapscope".to_string(), |b| format!("heapscope@{}K", b / 1024));
    common::all(&mut c, &name);
    drop(profiler);
    c.final_summary();
}
