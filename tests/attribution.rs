//! Naming the user's line: a budget scope whose allocations all happen inside a real
//! dependency (serde_json) names the user's call of it first, with the call it made; failure
//! messages list the top sites then say how many more there are; budget profiles end at the
//! user's closure, and a stack the capture cut says so.
#![cfg(feature = "track")]

use std::hint::black_box;

use allocsite::FrameClass;

#[global_allocator]
static ALLOC: allocsite::Alloc = allocsite::Alloc::system();

const WORDS: &str = r#"["alpha", "beta", "gamma", "delta", "epsilon", "zeta", "eta", "theta"]"#;

#[inline(never)]
fn parse_words(text: &str) -> Vec<String> {
    serde_json::from_str(text).unwrap() // the user's line
}

/// Ten allocations on ten lines: ten call sites of one allocation each.
#[inline(never)]
fn ten_small_boxes() -> [Box<u64>; 10] {
    let a = Box::new(black_box(1));
    let b = Box::new(black_box(2));
    let c = Box::new(black_box(3));
    let d = Box::new(black_box(4));
    let e = Box::new(black_box(5));
    let f = Box::new(black_box(6));
    let g = Box::new(black_box(7));
    let h = Box::new(black_box(8));
    let i = Box::new(black_box(9));
    let j = Box::new(black_box(10));
    [a, b, c, d, e, f, g, h, i, j]
}

/// Allocates at the bottom of `depth` nested calls.
#[inline(never)]
fn deep(depth: u32) -> Vec<u8> {
    if black_box(depth) == 0 {
        return vec![7u8; 77]; // the deep allocation
    }
    let v = deep(depth - 1);
    black_box(v)
}

fn line_of(marker: &str) -> u32 {
    include_str!("attribution.rs")
        .lines()
        .position(|line| line.ends_with(marker))
        .unwrap() as u32
        + 1
}

#[test]
fn the_user_s_call_of_a_dependency_is_the_first_call_site() {
    let (words, usage) = allocsite::measure(|| parse_words(black_box(WORDS))).unwrap();
    assert_eq!(words.len(), 8);
    let sites = usage.call_sites();
    let first = &sites[0];
    assert_eq!(first.class, FrameClass::User, "{sites:#?}");
    assert_eq!(first.file.as_deref(), Some("tests/attribution.rs"));
    assert_eq!(first.line, Some(line_of("// the user's line")));
    assert!(first.function.ends_with("parse_words"), "{first:#?}");
    let callee = first.callee.as_deref().unwrap();
    assert!(
        callee.starts_with("serde_json::") && callee.ends_with("from_str"),
        "{callee}"
    );
    // Every allocation of the scope is serde_json's, made for that one line: one call site
    // (whatever the return addresses inside serde_json).
    assert_eq!(sites.len(), 1, "{sites:#?}");
    assert_eq!(first.allocations, usage.allocations + usage.reallocations);
    assert_eq!(
        first.describe(),
        format!("{callee} ← {}", first.function),
        "{first:#?}"
    );
}

#[test]
fn a_broken_budget_names_the_user_s_line_first_and_counts_the_sites_not_shown() {
    let result = std::panic::catch_unwind(|| {
        allocsite::Budget::new().max_allocations(1).run(|| {
            let words = parse_words(black_box(WORDS));
            (words, ten_small_boxes())
        })
    });
    let message = *result.unwrap_err().downcast::<String>().unwrap();
    let lines: Vec<&str> = message.lines().collect();
    let heading = lines
        .iter()
        .position(|line| line.contains("call sites in the scope, most allocations first:"))
        .unwrap_or_else(|| panic!("{message}"));
    let first = lines[heading + 1];
    let expected_start = format!(
        "    tests/attribution.rs:{}  serde_json::",
        line_of("// the user's line")
    );
    assert!(first.starts_with(&expected_start), "{message}");
    assert!(
        first.contains("from_str ← attribution::parse_words  ("),
        "{message}"
    );
    // Eight sites shown, then the other three counted.
    assert_eq!(lines[heading + 9], "    … and 3 more sites", "{message}");
    // serde_json's buffer grew once: the sites' counts include that reallocation.
    assert_eq!(
        lines[heading + 10],
        "    (the sites' counts include the scope's 1 reallocation: each counts as one more \
         allocation, as in DHAT)",
        "{message}"
    );
    assert!(
        lines[heading + 11].starts_with("  profile of the scope: "),
        "{message}"
    );
    assert!(!message.contains("allocsite::"), "{message}");
}

#[test]
fn budget_profiles_end_at_the_user_s_closure_and_keep_the_rest_of_the_stack() {
    let (_, usage) = allocsite::measure(|| parse_words(black_box(WORDS))).unwrap();
    let profile = usage.to_dhat("attribution");
    profile.validate().unwrap();
    assert_eq!(
        profile.total_blocks(),
        (usage.allocations + usage.reallocations) as f64
    );
    for point in &profile.program_points {
        let frames: Vec<&str> = point
            .frames
            .iter()
            .map(|&f| profile.frames[f].as_str())
            .collect();
        assert!(
            frames
                .iter()
                .all(|f| !f.contains("allocsite::") && !f.contains("call_once")),
            "{frames:#?}"
        );
        let root = frames.last().unwrap();
        assert!(
            root.contains("attribution::budget_profiles_end_at_the_user_s_closure")
                && root.contains("{{closure}}"),
            "the user's closure is the root: {frames:#?}"
        );
        // Full stacks: serde_json's frames are kept for the viewers.
        assert!(
            frames.iter().any(|f| f.contains("serde_json-")),
            "{frames:#?}"
        );
    }
}

#[test]
fn a_stack_cut_at_the_frame_limit_ends_with_a_marker_frame() {
    let (kept, usage) = allocsite::measure(|| deep(100)).unwrap();
    assert_eq!(kept.len(), 77);
    let sites = usage.call_sites();
    assert_eq!(sites.len(), 1, "{sites:#?}");
    assert_eq!(sites[0].line, Some(line_of("// the deep allocation")));
    // `[… N more frames not captured]`, N the frames below the cut: the 100 calls of
    // `deep` and the test's own stack, less the frames kept.
    let marker = sites[0].stack.last().unwrap();
    let left_out: usize = marker
        .strip_prefix("[… ")
        .and_then(|m| m.strip_suffix(" more frames not captured]"))
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no cut marker: {:#?}", sites[0].stack));
    assert!((40..512).contains(&left_out), "{marker}");
}

#[test]
fn debug_output_shows_figures_and_resolved_sites_not_addresses() {
    let (words, usage) = allocsite::measure(|| parse_words(black_box(WORDS))).unwrap();
    drop(words);
    let shown = format!("{usage:?}");
    assert!(
        shown.starts_with("Usage { allocations: 9, reallocations: 1, "),
        "{shown}"
    );
    let site = format!(
        "call_sites: [tests/attribution.rs:{}  serde_json::de::from_str ← attribution::parse_words  (10 allocations, ",
        line_of("// the user's line")
    );
    assert!(shown.contains(&site), "{site} in {shown}");
    assert!(!shown.contains("addresses"), "{shown}");
    // `{:#?}` puts each site on a line of its own.
    assert!(format!("{usage:#?}").contains("\n    call_sites: [\n        tests/attribution.rs:"));
}
