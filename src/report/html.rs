//! Self-contained HTML reports: the bundled viewer (`viewer/` in the repository) with
//! the DHAT JSON inlined, so one `.html` file opens from disk with no other file and no
//! network.
//!
//! The page is `viewer/index.html` with `viewer.css` and the scripts it loads (`model/*.js`,
//! then `views/*.js`, in its order) inlined in place of their `<link>`/`<script src>` tags,
//! and the profile placed at the `<!-- allocsite:data -->` marker as
//! `<script type="application/json" id="allocsite-data">…</script>`. Inside that element
//! every `<` of the JSON is written as `\u003c` (the same string to a JSON parser), so the
//! data can never close the element early, whatever the frame names contain.
//!
//! This module does not depend on the `track` feature.

use std::fmt;
use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use super::validate::validate_text;
use super::write::write_atomically;

const INDEX_HTML: &str = include_str!("../../viewer/index.html");
const VIEWER_CSS: &str = include_str!("../../viewer/viewer.css");

/// `(path, text)` of each of the viewer's scripts, `include_str!`ed from `viewer/`.
macro_rules! viewer_scripts {
    ($($path:literal),* $(,)?) => {
        &[$(($path, include_str!(concat!("../../viewer/", $path)))),*]
    };
}

/// The viewer's scripts, in the order `index.html` loads them (the model, then the views):
/// each is inlined in place of its `<script src="…"></script>` tag. A test checks this list
/// against `index.html`'s tags; add a new script to both.
const SCRIPTS: &[(&str, &str)] = viewer_scripts![
    "model/frames.js",
    "model/parse.js",
    "model/trees.js",
    "model/sites.js",
    "views/common.js",
    "views/trees.js",
    "views/sites.js",
    "views/compare.js",
    "views/shell.js",
];

const CSS_LINK: &str = r#"<link rel="stylesheet" href="viewer.css">"#;
const DATA_MARKER: &str = "<!-- allocsite:data -->";

/// Element ids the viewer reads on startup.
const DATA_ID: &str = "allocsite-data";
const BASELINE_ID: &str = "allocsite-data-baseline";

/// Writes a self-contained HTML report: the viewer with `dhat_json` inlined.
///
/// `dhat_json` is not checked here (the viewer explains any problem when the page is
/// opened); use [`convert_file`] to validate a file first.
///
/// # Errors
///
/// Any error writing to `out`.
///
/// ```
/// use allocsite::report::html::write_html_report;
///
/// let json = r#"{"dhatFileVersion":2,"mode":"rust-heap","verb":"Allocated","bklt":false,
///   "bkacc":false,"tu":"µs","Mtu":"s","cmd":"demo","pid":1,"te":10,
///   "pps":[{"tb":16,"tbk":1,"fs":[1]}],"ftbl":["[root]","main (src/main.rs:1)"]}"#;
/// let mut page = Vec::new();
/// write_html_report(json, &mut page)?;
/// let page = String::from_utf8(page).unwrap();
/// assert!(page.contains(r#"id="allocsite-data""#));
/// assert!(!page.contains(r#"<script src="#)); // the scripts are inlined
/// # Ok::<(), std::io::Error>(())
/// ```
pub fn write_html_report<W: Write>(dhat_json: &str, out: W) -> io::Result<()> {
    write_page(&[(DATA_ID, None, dhat_json)], out)
}

