//! DHAT files to `profile.proto`, checked field by field through the independent reader.

use std::io;

use super::model::*;
use super::{PprofOptions, pprof_bytes, write_pprof};
use crate::report::dhat::{DhatFile, Extension, ProgramPoint};
use crate::report::pprof::encode::encode_profile;
use crate::report::pprof::test_reader::decode;

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
        block_size_label: true,
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
    assert!(p.sample.iter().all(|s| s.label.len() == 1));
    let live = PprofOptions {
        block_size_label: false,
        ..options
    };
    let p = build_profile(&file, &live).unwrap();
    assert!(
        p.sample.iter().all(|s| s.label.is_empty()),
        "no moving label"
    );

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
    assert!(error.to_string().contains("frame index 99"), "{error}");
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
