//! pprof output: any DHAT file as a gzip-compressed `profile.proto`, following the
//! conventions Go's runtime uses for heap profiles, so `go tool pprof`, Pyroscope, Parca and
//! the other pprof readers can show it.
//!
//! ```
//! use allocsite::report::dhat::DhatFile;
//! use allocsite::report::pprof::{PprofOptions, write_pprof};
//!
//! let text = r#"{"dhatFileVersion":2,"mode":"rust-heap","verb":"Allocated","bklt":true,
//!   "bkacc":false,"tu":"µs","Mtu":"s","tuth":10,"cmd":"demo","pid":1,"tg":5,"te":10,
//!   "pps":[{"tb":64,"tbk":2,"tl":5,"mb":64,"mbk":2,"gb":64,"gbk":2,"eb":32,"ebk":1,"fs":[1,2]}],
//!   "ftbl":["[root]","0x1a: demo::load (src/lib.rs:3:5)","0x2b: demo::main (src/main.rs:9:5)"]}"#;
//! let file: DhatFile = serde_json::from_str(text)?;
//! let mut out = Vec::new();
//! write_pprof(&file, &PprofOptions::default(), &mut out)?;
//! assert_eq!(&out[..2], &[0x1f, 0x8b]); // gzip
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # What is written
//!
//! | DHAT mode | sample types (type/unit) | values of a program point |
//! |---|---|---|
//! | `heap`, `rust-heap` | `alloc_objects`/count, `alloc_space`/bytes, `inuse_objects`/count, `inuse_space`/bytes | `tbk`, `tb`, `ebk`, `eb` |
//! | `copy` (Valgrind) | `copies`/count, `copy_space`/bytes | `tbk`, `tb` |
//! | `ad-hoc`, `rust-ad-hoc` | `events`/count, `units`/*the file's `bsu`* (default `units`) | `tbk`, `tb` |
//!
//! Any other mode is refused with [`io::ErrorKind::InvalidData`] (it names the mode), as
//! is a file that fails [`DhatFile::validate`].
//!
//! - **Values are estimates of the unsampled totals.** DHAT program-point figures already
//!   are (allocsite weighs each sampled allocation by the Horvitz–Thompson weight
//!   `1/p(size)`; other tools record every allocation), so they are written as they are,
//!   rounded to integers. `period_type` is space/bytes and `period` the mean bytes between
//!   samples: `sampleBytes` of allocsite's extension block, else 1 (every allocation).
//!   Readers must not scale the values again, and `go tool pprof` does not.
//! - **`inuse_*`** is what was live at the end of the profile (`eb`/`ebk`). It is written only
//!   when every program point has both (`bklt: true`); a heap file without lifetimes gets the
//!   two `alloc_*` types only, rather than zeros that would claim nothing was live.
//! - **`default_sample_type`** is `alloc_space` for heap files ([`PprofOptions`] can change
//!   it). Go leaves it unset for its `heap` profile, so readers show the last type,
//!   `inuse_space`: the right default for a snapshot of a long-running server. A DHAT file
//!   is written when the program ends, when what is still in use is mostly what leaked, so
//!   it opens, like Go's `allocs` profile and like DHAT's viewer (sorted by total bytes), on
//!   everything allocated. The order of the types is still Go's, so a reader that ignores
//!   the field still finds `inuse_space` last. Copy files default to `copy_space`, ad-hoc
//!   files to `units`.
//! - **Label `bytes`**: each heap and copy sample carries the numeric label `bytes` (unit
//!   bytes) with the program point's average block size, `tb / tbk` rounded, as Go writes the
//!   block size (`go tool pprof -tags`, `-tagfocus=bytes=1k:`).
//! - **Frames.** Each `ftbl` string (`0x1a2b: crate::f (src/f.rs:12:5)`, Valgrind's
//!   `0x4AA1D9F: f (file.c:332)` and `0x4AA1D9F: f (in /lib/x.so)`, names containing
//!   parentheses such as `<T as core::ops::Fn<(A,)>>::call` or Valgrind's `(below main)`,
//!   `???` for unknown parts) becomes an address, a function name, a file, a line and a
//!   column. Consecutive frames of a program point with the same address are one machine
//!   frame whose functions were inlined into each other: they become one `Location` with
//!   several `Line`s, innermost first, as pprof expects (a frame string that repeats within
//!   such a run starts a new `Location`: that is recursion through the same call site).
//!   Strings, functions (by name and file) and locations (by mapping, address and lines)
//!   are written once each. Function names are written as the file has them (demangled)
//!   with no `system_name` (the mangled name is not in the file): pprof then shows them
//!   whole, where it would otherwise simplify them as C++ and turn
//!   `<alloc::alloc::Global as core::alloc::Allocator>::allocate` into `::allocate`. A frame with neither a function nor a file becomes a `Location`
//!   with its address and no `Line`, which readers show as the address, as Go does for
//!   unsymbolized frames.
//! - **Mappings.** Mapping 1 is the program: [`PprofOptions`] gives its path, build id and
//!   load range (the live profiler knows them); from a file alone it has no name and spans
//!   the addresses of its frames. Valgrind's `(in /lib/x.so)` frames get one more mapping per
//!   object, named by it. Every mapping says its functions are known (`has_functions`), so
//!   `go tool pprof` never re-symbolizes the frames with whatever binary sits at that path
//!   today (`-symbolize=force` still can); `has_filenames`, `has_line_numbers` and
//!   `has_inline_frames` say what the frames carry.
//! - **Times.** `duration_nanos` is DHAT's `te` when the time unit is a time (`µs` for Rust
//!   programs; Valgrind counts instructions, so its files have none); `time_nanos`, the wall
//!   clock at the start, comes from [`PprofOptions::time_nanos`]. The command line is the
//!   profile's one comment (`go tool pprof -comments`).
//!
//! # The encoder: hand-written, over `flate2`
//!
//! `profile.proto` is written by the `Encoder` below (varints, keys, length-delimited and
//! packed fields) and the field-by-field `encode_profile`, about 140 lines, rather than by
//! `prost`. Both were measured in this
//! repository; the `prost` 0.14 variant used hand-written `#[derive(prost::Message)]` structs
//! (no `protoc`, no build script) and its output was byte-identical. CPU time (user + sys) of
//! a clean `cargo build --lib` with `CARGO_BUILD_JOBS=1`, two runs each, on the 2-core machine
//! while another build ran (so wall-clock times, 20–110 s, meant little):
//!
//! | | dev | release | crates, `cargo tree -e normal` | `dhat_to_pprof` example, release, stripped |
//! |---|---|---|---|---|
//! | no pprof writer | 19.6–19.9 s | 24.4–27.5 s | 12 | — |
//! | hand-written + `flate2` | 22.5–24.2 s | 31.7–32.1 s | 18 | 626,048 B |
//! | `prost` + `flate2` | 29.5–31.5 s | 38.5–42.4 s | 25 | 626,208 B |
//!
//! `prost` costs about 7 s more per clean build (a derive macro, `anyhow`, `itertools`,
//! `either`, `bytes`, and a second `syn`: `prost-derive` uses syn 2 where `serde_derive`
//! uses syn 3) for a binary of the same size. The writer only encodes, a handful of message
//! types that have not changed in years, and the rules it needs fit on a page; the unit tests
//! below check hand-computed bytes and decode every field with an independent minimal
//! reader, and `tests/pprof.rs` has `go tool pprof` read the files. `flate2`'s default
//! backend is `miniz_oxide`, pure Rust (with `crc32fast`, `adler2`, `simd-adler32`,
//! `cfg-if`): no C compiler, no system zlib. With `track`, which already pulls `miniz_oxide`
//! 0.8 through `backtrace`, the writer adds three crates (21 → 24); `Cargo.lock` holds
//! `flate2` at 1.1.9, the last release on `miniz_oxide` 0.8, so it is compiled once.
//!
//! The writer sits behind the `pprof` feature, which `track` turns on: a program built
//! without `track` (the allocator as a plain pass-through) compiles no gzip code it never
//! uses, and a converter that only needs the writer asks for `pprof` alone.

