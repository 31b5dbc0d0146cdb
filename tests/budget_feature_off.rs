//! With the `track` feature off, budgets cannot pass silently: they fail with a message
//! that says how to turn tracking on. (With the feature on this file checks the opposite:
//! the same budget passes.)

#[global_allocator]
static ALLOC: allocsite::Alloc = allocsite::Alloc::system();

#[test]
fn budgets_never_pass_silently() {
    let line = line!() + 1;
    let outcome = std::panic::catch_unwind(|| allocsite::assert_allocs!(<= 1, vec![0u8; 4]));
    if allocsite::tracking_enabled() {
        assert_eq!(outcome.unwrap().len(), 4);
        return;
    }
    let message = *outcome.unwrap_err().downcast::<String>().unwrap();
    assert_eq!(
        message,
        format!(
            "allocation budget at tests/budget_feature_off.rs:{line}:47 cannot be checked: \
             allocsite tracking is off: this build does not have the `track` cargo feature. \
             Enable it, e.g. `cargo test --features allocsite/track`, or \
             `allocsite = {{ version = \"0.1\", features = [\"track\"] }}` in Cargo.toml"
        )
    );
    assert_eq!(
        allocsite::measure(|| ()).unwrap_err(),
        allocsite::Error::TrackingDisabled
    );
}