/// Like [`write_html_report`], with the name the page shows for the data (the command that
/// was profiled, a file name) instead of "embedded data".
///
/// # Errors
///
/// Any error writing to `out`.
///
/// ```
/// use allocsite::report::html::write_named_html_report;
///
/// let json = r#"{"dhatFileVersion":2,"mode":"rust-heap","verb":"Allocated","bklt":false,
///   "bkacc":false,"tu":"µs","Mtu":"s","cmd":"demo","pid":1,"te":10,
///   "pps":[{"tb":16,"tbk":1,"fs":[1]}],"ftbl":["[root]","main (src/main.rs:1)"]}"#;
/// let mut page = Vec::new();
/// write_named_html_report(json, "target/release/demo --fast", &mut page)?;
/// let page = String::from_utf8(page).unwrap();
/// assert!(page.contains(r#"id="allocsite-data" data-name="target/release/demo --fast""#));
/// # Ok::<(), std::io::Error>(())
/// ```
pub fn write_named_html_report<W: Write>(dhat_json: &str, name: &str, out: W) -> io::Result<()> {
    write_page(&[(DATA_ID, Some(name), dhat_json)], out)
}

/// Writes a self-contained HTML comparison report: the viewer with both profiles
/// inlined. It opens on the "Comparison" tab, listing the allocation sites that grew,
/// shrank, appeared or disappeared between `baseline_json` and `current_json`.
///
/// # Errors
///
/// Any error writing to `out`.
///
/// ```
/// use allocsite::report::html::write_comparison_report;
///
/// let before = r#"{"dhatFileVersion":2,"mode":"rust-heap","verb":"Allocated","bklt":false,
///   "bkacc":false,"tu":"µs","Mtu":"s","cmd":"demo","pid":1,"te":10,
///   "pps":[{"tb":16,"tbk":1,"fs":[1]}],"ftbl":["[root]","main (src/main.rs:1)"]}"#;
/// let after = before.replace(r#""tb":16"#, r#""tb":32"#);
/// let mut page = Vec::new();
/// write_comparison_report(before, &after, &mut page)?;
/// let page = String::from_utf8(page).unwrap();
/// assert!(page.contains(r#"id="allocsite-data-baseline""#));
/// # Ok::<(), std::io::Error>(())
/// ```
pub fn write_comparison_report<W: Write>(
    baseline_json: &str,
    current_json: &str,
    out: W,
) -> io::Result<()> {
    write_page(
        &[
            (DATA_ID, None, current_json),
            (BASELINE_ID, None, baseline_json),
        ],
        out,
    )
}

/// Reads a DHAT JSON file, validates it enough to give a clear error, writes the report.
///
/// The output is written to a temporary file first and then renamed over `output`, so a
/// reader never sees a half-written page.
///
/// # Errors
///
/// [`HtmlReportError`]: the input cannot be read, is not a valid DHAT file (the message
/// names the problem and where), or the output cannot be written.
///
/// ```
/// use allocsite::report::html::convert_file;
///
/// let dir = std::env::temp_dir().join(format!("allocsite-html-doc-{}", std::process::id()));
/// std::fs::create_dir_all(&dir)?;
/// let input = dir.join("profile.json");
/// std::fs::write(&input, r#"{"dhatFileVersion":2,"mode":"rust-heap","verb":"Allocated",
///   "bklt":false,"bkacc":false,"tu":"µs","Mtu":"s","cmd":"demo","pid":1,"te":10,
///   "pps":[{"tb":16,"tbk":1,"fs":[1]}],"ftbl":["[root]","main (src/main.rs:1)"]}"#)?;
/// convert_file(&input, &dir.join("profile.html"))?;
/// assert!(std::fs::read_to_string(dir.join("profile.html"))?.contains("allocsite-data"));
///
/// // Problems name the file and what is wrong with it.
/// std::fs::write(&input, r#"{"dhatFileVersion":3}"#)?;
/// let err = convert_file(&input, &dir.join("bad.html")).unwrap_err();
/// assert!(err.to_string().contains("dhatFileVersion is 3, expected 2"));
/// # std::fs::remove_dir_all(&dir)?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn convert_file(input: &Path, output: &Path) -> Result<(), HtmlReportError> {
    let json = read_valid(input)?;
    let name = display_name(input);
    write_report(output, |w| {
        write_page(&[(DATA_ID, name.as_deref(), &json)], w)
    })
}

