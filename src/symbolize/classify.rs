//! Where a frame's code lives: the user's workspace, a dependency, std, allocsite itself, the
//! C runtime, or nobody knows. Reports use it to name "the first frame of the user's own code".
//!
//! The rules work on frames symbolized live and on frame strings read back from DHAT files
//! (allocsite's, the `dhat` crate's, Valgrind's), so they look only at what a frame string
//! says: the function name, the source path and the object file. The first rule that applies
//! decides:
//!
//! 1. Marker frames (`[root]`, `[… N more frames not captured]`) are `unknown`.
//! 2. **system**: C runtime and allocator functions whatever their file says (`malloc`,
//!    `calloc`, `realloc`, `free` and friends, `__libc_start*`, `_start`, `start_thread`,
//!    `clone`/`clone3`, `_dl_*`, `_Unwind_*`, Valgrind's `(below main)`); frames known only
//!    by a system object file (`(in /usr/lib/…)`, `(in /lib/…)`, Valgrind's `vgpreload_*`).
//! 3. The source path, when it says where the code lives:
//!    - **std**: `/rustc/<hash>/…`, a rust-src copy (`…/library/<std crate>/src/…`), the
//!      trimmed `std/src/…`, `core/src/…`, `alloc/src/…` (and std's other crates), std's own
//!      dependencies under `/rust/deps/<crate>-<version>/…`;
//!    - **dependency** (with crate name and version): crates.io
//!      `…/registry/src/<index>/<crate>-<version>/…` and the trimmed `<crate>-<version>/…`,
//!      git checkouts `…/git/checkouts/<name>-<hash>/<rev>/…` (the version is the revision;
//!      the crate is the folder above `src/` inside the checkout, else the repository's name),
//!      vendored `…/vendor/<crate>/…` or `…/vendor/<crate>-<version>/…`; a dependency named
//!      `allocsite` is **allocsite**;
//!    - **system**: `vg_replace_malloc.c`, `vg_preloaded.c`, glibc's sources (`../sysdeps/…`,
//!      `../csu/…`, `/usr/…`, `/build/glibc-…`, the loader's `rtld.c` and `dl-*.c`).
//!
//!    Windows paths (`C:\Users\me\.cargo\registry\src\…`) are read with `/` for `\`.
//! 4. The function name, by the crates its paths name (`<A as B>::f` names `A`'s and `B`'s;
//!    generic arguments are not looked at; single-word names such as `T` or `make_buffer`
//!    name none): **allocsite** if it names `allocsite` (except `allocsite::…::tests::…`,
//!    allocsite's own tests); **std** if every crate it names is one of std's (`std`, `core`,
//!    `alloc`, `proc_macro`, `test`, …), it is an inherent method of a slice, tuple, pointer,
//!    `str` or number (`<[T]>::to_vec`), or it is a `__rust_*`, `__rdl_*`, `__rg_*`,
//!    `__rustc::*` shim. A C++ name's parameter list is not looked at.
//! 5. Otherwise the frame is the **user**'s if it has a source file (a path in the user's
//!    workspace: `src/main.rs`, `tests/budgets.rs`, `/home/me/app/src/lib.rs`, a C file of a
//!    Valgrind-profiled program) or an object file that is not the system's (the program
//!    itself, built without debug info: `main (in /home/me/prog)`), else **unknown** (`???`,
//!    also in the program's own object file).
//! 6. Across the frames of one file ([`classify_all`]): a frame that rule 5 calls the user's
//!    or unknown, whose function belongs to a crate (its name's first path) that another
//!    frame's path places (a dependency, or one of std's own under `/rust/deps/`), takes that
//!    frame's class. The `dhat` crate keeps only three path components, so std's hashbrown
//!    writes `src/raw/alloc.rs` — rule 5 alone would call it the user's file.
//!
//! The test vectors in `tests/fixtures/frame-classes.json` state every rule (a vector's
//! `context` lists other frames of the same file, for rule 6); the viewer's JavaScript
//! (`viewer/model/frames.js`) implements the same rules and is tested against the same file.
//!
//! Known limit: the `dhat` crate keeps only the last three components of a path, so a file
//! deep inside a dependency (`src/value/de.rs` of serde_json) reads as the user's unless
//! another frame of the file places that crate (rule 6).

