//! One frame of a stack: built from debug info when a report is written, or read back from
//! the frame strings of a DHAT file (allocsite's, the `dhat` crate's, Valgrind's); how source
//! paths are shortened (feature `track`).

/// The text of the frame that ends a stack the capture cut at its frame limit, naming how
/// many frames were left out (`at_least`: the capture stopped counting there).
#[cfg_attr(not(feature = "track"), allow(dead_code))]
pub(crate) fn more_frames_not_captured(left_out: usize, at_least: bool) -> String {
    let plural = if left_out == 1 { "" } else { "s" };
    let bound = if at_least { "at least " } else { "" };
    format!("[… {bound}{left_out} more frame{plural} not captured]")
}

/// One frame. Inlined functions expand one address into several frames.
///
/// Public only through `allocsite::__bench` (feature `track`).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(not(feature = "track"), allow(unreachable_pub))]
pub struct Frame {
    /// The captured return address (not adjusted); 0 for a marker frame.
    pub address: usize,
    /// Demangled function name without the hash, or `"???"` if unknown. For a marker frame
    /// (`[root]`, `[… 12 more frames not captured]`) the whole marker.
    pub function: String,
    /// Source file, trimmed (see [`Frame::dhat_string`]).
    pub file: Option<String>,
    /// Source line of the call.
    pub line: Option<u32>,
    /// Source column of the call.
    pub column: Option<u32>,
    /// The object file, when that is all the debug info says (Valgrind's
    /// `0x4848899: malloc (in /usr/libexec/valgrind/vgpreload_dhat-amd64-linux.so)`).
    pub object: Option<String>,
}

#[cfg_attr(not(feature = "track"), allow(unreachable_pub))]
impl Frame {
    /// A frame that is a visible note in a stack rather than code, e.g.
    /// `[… 12 more frames not captured]` ([`more_frames_not_captured`]).
    pub fn marker(text: &str) -> Frame {
        Frame {
            address: 0,
            function: text.to_owned(),
            file: None,
            line: None,
            column: None,
            object: None,
        }
    }

    /// True for a marker frame (`[root]`, `[… more frames not captured]`): bracketed text with
    /// no address.
    pub fn is_marker(&self) -> bool {
        self.address == 0
            && self.file.is_none()
            && self.object.is_none()
            && self.function.starts_with('[')
            && self.function.ends_with(']')
    }

    /// DHAT style, as Valgrind and the dhat crate write it:
    /// `"0x1a2b: crate::module::function (src/file.rs:12:5)"`. Missing parts are written as
    /// `???` and `0`, like dhat-rs does; a frame known only by its object file as Valgrind
    /// writes it (`"0x1a2b: malloc (in /usr/lib/x.so)"`); a marker frame as its text.
    ///
    /// Paths are trimmed when the frame is built: files of the profiled package are relative
    /// to its root (`src/lib.rs`), std's start at the library crate (`alloc/src/raw_vec.rs`),
    /// crates.io dependencies at the crate's folder (`serde_json-1.0.0/src/de.rs`), git
    /// dependencies at `git/checkouts/`, std's own dependencies keep their `/rust/deps/` path,
    /// and other paths keep their last three components as dhat-rs does.
    #[cfg_attr(not(feature = "track"), allow(dead_code))]
    pub fn dhat_string(&self) -> String {
        if self.is_marker() {
            return self.function.clone();
        }
        if let (None, Some(object)) = (&self.file, &self.object) {
            return format!("{:#x}: {} (in {object})", self.address, self.function);
        }
        format!(
            "{:#x}: {} ({}:{}:{})",
            self.address,
            self.function,
            self.file.as_deref().unwrap_or("???"),
            self.line.unwrap_or(0),
            self.column.unwrap_or(0),
        )
    }

