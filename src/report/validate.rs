//! The one DHAT validator: every reader of DHAT files (the typed [`DhatFile`] reader, the
//! HTML converter, the summary, folded and pprof writers that start from a file) checks a
//! file here, so they accept and reject the same files. The rules are the bundled viewer's
//! (`viewer/model/parse.js`, `parseDhat`), in the same order and with the same messages, so
//! a file the page refuses is refused here with the same words; `validate/corpus.rs` checks
//! both against the shared hostile-file corpus (`viewer/tests/fixtures/invalid/`).
//!
//! The rules follow what Valgrind's `dh_view.html` requires (research notes §1.2), and also
//! reject what that viewer silently shows wrong:
//! - the text is JSON, and its top level is an object;
//! - `dhatFileVersion` is 2;
//! - the top-level fields dh_view requires are present (`mode`, `verb`, `bklt`, `bkacc`,
//!   `tu`, `Mtu`, `cmd`, `pid`, `te`, `pps`, `ftbl`; `tg` and `tuth` when `bklt` is true) and
//!   every top-level field has its JSON type (optional ones too: `bu`, `bsu`, `bksu`, and
//!   allocsite's own `allocsite` block, all of whose fields are optional);
//! - `pid`, `te`, `tg`, `tuth` are not negative, and `te` is not 0 (dh_view shows rates and
//!   shares of the run as `∞`);
//! - `ftbl[0]` is `"[root]"` (dh_view labels the root with it) and `ftbl` holds strings;
//! - every program point is an object with `tb`, `tbk`, `fs` (and `tl`, `mb`, `mbk`, `gb`,
//!   `gbk`, `eb`, `ebk` when `bklt` is true — dh_view shows a missing `tl` as `NaN`; `rb`,
//!   `wb` when `bkacc` is true); its counters are numbers, not negative, and each counter's
//!   sum over the program points is finite;
//! - `fs` is an array of whole numbers from 1 to `ftbl.length - 1` (dh_view shows a frame
//!   outside the table as `undefined`);
//! - no two program points have the same frame list (dh_view: "repeated location").
//!
//! One case cannot be reported as the viewer reports it: a number too large for a double
//! (`1e400`) is `Infinity` to JavaScript but a parse error to `serde_json`; both call it too
//! large, this one by line and column.
//!
//! [`DhatFile`]: super::dhat::DhatFile

use std::collections::HashMap;

use serde_json::{Map, Value};

/// What is wrong with a file: the kind of problem (the corpus's `kind`), where it is (a
/// JSON path such as `pps[3].fs[1]`, or `line:column`), and the message a reader shows.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Problem {
    pub(crate) kind: &'static str,
    pub(crate) at: String,
    pub(crate) message: String,
}

fn problem(kind: &'static str, at: impl Into<String>, message: impl Into<String>) -> Problem {
    Problem {
        kind,
        at: at.into(),
        message: message.into(),
    }
}

/// Checks DHAT JSON text; `Err` says what is wrong and where.
pub(crate) fn validate_text(json: &str) -> Result<Value, String> {
    check_text(json).map_err(|problem| problem.message)
}

/// Checks a parsed DHAT file; see the module docs for the rules.
pub(crate) fn validate_value(d: &Value) -> Result<(), String> {
    check_value(d).map_err(|problem| problem.message)
}

/// [`validate_text`] with the kind and place of the problem.
pub(crate) fn check_text(json: &str) -> Result<Value, Problem> {
    if json.trim().is_empty() {
        return Err(problem("empty", "", "the file is empty"));
    }
    let value: Value = serde_json::from_str(json).map_err(|e| {
        let (line, column) = (e.line(), e.column());
        let at = format!("{line}:{column}");
        // serde_json's message ends in " at line L column C"; we say where first.
        let msg = e.to_string();
        let what = msg.rfind(" at line ").map_or(msg.as_str(), |i| &msg[..i]);
        if e.classify() == serde_json::error::Category::Eof {
            problem(
                "truncated",
                at,
                format!(
                    "the file is truncated: the JSON ends at line {line} column {column} before it is complete"
                ),
            )
        } else if what == "number out of range" {
            problem(
                "bad-number",
                at,
                format!(
                    "the number at line {line} column {column} is too large to be a number"
                ),
            )
        } else {
            problem(
                "not-json",
                at,
                format!("not JSON at line {line} column {column}: {what}"),
            )
        }
    })?;
    check_value(&value)?;
    Ok(value)
}

