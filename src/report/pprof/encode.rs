//! The protobuf encoder: varints, keys, length-delimited and packed fields, and
//! `profile.proto`'s messages field by field.

use super::model::{Profile, ValueType};

/// Protocol-buffer wire encoding of the few shapes `profile.proto` uses.
struct Encoder {
    buf: Vec<u8>,
}

const VARINT: u64 = 0;
const LENGTH_DELIMITED: u64 = 2;

impl Encoder {
    fn varint(&mut self, mut value: u64) {
        while value >= 0x80 {
            self.buf.push(value as u8 | 0x80);
            value >>= 7;
        }
        self.buf.push(value as u8);
    }

    fn key(&mut self, field: u64, wire_type: u64) {
        self.varint(field << 3 | wire_type);
    }

    /// A `uint64`/`int64`/`bool` field; zero (the default) is not written.
    fn uint(&mut self, field: u64, value: u64) {
        if value != 0 {
            self.key(field, VARINT);
            self.varint(value);
        }
    }

    /// `int64` as protobuf writes it: negative numbers as ten-byte two's complement.
    fn int(&mut self, field: u64, value: i64) {
        self.uint(field, value as u64);
    }

    /// A string or bytes field, written even when empty (string table entries must be).
    fn bytes(&mut self, field: u64, bytes: &[u8]) {
        self.key(field, LENGTH_DELIMITED);
        self.varint(bytes.len() as u64);
        self.buf.extend_from_slice(bytes);
    }

    /// A packed repeated varint field; nothing for an empty list.
    fn packed(&mut self, field: u64, values: impl Iterator<Item = u64> + Clone) {
        let length: usize = values.clone().map(varint_length).sum();
        if length == 0 {
            return;
        }
        self.key(field, LENGTH_DELIMITED);
        self.varint(length as u64);
        for value in values {
            self.varint(value);
        }
    }

    /// An embedded message, written even when empty.
    fn message(&mut self, field: u64, write: impl FnOnce(&mut Encoder)) {
        let start = self.buf.len();
        write(self);
        let body = self.buf.split_off(start);
        self.bytes(field, &body);
    }
}

fn varint_length(value: u64) -> usize {
    (64 - (value | 1).leading_zeros() as usize).div_ceil(7)
}

