//! `summary`, `diff`, `html` and `convert`: each reads its files through the library, calls
//! one report writer, and names the file in every message. `convert` writes any format of
//! the library's registry (`OutputFormat::write`).

use std::io::{self, IsTerminal, Write};
use std::path::{Path, PathBuf};

use allocsite::report::dhat::DhatFile;
use allocsite::report::diff::CallSiteDiff;
use allocsite::report::html::{convert_comparison, convert_file};
use allocsite::report::summary::write_summary;
use allocsite::report::write::write_atomically;
use allocsite::report::{FoldedMetric, OutputFormat, OutputOptions};

use crate::Failure;

/// Reads and checks a DHAT file (the library's one validator): the message names the file
/// and the problem, with the line and column for JSON errors.
pub(crate) fn read_profile(path: &Path) -> Result<DhatFile, Failure> {
    let bytes = std::fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    if bytes.starts_with(&[0x1f, 0x8b]) {
        // `allocsite convert --to pprof` and `.pprof(…)` write gzip: the likeliest mix-up.
        return Err(format!(
            "{}: not a DHAT file: gzip-compressed (a pprof profile? open it with go tool pprof; \
             a compressed DHAT file: gunzip it first)",
            path.display()
        )
        .into());
    }
    let text = String::from_utf8(bytes).map_err(|e| {
        format!(
            "{}: not a DHAT file: not UTF-8 text (byte {} is not valid UTF-8)",
            path.display(),
            e.utf8_error().valid_up_to()
        )
    })?;
    DhatFile::from_json(&text).map_err(|e| Failure::Error(format!("{}: {}", path.display(), e.0)))
}

/// A write to standard output: a closed pipe (`allocsite summary f | head`) is not an error.
pub(crate) fn stdout_result(result: io::Result<()>) -> Result<(), Failure> {
    match result {
        Err(e) if e.kind() != io::ErrorKind::BrokenPipe => {
            Err(format!("cannot write to standard output: {e}").into())
        }
        _ => Ok(()),
    }
}

pub(crate) fn summary(path: &Path, top: usize) -> Result<(), Failure> {
    let file = read_profile(path)?;
    stdout_result(write_summary(&file, top, &mut io::stdout().lock()))
}

/// `heap` for `heap` and `rust-heap`, `ad-hoc` for `ad-hoc` and `rust-ad-hoc`.
fn kind(file: &DhatFile) -> &str {
    file.mode.strip_prefix("rust-").unwrap_or(&file.mode)
}

/// Fails when `metric` needs block lifetimes that `file` does not record (a peak or an end
/// would be all zeros); `verb` is what the user asked for ("compare", "convert").
fn has_metric(
    path: &Path,
    file: &DhatFile,
    metric: FoldedMetric,
    verb: &str,
) -> Result<(), Failure> {
    if matches!(metric, FoldedMetric::PeakBytes | FoldedMetric::EndBytes) && !file.block_lifetimes {
        return Err(format!(
            "{} records no block lifetimes (bklt is false), so it has no {}; \
             {verb} total-bytes or total-blocks",
            path.display(),
            metric.name()
        )
        .into());
    }
    Ok(())
}