/// The JSON types the rules ask for (JavaScript's names, as the viewer's messages use them).
#[derive(Clone, Copy)]
enum Type {
    String,
    Boolean,
    Number,
    Array,
}

impl Type {
    fn matches(self, value: &Value) -> bool {
        match self {
            Type::String => value.is_string(),
            Type::Boolean => value.is_boolean(),
            Type::Number => value.is_number(),
            Type::Array => value.is_array(),
        }
    }

    fn describe(self) -> &'static str {
        match self {
            Type::String => "a string",
            Type::Boolean => "a boolean",
            Type::Number => "a number",
            Type::Array => "an array",
        }
    }
}

const REQUIRED: [&str; 11] = [
    "mode", "verb", "bklt", "bkacc", "tu", "Mtu", "cmd", "pid", "te", "pps", "ftbl",
];

/// The type of every top-level field, in the order they are checked.
const TOP_TYPES: [(&str, Type); 16] = [
    ("mode", Type::String),
    ("verb", Type::String),
    ("bklt", Type::Boolean),
    ("bkacc", Type::Boolean),
    ("tu", Type::String),
    ("Mtu", Type::String),
    ("cmd", Type::String),
    ("pid", Type::Number),
    ("te", Type::Number),
    ("tg", Type::Number),
    ("tuth", Type::Number),
    ("bu", Type::String),
    ("bsu", Type::String),
    ("bksu", Type::String),
    ("pps", Type::Array),
    ("ftbl", Type::Array),
];

/// The fields of allocsite's `allocsite` block (all optional).
const EXTENSION_TYPES: [(&str, Type); 6] = [
    ("sampled", Type::Boolean),
    ("sampleBytes", Type::Number),
    ("version", Type::String),
    ("samples", Type::Number),
    ("unwinder", Type::String),
    ("mergedSites", Type::Number),
];

/// A program point's counters.
const COUNTERS: [&str; 11] = [
    "tb", "tbk", "tl", "mb", "mbk", "gb", "gbk", "eb", "ebk", "rb", "wb",
];

