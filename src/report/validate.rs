//! The one DHAT validator: every reader of DHAT files (the typed [`DhatFile`] reader, the
//! HTML converter, the command line) checks a file here, so they accept and reject the same
//! files. It follows what Valgrind's `dh_view.html` accepts, and also rejects what that
//! viewer silently shows wrong (a frame index outside the table, `te` = 0).
//!
//! Rules, in the order they are checked (the first broken rule is reported, naming the
//! field, the program point and, for JSON syntax errors, the line and column):
//! - the text is JSON, and its top level is an object;
//! - `dhatFileVersion` is 2;
//! - the top-level fields dh_view requires are present (`mode`, `verb`, `bklt`, `bkacc`,
//!   `tu`, `Mtu`, `cmd`, `pid`, `te`, `pps`, `ftbl`; `tg` and `tuth` when `bklt` is true) and
//!   have the right JSON types (strings, booleans, non-negative integers, arrays);
//! - `te` is not 0 (rates and percentages of the run's duration would be infinite);
//! - allocsite's extension block `allocsite`, when present, is an object whose known fields
//!   have the types allocsite writes (other tools ignore it; unknown fields are allowed);
//! - `ftbl` holds strings and `ftbl[0]` is `"[root]"`;
//! - every program point is an object with numeric `tb`, `tbk` (and `tl`, `mb`, `mbk`, `gb`,
//!   `gbk`, `eb`, `ebk` when `bklt` is true; `rb`, `wb` when `bkacc` is true), none of them
//!   negative, and `fs` is an array of indices into `ftbl` other than 0 (dh_view does not
//!   check `tl`, and shows NaN average lifetimes without it);
//! - no two program points have the same frame list (dh_view: "repeated location");
//! - each figure, summed over the program points, is a finite number (totals and shares
//!   would otherwise be infinite).
//!
//! These are the rules of the viewer's reader too (`viewer/model.js`, `parseDhat`); the
//! hostile-file corpus `viewer/tests/fixtures/invalid/` is checked against both (the
//! viewer's tests and `cli/tests/`).
//!
//! [`DhatFile`]: super::dhat::DhatFile

use std::collections::{HashMap, HashSet};

use serde_json::Value;

/// Checks DHAT JSON text; `Err` says what is wrong and where.
pub(crate) fn validate_text(json: &str) -> Result<Value, String> {
    if json.trim().is_empty() {
        return Err("the file is empty".into());
    }
    let value: Value = serde_json::from_str(json).map_err(|e| {
        // serde_json's message ends in " at line L column C"; we say where first.
        let msg = e.to_string();
        let what = msg.rfind(" at line ").map_or(msg.as_str(), |i| &msg[..i]);
        if e.classify() == serde_json::error::Category::Eof {
            format!(
                "the file is truncated: the JSON ends at line {} column {} before it is complete",
                e.line(),
                e.column()
            )
        } else {
            format!(
                "not JSON at line {} column {}: {}",
                e.line(),
                e.column(),
                what
            )
        }
    })?;
    validate_value(&value)?;
    Ok(value)
}

