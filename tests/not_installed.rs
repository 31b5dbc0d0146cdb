//! A program that forgot `#[global_allocator]` gets a clear error, not zeros.

#[test]
fn without_the_global_allocator_every_figure_is_an_error() {
    let expected = if allocsite::tracking_enabled() {
        allocsite::Error::NotInstalled
    } else {
        allocsite::Error::TrackingDisabled
    };
    assert_eq!(allocsite::check_installed(), Err(expected.clone()));
    assert_eq!(allocsite::stats(), Err(expected.clone()));
    assert_eq!(allocsite::thread_stats(), Err(expected));
    assert_eq!(
        allocsite::Error::NotInstalled.to_string(),
        "allocsite::Alloc is not the #[global_allocator]: add \
         `#[global_allocator] static ALLOC: allocsite::Alloc = allocsite::Alloc::system();` \
         to the binary or test crate (for tests: at the top of the test file)"
    );
}

#[test]
fn a_budget_without_the_global_allocator_fails_with_the_exact_message() {
    assert_eq!(
        allocsite::measure(|| ()).unwrap_err(),
        if allocsite::tracking_enabled() {
            allocsite::Error::NotInstalled
        } else {
            allocsite::Error::TrackingDisabled
        }
    );
    let line = line!() + 1;
    let panic = std::panic::catch_unwind(|| allocsite::assert_allocs!(<= 1, vec![0u8; 4]));
    let message = *panic.unwrap_err().downcast::<String>().unwrap();
    let expected = if allocsite::tracking_enabled() {
        format!(
            "allocation budget at tests/not_installed.rs:{line}:45 cannot be checked: \
             allocsite::Alloc is not the #[global_allocator]: add \
             `#[global_allocator] static ALLOC: allocsite::Alloc = allocsite::Alloc::system();` \
             to the binary or test crate (for tests: at the top of the test file)"
        )
    } else {
        format!(
            "allocation budget at tests/not_installed.rs:{line}:45 cannot be checked: \
             allocsite tracking is off: this build does not have the `track` cargo feature. \
             Enable it, e.g. `cargo test --features allocsite/track`, or \
             `features = [\"track\"]` on the allocsite dependency in Cargo.toml"
        )
    };
    assert_eq!(message, expected);
}

#[test]
fn starting_a_profiler_without_the_global_allocator_names_the_missing_line() {
    let result = allocsite::Profiler::builder().summary(false).start();
    if allocsite::tracking_enabled() {
        assert_eq!(result.unwrap_err(), allocsite::Error::NotInstalled);
    } else {
        // Feature off: the profiler is inert; finishing it writes nothing and is no error.
        let profiler = result.unwrap();
        assert_eq!(profiler.finish(), Ok(allocsite::ProfileReport::default()));
    }
}
