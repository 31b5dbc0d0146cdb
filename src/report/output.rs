//! The one registry of output formats. Every format allocsite writes is an
//! [`OutputFormat`], registered once in `REGISTRY` below with its name, file extension,
//! environment variable and description, and written by `OutputFormat::write`. Everything
//! else reads the registry: the files a profile writes (`Outputs`, set by
//! `ProfilerBuilder::write` and by the `ALLOCSITE_*` variables, iterated from here), and the
//! `allocsite` command's `convert --to` values and help text.
//!
//! To add a format: a writer module in `report/`, a variant of [`OutputFormat`], its entry
//! in `REGISTRY` (a test checks the two agree) and its arm in `OutputFormat::write`.
//! Nothing outside `report/` changes.

#[cfg(feature = "report")]
use std::io::{self, Write};
use std::path::PathBuf;

#[cfg(feature = "report")]
use super::dhat::DhatFile;
use super::folded::FoldedMetric;
use crate::error::Error;

/// A file format allocsite writes: a profile's outputs ([`crate::ProfilerBuilder::write`],
/// the `ALLOCSITE_*` variables) and `allocsite convert`'s targets. Its name, extension and
/// variable come from the one registry in `report/output.rs`.
///
/// ```
/// use allocsite::report::OutputFormat;
///
/// let pprof = OutputFormat::from_name("pprof").unwrap();
/// assert_eq!(pprof, OutputFormat::Pprof);
/// assert_eq!(pprof.extension(), "pb.gz");
/// assert_eq!(pprof.environment_variable(), "ALLOCSITE_PPROF");
/// let names: Vec<&str> = OutputFormat::all().map(OutputFormat::name).collect();
/// assert_eq!(names, ["dhat", "html", "folded", "pprof"]);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum OutputFormat {
    /// DHAT JSON (`dhatFileVersion` 2).
    Dhat,
    /// The self-contained HTML report (the bundled viewer with the profile inside).
    Html,
    /// Folded stacks carrying one [`FoldedMetric`] ([`OutputOptions::folded_metric`]).
    Folded,
    /// pprof: gzip-compressed `profile.proto`, Go's heap conventions. Written only with the
    /// `pprof` feature (which `track` turns on).
    Pprof,
}

/// What the registry says about one format.
struct Registration {
    format: OutputFormat,
    name: &'static str,
    extension: &'static str,
    variable: &'static str,
    description: &'static str,
    binary: bool,
    convert: bool,
}

/// The registry: one entry per format, in the variants' order, which is the order a
/// profile writes its files in.
const REGISTRY: [Registration; 4] = [
    Registration {
        format: OutputFormat::Dhat,
        name: "dhat",
        extension: "json",
        variable: "ALLOCSITE_OUTPUT",
        description: "DHAT JSON (dhatFileVersion 2), for allocsite's viewer, Valgrind's \
                      dh_view.html and the allocsite command",
        binary: false,
        convert: false, // the command's input
    },
    Registration {
        format: OutputFormat::Html,
        name: "html",
        extension: "html",
        variable: "ALLOCSITE_HTML",
        description: "a self-contained HTML report: the bundled viewer with the profile inside",
        binary: false,
        convert: false, // a command of its own, `allocsite html`, which also takes a baseline
    },
    Registration {
        format: OutputFormat::Folded,
        name: "folded",
        extension: "folded",
        variable: "ALLOCSITE_FOLDED",
        description: "one `outer;...;inner value` line per stack, for inferno-flamegraph and \
                      flamegraph.pl",
        binary: false,
        convert: true,
    },
    Registration {
        format: OutputFormat::Pprof,
        name: "pprof",
        extension: "pb.gz",
        variable: "ALLOCSITE_PPROF",
        description: "gzip-compressed profile.proto, Go's heap profile conventions: \
                      go tool pprof, Pyroscope, Parca, ...",
        binary: true,
        convert: true,
    },
];

/// The variable that sets [`OutputOptions::folded_metric`] for a profile's folded stacks.
const FOLDED_METRIC_VARIABLE: &str = "ALLOCSITE_FOLDED_METRIC";

impl OutputFormat {
    /// Every format, in the registry's order (the order a profile writes its files in).
    pub fn all() -> impl Iterator<Item = OutputFormat> {
        REGISTRY.iter().map(|entry| entry.format)
    }

