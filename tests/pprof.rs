//! The pprof writer, read by the reference client: `go tool pprof`.
//!
//! Every DHAT file here (the `dhat` crate's and Valgrind's fixtures, and profiles that
//! allocsite's example writes, exact and sampled) is converted and then read with
//! `go tool pprof`: the totals it prints must equal the DHAT file's sums (`alloc_space` =
//! Σ tb, `alloc_objects` = Σ tbk, `inuse_space` = Σ eb, `inuse_objects` = Σ ebk), the
//! functions it names must be the program's, `-traces -lines` must show file:line, `-raw` and
//! `-diff_base` must work.
//!
//! Needs Go (`apt-get install -y golang-go`). Without it these tests fail and say so, unless
//! `ALLOCSITE_SKIP_GO=1`, which skips the `go tool pprof` checks (and prints that it did).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use allocsite::report::dhat::DhatFile;
use allocsite::report::pprof::{PprofOptions, write_pprof};

const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/viewer/tests/fixtures");

/// The `go` binary, or `None` if `ALLOCSITE_SKIP_GO=1` says to skip. Panics, saying how to
/// install Go, if it is missing.
fn go() -> Option<&'static Path> {
    static GO: OnceLock<Option<PathBuf>> = OnceLock::new();
    GO.get_or_init(|| {
        if std::env::var_os("ALLOCSITE_SKIP_GO").is_some_and(|v| v == "1") {
            return None;
        }
        let found = std::env::var_os("PATH")
            .into_iter()
            .flat_map(|path| std::env::split_paths(&path).collect::<Vec<_>>())
            .map(|dir| dir.join("go"))
            .find(|go| go.is_file());
        match found {
            Some(go) => Some(go),
            None => panic!(
                "`go` was not found on PATH: these tests read the pprof files with \
                 `go tool pprof`, the reference client. Install Go (`apt-get install -y \
                 golang-go` on Debian and Ubuntu, or from go.dev), or set \
                 ALLOCSITE_SKIP_GO=1 to skip the `go tool pprof` checks."
            ),
        }
    })
    .as_deref()
}

fn skipped(test: &str) {
    eprintln!("{test}: SKIPPED the `go tool pprof` checks (ALLOCSITE_SKIP_GO=1)");
}

fn scratch(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join("pprof")
        .join(name);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn read_dhat(path: &Path) -> DhatFile {
    let text = std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
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

/// `go tool pprof ARGS PROFILE`'s standard output; panics with its error output on failure.
fn pprof(go: &Path, args: &[&str], profile: &Path) -> String {
    let mut command = Command::new(go);
    command.arg("tool").arg("pprof").args(args).arg(profile);
    // Nothing is fetched or saved, but give pprof a place of its own just in case.
    let home = profile.parent().unwrap();
    command.env("PPROF_TMPDIR", home);
    if std::env::var_os("HOME").is_none() {
        command.env("HOME", home);
    }
    let output = command.output().expect("running go tool pprof");
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "go tool pprof {args:?} {} failed ({}):\n{stderr}\n{stdout}",
        profile.display(),
        output.status
    );
    stdout
}

/// N of "… of N total" in `-top` output, without its unit suffix (`B`, `units`).
fn top_total(top: &str) -> f64 {
    let line = top
        .lines()
        .find(|line| line.starts_with("Showing nodes accounting for"))
        .unwrap_or_else(|| panic!("no total in:\n{top}"));
    let total = line
        .rsplit_once(" of ")
        .and_then(|(_, rest)| rest.strip_suffix(" total"))
        .unwrap_or_else(|| panic!("no total in {line:?}"));
    let number = total.trim_end_matches(|c: char| c.is_ascii_alphabetic());
    number
        .parse()
        .unwrap_or_else(|e| panic!("total {total:?} in {line:?}: {e}"))
}

/// `go tool pprof -top` totals of each sample type equal the DHAT file's sums.
fn check_totals(go: &Path, file: &DhatFile, profile: &Path, types: &[(&str, f64)]) {
    for &(sample_type, expected) in types {
        let index = format!("-sample_index={sample_type}");
        let top = pprof(go, &["-top", &index, "-unit=B"], profile);
        assert_eq!(
            top_total(&top),
            expected,
            "{sample_type} of {} ({}):\n{top}",
            profile.display(),
            file.command
        );
    }
}

fn sum(file: &DhatFile, figure: impl Fn(&allocsite::report::dhat::ProgramPoint) -> f64) -> f64 {
    file.program_points.iter().map(figure).sum()
}

/// All four heap totals.
fn check_heap_totals(go: &Path, file: &DhatFile, profile: &Path) {
    check_totals(
        go,
        file,
        profile,
        &[
            ("alloc_space", file.total_bytes()),
            ("alloc_objects", file.total_blocks()),
            ("inuse_space", sum(file, |p| p.end_bytes.unwrap())),
            ("inuse_objects", sum(file, |p| p.end_blocks.unwrap())),
        ],
    );
}

/// The function names `go tool pprof -top` lists.
fn top_names(top: &str) -> Vec<String> {
    top.lines()
        .skip_while(|line| !line.trim_start().starts_with("flat"))
        .skip(1)
        .filter_map(|line| {
            // flat flat% sum% cum cum% NAME…
            let name = line
                .split_whitespace()
                .skip(5)
                .collect::<Vec<_>>()
                .join(" ");
            (!name.is_empty()).then(|| name.trim_end_matches(" (inline)").to_owned())
        })
        .collect()
}

fn assert_contains(haystack: &str, needles: &[&str], what: &str) {
    for needle in needles {
        assert!(
            haystack.contains(needle),
            "{what} lacks {needle:?}:\n{haystack}"
        );
    }
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
/// writing its DHAT file into `dir`.
fn run_example(dir: &Path, name: &str, sample_bytes: Option<&str>) -> DhatFile {
    let output = dir.join(format!("{name}.json"));
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut command = Command::new(cargo);
    command
        .args(["run", "--quiet", "--release", "--example", "profile"])
        .args(["--features", "track", "--manifest-path"])
        .arg(concat!(env!("CARGO_MANIFEST_DIR"), "/Cargo.toml"))
        .env("ALLOCSITE_OUTPUT", &output)
        .env("ALLOCSITE_HTML", "")
        .env("ALLOCSITE_FOLDED", "")
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
