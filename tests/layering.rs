//! The architecture's structural promises, checked by reading the sources (ARCHITECTURE.md
//! states them as "Architecture invariant" lines):
//!
//! - no import cycle between the files of `src/`, counting every `crate::…` and `super::…`
//!   path in the code (inline paths as well as `use` lines), not only the `use` lines;
//! - the hot path (the allocator hooks, the thread state, the counters, the sampler, the
//!   recorder and stack capture) names no report-side module;
//! - the engine names neither the public API nor the reports, and `symbolize` only where it
//!   runs off the hot path;
//! - `capture/` stands alone; `symbolize/` stands on `capture/` only; reports never reach
//!   the budgets, the profiler or the backend switch;
//! - no source file is longer than 600 lines: the library's (tests beside the code
//!   included), the command's (`cli/src/`) and the viewer's scripts, page and styles.
//!
//! Paths are resolved to the file that defines the module they name (the longest prefix of
//! the path that is a module file), so `crate::engine::thread::untracked` is an edge to
//! `src/engine/thread.rs`. Code is written to name items where they are defined, not
//! through re-exports, so that this textual resolution is exact. `#[cfg(test)] mod tests`
//! blocks are left out (tests may reach anywhere), but not the code after them.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// A source file and the module path it defines (`src/engine/thread.rs` → `engine::thread`).
struct SourceFile {
    path: String,
    module: Vec<String>,
    code: String,
}

fn source_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

fn read_sources() -> Vec<SourceFile> {
    let root = source_root();
    let mut files = Vec::new();
    let mut pending = vec![root.clone()];
    while let Some(dir) = pending.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                pending.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                let relative = path
                    .strip_prefix(&root)
                    .unwrap()
                    .to_str()
                    .unwrap()
                    .to_owned();
                let mut module: Vec<String> = relative
                    .trim_end_matches(".rs")
                    .split('/')
                    .map(str::to_owned)
                    .collect();
                if matches!(module.last().map(String::as_str), Some("mod" | "lib")) {
                    module.pop();
                }
                let text = std::fs::read_to_string(&path).unwrap();
                files.push(SourceFile {
                    path: format!("src/{relative}"),
                    module,
                    code: code_only(&text),
                });
            }
        }
    }
    files.sort_by(|a, b| a.path.cmp(&b.path));
    files
}

/// The text without comments, string literals and `#[cfg(test)] mod tests { … }` blocks
/// (only the block: code written after a test module is still read).
fn code_only(text: &str) -> String {
    without_test_modules(&strip_comments_and_strings(text))
}

/// Removes each `#[cfg(test)] mod tests { … }` block, up to its matching brace (the text has
/// no comments or string literals left, so every brace is code).
fn without_test_modules(code: &str) -> String {
    const START: &str = "#[cfg(test)]\nmod tests {";
    let mut out = String::with_capacity(code.len());
    let mut rest = code;
    while let Some(start) = rest.find(START) {
        out.push_str(&rest[..start]);
        let body = &rest[start + START.len()..];
        let mut depth = 1;
        let mut end = body.len();
        for (i, c) in body.char_indices() {
            match c {
                '{' => depth += 1,
                '}' => depth -= 1,
                _ => {}
            }
            if depth == 0 {
                end = i + 1;
                break;
            }
        }
        rest = &body[end..];
    }
    out.push_str(rest);
    out
}

/// The text without comments and string literals (each literal becomes `""`).
fn strip_comments_and_strings(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    while i < bytes.len() {
        let rest = &text[i..];
        if rest.starts_with("//") {
            i += rest.find('\n').unwrap_or(rest.len());
        } else if rest.starts_with("/*") {
            i += rest.find("*/").map_or(rest.len(), |end| end + 2);
        } else if let Some(raw) = raw_string_len(rest) {
            i += raw;
            out.push_str("\"\"");
        } else if rest.starts_with('"') {
            let mut j = 1;
            while j < rest.len() {
                match bytes[i + j] {
                    b'\\' => j += 2,
                    b'"' => break,
                    _ => j += 1,
                }
            }
            i += j + 1;
            out.push_str("\"\"");
        } else if rest.starts_with("'\"'") || rest.starts_with("'{'") || rest.starts_with("'}'") {
            i += 3;
        } else {
            let c = rest.chars().next().unwrap();
            out.push(c);
            i += c.len_utf8();
        }
    }
    out
}

