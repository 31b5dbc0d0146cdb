//! A DHAT file as the `profile.proto` model: sample types, samples, locations, functions,
//! mappings and the string table (the module docs of `pprof` say what maps to what).

use std::collections::HashMap;
use std::collections::hash_map::Entry;
use std::io;

use super::PprofOptions;
use super::frames::{FrameText, parse_frame};
use crate::report::dhat::DhatFile;

// ---------------------------------------------------------------------------------------
// The profile.proto model (field numbers in `encode_profile`), ids and string indices as
// pprof stores them. Zero means "unset" everywhere, as in proto3.

#[derive(Clone, Debug, Default, PartialEq)]
pub(super) struct Profile {
    pub(super) sample_type: Vec<ValueType>,
    pub(super) sample: Vec<Sample>,
    pub(super) mapping: Vec<Mapping>,
    pub(super) location: Vec<Location>,
    pub(super) function: Vec<Function>,
    pub(super) string_table: Vec<String>,
    pub(super) time_nanos: i64,
    pub(super) duration_nanos: i64,
    pub(super) period_type: Option<ValueType>,
    pub(super) period: i64,
    pub(super) comment: Vec<i64>,
    pub(super) default_sample_type: i64,
}

#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub(super) struct ValueType {
    pub(super) kind: i64,
    pub(super) unit: i64,
}

#[derive(Clone, Debug, Default, PartialEq)]
pub(super) struct Sample {
    pub(super) location_id: Vec<u64>,
    pub(super) value: Vec<i64>,
    pub(super) label: Vec<Label>,
}

#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub(super) struct Label {
    pub(super) key: i64,
    pub(super) str: i64,
    pub(super) num: i64,
    pub(super) num_unit: i64,
}

#[derive(Clone, Debug, Default, PartialEq)]
pub(super) struct Mapping {
    pub(super) id: u64,
    pub(super) memory_start: u64,
    pub(super) memory_limit: u64,
    pub(super) file_offset: u64,
    pub(super) filename: i64,
    pub(super) build_id: i64,
    pub(super) has_functions: bool,
    pub(super) has_filenames: bool,
    pub(super) has_line_numbers: bool,
    pub(super) has_inline_frames: bool,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub(super) struct Location {
    pub(super) id: u64,
    pub(super) mapping_id: u64,
    pub(super) address: u64,
    pub(super) line: Vec<Line>,
    pub(super) is_folded: bool,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub(super) struct Line {
    pub(super) function_id: u64,
    pub(super) line: i64,
    pub(super) column: i64,
}

#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub(super) struct Function {
    pub(super) id: u64,
    pub(super) name: i64,
    pub(super) system_name: i64,
    pub(super) filename: i64,
    pub(super) start_line: i64,
}

// ---------------------------------------------------------------------------------------
// DHAT → model.

/// How a DHAT mode maps to pprof sample types.
enum Kind {
    Heap,
    Copy,
    AdHoc,
}

fn invalid(message: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, message)
}

