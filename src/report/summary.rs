//! The short terminal summary of a profile: its kind (heap, copy, ad-hoc), totals, the peak,
//! what was left at the end, and the top call sites by bytes (in the file's own units), each named by the first frame of the user's own code
//! (`report/call_sites.rs`).
//!
//! It is written from a [`DhatFile`] and allocsite's extension block when the file has one,
//! so the same code summarises a profile allocsite just wrote and any DHAT file read from
//! disk (the `dhat` crate's, Valgrind's), without the `track` feature.

use std::io::{self, Write};

use super::call_sites::CallSiteTable;
use super::dhat::DhatFile;

/// Writes the summary of `file` with its `top` call sites by total bytes.
///
/// # Errors
///
/// Any error writing to `out`.
///
/// ```
/// use allocsite::report::dhat::DhatFile;
///
/// let file = DhatFile::from_json(r#"{"dhatFileVersion":2,"mode":"heap","verb":"Allocated",
///   "bklt":true,"bkacc":false,"tu":"instrs","Mtu":"Minstr","tuth":500,"cmd":"./demo","pid":1,"te":900,"tg":500,
///   "pps":[{"tb":4096,"tbk":1,"tl":40,"mb":4096,"mbk":1,"gb":4096,"gbk":1,"eb":0,"ebk":0,"fs":[1,2,3]}],
///   "ftbl":["[root]","0x48417B4: malloc (in /usr/libexec/valgrind/vgpreload_dhat-amd64-linux.so)",
///     "0x109271: make_buffer (demo.c:9)","0x1092C9: main (demo.c:36)"]}"#).unwrap();
/// let mut text = Vec::new();
/// allocsite::report::summary::write_summary(&file, 5, &mut text)?;
/// let text = String::from_utf8(text).unwrap();
/// assert!(text.contains("100.0%          4,096 bytes          1 blocks  malloc ← make_buffer (demo.c:9)"), "{text}");
/// # Ok::<(), std::io::Error>(())
/// ```
pub fn write_summary(file: &DhatFile, top: usize, out: &mut impl Write) -> io::Result<()> {
    write(file, top, &[], out)
}

/// Formats `1234567` as `1,234,567`.
pub(crate) fn thousands(value: f64) -> String {
    let digits = (value.round() as u64).to_string();
    let mut out = String::new();
    for (index, digit) in digits.chars().enumerate() {
        if index > 0 && (digits.len() - index).is_multiple_of(3) {
            out.push(',');
        }
        out.push(digit);
    }
    out
}

/// A time of the file in its own unit: seconds for allocsite's and the `dhat` crate's µs,
/// the unit as written otherwise (Valgrind's instructions).
fn time(file: &DhatFile, value: u64) -> String {
    if file.time_unit == "µs" {
        format!("{:.3} s", value as f64 / 1e6)
    } else {
        format!("{} {}", thousands(value as f64), file.time_unit)
    }
}

/// What kind of profile `file` is, for the first line: `heap` (Valgrind's `heap`,
/// allocsite's and the `dhat` crate's `rust-heap`), `copy`, `ad-hoc`, or the mode as written.
pub(crate) fn profile_kind(file: &DhatFile) -> &str {
    let mode = file.mode.strip_prefix("rust-").unwrap_or(&file.mode);
    match mode {
        "heap" | "copy" | "ad-hoc" => mode,
        _ => &file.mode,
    }
}

/// The file's labels for bytes and blocks (`bsu`, `bksu`: `units` and `events` in ad-hoc
/// files; `bytes` and `blocks` when absent), without the ` (est.)` a sampled profile adds to
/// them: the summary's first line says the figures are estimates.
pub(crate) fn units(file: &DhatFile) -> (&str, &str) {
    (
        unit_label(file.bytes_unit.as_deref(), "bytes"),
        unit_label(file.blocks_unit.as_deref(), "blocks"),
    )
}

