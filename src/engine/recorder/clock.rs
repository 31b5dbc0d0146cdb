//! The session clock: block lifetimes and the time of the peak, read on every recorded
//! allocation and free.
//!
//! `Instant::now()` costs about 48 ns on this machine (a virtual machine's clock source), a
//! large share of an exact-mode allocation. On x86_64 with an invariant time-stamp counter
//! (CPUID leaf 0x8000_0007, EDX bit 8: it ticks at a constant rate in every power state and
//! is synchronised across cores, as on every x86_64 server of the last decade) the clock
//! reads `rdtsc` instead (about 17 ns here) and converts ticks to microseconds with the
//! rate measured against `Instant` between the start and the end of the session. Elsewhere
//! it reads `Instant` (ticks are nanoseconds).

use std::sync::OnceLock;
use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
use std::time::Instant;

/// The process's reference instant for the `Instant`-based clock.
static EPOCH: OnceLock<Instant> = OnceLock::new();
/// Whether [`ticks`] reads the time-stamp counter (decided once).
static USE_TSC: AtomicBool = AtomicBool::new(false);
static DECIDED: OnceLock<()> = OnceLock::new();

/// Decides which clock to use (once); call before the first [`ticks`].
pub(crate) fn init() {
    DECIDED.get_or_init(|| {
        EPOCH.get_or_init(Instant::now);
        USE_TSC.store(invariant_tsc(), Relaxed);
    });
}

#[cfg(target_arch = "x86_64")]
fn invariant_tsc() -> bool {
    // `cpuid` is available on every x86_64 processor; leaf 0x8000_0000 reports the highest
    // extended leaf, checked before leaf 0x8000_0007 is read.
    let highest = core::arch::x86_64::__cpuid(0x8000_0000).eax;
    highest >= 0x8000_0007 && core::arch::x86_64::__cpuid(0x8000_0007).edx & (1 << 8) != 0
}

#[cfg(not(target_arch = "x86_64"))]
fn invariant_tsc() -> bool {
    false
}

/// The clock's current reading, in ticks.
#[inline]
pub(crate) fn ticks() -> u64 {
    #[cfg(target_arch = "x86_64")]
    if USE_TSC.load(Relaxed) {
        // SAFETY: `rdtsc` has no preconditions on x86_64.
        return unsafe { core::arch::x86_64::_rdtsc() };
    }
    EPOCH
        .get()
        .map_or(0, |epoch| epoch.elapsed().as_nanos() as u64)
}

/// A clock reading paired with the wall clock, to convert ticks to microseconds.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Mark {
    pub(crate) ticks: u64,
    pub(crate) instant: Instant,
}

impl Mark {
    pub(crate) fn now() -> Mark {
        Mark {
            ticks: ticks(),
            instant: Instant::now(),
        }
    }
}

/// Ticks per microsecond between two marks (at least a tiny positive rate).
pub(crate) fn ticks_per_micro(start: Mark, end: Mark) -> f64 {
    if !USE_TSC.load(Relaxed) {
        return 1000.0;
    }
    let micros = end
        .instant
        .saturating_duration_since(start.instant)
        .as_secs_f64()
        * 1e6;
    let ticks = end.ticks.saturating_sub(start.ticks) as f64;
    if micros < 1.0 || ticks < 1.0 {
        // Too short to measure: assume a 1 GHz counter.
        return 1000.0;
    }
    ticks / micros
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ticks_advance_and_convert_to_about_the_right_time() {
        init();
        let start = Mark::now();
        std::thread::sleep(std::time::Duration::from_millis(20));
        let end = Mark::now();
        assert!(end.ticks > start.ticks);
        let rate = ticks_per_micro(start, end);
        let micros = (end.ticks - start.ticks) as f64 / rate;
        let measured = end.instant.duration_since(start.instant).as_secs_f64() * 1e6;
        assert!(
            (micros - measured).abs() < measured * 0.01 + 1.0,
            "{micros} vs {measured}"
        );
    }
}
