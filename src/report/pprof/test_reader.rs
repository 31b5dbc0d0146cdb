//! A minimal protobuf reader for the tests, independent of the encoder, that decodes every
//! field of `profile.proto` the writer uses.

use super::model::{Function, Label, Line, Location, Mapping, Profile, Sample, ValueType};

// -- A minimal protobuf reader, independent of the encoder above. ---------------------

#[derive(Debug)]
enum Field<'a> {
    Varint(u64),
    Bytes(&'a [u8]),
}

fn read_varint(bytes: &mut &[u8]) -> u64 {
    let mut value = 0u64;
    for shift in (0..).step_by(7) {
        let (&byte, rest) = bytes.split_first().expect("truncated varint");
        *bytes = rest;
        value |= u64::from(byte & 0x7f) << shift;
        if byte & 0x80 == 0 {
            return value;
        }
    }
    unreachable!()
}

/// Every (field number, value) of one message, in order.
fn fields(mut bytes: &[u8]) -> Vec<(u64, Field<'_>)> {
    let mut out = Vec::new();
    while !bytes.is_empty() {
        let key = read_varint(&mut bytes);
        let value = match key & 7 {
            0 => Field::Varint(read_varint(&mut bytes)),
            2 => {
                let length = read_varint(&mut bytes) as usize;
                let (body, rest) = bytes.split_at(length);
                bytes = rest;
                Field::Bytes(body)
            }
            other => panic!("wire type {other} is not used by profile.proto"),
        };
        out.push((key >> 3, value));
    }
    out
}

fn varint(field: &Field<'_>) -> u64 {
    match field {
        Field::Varint(v) => *v,
        Field::Bytes(_) => panic!("expected a varint"),
    }
}

fn body<'a>(field: &Field<'a>) -> &'a [u8] {
    match field {
        Field::Bytes(b) => b,
        Field::Varint(_) => panic!("expected a length-delimited field"),
    }
}

/// A repeated varint field, packed or not.
fn push_varints(field: &Field<'_>, into: &mut Vec<u64>) {
    match *field {
        Field::Varint(v) => into.push(v),
        Field::Bytes(mut b) => {
            while !b.is_empty() {
                into.push(read_varint(&mut b));
            }
        }
    }
}

fn decode_value_type(bytes: &[u8]) -> ValueType {
    let mut v = ValueType::default();
    for (number, field) in fields(bytes) {
        match number {
            1 => v.kind = varint(&field) as i64,
            2 => v.unit = varint(&field) as i64,
            n => panic!("ValueType has no field {n}"),
        }
    }
    v
}

pub(super) fn decode(bytes: &[u8]) -> Profile {
    let mut p = Profile::default();
    for (number, field) in fields(bytes) {
        match number {
            1 => p.sample_type.push(decode_value_type(body(&field))),
            2 => {
                let mut s = Sample::default();
                for (number, field) in fields(body(&field)) {
                    match number {
                        1 => push_varints(&field, &mut s.location_id),
                        2 => {
                            let mut values = Vec::new();
                            push_varints(&field, &mut values);
                            s.value.extend(values.iter().map(|&v| v as i64));
                        }
                        3 => {
                            let mut l = Label::default();
                            for (number, field) in fields(body(&field)) {
                                let v = varint(&field) as i64;
                                match number {
                                    1 => l.key = v,
                                    2 => l.str = v,
                                    3 => l.num = v,
                                    4 => l.num_unit = v,
                                    n => panic!("Label has no field {n}"),
                                }
                            }
                            s.label.push(l);
                        }
                        n => panic!("Sample has no field {n}"),
                    }
                }
                p.sample.push(s);
            }
            3 => {
                let mut m = Mapping::default();
                for (number, field) in fields(body(&field)) {
                    let v = varint(&field);
                    match number {
                        1 => m.id = v,
                        2 => m.memory_start = v,
                        3 => m.memory_limit = v,
                        4 => m.file_offset = v,
                        5 => m.filename = v as i64,
                        6 => m.build_id = v as i64,
                        7 => m.has_functions = v == 1,
                        8 => m.has_filenames = v == 1,
                        9 => m.has_line_numbers = v == 1,
                        10 => m.has_inline_frames = v == 1,
                        n => panic!("Mapping has no field {n}"),
                    }
                }
                p.mapping.push(m);
            }
            4 => {
                let mut l = Location::default();
                for (number, field) in fields(body(&field)) {
                    match number {
                        1 => l.id = varint(&field),
                        2 => l.mapping_id = varint(&field),
                        3 => l.address = varint(&field),
                        4 => {
                            let mut line = Line::default();
                            for (number, field) in fields(body(&field)) {
                                let v = varint(&field);
                                match number {
                                    1 => line.function_id = v,
                                    2 => line.line = v as i64,
                                    3 => line.column = v as i64,
                                    n => panic!("Line has no field {n}"),
                                }
                            }
                            l.line.push(line);
                        }
                        5 => l.is_folded = varint(&field) == 1,
                        n => panic!("Location has no field {n}"),
                    }
                }
                p.location.push(l);
            }
            5 => {
                let mut f = Function::default();
                for (number, field) in fields(body(&field)) {
                    let v = varint(&field);
                    match number {
                        1 => f.id = v,
                        2 => f.name = v as i64,
                        3 => f.system_name = v as i64,
                        4 => f.filename = v as i64,
                        5 => f.start_line = v as i64,
                        n => panic!("Function has no field {n}"),
                    }
                }
                p.function.push(f);
            }
            6 => p
                .string_table
                .push(String::from_utf8(body(&field).to_vec()).unwrap()),
            9 => p.time_nanos = varint(&field) as i64,
            10 => p.duration_nanos = varint(&field) as i64,
            11 => p.period_type = Some(decode_value_type(body(&field))),
            12 => p.period = varint(&field) as i64,
            13 => {
                let mut comments = Vec::new();
                push_varints(&field, &mut comments);
                p.comment.extend(comments.iter().map(|&c| c as i64));
            }
            14 => p.default_sample_type = varint(&field) as i64,
            n => panic!("Profile field {n} is not written by this encoder"),
        }
    }
    p
}

// -- Bytes computed by hand. -----------------------------------------------------------
