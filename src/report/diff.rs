//! Two profiles compared by call site: which lines of the user's code allocate more, less,
//! for the first time or no longer.
//!
//! Both files' call sites come from `report/call_sites.rs`, and a site of one file is the
//! same as a site of the other when their call-site frames have the same function, file (or
//! object) and line. That is the viewer's comparison (`viewer/model/sites.js`,
//! `compareSites`; `viewer/CALL-SITES.md`), with the same four outcomes: a site in both
//! files is [`Change::Grown`] or [`Change::Shrunk`] (or unchanged, only counted), a site
//! only in the second file is [`Change::New`] and one only in the first is
//! [`Change::Gone`], whatever their values. Changes are sorted by the size of the change, biggest first, then by site.
//!
//! Works on any DHAT file without the `track` feature; the `allocsite diff` command prints
//! [`CallSiteDiff::write`]'s table and fails a CI job with [`CallSiteDiff::growth_percent`].

use std::collections::HashMap;
use std::io::{self, Write};

use super::call_sites::{CallSiteTable, RowKey, Site, row_key};
use super::dhat::DhatFile;
use super::folded::FoldedMetric;
use super::summary::{thousands, units};

/// How a call site changed from the first profile to the second.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Change {
    /// In both profiles, with a larger value in the second.
    Grown,
    /// In both profiles, with a smaller value in the second.
    Shrunk,
    /// Only in the second profile.
    New,
    /// Only in the first profile.
    Gone,
}

impl Change {
    /// `grown`, `shrunk`, `new` or `gone`.
    pub fn name(self) -> &'static str {
        match self {
            Change::Grown => "grown",
            Change::Shrunk => "shrunk",
            Change::New => "new",
            Change::Gone => "gone",
        }
    }
}

/// One call site that changed.
#[derive(Clone, Debug, PartialEq)]
pub struct SiteChange {
    /// What happened to it.
    pub change: Change,
    /// The call site as the summary names it (`callee ← function (file:line)`), from the
    /// second profile (the first for a gone site).
    pub site: String,
    /// Its value in the first profile (0 for a new site).
    pub before: f64,
    /// Its value in the second profile (0 for a gone site).
    pub after: f64,
}

impl SiteChange {
    /// `after - before`.
    pub fn delta(&self) -> f64 {
        self.after - self.before
    }

    /// The change in percent of `before`; `None` when `before` is 0.
    pub fn percent(&self) -> Option<f64> {
        (self.before != 0.0).then(|| 100.0 * self.delta() / self.before)
    }
}

/// Two profiles compared call site by call site on one figure (see the module docs).
///
/// ```
/// use allocsite::report::{FoldedMetric, diff::{CallSiteDiff, Change}, dhat::DhatFile};
///
/// let file = |tb: u32| DhatFile::from_json(&format!(r#"{{"dhatFileVersion":2,"mode":"rust-heap",
///   "verb":"Allocated","bklt":false,"bkacc":false,"tu":"µs","Mtu":"s","cmd":"demo","pid":1,"te":10,
///   "pps":[{{"tb":{tb},"tbk":1,"fs":[1,2]}}],
///   "ftbl":["[root]","0x1: alloc::vec::Vec<T,A>::push (alloc/src/vec/mod.rs:2000:9)",
///     "0x2: demo::load (src/main.rs:14:5)"]}}"#)).unwrap();
/// let diff = CallSiteDiff::new(&file(100), &file(150), FoldedMetric::TotalBytes);
/// assert_eq!(diff.changes[0].change, Change::Grown);
/// assert_eq!(diff.changes[0].site, "alloc::vec::Vec<T,A>::push ← demo::load (src/main.rs:14)");
/// assert_eq!(diff.growth_percent(), Some(50.0));
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct CallSiteDiff {
    /// The figure compared.
    pub metric: FoldedMetric,
    /// The figure summed over the first profile.
    pub before_total: f64,
    /// The figure summed over the second profile.
    pub after_total: f64,
    /// The sites that changed, grown, shrunk, new or gone: biggest change first.
    pub changes: Vec<SiteChange>,
    /// How many sites are in both profiles with the same value.
    pub unchanged: usize,
    /// The label of the figure's unit: the second file's `bsu` or `bksu` (`bytes`,
    /// `blocks`, `units`, `events`).
    pub unit: String,
}