    /// Reads a frame string of a DHAT file, as allocsite, the `dhat` crate and Valgrind write
    /// them: `"0x1a2b: crate::module::function (src/file.rs:12:5)"`,
    /// `"0x4AA1D9F: fn (file.c:332)"`, `"0x4848899: malloc (in /lib/x.so)"`, or a marker such
    /// as `"[root]"`. Function names may contain parentheses and spaces
    /// (`<F as core::ops::FnOnce<(A,)>>::call_once`), so the location is the last
    /// parenthesised group, matched from the right. `???` and `0` read as missing. Never
    /// fails: text it cannot split is the function name.
    pub fn parse(text: &str) -> Frame {
        let text = text.trim();
        let mut frame = Frame::marker(text);
        if frame.is_marker() {
            return frame;
        }
        let mut rest = text;
        if let Some((address, after)) = text.split_once(": ")
            && let Some(hex) = address.strip_prefix("0x").or(address.strip_prefix("0X"))
            && let Ok(value) = usize::from_str_radix(hex, 16)
        {
            frame.address = value;
            rest = after;
        }
        let (function, location) = split_location(rest);
        frame.function = if function.is_empty() {
            "???".to_owned()
        } else {
            function.to_owned()
        };
        if let Some(location) = location {
            if let Some(object) = location.strip_prefix("in ") {
                frame.object = Some(object.trim().to_owned());
            } else {
                let (file, line, column) = split_file_line(location);
                frame.file = (file != "???" && !file.is_empty()).then(|| file.to_owned());
                frame.line = line.filter(|&n| n > 0);
                frame.column = column.filter(|&n| n > 0);
            }
        }
        frame
    }

    /// `function (file:line)`, for terminal output: the file and line when known, else the
    /// object file, else the function alone. (Reports use it: unused without `report`.)
    #[cfg_attr(not(feature = "report"), allow(dead_code))]
    pub fn describe(&self) -> String {
        match (&self.file, self.line, &self.object) {
            (Some(file), Some(line), _) => format!("{} ({file}:{line})", self.function),
            (Some(file), None, _) => format!("{} ({file})", self.function),
            (None, _, Some(object)) => format!("{} (in {object})", self.function),
            _ => self.function.clone(),
        }
    }
}

/// Splits `function (location)` at the last parenthesised group, matched from the right; a
/// group that does not look like a location (`file:line`, `???`, `in object`) stays part of
/// the function name.
fn split_location(text: &str) -> (&str, Option<&str>) {
    let Some(inner_end) = text.len().checked_sub(1).filter(|_| text.ends_with(')')) else {
        return (text.trim(), None);
    };
    let mut depth = 0usize;
    for (index, c) in text.char_indices().rev() {
        match c {
            ')' => depth += 1,
            '(' => {
                depth -= 1;
                if depth == 0 {
                    let location = &text[index + 1..inner_end];
                    let function = &text[..index];
                    let looks_like_location = location.starts_with("in ")
                        || location.starts_with("???")
                        || location.contains(':')
                        || location.contains('.');
                    if function.ends_with(' ') && looks_like_location {
                        return (function.trim(), Some(location.trim()));
                    }
                    break;
                }
            }
            _ => {}
        }
    }
    (text.trim(), None)
}

/// `file:line:column`, `file:line` or `file`, read from the right (Windows paths have a `:`).
fn split_file_line(location: &str) -> (&str, Option<u32>, Option<u32>) {
    let number = |s: &str| s.parse::<u32>().ok();
    let Some((head, last)) = location
        .rsplit_once(':')
        .filter(|(_, n)| number(n).is_some())
    else {
        return (location, None, None);
    };
    match head.rsplit_once(':').filter(|(_, n)| number(n).is_some()) {
        Some((file, line)) => (file, number(line), number(last)),
        None => (head, number(last), None),
    }
}

