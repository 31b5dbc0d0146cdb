//! Reading DHAT frame strings (`0x1a2b: crate::f (src/f.rs:12:5)`, Valgrind's
//! `0x4AA1D9F: f (file.c:332)` and `0x4AA1D9F: f (in /lib/x.so)`) into their parts.

/// One DHAT frame string, taken apart. Unknown parts (`???`, missing, line 0) are `None`/0.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(super) struct FrameText {
    pub(super) address: Option<u64>,
    pub(super) function: Option<String>,
    pub(super) file: Option<String>,
    pub(super) line: i64,
    pub(super) column: i64,
    /// Valgrind's `(in /lib/x.so)`: the object the address is in, when no file is known.
    pub(super) object: Option<String>,
}

/// Parses `ADDRESS: FUNCTION (LOCATION)`, where the address and the location are optional
/// and the location is `file:line:column`, `file:line` or `in object`. The location is the
/// last parenthesized group, preceded by a space, that reads as one; everything else is the
/// function name, so names with parentheses (`<T as Fn<(A,)>>::call`, `(below main)`) stay
/// whole.
pub(super) fn parse_frame(text: &str) -> FrameText {
    let text = text.trim();
    let mut frame = FrameText::default();
    let mut rest = text;
    if let Some((head, tail)) = text.split_once(':') {
        let digits = head.strip_prefix("0x").or_else(|| head.strip_prefix("0X"));
        if let Some(address) = digits.and_then(|d| u64::from_str_radix(d, 16).ok()) {
            frame.address = Some(address).filter(|&a| a != 0);
            rest = tail.trim_start();
        }
    }
    let mut function = rest;
    if let Some((name, location)) = split_location(rest) {
        if let Some(object) = location.strip_prefix("in ") {
            function = name;
            frame.object = known(object.trim()).map(str::to_owned);
        } else if let Some((file, line, column)) = file_line_column(location) {
            function = name;
            frame.file = known(file).map(str::to_owned);
            frame.line = line;
            frame.column = column;
        }
    }
    frame.function = known(function.trim()).map(str::to_owned);
    frame
}

/// `None` for an empty or `???` part.
fn known(part: &str) -> Option<&str> {
    Some(part).filter(|p| !p.is_empty() && *p != "???")
}

/// Splits `name (group)` at the last balanced parenthesized group, which must end the text
/// and follow a space after a non-empty name.
fn split_location(text: &str) -> Option<(&str, &str)> {
    let body = text.strip_suffix(')')?;
    let mut depth = 0usize;
    for (at, c) in body.char_indices().rev() {
        match c {
            ')' => depth += 1,
            '(' if depth > 0 => depth -= 1,
            '(' => {
                let name = text[..at].strip_suffix(' ')?;
                if name.trim().is_empty() {
                    return None;
                }
                return Some((name, &body[at + 1..]));
            }
            _ => {}
        }
    }
    None
}

/// `file:line:column` or `file:line` (line and column may be 0 for unknown).
fn file_line_column(location: &str) -> Option<(&str, i64, i64)> {
    let number = |s: &str| s.parse::<u32>().ok().map(i64::from);
    let (head, last) = location.rsplit_once(':')?;
    let last = number(last)?;
    if let Some((file, line)) = head.rsplit_once(':')
        && let Some(line) = number(line)
    {
        return Some((file, line, last));
    }
    Some((head, last, 0))
}

// ---------------------------------------------------------------------------------------
// Encoding.

#[cfg(test)]
mod tests {
    use super::*;

    // -- Frame strings. --------------------------------------------------------------------

    fn frame(
        address: Option<u64>,
        function: Option<&str>,
        file: Option<&str>,
        line: i64,
        column: i64,
        object: Option<&str>,
    ) -> FrameText {
        FrameText {
            address,
            function: function.map(str::to_owned),
            file: file.map(str::to_owned),
            line,
            column,
            object: object.map(str::to_owned),
        }
    }

    #[test]
    fn parses_every_tools_frame_strings() {
        let cases = [
            (
                "0x1a2b: crate::module::function (src/file.rs:12:5)",
                frame(
                    Some(0x1a2b),
                    Some("crate::module::function"),
                    Some("src/file.rs"),
                    12,
                    5,
                    None,
                ),
            ),
            (
                "0x4AA1D9F: make_buffer (dhat-sample.c:332)",
                frame(
                    Some(0x4aa1d9f),
                    Some("make_buffer"),
                    Some("dhat-sample.c"),
                    332,
                    0,
                    None,
                ),
            ),
            (
                "0x48417B4: malloc (in /usr/libexec/valgrind/vgpreload_dhat-amd64-linux.so)",
                frame(
                    Some(0x48417b4),
                    Some("malloc"),
                    None,
                    0,
                    0,
                    Some("/usr/libexec/valgrind/vgpreload_dhat-amd64-linux.so"),
                ),
            ),
            (
                "0x401AB77: ??? (in /usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2)",
                frame(
                    Some(0x401ab77),
                    None,
                    None,
                    0,
                    0,
                    Some("/usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2"),
                ),
            ),
            (
                "0x10: <T as core::ops::Fn<(A,)>>::call (src/x.rs:1:2)",
                frame(
                    Some(0x10),
                    Some("<T as core::ops::Fn<(A,)>>::call"),
                    Some("src/x.rs"),
                    1,
                    2,
                    None,
                ),
            ),
            (
                "0x10: <F as core::ops::FnOnce<()>>::call_once",
                frame(
                    Some(0x10),
                    Some("<F as core::ops::FnOnce<()>>::call_once"),
                    None,
                    0,
                    0,
                    None,
                ),
            ),
            (
                "0x4C2A0B3: (below main) (libc-start.c:308)",
                frame(
                    Some(0x4c2a0b3),
                    Some("(below main)"),
                    Some("libc-start.c"),
                    308,
                    0,
                    None,
                ),
            ),
            (
                "0x4C2A0B3: (below main)",
                frame(Some(0x4c2a0b3), Some("(below main)"), None, 0, 0, None),
            ),
            (
                "0x20: ??? (???:0:0)",
                frame(Some(0x20), None, None, 0, 0, None),
            ),
            (
                "0x20: demo::f (???:0:0)",
                frame(Some(0x20), Some("demo::f"), None, 0, 0, None),
            ),
            (
                "0x21: demo::g (src/a (copy).rs:3:1)",
                frame(
                    Some(0x21),
                    Some("demo::g"),
                    Some("src/a (copy).rs"),
                    3,
                    1,
                    None,
                ),
            ),
            (
                "0x22: demo::h (C:\\src\\main.rs:7:9)",
                frame(
                    Some(0x22),
                    Some("demo::h"),
                    Some("C:\\src\\main.rs"),
                    7,
                    9,
                    None,
                ),
            ),
            (
                "0x23: f (not a location)",
                frame(Some(0x23), Some("f (not a location)"), None, 0, 0, None),
            ),
            (
                "main (src/main.rs:1)",
                frame(None, Some("main"), Some("src/main.rs"), 1, 0, None),
            ),
            ("[root]", frame(None, Some("[root]"), None, 0, 0, None)),
            ("0x24: ", frame(Some(0x24), None, None, 0, 0, None)),
            (
                "0x25: unbalanced) (x.rs:1)",
                frame(Some(0x25), Some("unbalanced)"), Some("x.rs"), 1, 0, None),
            ),
            ("", frame(None, None, None, 0, 0, None)),
        ];
        for (text, expected) in cases {
            assert_eq!(parse_frame(text), expected, "{text:?}");
        }
    }
}
