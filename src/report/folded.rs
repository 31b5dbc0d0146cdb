//! Folded stacks: one `outer;…;inner value` line per call site, the input format of
//! `inferno-flamegraph` and `flamegraph.pl`.

/// Which figure a folded-stacks file carries.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum FoldedMetric {
    /// Bytes allocated over the whole run (DHAT's "total bytes").
    #[default]
    TotalBytes,
    /// Blocks allocated over the whole run.
    TotalBlocks,
    /// Bytes live at the moment of the global peak.
    PeakBytes,
    /// Bytes still live at the end (leaks, for a program that should free everything).
    EndBytes,
}

impl FoldedMetric {
    /// The name used in file names and messages, e.g. `"total-bytes"`.
    pub fn name(self) -> &'static str {
        match self {
            FoldedMetric::TotalBytes => "total-bytes",
            FoldedMetric::TotalBlocks => "total-blocks",
            FoldedMetric::PeakBytes => "peak-bytes",
            FoldedMetric::EndBytes => "end-bytes",
        }
    }

    /// Parses [`FoldedMetric::name`]'s output.
    pub fn from_name(name: &str) -> Option<Self> {
        [
            Self::TotalBytes,
            Self::TotalBlocks,
            Self::PeakBytes,
            Self::EndBytes,
        ]
        .into_iter()
        .find(|metric| metric.name() == name)
    }
}

#[cfg(feature = "track")]
pub(crate) fn write(
    profile: &super::profile::Profile,
    metric: FoldedMetric,
    out: &mut impl std::io::Write,
) -> std::io::Result<()> {
    let mut lines: std::collections::BTreeMap<String, f64> = Default::default();
    for site in &profile.sites {
        let stats = &site.stats;
        let value = match metric {
            FoldedMetric::TotalBytes => stats.total_bytes,
            FoldedMetric::TotalBlocks => stats.total_blocks,
            FoldedMetric::PeakBytes => stats.peak_bytes,
            FoldedMetric::EndBytes => stats.live_bytes,
        };
        let names: Vec<&str> = site
            .frames
            .iter()
            .rev()
            .map(|f| f.function.as_str())
            .collect();
        let stack = if names.is_empty() {
            "[unknown]".to_string()
        } else {
            names.join(";")
        };
        *lines.entry(stack).or_default() += value;
    }
    for (stack, value) in lines {
        let value = value.round() as u64;
        if value > 0 {
            writeln!(out, "{} {value}", stack.replace(' ', "\u{a0}"))?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metric_names_round_trip() {
        for metric in [
            FoldedMetric::TotalBytes,
            FoldedMetric::TotalBlocks,
            FoldedMetric::PeakBytes,
            FoldedMetric::EndBytes,
        ] {
            assert_eq!(FoldedMetric::from_name(metric.name()), Some(metric));
        }
        assert_eq!(FoldedMetric::from_name("bytes"), None);
    }
}
