//! Criterion measurements that count allocations instead of time (cargo feature `criterion`).
//!
//! [`Allocations`] counts allocations (reallocations included) per iteration and
//! [`AllocatedBytes`] the bytes they request, exactly, on the benchmark's own thread. Plug one
//! into criterion with [`criterion::Criterion::with_measurement`]; criterion's terminal and
//! HTML reports and its baselines (`--save-baseline`, `--baseline`) then work on allocations
//! the way they work on time, so an allocation regression is flagged like a slowdown.
//!
//! ```
//! use criterion::{Criterion, criterion_group};
//! use criterion::measurement::Measurement;
//! use std::hint::black_box;
//!
//! #[global_allocator]
//! static ALLOC: allocsite::Alloc = allocsite::Alloc::system();
//!
//! fn parse(input: &str) -> Vec<String> {
//!     input.split(',').map(String::from).collect()
//! }
//!
//! fn parse_allocations(c: &mut Criterion<allocsite::criterion::Allocations>) {
//!     // One group name per measurement: criterion keeps baselines by benchmark id.
//!     c.bench_function("allocations/parse", |b| b.iter(|| parse(black_box("a,b,c"))));
//! }
//!
//! criterion_group! {
//!     name = allocations;
//!     config = Criterion::default().with_measurement(allocsite::criterion::Allocations);
//!     targets = parse_allocations
//! }
//! // criterion_main!(allocations); in a bench with `harness = false`.
//!
//! fn main() {
//!     # if !allocsite::tracking_enabled() { return; } // this page is also tested without `track`
//!     // What criterion does around one sample of three iterations:
//!     let measurement = allocsite::criterion::Allocations;
//!     let start = measurement.start();
//!     for _ in 0..3 {
//!         black_box(parse(black_box("a,b,c")));
//!     }
//!     let allocations = measurement.end(start);
//!     // 3 strings and the vector, which grows from 0 to 4 slots in one allocation:
//!     assert_eq!(allocations, 3 * 4);
//!     assert_eq!(measurement.formatter().format_value(4.0), "4.0000 allocs");
//! }
//! ```
//!
//! # Which routines give exact figures
//!
//! criterion calls [`Measurement::start`] and [`end`](Measurement::end) around the
//! iterations, and in criterion 0.8 nothing of criterion's own allocates in between:
//!
//! - `Bencher::iter`: the window holds only the loop; the routine's output is dropped inside
//!   it (a drop frees, it does not allocate, so the figures are the routine's own).
//! - `iter_batched` and `iter_batched_ref`, any [`criterion::BatchSize`]: the inputs are built
//!   by `setup` before `start`, and the vector that keeps the outputs is allocated with its
//!   full capacity before `start` too, so `setup`'s allocations are not counted and the
//!   routine's are. With more than one iteration per batch, `iter_batched` frees the emptied
//!   input vector inside the window: a free, so neither figure moves.
//! - `iter_with_large_drop`: `iter_batched` with a `()` setup, exact as above.
//! - `iter_custom`: criterion measures nothing itself; the routine returns the figure. Call the
//!   measurement's `start` and `end` around the code to count, on the thread that runs it
//!   (which also lets a benchmark count a routine that runs on a thread of its own).
//! - Async benchmarks (`to_async`): `start` and `end` run inside the executor's `block_on` on
//!   the calling thread, so whatever the executor allocates on that thread while the routine
//!   waits is counted too. Exact for routines that never wait, by the same reading of
//!   criterion's source; allocsite's tests do not run an executor.
//!
//! Only the calling thread is counted: allocations made by other threads, including threads
//! the routine starts and criterion's own analysis threads, never enter the figures.
//!
//! # No peak measurement
//!
//! There is no "peak live bytes per iteration" measurement, on purpose. criterion's model is
//! additive: it sums the values of a sample's batches ([`Measurement::add`]), divides each
//! sample's total by its iteration count and fits a line through total against iterations.
//! A peak is a maximum, not a sum: the peak of 1,000 iterations of a routine that allocates
//! and frees 1 KiB is 1 KiB, not 1,000 KiB, so criterion would report 1 byte per iteration and
//! lower figures the more iterations it ran. For a peak, measure one call in a test:
//! [`crate::measure`] returns it exactly (`Usage::peak_live_bytes`, relative to the start) and
//! [`crate::Budget::max_peak_bytes`] fails a test that exceeds it.
//!
//! # Zero allocations
//!
//! criterion treats a sample whose value is 0 as a broken measurement: it prints "At least one
//! measurement of benchmark … took zero time per iteration" and skips that benchmark's
//! analysis and baseline. So a benchmark of code that never allocates gets no estimate here
//! (allocsite prints a note on stderr the first time it hands criterion a 0). Guard
//! allocation-free code with a test instead: [`crate::assert_no_alloc!`] or
//! `Budget::new().max_allocations(0)`.
//!
//! # When nothing can be counted
//!
//! Without the `track` feature, or when [`crate::Alloc`] is not the `#[global_allocator]`,
//! [`Measurement::start`] panics with a message that names the fix (criterion's `start`
//! cannot return an error, and reporting zeros would be a lie).

mod format;

use std::sync::atomic::{AtomicBool, Ordering::Relaxed};

use ::criterion::measurement::{Measurement, ValueFormatter};

use crate::error::Error;
use crate::stats::{ThreadStats, thread_stats};

/// Allocations per iteration: calls to `alloc`, `alloc_zeroed` and `realloc` made by the
/// benchmark's thread between criterion's `start` and `end` (a reallocation counts as one
/// more block, as DHAT counts it). Exact; see the [module docs](self) for which routines.
///
/// ```no_run
/// let criterion = criterion::Criterion::default()
///     .with_measurement(allocsite::criterion::Allocations);
/// ```
///
/// # Panics
///
/// `start` panics if nothing can be counted: without the `track` feature, or when
/// [`crate::Alloc`] is not the `#[global_allocator]`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Allocations;