/// Checks a parsed DHAT file; see the module docs for the rules.
pub(crate) fn validate_value(d: &Value) -> Result<(), String> {
    let top = d.as_object().ok_or_else(|| {
        format!(
            "not a DHAT file: the JSON top level is {}, expected an object",
            kind(d)
        )
    })?;
    let version = top
        .get("dhatFileVersion")
        .ok_or("not a DHAT file: missing field \"dhatFileVersion\"")?;
    if version.as_u64() != Some(2) {
        return Err(format!("dhatFileVersion is {version}, expected 2"));
    }
    let flag = |k: &str| top.get(k).and_then(Value::as_bool).unwrap_or(false);
    let (bklt, bkacc) = (flag("bklt"), flag("bkacc"));
    let mut required = vec![
        ("mode", Type::String),
        ("verb", Type::String),
        ("bklt", Type::Bool),
        ("bkacc", Type::Bool),
        ("tu", Type::String),
        ("Mtu", Type::String),
        ("cmd", Type::String),
        ("pid", Type::Count),
        ("te", Type::Count),
        ("pps", Type::Array),
        ("ftbl", Type::Array),
    ];
    if bklt {
        required.extend([("tg", Type::Count), ("tuth", Type::Count)]);
    }
    for (field, expected) in required {
        match top.get(field) {
            None => return Err(format!("missing field \"{field}\" at the top level")),
            Some(value) if !expected.matches(value) => {
                return Err(format!(
                    "field \"{field}\" is {}, expected {}",
                    shown(value),
                    expected.describe()
                ));
            }
            Some(_) => {}
        }
    }
    for field in ["bu", "bsu", "bksu"] {
        if let Some(value) = top.get(field).filter(|v| !v.is_string()) {
            return Err(format!(
                "field \"{field}\" is {}, expected a string",
                kind(value)
            ));
        }
    }
    if top["te"].as_u64() == Some(0) {
        return Err(
            "te (the time at the end) is 0: rates and shares of the run's duration would be infinite"
                .into(),
        );
    }
    if let Some(extension) = top.get("allocsite") {
        validate_extension(extension)?;
    }
    let pps = top["pps"].as_array().expect("checked above");
    let ftbl = top["ftbl"].as_array().expect("checked above");
    if let Some(i) = ftbl.iter().position(|f| !f.is_string()) {
        return Err(format!(
            "ftbl[{i}] is {}, expected a string",
            kind(&ftbl[i])
        ));
    }
    if ftbl.first().and_then(Value::as_str) != Some("[root]") {
        return Err("ftbl[0] must be \"[root]\"".into());
    }
    let mut need = vec!["tb", "tbk"];
    if bklt {
        need.extend(["tl", "mb", "mbk", "gb", "gbk", "eb", "ebk"]);
    }
    if bkacc {
        need.extend(["rb", "wb"]);
    }
    let mut sums: HashMap<&str, f64> = HashMap::new();
    let mut seen: HashSet<Vec<u64>> = HashSet::with_capacity(pps.len());
    for (p, pp) in pps.iter().enumerate() {
        let pp = pp
            .as_object()
            .ok_or_else(|| format!("program point pps[{p}] is {}, expected an object", kind(pp)))?;
        for f in &need {
            match pp.get(*f) {
                None => return Err(format!("program point pps[{p}] is missing field \"{f}\"")),
                Some(v) if !v.is_number() => {
                    return Err(format!(
                        "program point pps[{p}] field \"{f}\" is {}, expected a number",
                        kind(v)
                    ));
                }
                _ => {}
            }
        }
        for f in ["tl", "rb", "wb"] {
            if let Some(v) = pp.get(f).filter(|v| !v.is_number()) {
                return Err(format!(
                    "program point pps[{p}] field \"{f}\" is {}, expected a number",
                    kind(v)
                ));
            }
        }
        for f in FIGURES {
            let Some(v) = pp.get(f).and_then(Value::as_f64) else {
                continue;
            };
            if v < 0.0 {
                return Err(format!(
                    "program point pps[{p}] field \"{f}\" is {}, expected a number of at least 0",
                    pp[f]
                ));
            }
            *sums.entry(f).or_default() += v;
        }
        let fs = pp
            .get("fs")
            .ok_or_else(|| format!("program point pps[{p}] is missing field \"fs\""))?;
        let fs = fs.as_array().ok_or_else(|| {
            format!(
                "program point pps[{p}] field \"fs\" is {}, expected an array",
                kind(fs)
            )
        })?;
        let mut frames = Vec::with_capacity(fs.len());
        for (j, x) in fs.iter().enumerate() {
            match x.as_u64() {
                Some(i) if i > 0 && i < ftbl.len() as u64 => frames.push(i),
                _ => {
                    return Err(format!(
                        "program point pps[{p}] has frame index {x} at fs[{j}], but ftbl has {} entries \
                         (indices 1 to {} are frames; 0 is the root)",
                        ftbl.len(),
                        ftbl.len().saturating_sub(1)
                    ));
                }
            }
        }
        if !seen.insert(frames) {
            return Err(format!(
                "program point pps[{p}] repeats another program point's frame list {} \
                 (dh_view: \"repeated location\")",
                Value::Array(fs.clone())
            ));
        }
    }
    if let Some(f) = FIGURES
        .into_iter()
        .find(|f| sums.get(f).is_some_and(|sum| !sum.is_finite()))
    {
        return Err(format!(
            "the program points' \"{f}\" figures add up to more than a number can hold"
        ));
    }
    Ok(())
}

