//! How criterion shows allocation figures: units for the values (`allocs`, `B`/`KiB`/…),
//! for the figures per unit of input when a benchmark sets a [`Throughput`], and for
//! machine-readable output.

use ::criterion::Throughput;
use ::criterion::measurement::ValueFormatter;

/// Formats [`super::Allocations`]: `3.0000 allocs`, `1.2000 k allocs`.
pub(super) struct AllocationsFormatter;

/// Formats [`super::AllocatedBytes`]: `152.00 B`, `1.5000 KiB`, `3.0000 MiB`.
pub(super) struct BytesFormatter;

/// One way of scaling: the step between units and the unit names, smallest first.
struct Units {
    step: f64,
    names: [&'static str; 4],
}

const ALLOCS: Units = Units {
    step: 1000.0,
    names: ["allocs", "k allocs", "M allocs", "G allocs"],
};
const BYTES: Units = Units {
    step: 1024.0,
    names: ["B", "KiB", "MiB", "GiB"],
};

/// Divides `values` so that `typical` reads in the largest unit it reaches at least 1 of.
fn scale_down(units: &Units, typical: f64, values: &mut [f64]) -> &'static str {
    let mut index = 0;
    let mut divisor = 1.0;
    while index + 1 < units.names.len() && typical.abs() >= divisor * units.step {
        index += 1;
        divisor *= units.step;
    }
    for value in values {
        *value /= divisor;
    }
    units.names[index]
}

/// Divides `values` by the amount of input per iteration, then multiplies them by 1, a
/// thousand (1024 for binary bytes), a million… of input units until `typical` reads at
/// least 0.1, so small figures keep their digits: `0.1667 allocs/elem`, but
/// `60.000 allocs/Kelem` rather than `0.0600 allocs/elem`.
fn per_input(per_unit: &Units, amount: u64, typical: f64, values: &mut [f64]) -> &'static str {
    let amount = amount as f64;
    let ratio = |value: f64| {
        let ratio = value / amount;
        if ratio.is_nan() { 0.0 } else { ratio }
    };
    let typical = ratio(typical).abs();
    let mut index = 0;
    let mut factor = 1.0;
    while index + 1 < per_unit.names.len() && typical > 0.0 && typical * factor < 0.1 {
        index += 1;
        factor *= per_unit.step;
    }
    for value in values {
        *value = ratio(*value) * factor;
    }
    per_unit.names[index]
}

/// The amount of input per iteration and how per-input figures are named, for each kind of
/// throughput. `ElementsAndBytes` counts elements (criterion reports its bytes separately).
fn input_of(
    throughput: &Throughput,
    elements: Units,
    bytes: Units,
    bytes_decimal: Units,
    bits: Units,
) -> (u64, Units) {
    match *throughput {
        Throughput::Elements(n) => (n, elements),
        Throughput::ElementsAndBytes { elements: n, .. } => (n, elements),
        Throughput::Bytes(n) => (n, bytes),
        Throughput::BytesDecimal(n) => (n, bytes_decimal),
        Throughput::Bits(n) => (n, bits),
    }
}

impl ValueFormatter for AllocationsFormatter {
    fn scale_values(&self, typical: f64, values: &mut [f64]) -> &'static str {
        scale_down(&ALLOCS, typical, values)
    }

    fn scale_throughputs(
        &self,
        typical: f64,
        throughput: &Throughput,
        values: &mut [f64],
    ) -> &'static str {
        let (amount, units) = input_of(
            throughput,
            Units {
                step: 1000.0,
                names: [
                    "allocs/elem",
                    "allocs/Kelem",
                    "allocs/Melem",
                    "allocs/Gelem",
                ],
            },
            Units {
                step: 1024.0,
                names: ["allocs/B", "allocs/KiB", "allocs/MiB", "allocs/GiB"],
            },
            Units {
                step: 1000.0,
                names: ["allocs/B", "allocs/KB", "allocs/MB", "allocs/GB"],
            },
            Units {
                step: 1000.0,
                names: ["allocs/b", "allocs/Kb", "allocs/Mb", "allocs/Gb"],
            },
        );
        per_input(&units, amount, typical, values)
    }

    fn scale_for_machines(&self, _values: &mut [f64]) -> &'static str {
        "allocs"
    }
}