/// Like [`convert_file`], for a comparison report of two DHAT files (see
/// [`write_comparison_report`]). Both files are validated before anything is written.
///
/// # Errors
///
/// As [`convert_file`], for either input.
///
/// ```
/// use allocsite::report::html::convert_comparison;
///
/// let dir = std::env::temp_dir().join(format!("allocsite-html-cmp-{}", std::process::id()));
/// std::fs::create_dir_all(&dir)?;
/// let json = r#"{"dhatFileVersion":2,"mode":"rust-heap","verb":"Allocated","bklt":false,
///   "bkacc":false,"tu":"µs","Mtu":"s","cmd":"demo","pid":1,"te":10,
///   "pps":[{"tb":16,"tbk":1,"fs":[1]}],"ftbl":["[root]","main (src/main.rs:1)"]}"#;
/// std::fs::write(dir.join("before.json"), json)?;
/// std::fs::write(dir.join("after.json"), json)?;
/// convert_comparison(&dir.join("before.json"), &dir.join("after.json"), &dir.join("cmp.html"))?;
/// assert!(std::fs::read_to_string(dir.join("cmp.html"))?.contains("allocsite-data-baseline"));
/// # std::fs::remove_dir_all(&dir)?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn convert_comparison(
    baseline: &Path,
    current: &Path,
    output: &Path,
) -> Result<(), HtmlReportError> {
    let base = read_valid(baseline)?;
    let cur = read_valid(current)?;
    let (bn, cn) = (display_name(baseline), display_name(current));
    write_report(output, |w| {
        write_page(
            &[
                (DATA_ID, cn.as_deref(), &cur),
                (BASELINE_ID, bn.as_deref(), &base),
            ],
            w,
        )
    })
}

/// Why a DHAT file could not be turned into an HTML report. The `Display` text names the
/// file and the problem, e.g. `profile.json: not JSON at line 3 column 5: expected value`.
#[derive(Debug)]
#[non_exhaustive]
pub enum HtmlReportError {
    /// The input file could not be read.
    Read {
        /// The input file.
        path: PathBuf,
        /// The underlying error.
        source: io::Error,
    },
    /// The input file is not a DHAT file this viewer can show.
    Invalid {
        /// The input file.
        path: PathBuf,
        /// What is wrong, e.g. `dhatFileVersion is 3, expected 2`.
        problem: String,
    },
    /// The report could not be written.
    Write {
        /// The output file.
        path: PathBuf,
        /// The underlying error.
        source: io::Error,
    },
}

impl fmt::Display for HtmlReportError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Read { path, source } => write!(f, "cannot read {}: {}", path.display(), source),
            Self::Invalid { path, problem } => write!(f, "{}: {}", path.display(), problem),
            Self::Write { path, source } => {
                write!(f, "cannot write {}: {}", path.display(), source)
            }
        }
    }
}

impl std::error::Error for HtmlReportError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Read { source, .. } | Self::Write { source, .. } => Some(source),
            Self::Invalid { .. } => None,
        }
    }
}

// ------------------------------------------------------------------------------------
// Page assembly