pub(crate) fn diff(
    before_path: &Path,
    after_path: &Path,
    metric: FoldedMetric,
    top: usize,
    fail_above: Option<f64>,
) -> Result<(), Failure> {
    let before = read_profile(before_path)?;
    let after = read_profile(after_path)?;
    if kind(&before) != kind(&after) {
        return Err(format!(
            "{} is a {} profile and {} a {} profile: only profiles of one kind compare",
            before_path.display(),
            kind(&before),
            after_path.display(),
            kind(&after)
        )
        .into());
    }
    for (path, file) in [(before_path, &before), (after_path, &after)] {
        has_metric(path, file, metric, "compare")?;
    }
    let diff = CallSiteDiff::new(&before, &after, metric);
    let mut out = io::stdout().lock();
    let mut write = || -> io::Result<()> {
        writeln!(
            out,
            "allocsite: {} profiles compared by call site, {}",
            kind(&after),
            diff.figure()
        )?;
        for (label, path, file) in [
            ("before", before_path, &before),
            ("after", after_path, &after),
        ] {
            writeln!(
                out,
                "  {label}:{:width$}{} (`{}`)",
                "",
                path.display(),
                file.plain_command(),
                width = 8 - label.len()
            )?;
        }
        if [&before, &after]
            .iter()
            .any(|file| file.allocsite.as_ref().is_some_and(|x| x.sampled))
        {
            writeln!(
                out,
                "  (sampled profiles: the figures are estimates; small changes may be noise)"
            )?;
        }
        diff.write(top, &mut out)
    };
    stdout_result(write())?;
    let Some(limit) = fail_above else {
        return Ok(());
    };
    let growth = diff.growth_percent().unwrap_or(0.0);
    let grew = if growth.is_infinite() {
        "from nothing".to_owned()
    } else {
        format!("by {growth:.1}%")
    };
    if growth > limit {
        return Err(Failure::Exceeded(format!(
            "{} grew {grew}, more than --fail-above {limit}%",
            diff.figure()
        )));
    }
    stdout_result(writeln!(
        io::stdout(),
        "  --fail-above {limit}%: passed ({} changed {grew})",
        diff.figure()
    ))
}

/// `file` with another extension: `profile.json` → `profile.html`.
pub(crate) fn beside(file: &Path, extension: &str) -> PathBuf {
    file.with_extension(extension)
}

/// Refuses to write over an input.
fn not_an_input(output: &Path, inputs: &[&Path]) -> Result<(), Failure> {
    let Ok(output_real) = output.canonicalize() else {
        return Ok(()); // does not exist yet
    };
    for input in inputs {
        if input.canonicalize().is_ok_and(|real| real == output_real) {
            return Err(format!(
                "{} is an input; give the output another name (-o)",
                output.display()
            )
            .into());
        }
    }
    Ok(())
}

pub(crate) fn html(
    path: &Path,
    output: Option<&Path>,
    baseline: Option<&Path>,
) -> Result<(), Failure> {
    let output = output.map_or_else(|| beside(path, "html"), Path::to_path_buf);
    let inputs: Vec<&Path> = [Some(path), baseline].into_iter().flatten().collect();
    not_an_input(&output, &inputs)?;
    match baseline {
        Some(baseline) => convert_comparison(baseline, path, &output),
        None => convert_file(path, &output),
    }
    .map_err(|e| e.to_string())?;
    stdout_result(writeln!(io::stdout(), "wrote {}", output.display()))
}

pub(crate) fn convert(
    path: &Path,
    format: OutputFormat,
    output: Option<&Path>,
    metric: FoldedMetric,
) -> Result<(), Failure> {
    let file = read_profile(path)?;
    // A pprof file carries every figure (`--metric` is for folded output only).
    if format == OutputFormat::Folded {
        has_metric(path, &file, metric, "convert")?;
    }
    let mut options = OutputOptions::default();
    options.folded_metric = metric;
    let write = |out: &mut dyn Write| -> io::Result<()> { format.write(&file, &options, out) };
    let problem = |e: io::Error| -> Failure {
        // The writers' InvalidData errors are about the file (a mode pprof cannot show).
        if e.kind() == io::ErrorKind::InvalidData {
            Failure::Error(format!("{}: {e}", path.display()))
        } else {
            Failure::Error(format!("cannot write to standard output: {e}"))
        }
    };
    if output == Some(Path::new("-")) {
        let mut stdout = io::stdout().lock();
        if format.is_binary() && stdout.is_terminal() {
            return Err(format!(
                "a {} file is binary: give -o FILE, or pipe standard output",
                format.name()
            )
            .into());
        }
        return match write(&mut stdout).and_then(|()| stdout.flush()) {
            Err(e) if e.kind() == io::ErrorKind::BrokenPipe => Ok(()),
            result => result.map_err(problem),
        };
    }
    let output = output.map_or_else(|| beside(path, format.extension()), Path::to_path_buf);
    not_an_input(&output, &[path])?;
    write_atomically(&output, write).map_err(|e| match e.kind() {
        io::ErrorKind::InvalidData => problem(e),
        _ => Failure::Error(format!("cannot write {}: {e}", output.display())),
    })?;
    stdout_result(writeln!(io::stdout(), "wrote {}", output.display()))
}
