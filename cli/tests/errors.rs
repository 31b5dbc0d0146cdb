//! Bad input: one line naming the problem (and where), exit status 2, no panic, no file
//! left behind. The broken files are the hostile-file corpus the viewer is tested on
//! (viewer/tests/fixtures/invalid/: expected.json says what is wrong with each).

mod common;

use std::path::Path;

use common::{fixture, fixtures, run, run_in, scratch};

/// Each `kind` of expected.json and what allocsite's message says for it (any one of the
/// alternatives, each a list of parts).
fn says(kind: &str) -> &'static [&'static [&'static str]] {
    match kind {
        "empty" => &[&["the file is empty"]],
        "truncated" => &[&["the file is truncated: the JSON ends at line ", " column "]],
        "not-json" => &[&["not JSON at line ", " column "]],
        "not-object" => &[&["not a DHAT file: the JSON top level is"]],
        "version" => &[&["dhatFileVersion is ", ", expected 2"]],
        "missing-field" => &[&["missing field \""]],
        // A frame index of the wrong type is a bad frame index to allocsite.
        "wrong-type" => &[
            &[" is ", ", expected "],
            &["has frame index ", ", but ftbl has "],
            &["has ", " at fs[", "expected a frame index"],
        ],
        "bad-number" => &[&[]], // each says its own: the_numbers_the_corpus_rejects
        "root-frame" => &[&["ftbl[0] is ", ", expected \"[root]\""]],
        "frame-index" => &[&["has frame index ", ", but ftbl has "]],
        "repeated-stack" => &[&["have the same stack (fs); each program point must have its own"]],
        other => panic!("a kind this test does not know: {other}"),
    }
}

/// The corpus's entries: (file, kind, where).
fn corpus() -> Vec<(String, String, String)> {
    let text = std::fs::read_to_string(fixtures().join("invalid/expected.json")).unwrap();
    let entries: Vec<serde_json::Value> = serde_json::from_str(&text).unwrap();
    assert!(entries.len() > 150, "{} entries", entries.len());
    entries
        .iter()
        .map(|entry| {
            let field = |name: &str| entry[name].as_str().unwrap().to_owned();
            (field("file"), field("kind"), field("where"))
        })
        .collect()
}

#[test]
fn every_file_of_the_invalid_corpus_is_one_line_and_status_2() {
    let dir = fixtures().join("invalid");
    let mut kinds = std::collections::BTreeSet::new();
    for (file, kind, place) in corpus() {
        let error = run_in(&dir, &[&"summary", &file]).error(2);
        let prefix = format!("error: {file}: ");
        assert!(error.starts_with(&prefix), "{error}");
        assert!(
            says(&kind)
                .iter()
                .any(|parts| parts.iter().all(|part| error.contains(part))),
            "{file} ({kind} at {place}): {error}"
        );
        // The field or program point the corpus names is named (JSON errors: a position).
        if !matches!(
            kind.as_str(),
            "not-json" | "truncated" | "not-object" | "bad-number"
        ) {
            let named = place
                .split(['.', '['])
                .next()
                .unwrap_or_default()
                .trim_end_matches(']');
            assert!(error.contains(named), "{file}: {error} names {place}");
        }
        kinds.insert(kind);
    }
    // The issue's list: non-JSON, truncated, wrong version, missing field, repeated point.
    for kind in [
        "not-json",
        "truncated",
        "version",
        "missing-field",
        "repeated-stack",
    ] {
        assert!(kinds.contains(kind), "the corpus has no {kind} file");
    }
}

