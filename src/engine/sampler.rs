//! Byte-based Poisson sampling: which allocations get their stack captured, and the weight
//! that makes per-site estimates unbiased.
//!
//! This module owns the whole countdown: the per-thread [`Countdown`] (kept inside the
//! thread's state), its decision [`Countdown::advance`] and the distance to the next sample
//! [`Countdown::bytes_to_next_sample`] (the thread turns it into the mark its allocation
//! fast path compares against), and the process-wide session figures they read.
//!
//! Conceptually every allocated byte is a sampling opportunity with probability `1/R`
//! (`R` = `sample_bytes`). Each thread keeps the distance to the next sampled byte in its
//! [`Countdown`], drawn from an exponential distribution with mean `R`; an allocation of `s` bytes subtracts `s` and is
//! sampled when the distance runs out. So an allocation is sampled with probability
//! `p(s) = 1 - exp(-s/R)`, independently of the others (the exponential is memoryless, so
//! after a sample the next distance is a fresh draw). Each sampled allocation stands for
//! `1/p(s)` allocations and `s/p(s)` bytes (the Horvitz–Thompson estimator): the expected
//! sum over sampled allocations equals the exact sum. Weights are applied per allocation,
//! before aggregating, because scaling per-site sums by an average size is biased.
//!
//! Expected error: a site's byte estimate has variance `Σ s·(R·(1-p)/p)`, about `R·B` for a
//! site of `B` bytes made of allocations much smaller than `R`, so its relative standard
//! error is about `sqrt(R/B)`: ±10% needs `B ≳ 100·R` (100 expected samples) at one sigma.
//! Allocations much larger than `R` are caught almost surely and contribute no error.
//!
//! `R = 1` is special: every allocation is recorded with weight 1 (exact mode).
//!
//! The generator is xorshift64* seeded per thread from the session seed and a thread
//! counter; with a fixed seed a single-threaded program samples identically on every run.

use std::cell::Cell;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering::Relaxed};

/// The profiling session now sampling (0: none). Threads compare it with the session their
/// countdown was drawn for and redraw when it changed.
static SESSION: AtomicU32 = AtomicU32::new(0);
/// Mean bytes between samples for the running session.
static SAMPLE_BYTES: AtomicU64 = AtomicU64::new(0);
static SEED: AtomicU64 = AtomicU64::new(0);
static THREAD_COUNTER: AtomicU64 = AtomicU64::new(0);

/// Starts sampling for a new session. Relaxed stores suffice: a thread that still sees the
/// old session for a few allocations simply does not sample them yet, and `SESSION` is
/// stored last so a thread that sees the new session also finds its rate and seed
/// (the release/acquire pair below orders them).
pub(crate) fn begin_session(session: u32, sample_bytes: u64, seed: u64) {
    SAMPLE_BYTES.store(sample_bytes.max(1), Relaxed);
    SEED.store(seed, Relaxed);
    THREAD_COUNTER.store(0, Relaxed);
    SESSION.store(session, std::sync::atomic::Ordering::Release);
}

pub(crate) fn end_session() {
    SESSION.store(0, Relaxed);
}

/// The profiling session now sampling (0: none).
#[inline(always)]
pub(crate) fn session() -> u32 {
    SESSION.load(Relaxed)
}

/// One thread's sampling state: the bytes left until its next sample, the session that
/// distance was drawn for, and its random generator. Lives inside the thread's state; only
/// its thread touches it.
pub(crate) struct Countdown {
    bytes_left: Cell<i64>,
    session: Cell<u32>,
    random_state: Cell<u64>,
    /// `session` records every allocation (`R = 1`).
    every: Cell<bool>,
}

impl Countdown {
    pub(crate) const fn new() -> Self {
        Countdown {
            bytes_left: Cell::new(0),
            session: Cell::new(0),
            random_state: Cell::new(0),
            every: Cell::new(false),
        }
    }

    /// True if this countdown was drawn for `session` and that session records every
    /// allocation: the thread may skip the countdown (see `thread.rs`).
    #[inline(always)]
    pub(crate) fn records_every(&self, session: u32) -> bool {
        self.every.get() && self.session.get() == session && session != 0
    }

    /// Called when the thread's allocation side reaches an event (see `thread.rs`): this
    /// allocation of `size` bytes ends a run of `allocated_since_mark` bytes (itself
    /// included) since the countdown was last consulted. Returns the allocation's weight
    /// (`1/p`) when it is sampled, or `None`. Only the allocation that crosses the sampled
    /// byte is sampled: the thread sets its next event no later than that byte.
    pub(crate) fn advance(
        &self,
        allocated_since_mark: u64,
        size: usize,
        session: u32,
    ) -> Option<f64> {
        if session == 0 {
            return None;
        }
        // Pairs with the release store in `begin_session`: the rate and seed read below are
        // the ones stored for `session`.
        std::sync::atomic::fence(std::sync::atomic::Ordering::Acquire);
        let rate = SAMPLE_BYTES.load(Relaxed);
        if rate <= 1 {
            self.session.set(session);
            self.bytes_left.set(1);
            self.every.set(true);
            return Some(1.0);
        }
        self.every.set(false);
        let rate = rate as f64;
        let left = if self.session.get() != session {
            // A fresh countdown for this session, started just before this allocation.
            self.session.set(session);
            let index = THREAD_COUNTER.fetch_add(1, Relaxed);
            self.random_state.set(
                splitmix64(SEED.load(Relaxed) ^ index.wrapping_mul(0x9E37_79B9_7F4A_7C15)) | 1,
            );
            self.draw_distance(rate) - size as i64
        } else {
            self.bytes_left.get() - allocated_since_mark as i64
        };
        if left > 0 {
            self.bytes_left.set(left);
            return None;
        }
        self.bytes_left.set(self.draw_distance(rate));
        Some(weight(size, rate))
    }

    /// Bytes that may still be allocated before the next sampled one (`u64::MAX` when no
    /// session is sampling or this countdown belongs to an older one).
    pub(crate) fn bytes_to_next_sample(&self) -> u64 {
        let session = SESSION.load(Relaxed);
        if session == 0 || self.session.get() != session {
            return u64::MAX;
        }
        self.bytes_left.get().max(1) as u64
    }

    /// An exponential draw with mean `rate`, at least 1.
    fn draw_distance(&self, rate: f64) -> i64 {
        let random = self.next_random();
        // 53 random bits → uniform in (0, 1]; -ln(u) is exponential with mean 1.
        let uniform = ((random >> 11) as f64 + 1.0) * (1.0 / (1u64 << 53) as f64);
        ((-uniform.ln() * rate) as i64).max(1)
    }

    fn next_random(&self) -> u64 {
        let mut x = self.random_state.get();
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.random_state.set(x);
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
}

/// `1/p(s)` with `p(s) = 1 - exp(-s/R)`; `exp_m1` keeps precision for `s ≪ R`.
pub(crate) fn weight(size: usize, rate: f64) -> f64 {
    let probability = -(-(size as f64) / rate).exp_m1();
    1.0 / probability
}

fn splitmix64(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^ (x >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn weight_is_inverse_probability() {
        let rate = 1000.0;
        assert!((weight(1000, rate) - 1.0 / (1.0 - (-1.0f64).exp())).abs() < 1e-9);
        // Huge blocks are certain to be sampled.
        assert!((weight(1 << 30, rate) - 1.0).abs() < 1e-9);
        // Tiny blocks stand for about R/s allocations.
        assert!((weight(1, rate) - 1000.5).abs() < 0.01);
    }
}