use std::collections::HashMap;
use std::collections::hash_map::Entry;
use std::io::{self, Write};
use std::ops::Range;

use flate2::Compression;
use flate2::write::GzEncoder;

use crate::report::dhat::DhatFile;

/// What a DHAT file does not say and the pprof file can.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PprofOptions {
    /// Path of the profiled executable, the name of mapping 1 (`go tool pprof -raw` shows
    /// it; `-symbolize=force` would read it). `None`: no name.
    pub binary_path: Option<String>,
    /// The executable's build id (GNU build id as lowercase hex), for readers that fetch
    /// symbols by it. `None`: none.
    pub build_id: Option<String>,
    /// Where the executable's code was loaded, and the file offset of `load_range.start`.
    /// `None`: the range the frames' addresses span, offset 0.
    pub load_range: Option<(Range<u64>, u64)>,
    /// Wall-clock time when profiling started, in nanoseconds since the Unix epoch.
    pub time_nanos: Option<i64>,
    /// The sample type readers show first, by name (`"inuse_space"`, `"alloc_objects"`…);
    /// it must be one the file gets (see the module docs). `Some("")` leaves the field
    /// unset, as Go does for heap profiles (readers then show the last type). `None`:
    /// `alloc_space` for heap files, `copy_space` for copy files, `units` for ad-hoc files.
    pub default_sample_type: Option<String>,
}

/// Writes `file` as a gzip-compressed pprof `profile.proto` to `out` (see the module docs for
/// the mapping). Fails with [`io::ErrorKind::InvalidData`] for a file that fails
/// [`DhatFile::validate`] or whose mode pprof cannot represent, and with
/// [`io::ErrorKind::InvalidInput`] for an unknown [`PprofOptions::default_sample_type`];
/// nothing is written then.
pub fn write_pprof(file: &DhatFile, options: &PprofOptions, out: impl Write) -> io::Result<()> {
    let bytes = encode_profile(&build_profile(file, options)?);
    let mut gzip = GzEncoder::new(out, Compression::default());
    gzip.write_all(&bytes)?;
    gzip.finish()?.flush()
}

/// The uncompressed `profile.proto` bytes of `file` (readers accept both; [`write_pprof`] is
/// what tools expect).
pub fn pprof_bytes(file: &DhatFile, options: &PprofOptions) -> io::Result<Vec<u8>> {
    Ok(encode_profile(&build_profile(file, options)?))
}

// ---------------------------------------------------------------------------------------
// The profile.proto model (field numbers in `encode_profile`), ids and string indices as
// pprof stores them. Zero means "unset" everywhere, as in proto3.

#[derive(Clone, Debug, Default, PartialEq)]
struct Profile {
    sample_type: Vec<ValueType>,
    sample: Vec<Sample>,
    mapping: Vec<Mapping>,
    location: Vec<Location>,
    function: Vec<Function>,
    string_table: Vec<String>,
    time_nanos: i64,
    duration_nanos: i64,
    period_type: Option<ValueType>,
    period: i64,
    comment: Vec<i64>,
    default_sample_type: i64,
}

#[derive(Clone, Copy, Debug, Default, PartialEq)]
struct ValueType {
    kind: i64,
    unit: i64,
}

#[derive(Clone, Debug, Default, PartialEq)]
struct Sample {
    location_id: Vec<u64>,
    value: Vec<i64>,
    label: Vec<Label>,
}

#[derive(Clone, Copy, Debug, Default, PartialEq)]
struct Label {
    key: i64,
    str: i64,
    num: i64,
    num_unit: i64,
}

