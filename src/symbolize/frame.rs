//! One symbolized frame, and how source paths are shortened and recognised.

/// One symbolized frame. Inlined functions expand one address into several frames.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Frame {
    /// The captured return address (not adjusted).
    pub address: usize,
    /// Demangled function name without the hash, or `"???"` if unknown.
    pub function: String,
    /// Source file, trimmed (see [`Frame::dhat_string`]).
    pub file: Option<String>,
    /// Source line of the call.
    pub line: Option<u32>,
    /// Source column of the call.
    pub column: Option<u32>,
}

impl Frame {
    /// DHAT style, as Valgrind and the dhat crate write it:
    /// `"0x1a2b: crate::module::function (src/file.rs:12:5)"`. Missing parts are written as
    /// `???` and `0`, like dhat-rs does.
    ///
    /// Paths are trimmed when the frame is built: files of the profiled package are relative
    /// to its root (`src/lib.rs`), std's start at the library crate (`alloc/src/raw_vec.rs`),
    /// crates.io dependencies at the crate's folder (`serde_json-1.0.0/src/de.rs`), and other
    /// paths keep their last three components as dhat-rs does.
    pub fn dhat_string(&self) -> String {
        format!(
            "{:#x}: {} ({}:{}:{})",
            self.address,
            self.function,
            self.file.as_deref().unwrap_or("???"),
            self.line.unwrap_or(0),
            self.column.unwrap_or(0),
        )
    }

    /// True for frames of std, core, alloc, allocsite, the `backtrace` crate and the runtime:
    /// used to find "the first frame in the user's code".
    pub fn is_library_frame(&self) -> bool {
        if self.file.as_deref().is_some_and(is_std_path) {
            return true;
        }
        let f = self.function.as_str();
        let f = f.strip_prefix('<').unwrap_or(f);
        const LIBRARY_PREFIXES: &[&str] = &[
            "std::",
            "core::",
            "alloc::",
            "allocsite::",
            "backtrace::",
            "test::",
            "__rust",
            "__rdl_",
            "__rg_",
            "_Unwind_",
            "__libc_start",
            "_start",
            "start_thread",
            "clone",
        ];
        LIBRARY_PREFIXES.iter().any(|p| f.starts_with(p)) || f == "main" || f == "???"
    }
}

/// Paths of std, core and alloc as they appear in debug info.
pub(super) fn is_std_path(path: &str) -> bool {
    path.starts_with("/rustc/")
        || ["std/src/", "core/src/", "alloc/src/", "panic_unwind/src/"]
            .iter()
            .any(|p| path.starts_with(p))
}

/// Shortens a source path for display (see [`Frame::dhat_string`]).
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
    // crates.io: ".../registry/src/<index>/serde-1.0.0/src/de.rs".
    if let Some(i) = path.find("/registry/src/") {
        let rest = &path[i + "/registry/src/".len()..];
        if let Some(j) = rest.find('/') {
            return rest[j + 1..].to_owned();
        }
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

    /// A frame with a function and optional file, for trimming and classification tests.
    pub(crate) fn frame(function: &str, file: Option<&str>) -> Frame {
        Frame {
            address: 0x1000,
            function: function.to_owned(),
            file: file.map(str::to_owned),
            line: Some(1),
            column: Some(1),
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
        };
        assert_eq!(unknown.dhat_string(), "0xff: ??? (???:0:0)");
    }

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
        assert_eq!(trim_path("/usr/src/glibc/x/y/z.c", root), "x/y/z.c");
        assert_eq!(trim_path("src/main.rs", None), "src/main.rs");
    }

    #[test]
    fn library_frames() {
        assert!(frame("alloc::raw_vec::finish_grow", None).is_library_frame());
        assert!(
            frame("<alloc::vec::Vec<T> as core::clone::Clone>::clone", None).is_library_frame()
        );
        assert!(frame("allocsite::Profiler::new", None).is_library_frame());
        assert!(frame("app::Thing::fmt", Some("core/src/fmt/mod.rs")).is_library_frame());
        assert!(!frame("app::main", Some("src/main.rs")).is_library_frame());
        assert!(
            !frame(
                "<app::Thing as core::fmt::Display>::fmt",
                Some("src/lib.rs")
            )
            .is_library_frame()
        );
    }
}