use std::collections::HashMap;

use super::frame::Frame;
use super::paths::{Placed, STD_CRATES, placed_by_path};

/// Where a frame's code lives (see the module docs for the rules).
///
/// ```
/// use allocsite::FrameClass;
///
/// let class = FrameClass::of_dhat_frame(
///     "0x55d0c0a1e2f3: serde_json::de::from_str (serde_json-1.0.154/src/de.rs:2676:5)",
/// );
/// assert_eq!(class.name(), "dependency");
/// assert_eq!(class.crate_name(), Some("serde_json"));
/// assert_eq!(class.version(), Some("1.0.154"));
/// assert_eq!(FrameClass::of_dhat_frame("0x1: app::parse (src/main.rs:9:5)"), FrameClass::User);
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum FrameClass {
    /// The user's workspace.
    User,
    /// A dependency of the user's.
    Dependency {
        /// The crate's name (`serde_json`).
        name: String,
        /// Its version (`1.0.154`), a git revision, or `None` when the path does not say.
        version: Option<String>,
    },
    /// std, core, alloc and the rest of the Rust standard library, with its own dependencies.
    Std,
    /// allocsite itself.
    Allocsite,
    /// The C runtime, the dynamic loader, the system allocator, Valgrind's replacements.
    System,
    /// Nothing says (`???`, a name without debug info, a marker frame).
    #[default]
    Unknown,
}

impl FrameClass {
    /// The class of a DHAT frame string, as allocsite, the `dhat` crate and Valgrind write
    /// them: `0x1a2b: app::parse (src/main.rs:12:5)`, `0x4AA1D9F: fn (file.c:332)`,
    /// `0x4848899: malloc (in /lib/x.so)`, or a marker such as `[root]`.
    pub fn of_dhat_frame(frame: &str) -> FrameClass {
        classify(&Frame::parse(frame))
    }

    /// The classes of all the frame strings of one DHAT file (its `ftbl`), in order. Unlike
    /// [`FrameClass::of_dhat_frame`] this looks across the frames: a frame whose path was cut
    /// to `src/raw/alloc.rs` (as the `dhat` crate writes paths) belongs to the crate that
    /// another frame's path places.
    ///
    /// ```
    /// use allocsite::FrameClass;
    ///
    /// let classes = FrameClass::of_dhat_frames(&[
    ///     "0x1: hashbrown::map::HashMap<K,V,S,A>::insert (hashbrown-0.16.1/src/map.rs:1843:20)",
    ///     "0x2: hashbrown::raw::alloc::inner::do_alloc (src/raw/alloc.rs:19:21)",
    /// ]);
    /// assert_eq!(classes[1].crate_name(), Some("hashbrown"));
    /// assert_eq!(FrameClass::of_dhat_frame("0x2: hashbrown::raw::alloc::inner::do_alloc (src/raw/alloc.rs:19:21)"), FrameClass::User);
    /// ```
    pub fn of_dhat_frames(frames: &[&str]) -> Vec<FrameClass> {
        let frames: Vec<Frame> = frames.iter().map(|f| Frame::parse(f)).collect();
        classify_all(&frames)
    }

