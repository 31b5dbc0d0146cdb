//! A benchmark whose binary forgot `#[global_allocator]` fails naming the missing line, rather
//! than reporting zero allocations. (No allocator is installed in this file on purpose.)

use allocsite::criterion::{AllocatedBytes, Allocations};
use criterion::measurement::Measurement;

fn panic_message(start: impl FnOnce() + std::panic::UnwindSafe) -> String {
    *std::panic::catch_unwind(start)
        .unwrap_err()
        .downcast::<String>()
        .unwrap()
}

#[test]
fn without_the_global_allocator_the_measurements_name_the_missing_line() {
    let cause = if allocsite::tracking_enabled() {
        allocsite::Error::NotInstalled
    } else {
        allocsite::Error::TrackingDisabled
    };
    let message = panic_message(|| {
        Allocations.start();
    });
    assert!(
        message.starts_with(&format!(
            "allocsite::criterion::Allocations cannot count allocations: {cause}."
        )),
        "{message}"
    );
    let message = panic_message(|| {
        AllocatedBytes.start();
    });
    assert!(
        message.starts_with(&format!(
            "allocsite::criterion::AllocatedBytes cannot count allocations: {cause}."
        )),
        "{message}"
    );
}