/// The length of a raw string literal (`r"…"`, `r#"…"#`, …) at the start of `text`.
fn raw_string_len(text: &str) -> Option<usize> {
    let after_r = text.strip_prefix('r')?;
    let hashes = after_r.len() - after_r.trim_start_matches('#').len();
    let body = after_r[hashes..].strip_prefix('"')?;
    let close = format!("\"{}", "#".repeat(hashes));
    let end = body.find(&close)?;
    Some(1 + hashes + 1 + end + close.len())
}

/// Every path the code names, as written, with the inline module (`mod name { … }`) it is
/// written in: `crate::a::b`, `super::super::c`, and the paths `use` lines build with
/// braces (`use crate::a::{b, c::d}` → `crate::a::b`, `crate::a::c::d`).
fn named_paths(code: &str) -> Vec<(String, Vec<String>)> {
    let bytes = code.as_bytes();
    let mut paths = Vec::new();
    // Inline modules open at a brace depth: (name, depth inside it).
    let mut inline: Vec<(String, usize)> = Vec::new();
    let mut depth = 0;
    let mut i = 0;
    while i < bytes.len() {
        let at = &code[i..];
        let boundary = i == 0 || !is_ident(bytes[i - 1]) && bytes[i - 1] != b'$';
        let context = || {
            inline
                .iter()
                .map(|(name, _)| name.clone())
                .collect::<Vec<_>>()
        };
        if boundary && at.starts_with("use ") {
            let end = at.find(';').unwrap_or(at.len());
            let mut expanded = Vec::new();
            expand_use("", &at[4..end], &mut expanded);
            paths.extend(expanded.into_iter().map(|path| (path, context())));
            i += end;
            continue;
        }
        if boundary && at.starts_with("mod ") {
            let name: String = at[4..]
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_')
                .collect();
            let after = at[4 + name.len()..].trim_start();
            if after.starts_with('{') {
                depth += 1;
                inline.push((name, depth));
                i += at.find('{').unwrap() + 1;
                continue;
            }
        }
        if boundary && (at.starts_with("crate::") || at.starts_with("super::")) {
            let len = at
                .find(|c: char| !(c.is_alphanumeric() || c == '_' || c == ':'))
                .unwrap_or(at.len());
            paths.push((at[..len].trim_end_matches(':').to_owned(), context()));
            i += len;
            continue;
        }
        match bytes[i] {
            b'{' => depth += 1,
            b'}' => {
                if inline.last().is_some_and(|(_, d)| *d == depth) {
                    inline.pop();
                }
                depth -= 1;
            }
            _ => {}
        }
        i += 1;
    }
    paths.retain(|(path, _)| path.starts_with("crate::") || path.starts_with("super::"));
    paths
}

fn is_ident(byte: u8) -> bool {
    byte.is_ascii_alphanumeric() || byte == b'_'
}

/// Expands one use tree (`a::{b, c::{d, e as f}}`) under `prefix`.
fn expand_use(prefix: &str, tree: &str, out: &mut Vec<String>) {
    let tree = tree.trim();
    if tree.is_empty() {
        return;
    }
    let join = |tail: &str| {
        if prefix.is_empty() {
            tail.to_owned()
        } else {
            format!("{prefix}::{tail}")
        }
    };
    match tree.find('{') {
        Some(open) => {
            let head = tree[..open].trim().trim_end_matches("::");
            let inner = &tree[open + 1..tree.rfind('}').unwrap_or(tree.len())];
            let base = join(head);
            let mut depth = 0;
            let mut start = 0;
            for (i, c) in inner.char_indices() {
                match c {
                    '{' => depth += 1,
                    '}' => depth -= 1,
                    ',' if depth == 0 => {
                        expand_use(&base, &inner[start..i], out);
                        start = i + 1;
                    }
                    _ => {}
                }
            }
            expand_use(&base, &inner[start..], out);
        }
        None => {
            let name = tree.split(" as ").next().unwrap().trim();
            let full = if name == "self" {
                prefix.to_owned()
            } else {
                join(name)
            };
            out.push(full);
        }
    }
}

