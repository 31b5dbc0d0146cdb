//! A scope's call sites, symbolized, and the scope as a DHAT file for the viewers.

use super::usage::{CallSite, Usage};
use crate::backend;
use crate::report::dhat::{DhatFile, FrameTable, ProgramPoint};

impl Usage {
    /// The scope's call sites, most allocations first (then most bytes), symbolized.
    ///
    /// ```
    /// #[global_allocator]
    /// static ALLOC: allocsite::Alloc = allocsite::Alloc::system();
    ///
    /// #[inline(never)]
    /// fn make_names() -> Vec<String> {
    ///     vec!["ada".to_string(), "grace".to_string()]
    /// }
    ///
    /// # fn main() {
    /// if let Ok((names, usage)) = allocsite::measure(make_names) {
    ///     let sites = usage.call_sites();
    ///     let total: u64 = sites.iter().map(|site| site.allocations).sum();
    ///     assert_eq!(total, 3); // the vector and two strings
    ///     assert!(sites.iter().all(|site| site.function.contains("make_names")));
    ///     drop(names);
    /// }
    /// # }
    /// ```
    pub fn call_sites(&self) -> Vec<CallSite> {
        let mut sites = backend::resolve_call_sites(&self.stacks);
        sites.sort_by_key(|site| std::cmp::Reverse((site.allocations, site.bytes)));
        sites
    }

    /// The scope as a DHAT file (no lifetimes: `bklt` is false), for the viewers.
    pub fn to_dhat(&self, command: &str) -> DhatFile {
        let mut frames = FrameTable::new();
        let mut program_points: Vec<ProgramPoint> = Vec::new();
        for site in self.call_sites() {
            let indices: Vec<usize> = site.stack.iter().map(|frame| frames.index(frame)).collect();
            match program_points.iter_mut().find(|p| p.frames == indices) {
                Some(point) => {
                    point.total_bytes += site.bytes as f64;
                    point.total_blocks += site.allocations as f64;
                }
                None => program_points.push(ProgramPoint {
                    total_bytes: site.bytes as f64,
                    total_blocks: site.allocations as f64,
                    frames: indices,
                    ..ProgramPoint::default()
                }),
            }
        }
        DhatFile {
            program_points,
            frames: frames.into_frames(),
            ..DhatFile::rust_heap(command.into(), u64::from(std::process::id()), 1, None)
        }
    }
}