    /// `"user"`, `"dependency"`, `"std"`, `"allocsite"`, `"system"` or `"unknown"`.
    pub fn name(&self) -> &'static str {
        match self {
            FrameClass::User => "user",
            FrameClass::Dependency { .. } => "dependency",
            FrameClass::Std => "std",
            FrameClass::Allocsite => "allocsite",
            FrameClass::System => "system",
            FrameClass::Unknown => "unknown",
        }
    }

    /// The dependency's crate name.
    pub fn crate_name(&self) -> Option<&str> {
        match self {
            FrameClass::Dependency { name, .. } => Some(name),
            _ => None,
        }
    }

    /// The dependency's version (or git revision), when its path says.
    pub fn version(&self) -> Option<&str> {
        match self {
            FrameClass::Dependency { version, .. } => version.as_deref(),
            _ => None,
        }
    }

    /// The label of a call site that stands in for the user's frame when a stack has none:
    /// `[in serde_json 1.0.154]`, `[in std]`, `[in allocsite]`, `[in system code]`; `None`
    /// for the user's frames and unknown ones.
    pub fn stand_in_label(&self) -> Option<String> {
        match self {
            FrameClass::User | FrameClass::Unknown => None,
            FrameClass::Dependency { name, version } => Some(match version {
                Some(version) => format!("[in {name} {version}]"),
                None => format!("[in {name}]"),
            }),
            FrameClass::Std => Some("[in std]".into()),
            FrameClass::Allocsite => Some("[in allocsite]".into()),
            FrameClass::System => Some("[in system code]".into()),
        }
    }
}

/// The class of one frame (the rules are in the module docs).
pub(crate) fn classify(frame: &Frame) -> FrameClass {
    decide(frame).class
}

/// The classes of all the frames of one file (or stack): each frame alone, then rule 6 of
/// the module docs (a frame that is the user's only for want of a better clue takes the
/// class of the crate its function belongs to, when another frame's path places that crate).
pub(crate) fn classify_all(frames: &[Frame]) -> Vec<FrameClass> {
    let decisions: Vec<Decision> = frames.iter().map(decide).collect();
    let mut placed: HashMap<String, &Decision> = HashMap::new();
    for decision in &decisions {
        if let Some(name) = &decision.placed_crate {
            placed.entry(name.replace('-', "_")).or_insert(decision);
        }
    }
    decisions
        .iter()
        .zip(frames)
        .map(|(decision, frame)| {
            let weak = matches!(decision.class, FrameClass::User | FrameClass::Unknown);
            let owner = (weak && !decision.by_path)
                .then(|| crates_named(cpp_name(&frame.function)).first().copied())
                .flatten();
            match owner.and_then(|owner| placed.get(owner)) {
                Some(placing) => placing.class.clone(),
                None => decision.class.clone(),
            }
        })
        .collect()
}

/// A frame's class, and how it was decided.
struct Decision {
    class: FrameClass,
    /// The source path decided (rule 3), not the function's name or the lack of a clue.
    by_path: bool,
    /// The crate a path places (a dependency's, or one of std's own dependencies under
    /// `/rust/deps/`), for rule 6.
    placed_crate: Option<String>,
}

fn decide(frame: &Frame) -> Decision {
    let decided = |class| Decision {
        class,
        by_path: false,
        placed_crate: None,
    };
    if frame.is_marker() {
        return decided(FrameClass::Unknown);
    }
    let function = frame.function.as_str();
    if is_system_function(function) || frame.object.as_deref().is_some_and(is_system_object) {
        return decided(FrameClass::System);
    }
    let path = frame
        .file
        .as_deref()
        .map(|file| file.trim().replace('\\', "/"));
    if let Some(placed) = path.as_deref().and_then(placed_by_path) {
        let (class, placed_crate) = match placed {
            Placed::Std { dependency } => (FrameClass::Std, dependency),
            Placed::System => (FrameClass::System, None),
            Placed::Crate { name, .. } if name == "allocsite" => (FrameClass::Allocsite, None),
            Placed::Crate { name, version } => (
                FrameClass::Dependency {
                    name: name.clone(),
                    version,
                },
                Some(name),
            ),
        };
        return Decision {
            class,
            by_path: true,
            placed_crate,
        };
    }
    let function = cpp_name(function);
    let crates = crates_named(function);
    if crates.contains(&"allocsite") && !function.contains("::tests::") {
        return decided(FrameClass::Allocsite);
    }
    let shim = ["__rust_", "__rdl_", "__rg_", "__rustc::"]
        .iter()
        .any(|p| function.starts_with(p));
    let std_names = !crates.is_empty() && crates.iter().all(|c| STD_CRATES.contains(c));
    if shim || std_names || (crates.is_empty() && is_primitive_method(function)) {
        return decided(FrameClass::Std);
    }
    // The user's: a source file, or a named function in an object file that is not the
    // system's (rule 2).
    let named = !function.is_empty() && function != "???";
    if frame.file.is_some() || (named && frame.object.is_some()) {
        decided(FrameClass::User)
    } else {
        decided(FrameClass::Unknown)
    }
}

