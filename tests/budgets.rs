//! Allocation budgets: 40 exact budget tests of different workloads in one binary, passing
//! together under `cargo test`'s parallel threads (and `cargo nextest`), plus the failure
//! messages, leak detection, nested and cross-thread scopes, and a committed baseline
//! (tests/baselines.rs has the rest of the baselines).
#![cfg(feature = "track")]

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::hint::black_box;

#[global_allocator]
static ALLOC: allocsite::Alloc = allocsite::Alloc::system();

/// Declares a test that measures `$work` and asserts its exact figures:
/// allocations, reallocations, deallocations, bytes allocated, leaked blocks.
macro_rules! exact {
    ($name:ident, allocs: $allocs:expr, reallocs: $reallocs:expr, frees: $frees:expr, bytes: $bytes:expr, leaked: $leaked:expr, $work:expr) => {
        #[test]
        fn $name() {
            let (value, usage) = allocsite::measure($work).unwrap();
            let actual = (
                usage.allocations,
                usage.reallocations,
                usage.deallocations,
                usage.bytes_allocated,
                usage.leaked_blocks,
            );
            assert_eq!(
                actual,
                ($allocs, $reallocs, $frees, $bytes, $leaked),
                "(allocations, reallocations, deallocations, bytes, leaked blocks) of {}",
                stringify!($name)
            );
            let _kept = black_box(value);
        }
    };
}

exact!(string_from_literal, allocs: 1, reallocs: 0, frees: 0, bytes: 5, leaked: 1, || String::from(black_box("hello")));
exact!(string_dropped_inside, allocs: 1, reallocs: 0, frees: 1, bytes: 5, leaked: 0, || drop(String::from(black_box("hello"))));
exact!(vec_with_capacity, allocs: 1, reallocs: 0, frees: 0, bytes: 400, leaked: 1, || Vec::<u32>::with_capacity(black_box(100)));
exact!(zeroed_vec, allocs: 1, reallocs: 0, frees: 0, bytes: 4096, leaked: 1, || vec![0u8; black_box(4096)]);
exact!(boxed_array, allocs: 1, reallocs: 0, frees: 0, bytes: 100, leaked: 1, || Box::new(black_box([7u8; 100])));
exact!(vec_push_growth, allocs: 1, reallocs: 2, frees: 0, bytes: 16 + 32 + 64, leaked: 1, || {
    let mut v = Vec::new();
    for i in 0..black_box(10u32) {
        v.push(i);
    }
    v
});
exact!(sum_allocates_nothing, allocs: 0, reallocs: 0, frees: 0, bytes: 0, leaked: 0, || black_box([1u64, 2, 3]).iter().sum::<u64>());
exact!(empty_vec_and_string, allocs: 0, reallocs: 0, frees: 0, bytes: 0, leaked: 0, || (Vec::<u8>::new(), String::new()));
// The closure owns `source` and drops it when called: 4 frees.
exact!(clone_vec_of_strings, allocs: 4, reallocs: 0, frees: 4, bytes: 72 + 1 + 2 + 3, leaked: 4, {
    let source = vec!["a".to_string(), "bb".to_string(), "ccc".to_string()];
    move || source.clone()
});
exact!(collect_known_length, allocs: 1, reallocs: 0, frees: 0, bytes: 80, leaked: 1, || (0..black_box(10u64)).collect::<Vec<_>>());
exact!(boxed_slice_from_vec, allocs: 1, reallocs: 0, frees: 0, bytes: 24, leaked: 1, || vec![1u64, 2, 3].into_boxed_slice());
exact!(shrink_to_fit_reallocates, allocs: 1, reallocs: 1, frees: 0, bytes: 100 + 10, leaked: 1, || {
    let mut v = Vec::<u8>::with_capacity(black_box(100));
    v.extend_from_slice(&[1; 10]);
    v.shrink_to_fit();
    v
});
exact!(string_push_growth, allocs: 1, reallocs: 2, frees: 0, bytes: 8 + 16 + 32, leaked: 1, || {
    let mut s = String::new();
    for _ in 0..black_box(20) {
        s.push('x');
    }
    s
});
exact!(btree_single_leaf, allocs: 1, reallocs: 0, frees: 0, bytes: 104, leaked: 1, || {
    let mut map = BTreeMap::new();
    for i in 0..black_box(5u32) {
        map.insert(i, i);
    }
    map
});
exact!(hashmap_three_entries, allocs: 1, reallocs: 0, frees: 0, bytes: 52, leaked: 1, || {
    let mut map = HashMap::new();
    for i in 0..black_box(3u32) {
        map.insert(i, i);
    }
    map
});
exact!(vecdeque_with_capacity, allocs: 1, reallocs: 0, frees: 0, bytes: 64, leaked: 1, || VecDeque::<u64>::with_capacity(black_box(8)));
exact!(nested_vecs, allocs: 4, reallocs: 0, frees: 0, bytes: 72 + 3 * 8, leaked: 4, || vec![vec![1u8; 8]; 3]);
// `format!` reserves a capacity estimate of 8 bytes for one small argument.
exact!(format_small_number, allocs: 1, reallocs: 0, frees: 0, bytes: 8, leaked: 1, || format!("{}", black_box(12345)));
exact!(to_uppercase, allocs: 1, reallocs: 0, frees: 0, bytes: 5, leaked: 1, || black_box("hello").to_uppercase());
exact!(split_collect_strs, allocs: 1, reallocs: 0, frees: 0, bytes: 64, leaked: 1, || black_box("a b c").split(' ').collect::<Vec<&str>>());
exact!(boxed_closure, allocs: 1, reallocs: 0, frees: 0, bytes: 8, leaked: 1, || {
    let captured = black_box(42u64);
    Box::new(move || captured) as Box<dyn Fn() -> u64>
});
exact!(rc_new, allocs: 1, reallocs: 0, frees: 0, bytes: 24, leaked: 1, || std::rc::Rc::new(black_box(5u64)));
exact!(arc_new, allocs: 1, reallocs: 0, frees: 0, bytes: 24, leaked: 1, || std::sync::Arc::new(black_box(5u64)));
exact!(thousand_small_boxes_freed, allocs: 1000, reallocs: 0, frees: 1000, bytes: 8000, leaked: 0, || {
    for i in 0..black_box(1000u64) {
        drop(black_box(Box::new(i)));
    }
});
exact!(free_of_block_made_before_scope, allocs: 0, reallocs: 0, frees: 1, bytes: 0, leaked: 0, {
    let before = vec![0u8; 64];
    move || drop(black_box(before))
});
exact!(string_repeat, allocs: 1, reallocs: 0, frees: 0, bytes: 30, leaked: 1, || black_box("abc").repeat(10));
exact!(vec_extend_exact, allocs: 1, reallocs: 0, frees: 0, bytes: 32, leaked: 1, || {
    let mut v: Vec<u32> = Vec::new();
    v.extend([1u32, 2, 3, 4, 5, 6, 7, 8]);
    v
});
exact!(large_block, allocs: 1, reallocs: 0, frees: 1, bytes: 8 << 20, leaked: 0, || drop(black_box(vec![1u8; 8 << 20])));
exact!(sort_allocates_nothing_for_small_slices, allocs: 0, reallocs: 0, frees: 0, bytes: 0, leaked: 0, {
    let mut data = [5u32, 3, 1, 4, 2];
    move || {
        data.sort_unstable();
        data
    }
});
exact!(string_concat, allocs: 1, reallocs: 1, frees: 0, bytes: 5 + 11, leaked: 1, || {
    let mut s = String::from(black_box("hello"));
    s += black_box(" world");
    s
});
exact!(vec_of_boxes, allocs: 6, reallocs: 0, frees: 0, bytes: 40 + 5 * 4, leaked: 6, || (0..black_box(5u32)).map(Box::new).collect::<Vec<_>>());
exact!(cow_borrowed_no_alloc, allocs: 0, reallocs: 0, frees: 0, bytes: 0, leaked: 0, || String::from_utf8_lossy(black_box(b"plain")).len());
// Lossy decoding starts with the valid prefix and grows once for the replacement character.
exact!(cow_owned_allocates, allocs: 1, reallocs: 1, frees: 0, bytes: 3 + 8, leaked: 1, || String::from_utf8_lossy(black_box(b"a\xffb")).into_owned());