/// Writes the viewer page with the given data elements: (element id, optional file name
/// shown in the page, JSON text).
fn write_page<W: Write>(data: &[(&str, Option<&str>, &str)], mut out: W) -> io::Result<()> {
    let (head, rest) = split_once_checked(INDEX_HTML, CSS_LINK)?;
    let (middle, mut rest) = split_once_checked(rest, DATA_MARKER)?;

    out.write_all(head.as_bytes())?;
    out.write_all(b"<style>\n")?;
    out.write_all(VIEWER_CSS.as_bytes())?;
    out.write_all(b"</style>")?;
    out.write_all(middle.as_bytes())?;
    for (id, name, json) in data {
        write!(out, r#"<script type="application/json" id="{id}""#)?;
        if let Some(name) = name {
            write!(out, r#" data-name="{}""#, escape_attr(name))?;
        }
        out.write_all(b">")?;
        write_escaped_json(json, &mut out)?;
        out.write_all(b"</script>\n")?;
    }
    for (path, script) in SCRIPTS {
        let (between, tail) = split_once_checked(rest, &script_tag(path))?;
        out.write_all(between.as_bytes())?;
        out.write_all(b"<script>\n")?;
        out.write_all(script.as_bytes())?;
        out.write_all(b"</script>")?;
        rest = tail;
    }
    out.write_all(rest.as_bytes())?;
    out.flush()
}

/// The tag that loads the viewer's script `path` in `index.html`.
fn script_tag(path: &str) -> String {
    format!(r#"<script src="{path}"></script>"#)
}

fn split_once_checked<'a>(s: &'a str, marker: &str) -> io::Result<(&'a str, &'a str)> {
    s.split_once(marker).ok_or_else(|| {
        io::Error::new(
            io::ErrorKind::InvalidData,
            format!("viewer/index.html lacks the marker {marker}"),
        )
    })
}

/// Writes `json` with every `<` as `\u003c`. In valid JSON a `<` can only occur inside a
/// string, where the escape means the same character, so the data is unchanged for the
/// viewer's `JSON.parse`, and `</script>` or `<!--` can never appear in the element.
fn write_escaped_json<W: Write>(json: &str, out: &mut W) -> io::Result<()> {
    let mut rest = json;
    while let Some(i) = rest.find('<') {
        out.write_all(&rest.as_bytes()[..i])?;
        out.write_all(b"\\u003c")?;
        rest = &rest[i + 1..];
    }
    out.write_all(rest.as_bytes())
}

fn escape_attr(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => o.push_str("&amp;"),
            '<' => o.push_str("&lt;"),
            '>' => o.push_str("&gt;"),
            '"' => o.push_str("&quot;"),
            '\'' => o.push_str("&#39;"),
            c => o.push(c),
        }
    }
    o
}

fn display_name(p: &Path) -> Option<String> {
    p.file_name().map(|n| n.to_string_lossy().into_owned())
}

// ------------------------------------------------------------------------------------
// Files

fn write_report(
    output: &Path,
    write: impl FnOnce(&mut dyn Write) -> io::Result<()>,
) -> Result<(), HtmlReportError> {
    write_atomically(output, write).map_err(|source| HtmlReportError::Write {
        path: output.to_owned(),
        source,
    })
}

