//! The assertion macros: [`assert_allocs!`](crate::assert_allocs),
//! [`assert_no_alloc!`](crate::assert_no_alloc), [`assert_baseline!`](crate::assert_baseline).

/// Asserts the number of allocations an expression makes on this thread and returns its
/// value: `assert_allocs!(<= 2, expr)` or `assert_allocs!(== 2, expr)`. On failure it
/// panics naming the call sites and writes the scope's profile under `target/allocsite/`.
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
    (<= $max:expr, $body:expr) => {
        $crate::Budget::new().max_allocations($max).run(|| $body)
    };
    (== $count:expr, $body:expr) => {
        $crate::Budget::new()
            .exact_allocations($count)
            .run(|| $body)
    };
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
        $crate::Budget::new()
            .max_allocations(0)
            .max_reallocations(0)
            .run(|| $body)
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
        $crate::Baseline::new(::std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join($path))
            .run(|| $body)
    };
    ($path:expr, tolerance_percent = $tolerance:expr, $body:expr) => {
        $crate::Baseline::new(::std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join($path))
            .tolerance_percent($tolerance)
            .run(|| $body)
    };
}