impl CallSiteDiff {
    /// Compares `before` with `after` on `metric`.
    pub fn new(before: &DhatFile, after: &DhatFile, metric: FoldedMetric) -> CallSiteDiff {
        let (old, new) = (CallSiteTable::build(before), CallSiteTable::build(after));
        let value = |site: &Site| match metric {
            FoldedMetric::TotalBytes => site.total_bytes,
            FoldedMetric::TotalBlocks => site.total_blocks,
            FoldedMetric::PeakBytes => site.peak_bytes,
            FoldedMetric::EndBytes => site.end_bytes,
        };
        let old_by_key: HashMap<RowKey, &Site> = old
            .sites
            .iter()
            .map(|site| (row_key(&site.frame), site))
            .collect();
        let mut changes = Vec::new();
        let mut unchanged = 0;
        let mut matched = std::collections::HashSet::new();
        for site in &new.sites {
            let key = row_key(&site.frame);
            let (change, before) = match old_by_key.get(&key) {
                None => (Change::New, 0.0),
                Some(old_site) => {
                    let before = value(old_site);
                    let after = value(site);
                    matched.insert(key);
                    if after > before {
                        (Change::Grown, before)
                    } else if after < before {
                        (Change::Shrunk, before)
                    } else {
                        unchanged += 1;
                        continue;
                    }
                }
            };
            changes.push(SiteChange {
                change,
                site: site.describe(),
                before,
                after: value(site),
            });
        }
        for site in &old.sites {
            if !matched.contains(&row_key(&site.frame)) {
                changes.push(SiteChange {
                    change: Change::Gone,
                    site: site.describe(),
                    before: value(site),
                    after: 0.0,
                });
            }
        }
        changes.sort_by(|a, b| {
            b.delta()
                .abs()
                .total_cmp(&a.delta().abs())
                .then_with(|| a.site.cmp(&b.site))
        });
        let (bytes, blocks) = units(after);
        let unit = match metric {
            FoldedMetric::TotalBlocks => blocks,
            _ => bytes,
        };
        CallSiteDiff {
            metric,
            before_total: old.sites.iter().map(value).sum(),
            after_total: new.sites.iter().map(value).sum(),
            changes,
            unchanged,
            unit: unit.to_owned(),
        }
    }

    /// How much the total grew, in percent of the first profile's total (negative when it
    /// shrank). `None` when the first total is 0: from nothing, any growth is infinite
    /// (`Some(f64::INFINITY)` when the second total is above 0).
    pub fn growth_percent(&self) -> Option<f64> {
        if self.before_total > 0.0 {
            Some(100.0 * (self.after_total - self.before_total) / self.before_total)
        } else if self.after_total > 0.0 {
            Some(f64::INFINITY)
        } else {
            None
        }
    }

    /// Writes the comparison as a table: the totals, then the `top` biggest changes (all of
    /// them when `top` is 0), each with its values before and after, the change and the
    /// change in percent (`new`, `gone` for sites only in one profile).
    ///
    /// # Errors
    ///
    /// Any error writing to `out`.
    pub fn write(&self, top: usize, out: &mut impl Write) -> io::Result<()> {
        let growth = match self.growth_percent() {
            Some(percent) => format!(", {}", percent_text(percent)),
            None => String::new(),
        };
        writeln!(
            out,
            "  {}: {} → {} ({}{growth})",
            self.figure(),
            thousands(self.before_total),
            thousands(self.after_total),
            signed(self.after_total - self.before_total),
        )?;
        if self.changes.is_empty() {
            writeln!(out, "  no call site changed")?;
        } else {
            writeln!(
                out,
                "  call sites by change ({} grown, {} shrunk, {} new, {} gone):",
                self.count(Change::Grown),
                self.count(Change::Shrunk),
                self.count(Change::New),
                self.count(Change::Gone),
            )?;
            writeln!(
                out,
                "    {:<6} {:>14} {:>14} {:>15} {:>8}  call site",
                "", "before", "after", "change", ""
            )?;
            let shown = if top == 0 { self.changes.len() } else { top };
            for change in self.changes.iter().take(shown) {
                let percent = match change.change {
                    Change::New => "new".to_owned(),
                    Change::Gone => "gone".to_owned(),
                    _ => change.percent().map(percent_text).unwrap_or_default(),
                };
                writeln!(
                    out,
                    "    {:<6} {:>14} {:>14} {:>15} {percent:>8}  {}",
                    change.change.name(),
                    thousands(change.before),
                    thousands(change.after),
                    signed(change.delta()),
                    change.site
                )?;
            }
            let more = self.changes.len().saturating_sub(shown);
            if more > 0 {
                let plural = if more == 1 { "" } else { "s" };
                writeln!(out, "    … and {more} more changed call site{plural}")?;
            }
        }
        if self.unchanged > 0 {
            let plural = if self.unchanged == 1 { "" } else { "s" };
            writeln!(out, "  {} call site{plural} unchanged", self.unchanged)?;
        }
        Ok(())
    }

    /// What is compared, in the file's unit: `total bytes`, `total blocks`, `bytes at the
    /// peak`, `bytes at the end` (`total units` for an ad-hoc file).
    pub fn figure(&self) -> String {
        let unit = &self.unit;
        match self.metric {
            FoldedMetric::TotalBytes | FoldedMetric::TotalBlocks => format!("total {unit}"),
            FoldedMetric::PeakBytes => format!("{unit} at the peak"),
            FoldedMetric::EndBytes => format!("{unit} at the end"),
        }
    }

