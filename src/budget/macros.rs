//! The assertion macros: [`assert_allocs!`](crate::assert_allocs),
//! [`assert_no_alloc!`](crate::assert_no_alloc), [`assert_baseline!`](crate::assert_baseline).

/// Asserts the number of allocations an expression makes on this thread and returns its
/// value: `assert_allocs!(<= 2, expr)` or `assert_allocs!(== 2, expr)`. On failure it
/// panics naming the call sites and writes the scope's profile under `target/allocsite/`
/// (see [`Budget::run`](crate::Budget::run)).
///
/// ```
/// #[global_allocator]
/// static ALLOC: allocsite::Alloc = allocsite::Alloc::system();
///
/// # fn main() {
/// # if !allocsite::tracking_enabled() { return; }
/// let text = allocsite::assert_allocs!(== 1, String::from("hello"));
/// assert_eq!(text, "hello");
/// # }
/// ```
///
/// In async code, give it an `async` block: the macro awaits it, measuring every poll on
/// whichever thread runs it ([`Budget::run_async`](crate::Budget::run_async)), and returns
/// the block's value.
///
/// ```
/// #[global_allocator]
/// static ALLOC: allocsite::Alloc = allocsite::Alloc::system();
///
/// async fn fetch(id: u32) -> String {
///     tokio::task::yield_now().await;
///     format!("user {id}")
/// }
///
/// #[tokio::test]
/// # async fn unused() {}
/// async fn fetch_allocates_its_reply_only() {
///     let reply = allocsite::assert_allocs!(<= 2, async { fetch(7).await });
///     assert_eq!(reply, "user 7");
/// }
/// # fn main() {
/// #     if !allocsite::tracking_enabled() { return; }
/// #     tokio::runtime::Runtime::new().unwrap().block_on(fetch_allocates_its_reply_only());
/// # }
/// ```
///
/// A future given as a plain expression would measure building the future, not running it
/// (none of its code runs inside the scope), so it does not compile; nor does it with
/// [`assert_no_alloc!`](crate::assert_no_alloc) and [`assert_baseline!`](crate::assert_baseline):
///
/// ```compile_fail
/// # async fn fetch(id: u32) -> String { format!("user {id}") }
/// # async fn test() {
/// let reply = allocsite::assert_allocs!(<= 2, fetch(7)); // error: … measured building a future
/// # }
/// ```
#[macro_export]
macro_rules! assert_allocs {
    (<= $max:expr, async $($body:tt)+) => {
        $crate::Budget::new()
            .max_allocations($max)
            .run_async(async $($body)+)
            .await
    };
    (== $count:expr, async $($body:tt)+) => {
        $crate::Budget::new()
            .exact_allocations($count)
            .run_async(async $($body)+)
            .await
    };
    (<= $max:expr, $body:expr) => {{
        $crate::__not_a_future!($crate::Budget::new().max_allocations($max).run(|| $body))
    }};
    (== $count:expr, $body:expr) => {{
        $crate::__not_a_future!($crate::Budget::new().exact_allocations($count).run(|| $body))
    }};
}

/// Asserts that an expression neither allocates nor reallocates on this thread, and
/// returns its value. Reports after the expression (an allocation inside the allocator
/// cannot panic); see [`abort_on_alloc`](crate::abort_on_alloc) for a hard stop. In async
/// code, `assert_no_alloc!(async { … })` awaits the block, as [`assert_allocs!`] does.
///
/// ```
/// #[global_allocator]
/// static ALLOC: allocsite::Alloc = allocsite::Alloc::system();
///
/// # fn main() {
/// # if !allocsite::tracking_enabled() { return; }
/// let sum = allocsite::assert_no_alloc!([1, 2, 3].iter().sum::<i32>());
/// assert_eq!(sum, 6);
/// # }
/// ```
#[macro_export]
macro_rules! assert_no_alloc {
    (async $($body:tt)+) => {
        $crate::Budget::new()
            .max_allocations(0)
            .max_reallocations(0)
            .run_async(async $($body)+)
            .await
    };
    ($body:expr) => {
        $crate::__not_a_future!($crate::Budget::new()
            .max_allocations(0)
            .max_reallocations(0)
            .run(|| $body))
    };
}

/// Compares an expression's allocation figures with a committed baseline file, relative to
/// the calling crate's root: `assert_baseline!("tests/baselines/parse.txt", parse(input))`.
/// `ALLOCSITE_UPDATE_BASELINES=1` rewrites the file. In async code,
/// `assert_baseline!(path, async { … })` awaits the block, as [`assert_allocs!`] does.
#[macro_export]
macro_rules! assert_baseline {
    ($path:expr, async $($body:tt)+) => {
        $crate::Baseline::new(::std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join($path))
            .run_async(async $($body)+)
            .await
    };
    ($path:expr, tolerance_percent = $tolerance:expr, async $($body:tt)+) => {
        $crate::Baseline::new(::std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join($path))
            .tolerance_percent($tolerance)
            .run_async(async $($body)+)
            .await
    };
    ($path:expr, $body:expr) => {
        $crate::__not_a_future!($crate::Baseline::new(
            ::std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join($path)
        )
        .run(|| $body))
    };
    ($path:expr, tolerance_percent = $tolerance:expr, $body:expr) => {
        $crate::__not_a_future!($crate::Baseline::new(
            ::std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join($path)
        )
        .tolerance_percent($tolerance)
        .run(|| $body))
    };
}

/// The value of a measured expression, unless it is a future: then a compile error says
/// that the scope measured building the future, not running it, and how to measure it.
/// Not API (used by the assertion macros).
#[doc(hidden)]
#[macro_export]
macro_rules! __not_a_future {
    ($value:expr) => {{
        let value = $value;
        #[allow(unused_imports)]
        use $crate::__macro_support::{MeasuredAFuture as _, NotAFuture as _};
        // Method resolution picks `MeasuredAFuture` (whose bound fails) only for a future.
        (&&$crate::__macro_support::Probe(&value)).check_not_a_future();
        value
    }};
}

/// Support for the macros: catching a future given where a value is measured. Not API.
#[doc(hidden)]
pub mod __macro_support {
    use std::future::Future;

    /// Wraps a measured expression's value for the check below.
    pub struct Probe<'a, T>(pub &'a T);

    /// Never implemented: its message is the compile error of `assert_allocs!(<= 3, f())`
    /// where `f()` is a future.
    #[diagnostic::on_unimplemented(
        message = "this allocation assertion measured building a future, not running it",
        label = "a future: nothing in it ran inside the scope",
        note = "in async code give the macro an async block, which it awaits: \
                `assert_allocs!(<= 3, async {{ f().await }})`, `assert_no_alloc!(async {{ … }})`"
    )]
    pub trait AsyncBlockNeeded {}

    /// Chosen by method resolution when the value is a future (see the macros).
    pub trait MeasuredAFuture {
        fn check_not_a_future(&self)
        where
            Self: AsyncBlockNeeded,
        {
        }
    }

    impl<T: Future> MeasuredAFuture for &Probe<'_, T> {}

    /// Chosen for every other value.
    pub trait NotAFuture {
        fn check_not_a_future(&self) {}
    }

    impl<T> NotAFuture for Probe<'_, T> {}
}
