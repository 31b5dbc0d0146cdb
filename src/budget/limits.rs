//! [`Budget`]: limits for a measured closure, checked after it ran.

use std::fmt;
use std::future::Future;
use std::panic::Location;

use super::failure::failure_message;
use super::future::{PanicsAtAwait, measure_future_or_fail};
use super::measure::measure;
use super::usage::Usage;

/// Limits for a measured closure. Unset limits are not checked.
///
/// ```
/// #[global_allocator]
/// static ALLOC: allocsite::Alloc = allocsite::Alloc::system();
///
/// # fn main() {
/// # if !allocsite::tracking_enabled() { return; }
/// let words = allocsite::Budget::new()
///     .max_allocations(1)
///     .max_bytes(64)
///     .no_leaks()
///     .run(|| "a b c".split(' ').count());
/// assert_eq!(words, 3);
/// # }
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[must_use = "a budget checks nothing until `run` or `check` is called"]
pub struct Budget {
    max_allocations: Option<u64>,
    exact_allocations: Option<u64>,
    max_reallocations: Option<u64>,
    max_bytes: Option<u64>,
    max_peak_bytes: Option<u64>,
    no_leaks: bool,
}

impl Budget {
    /// A budget with no limits yet.
    pub fn new() -> Self {
        Self::default()
    }
    /// At most `count` allocations.
    pub fn max_allocations(mut self, count: u64) -> Self {
        self.max_allocations = Some(count);
        self
    }
    /// Exactly `count` allocations.
    pub fn exact_allocations(mut self, count: u64) -> Self {
        self.exact_allocations = Some(count);
        self
    }
    /// At most `count` reallocations.
    pub fn max_reallocations(mut self, count: u64) -> Self {
        self.max_reallocations = Some(count);
        self
    }
    /// At most `bytes` allocated in total (reallocations' new sizes included).
    pub fn max_bytes(mut self, bytes: u64) -> Self {
        self.max_bytes = Some(bytes);
        self
    }
    /// At most `bytes` live at once, relative to the start.
    pub fn max_peak_bytes(mut self, bytes: u64) -> Self {
        self.max_peak_bytes = Some(bytes);
        self
    }
    /// Nothing allocated in the scope may still be live at its end.
    pub fn no_leaks(mut self) -> Self {
        self.no_leaks = true;
        self
    }

    /// Checks `usage` against the limits.
    ///
    /// # Errors
    ///
    /// [`BudgetExceeded`] listing every figure over budget.
    ///
    /// ```
    /// #[global_allocator]
    /// static ALLOC: allocsite::Alloc = allocsite::Alloc::system();
    ///
    /// # fn main() {
    /// if let Ok((text, usage)) = allocsite::measure(|| "x".repeat(100)) {
    ///     let exceeded = allocsite::Budget::new().max_bytes(10).check(&usage).unwrap_err();
    ///     assert_eq!(exceeded.broken, vec!["bytes allocated: 100, budget at most 10"]);
    ///     drop(text);
    /// }
    /// # }
    /// ```
    pub fn check(&self, usage: &Usage) -> Result<(), BudgetExceeded> {
        let mut broken = Vec::new();
        let mut limit = |name: &str, actual: u64, limit: Option<u64>, exact: bool| {
            if let Some(limit) = limit
                && ((exact && actual != limit) || (!exact && actual > limit))
            {
                let relation = if exact { "exactly" } else { "at most" };
                broken.push(format!("{name}: {actual}, budget {relation} {limit}"));
            }
        };
        limit(
            "allocations",
            usage.allocations,
            self.max_allocations,
            false,
        );
        limit(
            "allocations",
            usage.allocations,
            self.exact_allocations,
            true,
        );
        limit(
            "reallocations",
            usage.reallocations,
            self.max_reallocations,
            false,
        );
        limit(
            "bytes allocated",
            usage.bytes_allocated,
            self.max_bytes,
            false,
        );
        limit(
            "peak live bytes",
            usage.peak_live_bytes,
            self.max_peak_bytes,
            false,
        );
        if self.no_leaks && usage.leaked_blocks > 0 {
            broken.push(format!(
                "leaked: {} blocks / {} bytes still live at the end, budget none",
                usage.leaked_blocks, usage.leaked_bytes
            ));
        }
        if broken.is_empty() {
            Ok(())
        } else {
            Err(BudgetExceeded {
                broken,
                usage: usage.clone(),
            })
        }
    }