/// Shortens a source path for display (see [`Frame::dhat_string`]).
#[cfg(feature = "track")]
pub(super) fn trim_path(path: &str, package_root: Option<&str>) -> String {
    if let Some(rest) = package_root.and_then(|root| path.strip_prefix(root)) {
        return rest.to_owned();
    }
    // std: "/rustc/<hash>/library/alloc/src/raw_vec.rs" or a rust-src copy.
    if let Some(i) = path.rfind("/library/") {
        let rest = &path[i + "/library/".len()..];
        if rest.contains("/src/") {
            return rest.to_owned();
        }
    }
    // std's own dependencies ("/rust/deps/hashbrown-0.15.2/src/raw/mod.rs") stay whole:
    // trimmed, they would look like a crates.io dependency or a file of the user's.
    if path.starts_with("/rust/deps/") {
        return path.to_owned();
    }
    // crates.io: ".../registry/src/<index>/serde-1.0.0/src/de.rs".
    if let Some(i) = path.find("/registry/src/") {
        let rest = &path[i + "/registry/src/".len()..];
        if let Some(j) = rest.find('/') {
            return rest[j + 1..].to_owned();
        }
    }
    // git: ".../git/checkouts/<name>-<hash>/<rev>/src/lib.rs" keeps "git/checkouts/...".
    if let Some(i) = path.find("/git/checkouts/") {
        return path[i + 1..].to_owned();
    }
    if !path.starts_with('/') {
        return path.to_owned();
    }
    // dhat-rs: the last three components.
    let parts: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    parts[parts.len().saturating_sub(3)..].join("/")
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;

    /// A frame with a function and optional file, for the trimming tests.
    #[cfg(feature = "track")]
    pub(crate) fn frame(function: &str, file: Option<&str>) -> Frame {
        Frame {
            address: 0x1000,
            function: function.to_owned(),
            file: file.map(str::to_owned),
            line: Some(1),
            column: Some(1),
            object: None,
        }
    }

    #[test]
    fn dhat_string_format() {
        let f = Frame {
            address: 0x1a2b,
            function: "app::module::function".to_owned(),
            file: Some("src/file.rs".to_owned()),
            line: Some(12),
            column: Some(5),
            object: None,
        };
        assert_eq!(
            f.dhat_string(),
            "0x1a2b: app::module::function (src/file.rs:12:5)"
        );
        let unknown = Frame {
            address: 0xff,
            function: "???".to_owned(),
            file: None,
            line: None,
            column: None,
            object: None,
        };
        assert_eq!(unknown.dhat_string(), "0xff: ??? (???:0:0)");
        let marker = more_frames_not_captured(12, false);
        assert_eq!(marker, "[… 12 more frames not captured]");
        assert_eq!(Frame::marker(&marker).dhat_string(), marker);
        assert_eq!(
            more_frames_not_captured(512, true),
            "[… at least 512 more frames not captured]"
        );
        assert_eq!(
            more_frames_not_captured(1, false),
            "[… 1 more frame not captured]"
        );
    }

    #[test]
    fn parses_every_tool_s_frame_strings_and_round_trips_allocsite_s() {
        let allocsite = "0x1a2b: app::module::function (src/file.rs:12:5)";
        let frame = Frame::parse(allocsite);
        assert_eq!(
            (
                frame.address,
                frame.function.as_str(),
                frame.file.as_deref()
            ),
            (0x1a2b, "app::module::function", Some("src/file.rs"))
        );
        assert_eq!((frame.line, frame.column), (Some(12), Some(5)));
        assert_eq!(frame.dhat_string(), allocsite);

        let shim = Frame::parse(
            "0x55d0: <F as core::ops::function::FnOnce<(A,)>>::call_once (core/src/ops/function.rs:250:5)",
        );
        assert_eq!(
            shim.function,
            "<F as core::ops::function::FnOnce<(A,)>>::call_once"
        );
        assert_eq!(shim.file.as_deref(), Some("core/src/ops/function.rs"));

        let valgrind = Frame::parse("0x4AA1D9F: make_table (dhat-sample.c:332)");
        assert_eq!(valgrind.address, 0x4AA1D9F);
        assert_eq!(
            (valgrind.file.as_deref(), valgrind.line, valgrind.column),
            (Some("dhat-sample.c"), Some(332), None)
        );

        let object = Frame::parse(
            "0x48417B4: malloc (in /usr/libexec/valgrind/vgpreload_dhat-amd64-linux.so)",
        );
        assert_eq!(object.function, "malloc");
        assert_eq!(object.file, None);
        assert_eq!(
            object.object.as_deref(),
            Some("/usr/libexec/valgrind/vgpreload_dhat-amd64-linux.so")
        );
        assert_eq!(
            object.dhat_string(),
            "0x48417b4: malloc (in /usr/libexec/valgrind/vgpreload_dhat-amd64-linux.so)"
        );

        let below = Frame::parse("0x48D6D8F: (below main) (libc_start_call_main.h:58)");
        assert_eq!(below.function, "(below main)");
        assert_eq!(below.file.as_deref(), Some("libc_start_call_main.h"));

        let unknown = Frame::parse(
            "0x562e185ae2e7: <alloc::raw_vec::RawVecInner>::try_allocate_in (???:0:0)",
        );
        assert_eq!(
            unknown.function,
            "<alloc::raw_vec::RawVecInner>::try_allocate_in"
        );
        assert_eq!((unknown.file, unknown.line), (None, None));

        let no_address = Frame::parse("main (src/main.rs:1)");
        assert_eq!(
            (
                no_address.address,
                no_address.function.as_str(),
                no_address.line
            ),
            (0, "main", Some(1))
        );
        assert!(Frame::parse("[root]").is_marker());
        assert!(Frame::parse(&more_frames_not_captured(3, false)).is_marker());
        // A parenthesised group that is no location stays in the name.
        assert_eq!(Frame::parse("0x1: f (closure)").function, "f (closure)");
        assert_eq!(
            Frame::parse(r"0x1: app::f (C:\src\main.rs:3:9)")
                .file
                .as_deref(),
            Some(r"C:\src\main.rs")
        );
    }

    #[test]
    fn describe_names_the_line() {
        assert_eq!(
            Frame::parse("0x1: app::parse (src/main.rs:9:5)").describe(),
            "app::parse (src/main.rs:9)"
        );
        assert_eq!(
            Frame::parse("0x1: malloc (in /usr/lib/libc.so.6)").describe(),
            "malloc (in /usr/lib/libc.so.6)"
        );
        assert_eq!(Frame::parse("0x1: ??? (???:0:0)").describe(), "???");
    }

    #[cfg(feature = "track")]
    #[test]
    fn paths_are_trimmed() {
        let root = Some("/home/me/app/");
        assert_eq!(trim_path("/home/me/app/src/lib.rs", root), "src/lib.rs");
        assert_eq!(
            trim_path("/rustc/0123abcd/library/alloc/src/raw_vec.rs", root),
            "alloc/src/raw_vec.rs"
        );
        assert_eq!(
            trim_path(
                "/home/me/.cargo/registry/src/index.crates.io-1949cf8c6b5b557f/serde_json-1.0.1/src/de.rs",
                root
            ),
            "serde_json-1.0.1/src/de.rs"
        );
        assert_eq!(
            trim_path("/rust/deps/hashbrown-0.15.2/src/raw/alloc.rs", root),
            "/rust/deps/hashbrown-0.15.2/src/raw/alloc.rs"
        );
        assert_eq!(
            trim_path(
                "/home/me/.cargo/git/checkouts/tokio-1a2b3c4d5e6f7a8b/9c8d7e6/tokio/src/lib.rs",
                root
            ),
            "git/checkouts/tokio-1a2b3c4d5e6f7a8b/9c8d7e6/tokio/src/lib.rs"
        );
        assert_eq!(trim_path("/usr/src/glibc/x/y/z.c", root), "x/y/z.c");
        assert_eq!(trim_path("src/main.rs", None), "src/main.rs");
    }
}
