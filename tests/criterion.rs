//! allocsite's criterion measurements run through criterion itself: every routine gives the
//! exact figures whatever other threads do, and a saved baseline flags a benchmark that starts
//! allocating more the way it flags a slowdown. Each criterion run is this binary re-executed
//! as a benchmark with criterion's own command line (`--bench --save-baseline …`), so the test
//! reads criterion's terminal report and files as a user would. Without the `track` feature it
//! checks that the measurements say so. Runs without libtest's harness.

use std::hint::black_box;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::atomic::{AtomicBool, Ordering};

use allocsite::criterion::{AllocatedBytes, Allocations};
use criterion::measurement::Measurement;
use criterion::{BatchSize, Criterion};

#[global_allocator]
static ALLOC: allocsite::Alloc = allocsite::Alloc::system();

/// Set in a child: what it runs (`figures` or `baseline`).
const CHILD: &str = "ALLOCSITE_CRITERION_CHILD";
/// Set in a `baseline` child: how many boxes the benchmark allocates per iteration.
const BOXES: &str = "ALLOCSITE_CRITERION_BOXES";
/// Set in a child configured with `noise_threshold(0.0)`.
const NO_NOISE: &str = "ALLOCSITE_CRITERION_NO_NOISE";

/// Three allocations of 8 + 3 + 12 = 23 bytes.
fn work() -> (Box<u64>, String, Vec<u32>) {
    (
        Box::new(black_box(7)),
        String::from(black_box("abc")),
        black_box(vec![1, 2, 3]),
    )
}
const WORK_ALLOCATIONS: f64 = 3.0;
const WORK_BYTES: f64 = 23.0;

/// An input `setup` makes (one allocation that must not be counted).
fn input() -> Vec<u8> {
    vec![0; 1024]
}

/// Every benchmark of the `figures` run: (name, allocations, bytes) per iteration.
const FIGURES: &[(&str, f64, f64)] = &[
    ("iter", WORK_ALLOCATIONS, WORK_BYTES),
    ("iter_batched_small", WORK_ALLOCATIONS, WORK_BYTES),
    ("iter_batched_large", WORK_ALLOCATIONS, WORK_BYTES),
    ("iter_batched_7_per_batch", WORK_ALLOCATIONS, WORK_BYTES),
    ("iter_batched_per_iteration", WORK_ALLOCATIONS, WORK_BYTES),
    ("iter_batched_ref_small", WORK_ALLOCATIONS, WORK_BYTES),
    (
        "iter_batched_ref_per_iteration",
        WORK_ALLOCATIONS,
        WORK_BYTES,
    ),
    ("iter_with_large_drop", WORK_ALLOCATIONS, WORK_BYTES),
    ("iter_custom", WORK_ALLOCATIONS, WORK_BYTES),
    ("iter_custom_own_thread", WORK_ALLOCATIONS, WORK_BYTES),
    // The input grows from 1 KiB to 2 KiB: one reallocation of the new size.
    ("realloc", 1.0, 2048.0),
];

/// The benchmarks of the `figures` run, under `group`.
fn figures<M: Measurement<Value = u64> + Default>(c: &mut Criterion<M>, group: &str) {
    let mut g = c.benchmark_group(group);
    g.bench_function("iter", |b| b.iter(work));
    for (name, size) in [
        ("small", BatchSize::SmallInput),
        ("large", BatchSize::LargeInput),
        ("7_per_batch", BatchSize::NumIterations(7)),
        ("per_iteration", BatchSize::PerIteration),
    ] {
        g.bench_function(format!("iter_batched_{name}"), |b| {
            b.iter_batched(input, |input| (input, work()), size)
        });
    }
    for (name, size) in [
        ("small", BatchSize::SmallInput),
        ("per_iteration", BatchSize::PerIteration),
    ] {
        g.bench_function(format!("iter_batched_ref_{name}"), |b| {
            b.iter_batched_ref(input, |input| (black_box(input.len()), work()), size)
        });
    }
    g.bench_function("iter_with_large_drop", |b| b.iter_with_large_drop(work));
    g.bench_function("iter_custom", |b| {
        b.iter_custom(|iters| counted::<M>(iters))
    });
    // The routine runs on a thread of its own, which measures itself.
    g.bench_function("iter_custom_own_thread", |b| {
        b.iter_custom(|iters| {
            std::thread::spawn(move || counted::<M>(iters))
                .join()
                .unwrap()
        })
    });
    g.bench_function("realloc", |b| {
        b.iter_batched(
            input,
            |mut input| {
                input.push(1);
                input
            },
            BatchSize::SmallInput,
        )
    });
    g.finish();
}