/// Bytes allocated per iteration: the sizes requested by the benchmark's thread between
/// criterion's `start` and `end`, a reallocation counting its new size. Exact; see the
/// [module docs](self) for which routines. Frees do not lower it.
///
/// ```no_run
/// let criterion = criterion::Criterion::default()
///     .with_measurement(allocsite::criterion::AllocatedBytes);
/// ```
///
/// # Panics
///
/// As [`Allocations`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct AllocatedBytes;

impl Measurement for Allocations {
    type Intermediate = u64;
    type Value = u64;

    #[inline]
    fn start(&self) -> u64 {
        read("Allocations", |stats| {
            stats.allocations + stats.reallocations
        })
    }

    #[inline]
    fn end(&self, start: u64) -> u64 {
        let now = read("Allocations", |stats| {
            stats.allocations + stats.reallocations
        });
        now.saturating_sub(start)
    }

    fn add(&self, first: &u64, second: &u64) -> u64 {
        first + second
    }

    fn zero(&self) -> u64 {
        0
    }

    fn to_f64(&self, value: &u64) -> f64 {
        note_zero(*value);
        *value as f64
    }

    fn formatter(&self) -> &dyn ValueFormatter {
        &format::AllocationsFormatter
    }
}

impl Measurement for AllocatedBytes {
    type Intermediate = u64;
    type Value = u64;

    #[inline]
    fn start(&self) -> u64 {
        read("AllocatedBytes", |stats| stats.bytes_allocated)
    }

    #[inline]
    fn end(&self, start: u64) -> u64 {
        read("AllocatedBytes", |stats| stats.bytes_allocated).saturating_sub(start)
    }

    fn add(&self, first: &u64, second: &u64) -> u64 {
        first + second
    }

    fn zero(&self) -> u64 {
        0
    }

    fn to_f64(&self, value: &u64) -> f64 {
        note_zero(*value);
        *value as f64
    }

    fn formatter(&self) -> &dyn ValueFormatter {
        &format::BytesFormatter
    }
}

/// Reads one figure of the calling thread's counters. Allocates nothing once allocsite has
/// seen its first allocation (the one-time installation check allocates before it reads).
#[inline]
fn read(measurement: &str, figure: impl FnOnce(&ThreadStats) -> u64) -> u64 {
    match thread_stats() {
        Ok(stats) => figure(&stats),
        Err(error) => cannot_count(measurement, &error),
    }
}

#[cold]
#[inline(never)]
fn cannot_count(measurement: &str, error: &Error) -> ! {
    panic!("{}", cannot_count_message(measurement, error))
}

/// Why a measurement cannot run, and what to do.
fn cannot_count_message(measurement: &str, error: &Error) -> String {
    let fix = match error {
        Error::TrackingDisabled => {
            " Run the benchmark with the feature on: `cargo bench --features allocsite/track` \
             (`--features track` in allocsite itself)."
        }
        _ => "",
    };
    format!("allocsite::criterion::{measurement} cannot count allocations: {error}.{fix}")
}

/// Set once the zero-sample note has been printed.
static NOTED_ZERO: AtomicBool = AtomicBool::new(false);

/// Explains, once per process, the error criterion prints for a sample of 0.
fn note_zero(value: u64) {
    if value == 0 && !NOTED_ZERO.swap(true, Relaxed) {
        eprintln!("{ZERO_NOTE}");
    }
}

/// The note for a sample of 0.
const ZERO_NOTE: &str = "allocsite: a criterion sample counted 0 allocations (or 0 bytes). If \
     criterion then says a measurement \"took zero time per iteration\", that is why: it \
     discards samples of 0 and skips the benchmark's analysis. Code that must not allocate is \
     better checked in a test with allocsite::assert_no_alloc! or \
     Budget::new().max_allocations(0).";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_panic_message_names_the_fix() {
        let off = cannot_count_message("Allocations", &Error::TrackingDisabled);
        assert!(off.starts_with("allocsite::criterion::Allocations cannot count allocations: "));
        assert!(
            off.contains("`cargo bench --features allocsite/track`"),
            "{off}"
        );
        let missing = cannot_count_message("AllocatedBytes", &Error::NotInstalled);
        assert!(
            missing.contains("is not the #[global_allocator]"),
            "{missing}"
        );
        assert!(missing.contains(crate::error::INSTALL_LINE), "{missing}");
    }

    #[test]
    fn values_add_up_and_convert_exactly() {
        assert_eq!(Allocations.add(&3, &4), 7);
        assert_eq!(AllocatedBytes.add(&Allocations.zero(), &152), 152);
        assert_eq!(Allocations.to_f64(&3), 3.0);
        assert_eq!(AllocatedBytes.to_f64(&(1 << 40)), (1u64 << 40) as f64);
    }

    #[test]
    fn start_and_end_count_the_calling_thread_or_say_why_not() {
        if !crate::stats::tracking_enabled() {
            let panic = std::panic::catch_unwind(|| Allocations.start()).unwrap_err();
            let message = panic.downcast::<String>().unwrap();
            assert!(message.contains("--features allocsite/track"), "{message}");
            return;
        }
        let (allocations, bytes) = (Allocations.start(), AllocatedBytes.start());
        let mut v: Vec<u8> = std::hint::black_box(Vec::with_capacity(100));
        v.reserve(200);
        drop(std::hint::black_box(v));
        assert_eq!(Allocations.end(allocations), 2);
        assert_eq!(AllocatedBytes.end(bytes), 300);
    }
}
