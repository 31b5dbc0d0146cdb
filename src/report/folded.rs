//! Folded stacks: one `outer;…;inner value` line per distinct stack, the input format of
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

/// Writes `file` (any DHAT file) as folded stacks of `metric`: one line per distinct stack,
/// outermost function first, each stack ending at its call site's callee (the frames inside
/// the call the user's code made are folded into it; see `report/call_sites.rs`), so a flame
/// graph shows the user's frames and the call each made. Stacks that become the same are
/// summed; spaces in names are written as no-break spaces.
///
/// Needs the `report` feature.
///
/// # Errors
///
/// Any error writing to `out`.
///
/// ```
/// use allocsite::report::{dhat::DhatFile, folded::{FoldedMetric, write_folded}};
///
/// let file = DhatFile::from_json(r#"{"dhatFileVersion":2,"mode":"rust-heap","verb":"Allocated",
///   "bklt":false,"bkacc":false,"tu":"µs","Mtu":"s","cmd":"demo","pid":1,"te":10,
///   "pps":[{"tb":64,"tbk":1,"fs":[1,2,3,4]}],
///   "ftbl":["[root]","0x1: alloc::raw_vec::finish_grow (alloc/src/raw_vec/mod.rs:100:5)",
///     "0x2: serde_json::de::from_str (serde_json-1.0.154/src/de.rs:2676:5)",
///     "0x3: demo::parse (src/main.rs:9:5)","0x4: demo::main (src/main.rs:20:5)"]}"#).unwrap();
/// let mut out = Vec::new();
/// write_folded(&file, FoldedMetric::TotalBytes, &mut out)?;
/// assert_eq!(String::from_utf8(out).unwrap(), "demo::main;demo::parse;serde_json::de::from_str 64\n");
/// # Ok::<(), std::io::Error>(())
/// ```
#[cfg(feature = "report")]
pub fn write_folded(
    file: &super::dhat::DhatFile,
    metric: FoldedMetric,
    out: &mut impl std::io::Write,
) -> std::io::Result<()> {
    let table = super::call_sites::CallSiteTable::build(file);
    let mut lines: std::collections::BTreeMap<String, f64> = Default::default();
    for (index, point) in file.program_points.iter().enumerate() {
        let value = match metric {
            FoldedMetric::TotalBytes => point.total_bytes,
            FoldedMetric::TotalBlocks => point.total_blocks,
            FoldedMetric::PeakBytes => point.peak_bytes.unwrap_or(0.0),
            FoldedMetric::EndBytes => point.end_bytes.unwrap_or(0.0),
        };
        let names = table.folded_stack(file, index);
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