fn unit_label<'a>(unit: Option<&'a str>, default: &'static str) -> &'a str {
    match unit {
        Some(unit) if !unit.trim().is_empty() => unit.strip_suffix(" (est.)").unwrap_or(unit),
        _ => default,
    }
}

/// The summary, then a `wrote <path>` line per file written.
pub(crate) fn write(
    file: &DhatFile,
    top: usize,
    written: &[String],
    out: &mut impl Write,
) -> io::Result<()> {
    let sum = |figure: fn(&super::dhat::ProgramPoint) -> Option<f64>| -> f64 {
        file.program_points.iter().filter_map(figure).sum()
    };
    let total_bytes = file.total_bytes();
    let estimate = match &file.allocsite {
        Some(extension) if extension.sampled => format!(
            " (estimated from {} samples, one per {} bytes on average)",
            thousands(extension.samples as f64),
            thousands(extension.sample_bytes as f64)
        ),
        Some(_) => " (every allocation recorded)".to_string(),
        None => String::new(),
    };
    let (bytes, blocks) = units(file);
    writeln!(
        out,
        "allocsite: {} profile of `{}`{estimate}",
        profile_kind(file),
        file.plain_command()
    )?;
    writeln!(
        out,
        "  total:   {} {bytes} in {} {blocks}",
        thousands(total_bytes),
        thousands(file.total_blocks())
    )?;
    if file.block_lifetimes {
        if let Some(peak_time) = file.peak_time {
            writeln!(
                out,
                "  peak:    {} {bytes} in {} {blocks} at {}",
                thousands(sum(|p| p.peak_bytes)),
                thousands(sum(|p| p.peak_blocks)),
                time(file, peak_time)
            )?;
        }
        writeln!(
            out,
            "  at end:  {} {bytes} in {} {blocks} after {}",
            thousands(sum(|p| p.end_bytes)),
            thousands(sum(|p| p.end_blocks)),
            time(file, file.end_time)
        )?;
    }
    let table = CallSiteTable::build(file);
    if !table.sites.is_empty() && top > 0 {
        writeln!(out, "  top call sites by total {bytes}:")?;
    }
    for site in table.sites.iter().take(top) {
        let share = if total_bytes > 0.0 {
            100.0 * site.total_bytes / total_bytes
        } else {
            0.0
        };
        writeln!(
            out,
            "    {share:5.1}% {:>14} {bytes} {:>10} {blocks}  {}",
            thousands(site.total_bytes),
            thousands(site.total_blocks),
            site.describe()
        )?;
    }
    let more = table.sites.len().saturating_sub(top);
    if more > 0 && top > 0 {
        let plural = if more == 1 { "" } else { "s" };
        writeln!(out, "    … and {more} more call site{plural}")?;
    }
    for path in written {
        writeln!(out, "  wrote {path}")?;
    }
    Ok(())
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

    fn summary(file: &DhatFile, top: usize) -> String {
        let mut out = Vec::new();
        write(file, top, &["profile.json".into()], &mut out).unwrap();
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn thousands_groups_digits() {
        assert_eq!(thousands(0.0), "0");
        assert_eq!(thousands(999.0), "999");
        assert_eq!(thousands(1000.0), "1,000");
        assert_eq!(thousands(1234567.4), "1,234,567");
    }

    /// The `dhat` crate's file of `dhatfix` (viewer/tests/fixtures/dhat-crate-sample.rs):
    /// `make_vec` allocates 8000 bytes, `make_strings` 20 strings and its vector, `main` a
    /// last string; std's frames on top of every stack are not the call sites.
    #[test]
    fn a_dhat_crate_file_names_the_program_s_own_functions() {
        let file = fixture("dhat-crate-heap.json");
        let table = CallSiteTable::build(&file);
        let top = &table.sites[0];
        assert_eq!(top.class, crate::symbolize::classify::FrameClass::User);
        assert_eq!(top.frame.function, "dhatfix::make_vec");
        assert_eq!(
            (top.frame.file.as_deref(), top.frame.line),
            (Some("dhatfix/src/main.rs"), Some(7))
        );
        // `make_vec(1000)` and `make_vec(10)`: one line of `make_vec`, two return addresses.
        assert_eq!((top.total_bytes, top.total_blocks), (8080.0, 2.0));
        assert_eq!(
            top.describe(),
            "core::iter::traits::iterator::Iterator::collect ← dhatfix::make_vec (dhatfix/src/main.rs:7)"
        );
        // The 21 `format!` strings of `make_strings` are one line of its closure, whatever
        // their return addresses.
        let strings = table
            .sites
            .iter()
            .find(|site| site.frame.function == "dhatfix::make_strings::{{closure}}")
            .unwrap();
        assert_eq!((strings.total_blocks, strings.total_bytes), (20.0, 200.0));
        assert_eq!(
            strings.callee.as_ref().unwrap().function,
            "alloc::fmt::format"
        );
        assert_eq!(
            summary(&file, 2),
            "allocsite: heap profile of `./target/release/dhatfix heap`\n\
             \x20 total:   8,760 bytes in 23 blocks\n\
             \x20 peak:    8,760 bytes in 23 blocks at 0.000 s\n\
             \x20 at end:  0 bytes in 0 blocks after 0.000 s\n\
             \x20 top call sites by total bytes:\n\
             \x20    92.2%          8,080 bytes          2 blocks  core::iter::traits::iterator::Iterator::collect ← dhatfix::make_vec (dhatfix/src/main.rs:7)\n\
             \x20     5.5%            480 bytes          1 blocks  core::iter::traits::iterator::Iterator::collect ← dhatfix::make_strings (dhatfix/src/main.rs:10)\n\
             \x20   … and 1 more call site\n\
             \x20 wrote profile.json\n"
        );
    }

    /// Ad-hoc and copy files say what they are and count in their own units.
    #[test]
    fn ad_hoc_and_copy_files_name_their_mode_and_units() {
        let text = summary(&fixture("valgrind-ad-hoc.json"), 1);
        assert!(
            text.starts_with("allocsite: ad-hoc profile of `./dhat-sample`\n  total:   "),
            "{text}"
        );
        assert!(text.contains(" units in "), "{text}");
        assert!(text.contains(" events\n"), "{text}");
        assert!(
            text.contains("  top call sites by total units:\n"),
            "{text}"
        );
        let text = summary(&fixture("dhat-crate-ad-hoc.json"), 1);
        assert!(text.starts_with("allocsite: ad-hoc profile of "), "{text}");
        let text = summary(&fixture("valgrind-copy.json"), 1);
        assert!(text.starts_with("allocsite: copy profile of "), "{text}");
        assert!(text.contains(" bytes in "), "{text}");
        // A sampled profile's labels lose their "(est.)": the first line says it.
        let text = summary(&fixture("allocsite-heap.json"), 1);
        assert!(text.starts_with("allocsite: heap profile of "), "{text}");
        assert!(!text.contains("(est.)"), "{text}");
    }

    /// Valgrind's file of `dhat-sample.c`: `malloc`/`calloc` in Valgrind's preload are the
    /// callee, the program's functions the call sites; `main` calls `make_buffer` twice.
    #[test]
    fn a_valgrind_file_names_the_program_s_own_functions() {
        let file = fixture("valgrind-heap.json");
        let text = summary(&file, 5);
        assert_eq!(
            text,
            "allocsite: heap profile of `./dhat-sample`\n\
             \x20 total:   4,672 bytes in 12 blocks\n\
             \x20 peak:    4,352 bytes in 2 blocks at 147,976 instrs\n\
             \x20 at end:  256 bytes in 1 blocks after 153,515 instrs\n\
             \x20 top call sites by total bytes:\n\
             \x20    94.5%          4,416 bytes         11 blocks  malloc ← make_buffer (dhat-sample.c:9)\n\
             \x20     5.5%            256 bytes          1 blocks  calloc ← make_table (dhat-sample.c:22)\n\
             \x20 wrote profile.json\n"
        );
    }
}