/// `iters` calls of [`work`], counted by the measurement the way criterion would.
fn counted<M: Measurement<Value = u64> + Default>(iters: u64) -> u64 {
    let measurement = M::default();
    let start = measurement.start();
    for _ in 0..iters {
        black_box(work());
    }
    measurement.end(start)
}

/// The benchmark of the `baseline` runs: `BOXES` allocations of 8 bytes per iteration.
fn boxes<M: Measurement + 'static>(c: &mut Criterion<M>, group: &str) {
    let boxes: usize = std::env::var(BOXES).unwrap().parse().unwrap();
    let mut g = c.benchmark_group(group);
    g.bench_function("boxes", |b| {
        b.iter(|| {
            for i in 0..boxes {
                black_box(Box::new(i as u64));
            }
        })
    });
    g.finish();
}

/// A child: criterion configured from this process's command line, as `criterion_group!`
/// does, with another thread allocating all the time.
fn child(what: &str) {
    /// Stops the other thread when the child ends, even by a panic.
    struct Stop<'a>(&'a AtomicBool);
    impl Drop for Stop<'_> {
        fn drop(&mut self) {
            self.0.store(true, Ordering::Relaxed);
        }
    }
    let stop = AtomicBool::new(false);
    std::thread::scope(|scope| {
        scope.spawn(|| {
            while !stop.load(Ordering::Relaxed) {
                black_box(vec![0u8; 4096]);
                std::thread::yield_now();
            }
        });
        let _stop = Stop(&stop);
        let noise = if std::env::var_os(NO_NOISE).is_some() {
            0.0
        } else {
            0.01 // criterion's default
        };
        let mut allocations = Criterion::default()
            .with_measurement(Allocations)
            .noise_threshold(noise)
            .configure_from_args();
        let mut bytes = Criterion::default()
            .with_measurement(AllocatedBytes)
            .noise_threshold(noise)
            .configure_from_args();
        // One group name per measurement: criterion keeps baselines by benchmark id.
        if what == "figures" {
            figures(&mut allocations, "allocations");
            figures(&mut bytes, "bytes");
        } else {
            boxes(&mut allocations, "allocations");
            boxes(&mut bytes, "bytes");
        }
        allocations.final_summary();
        bytes.final_summary();
    });
}

/// Runs a child with criterion's arguments `args`, results under `home`.
fn run(home: &Path, what: &str, boxes: usize, args: &[&str]) -> Output {
    run_with(home, what, boxes, args, false)
}

/// As [`run`], `no_noise` setting the child's noise threshold to 0.
fn run_with(home: &Path, what: &str, boxes: usize, args: &[&str], no_noise: bool) -> Output {
    let mut command = Command::new(std::env::current_exe().unwrap());
    if no_noise {
        command.env(NO_NOISE, "1");
    }
    let output = command
        .args(args)
        // Short runs: the figures are exact, so few samples say everything.
        .args(["--warm-up-time", "0.05", "--measurement-time", "0.2"])
        .args(["--sample-size", "10", "--nresamples", "2000", "--noplot"])
        .args(["--color", "never"])
        .env(CHILD, what)
        .env(BOXES, boxes.to_string())
        .env("CRITERION_HOME", home)
        .output()
        .unwrap();
    if allocsite::tracking_enabled() {
        assert!(
            output.status.success(),
            "child {what} {args:?} failed:\n{}\n{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
    }
    output
}

fn stdout(output: &Output) -> String {
    String::from_utf8(output.stdout.clone()).unwrap()
}

/// A JSON file criterion wrote.
fn json(path: PathBuf) -> serde_json::Value {
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path:?}: {e}"));
    serde_json::from_str(&text).unwrap()
}

/// Asserts that every estimate of `estimates` (mean, median, slope: point and both bounds)
/// is `expected`, to rounding.
fn assert_exact(estimates: &serde_json::Value, expected: f64, what: &str) {
    for statistic in ["mean", "median", "slope"] {
        let estimate = &estimates[statistic];
        if estimate.is_null() {
            assert_ne!(statistic, "mean", "{what}: no mean");
            continue;
        }
        let interval = &estimate["confidence_interval"];
        for value in [
            &estimate["point_estimate"],
            &interval["lower_bound"],
            &interval["upper_bound"],
        ] {
            let value = value.as_f64().unwrap();
            assert!(
                (value - expected).abs() <= expected * 1e-9,
                "{what}: {statistic} {value} instead of {expected}: {estimates}"
            );
        }
    }
    let std_dev = estimates["std_dev"]["point_estimate"].as_f64().unwrap();
    assert!(std_dev <= expected * 1e-9, "{what}: std_dev {std_dev}");
}

