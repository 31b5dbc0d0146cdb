//! A finished profiling session, symbolized: the one model every output is written from
//! (DHAT JSON, folded stacks, the terminal summary, HTML).
//!
//! Sites are merged by their *trimmed, symbolized* frame list: two different raw stacks can
//! become the same list (trimming, inlining, the frame limit), and Valgrind's viewer rejects
//! two program points with the same frames. Merged figures are summed; for `max_bytes`
//! the sum is an upper bound of the merged site's true maximum.

use std::collections::HashMap;

use crate::capture;
use crate::engine::recorder::session::{FinishedSession, SiteStats};
use crate::symbolize::frame::Frame;
use crate::symbolize::resolve::Symbolizer;
use crate::symbolize::trim::TrimOptions;

use super::dhat::{DhatFile, Extension, FrameTable, ProgramPoint, sampled_command};

pub(crate) struct Profile {
    pub(crate) command: String,
    pub(crate) pid: u32,
    pub(crate) sample_bytes: u64,
    pub(crate) unwinder: &'static str,
    pub(crate) end_time: u64,
    pub(crate) peak_time: u64,
    pub(crate) samples: u64,
    pub(crate) merged_sites: u64,
    /// Sorted by total bytes, largest first.
    pub(crate) sites: Vec<ProfiledSite>,
}

pub(crate) struct ProfiledSite {
    pub(crate) frames: Vec<Frame>,
    pub(crate) stats: SiteStats,
}

impl Profile {
    pub(crate) fn build(
        finished: FinishedSession,
        trim: TrimOptions,
        command: String,
        pid: u32,
    ) -> Profile {
        let mut symbolizer = Symbolizer::new();
        let mut by_frames: HashMap<Vec<String>, usize> = HashMap::new();
        let mut sites: Vec<ProfiledSite> = Vec::new();
        let mut merged_sites = 0;
        for site in &finished.sites {
            let stats = site.stats;
            let frames = symbolizer.frames(&site.stack, trim);
            let key: Vec<String> = frames.iter().map(Frame::dhat_string).collect();
            match by_frames.get(&key) {
                Some(&index) => {
                    merged_sites += 1;
                    merge(&mut sites[index].stats, &stats);
                }
                None => {
                    by_frames.insert(key, sites.len());
                    sites.push(ProfiledSite { frames, stats });
                }
            }
        }
        sites.sort_by(|a, b| b.stats.total_bytes.total_cmp(&a.stats.total_bytes));
        Profile {
            command,
            pid,
            sample_bytes: finished.sample_bytes,
            unwinder: capture::unwinder().name(),
            end_time: finished.end_time,
            peak_time: finished.peak_time.min(finished.end_time),
            samples: finished.samples,
            merged_sites,
            sites,
        }
    }

    pub(crate) fn sampled(&self) -> bool {
        self.sample_bytes > 1
    }

    pub(crate) fn total(&self, metric: impl Fn(&SiteStats) -> f64) -> f64 {
        self.sites.iter().map(|site| metric(&site.stats)).sum()
    }

    /// The DHAT file for this profile.
    pub(crate) fn to_dhat(&self) -> DhatFile {
        let mut frame_table = FrameTable::new();
        let program_points = self
            .sites
            .iter()
            .map(|site| {
                let frames = site
                    .frames
                    .iter()
                    .map(|frame| frame_table.index(&frame.dhat_string()))
                    .collect();
                let s = &site.stats;
                ProgramPoint {
                    total_bytes: s.total_bytes.round(),
                    total_blocks: s.total_blocks.round(),
                    total_lifetime: Some(s.total_lifetime.round()),
                    max_bytes: Some(s.max_bytes.round()),
                    max_blocks: Some(s.max_blocks.round()),
                    peak_bytes: Some(s.peak_bytes.round()),
                    peak_blocks: Some(s.peak_blocks.round()),
                    end_bytes: Some(s.live_bytes.round()),
                    end_blocks: Some(s.live_blocks.round()),
                    frames,
                    ..ProgramPoint::default()
                }
            })
            .collect();
        let sampled = self.sampled();
        let estimated = |unit: &str| sampled.then(|| format!("{unit} (est.)"));
        let command = if sampled {
            sampled_command(&self.command, self.sample_bytes)
        } else {
            self.command.clone()
        };
        DhatFile {
            byte_unit: estimated("byte"),
            bytes_unit: estimated("bytes"),
            blocks_unit: estimated("blocks"),
            program_points,
            frames: frame_table.into_frames(),
            allocsite: Some(Extension {
                version: env!("CARGO_PKG_VERSION").into(),
                sample_bytes: self.sample_bytes,
                sampled,
                samples: self.samples,
                unwinder: self.unwinder.into(),
                merged_sites: self.merged_sites,
            }),
            ..DhatFile::rust_heap(
                command,
                u64::from(self.pid),
                self.end_time,
                Some(self.peak_time),
            )
        }
    }
}

fn merge(into: &mut SiteStats, from: &SiteStats) {
    into.total_bytes += from.total_bytes;
    into.total_blocks += from.total_blocks;
    into.total_lifetime += from.total_lifetime;
    into.live_bytes += from.live_bytes;
    into.live_blocks += from.live_blocks;
    into.max_bytes += from.max_bytes;
    into.max_blocks += from.max_blocks;
    into.peak_bytes += from.peak_bytes;
    into.peak_blocks += from.peak_blocks;
    into.samples += from.samples;
}