/// Maps module paths to files, including `#[path = "…"] mod name;` declarations.
fn module_index(files: &[SourceFile]) -> BTreeMap<Vec<String>, String> {
    let mut index: BTreeMap<Vec<String>, String> = files
        .iter()
        .map(|file| (file.module.clone(), file.path.clone()))
        .collect();
    for file in files {
        let text = std::fs::read_to_string(source_root().join(&file.path[4..])).unwrap();
        let mut rest = text.as_str();
        while let Some(at) = rest.find("#[path = \"") {
            let after = &rest[at + 10..];
            let target = &after[..after.find('"').unwrap()];
            let declaration = &after[after.find("mod ").unwrap() + 4..];
            let name = &declaration[..declaration.find(';').unwrap()];
            let folder = Path::new(&file.path).parent().unwrap();
            let target = folder.join(target).to_str().unwrap().to_owned();
            let mut module = file.module.clone();
            module.push(name.trim().to_owned());
            index.insert(module, target.clone());
            // The files below a #[path] module keep their own directory's names.
            for other in files {
                if let Some(child) = other
                    .path
                    .strip_prefix(target.trim_end_matches("mod.rs"))
                    .filter(|_| target.ends_with("mod.rs") && other.path != target)
                {
                    let mut child_module = file.module.clone();
                    child_module.push(name.trim().to_owned());
                    child_module.extend(
                        child
                            .trim_end_matches(".rs")
                            .trim_end_matches("/mod")
                            .split('/')
                            .map(str::to_owned),
                    );
                    index.insert(child_module, other.path.clone());
                }
            }
            rest = &after[after.find(';').unwrap()..];
        }
    }
    index
}

/// The module a file *is* for path resolution (a `#[path]` module is known by its
/// declared name, not its directory).
fn module_of(file: &SourceFile, index: &BTreeMap<Vec<String>, String>) -> Vec<String> {
    index
        .iter()
        .find(|(_, path)| **path == file.path)
        .map(|(module, _)| module.clone())
        .unwrap_or_else(|| file.module.clone())
}

/// The file a path names: the longest prefix of it that is a module file.
fn resolve(
    path: &str,
    current: &[String],
    is_mod_file: bool,
    index: &BTreeMap<Vec<String>, String>,
) -> Option<String> {
    let mut segments: Vec<&str> = path.split("::").collect();
    let mut module: Vec<String> = match segments.first() {
        Some(&"crate") => {
            segments.remove(0);
            Vec::new()
        }
        Some(&"super") => {
            // `super` of `a/b.rs` (module a::b) is `a`; of `a/b/mod.rs` (module a::b) is `a`.
            let _ = is_mod_file;
            let mut module = current.to_vec();
            while segments.first() == Some(&"super") {
                segments.remove(0);
                module.pop();
            }
            module
        }
        _ => return None,
    };
    let mut best = index.get(&module).cloned();
    for segment in segments {
        module.push(segment.to_owned());
        match index.get(&module) {
            Some(file) => best = Some(file.clone()),
            None => break,
        }
    }
    best
}

/// Edges file → files it names.
fn dependency_graph(files: &[SourceFile]) -> BTreeMap<String, BTreeSet<String>> {
    let index = module_index(files);
    let mut graph = BTreeMap::new();
    for file in files {
        let module = module_of(file, &index);
        let is_mod = file.path.ends_with("mod.rs");
        let mut targets = BTreeSet::new();
        for (path, inline) in named_paths(&file.code) {
            let mut within = module.clone();
            within.extend(inline);
            if let Some(target) = resolve(&path, &within, is_mod, &index)
                && target != file.path
            {
                targets.insert(target);
            }
        }
        graph.insert(file.path.clone(), targets);
    }
    graph
}