fn read_valid(path: &Path) -> Result<String, HtmlReportError> {
    let json = fs::read_to_string(path).map_err(|source| HtmlReportError::Read {
        path: path.to_owned(),
        source,
    })?;
    validate_text(&json).map_err(|problem| HtmlReportError::Invalid {
        path: path.to_owned(),
        problem,
    })?;
    Ok(json)
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = r#"{"dhatFileVersion":2,"mode":"rust-heap","verb":"Allocated","bklt":true,"bkacc":false,
        "tu":"µs","Mtu":"s","tuth":10,"cmd":"t","pid":1,"tg":5,"te":10,
        "pps":[{"tb":8,"tbk":1,"tl":3,"mb":8,"mbk":1,"gb":8,"gbk":1,"eb":0,"ebk":0,"fs":[1]}],
        "ftbl":["[root]","evil</script><script>alert(1)</script><!-- (x.rs:1)"]}"#;

    fn page(json: &str) -> String {
        let mut v = Vec::new();
        write_html_report(json, &mut v).unwrap();
        String::from_utf8(v).unwrap()
    }

    #[test]
    fn script_end_tags_in_data_are_escaped() {
        let p = page(GOOD);
        let start = p.find(r#"id="allocsite-data">"#).unwrap();
        let data = &p[start..];
        let data = &data[data.find('>').unwrap() + 1..data.find("</script>").unwrap()];
        assert!(!data.contains('<'), "raw < left in the data element");
        assert!(data.contains(r"evil\u003c/script>\u003cscript>"));
        // The escaped text is still the same JSON.
        let a: serde_json::Value = serde_json::from_str(data).unwrap();
        let b: serde_json::Value = serde_json::from_str(GOOD).unwrap();
        assert_eq!(a, b);
    }

    #[test]
    fn inlined_assets_cannot_end_their_elements() {
        for (_, script) in SCRIPTS {
            assert!(!script.to_ascii_lowercase().contains("</script"));
            assert!(!script.contains("<!--"));
        }
        assert!(!VIEWER_CSS.to_ascii_lowercase().contains("</style"));
    }

    #[test]
    fn output_references_no_external_files() {
        let p = page(GOOD);
        for needle in [
            r#"src="#, r#"href="#, "<link", "http://", "https://", "@import", "url(", "fetch(",
        ] {
            assert!(!p.contains(needle), "report contains {needle:?}");
        }
        assert!(p.contains("<style>") && p.contains("allocsite-data"));
        assert_eq!(
            p.matches("<script").count(),
            1 + SCRIPTS.len(),
            "one data element and the inline scripts"
        );
        for (path, _) in SCRIPTS {
            assert!(!p.contains(&script_tag(path)), "{path} is not inlined");
        }
    }

    /// The one list of the viewer's scripts is `index.html`'s `<script src>` tags; this
    /// module's `SCRIPTS` must name the same files in the same order, or a report would
    /// miss a script or run them out of order.
    #[test]
    fn scripts_are_the_ones_index_html_loads_in_its_order() {
        let loaded: Vec<&str> = INDEX_HTML
            .split(r#"<script src=""#)
            .skip(1)
            .map(|tail| &tail[..tail.find('"').unwrap()])
            .collect();
        let inlined: Vec<&str> = SCRIPTS.iter().map(|(path, _)| *path).collect();
        assert_eq!(
            inlined, loaded,
            "SCRIPTS in src/report/html.rs and viewer/index.html"
        );
        for (path, _) in SCRIPTS {
            assert_eq!(INDEX_HTML.matches(&script_tag(path)).count(), 1, "{path}");
        }
    }

    #[test]
    fn comparison_has_both_elements() {
        let mut v = Vec::new();
        write_comparison_report(GOOD, GOOD, &mut v).unwrap();
        let p = String::from_utf8(v).unwrap();
        assert!(
            p.contains(r#"id="allocsite-data""#) && p.contains(r#"id="allocsite-data-baseline""#)
        );
    }

    #[test]
    fn convert_file_is_atomic_and_reports_paths() {
        let dir = std::env::temp_dir().join(format!("allocsite-html-test-{}", std::process::id()));
        fs::create_dir_all(&dir).unwrap();
        let input = dir.join("in.json");
        let output = dir.join("out.html");
        fs::write(&input, GOOD).unwrap();
        convert_file(&input, &output).unwrap();
        assert!(
            fs::read_to_string(&output)
                .unwrap()
                .contains(r#"data-name="in.json""#)
        );
        assert!(
            !dir.join(format!("out.html.tmp-{}", std::process::id()))
                .exists()
        );

        fs::write(&input, "{\"dhatFileVersion\":2,").unwrap();
        let e = convert_file(&input, &dir.join("bad.html")).unwrap_err();
        assert!(matches!(e, HtmlReportError::Invalid { .. }));
        assert!(
            e.to_string().contains("in.json") && e.to_string().contains("truncated"),
            "{e}"
        );
        assert_eq!(
            fs::read_dir(&dir).unwrap().count(),
            2,
            "in.json and out.html only"
        );

        let e = convert_file(&dir.join("missing.json"), &output).unwrap_err();
        assert!(
            e.to_string().starts_with("cannot read ") && e.to_string().contains("missing.json"),
            "{e}"
        );
        fs::remove_dir_all(&dir).unwrap();
    }
}
