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