/// A C++ function name without its parameter list (`std::vector<int>::push_back(int const&)`
/// → `std::vector<int>::push_back`): the parameters' types are not where the code lives.
fn cpp_name(function: &str) -> &str {
    if !function.ends_with(')') {
        return function;
    }
    let mut depth = 0usize;
    for (i, c) in function.char_indices() {
        match c {
            '<' => depth += 1,
            '>' => depth = depth.saturating_sub(1),
            '(' if depth == 0 && i > 0 => return &function[..i],
            _ => {}
        }
    }
    function
}

/// An inherent method of a slice, array, tuple, pointer, `str` or a primitive number
/// (`<[T]>::to_vec`, `<str>::to_owned`, `<u8>::is_ascii`): only std has those.
fn is_primitive_method(function: &str) -> bool {
    let Some(rest) = function.strip_prefix('<') else {
        return false;
    };
    let mut own = rest.trim_start_matches("&mut ").trim_start_matches('&');
    own = own.trim_start_matches("mut ");
    if own.starts_with(['[', '(', '*']) {
        return true;
    }
    let word: String = own
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
        .collect();
    let primitives = [
        "str", "bool", "char", "i8", "i16", "i32", "i64", "i128", "isize", "u8", "u16", "u32",
        "u64", "u128", "usize", "f32", "f64",
    ];
    primitives.contains(&word.as_str()) && own[word.len()..].starts_with('>')
}

/// C runtime and allocator functions (glibc's versioned names, `malloc@@GLIBC_2.2.5`, too).
fn is_system_function(function: &str) -> bool {
    let name = function.split('@').next().unwrap_or(function);
    const EXACT: &[&str] = &[
        "malloc",
        "calloc",
        "realloc",
        "reallocarray",
        "free",
        "memalign",
        "posix_memalign",
        "aligned_alloc",
        "valloc",
        "pvalloc",
        "malloc_usable_size",
        "_start",
        "start_thread",
        "clone",
        "clone3",
        "__clone",
        "__clone3",
        "__GI___clone",
        "__GI___clone3",
        "(below main)",
    ];
    const PREFIXES: &[&str] = &[
        "__libc_",
        "_dl_",
        "__GI_",
        "_Unwind_",
        "operator new",
        "operator delete",
    ];
    EXACT.contains(&name) || PREFIXES.iter().any(|p| name.starts_with(p))
}

/// Shared objects of the system: the C library, the loader, Valgrind's preloads.
fn is_system_object(object: &str) -> bool {
    let file = object.rsplit('/').next().unwrap_or(object);
    ["/usr/", "/lib/", "/lib32/", "/lib64/", "/libx32/"]
        .iter()
        .any(|p| object.starts_with(p))
        || [
            "vgpreload_",
            "ld-linux",
            "linux-vdso",
            "libc.so",
            "libc-",
            "libgcc_s",
            "libstdc++",
        ]
        .iter()
        .any(|p| file.starts_with(p))
}

