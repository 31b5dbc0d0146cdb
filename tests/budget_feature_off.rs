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
             `features = [\"track\"]` on the allocsite dependency in Cargo.toml"
        )
    );
    assert_eq!(
        allocsite::measure(|| ()).unwrap_err(),
        allocsite::Error::TrackingDisabled
    );
}

/// Async budgets too: `measure_future` resolves to the error at its first poll (without
/// polling the future), and `run_async` panics saying tracking is off.
#[test]
fn async_budgets_never_pass_silently() {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let polled = std::sync::atomic::AtomicBool::new(false);
    let measured = runtime.block_on(allocsite::measure_future(async {
        polled.store(true, std::sync::atomic::Ordering::Relaxed);
        vec![0u8; 4]
    }));
    let outcome = runtime.block_on(async {
        tokio::spawn(async {
            allocsite::assert_allocs!(<= 1, async { vec![0u8; 4] }) // the async budget
        })
        .await
    });
    let line = include_str!("budget_feature_off.rs")
        .lines()
        .position(|line| line.ends_with("// the async budget"))
        .unwrap()
        + 1;
    if allocsite::tracking_enabled() {
        assert_eq!(measured.unwrap().1.allocations, 1);
        assert_eq!(outcome.unwrap().len(), 4);
        return;
    }
    assert_eq!(measured.unwrap_err(), allocsite::Error::TrackingDisabled);
    assert!(!polled.load(std::sync::atomic::Ordering::Relaxed));
    let message = *outcome
        .unwrap_err()
        .into_panic()
        .downcast::<String>()
        .unwrap();
    assert!(
        message.starts_with(&format!(
            "allocation budget at tests/budget_feature_off.rs:{line}:13 cannot be checked: \
             allocsite tracking is off"
        )),
        "{message}"
    );
    // Without a scope to carry, the wrapper runs the future as it is.
    let handle = allocsite::ScopeHandle::current();
    assert!(handle.is_none());
    assert_eq!(
        runtime.block_on(allocsite::in_current_scope(async { 5 })),
        5
    );
    assert_eq!(handle.run(|| 6), 6);
}