#[test]
fn leak_of_one_boxed_array_is_one_block_of_100_bytes() {
    let ((), usage) = allocsite::measure(|| {
        Box::leak(black_box(Box::new([0u8; 100])));
    })
    .unwrap();
    assert_eq!((usage.leaked_blocks, usage.leaked_bytes), (1, 100));
    let error = allocsite::Budget::new()
        .no_leaks()
        .check(&usage)
        .unwrap_err();
    assert_eq!(
        error.broken,
        vec!["leaked: 1 blocks / 100 bytes still live at the end, budget none"]
    );
}

#[test]
fn peak_is_the_highest_point_relative_to_the_start() {
    let ((), usage) = allocsite::measure(|| {
        let a = black_box(vec![0u8; 1000]);
        drop(a);
        let b = black_box(vec![0u8; 500]);
        drop(b);
    })
    .unwrap();
    assert_eq!(usage.peak_live_bytes, 1000);
    assert_eq!(usage.bytes_freed, 1500);
}

#[test]
fn nested_scopes_count_inner_allocations_in_the_outer_scope() {
    let ((inner_usage, kept), outer) = allocsite::measure(|| {
        let before = black_box(vec![1u8; 10]);
        let (kept, inner) = allocsite::measure(|| {
            drop(black_box(vec![2u8; 20]));
            black_box(vec![3u8; 30])
        })
        .unwrap();
        drop(before);
        (inner, kept)
    })
    .unwrap();
    assert_eq!(
        (
            inner_usage.allocations,
            inner_usage.bytes_allocated,
            inner_usage.leaked_bytes
        ),
        (2, 50, 30)
    );
    // The outer scope counts its own 10-byte vector and the inner scope's 20 and 30; the
    // inner block it kept is still live at its end. (The inner `Usage` value itself is
    // built outside every scope.)
    assert_eq!((outer.allocations, outer.bytes_allocated), (3, 60));
    assert_eq!((outer.leaked_blocks, outer.leaked_bytes), (1, 30));
    // 10 live when the inner scope starts, whose own peak is 30.
    assert_eq!(outer.peak_live_bytes, 40);
    drop(kept);
}

