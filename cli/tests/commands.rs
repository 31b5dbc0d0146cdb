//! Each command on real DHAT files: what it prints, what it writes, its exit status.

mod common;

use common::{VALID, fixture, run, run_in, scratch};

#[test]
fn summary_of_the_dhat_crate_s_file() {
    let out = run(&[&"summary", &fixture("dhat-crate-heap.json")]).ok();
    assert_eq!(
        out,
        "allocsite: heap profile of `./target/release/dhatfix heap`\n\
         \x20 total:   8,760 bytes in 23 blocks\n\
         \x20 peak:    8,760 bytes in 23 blocks at 0.000 s\n\
         \x20 at end:  0 bytes in 0 blocks after 0.000 s\n\
         \x20 top call sites by total bytes:\n\
         \x20    92.2%          8,080 bytes          2 blocks  core::iter::traits::iterator::Iterator::collect ← dhatfix::make_vec (dhatfix/src/main.rs:7)\n\
         \x20     5.5%            480 bytes          1 blocks  core::iter::traits::iterator::Iterator::collect ← dhatfix::make_strings (dhatfix/src/main.rs:10)\n\
         \x20     2.3%            200 bytes         20 blocks  alloc::fmt::format ← dhatfix::make_strings::{{closure}} (dhatfix/src/main.rs:10)\n"
    );
}

#[test]
fn summary_of_valgrind_s_files_in_every_mode() {
    let out = run(&[&"summary", &"--top", &"1", &fixture("valgrind-heap.json")]).ok();
    assert_eq!(
        out,
        "allocsite: heap profile of `./dhat-sample`\n\
         \x20 total:   4,672 bytes in 12 blocks\n\
         \x20 peak:    4,352 bytes in 2 blocks at 147,976 instrs\n\
         \x20 at end:  256 bytes in 1 blocks after 153,515 instrs\n\
         \x20 top call sites by total bytes:\n\
         \x20    94.5%          4,416 bytes         11 blocks  malloc ← make_buffer (dhat-sample.c:9)\n\
         \x20   … and 1 more call site\n"
    );
    let out = run(&[&"summary", &fixture("valgrind-ad-hoc.json")]).ok();
    assert_eq!(
        out,
        "allocsite: ad-hoc profile of `./dhat-sample`\n\
         \x20 total:   124 units in 4 events\n\
         \x20 top call sites by total units:\n\
         \x20    80.6%            100 units          1 events  ad_hoc (dhat-sample.c:29)\n\
         \x20    19.4%             24 units          3 events  ad_hoc (dhat-sample.c:28)\n"
    );
    let out = run(&[&"summary", &"--top", &"0", &fixture("valgrind-copy.json")]).ok();
    assert_eq!(
        out,
        "allocsite: copy profile of `./dhat-sample`\n  total:   285 bytes in 23 blocks\n"
    );
}

#[test]
fn summary_of_a_sampled_allocsite_profile_says_it_is_estimated() {
    let out = run(&[
        &"summary",
        &"--top",
        &"2",
        &fixture("allocsite-profile.json"),
    ])
    .ok();
    assert!(
        out.starts_with(
            "allocsite: heap profile of `target/release/examples/profile` \
             (estimated from 672 samples, one per 65,536 bytes on average)\n"
        ),
        "{out}"
    );
    assert!(
        out.contains("42,102,205 bytes         31 blocks  core::iter::traits::iterator::Iterator::collect ← profile::parse_log (examples/profile.rs:83)"),
        "{out}"
    );
}

