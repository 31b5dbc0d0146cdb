//! The command line: one `Command` per subcommand, parsed with lexopt, and the help texts.
//! The formats of `convert --to`, and what its help says of them, come from the library's
//! registry of output formats (`allocsite::report::OutputFormat`).

use std::ffi::OsString;
use std::path::PathBuf;

use allocsite::report::{FoldedMetric, OutputFormat};
use lexopt::prelude::*;

/// What to do.
#[derive(Debug, PartialEq)]
pub(crate) enum Command {
    /// Print a help text and stop.
    Help(String),
    /// Print the version and stop.
    Version,
    Summary {
        file: PathBuf,
        top: usize,
    },
    Diff {
        before: PathBuf,
        after: PathBuf,
        metric: FoldedMetric,
        top: usize,
        fail_above: Option<f64>,
    },
    Html {
        file: PathBuf,
        output: Option<PathBuf>,
        baseline: Option<PathBuf>,
    },
    Convert {
        file: PathBuf,
        format: OutputFormat,
        output: Option<PathBuf>,
        metric: FoldedMetric,
    },
    View {
        file: PathBuf,
        baseline: Option<PathBuf>,
        open: bool,
    },
}

/// The formats `convert --to` offers, in the registry's order.
fn convert_formats() -> impl Iterator<Item = OutputFormat> {
    OutputFormat::all().filter(|format| format.is_convert_target())
}

/// The names of `convert`'s formats, each with `prefix`, as a list: "folded or pprof".
fn convert_choices(prefix: &str) -> String {
    let names: Vec<String> = convert_formats()
        .map(|format| format!("{prefix}{}", format.name()))
        .collect();
    match names.split_last() {
        Some((last, [])) => last.clone(),
        Some((last, rest)) => format!("{} or {last}", rest.join(", ")),
        None => String::new(),
    }
}

/// The usage text, with `convert`'s formats.
fn usage() -> String {
    USAGE.replace(
        "{convert}",
        &format!("the profile as {}", convert_choices("")),
    )
}

/// `convert`'s help, with a paragraph per format.
fn convert_help() -> String {
    let mut formats = String::new();
    for format in convert_formats() {
        let text = format!(
            "{} (default OUT: FILE with the extension .{})",
            format.description(),
            format.extension()
        );
        formats += &wrap(&format!("  {:<8} ", format.name()), &text, 92);
    }
    let names: Vec<&str> = convert_formats().map(OutputFormat::name).collect();
    CONVERT_HELP
        .replace("{names}", &names.join("|"))
        .replace("{formats}", formats.trim_end())
        .replace("{choices}", &convert_choices(""))
}

/// `text` after `first`, wrapped at `width` columns under the column where it starts.
fn wrap(first: &str, text: &str, width: usize) -> String {
    let indent = " ".repeat(first.len());
    let mut out = String::new();
    let mut line = first.to_owned();
    for word in text.split(' ') {
        if line.len() > indent.len() && line.len() + 1 + word.len() > width {
            out += line.trim_end();
            out.push('\n');
            line = indent.clone();
        }
        if line.len() > indent.len() {
            line.push(' ');
        }
        line += word;
    }
    out + line.trim_end() + "\n"
}

/// The usage text; `{convert}` is filled in from the registry of formats.
const USAGE: &str = "\
allocsite: read, compare, convert and open DHAT heap profiles

Usage: allocsite <COMMAND> [OPTIONS] FILE...

Commands:
  summary FILE               totals, peak, end and the top call sites
  diff BEFORE AFTER          call sites that grew, shrank, appeared or went (--fail-above for CI)
  html FILE                  a self-contained HTML report (-o OUT, --baseline FILE)
  convert FILE --to FORMAT   {convert}
  view FILE                  write the report to a temporary file and open it in the browser

Every command reads any DHAT file: allocsite's (target/allocsite/*/*.json, allocsite-profile.json),
the dhat crate's (dhat-heap.json), Valgrind's (valgrind --tool=dhat: heap, copy and ad-hoc modes).

Options:
  -h, --help       this text; `allocsite <COMMAND> --help` for a command's
  -V, --version    the version

Exit status: 0 done, 1 diff --fail-above exceeded, 2 a bad argument or an unreadable file.
";

const SUMMARY_HELP: &str = "\
allocsite summary: the profile's kind, totals, peak and end, and its top call sites

Usage: allocsite summary [--top N] FILE

