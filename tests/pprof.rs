//! The pprof writer, read by the reference client: `go tool pprof`.
//!
//! Every DHAT file here (the `dhat` crate's and Valgrind's fixtures, and profiles that
//! allocsite's example writes, exact and sampled) is converted and then read with
//! `go tool pprof`: the totals it prints must equal the DHAT file's sums (`alloc_space` =
//! Σ tb, `alloc_objects` = Σ tbk, `inuse_space` = Σ eb, `inuse_objects` = Σ ebk), the
//! functions it names must be the program's, `-traces -lines` must show file:line, `-raw` and
//! `-diff_base` must work.
//!
//! Needs Go (`apt-get install -y golang-go`); see `go_pprof/mod.rs` (`ALLOCSITE_SKIP_GO=1`).

mod go_pprof;

use std::path::{Path, PathBuf};
use std::process::Command;

use allocsite::report::dhat::DhatFile;
use allocsite::report::pprof::{PprofOptions, write_pprof};
use go_pprof::{
    assert_contains, check_heap_totals, check_totals, go, pprof, read_dhat, skipped, top_names,
};

const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/viewer/tests/fixtures");

fn scratch(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join("pprof")
        .join(name);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Writes `file` as pprof into `dir/name.pb.gz`.
fn write(file: &DhatFile, dir: &Path, name: &str) -> PathBuf {
    let path = dir.join(format!("{name}.pb.gz"));
    let mut out = Vec::new();
    write_pprof(file, &PprofOptions::default(), &mut out).unwrap();
    assert_eq!(&out[..2], &[0x1f, 0x8b], "gzip magic");
    std::fs::write(&path, out).unwrap();
    path
}

#[test]
fn dhat_crate_heap_profile() {
    let go = go();
    let file = read_dhat(&Path::new(FIXTURES).join("dhat-crate-heap.json"));
    let profile = write(&file, &scratch("fixtures"), "dhat-crate-heap");
    let Some(go) = go else {
        return skipped("dhat_crate_heap_profile");
    };
    check_heap_totals(go, &file, &profile);

    let top = pprof(go, &["-top", "-nodecount=1000"], &profile);
    assert_contains(&top, &["Type: alloc_space"], "-top");
    let names = top_names(&top);
    for user in [
        "dhatfix::main",
        "dhatfix::make_vec",
        "dhatfix::make_strings",
    ] {
        assert!(
            names.iter().any(|n| n == user),
            "{user} not in -top:\n{top}"
        );
    }
    // Whole names, not simplified as if they were C++ (`::allocate`).
    assert!(
        names
            .iter()
            .any(|n| n == "<alloc::alloc::Global as core::alloc::Allocator>::allocate"),
        "{top}"
    );
    assert!(!names.iter().any(|n| n.starts_with("::")), "{top}");

    let traces = pprof(go, &["-traces", "-lines"], &profile);
    assert_contains(
        &traces,
        &[
            "dhatfix::make_vec dhatfix/src/main.rs:",
            "dhatfix::main dhatfix/src/main.rs:",
            "bytes:",
        ],
        "-traces -lines",
    );
    let raw = pprof(go, &["-raw"], &profile);
    assert_contains(
        &raw,
        &[
            "PeriodType: space bytes",
            "Period: 1\n",
            "alloc_objects/count alloc_space/bytes[dflt] inuse_objects/count inuse_space/bytes",
            "Locations",
            "Mappings",
        ],
        "-raw",
    );
}

#[test]
fn valgrind_heap_copy_and_ad_hoc_profiles() {
    let go = go();
    let dir = scratch("fixtures");
    let heap = read_dhat(&Path::new(FIXTURES).join("valgrind-heap.json"));
    let heap_profile = write(&heap, &dir, "valgrind-heap");
    let copy = read_dhat(&Path::new(FIXTURES).join("valgrind-copy.json"));
    let copy_profile = write(&copy, &dir, "valgrind-copy");
    let ad_hoc = read_dhat(&Path::new(FIXTURES).join("valgrind-ad-hoc.json"));
    let ad_hoc_profile = write(&ad_hoc, &dir, "valgrind-ad-hoc");
    let rust_ad_hoc = read_dhat(&Path::new(FIXTURES).join("dhat-crate-ad-hoc.json"));
    let rust_ad_hoc_profile = write(&rust_ad_hoc, &dir, "dhat-crate-ad-hoc");
    let Some(go) = go else {
        return skipped("valgrind_heap_copy_and_ad_hoc_profiles");
    };

    check_heap_totals(go, &heap, &heap_profile);
    let traces = pprof(go, &["-traces", "-lines"], &heap_profile);
    assert_contains(
        &traces,
        &[
            "malloc\n",
            "make_buffer dhat-sample.c:9",
            "short_lived dhat-sample.c:16",
            "main dhat-sample.c:34",
        ],
        "-traces -lines",
    );
    let top = pprof(go, &["-top", "-sample_index=inuse_space"], &heap_profile);
    assert_eq!(top_names(&top), ["calloc", "main", "make_table"], "{top}");

    check_totals(
        go,
        &copy,
        &copy_profile,
        &[
            ("copy_space", copy.total_bytes()),
            ("copies", copy.total_blocks()),
        ],
    );
    let raw = pprof(go, &["-raw"], &copy_profile);
    assert_contains(
        &raw,
        &[
            "copies/count copy_space/bytes[dflt]",
            "/usr/libexec/valgrind/vgpreload_dhat-amd64-linux.so",
        ],
        "-raw",
    );
    // Inlined frames (one address) are one location with two lines, innermost first.
    let lines: Vec<&str> = raw.lines().map(str::trim).collect();
    let at = lines
        .iter()
        .position(|line| line.contains("0x401bccb M=1 _dl_start_final rtld.c:497"))
        .unwrap_or_else(|| panic!("no inlined location in -raw:\n{raw}"));
    assert!(lines[at + 1].starts_with("_dl_start rtld.c:584"), "{raw}");

    for (file, profile) in [
        (&ad_hoc, &ad_hoc_profile),
        (&rust_ad_hoc, &rust_ad_hoc_profile),
    ] {
        check_totals(
            go,
            file,
            profile,
            &[
                ("units", file.total_bytes()),
                ("events", file.total_blocks()),
            ],
        );
    }
    let top = pprof(go, &["-top"], &rust_ad_hoc_profile);
    assert_contains(&top, &["Type: units", "dhatfix::ad_hoc_work"], "-top");
}

/// Runs allocsite's example `profile` (the README's main job) with `ALLOCSITE_*` variables,
/// writing its DHAT file and the profiler's own pprof output (`ALLOCSITE_PPROF`,
/// `dir/name.profiler.pb.gz`) into `dir`.
fn run_example(dir: &Path, name: &str, sample_bytes: Option<&str>) -> DhatFile {
    let output = dir.join(format!("{name}.json"));
    let _ = std::fs::remove_file(dir.join(format!("{name}.profiler.pb.gz")));
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut command = Command::new(cargo);
    command
        .args(["run", "--quiet", "--release", "--example", "profile"])
        .args(["--features", "track", "--manifest-path"])
        .arg(concat!(env!("CARGO_MANIFEST_DIR"), "/Cargo.toml"))
        .env("ALLOCSITE_OUTPUT", &output)
        .env("ALLOCSITE_HTML", "")
        .env("ALLOCSITE_FOLDED", "")
        .env(
            "ALLOCSITE_PPROF",
            dir.join(format!("{name}.profiler.pb.gz")),
        )
        .env("ALLOCSITE_SUMMARY", "0")
        .env_remove("ALLOCSITE_SAMPLE_BYTES")
        .current_dir(dir);
    if let Some(bytes) = sample_bytes {
        command.env("ALLOCSITE_SAMPLE_BYTES", bytes);
    }
    let result = command.output().expect("running cargo");
    assert!(
        result.status.success(),
        "the profile example failed: {}\n{}",
        result.status,
        String::from_utf8_lossy(&result.stderr)
    );
    read_dhat(&output)
}

#[test]
fn allocsite_profiles_exact_and_sampled() {
    let go = go();
    let dir = scratch("example");
    let exact = run_example(&dir, "exact", Some("1"));
    let sampled = run_example(&dir, "sampled", None);
    let extension = exact.allocsite.as_ref().expect("allocsite's extension");
    assert_eq!((extension.sample_bytes, extension.sampled), (1, false));
    let sample_bytes = sampled.allocsite.as_ref().unwrap().sample_bytes;
    assert!(sample_bytes > 1);
    let exact_profile = write(&exact, &dir, "exact");
    let sampled_profile = write(&sampled, &dir, "sampled");
    let Some(go) = go else {
        return skipped("allocsite_profiles_exact_and_sampled");
    };

    // Exact: every allocation recorded, so these are the run's true totals.
    check_heap_totals(go, &exact, &exact_profile);
    // Sampled: the same Horvitz–Thompson estimates as the DHAT file.
    check_heap_totals(go, &sampled, &sampled_profile);
    // The profiler's own pprof output (`ALLOCSITE_PPROF`) holds the same figures as the
    // DHAT file of the same run.
    for (file, name) in [(&exact, "exact"), (&sampled, "sampled")] {
        check_heap_totals(go, file, &dir.join(format!("{name}.profiler.pb.gz")));
    }

    let user = [
        "profile::generate_log",
        "profile::parse_log",
        "profile::index_by_path",
        "profile::main",
    ];
    let top = pprof(go, &["-top", "-nodecount=1000"], &exact_profile);
    let names = top_names(&top);
    for function in user {
        assert!(
            names.iter().any(|n| n == function),
            "{function} not in -top:\n{top}"
        );
    }
    let traces = pprof(go, &["-traces", "-lines"], &exact_profile);
    assert_contains(
        &traces,
        &[
            "profile::parse_log examples/profile.rs:",
            "profile::main examples/profile.rs:",
        ],
        "-traces -lines",
    );

    let raw = pprof(go, &["-raw"], &exact_profile);
    assert_contains(&raw, &["PeriodType: space bytes", "Period: 1\n"], "-raw");
    let raw = pprof(go, &["-raw"], &sampled_profile);
    assert_contains(&raw, &[&format!("Period: {sample_bytes}\n")], "-raw");

    // Two profiles of the same program diff cleanly: against itself, nothing changed.
    let base = format!("-diff_base={}", exact_profile.display());
    let diff = pprof(
        go,
        &["-top", "-sample_index=alloc_space", &base],
        &exact_profile,
    );
    assert_contains(
        &diff,
        &["Showing nodes accounting for 0, 0% of "],
        "-diff_base",
    );
    let diff = pprof(
        go,
        &["-top", "-sample_index=alloc_space", &base],
        &sampled_profile,
    );
    assert!(diff.contains("profile::parse_log"), "{diff}");
}
