//! The frame classification rules, stated as test vectors in `tests/fixtures/frame-classes.json`
//! (the viewer's JavaScript, `viewer/model/frames.js`, is tested against the same file by
//! `viewer/tests/model.test.mjs`): every vector is classified as it says, and the vectors
//! cover every class. A vector's `context` is other frames of the same file, classified with
//! it (`FrameClass::of_dhat_frames`). Needs no `track` feature.

use allocsite::FrameClass;

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct Vector {
    frame: String,
    class: String,
    #[serde(rename = "crate", default)]
    crate_name: Option<String>,
    #[serde(default)]
    version: Option<String>,
    /// Frames of the same file, before this one.
    #[serde(default)]
    context: Vec<String>,
    /// Why the vector is there (shown when it fails).
    #[serde(default)]
    note: Option<String>,
}

fn vectors() -> Vec<Vector> {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/frame-classes.json"
    );
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

#[test]
fn every_vector_is_classified_as_it_says() {
    let vectors = vectors();
    assert!(vectors.len() >= 40, "{} vectors", vectors.len());
    let mut wrong = Vec::new();
    for vector in &vectors {
        let class = if vector.context.is_empty() {
            FrameClass::of_dhat_frame(&vector.frame)
        } else {
            let mut frames: Vec<&str> = vector.context.iter().map(String::as_str).collect();
            frames.push(&vector.frame);
            FrameClass::of_dhat_frames(&frames).pop().unwrap()
        };
        let actual = (
            class.name(),
            class.crate_name().map(str::to_owned),
            class.version().map(str::to_owned),
        );
        let expected = (
            vector.class.as_str(),
            vector.crate_name.clone(),
            vector.version.clone(),
        );
        if actual != expected {
            wrong.push(format!(
                "{}\n    expected {expected:?}\n    got      {actual:?}{}",
                vector.frame,
                vector
                    .note
                    .as_deref()
                    .map(|note| format!("\n    ({note})"))
                    .unwrap_or_default()
            ));
        }
    }
    assert!(
        wrong.is_empty(),
        "{} wrong:\n{}",
        wrong.len(),
        wrong.join("\n")
    );
}

#[test]
fn the_vectors_cover_every_class() {
    let vectors = vectors();
    for class in [
        "user",
        "dependency",
        "std",
        "allocsite",
        "system",
        "unknown",
    ] {
        let count = vectors.iter().filter(|v| v.class == class).count();
        assert!(count >= 3, "only {count} vectors of class {class}");
    }
    for vector in &vectors {
        assert_eq!(
            vector.crate_name.is_some(),
            vector.class == "dependency",
            "only dependencies name a crate: {}",
            vector.frame
        );
    }
}

/// A real `dhat` crate profile of a program whose allocations are all std's `HashMap`
/// growing (`viewer/tests/fixtures/dhat-crate-hashmap.json`, made by
/// `dhat-crate-hashmap.rs`): the `dhat` crate writes std's hashbrown as `src/raw/alloc.rs`,
/// which alone reads as the user's file. The terminal summary names the user's line.
#[test]
#[cfg(feature = "report")] // reading a DHAT file is the `report` feature (`track` turns it on)
fn a_dhat_crate_profile_of_std_s_hashmap_names_the_user_s_line() {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/viewer/tests/fixtures/dhat-crate-hashmap.json"
    );
    let file =
        allocsite::report::dhat::DhatFile::from_json(&std::fs::read_to_string(path).unwrap())
            .unwrap();
    let mut out = Vec::new();
    allocsite::report::summary::write_summary(&file, 5, &mut out).unwrap();
    let summary = String::from_utf8(out).unwrap();
    let first = summary
        .lines()
        .skip_while(|line| !line.contains("top call sites"))
        .nth(1)
        .unwrap_or_else(|| panic!("{summary}"));
    assert!(
        first.ends_with(
            "std::collections::hash::map::HashMap<K,V,S,A>::insert ← hbcheck::index (hbcheck/src/main.rs:9)"
        ),
        "{summary}"
    );
    assert!(!summary.contains("src/raw/"), "{summary}");
}