/// The figures of a program point: none may be negative, and each must have a finite sum.
const FIGURES: [&str; 11] = [
    "tb", "tbk", "tl", "mb", "mbk", "gb", "gbk", "eb", "ebk", "rb", "wb",
];

/// Checks allocsite's extension block: an object whose known fields have the types
/// `report::dhat::Extension` reads (unknown fields are allowed: later versions may add some).
fn validate_extension(extension: &Value) -> Result<(), String> {
    let fields = extension.as_object().ok_or_else(|| {
        format!(
            "field \"allocsite\" is {}, expected an object",
            kind(extension)
        )
    })?;
    for (field, expected) in [
        ("version", Type::String),
        ("sampleBytes", Type::Count),
        ("sampled", Type::Bool),
        ("samples", Type::Count),
        ("unwinder", Type::String),
        ("mergedSites", Type::Count),
    ] {
        match fields.get(field) {
            Some(value) if !expected.matches(value) => {
                return Err(format!(
                    "field \"allocsite.{field}\" is {}, expected {}",
                    shown(value),
                    expected.describe()
                ));
            }
            _ => {}
        }
    }
    Ok(())
}

/// The JSON types the rules ask for.
#[derive(Clone, Copy)]
enum Type {
    String,
    Bool,
    /// A non-negative integer.
    Count,
    Array,
}

impl Type {
    fn matches(self, value: &Value) -> bool {
        match self {
            Type::String => value.is_string(),
            Type::Bool => value.is_boolean(),
            Type::Count => value.as_u64().is_some(),
            Type::Array => value.is_array(),
        }
    }

    fn describe(self) -> &'static str {
        match self {
            Type::String => "a string",
            Type::Bool => "true or false",
            Type::Count => "a whole number of at least 0",
            Type::Array => "an array",
        }
    }
}