#[derive(Clone, Debug, Default, PartialEq)]
struct Mapping {
    id: u64,
    memory_start: u64,
    memory_limit: u64,
    file_offset: u64,
    filename: i64,
    build_id: i64,
    has_functions: bool,
    has_filenames: bool,
    has_line_numbers: bool,
    has_inline_frames: bool,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
struct Location {
    id: u64,
    mapping_id: u64,
    address: u64,
    line: Vec<Line>,
    is_folded: bool,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
struct Line {
    function_id: u64,
    line: i64,
    column: i64,
}

#[derive(Clone, Copy, Debug, Default, PartialEq)]
struct Function {
    id: u64,
    name: i64,
    system_name: i64,
    filename: i64,
    start_line: i64,
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

fn build_profile(file: &DhatFile, options: &PprofOptions) -> io::Result<Profile> {
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
        if matches!(kind, Kind::Heap | Kind::Copy) && point.total_blocks > 0.0 {
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
struct Builder {
    profile: Profile,
    strings: HashMap<String, i64>,
    functions: HashMap<(i64, i64), u64>,
    locations: HashMap<Location, u64>,
    /// Mappings with the address range their locations span so far.
    mappings: Vec<(Mapping, Option<(u64, u64)>)>,
    /// Object path → mapping id.
    objects: HashMap<String, u64>,
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

/// One DHAT frame string, taken apart. Unknown parts (`???`, missing, line 0) are `None`/0.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
struct FrameText {
    address: Option<u64>,
    function: Option<String>,
    file: Option<String>,
    line: i64,
    column: i64,
    /// Valgrind's `(in /lib/x.so)`: the object the address is in, when no file is known.
    object: Option<String>,
}

/// Parses `ADDRESS: FUNCTION (LOCATION)`, where the address and the location are optional
/// and the location is `file:line:column`, `file:line` or `in object`. The location is the
/// last parenthesized group, preceded by a space, that reads as one; everything else is the
/// function name, so names with parentheses (`<T as Fn<(A,)>>::call`, `(below main)`) stay
/// whole.
fn parse_frame(text: &str) -> FrameText {
    let text = text.trim();
    let mut frame = FrameText::default();
    let mut rest = text;
    if let Some((head, tail)) = text.split_once(':') {
        let digits = head.strip_prefix("0x").or_else(|| head.strip_prefix("0X"));
        if let Some(address) = digits.and_then(|d| u64::from_str_radix(d, 16).ok()) {
            frame.address = Some(address).filter(|&a| a != 0);
            rest = tail.trim_start();
        }
    }
    let mut function = rest;
    if let Some((name, location)) = split_location(rest) {
        if let Some(object) = location.strip_prefix("in ") {
            function = name;
            frame.object = known(object.trim()).map(str::to_owned);
        } else if let Some((file, line, column)) = file_line_column(location) {
            function = name;
            frame.file = known(file).map(str::to_owned);
            frame.line = line;
            frame.column = column;
        }
    }
    frame.function = known(function.trim()).map(str::to_owned);
    frame
}

/// `None` for an empty or `???` part.
fn known(part: &str) -> Option<&str> {
    Some(part).filter(|p| !p.is_empty() && *p != "???")
}

/// Splits `name (group)` at the last balanced parenthesized group, which must end the text
/// and follow a space after a non-empty name.
fn split_location(text: &str) -> Option<(&str, &str)> {
    let body = text.strip_suffix(')')?;
    let mut depth = 0usize;
    for (at, c) in body.char_indices().rev() {
        match c {
            ')' => depth += 1,
            '(' if depth > 0 => depth -= 1,
            '(' => {
                let name = text[..at].strip_suffix(' ')?;
                if name.trim().is_empty() {
                    return None;
                }
                return Some((name, &body[at + 1..]));
            }
            _ => {}
        }
    }
    None
}

/// `file:line:column` or `file:line` (line and column may be 0 for unknown).
fn file_line_column(location: &str) -> Option<(&str, i64, i64)> {
    let number = |s: &str| s.parse::<u32>().ok().map(i64::from);
    let (head, last) = location.rsplit_once(':')?;
    let last = number(last)?;
    if let Some((file, line)) = head.rsplit_once(':') {
        if let Some(line) = number(line) {
            return Some((file, line, last));
        }
    }
    Some((head, last, 0))
}

// ---------------------------------------------------------------------------------------
// Encoding.

/// Protocol-buffer wire encoding of the few shapes `profile.proto` uses.
struct Encoder {
    buf: Vec<u8>,
}

const VARINT: u64 = 0;
const LENGTH_DELIMITED: u64 = 2;

impl Encoder {
    fn varint(&mut self, mut value: u64) {
        while value >= 0x80 {
            self.buf.push(value as u8 | 0x80);
            value >>= 7;
        }
        self.buf.push(value as u8);
    }

    fn key(&mut self, field: u64, wire_type: u64) {
        self.varint(field << 3 | wire_type);
    }

    /// A `uint64`/`int64`/`bool` field; zero (the default) is not written.
    fn uint(&mut self, field: u64, value: u64) {
        if value != 0 {
            self.key(field, VARINT);
            self.varint(value);
        }
    }

    /// `int64` as protobuf writes it: negative numbers as ten-byte two's complement.
    fn int(&mut self, field: u64, value: i64) {
        self.uint(field, value as u64);
    }

    /// A string or bytes field, written even when empty (string table entries must be).
    fn bytes(&mut self, field: u64, bytes: &[u8]) {
        self.key(field, LENGTH_DELIMITED);
        self.varint(bytes.len() as u64);
        self.buf.extend_from_slice(bytes);
    }

    /// A packed repeated varint field; nothing for an empty list.
    fn packed(&mut self, field: u64, values: impl Iterator<Item = u64> + Clone) {
        let length: usize = values.clone().map(varint_length).sum();
        if length == 0 {
            return;
        }
        self.key(field, LENGTH_DELIMITED);
        self.varint(length as u64);
        for value in values {
            self.varint(value);
        }
    }

    /// An embedded message, written even when empty.
    fn message(&mut self, field: u64, write: impl FnOnce(&mut Encoder)) {
        let start = self.buf.len();
        write(self);
        let body = self.buf.split_off(start);
        self.bytes(field, &body);
    }
}

fn varint_length(value: u64) -> usize {
    (64 - (value | 1).leading_zeros() as usize).div_ceil(7)
}

fn encode_profile(p: &Profile) -> Vec<u8> {
    let mut e = Encoder { buf: Vec::new() };
    let value_type = |e: &mut Encoder, v: &ValueType| {
        e.int(1, v.kind);
        e.int(2, v.unit);
    };
    for v in &p.sample_type {
        e.message(1, |e| value_type(e, v));
    }
    for s in &p.sample {
        e.message(2, |e| {
            e.packed(1, s.location_id.iter().copied());
            e.packed(2, s.value.iter().map(|&v| v as u64));
            for l in &s.label {
                e.message(3, |e| {
                    e.int(1, l.key);
                    e.int(2, l.str);
                    e.int(3, l.num);
                    e.int(4, l.num_unit);
                });
            }
        });
    }
    for m in &p.mapping {
        e.message(3, |e| {
            e.uint(1, m.id);
            e.uint(2, m.memory_start);
            e.uint(3, m.memory_limit);
            e.uint(4, m.file_offset);
            e.int(5, m.filename);
            e.int(6, m.build_id);
            e.uint(7, u64::from(m.has_functions));
            e.uint(8, u64::from(m.has_filenames));
            e.uint(9, u64::from(m.has_line_numbers));
            e.uint(10, u64::from(m.has_inline_frames));
        });
    }
    for l in &p.location {
        e.message(4, |e| {
            e.uint(1, l.id);
            e.uint(2, l.mapping_id);
            e.uint(3, l.address);
            for line in &l.line {
                e.message(4, |e| {
                    e.uint(1, line.function_id);
                    e.int(2, line.line);
                    e.int(3, line.column);
                });
            }
            e.uint(5, u64::from(l.is_folded));
        });
    }
    for f in &p.function {
        e.message(5, |e| {
            e.uint(1, f.id);
            e.int(2, f.name);
            e.int(3, f.system_name);
            e.int(4, f.filename);
            e.int(5, f.start_line);
        });
    }
    for s in &p.string_table {
        e.bytes(6, s.as_bytes());
    }
    e.int(9, p.time_nanos);
    e.int(10, p.duration_nanos);
    if let Some(v) = &p.period_type {
        e.message(11, |e| value_type(e, v));
    }
    e.int(12, p.period);
    e.packed(13, p.comment.iter().map(|&c| c as u64));
    e.int(14, p.default_sample_type);
    e.buf
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::dhat::{Extension, ProgramPoint};

    // -- A minimal protobuf reader, independent of the encoder above. ---------------------

    #[derive(Debug)]
    enum Field<'a> {
        Varint(u64),
        Bytes(&'a [u8]),
    }

    fn read_varint(bytes: &mut &[u8]) -> u64 {
        let mut value = 0u64;
        for shift in (0..).step_by(7) {
            let (&byte, rest) = bytes.split_first().expect("truncated varint");
            *bytes = rest;
            value |= u64::from(byte & 0x7f) << shift;
            if byte & 0x80 == 0 {
                return value;
            }
        }
        unreachable!()
    }

    /// Every (field number, value) of one message, in order.
    fn fields(mut bytes: &[u8]) -> Vec<(u64, Field<'_>)> {
        let mut out = Vec::new();
        while !bytes.is_empty() {
            let key = read_varint(&mut bytes);
            let value = match key & 7 {
                0 => Field::Varint(read_varint(&mut bytes)),
                2 => {
                    let length = read_varint(&mut bytes) as usize;
                    let (body, rest) = bytes.split_at(length);
                    bytes = rest;
                    Field::Bytes(body)
                }
                other => panic!("wire type {other} is not used by profile.proto"),
            };
            out.push((key >> 3, value));
        }
        out
    }

    fn varint(field: &Field<'_>) -> u64 {
        match field {
            Field::Varint(v) => *v,
            Field::Bytes(_) => panic!("expected a varint"),
        }
    }

    fn body<'a>(field: &Field<'a>) -> &'a [u8] {
        match field {
            Field::Bytes(b) => b,
            Field::Varint(_) => panic!("expected a length-delimited field"),
        }
    }

    /// A repeated varint field, packed or not.
    fn push_varints(field: &Field<'_>, into: &mut Vec<u64>) {
        match *field {
            Field::Varint(v) => into.push(v),
            Field::Bytes(mut b) => {
                while !b.is_empty() {
                    into.push(read_varint(&mut b));
                }
            }
        }
    }

    fn decode_value_type(bytes: &[u8]) -> ValueType {
        let mut v = ValueType::default();
        for (number, field) in fields(bytes) {
            match number {
                1 => v.kind = varint(&field) as i64,
                2 => v.unit = varint(&field) as i64,
                n => panic!("ValueType has no field {n}"),
            }
        }
        v
    }

    fn decode(bytes: &[u8]) -> Profile {
        let mut p = Profile::default();
        for (number, field) in fields(bytes) {
            match number {
                1 => p.sample_type.push(decode_value_type(body(&field))),
                2 => {
                    let mut s = Sample::default();
                    for (number, field) in fields(body(&field)) {
                        match number {
                            1 => push_varints(&field, &mut s.location_id),
                            2 => {
                                let mut values = Vec::new();
                                push_varints(&field, &mut values);
                                s.value.extend(values.iter().map(|&v| v as i64));
                            }
                            3 => {
                                let mut l = Label::default();
                                for (number, field) in fields(body(&field)) {
                                    let v = varint(&field) as i64;
                                    match number {
                                        1 => l.key = v,
                                        2 => l.str = v,
                                        3 => l.num = v,
                                        4 => l.num_unit = v,
                                        n => panic!("Label has no field {n}"),
                                    }
                                }
                                s.label.push(l);
                            }
                            n => panic!("Sample has no field {n}"),
                        }
                    }
                    p.sample.push(s);
                }
                3 => {
                    let mut m = Mapping::default();
                    for (number, field) in fields(body(&field)) {
                        let v = varint(&field);
                        match number {
                            1 => m.id = v,
                            2 => m.memory_start = v,
                            3 => m.memory_limit = v,
                            4 => m.file_offset = v,
                            5 => m.filename = v as i64,
                            6 => m.build_id = v as i64,
                            7 => m.has_functions = v == 1,
                            8 => m.has_filenames = v == 1,
                            9 => m.has_line_numbers = v == 1,
                            10 => m.has_inline_frames = v == 1,
                            n => panic!("Mapping has no field {n}"),
                        }
                    }
                    p.mapping.push(m);
                }
                4 => {
                    let mut l = Location::default();
                    for (number, field) in fields(body(&field)) {
                        match number {
                            1 => l.id = varint(&field),
                            2 => l.mapping_id = varint(&field),
                            3 => l.address = varint(&field),
                            4 => {
                                let mut line = Line::default();
                                for (number, field) in fields(body(&field)) {
                                    let v = varint(&field);
                                    match number {
                                        1 => line.function_id = v,
                                        2 => line.line = v as i64,
                                        3 => line.column = v as i64,
                                        n => panic!("Line has no field {n}"),
                                    }
                                }
                                l.line.push(line);
                            }
                            5 => l.is_folded = varint(&field) == 1,
                            n => panic!("Location has no field {n}"),
                        }
                    }
                    p.location.push(l);
                }
                5 => {
                    let mut f = Function::default();
                    for (number, field) in fields(body(&field)) {
                        let v = varint(&field);
                        match number {
                            1 => f.id = v,
                            2 => f.name = v as i64,
                            3 => f.system_name = v as i64,
                            4 => f.filename = v as i64,
                            5 => f.start_line = v as i64,
                            n => panic!("Function has no field {n}"),
                        }
                    }
                    p.function.push(f);
                }
                6 => p
                    .string_table
                    .push(String::from_utf8(body(&field).to_vec()).unwrap()),
                9 => p.time_nanos = varint(&field) as i64,
                10 => p.duration_nanos = varint(&field) as i64,
                11 => p.period_type = Some(decode_value_type(body(&field))),
                12 => p.period = varint(&field) as i64,
                13 => {
                    let mut comments = Vec::new();
                    push_varints(&field, &mut comments);
                    p.comment.extend(comments.iter().map(|&c| c as i64));
                }
                14 => p.default_sample_type = varint(&field) as i64,
                n => panic!("Profile field {n} is not written by this encoder"),
            }
        }
        p
    }

    // -- Bytes computed by hand. -----------------------------------------------------------

    fn encoded(write: impl FnOnce(&mut Encoder)) -> Vec<u8> {
        let mut e = Encoder { buf: Vec::new() };
        write(&mut e);
        e.buf
    }

    #[test]
    fn varints_by_hand() {
        let cases: &[(u64, &[u8])] = &[
            (0, &[0x00]),
            (1, &[0x01]),
            (127, &[0x7f]),
            (128, &[0x80, 0x01]),
            (300, &[0xac, 0x02]),
            (16_384, &[0x80, 0x80, 0x01]),
            (
                u64::MAX,
                &[0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01],
            ),
        ];
        for &(value, bytes) in cases {
            assert_eq!(encoded(|e| e.varint(value)), bytes, "varint {value}");
            assert_eq!(varint_length(value), bytes.len(), "length of {value}");
        }
        // int64 -1 is ten bytes; zero fields are left out; strings are written even empty.
        assert_eq!(
            encoded(|e| e.int(2, -1)),
            [
                0x10, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01
            ]
        );
        assert_eq!(encoded(|e| e.uint(1, 0)), [] as [u8; 0]);
        assert_eq!(encoded(|e| e.bytes(6, b"")), [0x32, 0x00]);
        assert_eq!(encoded(|e| e.packed(1, [].into_iter())), [] as [u8; 0]);
        assert_eq!(
            encoded(|e| e.packed(2, [1, 300].into_iter())),
            [0x12, 0x03, 0x01, 0xac, 0x02]
        );
    }

    #[test]
    fn tiny_profile_by_hand() {
        let profile = Profile {
            sample_type: vec![ValueType { kind: 1, unit: 2 }],
            sample: vec![Sample {
                location_id: vec![1],
                value: vec![300],
                label: vec![Label {
                    key: 2,
                    num: 5,
                    num_unit: 2,
                    ..Label::default()
                }],
            }],
            location: vec![Location {
                id: 1,
                mapping_id: 1,
                address: 0x1a,
                line: vec![Line {
                    function_id: 1,
                    line: 12,
                    column: 0,
                }],
                is_folded: false,
            }],
            function: vec![Function {
                id: 1,
                name: 3,
                ..Function::default()
            }],
            string_table: vec!["".into(), "alloc_space".into(), "bytes".into(), "f".into()],
            period_type: Some(ValueType { kind: 1, unit: 2 }),
            period: 1,
            default_sample_type: 1,
            ..Profile::default()
        };
        #[rustfmt::skip]
        let expected: Vec<u8> = [
            // sample_type (1): { type (1) = 1, unit (2) = 2 }
            &[0x0a, 0x04, 0x08, 0x01, 0x10, 0x02][..],
            // sample (2), 15 bytes: location_id (1) packed [1]; value (2) packed [300];
            // label (3) { key (1) = 2, num (3) = 5, num_unit (4) = 2 }
            &[0x12, 0x0f,
                0x0a, 0x01, 0x01,
                0x12, 0x02, 0xac, 0x02,
                0x1a, 0x06, 0x08, 0x02, 0x18, 0x05, 0x20, 0x02],
            // location (4), 12 bytes: id 1, mapping_id 1, address 0x1a,
            // line (4) { function_id (1) = 1, line (2) = 12 }
            &[0x22, 0x0c, 0x08, 0x01, 0x10, 0x01, 0x18, 0x1a, 0x22, 0x04, 0x08, 0x01, 0x10, 0x0c],
            // function (5): { id (1) = 1, name (2) = 3 }
            &[0x2a, 0x04, 0x08, 0x01, 0x10, 0x03],
            // string_table (6): "", "alloc_space", "bytes", "f"
            &[0x32, 0x00],
            &[0x32, 0x0b], b"alloc_space",
            &[0x32, 0x05], b"bytes",
            &[0x32, 0x01], b"f",
            // period_type (11), period (12) = 1, default_sample_type (14) = 1
            &[0x5a, 0x04, 0x08, 0x01, 0x10, 0x02],
            &[0x60, 0x01],
            &[0x70, 0x01],
        ]
        .concat();
        let bytes = encode_profile(&profile);
        assert_eq!(bytes, expected);
        assert_eq!(decode(&bytes), profile);
    }

    // -- Frame strings. --------------------------------------------------------------------

    fn frame(
        address: Option<u64>,
        function: Option<&str>,
        file: Option<&str>,
        line: i64,
        column: i64,
        object: Option<&str>,
    ) -> FrameText {
        FrameText {
            address,
            function: function.map(str::to_owned),
            file: file.map(str::to_owned),
            line,
            column,
            object: object.map(str::to_owned),
        }
    }

    #[test]
    fn parses_every_tools_frame_strings() {
        let cases = [
            (
                "0x1a2b: crate::module::function (src/file.rs:12:5)",
                frame(
                    Some(0x1a2b),
                    Some("crate::module::function"),
                    Some("src/file.rs"),
                    12,
                    5,
                    None,
                ),
            ),
            (
                "0x4AA1D9F: make_buffer (dhat-sample.c:332)",
                frame(
                    Some(0x4aa1d9f),
                    Some("make_buffer"),
                    Some("dhat-sample.c"),
                    332,
                    0,
                    None,
                ),
            ),
            (
                "0x48417B4: malloc (in /usr/libexec/valgrind/vgpreload_dhat-amd64-linux.so)",
                frame(
                    Some(0x48417b4),
                    Some("malloc"),
                    None,
                    0,
                    0,
                    Some("/usr/libexec/valgrind/vgpreload_dhat-amd64-linux.so"),
                ),
            ),
            (
                "0x401AB77: ??? (in /usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2)",
                frame(
                    Some(0x401ab77),
                    None,
                    None,
                    0,
                    0,
                    Some("/usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2"),
                ),
            ),
            (
                "0x10: <T as core::ops::Fn<(A,)>>::call (src/x.rs:1:2)",
                frame(
                    Some(0x10),
                    Some("<T as core::ops::Fn<(A,)>>::call"),
                    Some("src/x.rs"),
                    1,
                    2,
                    None,
                ),
            ),
            (
                "0x10: <F as core::ops::FnOnce<()>>::call_once",
                frame(
                    Some(0x10),
                    Some("<F as core::ops::FnOnce<()>>::call_once"),
                    None,
                    0,
                    0,
                    None,
                ),
            ),
            (
                "0x4C2A0B3: (below main) (libc-start.c:308)",
                frame(
                    Some(0x4c2a0b3),
                    Some("(below main)"),
                    Some("libc-start.c"),
                    308,
                    0,
                    None,
                ),
            ),
            (
                "0x4C2A0B3: (below main)",
                frame(Some(0x4c2a0b3), Some("(below main)"), None, 0, 0, None),
            ),
            (
                "0x20: ??? (???:0:0)",
                frame(Some(0x20), None, None, 0, 0, None),
            ),
            (
                "0x20: demo::f (???:0:0)",
                frame(Some(0x20), Some("demo::f"), None, 0, 0, None),
            ),
            (
                "0x21: demo::g (src/a (copy).rs:3:1)",
                frame(
                    Some(0x21),
                    Some("demo::g"),
                    Some("src/a (copy).rs"),
                    3,
                    1,
                    None,
                ),
            ),
            (
                "0x22: demo::h (C:\\src\\main.rs:7:9)",
                frame(
                    Some(0x22),
                    Some("demo::h"),
                    Some("C:\\src\\main.rs"),
                    7,
                    9,
                    None,
                ),
            ),
            (
                "0x23: f (not a location)",
                frame(Some(0x23), Some("f (not a location)"), None, 0, 0, None),
            ),
            (
                "main (src/main.rs:1)",
                frame(None, Some("main"), Some("src/main.rs"), 1, 0, None),
            ),
            ("[root]", frame(None, Some("[root]"), None, 0, 0, None)),
            ("0x24: ", frame(Some(0x24), None, None, 0, 0, None)),
            (
                "0x25: unbalanced) (x.rs:1)",
                frame(Some(0x25), Some("unbalanced)"), Some("x.rs"), 1, 0, None),
            ),
            ("", frame(None, None, None, 0, 0, None)),
        ];
        for (text, expected) in cases {
            assert_eq!(parse_frame(text), expected, "{text:?}");
        }
    }

    // -- DHAT → profile. -------------------------------------------------------------------

    fn point(tb: f64, tbk: f64, eb: f64, ebk: f64, frames: Vec<usize>) -> ProgramPoint {
        ProgramPoint {
            total_bytes: tb,
            total_blocks: tbk,
            total_lifetime: Some(1.0),
            max_bytes: Some(tb),
            max_blocks: Some(tbk),
            peak_bytes: Some(tb),
            peak_blocks: Some(tbk),
            end_bytes: Some(eb),
            end_blocks: Some(ebk),
            frames,
            ..ProgramPoint::default()
        }
    }

    fn heap_file() -> DhatFile {
        let mut file = DhatFile::rust_heap("demo --flag".into(), 7, 250, Some(100));
        file.frames.extend(
            [
                "0xa0: alloc::vec::Vec<T>::push (alloc/src/vec/mod.rs:10:5)", // 1
                "0xa0: demo::load (src/lib.rs:3:9)",                          // 2, inlined into 3
                "0xa0: demo::run (src/lib.rs:20:5)",                          // 3
                "0xb0: demo::main (src/main.rs:4:5)",                         // 4
                "0xc0: demo::other (src/lib.rs:30:1)",                        // 5
                "0xd0: ??? (???:0:0)",                                        // 6
                "0xe0: recurse (src/lib.rs:40:1)",                            // 7
            ]
            .map(String::from),
        );
        file.program_points = vec![
            point(1000.0, 10.0, 200.0, 2.0, vec![1, 2, 3, 4]),
            point(48.4, 2.0, 0.0, 0.0, vec![5, 4]),
            point(7.0, 1.0, 7.0, 1.0, vec![6, 4]),
            point(9.0, 3.0, 0.0, 0.0, vec![7, 7, 4]),
        ];
        file.allocsite = Some(Extension {
            version: "0.1.0".into(),
            sample_bytes: 4096,
            sampled: true,
            samples: 12,
            unwinder: "unwind-tables".into(),
            merged_sites: 0,
        });
        file
    }

    fn string(p: &Profile, index: i64) -> &str {
        &p.string_table[index as usize]
    }

    /// A location as `[(function, file, line)…]`, innermost first.
    fn lines(p: &Profile, id: u64) -> Vec<(String, String, i64)> {
        let location = &p.location[id as usize - 1];
        assert_eq!(location.id, id);
        location
            .line
            .iter()
            .map(|line| {
                let f = &p.function[line.function_id as usize - 1];
                assert_eq!(f.id, line.function_id);
                (
                    string(p, f.name).to_owned(),
                    string(p, f.filename).to_owned(),
                    line.line,
                )
            })
            .collect()
    }

    #[test]
    fn heap_file_becomes_gos_heap_profile() {
        let options = PprofOptions {
            binary_path: Some("/bin/demo".into()),
            build_id: Some("abc123".into()),
            load_range: None,
            time_nanos: Some(1_700_000_000_000_000_000),
            default_sample_type: None,
        };
        let p = build_profile(&heap_file(), &options).unwrap();
        // Round trip: the independent reader sees exactly the model.
        assert_eq!(decode(&encode_profile(&p)), p);

        let types: Vec<(&str, &str)> = p
            .sample_type
            .iter()
            .map(|t| (string(&p, t.kind), string(&p, t.unit)))
            .collect();
        assert_eq!(
            types,
            [
                ("alloc_objects", "count"),
                ("alloc_space", "bytes"),
                ("inuse_objects", "count"),
                ("inuse_space", "bytes")
            ]
        );
        let period_type = p.period_type.unwrap();
        assert_eq!(
            (string(&p, period_type.kind), string(&p, period_type.unit)),
            ("space", "bytes")
        );
        assert_eq!(p.period, 4096);
        assert_eq!(string(&p, p.default_sample_type), "alloc_space");
        assert_eq!(p.time_nanos, 1_700_000_000_000_000_000);
        assert_eq!(p.duration_nanos, 250_000);
        assert_eq!(p.comment.len(), 1);
        assert_eq!(string(&p, p.comment[0]), "demo --flag");

        // Values, rounded; the average block size as label `bytes`.
        let values: Vec<&[i64]> = p.sample.iter().map(|s| &s.value[..]).collect();
        assert_eq!(
            values,
            [
                &[10, 1000, 2, 200][..],
                &[2, 48, 0, 0],
                &[1, 7, 1, 7],
                &[3, 9, 0, 0]
            ]
        );
        for (sample, average) in p.sample.iter().zip([100, 24, 7, 3]) {
            assert_eq!(sample.label.len(), 1);
            let label = sample.label[0];
            assert_eq!(string(&p, label.key), "bytes");
            assert_eq!(string(&p, label.num_unit), "bytes");
            assert_eq!((label.num, label.str), (average, 0));
        }

        // Frames 1-3 share 0xa0: one location, three lines, innermost first.
        let s = &p.sample;
        assert_eq!(s[0].location_id, [1, 2]);
        assert_eq!(
            lines(&p, 1),
            [
                (
                    "alloc::vec::Vec<T>::push".into(),
                    "alloc/src/vec/mod.rs".into(),
                    10
                ),
                ("demo::load".into(), "src/lib.rs".into(), 3),
                ("demo::run".into(), "src/lib.rs".into(), 20),
            ]
        );
        assert_eq!(p.location[0].address, 0xa0);
        assert_eq!(
            lines(&p, 2),
            [("demo::main".into(), "src/main.rs".into(), 4)]
        );
        // The shared caller's location is written once.
        assert_eq!(s[1].location_id, [3, 2]);
        // An unknown frame: its address, no line.
        assert_eq!(s[2].location_id, [4, 2]);
        assert_eq!(p.location[3].address, 0xd0);
        assert!(p.location[3].line.is_empty());
        // Recursion through one call site: the same frame twice is two machine frames.
        assert_eq!(s[3].location_id, [5, 5, 2]);

        // Functions and strings are unique; no system name (it would be simplified as C++).
        let names: Vec<&str> = p.function.iter().map(|f| string(&p, f.name)).collect();
        assert_eq!(
            names,
            [
                "alloc::vec::Vec<T>::push",
                "demo::load",
                "demo::run",
                "demo::main",
                "demo::other",
                "recurse"
            ]
        );
        assert!(
            p.function
                .iter()
                .all(|f| f.system_name == 0 && f.start_line == 0)
        );
        let mut unique = p.string_table.clone();
        unique.sort();
        unique.dedup();
        assert_eq!(unique.len(), p.string_table.len());
        assert_eq!(p.string_table[0], "");
        let mut ids: Vec<u64> = p.location.iter().map(|l| l.id).collect();
        ids.dedup();
        assert_eq!(ids, (1..=p.location.len() as u64).collect::<Vec<_>>());

        // One mapping, the program, spanning the frames' addresses.
        assert_eq!(p.mapping.len(), 1);
        let m = &p.mapping[0];
        assert_eq!(
            (m.id, m.memory_start, m.memory_limit, m.file_offset),
            (1, 0xa0, 0xe1, 0)
        );
        assert_eq!(string(&p, m.filename), "/bin/demo");
        assert_eq!(string(&p, m.build_id), "abc123");
        assert!(m.has_functions && m.has_filenames && m.has_line_numbers && m.has_inline_frames);
        assert!(p.location.iter().all(|l| l.mapping_id == 1 && !l.is_folded));
    }

    #[test]
    fn options_and_files_without_lifetimes() {
        let options = PprofOptions {
            load_range: Some((0x1000..0x9000, 0x200)),
            default_sample_type: Some(String::new()),
            ..PprofOptions::default()
        };
        let mut file = heap_file();
        file.allocsite = None;
        let p = build_profile(&file, &options).unwrap();
        let m = &p.mapping[0];
        assert_eq!(
            (m.memory_start, m.memory_limit, m.file_offset),
            (0x1000, 0x9000, 0x200)
        );
        assert_eq!((m.filename, m.build_id), (0, 0));
        assert_eq!(p.default_sample_type, 0, "left unset, as Go does");
        assert_eq!(p.period, 1, "no extension: every allocation");
        assert_eq!(p.time_nanos, 0);

        // Without lifetimes there is no in-use figure: two types, not zeros.
        file.block_lifetimes = false;
        file.peak_time = None;
        for point in &mut file.program_points {
            point.end_bytes = None;
            point.end_blocks = None;
        }
        let p = build_profile(&file, &PprofOptions::default()).unwrap();
        assert_eq!(p.sample_type.len(), 2);
        assert!(p.sample.iter().all(|s| s.value.len() == 2));
        let error = build_profile(
            &file,
            &PprofOptions {
                default_sample_type: Some("inuse_space".into()),
                ..PprofOptions::default()
            },
        )
        .unwrap_err();
        assert_eq!(error.kind(), io::ErrorKind::InvalidInput);
        assert!(
            error.to_string().contains("alloc_objects, alloc_space"),
            "{error}"
        );
    }

    #[test]
    fn copy_ad_hoc_and_unknown_modes() {
        let mut file = heap_file();
        file.block_lifetimes = false;
        file.peak_time = None;
        file.mode = "copy".into();
        file.time_unit = "instrs".into();
        let p = build_profile(&file, &PprofOptions::default()).unwrap();
        let types: Vec<&str> = p.sample_type.iter().map(|t| string(&p, t.kind)).collect();
        assert_eq!(types, ["copies", "copy_space"]);
        assert_eq!(string(&p, p.default_sample_type), "copy_space");
        assert_eq!((p.period, p.duration_nanos), (1, 0));
        assert_eq!(p.sample[0].label.len(), 1);

        file.mode = "rust-ad-hoc".into();
        file.bytes_unit = Some("widgets (est.)".into());
        let p = build_profile(&file, &PprofOptions::default()).unwrap();
        let types: Vec<(&str, &str)> = p
            .sample_type
            .iter()
            .map(|t| (string(&p, t.kind), string(&p, t.unit)))
            .collect();
        assert_eq!(types, [("events", "count"), ("units", "widgets__est")]);
        assert_eq!(string(&p, p.default_sample_type), "units");
        assert!(p.sample.iter().all(|s| s.label.is_empty()));

        file.mode = "<i>heap</i>".into();
        let error = build_profile(&file, &PprofOptions::default()).unwrap_err();
        assert_eq!(error.kind(), io::ErrorKind::InvalidData);
        assert!(error.to_string().contains("\"<i>heap</i>\""), "{error}");

        let mut bad = heap_file();
        bad.program_points[0].frames = vec![99];
        let error = build_profile(&bad, &PprofOptions::default()).unwrap_err();
        assert_eq!(error.kind(), io::ErrorKind::InvalidData);
        assert!(error.to_string().contains("frame 99"), "{error}");
    }

    #[test]
    fn valgrind_objects_get_their_own_mappings() {
        let mut file = heap_file();
        file.frames.extend(
            [
                "0x48417B4: malloc (in /usr/lib/vgpreload.so)", // 8
                "0x401AB77: ??? (in /lib/ld.so)",               // 9
                "0x48417C0: calloc (in /usr/lib/vgpreload.so)", // 10
            ]
            .map(String::from),
        );
        file.program_points
            .push(point(5.0, 1.0, 0.0, 0.0, vec![8, 9]));
        file.program_points
            .push(point(5.0, 1.0, 0.0, 0.0, vec![10, 4]));
        let p = build_profile(&file, &PprofOptions::default()).unwrap();
        assert_eq!(decode(&encode_profile(&p)), p);
        let objects: Vec<(u64, &str, u64, u64, bool, bool)> = p
            .mapping
            .iter()
            .map(|m| {
                (
                    m.id,
                    string(&p, m.filename),
                    m.memory_start,
                    m.memory_limit,
                    m.has_functions,
                    m.has_filenames,
                )
            })
            .collect();
        assert_eq!(
            objects,
            [
                (1, "", 0xa0, 0xe1, true, true),
                (
                    2,
                    "/usr/lib/vgpreload.so",
                    0x48417b4,
                    0x48417c1,
                    true,
                    false
                ),
                (3, "/lib/ld.so", 0x401ab77, 0x401ab78, true, false),
            ]
        );
        let sample = p.sample.iter().rev().nth(1).unwrap();
        let [malloc, unknown] = sample.location_id[..] else {
            panic!()
        };
        assert_eq!(lines(&p, malloc), [("malloc".into(), "".into(), 0)]);
        assert_eq!(p.location[malloc as usize - 1].mapping_id, 2);
        assert!(lines(&p, unknown).is_empty());
        assert_eq!(p.location[unknown as usize - 1].mapping_id, 3);
    }

    #[test]
    fn gzip_output_decompresses_to_the_profile() {
        use std::io::Read;
        let file = heap_file();
        let mut out = Vec::new();
        write_pprof(&file, &PprofOptions::default(), &mut out).unwrap();
        assert_eq!(&out[..3], &[0x1f, 0x8b, 0x08]);
        let mut raw = Vec::new();
        flate2::read::GzDecoder::new(&out[..])
            .read_to_end(&mut raw)
            .unwrap();
        assert_eq!(raw, pprof_bytes(&file, &PprofOptions::default()).unwrap());
        assert_eq!(
            decode(&raw),
            build_profile(&file, &PprofOptions::default()).unwrap()
        );
    }
}