    fn count(&self, change: Change) -> usize {
        self.changes.iter().filter(|c| c.change == change).count()
    }
}

/// `+1,234`, `-1,234`, `0`.
fn signed(value: f64) -> String {
    let rounded = value.round();
    if rounded > 0.0 {
        format!("+{}", thousands(rounded))
    } else if rounded < 0.0 {
        format!("-{}", thousands(-rounded))
    } else {
        "0".to_owned()
    }
}

/// `+12.5%`, `-3.0%`, `+inf%`.
fn percent_text(percent: f64) -> String {
    if percent.is_infinite() {
        "+inf%".to_owned()
    } else {
        format!("{percent:+.1}%")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture(name: &str) -> DhatFile {
        let path = format!(
            "{}/viewer/tests/fixtures/{name}",
            env!("CARGO_MANIFEST_DIR")
        );
        DhatFile::from_json(&std::fs::read_to_string(&path).unwrap()).unwrap()
    }

    /// The viewer's comparison fixtures, with the viewer's expectations
    /// (`viewer/tests/model.test.mjs`, "comparison by call site").
    #[test]
    fn the_viewer_s_comparison_fixtures() {
        let (before, after) = (
            fixture("compare-before.json"),
            fixture("compare-after.json"),
        );
        let diff = CallSiteDiff::new(&before, &after, FoldedMetric::TotalBytes);
        let of = |change: Change| -> Vec<(String, f64, f64)> {
            diff.changes
                .iter()
                .filter(|c| c.change == change)
                .map(|c| {
                    let function = c.site.rsplit(" ← ").next().unwrap();
                    let function = function.split(' ').next().unwrap().to_owned();
                    (function, c.before, c.after)
                })
                .collect()
        };
        assert_eq!(of(Change::Grown), [("demo::alpha".into(), 1000.0, 1500.0)]);
        assert_eq!(of(Change::Shrunk).len(), 1);
        assert_eq!(of(Change::Shrunk)[0].0, "demo::beta");
        assert_eq!(of(Change::New).len(), 1);
        assert_eq!(
            (of(Change::New)[0].0.as_str(), of(Change::New)[0].2),
            ("demo::zeta", 700.0)
        );
        let gone = of(Change::Gone);
        assert_eq!(
            gone.iter().map(|g| g.0.as_str()).collect::<Vec<_>>(),
            ["demo::gamma", "demo::delta"]
        );
        assert_eq!(gone.iter().map(|g| g.1).sum::<f64>(), 500.0);
        assert_eq!(diff.unchanged, 1);
        assert_eq!(
            diff.changes
                .iter()
                .find(|c| c.change == Change::Grown)
                .unwrap()
                .percent(),
            Some(50.0)
        );
        let mut sorted = diff.changes.clone();
        sorted.sort_by(|a, b| b.delta().abs().total_cmp(&a.delta().abs()));
        assert_eq!(diff.changes, sorted);
        let total: f64 = diff.changes.iter().map(SiteChange::delta).sum();
        assert_eq!(total, diff.after_total - diff.before_total);

        let by_blocks = CallSiteDiff::new(&before, &after, FoldedMetric::TotalBlocks);
        let grown: Vec<_> = by_blocks
            .changes
            .iter()
            .filter(|c| c.change == Change::Grown)
            .map(|c| c.site.as_str())
            .collect();
        assert_eq!(grown.len(), 1);
        assert!(grown[0].contains("demo::beta"), "{grown:?}");
        assert!(!by_blocks.changes.iter().any(|c| c.change == Change::Shrunk));
    }

    #[test]
    fn the_same_file_has_no_change() {
        let file = fixture("dhat-crate-heap.json");
        let diff = CallSiteDiff::new(&file, &file, FoldedMetric::TotalBlocks);
        assert!(diff.changes.is_empty());
        assert_eq!(diff.growth_percent(), Some(0.0));
        assert_eq!(diff.unit, "blocks");
        let mut text = Vec::new();
        diff.write(10, &mut text).unwrap();
        let text = String::from_utf8(text).unwrap();
        assert_eq!(
            text,
            "  total blocks: 23 → 23 (0, +0.0%)\n  no call site changed\n  3 call sites unchanged\n"
        );
    }

    #[test]
    fn numbers_are_signed_and_grouped() {
        assert_eq!(signed(1234.4), "+1,234");
        assert_eq!(signed(-1234.6), "-1,235");
        assert_eq!(signed(0.2), "0");
        assert_eq!(percent_text(12.345), "+12.3%");
        assert_eq!(percent_text(-3.0), "-3.0%");
        assert_eq!(percent_text(f64::INFINITY), "+inf%");
    }
}