/// A value for a message: a number as written, anything else by its kind.
fn shown(v: &Value) -> String {
    match v {
        Value::Number(number) => number.to_string(),
        other => kind(other).to_owned(),
    }
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = r#"{"dhatFileVersion":2,"mode":"rust-heap","verb":"Allocated","bklt":true,"bkacc":false,
        "tu":"µs","Mtu":"s","tuth":10,"cmd":"t","pid":1,"tg":5,"te":10,
        "pps":[{"tb":8,"tbk":1,"tl":3,"mb":8,"mbk":1,"gb":8,"gbk":1,"eb":0,"ebk":0,"fs":[1]}],
        "ftbl":["[root]","0x1: f (x.rs:1)"]}"#;

    fn err(s: &str) -> String {
        validate_text(s).unwrap_err()
    }

    #[test]
    fn messages_name_the_problem() {
        assert_eq!(err(" \n"), "the file is empty");
        assert_eq!(
            err("{\n\"a\":1,\n  x}"),
            "not JSON at line 3 column 3: key must be a string"
        );
        assert!(err(r#"{"dhatFileVersion":2,"pps":["#).starts_with("the file is truncated"));
        assert_eq!(
            err(r#"{"dhatFileVersion":3}"#),
            "dhatFileVersion is 3, expected 2"
        );
        assert_eq!(
            err("[1]"),
            "not a DHAT file: the JSON top level is an array, expected an object"
        );
        assert_eq!(
            err(&GOOD.replace(r#""cmd":"t","#, "")),
            r#"missing field "cmd" at the top level"#
        );
        assert_eq!(
            err(&GOOD.replace(r#""tbk":1,"#, "")),
            r#"program point pps[0] is missing field "tbk""#
        );
        assert!(
            err(&GOOD.replace(r#""fs":[1]"#, r#""fs":[1,7]"#)).starts_with(
                "program point pps[0] has frame index 7 at fs[1], but ftbl has 2 entries"
            )
        );
        assert!(validate_text(GOOD).is_ok());
    }

    #[test]
    fn rules_dh_view_enforces_or_gets_wrong() {
        assert_eq!(
            err(&GOOD.replace(r#""cmd":"t""#, r#""cmd":{"a":1}"#)),
            "field \"cmd\" is an object, expected a string"
        );
        assert!(err(&GOOD.replace(r#""te":10"#, r#""te":0"#)).starts_with("te (the time"));
        assert_eq!(
            err(&GOOD.replace(r#""[root]","#, r#""main","#)),
            "ftbl[0] must be \"[root]\""
        );
        assert!(err(&GOOD.replace(r#""fs":[1]"#, r#""fs":[0]"#)).contains("frame index 0"));
        assert!(err(&GOOD.replace(r#""fs":[1]"#, r#""fs":[-1]"#)).contains("frame index -1"));
        assert_eq!(
            err(&GOOD.replace(r#""mbk":1,"#, "")),
            r#"program point pps[0] is missing field "mbk""#
        );
        assert_eq!(
            err(&GOOD.replace(r#""bkacc":false"#, r#""bkacc":true"#)),
            r#"program point pps[0] is missing field "rb""#
        );
        // dh_view does not require `tl`, and shows NaN average lifetimes without it.
        assert_eq!(
            err(&GOOD.replace(r#""tl":3,"#, "")),
            r#"program point pps[0] is missing field "tl""#
        );
        assert!(
            validate_text(
                &GOOD
                    .replace(r#""bklt":true"#, r#""bklt":false"#)
                    .replace(r#""tl":3,"#, "")
            )
            .is_ok()
        );
        assert_eq!(
            err(&GOOD.replace(r#""te":10"#, r#""te":-1"#)),
            "field \"te\" is -1, expected a whole number of at least 0"
        );
        assert_eq!(
            err(&GOOD.replace(r#""tb":8"#, r#""tb":-1024"#)),
            "program point pps[0] field \"tb\" is -1024, expected a number of at least 0"
        );
        let huge = GOOD.replace(
            r#""fs":[1]}]"#,
            r#""fs":[1]},{"tb":1.5e308,"tbk":1,"tl":1,"mb":8,"mbk":1,"gb":8,"gbk":1,"eb":0,"ebk":0,"fs":[]},
               {"tb":1.5e308,"tbk":1,"tl":1,"mb":8,"mbk":1,"gb":8,"gbk":1,"eb":0,"ebk":0,"fs":[1,1]}]"#,
        );
        assert_eq!(
            err(&huge),
            "the program points' \"tb\" figures add up to more than a number can hold"
        );
        let extension =
            |block: &str| GOOD.replace(r#""te":10,"#, &format!(r#""te":10,"allocsite":{block},"#));
        assert!(validate_text(&extension(r#"{"sampleBytes":1,"exactTotals":{}}"#)).is_ok());
        assert_eq!(
            err(&extension(r#""0.1.0""#)),
            "field \"allocsite\" is a string, expected an object"
        );
        assert_eq!(
            err(&extension(r#"{"sampleBytes":{"toString":1}}"#)),
            "field \"allocsite.sampleBytes\" is an object, expected a whole number of at least 0"
        );
        assert_eq!(
            err(&extension(r#"{"sampled":"yes"}"#)),
            "field \"allocsite.sampled\" is a string, expected true or false"
        );
        let twice = GOOD.replace(
            r#""fs":[1]}]"#,
            r#""fs":[1]},{"tb":8,"tbk":1,"tl":1,"mb":8,"mbk":1,"gb":8,"gbk":1,"eb":0,"ebk":0,"fs":[1]}]"#,
        );
        assert!(
            err(&twice).starts_with("program point pps[1] repeats"),
            "{}",
            err(&twice)
        );
    }
}