/// The viewer's comparison fixtures: every outcome, biggest change first.
#[test]
fn diff_of_two_profiles() {
    let (before, after) = (
        fixture("compare-before.json"),
        fixture("compare-after.json"),
    );
    let dir = before.parent().unwrap();
    let out = run_in(
        dir,
        &[&"diff", &"compare-before.json", &"compare-after.json"],
    )
    .ok();
    assert_eq!(
        out,
        "allocsite: heap profiles compared by call site, total bytes\n\
         \x20 before:  compare-before.json (`demo --before`)\n\
         \x20 after:   compare-after.json (`demo --after`)\n\
         \x20 total bytes: 2,100 → 2,500 (+400, +19.0%)\n\
         \x20 call sites by change (1 grown, 1 shrunk, 1 new, 2 gone):\n\
         \x20                  before          after          change           call site\n\
         \x20   new                 0            700            +700      new  demo::zeta (src/lib.rs:60)\n\
         \x20   grown           1,000          1,500            +500   +50.0%  demo::alpha (src/lib.rs:10)\n\
         \x20   shrunk            500            200            -300   -60.0%  demo::beta (src/lib.rs:20)\n\
         \x20   gone              300              0            -300     gone  demo::gamma (src/lib.rs:30)\n\
         \x20   gone              200              0            -200     gone  demo::delta (src/lib.rs:40)\n\
         \x20 1 call site unchanged\n"
    );
    // By blocks, beta grew (the viewer's test says the same).
    let out = run(&[
        &"diff",
        &"--metric",
        &"total-blocks",
        &"--top",
        &"1",
        &before,
        &after,
    ])
    .ok();
    assert!(
        out.contains("  total blocks: 21 → 26 (+5, +23.8%)\n"),
        "{out}"
    );
    assert!(
        out.contains(
            "    new                 0              7              +7      new  demo::zeta"
        ),
        "{out}"
    );
    assert!(
        out.contains("    … and 3 more changed call sites\n"),
        "{out}"
    );
    assert!(out.ends_with("  2 call sites unchanged\n"), "{out}");
}

#[test]
fn diff_fails_above_a_growth_for_ci() {
    let (before, after) = (
        fixture("compare-before.json"),
        fixture("compare-after.json"),
    );
    // +19.0%: above 5, not above 20.
    let failed = run(&[&"diff", &before, &after, &"--fail-above", &"5"]);
    assert!(
        failed.stdout.contains("total bytes: 2,100 → 2,500"),
        "{}",
        failed.stdout
    );
    assert_eq!(
        failed.error(1),
        "error: total bytes grew by 19.0%, more than --fail-above 5%"
    );
    let passed = run(&[&"diff", &before, &after, &"--fail-above", &"20%"]).ok();
    assert!(
        passed.ends_with("  --fail-above 20%: passed (total bytes changed by 19.0%)\n"),
        "{passed}"
    );
    // Shrinking passes any limit; the same file never fails.
    run(&[&"diff", &after, &before, &"--fail-above", &"0"]).ok();
    let same = run(&[&"diff", &before, &before, &"--fail-above", &"0"]).ok();
    assert!(
        same.contains("  no call site changed\n  5 call sites unchanged\n"),
        "{same}"
    );
    // At the end of the run, before has 0 bytes live in every site and after 0 too.
    run(&[
        &"diff",
        &before,
        &after,
        &"--metric",
        &"end-bytes",
        &"--fail-above",
        &"0",
    ])
    .ok();
}