    fn registration(self) -> &'static Registration {
        &REGISTRY[self as usize]
    }

    /// The format's name, as `allocsite convert --to` takes it: `dhat`, `html`, `folded`,
    /// `pprof`.
    pub fn name(self) -> &'static str {
        self.registration().name
    }

    /// The format named `name` ([`OutputFormat::name`]).
    pub fn from_name(name: &str) -> Option<Self> {
        Self::all().find(|format| format.name() == name)
    }

    /// The extension of its files, without the dot: `json`, `html`, `folded`, `pb.gz`.
    pub fn extension(self) -> &'static str {
        self.registration().extension
    }

    /// The variable that names the file a profile writes in this format (an empty value
    /// writes none): `ALLOCSITE_OUTPUT`, `ALLOCSITE_HTML`, `ALLOCSITE_FOLDED`,
    /// `ALLOCSITE_PPROF`.
    pub fn environment_variable(self) -> &'static str {
        self.registration().variable
    }

    /// What the format is and who reads it, in a line.
    pub fn description(self) -> &'static str {
        self.registration().description
    }

    /// True for a binary format (not for a terminal).
    pub fn is_binary(self) -> bool {
        self.registration().binary
    }

    /// True if `allocsite convert --to` offers it: not DHAT JSON (the command's input), nor
    /// the HTML report (the `html` command, which also takes a baseline).
    pub fn is_convert_target(self) -> bool {
        self.registration().convert
    }

    /// Writes `file` (any DHAT file) in this format to `out`. The HTML report is named
    /// after the file's command.
    ///
    /// # Errors
    ///
    /// Any error of `out`; [`io::ErrorKind::InvalidData`] for a file the format cannot
    /// represent (pprof: an invalid file, or a mode it has no sample types for, see
    /// `report::pprof`); [`io::ErrorKind::Unsupported`] for pprof without the `pprof`
    /// feature.
    ///
    /// ```
    /// use allocsite::report::{OutputFormat, OutputOptions, dhat::DhatFile};
    ///
    /// let file = DhatFile::from_json(r#"{"dhatFileVersion":2,"mode":"rust-heap",
    ///   "verb":"Allocated","bklt":false,"bkacc":false,"tu":"µs","Mtu":"s","cmd":"demo",
    ///   "pid":1,"te":10,"pps":[{"tb":64,"tbk":1,"fs":[1]}],
    ///   "ftbl":["[root]","0x1: demo::main (src/main.rs:2:5)"]}"#).unwrap();
    /// let mut folded = Vec::new();
    /// OutputFormat::Folded.write(&file, &OutputOptions::default(), &mut folded)?;
    /// assert_eq!(String::from_utf8(folded).unwrap(), "demo::main 64\n");
    /// # Ok::<(), std::io::Error>(())
    /// ```
    ///
    /// Needs the `report` feature (which `track` and `pprof` turn on).
    #[cfg(feature = "report")]
    pub fn write(
        self,
        file: &DhatFile,
        options: &OutputOptions,
        out: &mut dyn Write,
    ) -> io::Result<()> {
        match self {
            OutputFormat::Dhat => {
                serde_json::to_writer(&mut *out, file)?;
                out.write_all(b"\n")
            }
            OutputFormat::Html => {
                let json = serde_json::to_string(file)?;
                super::html::write_named_html_report(&json, file.plain_command(), out)
            }
            OutputFormat::Folded => {
                let mut buffered = io::BufWriter::new(out);
                super::folded::write_folded(file, options.folded_metric, &mut buffered)?;
                buffered.flush()
            }
            #[cfg(feature = "pprof")]
            OutputFormat::Pprof => super::pprof::write_pprof(file, &options.pprof, out),
            #[cfg(not(feature = "pprof"))]
            OutputFormat::Pprof => Err(io::Error::new(
                io::ErrorKind::Unsupported,
                "writing pprof needs allocsite's `pprof` feature",
            )),
        }
    }
}

/// How `OutputFormat::write` writes the formats that take options.
#[derive(Clone, Debug, Default, PartialEq)]
#[non_exhaustive]
pub struct OutputOptions {
    /// The figure folded stacks carry (default [`FoldedMetric::TotalBytes`]).
    pub folded_metric: FoldedMetric,
    /// What a pprof file says that a DHAT file does not (the executable, the start time).
    #[cfg(feature = "pprof")]
    pub pprof: super::pprof::PprofOptions,
}

/// The files a profile writes: one path (or none) per registered format.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Outputs {
    /// Indexed by the format's place in the registry.
    paths: [Option<PathBuf>; REGISTRY.len()],
    /// The figure of the folded stacks.
    pub(crate) folded_metric: FoldedMetric,
}

/// The file name written when no output is configured.
pub(crate) const DEFAULT_DHAT_OUTPUT: &str = "allocsite-profile.json";

impl Default for Outputs {
    fn default() -> Self {
        let mut outputs = Outputs {
            paths: Default::default(),
            folded_metric: FoldedMetric::default(),
        };
        outputs.set(OutputFormat::Dhat, Some(PathBuf::from(DEFAULT_DHAT_OUTPUT)));
        outputs
    }
}

impl Outputs {
    /// Writes `format` to `path`, or (`None`) not at all.
    pub(crate) fn set(&mut self, format: OutputFormat, path: Option<PathBuf>) {
        self.paths[format as usize] = path;
    }