/// Strongly connected components with more than one file (Tarjan).
fn cycles(graph: &BTreeMap<String, BTreeSet<String>>) -> Vec<Vec<String>> {
    struct State<'a> {
        graph: &'a BTreeMap<String, BTreeSet<String>>,
        index: BTreeMap<&'a str, usize>,
        low: BTreeMap<&'a str, usize>,
        stack: Vec<&'a str>,
        on_stack: BTreeSet<&'a str>,
        found: Vec<Vec<String>>,
    }
    fn visit<'a>(state: &mut State<'a>, node: &'a str) {
        let n = state.index.len();
        state.index.insert(node, n);
        state.low.insert(node, n);
        state.stack.push(node);
        state.on_stack.insert(node);
        for next in state.graph.get(node).into_iter().flatten() {
            let next = next.as_str();
            if !state.index.contains_key(next) {
                visit(state, next);
                let low = state.low[node].min(state.low[next]);
                state.low.insert(node, low);
            } else if state.on_stack.contains(next) {
                let low = state.low[node].min(state.index[next]);
                state.low.insert(node, low);
            }
        }
        if state.low[node] == state.index[node] {
            let mut component = Vec::new();
            loop {
                let member = state.stack.pop().unwrap();
                state.on_stack.remove(member);
                component.push(member.to_owned());
                if member == node {
                    break;
                }
            }
            if component.len() > 1 {
                component.sort();
                state.found.push(component);
            }
        }
    }
    let mut state = State {
        graph,
        index: BTreeMap::new(),
        low: BTreeMap::new(),
        stack: Vec::new(),
        on_stack: BTreeSet::new(),
        found: Vec::new(),
    };
    for node in graph.keys() {
        if !state.index.contains_key(node.as_str()) {
            visit(&mut state, node);
        }
    }
    state.found
}

/// Every edge from a file matching `from` to a file matching `to`, except allowed ones.
fn violations(
    graph: &BTreeMap<String, BTreeSet<String>>,
    from: impl Fn(&str) -> bool,
    to: impl Fn(&str) -> bool,
    allowed: &[(&str, &str)],
) -> Vec<String> {
    let mut found = Vec::new();
    for (file, targets) in graph {
        if !from(file) {
            continue;
        }
        for target in targets {
            let is_allowed = allowed
                .iter()
                .any(|(a, b)| file == a && target.starts_with(b));
            if to(target) && !is_allowed {
                found.push(format!("{file} names {target}"));
            }
        }
    }
    found
}

fn under(folders: &'static [&'static str]) -> impl Fn(&str) -> bool {
    move |file: &str| folders.iter().any(|folder| file.starts_with(folder))
}

#[test]
fn no_import_cycle_between_files() {
    let graph = dependency_graph(&read_sources());
    let found = cycles(&graph);
    assert!(found.is_empty(), "import cycles between files: {found:#?}");
}

#[test]
fn the_hot_path_names_no_report_side_module() {
    let graph = dependency_graph(&read_sources());
    let hot = under(&[
        "src/alloc.rs",
        "src/engine/hooks.rs",
        "src/engine/thread.rs",
        "src/engine/counters.rs",
        "src/engine/sampler.rs",
        "src/engine/recorder/",
        "src/engine/scope/table.rs",
        "src/capture/",
    ]);
    let report_side = under(&[
        "src/report/",
        "src/symbolize/",
        "src/budget/",
        "src/profiler/",
    ]);
    let found = violations(&graph, hot, report_side, &[]);
    assert!(found.is_empty(), "{found:#?}");
}

#[test]
fn dependencies_point_one_way() {
    let graph = dependency_graph(&read_sources());
    let mut found = Vec::new();
    // The engine: never the public API or the reports; symbolize only off the hot path.
    found.extend(violations(
        &graph,
        under(&["src/engine/"]),
        under(&[
            "src/report/",
            "src/budget/",
            "src/profiler/",
            "src/backend/",
            "src/symbolize/",
            "src/stats.rs",
            "src/lib.rs",
        ]),
        &[
            ("src/engine/stats.rs", "src/stats.rs"),
            ("src/engine/scope/abort.rs", "src/symbolize/"),
            ("src/engine/scope/run.rs", "src/symbolize/runtime_entry.rs"),
            ("src/engine/profiling.rs", "src/symbolize/runtime_entry.rs"),
            ("src/engine/fork.rs", "src/symbolize/resolve.rs"),
        ],
    ));
    // Stack capture stands alone (with the lock type every part uses).
    found.extend(violations(
        &graph,
        under(&["src/capture/"]),
        |target| !target.starts_with("src/capture/") && target != "src/lock.rs",
        &[],
    ));
    // Symbolization stands on capture only.
    found.extend(violations(
        &graph,
        under(&["src/symbolize/"]),
        |target| {
            !target.starts_with("src/symbolize/")
                && !target.starts_with("src/capture/")
                && target != "src/lock.rs"
        },
        &[],
    ));
    // Reports never reach the budgets, the profiler or the backend switch.
    found.extend(violations(
        &graph,
        under(&["src/report/"]),
        under(&["src/budget/", "src/profiler/", "src/backend/"]),
        &[],
    ));
    assert!(found.is_empty(), "{found:#?}");
}

