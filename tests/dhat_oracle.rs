//! allocsite's exact totals equal the `dhat` crate's for the same workload: builds and runs
//! the standalone crate `tests/dhat-oracle` (its own lock file), so that dhat and the crates
//! it brings stay out of every build of allocsite, examples and tests included.

mod support;

#[test]
#[cfg_attr(not(feature = "track"), ignore = "needs --features track")]
fn exact_totals_equal_the_dhat_crates() {
    let oracle = support::allocsite_dir().join("tests/dhat-oracle");
    let output = support::succeed(&mut support::cargo(&oracle, &["run", "--quiet"]));
    let stdout = String::from_utf8_lossy(&output.stdout);
    println!("{stdout}");
    assert!(stdout.contains("dhat_oracle: dhat "), "{stdout}");
}