impl ValueFormatter for BytesFormatter {
    fn scale_values(&self, typical: f64, values: &mut [f64]) -> &'static str {
        scale_down(&BYTES, typical, values)
    }

    fn scale_throughputs(
        &self,
        typical: f64,
        throughput: &Throughput,
        values: &mut [f64],
    ) -> &'static str {
        // Bytes per element read best with the bytes scaled (`1.5000 KiB/elem`); below one
        // byte per element, per thousand elements and so on.
        if let Throughput::Elements(n) | Throughput::ElementsAndBytes { elements: n, .. } =
            *throughput
        {
            let per_element = typical / n as f64;
            if n > 0 && per_element >= 1.0 {
                let per_element_units = Units {
                    step: 1024.0,
                    names: ["B/elem", "KiB/elem", "MiB/elem", "GiB/elem"],
                };
                for value in values.iter_mut() {
                    *value /= n as f64;
                }
                return scale_down(&per_element_units, per_element, values);
            }
        }
        let (amount, units) = input_of(
            throughput,
            Units {
                step: 1000.0,
                names: ["B/elem", "B/Kelem", "B/Melem", "B/Gelem"],
            },
            Units {
                step: 1024.0,
                names: ["B/B", "B/KiB", "B/MiB", "B/GiB"],
            },
            Units {
                step: 1000.0,
                names: ["B/B", "B/KB", "B/MB", "B/GB"],
            },
            Units {
                step: 1000.0,
                names: ["B/b", "B/Kb", "B/Mb", "B/Gb"],
            },
        );
        per_input(&units, amount, typical, values)
    }

    fn scale_for_machines(&self, _values: &mut [f64]) -> &'static str {
        "bytes"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn throughput(formatter: &dyn ValueFormatter, throughput: Throughput, value: f64) -> String {
        formatter.format_throughput(&throughput, value)
    }

    #[test]
    fn values_read_as_allocations() {
        let f = AllocationsFormatter;
        assert_eq!(f.format_value(3.0), "3.0000 allocs");
        assert_eq!(f.format_value(0.25), "0.2500 allocs");
        assert_eq!(f.format_value(999.0), "999.00 allocs");
        assert_eq!(f.format_value(1500.0), "1.5000 k allocs");
        assert_eq!(f.format_value(2.5e6), "2.5000 M allocs");
        assert_eq!(f.format_value(7e12), "7000.0 G allocs");
        assert_eq!(f.format_value(0.0), "0.0000 allocs");
    }

    #[test]
    fn bytes_scale_by_1024() {
        let f = BytesFormatter;
        assert_eq!(f.format_value(152.0), "152.00 B");
        assert_eq!(f.format_value(1023.0), "1023.0 B");
        assert_eq!(f.format_value(1536.0), "1.5000 KiB");
        assert_eq!(f.format_value(3.0 * 1024.0 * 1024.0), "3.0000 MiB");
        assert_eq!(f.format_value(5.0 * 1024f64.powi(3)), "5.0000 GiB");
    }

    #[test]
    fn a_graph_keeps_the_unit_of_its_typical_value() {
        let mut values = [512.0, 2048.0, 4096.0];
        assert_eq!(BytesFormatter.scale_values(2048.0, &mut values), "KiB");
        assert_eq!(values, [0.5, 2.0, 4.0]);
        let mut values = [10.0, 2000.0];
        assert_eq!(
            AllocationsFormatter.scale_values(10.0, &mut values),
            "allocs"
        );
        assert_eq!(values, [10.0, 2000.0]);
    }

    #[test]
    fn throughputs_are_per_unit_of_input() {
        let a = &AllocationsFormatter;
        assert_eq!(
            throughput(a, Throughput::Elements(3), 6.0),
            "2.0000 allocs/elem"
        );
        assert_eq!(
            throughput(a, Throughput::Elements(1000), 3.0),
            "3.0000 allocs/Kelem"
        );
        assert_eq!(
            throughput(a, Throughput::Elements(6), 1.0),
            "0.1667 allocs/elem"
        );
        assert_eq!(
            throughput(a, Throughput::Bytes(2 << 20), 8.0),
            "4.0000 allocs/MiB"
        );
        assert_eq!(
            throughput(a, Throughput::BytesDecimal(2_000), 3.0),
            "1.5000 allocs/KB"
        );
        assert_eq!(throughput(a, Throughput::Bits(4), 2.0), "0.5000 allocs/b");
        assert_eq!(
            throughput(
                a,
                Throughput::ElementsAndBytes {
                    elements: 2,
                    bytes: 1
                },
                3.0
            ),
            "1.5000 allocs/elem"
        );
        let b = &BytesFormatter;
        assert_eq!(
            throughput(b, Throughput::Elements(2), 3072.0),
            "1.5000 KiB/elem"
        );
        assert_eq!(
            throughput(b, Throughput::Elements(4), 152.0),
            "38.000 B/elem"
        );
        assert_eq!(
            throughput(b, Throughput::Elements(1000), 16.0),
            "16.000 B/Kelem"
        );
        assert_eq!(throughput(b, Throughput::Bytes(100), 300.0), "3.0000 B/B");
        assert_eq!(throughput(b, Throughput::Bytes(4096), 2.0), "0.5000 B/KiB");
        assert_eq!(
            throughput(b, Throughput::Bytes(1 << 20), 2.0),
            "2.0000 B/MiB"
        );
        assert_eq!(throughput(b, Throughput::Bits(8), 8.0), "1.0000 B/b");
    }

    #[test]
    fn throughputs_never_produce_nan() {
        let mut values = [0.0, 1.0];
        let unit =
            AllocationsFormatter.scale_throughputs(0.0, &Throughput::Elements(0), &mut values);
        assert_eq!(unit, "allocs/elem");
        assert!(values.iter().all(|v| !v.is_nan()), "{values:?}");
        let mut values = [0.0, 1.0];
        BytesFormatter.scale_throughputs(1.0, &Throughput::Elements(0), &mut values);
        assert!(values.iter().all(|v| !v.is_nan()), "{values:?}");
        let mut values = [0.0];
        BytesFormatter.scale_throughputs(0.0, &Throughput::Bytes(10), &mut values);
        assert_eq!(values, [0.0]);
    }

    #[test]
    fn machines_get_unscaled_values() {
        let mut values = [1536.0];
        assert_eq!(BytesFormatter.scale_for_machines(&mut values), "bytes");
        assert_eq!(
            AllocationsFormatter.scale_for_machines(&mut values),
            "allocs"
        );
        assert_eq!(values, [1536.0]);
    }
}
