//! Micro-benchmarks of the system allocator alone (the baseline).
mod common;

#[global_allocator]
static ALLOC: std::alloc::System = std::alloc::System;

fn main() {
    let mut c = common::criterion();
    common::all(&mut c, "system");
    c.final_summary();
}
