//! Call sites: the program points of a DHAT file keyed by the first frame of the user's own
//! code, the one table every output names lines from (the terminal summary, budgets' call
//! sites and failure messages, folded stacks).
//!
//! A program point's **call site** is its first (innermost) frame of class `user` (see
//! `symbolize/classify.rs`), shown with the call it made, the frame just inside it:
//! `serde_json::de::from_str ← app::parse (src/main.rs:9)`. When no frame is the user's, the
//! first `dependency` frame stands in, labelled `[in serde_json 1.0.154]`; then the first
//! frame whose class is not `std`, `allocsite` or `system`; then the innermost frame.
//!
//! Program points with the same call-site frame (function, file and line, an object file
//! counting as the file; not the address or column) are one row, whatever their return
//! addresses; the callee shown is the one of the point that contributes the most bytes. The
//! viewer keys call sites the same way (`viewer/CALL-SITES.md`), and two files are compared
//! by this key (`report/diff.rs`).

use std::collections::HashMap;

use super::dhat::DhatFile;
use crate::symbolize::classify::{FrameClass, classify_all};
use crate::symbolize::frame::Frame;

/// The call sites of a DHAT file, most total bytes first.
#[derive(Clone, Debug, Default)]
pub(crate) struct CallSiteTable {
    /// The rows, most total bytes first (then most blocks, then by name).
    pub(crate) sites: Vec<Site>,
    /// For each program point of the file, in order: its row and the position of the call
    /// site's frame in the point's frame list.
    pub(crate) points: Vec<(usize, usize)>,
    /// The file's frame table, parsed.
    frames: Vec<Frame>,
}

/// One row: a call-site frame and the figures of every program point that has it.
#[derive(Clone, Debug)]
pub(crate) struct Site {
    /// The call site's frame.
    pub(crate) frame: Frame,
    /// Its class: `User`, or what stands in for the user's frame.
    pub(crate) class: FrameClass,
    /// The frame just inside the call site (the call it made), of the biggest contributor;
    /// `None` when the call site is the innermost frame.
    pub(crate) callee: Option<Frame>,
    /// The program point contributing the most bytes (whose callee and stack are shown).
    pub(crate) biggest_point: usize,
    /// Sums over the row's program points.
    pub(crate) total_bytes: f64,
    pub(crate) total_blocks: f64,
    pub(crate) peak_bytes: f64,
    pub(crate) peak_blocks: f64,
    pub(crate) end_bytes: f64,
    pub(crate) end_blocks: f64,
}

impl Site {
    /// `callee ← function (file:line)`, with the stand-in label in front when the call
    /// site is not the user's: `[in serde_json 1.0.154] alloc::… ← serde_json::… (…)`.
    pub(crate) fn describe(&self) -> String {
        let mut text = String::new();
        if self.class != FrameClass::User
            && let Some(label) = self.class.stand_in_label()
        {
            text.push_str(&label);
            text.push(' ');
        }
        if let Some(callee) = &self.callee {
            text.push_str(&callee.function);
            text.push_str(" ← ");
        }
        text.push_str(&self.frame.describe());
        text
    }
}

/// The position of a stack's call site (innermost first; see the module docs). `None` for
/// an empty stack.
pub(crate) fn call_site_position(classes: &[&FrameClass], frames: &[&Frame]) -> Option<usize> {
    let find = |wanted: &dyn Fn(&FrameClass, &Frame) -> bool| {
        classes
            .iter()
            .zip(frames)
            .position(|(class, frame)| wanted(class, frame))
    };
    find(&|class, _| *class == FrameClass::User)
        .or_else(|| find(&|class, _| matches!(class, FrameClass::Dependency { .. })))
        .or_else(|| {
            find(&|class, frame| {
                !frame.is_marker()
                    && !matches!(
                        class,
                        FrameClass::Std | FrameClass::Allocsite | FrameClass::System
                    )
            })
        })
        .or((!frames.is_empty()).then_some(0))
}