    /// Runs `work`, checks its usage and panics with the details if the budget is broken
    /// (or cannot be checked). On failure the scope's profile is written under
    /// `<target>/allocsite/<test binary>/<test name>.json` and named in the message, where
    /// `<target>` is the target directory the running binary was built in (so
    /// `--target-dir` and `CARGO_TARGET_DIR` are followed) and the test is named by its
    /// thread (outside a test thread: the budget's file and line). Each test keeps only its
    /// latest profile.
    ///
    /// # Panics
    ///
    /// When a limit is broken, or nothing can be measured (tracking off, allocator not
    /// installed).
    #[track_caller]
    pub fn run<R>(&self, work: impl FnOnce() -> R) -> R {
        let caller = Location::caller();
        let (value, usage) = measure_or_panic(caller, work);
        if let Err(exceeded) = self.check(&usage) {
            panic!("{}", exceeded.report(caller));
        }
        value
    }

    /// The async form of [`Budget::run`]: measures `future` (see
    /// [`measure_future`](crate::measure_future): exact on any executor, across threads),
    /// checks its usage when it completes, and panics with the details if the budget is
    /// broken. The message names the line that called `run_async`, the panic is raised at
    /// the `.await` of the returned future, and the message's call sites are the lines of the
    /// future's own code.
    ///
    /// ```
    /// #[global_allocator]
    /// static ALLOC: allocsite::Alloc = allocsite::Alloc::system();
    ///
    /// async fn parse(input: &str) -> Vec<String> {
    ///     input.split(',').map(String::from).collect()
    /// }
    ///
    /// #[tokio::test]
    /// # async fn unused() {}
    /// async fn parse_allocates_once_per_field() {
    ///     let fields = allocsite::Budget::new().max_allocations(4).no_leaks()
    ///         .run_async(async { parse("a,b,c").await.len() })
    ///         .await;
    ///     assert_eq!(fields, 3);
    /// }
    /// # fn main() {
    /// #     if !allocsite::tracking_enabled() { return; }
    /// #     tokio::runtime::Runtime::new().unwrap().block_on(parse_allocates_once_per_field());
    /// # }
    /// ```
    ///
    /// # Panics
    ///
    /// As [`Budget::run`], when the future completes.
    #[track_caller]
    pub fn run_async<F: Future>(&self, future: F) -> impl Future<Output = F::Output> + use<F> {
        let caller = Location::caller();
        let budget = self.clone();
        PanicsAtAwait::new(async move {
            let (value, usage) = measure_future_or_fail(caller, future).await?;
            match budget.check(&usage) {
                Ok(()) => Ok(value),
                Err(exceeded) => Err(exceeded.report(caller)),
            }
        })
    }
}

#[track_caller]
pub(super) fn measure_or_panic<R>(caller: &Location<'_>, work: impl FnOnce() -> R) -> (R, Usage) {
    match measure(work) {
        Ok(measured) => measured,
        Err(error) => panic!("allocation budget at {caller} cannot be checked: {error}"),
    }
}

/// A broken budget: the figures over their limits and the scope's usage.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BudgetExceeded {
    /// One line per broken limit, e.g. `allocations: 3, budget at most 2`.
    pub broken: Vec<String>,
    /// Everything the scope did.
    pub usage: Usage,
}

impl fmt::Display for BudgetExceeded {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "allocation budget exceeded: {}", self.broken.join("; "))
    }
}

impl std::error::Error for BudgetExceeded {}

impl BudgetExceeded {
    /// The full failure message: the broken limits, the call sites, and the profile written.
    pub fn report(&self, caller: &Location<'_>) -> String {
        failure_message(
            "allocation budget exceeded",
            caller,
            &self.broken,
            &self.usage,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn usage(allocations: u64, bytes: u64, leaked: u64) -> Usage {
        Usage {
            allocations,
            bytes_allocated: bytes,
            peak_live_bytes: bytes,
            leaked_blocks: leaked,
            leaked_bytes: leaked * 8,
            ..Usage::default()
        }
    }

    #[test]
    fn every_broken_limit_is_listed_and_kept_limits_are_not() {
        let budget = Budget::new()
            .max_allocations(2)
            .max_bytes(100)
            .max_peak_bytes(1000)
            .no_leaks();
        assert_eq!(budget.check(&usage(2, 100, 0)), Ok(()));
        let broken = budget.check(&usage(3, 101, 1)).unwrap_err().broken;
        assert_eq!(
            broken,
            [
                "allocations: 3, budget at most 2",
                "bytes allocated: 101, budget at most 100",
                "leaked: 1 blocks / 8 bytes still live at the end, budget none",
            ]
        );
    }

    #[test]
    fn an_exact_count_fails_both_ways() {
        let budget = Budget::new().exact_allocations(2);
        assert!(budget.check(&usage(1, 0, 0)).is_err());
        assert!(budget.check(&usage(2, 0, 0)).is_ok());
        assert!(budget.check(&usage(3, 0, 0)).is_err());
    }
}