/// The crates a demangled function name's paths start with: `a::b::f` names `a`;
/// `<a::X<b::Y> as c::Z>::f` names `a` and `c` (generic arguments and `::<impl …>` blocks
/// are skipped); a single word (`T`, `[T]`, `make_buffer`) names none.
fn crates_named(function: &str) -> Vec<&str> {
    let bytes = function.as_bytes();
    let is_path_byte = |b: u8| is_ident_byte(b) || b == b':' || b >= 0x80;
    let mut crates = Vec::new();
    let mut index = 0;
    while index < bytes.len() {
        if is_path_byte(bytes[index]) {
            let start = index;
            while index < bytes.len() && is_path_byte(bytes[index]) {
                index += 1;
            }
            // A path that starts with `::` continues one (`<A as B>::f`, `::{{closure}}`).
            let token = &function[start..index];
            if let Some((head, _)) = token.split_once("::")
                && !head.is_empty()
                && !crates.contains(&head)
            {
                crates.push(head);
            }
        } else if bytes[index] == b'<'
            && index > 0
            && (is_ident_byte(bytes[index - 1]) || bytes[index - 1] == b':')
        {
            // Generic arguments (`Vec<T>`, `f::<T>`) and impl paths (`slice::<impl [T]>`):
            // skip to the matching `>`.
            let mut depth = 0usize;
            while index < bytes.len() {
                match bytes[index] {
                    b'<' => depth += 1,
                    b'>' if bytes[index - 1] != b'-' => {
                        depth -= 1;
                        if depth == 0 {
                            break;
                        }
                    }
                    _ => {}
                }
                index += 1;
            }
            index += 1;
        } else {
            index += 1;
        }
    }
    crates
}

fn is_ident_byte(byte: u8) -> bool {
    byte.is_ascii_alphanumeric() || byte == b'_'
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crates_named_by_function_names() {
        assert_eq!(crates_named("app::parse"), ["app"]);
        assert_eq!(
            crates_named("<alloc::vec::Vec<app::Row> as core::clone::Clone>::clone"),
            ["alloc", "core"]
        );
        assert_eq!(
            crates_named("<F as core::ops::function::FnOnce<(A,)>>::call_once"),
            ["core"]
        );
        assert_eq!(
            crates_named(
                "<&mut serde_json::de::Deserializer<R> as serde_core::de::Deserializer>::deserialize_any"
            ),
            ["serde_json", "serde_core"]
        );
        assert_eq!(crates_named("alloc::slice::<impl [T]>::to_vec"), ["alloc"]);
        assert_eq!(crates_named("app::main::{{closure}}"), ["app"]);
        assert!(crates_named("make_buffer").is_empty());
        assert!(crates_named("???").is_empty());
    }

    /// The class of every frame of a fixture file, by function name.
    fn fixture_classes(name: &str) -> Vec<(String, &'static str)> {
        let path = format!(
            "{}/viewer/tests/fixtures/{name}",
            env!("CARGO_MANIFEST_DIR")
        );
        let text = std::fs::read_to_string(path).unwrap();
        let file: serde_json::Value = serde_json::from_str(&text).unwrap();
        file["ftbl"]
            .as_array()
            .unwrap()
            .iter()
            .map(|frame| {
                let frame = Frame::parse(frame.as_str().unwrap());
                let class = classify(&frame).name();
                (frame.function, class)
            })
            .collect()
    }

    #[test]
    fn the_dhat_crate_s_frames_are_the_program_s_or_std_s() {
        let classes = fixture_classes("dhat-crate-heap.json");
        assert_eq!(classes[0], ("[root]".to_owned(), "unknown"));
        for (function, class) in &classes[1..] {
            // dhat-rs trims paths to three components (`src/vec/mod.rs`): the names decide.
            let expected = if function.starts_with("dhatfix::") {
                "user"
            } else {
                "std"
            };
            assert_eq!(*class, expected, "{function}");
        }
        let ad_hoc = fixture_classes("dhat-crate-ad-hoc.json");
        assert_eq!(ad_hoc[1], ("dhat::ad_hoc_event".to_owned(), "dependency"));
    }

    #[test]
    fn valgrind_s_frames_are_the_program_s_or_the_system_s() {
        let classes = fixture_classes("valgrind-heap.json");
        let expected = [
            ("[root]", "unknown"),
            ("malloc", "system"),
            ("make_buffer", "user"),
            ("short_lived", "user"),
            ("main", "user"),
            ("calloc", "system"),
            ("make_table", "user"),
            ("main", "user"),
            ("main", "user"),
        ];
        let actual: Vec<(&str, &str)> = classes.iter().map(|(f, c)| (f.as_str(), *c)).collect();
        assert_eq!(actual, expected);
    }
}