impl CallSiteTable {
    /// Builds the table of `file`: every frame string is parsed and classified once.
    pub(crate) fn build(file: &DhatFile) -> CallSiteTable {
        let frames: Vec<Frame> = file.frames.iter().map(|f| Frame::parse(f)).collect();
        let classes: Vec<FrameClass> = classify_all(&frames);
        let mut rows: HashMap<RowKey, usize> = HashMap::new();
        let mut sites: Vec<Site> = Vec::new();
        let mut points = Vec::with_capacity(file.program_points.len());
        for (index, point) in file.program_points.iter().enumerate() {
            // The validator guarantees indices inside the table; be safe anyway.
            let stack: Vec<usize> = point
                .frames
                .iter()
                .copied()
                .filter(|&f| f < frames.len())
                .collect();
            let stack_frames: Vec<&Frame> = stack.iter().map(|&f| &frames[f]).collect();
            let stack_classes: Vec<&FrameClass> = stack.iter().map(|&f| &classes[f]).collect();
            let (frame, class, callee, position) =
                match call_site_position(&stack_classes, &stack_frames) {
                    Some(position) => (
                        stack_frames[position].clone(),
                        stack_classes[position].clone(),
                        position.checked_sub(1).map(|i| stack_frames[i].clone()),
                        position,
                    ),
                    // An empty frame list: one row for all of them, named by the root.
                    None => (Frame::marker("[root]"), FrameClass::Unknown, None, 0),
                };
            let row = row_for(&mut rows, &mut sites, frame, class, callee.clone(), index);
            add(&mut sites[row], file, index, callee);
            points.push((row, position));
        }
        // Sort the rows and renumber the points' rows.
        let mut order: Vec<usize> = (0..sites.len()).collect();
        order.sort_by(|&a, &b| {
            let (a, b) = (&sites[a], &sites[b]);
            b.total_bytes
                .total_cmp(&a.total_bytes)
                .then(b.total_blocks.total_cmp(&a.total_blocks))
                .then_with(|| a.frame.describe().cmp(&b.frame.describe()))
        });
        let mut new_index = vec![0; sites.len()];
        for (new, &old) in order.iter().enumerate() {
            new_index[old] = new;
        }
        let mut slots: Vec<Option<Site>> = sites.into_iter().map(Some).collect();
        let sites = order.iter().filter_map(|&old| slots[old].take()).collect();
        for (row, _) in &mut points {
            *row = new_index[*row];
        }
        CallSiteTable {
            sites,
            points,
            frames,
        }
    }

    /// The function names of program point `point` of `file` (the file the table was built
    /// from), from the outermost frame down to the call site's callee (or the call site, when
    /// it is the innermost frame): what a flame graph shows, the internals of the call folded
    /// into it.
    pub(crate) fn folded_stack(&self, file: &DhatFile, point: usize) -> Vec<&str> {
        let (_, position) = self.points[point];
        let frames = &file.program_points[point].frames;
        let start = position.saturating_sub(1).min(frames.len());
        frames[start..]
            .iter()
            .rev()
            .filter_map(|&f| self.frames.get(f))
            .map(|frame| frame.function.as_str())
            .collect()
    }
}

/// What makes two call-site frames the same row: function, file (or object) and line.
pub(crate) type RowKey = (String, Option<String>, Option<u32>);

/// The row key of a call-site frame. A frame known only by its object file
/// (`malloc (in /usr/lib/libc.so.6)`) is keyed by the object, as the viewer does.
pub(crate) fn row_key(frame: &Frame) -> RowKey {
    let place = frame.file.clone().or_else(|| frame.object.clone());
    (frame.function.clone(), place, frame.line)
}

/// The row of a call-site frame, added on first sight with `point`'s callee.
fn row_for(
    rows: &mut HashMap<RowKey, usize>,
    sites: &mut Vec<Site>,
    frame: Frame,
    class: FrameClass,
    callee: Option<Frame>,
    point: usize,
) -> usize {
    let key = row_key(&frame);
    *rows.entry(key).or_insert_with(|| {
        sites.push(Site {
            frame,
            class,
            callee,
            biggest_point: point,
            total_bytes: 0.0,
            total_blocks: 0.0,
            peak_bytes: 0.0,
            peak_blocks: 0.0,
            end_bytes: 0.0,
            end_blocks: 0.0,
        });
        sites.len() - 1
    })
}

