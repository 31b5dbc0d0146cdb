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
//!   block size (`go tool pprof -tags`, `-tagfocus=bytes=1k:`). Live profiles
//!   (`allocsite::snapshot`, dumps) leave it out ([`PprofOptions::block_size_label`]): Go's
//!   label is a fixed bucket size, an average moves, and scrapers that subtract
//!   consecutive profiles match samples by their labels.
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
//! `profile.proto` is written by the `Encoder` in `encode.rs` (varints, keys, length-delimited and
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
//!
//! The code: `model.rs` turns a DHAT file into the `profile.proto` model, `frames.rs` reads
//! DHAT frame strings, `encode.rs` writes the model's bytes.

use std::io::{self, Write};
use std::ops::Range;

use flate2::Compression;
use flate2::write::GzEncoder;

use crate::report::dhat::DhatFile;

mod encode;
mod frames;
mod model;
#[cfg(test)]
mod test_reader;
#[cfg(test)]
mod tests;

use encode::encode_profile;
use model::build_profile;

/// What a DHAT file does not say and the pprof file can.
#[derive(Clone, Debug, PartialEq, Eq)]
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
    /// Give each heap and copy sample the numeric label `bytes`, its program point's average
    /// block size (default true). Live profiles leave it out: an average moves as the
    /// program allocates, and scrapers that subtract consecutive profiles (Grafana Alloy's
    /// `pyroscope.scrape` for `/debug/pprof/allocs`) match samples by stack *and* labels, so
    /// a moving label would make a site's whole cumulative figure count again as new.
    pub block_size_label: bool,
}

impl Default for PprofOptions {
    fn default() -> Self {
        PprofOptions {
            binary_path: None,
            build_id: None,
            load_range: None,
            time_nanos: None,
            default_sample_type: None,
            block_size_label: true,
        }
    }
}

/// Writes `file` as a gzip-compressed pprof `profile.proto` to `out` (see the module docs for
/// the mapping).
///
/// # Errors
///
/// [`io::ErrorKind::InvalidData`] for a file that fails [`DhatFile::validate`] or whose
/// mode pprof cannot represent, [`io::ErrorKind::InvalidInput`] for an unknown
/// [`PprofOptions::default_sample_type`] (nothing is written then); any error of `out`.
pub fn write_pprof(file: &DhatFile, options: &PprofOptions, out: impl Write) -> io::Result<()> {
    let bytes = encode_profile(&build_profile(file, options)?);
    let mut gzip = GzEncoder::new(out, Compression::default());
    gzip.write_all(&bytes)?;
    gzip.finish()?.flush()
}

/// The uncompressed `profile.proto` bytes of `file` (readers accept both; [`write_pprof`] is
/// what tools expect).
///
/// # Errors
///
/// As [`write_pprof`].
pub fn pprof_bytes(file: &DhatFile, options: &PprofOptions) -> io::Result<Vec<u8>> {
    Ok(encode_profile(&build_profile(file, options)?))
}