pub(super) fn build_profile(file: &DhatFile, options: &PprofOptions) -> io::Result<Profile> {
    file.validate().map_err(|e| invalid(e.to_string()))?;
    let kind = match file.mode.as_str() {
        "heap" | "rust-heap" => Kind::Heap,
        "copy" => Kind::Copy,
        "ad-hoc" | "rust-ad-hoc" => Kind::AdHoc,
        other => {
            return Err(invalid(format!(
                "DHAT mode {other:?} has no pprof equivalent: expected heap, rust-heap, copy, \
                 ad-hoc or rust-ad-hoc"
            )));
        }
    };
    let mut b = Builder::new();
    let points = &file.program_points;

    // Sample types, and each program point's values in the same order.
    let in_use = matches!(kind, Kind::Heap)
        && points
            .iter()
            .all(|p| p.end_bytes.is_some() && p.end_blocks.is_some());
    let ad_hoc_unit = sanitize_unit(file.bytes_unit.as_deref().unwrap_or("units"));
    let types: Vec<(&str, &str)> = match kind {
        Kind::Heap if in_use => vec![
            ("alloc_objects", "count"),
            ("alloc_space", "bytes"),
            ("inuse_objects", "count"),
            ("inuse_space", "bytes"),
        ],
        Kind::Heap => vec![("alloc_objects", "count"), ("alloc_space", "bytes")],
        Kind::Copy => vec![("copies", "count"), ("copy_space", "bytes")],
        Kind::AdHoc => vec![("events", "count"), ("units", &ad_hoc_unit)],
    };
    for &(kind, unit) in &types {
        let value_type = b.value_type(kind, unit);
        b.profile.sample_type.push(value_type);
    }
    let default = match (&options.default_sample_type, &kind) {
        (Some(name), _) => name.as_str(),
        (None, Kind::Heap) => "alloc_space",
        (None, Kind::Copy) => "copy_space",
        (None, Kind::AdHoc) => "units",
    };
    if !default.is_empty() {
        if !types.iter().any(|&(kind, _)| kind == default) {
            let names: Vec<&str> = types.iter().map(|&(kind, _)| kind).collect();
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!(
                    "default sample type {default:?} is not one this file gets: {}",
                    names.join(", ")
                ),
            ));
        }
        b.profile.default_sample_type = b.string(default);
    }
    b.profile.period_type = Some(match kind {
        Kind::Heap | Kind::Copy => b.value_type("space", "bytes"),
        Kind::AdHoc => b.value_type("units", &ad_hoc_unit),
    });
    b.profile.period = match (&kind, &file.allocsite) {
        (Kind::Heap, Some(extension)) => extension.sample_bytes.max(1) as i64,
        _ => 1,
    };
    b.profile.time_nanos = options.time_nanos.unwrap_or(0);
    b.profile.duration_nanos = duration_nanos(&file.time_unit, file.end_time).unwrap_or(0);
    if !file.command.is_empty() {
        let comment = b.string(&file.command);
        b.profile.comment.push(comment);
    }

    // Mapping 1, the program.
    let program = Mapping {
        id: 1,
        filename: b.string_opt(options.binary_path.as_deref()),
        build_id: b.string_opt(options.build_id.as_deref()),
        ..Mapping::default()
    };
    b.mappings.push((program, None));
    if let Some(path) = &options.binary_path {
        b.objects.insert(path.clone(), 1);
    }

    // Frames: parse each once, when first used.
    let mut parsed: Vec<Option<FrameText>> = vec![None; file.frames.len()];
    let bytes_label = b.string("bytes");
    let bytes_unit = b.string("bytes");
    for point in points {
        for &index in &point.frames {
            if parsed[index].is_none() {
                parsed[index] = Some(parse_frame(&file.frames[index]));
            }
        }
        let mut location_id = Vec::new();
        let mut start = 0;
        while start < point.frames.len() {
            let end = inline_run_end(&point.frames, start, &parsed);
            let frames: Vec<&FrameText> = point.frames[start..end]
                .iter()
                .map(|&i| parsed[i].as_ref().expect("parsed above"))
                .collect();
            location_id.push(b.location(&frames));
            start = end;
        }
        let mut value = vec![whole(point.total_blocks), whole(point.total_bytes)];
        if in_use {
            value.push(whole(point.end_blocks.unwrap_or(0.0)));
            value.push(whole(point.end_bytes.unwrap_or(0.0)));
        }
        let mut label = Vec::new();
        if options.block_size_label
            && matches!(kind, Kind::Heap | Kind::Copy)
            && point.total_blocks > 0.0
        {
            let average = whole(point.total_bytes / point.total_blocks);
            if average != 0 {
                label.push(Label {
                    key: bytes_label,
                    num: average,
                    num_unit: bytes_unit,
                    ..Label::default()
                });
            }
        }
        b.profile.sample.push(Sample {
            location_id,
            value,
            label,
        });
    }
    Ok(b.finish(options))
}

/// The end (exclusive) of the machine frame that starts at `frames[start]`: the following
/// frames with the same address are functions inlined into it, until a frame repeats
/// (recursion through one call site gives the same address again).
fn inline_run_end(frames: &[usize], start: usize, parsed: &[Option<FrameText>]) -> usize {
    let address = |i: usize| parsed[frames[i]].as_ref().and_then(|f| f.address);
    let Some(first) = address(start) else {
        return start + 1;
    };
    let mut end = start + 1;
    while end < frames.len()
        && address(end) == Some(first)
        && !frames[start..end].contains(&frames[end])
    {
        end += 1;
    }
    end
}

/// A float figure as pprof's int64, rounded (NaN → 0, saturating).
fn whole(value: f64) -> i64 {
    value.round() as i64
}

/// DHAT's `te` in nanoseconds, if its time unit is a time.
fn duration_nanos(unit: &str, end: u64) -> Option<i64> {
    let per_unit: u64 = match unit {
        "ns" => 1,
        "µs" | "μs" | "us" => 1_000,
        "ms" => 1_000_000,
        "s" => 1_000_000_000,
        _ => return None,
    };
    i64::try_from(end.checked_mul(per_unit)?).ok()
}

/// An ad-hoc file's unit label (`bsu`, free text) as a pprof unit: letters, digits and `_`.
fn sanitize_unit(unit: &str) -> String {
    let unit: String = unit
        .trim()
        .chars()
        .map(|c| if c.is_alphanumeric() { c } else { '_' })
        .collect();
    let unit = unit.trim_matches('_');
    if unit.is_empty() {
        "units".into()
    } else {
        unit.into()
    }
}