/// The longest a source file may be: the library's (tests beside the code included), the
/// command's, and the viewer's scripts, page and styles.
const MAX_LINES: usize = 600;

/// Every file under `dir` (relative to the package) whose extension is one of `extensions`,
/// leaving out the folders named in `skip` (npm's packages, the viewer's tests).
fn files_under(dir: &str, extensions: &[&str], skip: &[&str]) -> Vec<PathBuf> {
    let mut files = Vec::new();
    let mut pending = vec![Path::new(env!("CARGO_MANIFEST_DIR")).join(dir)];
    while let Some(dir) = pending.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            let name = path.file_name().unwrap().to_str().unwrap();
            if path.is_dir() {
                if !skip.contains(&name) {
                    pending.push(path);
                }
            } else if path
                .extension()
                .is_some_and(|e| extensions.iter().any(|x| e == *x))
            {
                files.push(path);
            }
        }
    }
    files
}

#[test]
fn no_source_file_is_over_600_lines() {
    let skip = ["node_modules", "tests", "screenshots"];
    let groups = [
        ("src", files_under("src", &["rs"], &[])),
        ("cli/src", files_under("cli/src", &["rs"], &[])),
        (
            "viewer",
            files_under("viewer", &["js", "html", "css"], &skip),
        ),
    ];
    let mut long = Vec::new();
    for (dir, files) in &groups {
        assert!(
            !files.is_empty(),
            "no files found in {dir}: nothing would be checked"
        );
        for path in files {
            let lines = std::fs::read_to_string(path).unwrap().lines().count();
            if lines > MAX_LINES {
                let name = path.strip_prefix(env!("CARGO_MANIFEST_DIR")).unwrap();
                long.push(format!("{} has {lines} lines", name.display()));
            }
        }
    }
    assert!(
        long.is_empty(),
        "split these files by concept (at most {MAX_LINES} lines each): {long:#?}"
    );
}

/// The checker itself: it must see inline paths, expand `use` trees and find a cycle.
#[test]
fn the_checker_sees_inline_paths_and_cycles() {
    let code = code_only(
        "use crate::a::{b, c::{d as e, self}};\n// crate::in_comment\nfn f() { crate::x::y(); \"crate::in_string\"; super::z::w(); $crate::macro_path(); }\n",
    );
    let mut paths: Vec<String> = named_paths(&code)
        .into_iter()
        .map(|(path, _)| path)
        .collect();
    paths.sort();
    assert_eq!(
        paths,
        [
            "crate::a::b",
            "crate::a::c",
            "crate::a::c::d",
            "crate::x::y",
            "super::z::w"
        ]
    );
    let graph: BTreeMap<String, BTreeSet<String>> = [
        ("a", vec!["b"]),
        ("b", vec!["c"]),
        ("c", vec!["a"]),
        ("d", vec!["a"]),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.into_iter().map(str::to_owned).collect()))
    .collect();
    assert_eq!(cycles(&graph), vec![vec!["a", "b", "c"]]);
    // A test module is left out, but not the code written after it.
    let after_tests = named_paths(&code_only(
        "use crate::a;\n#[cfg(test)]\nmod tests {\n    fn t() { let s = \"}\"; crate::b::c(); }\n}\nfn f() { crate::d::e(); }\n",
    ));
    assert_eq!(
        after_tests
            .into_iter()
            .map(|(path, _)| path)
            .collect::<Vec<_>>(),
        ["crate::a", "crate::d::e"]
    );
    // `super` inside an inline module is that module's parent.
    let nested = named_paths(&code_only(
        "mod outer { mod inner { use super::x; } fn f() { super::y(); } }",
    ));
    assert_eq!(
        nested,
        [
            (
                "super::x".to_owned(),
                vec!["outer".to_owned(), "inner".to_owned()]
            ),
            ("super::y".to_owned(), vec!["outer".to_owned()])
        ]
    );
}