A call site is the first line of the program's own code in an allocation's stack, shown with
the call it made there; stacks through the same line are one row (the same rows as the
profiler's summary, budget failures and the viewer).

Options:
  --top N        call sites to list (default 10; 0 lists none)
  -h, --help     this text

Example:
  allocsite summary target/allocsite/budgets/parse_stays_within_its_budget.json
";

const DIFF_HELP: &str = "\
allocsite diff: two profiles compared call site by call site

Usage: allocsite diff [--metric M] [--top N] [--fail-above PERCENT] BEFORE AFTER

Each call site present in both files has grown or shrunk (or is unchanged); one only in AFTER
is new, one only in BEFORE is gone. The biggest changes come first. Sites are matched by
function, file and line, as the viewer's Comparison tab matches them.

Options:
  --metric M             total-bytes (default), total-blocks, peak-bytes, end-bytes
  --top N                changed call sites to list (default 20; 0 lists all)
  --fail-above PERCENT   exit with status 1 when the total grew by more than PERCENT percent
                         of BEFORE's (from a total of 0, any growth is too much)
  -h, --help             this text

Example, in CI:
  allocsite diff baseline.json target/allocsite/profile.json --fail-above 5
";

const HTML_HELP: &str = "\
allocsite html: a self-contained HTML report (the viewer with the profile inside)

Usage: allocsite html [-o OUT] [--baseline FILE] FILE

The page opens from disk in any browser, without a network or any other file.

Options:
  -o, --output OUT   where to write it (default: FILE with the extension .html)
  --baseline FILE    compare FILE against this profile: the page opens on the Comparison tab
  -h, --help         this text

Example:
  allocsite html allocsite-profile.json -o report.html
";

/// `convert`'s help; `{names}`, `{formats}` and `{choices}` are filled in from the registry.
const CONVERT_HELP: &str = "\
allocsite convert: the profile in another format

Usage: allocsite convert --to {names} [-o OUT] [--metric M] FILE

Formats:
{formats}

Options:
  --to FORMAT        {choices} (required)
  -o, --output OUT   where to write it; - for standard output
  --metric M         the figure of folded stacks: total-bytes (default), total-blocks,
                     peak-bytes, end-bytes
  -h, --help         this text

Examples:
  allocsite convert profile.json --to pprof -o profile.pb.gz && go tool pprof -top profile.pb.gz
  allocsite convert profile.json --to folded -o - | inferno-flamegraph > flame.svg
";

const VIEW_HELP: &str = "\
allocsite view: open the profile in the browser

Usage: allocsite view [--baseline FILE] [--no-open] FILE

Writes the self-contained report to a new private folder in the temporary directory
($TMPDIR, else /tmp), prints its path, and opens it with the desktop's opener (xdg-open on
Linux and the BSDs, when a desktop session is running; open on macOS; explorer on Windows).
Without an opener the path is printed all the same: open it in any browser.

Options:
  --baseline FILE    compare FILE against this profile (the Comparison tab)
  --no-open          only write the report and print its path
  -h, --help         this text

Example:
  allocsite view target/allocsite/budgets/parse_stays_within_its_budget.json
";

/// A command's help text (`convert`'s is put together from the registry of formats).
type Help = fn() -> String;

const COMMANDS: &[(&str, Help)] = &[
    ("summary", || SUMMARY_HELP.into()),
    ("diff", || DIFF_HELP.into()),
    ("html", || HTML_HELP.into()),
    ("convert", convert_help),
    ("view", || VIEW_HELP.into()),
];

/// Parses the arguments after the program name. `Err` is a one-line message.
pub(crate) fn parse(args: impl IntoIterator<Item = OsString>) -> Result<Command, String> {
    let mut parser = lexopt::Parser::from_args(args);
    let name = match parser.next().map_err(|e| e.to_string())? {
        None => return Err("no command given; see allocsite --help".into()),
        Some(Short('h') | Long("help")) => return Ok(Command::Help(usage())),
        Some(Short('V') | Long("version")) => return Ok(Command::Version),
        Some(Value(name)) => name.to_string_lossy().into_owned(),
        Some(other) => {
            return Err(format!(
                "{} before the command; see allocsite --help",
                other.unexpected()
            ));
        }
    };
    if name == "help" {
        let topic = parser.next().map_err(|e| e.to_string())?;
        return match topic {
            None => Ok(Command::Help(usage())),
            Some(Value(topic)) => help_of(&topic.to_string_lossy()).map(Command::Help),
            Some(other) => Err(other.unexpected().to_string()),
        };
    }
    let help = help_of(&name)?;
    let mut options = Options::default();
    let mut files = Vec::new();
    while let Some(arg) = parser.next().map_err(|e| e.to_string())? {
        match arg {
            Short('h') | Long("help") => return Ok(Command::Help(help)),
            Value(value) => files.push(PathBuf::from(value)),
            Long(option) if options.takes(&name, option) => {
                let option = option.to_owned();
                let value = parser
                    .value()
                    .map_err(|e| format!("allocsite {name}: {e}"))?;
                options.set(&option, value)?;
            }
            Short('o') if options.takes(&name, "output") => {
                let value = parser
                    .value()
                    .map_err(|e| format!("allocsite {name}: {e}"))?;
                options.set("output", value)?;
            }
            Long("no-open") if name == "view" => options.no_open = true,
            other => {
                return Err(format!(
                    "allocsite {name}: {}; see allocsite {name} --help",
                    other.unexpected()
                ));
            }
        }
    }
    options.command(&name, files)
}