#[test]
fn the_numbers_the_corpus_rejects() {
    let dir = fixtures().join("invalid");
    for (file, message) in [
        (
            "allocsite-heap--tb-negative.json",
            "program point pps[0] field \"tb\" is -1024, expected a number ≥ 0",
        ),
        (
            "allocsite-heap--te-negative.json",
            "field \"te\" is -1, expected a number ≥ 0",
        ),
        (
            "allocsite-heap--te-zero.json",
            "field \"te\" (t-end, the length of the run) is 0, expected a number above 0",
        ),
        (
            "allocsite-heap--pid-negative.json",
            "field \"pid\" is -5, expected a number ≥ 0",
        ),
        (
            "allocsite-heap--tb-sum-overflows.json",
            "the program points' \"tb\" counters add up to more than a number can hold",
        ),
        (
            "allocsite-heap--tb-infinity.json",
            "is too large to be a number",
        ),
    ] {
        let error = run_in(&dir, &[&"summary", &file]).error(2);
        assert!(error.contains(message), "{file}: {error}");
    }
}

#[test]
fn the_corpus_s_acceptable_files_are_accepted() {
    let dir = fixtures().join("invalid/accepted");
    let mut count = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        run(&[&"summary", &path]).ok();
        count += 1;
    }
    assert!(count >= 20, "{count} files");
}

#[test]
fn the_issue_s_list_of_problems() {
    let dir = scratch("errors");
    let good = std::fs::read_to_string(fixture("dhat-crate-heap.json")).unwrap();
    let write = |name: &str, text: &str| {
        std::fs::write(dir.join(name), text).unwrap();
        name.to_owned()
    };
    let cases = [
        (
            "missing.json".to_owned(),
            "error: cannot read missing.json: No such file or directory (os error 2)".to_owned(),
        ),
        (
            write("prose.json", "{\n  \"dhatFileVersion\": 2,\n  oops\n}"),
            "error: prose.json: not JSON at line 3 column 3: key must be a string".to_owned(),
        ),
        (write("half.json", &good[..good.len() / 2]), String::new()),
        (
            write(
                "v3.json",
                &good.replacen("\"dhatFileVersion\": 2", "\"dhatFileVersion\": 3", 1),
            ),
            "error: v3.json: unsupported file version: dhatFileVersion is 3, expected 2".to_owned(),
        ),
        (
            write("nocmd.json", &good.replacen("\"cmd\":", "\"command\":", 1)),
            "error: nocmd.json: missing field \"cmd\" at the top level".to_owned(),
        ),
        (
            write("binary.json", "\u{1f}\u{8b}\u{8}\0"),
            "error: binary.json: not JSON at line 1 column 1: expected value".to_owned(),
        ),
    ];
    for (file, expected) in &cases {
        let error = run_in(&dir, &[&"summary", file]).error(2);
        if expected.is_empty() {
            assert!(
                error.starts_with(&format!(
                    "error: {file}: the file is truncated: the JSON ends at line "
                )),
                "{error}"
            );
        } else {
            assert_eq!(&error, expected);
        }
    }
    assert!(good.contains("\"dhatFileVersion\": 2") && good.contains("\"cmd\":"));
    let error = run_in(&dir, &[&"summary", &"."]).error(2);
    assert!(error.starts_with("error: cannot read .: "), "{error}");
    let bytes = [b'{', 0xff, 0xfe, b'}'];
    std::fs::write(dir.join("latin1.json"), bytes).unwrap();
    assert_eq!(
        run_in(&dir, &[&"summary", &"latin1.json"]).error(2),
        "error: latin1.json: not a DHAT file: not UTF-8 text (byte 1 is not valid UTF-8)"
    );
    // A pprof file (gzip) given where a DHAT file is read: named as such.
    std::fs::write(
        dir.join("heap.pb.gz"),
        [0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff],
    )
    .unwrap();
    assert_eq!(
        run_in(&dir, &[&"summary", &"heap.pb.gz"]).error(2),
        "error: heap.pb.gz: not a DHAT file: gzip-compressed (a pprof profile? open it with go \
         tool pprof; a compressed DHAT file: gunzip it first)"
    );
}

