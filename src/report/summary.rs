//! The short terminal summary printed when a profile ends: totals, the peak, and the top
//! call sites by bytes, each named by its first frame in the user's code.

use std::io::{self, Write};

use super::profile::{Profile, describe, first_user_frame};

/// Formats `1234567` as `1,234,567`.
pub(crate) fn thousands(value: f64) -> String {
    let digits = (value.round() as u64).to_string();
    let mut out = String::new();
    for (index, digit) in digits.chars().enumerate() {
        if index > 0 && (digits.len() - index) % 3 == 0 {
            out.push(',');
        }
        out.push(digit);
    }
    out
}

pub(crate) fn write(
    profile: &Profile,
    top: usize,
    written: &[String],
    out: &mut impl Write,
) -> io::Result<()> {
    let total_bytes = profile.total(|s| s.total_bytes);
    let total_blocks = profile.total(|s| s.total_blocks);
    let estimate = if profile.sampled() {
        format!(
            " (estimated from {} samples, one per {} bytes on average)",
            thousands(profile.samples as f64),
            thousands(profile.sample_bytes as f64)
        )
    } else {
        " (every allocation recorded)".to_string()
    };
    writeln!(
        out,
        "allocsite: heap profile of `{}`{estimate}",
        profile.command
    )?;
    writeln!(
        out,
        "  total:   {} bytes in {} blocks",
        thousands(total_bytes),
        thousands(total_blocks)
    )?;
    writeln!(
        out,
        "  peak:    {} bytes in {} blocks at {:.3} s",
        thousands(profile.total(|s| s.peak_bytes)),
        thousands(profile.total(|s| s.peak_blocks)),
        profile.peak_time as f64 / 1e6
    )?;
    writeln!(
        out,
        "  at end:  {} bytes in {} blocks after {:.3} s",
        thousands(profile.total(|s| s.live_bytes)),
        thousands(profile.total(|s| s.live_blocks)),
        profile.end_time as f64 / 1e6
    )?;
    if !profile.sites.is_empty() {
        writeln!(out, "  top call sites by total bytes:")?;
    }
    for site in profile.sites.iter().take(top) {
        let share = if total_bytes > 0.0 {
            100.0 * site.stats.total_bytes / total_bytes
        } else {
            0.0
        };
        let place = first_user_frame(&site.frames)
            .map(describe)
            .unwrap_or_else(|| "[no frames]".into());
        writeln!(
            out,
            "    {share:5.1}% {:>14} bytes {:>10} blocks  {place}",
            thousands(site.stats.total_bytes),
            thousands(site.stats.total_blocks)
        )?;
    }
    for path in written {
        writeln!(out, "  wrote {path}")?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn thousands_groups_digits() {
        assert_eq!(super::thousands(0.0), "0");
        assert_eq!(super::thousands(999.0), "999");
        assert_eq!(super::thousands(1000.0), "1,000");
        assert_eq!(super::thousands(1234567.4), "1,234,567");
    }
}
