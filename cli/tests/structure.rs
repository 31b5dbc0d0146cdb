//! The command's structural promises (ARCHITECTURE.md, `cli/`): it depends on allocsite
//! without `track` (it profiles nothing, so the allocator stays a pass-through and the
//! tracking code is not compiled), and it reaches the library only through
//! `allocsite::report`, where each report has its one implementation.

use std::path::Path;

#[test]
fn allocsite_without_track_and_only_its_reports() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let manifest = std::fs::read_to_string(root.join("Cargo.toml")).unwrap();
    let dependency = manifest
        .lines()
        .find(|line| line.starts_with("allocsite = "))
        .expect("an allocsite dependency");
    assert!(
        dependency.contains("default-features = false")
            && dependency.contains(r#"features = ["pprof"]"#),
        "{dependency}"
    );
    for entry in std::fs::read_dir(root.join("src")).unwrap() {
        let path = entry.unwrap().path();
        let code = std::fs::read_to_string(&path).unwrap();
        for (at, _) in code.match_indices("allocsite::") {
            let rest = &code[at + "allocsite::".len()..];
            let module: String = rest
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_')
                .collect();
            assert!(
                module == "report",
                "{}: allocsite::{} (only allocsite::report is used)",
                path.display(),
                &rest[..rest.len().min(30)]
            );
        }
    }
}