/// Every command, given a bad file, fails the same way and writes nothing.
#[test]
fn every_command_fails_cleanly_and_leaves_no_file() {
    let dir = scratch("no-output");
    let bad = fixtures().join("invalid/valgrind-heap--duplicate-pp.json");
    std::fs::copy(&bad, dir.join("bad.json")).unwrap();
    std::fs::copy(fixture("valgrind-heap.json"), dir.join("good.json")).unwrap();
    let message = "error: bad.json: program points pps[0] and pps[3] have the same stack (fs); each program point must have its own";
    let runs: [&[&dyn AsRef<std::ffi::OsStr>]; 8] = [
        &[&"summary", &"bad.json"],
        &[&"diff", &"bad.json", &"good.json"],
        &[&"diff", &"good.json", &"bad.json"],
        &[&"html", &"bad.json"],
        &[
            &"html",
            &"good.json",
            &"--baseline",
            &"bad.json",
            &"-o",
            &"x.html",
        ],
        &[&"convert", &"bad.json", &"--to", &"pprof"],
        &[&"convert", &"bad.json", &"--to", &"folded"],
        &[&"view", &"bad.json"],
    ];
    let tmp = scratch("no-output-tmp");
    for args in runs {
        let error = common::command(&dir, args)
            .env("TMPDIR", &tmp)
            .output()
            .map(common::Run::from)
            .unwrap()
            .error(2);
        assert_eq!(
            error,
            message,
            "{:?}",
            args.iter().map(|a| a.as_ref()).collect::<Vec<_>>()
        );
    }
    let mut left: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    left.sort();
    assert_eq!(left, ["bad.json", "good.json"]);
    assert_eq!(
        std::fs::read_dir(&tmp).unwrap().count(),
        0,
        "view left a folder"
    );
}

#[test]
fn usage_mistakes_are_status_2() {
    let file = fixture("valgrind-heap.json");
    for (args, expected) in [
        (vec![], "error: no command given; see allocsite --help"),
        (
            vec!["sumary"],
            "error: unknown command 'sumary' (the commands are summary, diff, html, convert, view; see allocsite --help)",
        ),
        (
            vec!["diff", "x.json"],
            "error: allocsite diff takes two files, BEFORE and AFTER, got 1 file; see allocsite diff --help",
        ),
        (
            vec!["summary", "--to", "pprof", "x.json"],
            "error: allocsite summary: invalid option '--to'; see allocsite summary --help",
        ),
        (
            vec!["convert", "x.json", "--to", "svg"],
            "error: --to takes folded or pprof, not 'svg'",
        ),
        (
            vec!["diff", "a", "b", "--fail-above", "much"],
            "error: --fail-above takes a percentage of 0 or more such as 5 or 2.5, not 'much'",
        ),
        (
            vec!["summary", "--top", "-1", "x.json"],
            "error: --top takes a whole number of call sites, not '-1'",
        ),
    ] {
        let args: Vec<&dyn AsRef<std::ffi::OsStr>> = args.iter().map(|a| a as _).collect();
        assert_eq!(run(&args).error(2), expected);
    }
    assert!(Path::new(&file).exists());
}

#[test]
fn a_mode_pprof_cannot_show_is_named_and_nothing_is_written() {
    let dir = scratch("custom-mode");
    let text = std::fs::read_to_string(fixture("dhat-crate-heap.json")).unwrap();
    let custom = text.replacen("\"mode\": \"rust-heap\"", "\"mode\": \"custom\"", 1);
    assert_ne!(custom, text);
    std::fs::write(dir.join("custom.json"), custom).unwrap();
    assert_eq!(
        run_in(&dir, &[&"convert", &"custom.json", &"--to", &"pprof"]).error(2),
        "error: custom.json: DHAT mode \"custom\" has no pprof equivalent: expected heap, \
         rust-heap, copy, ad-hoc or rust-ad-hoc"
    );
    assert!(!dir.join("custom.pb.gz").exists());
    // The other commands read it.
    let summary = run_in(&dir, &[&"summary", &"custom.json"]).ok();
    assert!(
        summary.starts_with("allocsite: custom profile of "),
        "{summary}"
    );
}
