//! A scope's call sites, symbolized, and the scope as a DHAT file for the viewers.
//!
//! The scope's stacks are symbolized and trimmed once into a DHAT file (stacks that became
//! the same are merged, as Valgrind's viewer needs); its call sites are that file's call-site
//! table (`report/call_sites.rs`), the same rows the profiler's summary shows.

use super::usage::{CallSite, Usage};
#[cfg(feature = "report")]
use crate::report::dhat::DhatFile;

impl Usage {
    /// The scope's call sites, most allocations first (then most bytes): each is the first
    /// line of the user's own code in its allocations' stacks, with the call it made there
    /// ([`CallSite::callee`]). Stacks through the same line are one call site.
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
        #[cfg(feature = "report")]
        return call_sites_of(&self.to_dhat(""));
        // Without `report` there is no `track` either, so no scope was ever measured.
        #[cfg(not(feature = "report"))]
        Vec::new()
    }

    /// The scope as a DHAT file (no lifetimes: `bklt` is false), for the viewers. Stacks keep
    /// every frame from the allocation up to the user's closure that the scope ran (the
    /// scope's own frames and what called it are dropped); a stack the capture cut ends with
    /// a `[… N more frames not captured]` frame. Needs the `report` feature (which `track`
    /// turns on).
    #[cfg(feature = "report")]
    pub fn to_dhat(&self, command: &str) -> DhatFile {
        use crate::backend;
        use crate::report::dhat::{FrameTable, ProgramPoint};
        use std::collections::HashMap;
        let mut frames = FrameTable::new();
        let mut program_points: Vec<ProgramPoint> = Vec::new();
        let mut by_frames: HashMap<Vec<usize>, usize> = HashMap::new();
        for stack in backend::resolve_stacks(&self.stacks) {
            let indices: Vec<usize> = stack
                .frames
                .iter()
                .map(|frame| frames.index(frame))
                .collect();
            match by_frames.get(&indices) {
                Some(&point) => {
                    program_points[point].total_bytes += stack.bytes as f64;
                    program_points[point].total_blocks += stack.allocations as f64;
                }
                None => {
                    by_frames.insert(indices.clone(), program_points.len());
                    program_points.push(ProgramPoint {
                        total_bytes: stack.bytes as f64,
                        total_blocks: stack.allocations as f64,
                        frames: indices,
                        ..ProgramPoint::default()
                    });
                }
            }
        }
        DhatFile {
            program_points,
            frames: frames.into_frames(),
            // The run time is the scope's, in µs (at least 1).
            ..DhatFile::rust_heap(
                command.into(),
                u64::from(std::process::id()),
                u64::try_from(self.duration.as_micros()).unwrap_or(u64::MAX),
                None,
            )
        }
    }
}

/// The call sites of a scope's DHAT file (see [`Usage::call_sites`]).
#[cfg(feature = "report")]
pub(super) fn call_sites_of(file: &DhatFile) -> Vec<CallSite> {
    let table = crate::report::call_sites::CallSiteTable::build(file);
    let mut sites: Vec<CallSite> = table
        .sites
        .iter()
        .map(|site| {
            let point = &file.program_points[site.biggest_point];
            CallSite {
                function: site.frame.function.clone(),
                file: site.frame.file.clone(),
                line: site.frame.line,
                callee: site.callee.as_ref().map(|callee| callee.function.clone()),
                class: site.class.clone(),
                allocations: site.total_blocks as u64,
                bytes: site.total_bytes as u64,
                stack: point
                    .frames
                    .iter()
                    .map(|&f| file.frames[f].clone())
                    .collect(),
            }
        })
        .collect();
    // Stable: equal figures keep the table's order.
    sites.sort_by_key(|site| std::cmp::Reverse((site.allocations, site.bytes)));
    sites
}