fn help_of(name: &str) -> Result<String, String> {
    COMMANDS
        .iter()
        .find(|(command, _)| *command == name)
        .map(|(_, help)| help())
        .ok_or_else(|| {
            format!(
                "unknown command '{name}' (the commands are summary, diff, html, convert, view; \
                 see allocsite --help)"
            )
        })
}

/// The options seen so far, of any command (each command takes the ones `takes` allows).
#[derive(Default)]
struct Options {
    top: Option<usize>,
    metric: Option<FoldedMetric>,
    fail_above: Option<f64>,
    output: Option<PathBuf>,
    baseline: Option<PathBuf>,
    to: Option<OutputFormat>,
    no_open: bool,
}

impl Options {
    /// Does command `name` take the long option `option` (with a value)?
    fn takes(&self, name: &str, option: &str) -> bool {
        let allowed: &[&str] = match name {
            "summary" => &["top"],
            "diff" => &["metric", "top", "fail-above"],
            "html" => &["output", "baseline"],
            "convert" => &["to", "output", "metric"],
            "view" => &["baseline"],
            _ => &[],
        };
        allowed.contains(&option)
    }

    fn set(&mut self, option: &str, value: OsString) -> Result<(), String> {
        let text = || value.to_string_lossy().into_owned();
        match option {
            "top" => {
                self.top = Some(text().parse().map_err(|_| {
                    format!("--top takes a whole number of call sites, not '{}'", text())
                })?);
            }
            "metric" => {
                self.metric = Some(FoldedMetric::from_name(&text()).ok_or_else(|| {
                    format!(
                        "--metric takes total-bytes, total-blocks, peak-bytes or end-bytes, not '{}'",
                        text()
                    )
                })?);
            }
            "fail-above" => {
                let number = text();
                let number = number.trim().trim_end_matches('%');
                self.fail_above = Some(
                    number
                        .parse::<f64>()
                        .ok()
                        // A negative limit would fail a total that did not grow, saying
                        // it grew by more than the limit.
                        .filter(|limit| limit.is_finite() && *limit >= 0.0)
                        .ok_or_else(|| {
                            format!(
                                "--fail-above takes a percentage of 0 or more such as 5 or 2.5, not '{}'",
                                text()
                            )
                        })?,
                );
            }
            "to" => {
                let name = text();
                self.to = Some(
                    OutputFormat::from_name(&name)
                        .filter(|format| format.is_convert_target())
                        .ok_or_else(|| {
                            format!("--to takes {}, not '{name}'", convert_choices(""))
                        })?,
                );
            }
            "output" => self.output = Some(PathBuf::from(value)),
            "baseline" => self.baseline = Some(PathBuf::from(value)),
            _ => unreachable!("`takes` admits only the options above"),
        }
        Ok(())
    }

