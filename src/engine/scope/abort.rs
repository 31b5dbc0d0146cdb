//! A strict no-allocation zone (`abort_on_alloc`) was violated: print the stack and abort.

use crate::symbolize::resolve::Symbolizer;
use crate::symbolize::trim::TrimOptions;

/// A strict no-allocation zone was violated: print the stack and abort. Unwinding out of a
/// `GlobalAlloc` method is undefined behaviour, so a panic is not an option here.
#[cold]
pub(crate) fn abort_on_forbidden_allocation(size: usize, stack: &[usize]) -> ! {
    use std::io::Write;
    let mut symbolizer = Symbolizer::new();
    let frames = symbolizer.frames(stack, TrimOptions::default());
    let mut stderr = std::io::stderr().lock();
    let _ = writeln!(
        stderr,
        "allocsite: a {size}-byte allocation inside a no-allocation zone (abort mode); stack, innermost first:"
    );
    for frame in &frames {
        let _ = writeln!(stderr, "    {}", frame.dhat_string());
    }
    std::process::abort();
}