/// Interns strings, functions and locations, and collects the mappings.
pub(super) struct Builder {
    pub(super) profile: Profile,
    pub(super) strings: HashMap<String, i64>,
    pub(super) functions: HashMap<(i64, i64), u64>,
    pub(super) locations: HashMap<Location, u64>,
    /// Mappings with the address range their locations span so far.
    pub(super) mappings: Vec<(Mapping, Option<(u64, u64)>)>,
    /// Object path → mapping id.
    pub(super) objects: HashMap<String, u64>,
}

impl Builder {
    fn new() -> Builder {
        let mut builder = Builder {
            profile: Profile::default(),
            strings: HashMap::new(),
            functions: HashMap::new(),
            locations: HashMap::new(),
            mappings: Vec::new(),
            objects: HashMap::new(),
        };
        builder.string(""); // index 0 is always the empty string
        builder
    }

    fn string(&mut self, text: &str) -> i64 {
        if let Some(&index) = self.strings.get(text) {
            return index;
        }
        let index = self.profile.string_table.len() as i64;
        self.profile.string_table.push(text.to_owned());
        self.strings.insert(text.to_owned(), index);
        index
    }

    fn string_opt(&mut self, text: Option<&str>) -> i64 {
        text.map_or(0, |text| self.string(text))
    }

    fn value_type(&mut self, kind: &str, unit: &str) -> ValueType {
        ValueType {
            kind: self.string(kind),
            unit: self.string(unit),
        }
    }

    fn function(&mut self, name: &str, file: Option<&str>) -> u64 {
        let name = self.string(name);
        let file = self.string_opt(file);
        let next = self.profile.function.len() as u64 + 1;
        match self.functions.entry((name, file)) {
            Entry::Occupied(entry) => *entry.get(),
            Entry::Vacant(entry) => {
                entry.insert(next);
                self.profile.function.push(Function {
                    id: next,
                    name,
                    system_name: 0,
                    filename: file,
                    start_line: 0,
                });
                next
            }
        }
    }

    fn mapping_for(&mut self, object: Option<&str>) -> u64 {
        let Some(object) = object else { return 1 };
        if let Some(&id) = self.objects.get(object) {
            return id;
        }
        let id = self.mappings.len() as u64 + 1;
        let filename = self.string(object);
        self.mappings.push((
            Mapping {
                id,
                filename,
                ..Mapping::default()
            },
            None,
        ));
        self.objects.insert(object.to_owned(), id);
        id
    }

    /// The location of one machine frame: `frames` share an address (or there is one frame
    /// without an address), innermost first.
    fn location(&mut self, frames: &[&FrameText]) -> u64 {
        let first = frames[0];
        let mapping_id = self.mapping_for(first.object.as_deref());
        let mut line = Vec::new();
        for frame in frames {
            if frame.function.is_none() && frame.file.is_none() {
                continue;
            }
            let function_id = self.function(
                frame.function.as_deref().unwrap_or("???"),
                frame.file.as_deref(),
            );
            line.push(Line {
                function_id,
                line: frame.line,
                column: frame.column,
            });
        }
        let address = first.address.unwrap_or(0);
        let (mapping, range) = &mut self.mappings[mapping_id as usize - 1];
        mapping.has_functions = true;
        for frame in frames {
            mapping.has_filenames |= frame.file.is_some();
            mapping.has_line_numbers |= frame.line != 0;
        }
        mapping.has_inline_frames |= !line.is_empty();
        if address != 0 {
            *range = Some(match *range {
                Some((low, high)) => (low.min(address), high.max(address)),
                None => (address, address),
            });
        }
        let key = Location {
            id: 0,
            mapping_id,
            address,
            line,
            is_folded: false,
        };
        let next = self.profile.location.len() as u64 + 1;
        match self.locations.entry(key) {
            Entry::Occupied(entry) => *entry.get(),
            Entry::Vacant(entry) => {
                let mut location = entry.key().clone();
                location.id = next;
                entry.insert(next);
                self.profile.location.push(location);
                next
            }
        }
    }

    fn finish(mut self, options: &PprofOptions) -> Profile {
        for (index, (mut mapping, range)) in self.mappings.into_iter().enumerate() {
            match (&options.load_range, index) {
                (Some((range, offset)), 0) => {
                    mapping.memory_start = range.start;
                    mapping.memory_limit = range.end;
                    mapping.file_offset = *offset;
                }
                _ => {
                    if let Some((low, high)) = range {
                        mapping.memory_start = low;
                        mapping.memory_limit = high.saturating_add(1);
                    }
                }
            }
            self.profile.mapping.push(mapping);
        }
        self.profile
    }
}

// ---------------------------------------------------------------------------------------
// Frame strings.