pub(super) fn encode_profile(p: &Profile) -> Vec<u8> {
    let mut e = Encoder { buf: Vec::new() };
    let value_type = |e: &mut Encoder, v: &ValueType| {
        e.int(1, v.kind);
        e.int(2, v.unit);
    };
    for v in &p.sample_type {
        e.message(1, |e| value_type(e, v));
    }
    for s in &p.sample {
        e.message(2, |e| {
            e.packed(1, s.location_id.iter().copied());
            e.packed(2, s.value.iter().map(|&v| v as u64));
            for l in &s.label {
                e.message(3, |e| {
                    e.int(1, l.key);
                    e.int(2, l.str);
                    e.int(3, l.num);
                    e.int(4, l.num_unit);
                });
            }
        });
    }
    for m in &p.mapping {
        e.message(3, |e| {
            e.uint(1, m.id);
            e.uint(2, m.memory_start);
            e.uint(3, m.memory_limit);
            e.uint(4, m.file_offset);
            e.int(5, m.filename);
            e.int(6, m.build_id);
            e.uint(7, u64::from(m.has_functions));
            e.uint(8, u64::from(m.has_filenames));
            e.uint(9, u64::from(m.has_line_numbers));
            e.uint(10, u64::from(m.has_inline_frames));
        });
    }
    for l in &p.location {
        e.message(4, |e| {
            e.uint(1, l.id);
            e.uint(2, l.mapping_id);
            e.uint(3, l.address);
            for line in &l.line {
                e.message(4, |e| {
                    e.uint(1, line.function_id);
                    e.int(2, line.line);
                    e.int(3, line.column);
                });
            }
            e.uint(5, u64::from(l.is_folded));
        });
    }
    for f in &p.function {
        e.message(5, |e| {
            e.uint(1, f.id);
            e.int(2, f.name);
            e.int(3, f.system_name);
            e.int(4, f.filename);
            e.int(5, f.start_line);
        });
    }
    for s in &p.string_table {
        e.bytes(6, s.as_bytes());
    }
    e.int(9, p.time_nanos);
    e.int(10, p.duration_nanos);
    if let Some(v) = &p.period_type {
        e.message(11, |e| value_type(e, v));
    }
    e.int(12, p.period);
    e.packed(13, p.comment.iter().map(|&c| c as u64));
    e.int(14, p.default_sample_type);
    e.buf
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::pprof::model::{Function, Label, Line, Location, Sample};
    use crate::report::pprof::test_reader::decode;

    fn encoded(write: impl FnOnce(&mut Encoder)) -> Vec<u8> {
        let mut e = Encoder { buf: Vec::new() };
        write(&mut e);
        e.buf
    }

    #[test]
    fn varints_by_hand() {
        let cases: &[(u64, &[u8])] = &[
            (0, &[0x00]),
            (1, &[0x01]),
            (127, &[0x7f]),
            (128, &[0x80, 0x01]),
            (300, &[0xac, 0x02]),
            (16_384, &[0x80, 0x80, 0x01]),
            (
                u64::MAX,
                &[0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01],
            ),
        ];
        for &(value, bytes) in cases {
            assert_eq!(encoded(|e| e.varint(value)), bytes, "varint {value}");
            assert_eq!(varint_length(value), bytes.len(), "length of {value}");
        }
        // int64 -1 is ten bytes; zero fields are left out; strings are written even empty.
        assert_eq!(
            encoded(|e| e.int(2, -1)),
            [
                0x10, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01
            ]
        );
        assert_eq!(encoded(|e| e.uint(1, 0)), [] as [u8; 0]);
        assert_eq!(encoded(|e| e.bytes(6, b"")), [0x32, 0x00]);
        assert_eq!(encoded(|e| e.packed(1, [].into_iter())), [] as [u8; 0]);
        assert_eq!(
            encoded(|e| e.packed(2, [1, 300].into_iter())),
            [0x12, 0x03, 0x01, 0xac, 0x02]
        );
    }

    #[test]
    fn tiny_profile_by_hand() {
        let profile = Profile {
            sample_type: vec![ValueType { kind: 1, unit: 2 }],
            sample: vec![Sample {
                location_id: vec![1],
                value: vec![300],
                label: vec![Label {
                    key: 2,
                    num: 5,
                    num_unit: 2,
                    ..Label::default()
                }],
            }],
            location: vec![Location {
                id: 1,
                mapping_id: 1,
                address: 0x1a,
                line: vec![Line {
                    function_id: 1,
                    line: 12,
                    column: 0,
                }],
                is_folded: false,
            }],
            function: vec![Function {
                id: 1,
                name: 3,
                ..Function::default()
            }],
            string_table: vec!["".into(), "alloc_space".into(), "bytes".into(), "f".into()],
            period_type: Some(ValueType { kind: 1, unit: 2 }),
            period: 1,
            default_sample_type: 1,
            ..Profile::default()
        };
        #[rustfmt::skip]
        let expected: Vec<u8> = [
            // sample_type (1): { type (1) = 1, unit (2) = 2 }
            &[0x0a, 0x04, 0x08, 0x01, 0x10, 0x02][..],
            // sample (2), 15 bytes: location_id (1) packed [1]; value (2) packed [300];
            // label (3) { key (1) = 2, num (3) = 5, num_unit (4) = 2 }
            &[0x12, 0x0f,
                0x0a, 0x01, 0x01,
                0x12, 0x02, 0xac, 0x02,
                0x1a, 0x06, 0x08, 0x02, 0x18, 0x05, 0x20, 0x02],
            // location (4), 12 bytes: id 1, mapping_id 1, address 0x1a,
            // line (4) { function_id (1) = 1, line (2) = 12 }
            &[0x22, 0x0c, 0x08, 0x01, 0x10, 0x01, 0x18, 0x1a, 0x22, 0x04, 0x08, 0x01, 0x10, 0x0c],
            // function (5): { id (1) = 1, name (2) = 3 }
            &[0x2a, 0x04, 0x08, 0x01, 0x10, 0x03],
            // string_table (6): "", "alloc_space", "bytes", "f"
            &[0x32, 0x00],
            &[0x32, 0x0b], b"alloc_space",
            &[0x32, 0x05], b"bytes",
            &[0x32, 0x01], b"f",
            // period_type (11), period (12) = 1, default_sample_type (14) = 1
            &[0x5a, 0x04, 0x08, 0x01, 0x10, 0x02],
            &[0x60, 0x01],
            &[0x70, 0x01],
        ]
        .concat();
        let bytes = encode_profile(&profile);
        assert_eq!(bytes, expected);
        assert_eq!(decode(&bytes), profile);
    }
}