/// Every routine's figures are exact, in the files and on the terminal.
fn exact_figures(home: &Path) {
    let report = stdout(&run(home, "figures", 0, &["--bench"]));
    for &(name, allocations, bytes) in FIGURES {
        for (group, expected) in [("allocations", allocations), ("bytes", bytes)] {
            let estimates = json(home.join(group).join(name).join("new/estimates.json"));
            assert_exact(&estimates, expected, &format!("{group}/{name}"));
        }
    }
    // criterion's terminal line: [lower bound, estimate, upper bound].
    for (figure, count) in [
        (
            "[3.0000 allocs 3.0000 allocs 3.0000 allocs]",
            FIGURES.len() - 1,
        ),
        ("[1.0000 allocs 1.0000 allocs 1.0000 allocs]", 1),
        ("[23.000 B 23.000 B 23.000 B]", FIGURES.len() - 1),
        ("[2.0000 KiB 2.0000 KiB 2.0000 KiB]", 1),
    ] {
        assert_eq!(report.matches(figure).count(), count, "{figure}\n{report}");
    }
    let samples = json(home.join("bytes/realloc/new/sample.json"));
    assert_eq!(samples["times"].as_array().unwrap().len(), 10);
}

/// `--save-baseline` then `--baseline`: the same figures are no change, one more allocation
/// per iteration is a regression, in both measurements.
fn baseline_flags_a_regression(home: &Path) {
    run(
        home,
        "baseline",
        2,
        &["--bench", "--save-baseline", "before"],
    );

    let same = stdout(&run(
        home,
        "baseline",
        2,
        &["--bench", "--baseline", "before"],
    ));
    assert!(!same.contains("regressed"), "{same}");
    assert!(!same.contains("improved"), "{same}");
    assert_eq!(
        same.matches("change: [+0.0000% +0.0000% +0.0000%]").count(),
        2,
        "{same}"
    );

    let more = stdout(&run(
        home,
        "baseline",
        3,
        &["--bench", "--baseline", "before"],
    ));
    assert_eq!(
        more.matches("change: [+50.000% +50.000% +50.000%]").count(),
        2,
        "{more}"
    );
    assert_eq!(
        more.matches("Performance has regressed.").count(),
        2,
        "{more}"
    );
    for group in ["allocations", "bytes"] {
        let change = json(home.join(group).join("boxes/change/estimates.json"));
        let mean = &change["mean"];
        assert!(
            (mean["point_estimate"].as_f64().unwrap() - 0.5).abs() < 1e-9,
            "{change}"
        );
        assert!(mean["confidence_interval"]["lower_bound"].as_f64().unwrap() > 0.49);
    }

    let fewer = stdout(&run(
        home,
        "baseline",
        1,
        &["--bench", "--baseline", "before"],
    ));
    assert_eq!(
        fewer.matches("Performance has improved.").count(),
        2,
        "{fewer}"
    );

    // One more allocation in 200 is under criterion's default noise threshold (1%); exact
    // counts have no noise, and with `noise_threshold(0.0)` it is a regression.
    let compare = ["--bench", "--baseline", "many"];
    run(
        home,
        "baseline",
        200,
        &["--bench", "--save-baseline", "many"],
    );
    let default = stdout(&run(home, "baseline", 201, &compare));
    assert_eq!(
        default.matches("Change within noise threshold.").count(),
        2,
        "{default}"
    );
    let exact = stdout(&run_with(home, "baseline", 201, &compare, true));
    assert_eq!(
        exact
            .matches("change: [+0.5000% +0.5000% +0.5000%]")
            .count(),
        2,
        "{exact}"
    );
    assert_eq!(
        exact.matches("Performance has regressed.").count(),
        2,
        "{exact}"
    );
}

/// Without `track`, the benchmark fails with a message naming the fix instead of zeros.
fn tracking_off_says_so(home: &Path) {
    let output = run(home, "figures", 0, &["--bench"]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success());
    assert!(
        stderr.contains(
            "allocsite::criterion::Allocations cannot count allocations: allocsite tracking is off"
        ) && stderr.contains("`cargo bench --features allocsite/track`"),
        "{stderr}"
    );
}

fn main() {
    if let Ok(what) = std::env::var(CHILD) {
        return child(&what);
    }
    let home = std::env::temp_dir().join(format!("allocsite-criterion-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&home);
    type Check = (&'static str, fn(&Path));
    let checks: &[Check] = if allocsite::tracking_enabled() {
        &[
            ("exact_figures", exact_figures),
            ("baseline_flags_a_regression", baseline_flags_a_regression),
        ]
    } else {
        &[("tracking_off_says_so", tracking_off_says_so)]
    };
    for (name, check) in checks {
        check(&home.join(name));
        println!("criterion: {name} ok");
    }
    let _ = std::fs::remove_dir_all(&home);
    println!("criterion: {} passed, 0 failed", checks.len());
}