#[test]
fn diff_of_files_from_different_tools() {
    // Valgrind's heap file against the dhat crate's: both heap profiles, no site in common.
    let out = run(&[
        &"diff",
        &fixture("valgrind-heap.json"),
        &fixture("dhat-crate-heap.json"),
        &"--top",
        &"0",
    ])
    .ok();
    assert!(out.contains("(0 grown, 0 shrunk, 3 new, 2 gone)"), "{out}");
    assert!(out.contains("    gone            4,416              0          -4,416     gone  malloc ← make_buffer (dhat-sample.c:9)"), "{out}");
    // Profiles of different kinds do not compare.
    let error = run(&[
        &"diff",
        &fixture("valgrind-heap.json"),
        &fixture("valgrind-copy.json"),
    ])
    .error(2);
    assert!(
        error.ends_with("a copy profile: only profiles of one kind compare"),
        "{error}"
    );
    // Figures a file does not record are named.
    let error = run(&[
        &"diff",
        &fixture("allocsite-budget-serde.json"),
        &fixture("allocsite-budget-serde.json"),
        &"--metric",
        &"peak-bytes",
    ])
    .error(2);
    assert!(
        error.contains("records no block lifetimes (bklt is false), so it has no peak-bytes"),
        "{error}"
    );
    // Nor do they convert: folded stacks of a figure the file lacks were empty, status 0.
    let error = run(&[
        &"convert",
        &fixture("allocsite-budget-serde.json"),
        &"--to",
        &"folded",
        &"--metric",
        &"end-bytes",
        &"-o",
        &"-",
    ])
    .error(2);
    assert!(
        error.ends_with(
            "records no block lifetimes (bklt is false), so it has no end-bytes; convert \
             total-bytes or total-blocks"
        ),
        "{error}"
    );
}

