//! The validator's rules, one message each.

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
        "unsupported file version: dhatFileVersion is 3, expected 2"
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
    assert_eq!(
        err(&GOOD.replace(r#""fs":[1]"#, r#""fs":[1,7]"#)),
        "program point pps[0] has frame index 7 at fs[1], but ftbl has 2 entries (valid indices 1 to 1)"
    );
    assert_eq!(
        err(&GOOD.replace(r#""tb":8"#, r#""tb":1e400"#)),
        "the number at line 3 column 22 is too large to be a number"
    );
    assert!(validate_text(GOOD).is_ok());
}

#[test]
fn rules_dh_view_enforces_or_gets_wrong() {
    assert_eq!(
        err(&GOOD.replace(r#""cmd":"t""#, r#""cmd":{"a":1}"#)),
        "field \"cmd\" is an object, expected a string"
    );
    assert!(err(&GOOD.replace(r#""te":10"#, r#""te":0"#)).starts_with("field \"te\" (t-end"));
    assert_eq!(
        err(&GOOD.replace(r#""[root]","#, r#""main","#)),
        "ftbl[0] is \"main\", expected \"[root]\""
    );
    assert!(err(&GOOD.replace(r#""fs":[1]"#, r#""fs":[0]"#)).contains("frame index 0"));
    assert!(err(&GOOD.replace(r#""fs":[1]"#, r#""fs":[-1]"#)).contains("frame index -1"));
    assert_eq!(
        err(&GOOD.replace(r#""fs":[1]"#, r#""fs":[1e300]"#)),
        "program point pps[0] has frame index 1e+300 at fs[0], but ftbl has 2 entries (valid indices 1 to 1)"
    );
    assert_eq!(
        err(&GOOD.replace(r#""mbk":1,"#, "")),
        r#"program point pps[0] is missing field "mbk""#
    );
    // dh_view shows a missing `tl` as NaN: required with `bklt`, as the viewer does.
    assert_eq!(
        err(&GOOD.replace(r#""tl":3,"#, "")),
        r#"program point pps[0] is missing field "tl""#
    );
    assert_eq!(
        err(&GOOD.replace(r#""bkacc":false"#, r#""bkacc":true"#)),
        r#"program point pps[0] is missing field "rb""#
    );
    assert_eq!(
        err(&GOOD.replace(r#""tb":8"#, r#""tb":-8"#)),
        "program point pps[0] field \"tb\" is -8, expected a number ≥ 0"
    );
    let twice = GOOD.replace(
        r#""fs":[1]}]"#,
        r#""fs":[1]},{"tb":8,"tbk":1,"tl":1,"mb":8,"mbk":1,"gb":8,"gbk":1,"eb":0,"ebk":0,"fs":[1]}]"#,
    );
    assert_eq!(
        err(&twice),
        "program points pps[0] and pps[1] have the same stack (fs); each program point must have its own"
    );
    let overflow = GOOD.replace(
        r#""fs":[1]}]"#,
        r#""fs":[1]},{"tb":1e308,"tbk":1,"tl":1,"mb":8,"mbk":1,"gb":8,"gbk":1,"eb":0,"ebk":0,"fs":[]},
           {"tb":1e308,"tbk":1,"tl":1,"mb":8,"mbk":1,"gb":8,"gbk":1,"eb":0,"ebk":0,"fs":[1,1]}]"#,
    );
    assert_eq!(
        err(&overflow),
        "the program points' \"tb\" counters add up to more than a number can hold"
    );
}

#[test]
fn numbers_are_shown_as_javascript_prints_them() {
    for (x, text) in [
        (1.5, "1.5"),
        (1e300, "1e+300"),
        (1e21, "1e+21"),
        (123456.0, "123456"),
        (-0.25, "-0.25"),
        (1.5e-7, "1.5e-7"),
    ] {
        assert_eq!(js_number(x), text);
    }
}

#[test]
fn optional_fields_are_typed_and_numbers_read_as_javascript_reads_them() {
    assert_eq!(
        err(&GOOD.replace(r#""te":10"#, r#""te":10,"allocsite":{"samples":"x"}"#)),
        "field \"allocsite.samples\" is a string, expected a number"
    );
    // Whole numbers written as floats, and a fractional pid, are numbers to the viewer: the
    // typed reader takes them too.
    let floats = GOOD
        .replace(r#""fs":[1]"#, r#""fs":[1.0]"#)
        .replace(r#""pid":1"#, r#""pid":1.5"#)
        .replace(
            r#""te":10"#,
            r#""te":1e1,"allocsite":{"sampleBytes":4096.0}"#,
        );
    let file = crate::report::dhat::DhatFile::from_json(&floats).unwrap();
    assert_eq!(
        (
            file.program_points[0].frames.clone(),
            file.pid,
            file.end_time
        ),
        (vec![1], 1, 10)
    );
    assert_eq!(file.allocsite.unwrap().sample_bytes, 4096);
}