/// Adds program point `index` to its row; a bigger contributor than the row's names the
/// callee.
fn add(site: &mut Site, file: &DhatFile, index: usize, callee: Option<Frame>) {
    let point = &file.program_points[index];
    let biggest = &file.program_points[site.biggest_point];
    if (point.total_bytes, point.total_blocks) > (biggest.total_bytes, biggest.total_blocks) {
        site.biggest_point = index;
        site.callee = callee;
    }
    site.total_bytes += point.total_bytes;
    site.total_blocks += point.total_blocks;
    site.peak_bytes += point.peak_bytes.unwrap_or(0.0);
    site.peak_blocks += point.peak_blocks.unwrap_or(0.0);
    site.end_bytes += point.end_bytes.unwrap_or(0.0);
    site.end_blocks += point.end_blocks.unwrap_or(0.0);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::dhat::ProgramPoint;

    /// A file with one program point per `(bytes, frames)`.
    pub(crate) fn file_of(points: &[(f64, &[&str])]) -> DhatFile {
        let mut file = DhatFile::rust_heap("test".into(), 1, 10, None);
        for (bytes, frames) in points {
            let indices = frames
                .iter()
                .map(|frame| match file.frames.iter().position(|f| f == frame) {
                    Some(index) => index,
                    None => {
                        file.frames.push((*frame).to_owned());
                        file.frames.len() - 1
                    }
                })
                .collect();
            file.program_points.push(ProgramPoint {
                total_bytes: *bytes,
                total_blocks: 1.0,
                frames: indices,
                ..ProgramPoint::default()
            });
        }
        file
    }

    const GROW: &str = "0x10: alloc::raw_vec::finish_grow (alloc/src/raw_vec/mod.rs:100:5)";
    const PUSH: &str = "0x11: alloc::vec::Vec<T,A>::push (alloc/src/vec/mod.rs:2000:9)";
    const FROM_STR: &str = "0x20: serde_json::de::from_str (serde_json-1.0.154/src/de.rs:2676:5)";
    const VISIT: &str =
        "0x21: serde_json::value::de::visit_str (serde_json-1.0.154/src/value/de.rs:79:9)";

    #[test]
    fn the_user_s_frame_is_the_call_site_with_the_call_it_made() {
        let file = file_of(&[
            (
                100.0,
                &[
                    GROW,
                    VISIT,
                    FROM_STR,
                    "0x30: app::parse (src/main.rs:9:5)",
                    "0x31: app::main (src/main.rs:20:5)",
                ],
            ),
            // The same line of `parse`, another return address and column: the same row.
            (
                50.0,
                &[
                    PUSH,
                    "0x38: app::parse (src/main.rs:9:17)",
                    "0x31: app::main (src/main.rs:20:5)",
                ],
            ),
            (30.0, &[PUSH, "0x40: app::load (src/main.rs:14:5)"]),
        ]);
        let table = CallSiteTable::build(&file);
        assert_eq!(table.sites.len(), 2);
        let top = &table.sites[0];
        assert_eq!(top.total_bytes, 150.0);
        assert_eq!(top.total_blocks, 2.0);
        assert_eq!(top.class, FrameClass::User);
        assert_eq!(
            top.describe(),
            "serde_json::de::from_str ← app::parse (src/main.rs:9)"
        );
        assert_eq!(
            table.sites[1].describe(),
            "alloc::vec::Vec<T,A>::push ← app::load (src/main.rs:14)"
        );
        assert_eq!(table.points, [(0, 3), (0, 1), (1, 1)]);
        assert_eq!(
            table.folded_stack(&file, 0),
            ["app::main", "app::parse", "serde_json::de::from_str"]
        );
        assert_eq!(
            table.folded_stack(&file, 2),
            ["app::load", "alloc::vec::Vec<T,A>::push"]
        );
    }

    /// A `dhat` crate profile keeps three path components, so std's hashbrown reads
    /// `src/raw/alloc.rs`, a file of the user's by its path alone; another frame of the file
    /// places hashbrown, and the user's line is the call site.
    #[test]
    fn a_cut_path_of_a_crate_another_frame_places_is_not_the_user_s() {
        let stack: &[&str] = &[
            "0x1: hashbrown::raw::alloc::inner::do_alloc (src/raw/alloc.rs:19:5)",
            "0x2: hashbrown::raw::RawTableInner::new_uninitialized (src/raw/mod.rs:1534:38)",
            "0x3: hashbrown::map::HashMap<K,V,S,A>::insert (hashbrown-0.15.2/src/map.rs:1700:13)",
            "0x4: std::collections::hash::map::HashMap<K,V,S>::insert (std/src/collections/hash/map.rs:1203:9)",
            "0x5: app::index (app/src/main.rs:12:9)",
            "0x6: app::main (app/src/main.rs:30:5)",
        ];
        let file = file_of(&[(64.0, stack)]);
        let table = CallSiteTable::build(&file);
        assert_eq!(table.sites[0].class, FrameClass::User);
        assert_eq!(
            table.sites[0].describe(),
            "std::collections::hash::map::HashMap<K,V,S>::insert ← app::index (app/src/main.rs:12)"
        );
    }

    #[test]
    fn stand_ins_when_no_frame_is_the_user_s() {
        let file = file_of(&[
            (10.0, &[GROW, VISIT, FROM_STR]),
            (
                5.0,
                &[
                    "0x1: <allocsite::Alloc<A> as core::alloc::global::GlobalAlloc>::alloc (src/alloc.rs:41:9)",
                    GROW,
                    "0x2: std::rt::lang_start_internal (std/src/rt.rs:150:5)",
                ],
            ),
            (3.0, &[GROW, "0x4: some_symbol", "0x3: ??? (???:0:0)"]),
            (1.0, &[]),
            // Known only by their objects: one row per object, not one for both.
            (0.5, &["0x5: helper (in /opt/app/libone.so)"]),
            (0.25, &["0x6: helper (in /opt/app/libtwo.so)"]),
        ]);
        let table = CallSiteTable::build(&file);
        let described: Vec<String> = table.sites.iter().map(Site::describe).collect();
        assert_eq!(
            described,
            [
                "[in serde_json 1.0.154] alloc::raw_vec::finish_grow ← serde_json::value::de::visit_str (serde_json-1.0.154/src/value/de.rs:79)",
                "[in allocsite] <allocsite::Alloc<A> as core::alloc::global::GlobalAlloc>::alloc (src/alloc.rs:41)",
                "alloc::raw_vec::finish_grow ← some_symbol",
                "[root]",
                "helper (in /opt/app/libone.so)",
                "helper (in /opt/app/libtwo.so)",
            ]
        );
    }
}
