//! A running profiling session's figures: DHAT's per-program-point figures for every site,
//! the session's live bytes and its global peak; and what a finished session hands over.

use std::time::Instant;

use super::live::LiveBlock;
use super::sites::SiteId;

/// DHAT's per-program-point figures for one site during one profiling session. Sampled
/// figures are estimates, kept as `f64` sums of per-allocation weights and rounded when
/// written.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub(crate) struct SiteStats {
    pub(crate) total_bytes: f64,
    pub(crate) total_blocks: f64,
    /// Sum of block lifetimes, in microseconds (blocks live at the end count up to the end).
    pub(crate) total_lifetime: f64,
    pub(crate) live_bytes: f64,
    pub(crate) live_blocks: f64,
    /// This site's own running maximum of live bytes (and the blocks at that moment).
    pub(crate) max_bytes: f64,
    pub(crate) max_blocks: f64,
    /// Live at the moment of the global peak (t-gmax).
    pub(crate) peak_bytes: f64,
    pub(crate) peak_blocks: f64,
    /// Exact number of allocations that were sampled here.
    pub(crate) samples: u64,
}

/// A running profiling session's figures.
pub(crate) struct Session {
    pub(crate) id: u32,
    pub(crate) started: Instant,
    pub(crate) sample_bytes: u64,
    pub(crate) sites: Vec<SiteStats>,
    live_bytes: f64,
    live_blocks: f64,
    pub(crate) peak_bytes: f64,
    pub(crate) peak_blocks: f64,
    pub(crate) peak_time: u64,
    /// The peak rose since the sites' at-peak figures were last copied.
    peak_unsaved: bool,
    pub(crate) samples: u64,
}

impl Session {
    pub(crate) fn new(id: u32, sample_bytes: u64) -> Self {
        Session {
            id,
            started: Instant::now(),
            sample_bytes,
            sites: Vec::new(),
            live_bytes: 0.0,
            live_blocks: 0.0,
            peak_bytes: 0.0,
            peak_blocks: 0.0,
            peak_time: 0,
            peak_unsaved: false,
            samples: 0,
        }
    }

    /// Microseconds since the session started (DHAT's time unit for Rust programs).
    pub(crate) fn now(&self) -> u64 {
        self.micros_at(Instant::now())
    }

    /// Microseconds from the session's start to `instant` (0 if it is earlier).
    pub(crate) fn micros_at(&self, instant: Instant) -> u64 {
        instant.saturating_duration_since(self.started).as_micros() as u64
    }

    pub(crate) fn site(&mut self, site: SiteId) -> &mut SiteStats {
        let index = site as usize;
        if index >= self.sites.len() {
            self.sites.resize(index + 1, SiteStats::default());
        }
        &mut self.sites[index]
    }

    pub(crate) fn add(&mut self, site: SiteId, size: u64, weight: f64, now: u64) {
        let bytes = size as f64 * weight;
        let stats = self.site(site);
        stats.samples += 1;
        stats.total_bytes += bytes;
        stats.total_blocks += weight;
        stats.live_bytes += bytes;
        stats.live_blocks += weight;
        if stats.live_bytes > stats.max_bytes {
            stats.max_bytes = stats.live_bytes;
            stats.max_blocks = stats.live_blocks;
        }
        self.samples += 1;
        self.live_bytes += bytes;
        self.live_blocks += weight;
        // `>=`: of equal peaks the latest counts, as in Valgrind's DHAT.
        if self.live_bytes >= self.peak_bytes {
            self.peak_bytes = self.live_bytes;
            self.peak_blocks = self.live_blocks;
            self.peak_time = now;
            self.peak_unsaved = true;
        }
    }

    pub(crate) fn remove(&mut self, block: &LiveBlock, now: u64) {
        self.save_peak();
        let bytes = block.size as f64 * block.weight;
        let lifetime = now.saturating_sub(block.allocated_at) as f64 * block.weight;
        let stats = self.site(block.site);
        stats.live_bytes -= bytes;
        stats.live_blocks -= block.weight;
        stats.total_lifetime += lifetime;
        self.live_bytes -= bytes;
        self.live_blocks -= block.weight;
    }

    /// Undoes [`Session::remove`] of a block that turned out not to be freed (a failed
    /// realloc): it is live again and its lifetime so far is not charged.
    pub(crate) fn restore(&mut self, block: &LiveBlock, now: u64) {
        let bytes = block.size as f64 * block.weight;
        let lifetime = now.saturating_sub(block.allocated_at) as f64 * block.weight;
        let stats = self.site(block.site);
        stats.live_bytes += bytes;
        stats.live_blocks += block.weight;
        stats.total_lifetime -= lifetime;
        self.live_bytes += bytes;
        self.live_blocks += block.weight;
    }

    /// Copies every site's live figures into its at-peak figures if the peak moved. Done
    /// lazily, before the first decrease after a rise, as DHAT does: O(sites) per peak.
    pub(crate) fn save_peak(&mut self) {
        if self.peak_unsaved {
            for stats in &mut self.sites {
                stats.peak_bytes = stats.live_bytes;
                stats.peak_blocks = stats.live_blocks;
            }
            self.peak_unsaved = false;
        }
    }
}

/// What a finished session hands to the report writers.
pub(crate) struct FinishedSession {
    pub(crate) session: Session,
    pub(crate) end_time: u64,
    /// The captured stack of every site that has figures, by site id.
    pub(crate) stacks: Vec<(SiteId, Box<[usize]>)>,
}
