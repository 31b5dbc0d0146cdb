//! What a source path says about where a frame's code lives (rule 3 of `classify.rs`'s
//! module docs): std's paths (`/rustc/<hash>/library/…`, `/rust/deps/<crate>-<version>/…`,
//! `alloc/src/…`), a dependency's (crates.io registry, git checkout, vendor directory, the
//! trimmed `<crate>-<version>/src/…`), the C runtime's and Valgrind's.

/// Where a path places a frame's code.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) enum Placed {
    /// The Rust standard library; `dependency` names one of std's own dependencies
    /// (`/rust/deps/hashbrown-0.15.2/…` → `hashbrown`), which places its other frames.
    Std { dependency: Option<String> },
    /// The C runtime, the dynamic loader, Valgrind's replacements.
    System,
    /// A crate outside the user's workspace (allocsite itself, when it is named `allocsite`).
    Crate {
        name: String,
        version: Option<String>,
    },
}

/// The crates of the Rust distribution.
pub(super) const STD_CRATES: &[&str] = &[
    "std",
    "core",
    "alloc",
    "proc_macro",
    "test",
    "panic_unwind",
    "panic_abort",
    "std_detect",
    "compiler_builtins",
    "unwind",
];

/// The crate of one of std's own dependencies: `/rust/deps/hashbrown-0.15.2/…` → `hashbrown`.
fn std_dependency(path: &str) -> Option<String> {
    let folder = path.strip_prefix("/rust/deps/")?.split('/').next()?;
    split_versioned(folder).map(|(name, _)| name.to_owned())
}

/// Where a source path says its code lives, if it says (rule 3 of `classify.rs`'s docs).
/// `path` has `/` for `\\`.
pub(super) fn placed_by_path(path: &str) -> Option<Placed> {
    let path = path.trim();
    if path.starts_with("/rustc/") || path.starts_with("/rust/deps/") {
        return Some(Placed::Std {
            dependency: std_dependency(path),
        });
    }
    if let Some(after) = path
        .rfind("/library/")
        .map(|i| &path[i + "/library/".len()..])
        .or_else(|| path.strip_prefix("library/"))
        && is_std_crate_path(after)
    {
        return Some(Placed::Std { dependency: None });
    }
    if is_std_crate_path(path) {
        return Some(Placed::Std { dependency: None });
    }
    let file_name = path.rsplit(['/', '\\']).next().unwrap_or(path);
    // Valgrind's replacements, and glibc's dynamic loader by its file names.
    if file_name == "vg_replace_malloc.c"
        || file_name == "vg_preloaded.c"
        || file_name == "rtld.c"
        || (file_name.starts_with("dl-") && file_name.ends_with(".c"))
        || ["../sysdeps/", "../csu/", "./csu/", "/usr/", "/build/glibc-"]
            .iter()
            .any(|p| path.starts_with(p))
    {
        return Some(Placed::System);
    }
    let (name, version) = registry_crate(path)
        .or_else(|| git_crate(path))
        .or_else(|| vendored_crate(path))
        .or_else(|| {
            // The trimmed form allocsite writes: "<crate>-<version>/src/…".
            let first = path.split('/').next().filter(|_| path.contains('/'))?;
            let (name, version) = split_versioned(first)?;
            Some((name.to_owned(), Some(version.to_owned())))
        })?;
    Some(Placed::Crate { name, version })
}

/// `std/src/…`, `core/src/…`, … (a std crate's folder followed by `src/`).
fn is_std_crate_path(path: &str) -> bool {
    path.split_once('/').is_some_and(|(first, rest)| {
        STD_CRATES.contains(&first) && (rest.starts_with("src/") || rest == "src")
    })
}

/// `…/registry/src/<index>/<crate>-<version>/…`.
fn registry_crate(path: &str) -> Option<(String, Option<String>)> {
    let start = path.find("registry/src/")? + "registry/src/".len();
    let mut segments = path[start..].split('/');
    let _index = segments.next()?;
    let (name, version) = split_versioned(segments.next()?)?;
    Some((name.to_owned(), Some(version.to_owned())))
}

/// `…/git/checkouts/<name>-<hash>/<rev>/…`: the crate is the folder above the last `src`
/// inside the checkout (workspaces keep crates in sub-folders), else the repository's name.
fn git_crate(path: &str) -> Option<(String, Option<String>)> {
    let start = path.find("git/checkouts/")? + "git/checkouts/".len();
    let segments: Vec<&str> = path[start..].split('/').collect();
    let [repository, revision, inside @ ..] = segments.as_slice() else {
        return None;
    };
    let repository = match repository.rsplit_once('-') {
        Some((name, hash)) if !name.is_empty() && hash.chars().all(|c| c.is_ascii_hexdigit()) => {
            name
        }
        _ => repository,
    };
    let name = inside
        .iter()
        .rposition(|s| *s == "src")
        .filter(|&i| i > 0)
        .map_or(repository, |i| inside[i - 1]);
    Some((name.to_owned(), Some((*revision).to_owned())))
}

/// `…/vendor/<crate>/…` or `…/vendor/<crate>-<version>/…` (as `cargo vendor` writes them;
/// a `vendor` module inside a `src` folder is not a vendor directory).
fn vendored_crate(path: &str) -> Option<(String, Option<String>)> {
    let segments: Vec<&str> = path.split('/').collect();
    let index = segments.iter().position(|s| *s == "vendor")?;
    if segments[..index].contains(&"src") || index + 2 >= segments.len() {
        return None;
    }
    let folder = segments[index + 1];
    Some(match split_versioned(folder) {
        Some((name, version)) => (name.to_owned(), Some(version.to_owned())),
        None => (folder.to_owned(), None),
    })
}

/// Splits `serde_json-1.0.154` or `wasm-bindgen-0.2.92` or `foo-1.0.0-beta.1` into the crate
/// name and a semver version.
pub(super) fn split_versioned(folder: &str) -> Option<(&str, &str)> {
    folder
        .match_indices('-')
        .map(|(i, _)| (&folder[..i], &folder[i + 1..]))
        .find(|(name, version)| {
            !name.is_empty()
                && name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
                && is_semver(version)
        })
}

/// `major.minor.patch`, optionally followed by `-pre` and/or `+build`.
fn is_semver(text: &str) -> bool {
    let end = text.find(['-', '+']).unwrap_or(text.len());
    let (core, extra) = text.split_at(end);
    let numbers: Vec<&str> = core.split('.').collect();
    numbers.len() == 3
        && numbers
            .iter()
            .all(|n| !n.is_empty() && n.chars().all(|c| c.is_ascii_digit()))
        && extra
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '+'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_are_split_from_crate_names() {
        assert_eq!(
            split_versioned("serde_json-1.0.154"),
            Some(("serde_json", "1.0.154"))
        );
        assert_eq!(
            split_versioned("wasm-bindgen-0.2.92"),
            Some(("wasm-bindgen", "0.2.92"))
        );
        assert_eq!(
            split_versioned("foo-1.0.0-beta.1"),
            Some(("foo", "1.0.0-beta.1"))
        );
        assert_eq!(split_versioned("dhatfix"), None);
        assert_eq!(split_versioned("v-1.2"), None);
    }
}