#[test]
fn html_writes_a_self_contained_report() {
    let dir = scratch("html");
    std::fs::copy(fixture("dhat-crate-heap.json"), dir.join("heap.json")).unwrap();
    assert_eq!(
        run_in(&dir, &[&"html", &"heap.json"]).ok(),
        "wrote heap.html\n"
    );
    let page = std::fs::read_to_string(dir.join("heap.html")).unwrap();
    assert!(
        page.contains(
            r#"<script type="application/json" id="allocsite-data" data-name="heap.json">"#
        )
    );
    assert!(page.contains("dhatfix::make_vec"));
    assert!(!page.contains("<script src="), "scripts are inlined");

    let out = run_in(
        &dir,
        &[
            &"html",
            &"heap.json",
            &"--baseline",
            &fixture("valgrind-heap.json"),
            &"-o",
            &"cmp.html",
        ],
    )
    .ok();
    assert_eq!(out, "wrote cmp.html\n");
    let page = std::fs::read_to_string(dir.join("cmp.html")).unwrap();
    assert!(page.contains(r#"id="allocsite-data-baseline" data-name="valgrind-heap.json""#));

    // Never over an input.
    let error = run_in(&dir, &[&"html", &"heap.json", &"-o", &"heap.json"]).error(2);
    assert_eq!(
        error,
        "error: heap.json is an input; give the output another name (-o)"
    );
    // An unwritable output is named.
    let error = run_in(&dir, &[&"html", &"heap.json", &"-o", &"no/such/dir/x.html"]).error(2);
    assert!(
        error.starts_with("error: cannot write no/such/dir/x.html: "),
        "{error}"
    );
}

#[test]
fn convert_to_folded_stacks() {
    let out = run(&[
        &"convert",
        &fixture("valgrind-heap.json"),
        &"--to",
        &"folded",
        &"-o",
        &"-",
    ])
    .ok();
    assert_eq!(
        out,
        "main;make_buffer;malloc 4096\nmain;make_table;calloc 256\nmain;short_lived;make_buffer;malloc 320\n"
    );
    let out = run(&[
        &"convert",
        &fixture("dhat-crate-ad-hoc.json"),
        &"--to",
        &"folded",
        &"--metric",
        &"total-blocks",
        &"-o",
        &"-",
    ])
    .ok();
    assert_eq!(
        out,
        "dhatfix::main;dhat::ad_hoc_event 1\ndhatfix::main;dhatfix::ad_hoc_work;dhat::ad_hoc_event 5\n"
    );
    let dir = scratch("folded");
    std::fs::copy(fixture("valgrind-heap.json"), dir.join("v.json")).unwrap();
    assert_eq!(
        run_in(&dir, &[&"convert", &"v.json", &"--to", &"folded"]).ok(),
        "wrote v.folded\n"
    );
    assert!(
        std::fs::read_to_string(dir.join("v.folded"))
            .unwrap()
            .starts_with("main;make_buffer;malloc 4096\n")
    );
    let error = run_in(
        &dir,
        &[
            &"convert",
            &"v.json",
            &"--to",
            &"pprof",
            &"--metric",
            &"end-bytes",
        ],
    )
    .error(2);
    assert_eq!(
        error,
        "error: --metric is for --to folded (a pprof file carries every figure)"
    );
}

/// Every command reads every kind of DHAT file: allocsite's, the dhat crate's, Valgrind's
/// heap, copy and ad-hoc files.
#[test]
fn every_command_reads_every_tool_s_files() {
    let dir = scratch("every");
    for (name, mode) in VALID {
        let file = fixture(name);
        let summary = run(&[&"summary", &file]).ok();
        assert!(
            summary.starts_with(&format!("allocsite: {mode} profile of `")),
            "{name}: {summary}"
        );
        let diff = run(&[&"diff", &file, &file]).ok();
        assert!(
            diff.starts_with(&format!("allocsite: {mode} profiles compared")),
            "{name}: {diff}"
        );
        let html = dir.join(name.replace(".json", ".html"));
        run(&[&"html", &file, &"-o", &html]).ok();
        assert!(
            std::fs::read_to_string(&html)
                .unwrap()
                .contains("allocsite-data")
        );
        let folded = dir.join(name.replace(".json", ".folded"));
        run(&[&"convert", &file, &"--to", &"folded", &"-o", &folded]).ok();
        assert!(std::fs::metadata(&folded).unwrap().len() > 0, "{name}");
        let pprof = dir.join(name.replace(".json", ".pb.gz"));
        run(&[&"convert", &file, &"--to", &"pprof", &"-o", &pprof]).ok();
        assert_eq!(
            &std::fs::read(&pprof).unwrap()[..2],
            &[0x1f, 0x8b],
            "{name}: gzip"
        );
        let viewed = run(&[&"view", &"--no-open", &file]).ok();
        let report = std::path::PathBuf::from(viewed.trim_end());
        assert!(report.is_absolute(), "{viewed}");
        assert!(
            std::fs::read_to_string(&report)
                .unwrap()
                .contains("allocsite-data")
        );
        std::fs::remove_dir_all(report.parent().unwrap()).unwrap();
    }
}

#[test]
fn help_for_every_command() {
    let usage = run(&[&"--help"]).ok();
    for command in ["summary", "diff", "html", "convert", "view"] {
        assert!(usage.contains(&format!("\n  {command} ")), "{usage}");
        let help = run(&[&command, &"--help"]).ok();
        assert!(
            help.starts_with(&format!("allocsite {command}: ")),
            "{help}"
        );
        assert!(
            help.contains(&format!("Usage: allocsite {command} ")),
            "{help}"
        );
        assert!(help.contains("Example"), "{help}");
        assert_eq!(run(&[&"help", &command]).ok(), help);
        assert_eq!(run(&[&command, &"-h", &"ignored.json"]).ok(), help);
    }
    assert_eq!(run(&[&"help"]).ok(), usage);
    assert_eq!(run(&[&"-h"]).ok(), usage);
    assert_eq!(
        run(&[&"--version"]).ok(),
        format!("allocsite {}\n", env!("CARGO_PKG_VERSION"))
    );
}

#[test]
fn a_closed_pipe_is_not_an_error() {
    use std::io::Read;
    use std::process::Stdio;
    let mut child = common::command(
        std::path::Path::new(env!("CARGO_TARGET_TMPDIR")),
        &[
            &"convert",
            &fixture("dhat-crate-heap.json"),
            &"--to",
            &"folded",
            &"-o",
            &"-",
        ],
    )
    .stdout(Stdio::piped())
    .stderr(Stdio::piped())
    .spawn()
    .unwrap();
    drop(child.stdout.take()); // the reader goes away at once
    let status = child.wait().unwrap();
    let mut stderr = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    assert!(status.success(), "{status}: {stderr}");
    assert_eq!(stderr, "");
}