    fn command(self, name: &str, files: Vec<PathBuf>) -> Result<Command, String> {
        let count = |wanted: &str, n: usize| -> Result<(), String> {
            if files.len() == n {
                Ok(())
            } else {
                Err(format!(
                    "allocsite {name} takes {wanted}, got {} file{}; see allocsite {name} --help",
                    files.len(),
                    if files.len() == 1 { "" } else { "s" }
                ))
            }
        };
        let mut files_iter = files.iter().cloned();
        let mut next = || files_iter.next().expect("counted");
        Ok(match name {
            "summary" => {
                count("one FILE", 1)?;
                Command::Summary {
                    file: next(),
                    top: self.top.unwrap_or(10),
                }
            }
            "diff" => {
                count("two files, BEFORE and AFTER", 2)?;
                Command::Diff {
                    before: next(),
                    after: next(),
                    metric: self.metric.unwrap_or_default(),
                    top: self.top.unwrap_or(20),
                    fail_above: self.fail_above,
                }
            }
            "html" => {
                count("one FILE", 1)?;
                Command::Html {
                    file: next(),
                    output: self.output,
                    baseline: self.baseline,
                }
            }
            "convert" => {
                count("one FILE", 1)?;
                let format = self.to.ok_or_else(|| {
                    format!(
                        "allocsite convert needs {}; see allocsite convert --help",
                        convert_choices("--to ")
                    )
                })?;
                if format != OutputFormat::Folded && self.metric.is_some() {
                    return Err(format!(
                        "--metric is for --to folded (a {} file carries every figure)",
                        format.name()
                    ));
                }
                Command::Convert {
                    file: next(),
                    format,
                    output: self.output,
                    metric: self.metric.unwrap_or_default(),
                }
            }
            "view" => {
                count("one FILE", 1)?;
                Command::View {
                    file: next(),
                    baseline: self.baseline,
                    open: !self.no_open,
                }
            }
            _ => unreachable!("help_of admits only the commands above"),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_str(args: &[&str]) -> Result<Command, String> {
        parse(args.iter().map(OsString::from))
    }

    #[test]
    fn commands_and_their_options() {
        assert_eq!(
            parse_str(&["summary", "p.json", "--top", "3"]),
            Ok(Command::Summary {
                file: "p.json".into(),
                top: 3
            })
        );
        assert_eq!(
            parse_str(&[
                "diff",
                "--fail-above=2.5%",
                "a.json",
                "b.json",
                "--metric",
                "end-bytes"
            ]),
            Ok(Command::Diff {
                before: "a.json".into(),
                after: "b.json".into(),
                metric: FoldedMetric::EndBytes,
                top: 20,
                fail_above: Some(2.5),
            })
        );
        assert_eq!(
            parse_str(&["convert", "p.json", "--to", "folded", "-o", "-"]),
            Ok(Command::Convert {
                file: "p.json".into(),
                format: OutputFormat::Folded,
                output: Some("-".into()),
                metric: FoldedMetric::TotalBytes,
            })
        );
        assert_eq!(
            parse_str(&["view", "--no-open", "p.json"]),
            Ok(Command::View {
                file: "p.json".into(),
                baseline: None,
                open: false
            })
        );
        assert_eq!(
            parse_str(&["help", "diff"]),
            Ok(Command::Help(DIFF_HELP.into()))
        );
        assert_eq!(
            parse_str(&["html", "-h"]),
            Ok(Command::Help(HTML_HELP.into()))
        );
        assert_eq!(parse_str(&["--version"]), Ok(Command::Version));
    }

    /// `convert` offers the library's registered formats that are conversion targets, and
    /// its help describes each with its default extension.
    #[test]
    fn convert_follows_the_registry_of_formats() {
        let Ok(Command::Help(help)) = parse_str(&["convert", "--help"]) else {
            panic!("no help");
        };
        for format in OutputFormat::all() {
            let offered = format.is_convert_target();
            let line = format!("\n  {:<8} ", format.name());
            assert_eq!(help.contains(&line), offered, "{help}");
            let parsed = parse_str(&["convert", "p.json", "--to", format.name()]);
            assert_eq!(parsed.is_ok(), offered, "{parsed:?}");
            if offered {
                let extension = format!("the extension .{})", format.extension());
                assert!(help.contains(&extension), "{help}");
            }
        }
    }

    #[test]
    fn mistakes_are_named() {
        let error = |args: &[&str]| parse_str(args).unwrap_err();
        assert_eq!(error(&[]), "no command given; see allocsite --help");
        assert!(error(&["sumary", "x"]).starts_with("unknown command 'sumary'"));
        assert_eq!(
            error(&["diff", "a.json"]),
            "allocsite diff takes two files, BEFORE and AFTER, got 1 file; see allocsite diff --help"
        );
        assert_eq!(
            error(&["summary", "--fail-above", "3", "p.json"]),
            "allocsite summary: invalid option '--fail-above'; see allocsite summary --help"
        );
        assert_eq!(
            error(&["diff", "a", "b", "--fail-above", "lots"]),
            "--fail-above takes a percentage of 0 or more such as 5 or 2.5, not 'lots'"
        );
        assert_eq!(
            error(&["diff", "a", "b", "--fail-above", "-5"]),
            "--fail-above takes a percentage of 0 or more such as 5 or 2.5, not '-5'"
        );
        assert_eq!(
            error(&["convert", "p.json"]),
            "allocsite convert needs --to folded or --to pprof; see allocsite convert --help"
        );
        assert_eq!(
            error(&["convert", "p.json", "--to", "svg"]),
            "--to takes folded or pprof, not 'svg'"
        );
        assert_eq!(
            error(&["summary", "p.json", "--top"]),
            "allocsite summary: missing argument for option '--top'"
        );
    }
}