#[test]
fn scope_of_current_thread_ignores_other_threads() {
    let ((), usage) = allocsite::measure(|| {
        std::thread::spawn(|| drop(black_box(vec![0u8; 1234])))
            .join()
            .unwrap();
    })
    .unwrap();
    assert!(
        usage.bytes_allocated < 1234,
        "the spawned thread's vector is not ours: {usage:?}"
    );
}

#[test]
fn scope_with_spawned_threads_counts_them() {
    let ((), usage) = allocsite::measure_with_spawned_threads(|| {
        std::thread::spawn(|| drop(black_box(vec![0u8; 1234])))
            .join()
            .unwrap();
    })
    .unwrap();
    assert!(usage.bytes_allocated >= 1234, "{usage:?}");
    let sites = usage.call_sites();
    assert!(sites.iter().any(|site| site.bytes == 1234), "{sites:#?}");
}

#[test]
fn assert_macros_return_the_value() {
    let text = allocsite::assert_allocs!(== 1, String::from(black_box("abc")));
    assert_eq!(text, "abc");
    let n = allocsite::assert_allocs!(<= 2, vec![1u8; 3].len());
    assert_eq!(n, 3);
    let sum = allocsite::assert_no_alloc!(black_box([1, 2, 3]).iter().sum::<i32>());
    assert_eq!(sum, 6);
}

#[inline(never)]
fn makes_three_strings() -> Vec<String> {
    let mut out = Vec::with_capacity(3);
    for word in ["one", "two", "three"] {
        out.push(black_box(word).to_string()); // the extra allocations: this line
    }
    out
}

#[test]
fn broken_budget_names_this_file_and_the_allocating_line() {
    let line_of_extra_allocation = include_str!("budgets.rs")
        .lines()
        .position(|line| line.ends_with("// the extra allocations: this line"))
        .unwrap()
        + 1;
    let result =
        std::panic::catch_unwind(|| allocsite::assert_allocs!(<= 1, makes_three_strings()));
    let message = *result.unwrap_err().downcast::<String>().unwrap();
    assert!(
        message.starts_with("allocation budget exceeded at tests/budgets.rs:"),
        "{message}"
    );
    assert!(
        message.contains("allocations: 4, budget at most 1"),
        "{message}"
    );
    let site = format!("tests/budgets.rs:{line_of_extra_allocation}");
    assert!(
        message.contains(&site),
        "the message names {site}:\n{message}"
    );
    assert!(message.contains("makes_three_strings"), "{message}");
    assert!(message.contains("profile of the scope: "), "{message}");
    let path = message
        .rsplit("profile of the scope: ")
        .next()
        .unwrap()
        .split(" (open")
        .next()
        .unwrap();
    // The message gives the command that opens the profile (cli/: `allocsite view`).
    assert!(
        message.ends_with(&format!(" (open it: allocsite view {path})")),
        "{message}"
    );
    let profile: allocsite::report::dhat::DhatFile =
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    profile.validate().unwrap();
    assert_eq!(profile.total_blocks(), 4.0);
}

/// One allocation and, as it grows, reallocations (capacity 4, 8, 16, 32, 64).
#[inline(never)]
fn grows_a_vector() -> Vec<u64> {
    let mut out = Vec::new();
    for i in 0..64 {
        out.push(black_box(i));
    }
    out
}

#[test]
fn a_failure_says_its_sites_count_reallocations_too() {
    let (_, usage) = allocsite::measure(grows_a_vector).unwrap();
    assert!(usage.reallocations > 0, "{usage:?}");
    let result = std::panic::catch_unwind(|| {
        allocsite::Budget::new()
            .max_allocations(0)
            .run(grows_a_vector)
    });
    let message = *result.unwrap_err().downcast::<String>().unwrap();
    assert!(
        message.contains(&format!(
            "  allocations: {}, budget at most 0\n",
            usage.allocations
        )),
        "{message}"
    );
    let site_count = usage.allocations + usage.reallocations;
    assert!(
        message.contains(&format!("({site_count} allocations, ")),
        "{message}"
    );
    assert!(
        message.contains(&format!(
            "(the sites' counts include the scope's {} reallocations: each counts as one more \
             allocation, as in DHAT)",
            usage.reallocations
        )),
        "{message}"
    );
    // Without reallocations there is nothing to explain.
    let result =
        std::panic::catch_unwind(|| allocsite::assert_allocs!(<= 1, makes_three_strings()));
    let message = *result.unwrap_err().downcast::<String>().unwrap();
    assert!(!message.contains("the sites' counts include"), "{message}");
}

#[test]
fn committed_baseline_passes() {
    let words = allocsite::assert_baseline!("tests/baselines/split_words.txt", {
        black_box("alpha beta gamma")
            .split(' ')
            .map(str::to_owned)
            .collect::<Vec<_>>()
    });
    assert_eq!(words.len(), 3);
}