/// [`validate_value`] with the kind and place of the problem.
pub(crate) fn check_value(d: &Value) -> Result<(), Problem> {
    let top = d.as_object().ok_or_else(|| {
        problem(
            "not-object",
            "",
            format!(
                "not a DHAT file: the JSON top level is {}, expected an object",
                kind(d)
            ),
        )
    })?;
    let Some(version) = top.get("dhatFileVersion") else {
        return Err(problem(
            "missing-field",
            "dhatFileVersion",
            "not a DHAT file: missing field \"dhatFileVersion\"",
        ));
    };
    if version.as_f64() != Some(2.0) {
        return Err(problem(
            "version",
            "dhatFileVersion",
            format!(
                "unsupported file version: dhatFileVersion is {}, expected 2",
                shown(version)
            ),
        ));
    }
    let missing = |f: &str| {
        problem(
            "missing-field",
            f,
            format!("missing field \"{f}\" at the top level"),
        )
    };
    for f in REQUIRED {
        if !top.contains_key(f) {
            return Err(missing(f));
        }
    }
    let bklt = &top["bklt"];
    if !bklt.is_boolean() {
        return Err(wrong_type("bklt", bklt, Type::Boolean));
    }
    if bklt == &Value::Bool(true) {
        for f in ["tg", "tuth"] {
            if !top.contains_key(f) {
                return Err(missing(f));
            }
        }
    }
    for (f, t) in TOP_TYPES {
        if let Some(v) = top.get(f).filter(|v| !t.matches(v)) {
            return Err(wrong_type(f, v, t));
        }
    }
    for f in ["pid", "te", "tg", "tuth"] {
        if let Some(v) = top.get(f).filter(|v| v.as_f64().is_some_and(|x| x < 0.0)) {
            return Err(problem(
                "bad-number",
                f,
                format!("field \"{f}\" is {}, expected a number ≥ 0", shown(v)),
            ));
        }
    }
    if top["te"].as_f64() == Some(0.0) {
        return Err(problem(
            "bad-number",
            "te",
            "field \"te\" (t-end, the length of the run) is 0, expected a number above 0",
        ));
    }
    check_extension(top)?;
    let ftbl = top["ftbl"].as_array().expect("checked above");
    if ftbl.first().and_then(Value::as_str) != Some("[root]") {
        let first = ftbl.first().map_or("missing".to_owned(), shown);
        return Err(problem(
            "root-frame",
            "ftbl[0]",
            format!("ftbl[0] is {first}, expected \"[root]\""),
        ));
    }
    for (i, frame) in ftbl.iter().enumerate().skip(1) {
        if !frame.is_string() {
            return Err(problem(
                "wrong-type",
                format!("ftbl[{i}]"),
                format!("ftbl[{i}] is {}, expected a string", kind(frame)),
            ));
        }
    }
    check_program_points(top, ftbl.len())
}

/// allocsite's own block: optional, and so is each of its fields.
fn check_extension(top: &Map<String, Value>) -> Result<(), Problem> {
    let Some(extension) = top.get("allocsite") else {
        return Ok(());
    };
    let Some(fields) = extension.as_object() else {
        return Err(problem(
            "wrong-type",
            "allocsite",
            format!(
                "field \"allocsite\" is {}, expected an object",
                kind(extension)
            ),
        ));
    };
    for (f, t) in EXTENSION_TYPES {
        if let Some(v) = fields.get(f).filter(|v| !t.matches(v)) {
            return Err(wrong_type(&format!("allocsite.{f}"), v, t));
        }
    }
    Ok(())
}