    /// Every file to write with its format, in the registry's order.
    #[cfg_attr(not(feature = "track"), allow(dead_code))]
    pub(crate) fn targets(&self) -> Vec<(PathBuf, OutputFormat)> {
        OutputFormat::all()
            .filter_map(|format| Some((self.paths[format as usize].clone()?, format)))
            .collect()
    }

    /// The options the writers get: the folded metric configured, and `pprof`.
    #[cfg(feature = "track")]
    pub(crate) fn options(&self, pprof: &super::pprof::PprofOptions) -> OutputOptions {
        OutputOptions {
            folded_metric: self.folded_metric,
            pprof: pprof.clone(),
        }
    }

    /// Applies each registered format's variable (`ALLOCSITE_OUTPUT`, `ALLOCSITE_HTML`,
    /// `ALLOCSITE_FOLDED`, `ALLOCSITE_PPROF`: a path, or empty for none) and
    /// `ALLOCSITE_FOLDED_METRIC`.
    pub(crate) fn apply_environment(
        &mut self,
        read: impl Fn(&'static str) -> Option<String>,
    ) -> Result<(), Error> {
        for format in OutputFormat::all() {
            if let Some(value) = read(format.environment_variable()) {
                self.set(format, (!value.is_empty()).then(|| PathBuf::from(value)));
            }
        }
        if let Some(value) = read(FOLDED_METRIC_VARIABLE) {
            self.folded_metric = FoldedMetric::from_name(&value).ok_or(Error::BadEnvironment {
                name: FOLDED_METRIC_VARIABLE,
                value,
                expected: "total-bytes, total-blocks, peak-bytes or end-bytes",
            })?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_registry_has_one_entry_per_variant_in_order() {
        for (index, entry) in REGISTRY.iter().enumerate() {
            assert_eq!(entry.format as usize, index, "{}", entry.name);
            assert_eq!(OutputFormat::from_name(entry.name), Some(entry.format));
            assert!(
                entry.variable.starts_with("ALLOCSITE_"),
                "{}",
                entry.variable
            );
            assert!(!entry.extension.starts_with('.'), "{}", entry.extension);
        }
        let all: Vec<OutputFormat> = OutputFormat::all().collect();
        let mut sorted = all.clone();
        sorted.sort();
        sorted.dedup();
        assert_eq!(all, sorted, "each variant once, in declaration order");
        assert_eq!(OutputFormat::from_name("svg"), None);
    }

    /// Where users look up the variables: the builder's table and the README.
    #[test]
    fn every_variable_is_documented() {
        let builder = include_str!("../profiler/builder.rs");
        let readme = include_str!("../../README.md");
        for variable in OutputFormat::all()
            .map(OutputFormat::environment_variable)
            .chain([FOLDED_METRIC_VARIABLE])
        {
            assert!(builder.contains(&format!("`{variable}`")), "{variable}");
            assert!(readme.contains(variable), "{variable}");
        }
    }

    fn environment(pairs: &[(&str, &str)]) -> impl Fn(&'static str) -> Option<String> {
        let pairs: Vec<(String, String)> = pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        move |name| {
            pairs
                .iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.clone())
        }
    }

    #[test]
    fn variables_set_and_clear_each_format() {
        let mut outputs = Outputs::default();
        outputs.set(OutputFormat::Folded, Some("code.folded".into()));
        outputs.folded_metric = FoldedMetric::EndBytes;
        outputs
            .apply_environment(environment(&[
                ("ALLOCSITE_OUTPUT", ""),
                ("ALLOCSITE_PPROF", "heap.pb.gz"),
                ("ALLOCSITE_HTML", "report.html"),
                ("ALLOCSITE_FOLDED", "env.folded"),
            ]))
            .unwrap();
        assert_eq!(
            outputs.targets(),
            [
                (PathBuf::from("report.html"), OutputFormat::Html),
                (PathBuf::from("env.folded"), OutputFormat::Folded),
                (PathBuf::from("heap.pb.gz"), OutputFormat::Pprof),
            ]
        );
        assert_eq!(outputs.folded_metric, FoldedMetric::EndBytes, "kept");
        outputs
            .apply_environment(environment(&[("ALLOCSITE_FOLDED_METRIC", "peak-bytes")]))
            .unwrap();
        assert_eq!(outputs.folded_metric, FoldedMetric::PeakBytes);
        let error = outputs
            .apply_environment(environment(&[("ALLOCSITE_FOLDED_METRIC", "bytes")]))
            .unwrap_err();
        assert!(
            error.to_string().contains("ALLOCSITE_FOLDED_METRIC"),
            "{error}"
        );
        assert_eq!(
            Outputs::default().targets(),
            [(PathBuf::from(DEFAULT_DHAT_OUTPUT), OutputFormat::Dhat)]
        );
    }
}