fn check_program_points(top: &Map<String, Value>, frames: usize) -> Result<(), Problem> {
    let pps = top["pps"].as_array().expect("checked above");
    let mut need = vec!["tb", "tbk", "fs"];
    if top["bklt"] == Value::Bool(true) {
        need.extend(["tl", "mb", "mbk", "gb", "gbk", "eb", "ebk"]);
    }
    if top.get("bkacc") == Some(&Value::Bool(true)) {
        need.extend(["rb", "wb"]);
    }
    let mut totals = [0.0f64; COUNTERS.len()];
    let mut seen: HashMap<Vec<u64>, usize> = HashMap::with_capacity(pps.len());
    for (p, pp) in pps.iter().enumerate() {
        let Some(pp) = pp.as_object() else {
            return Err(problem(
                "wrong-type",
                format!("pps[{p}]"),
                format!("program point pps[{p}] is {}, expected an object", kind(pp)),
            ));
        };
        if let Some(f) = need.iter().find(|f| !pp.contains_key(**f)) {
            return Err(problem(
                "missing-field",
                format!("pps[{p}].{f}"),
                format!("program point pps[{p}] is missing field \"{f}\""),
            ));
        }
        for (k, name) in COUNTERS.iter().enumerate() {
            let Some(v) = pp.get(*name) else { continue };
            let at = format!("pps[{p}].{name}");
            let Some(x) = v.as_f64() else {
                return Err(problem(
                    "wrong-type",
                    at,
                    format!(
                        "program point pps[{p}] field \"{name}\" is {}, expected a number",
                        kind(v)
                    ),
                ));
            };
            if x < 0.0 {
                return Err(problem(
                    "bad-number",
                    at,
                    format!(
                        "program point pps[{p}] field \"{name}\" is {}, expected a number ≥ 0",
                        shown(v)
                    ),
                ));
            }
            totals[k] += x;
        }
        let fs = &pp["fs"];
        let Some(fs) = fs.as_array() else {
            return Err(problem(
                "wrong-type",
                format!("pps[{p}].fs"),
                format!(
                    "program point pps[{p}] field \"fs\" is {}, expected an array",
                    kind(fs)
                ),
            ));
        };
        let mut stack = Vec::with_capacity(fs.len());
        for (j, x) in fs.iter().enumerate() {
            let at = format!("pps[{p}].fs[{j}]");
            let Some(index) = x.as_f64() else {
                return Err(problem(
                    "wrong-type",
                    at,
                    format!(
                        "program point pps[{p}] has {} at fs[{j}], expected a frame index (a whole number)",
                        kind(x)
                    ),
                ));
            };
            if index.fract() != 0.0 || index < 1.0 || index >= frames as f64 {
                let why = if index == 0.0 {
                    " (ftbl[0] is \"[root]\", not a frame)"
                } else {
                    ""
                };
                return Err(problem(
                    "frame-index",
                    at,
                    format!(
                        "program point pps[{p}] has frame index {} at fs[{j}]{why}, but ftbl has \
                         {frames} entries (valid indices 1 to {})",
                        shown(x),
                        frames.saturating_sub(1)
                    ),
                ));
            }
            stack.push(index as u64);
        }
        if let Some(q) = seen.insert(stack, p) {
            return Err(problem(
                "repeated-stack",
                format!("pps[{p}].fs"),
                format!(
                    "program points pps[{q}] and pps[{p}] have the same stack (fs); each program point must have its own"
                ),
            ));
        }
    }
    if let Some(k) = totals.iter().position(|total| !total.is_finite()) {
        return Err(problem(
            "bad-number",
            "pps",
            format!(
                "the program points' \"{}\" counters add up to more than a number can hold",
                COUNTERS[k]
            ),
        ));
    }
    Ok(())
}

fn wrong_type(field: &str, value: &Value, expected: Type) -> Problem {
    problem(
        "wrong-type",
        field,
        format!(
            "field \"{field}\" is {}, expected {}",
            kind(value),
            expected.describe()
        ),
    )
}

/// The JSON type of `v`, as the viewer names it.
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

/// A value as the viewer shows it in a message: strings quoted and cut at 40 characters,
/// numbers as JavaScript prints them, anything else by its type.
fn shown(v: &Value) -> String {
    match v {
        Value::String(s) => {
            let cut: String = s.chars().take(40).collect();
            let cut = if cut.len() < s.len() {
                cut + "…"
            } else {
                cut
            };
            serde_json::to_string(&cut).unwrap_or_default()
        }
        Value::Number(n) => match (n.as_i64(), n.as_u64(), n.as_f64()) {
            (Some(i), _, _) => i.to_string(),
            (_, Some(u), _) => u.to_string(),
            (_, _, Some(x)) => js_number(x),
            _ => n.to_string(),
        },
        other => kind(other).to_owned(),
    }
}

/// `String(x)` in JavaScript for a finite double: integers below 10^21 in full, exponents
/// written `1e+300`, `1.5e-7`.
fn js_number(x: f64) -> String {
    let magnitude = x.abs();
    if x == 0.0 {
        return "0".into();
    }
    if (1e-6..1e21).contains(&magnitude) {
        return format!("{x}");
    }
    let text = format!("{x:e}");
    match text.split_once('e') {
        Some((mantissa, exponent)) if !exponent.starts_with('-') => {
            format!("{mantissa}e+{exponent}")
        }
        _ => text,
    }
}

#[cfg(test)]
mod corpus;

#[cfg(test)]
mod tests;
