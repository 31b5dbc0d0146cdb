//! Runs configuration binaries as whole processes, several times, alternating, and prints
//! medians, min–max spread, ratios to a baseline, peak RSS and overhead per allocation.
//!
//! ```text
//! compare --config FILE [--reps N] [--workloads churn,tree] [--raw out.csv] [--md out.md]
//! ```
//!
//! Each non-comment line of FILE is `name base reps workloads command [args...]`:
//! `base` is the configuration the ratios divide by (`-` for none), `reps` the runs (or `-`
//! for `--reps`), `workloads` a comma list or `all`. The workload name is passed as the
//! command's first argument, before `args`. Runs go round-robin: repetition by repetition,
//! workload by workload, every configuration in turn (the order rotates each repetition), so
//! drift on a noisy machine hits every configuration alike.

use std::io::Read;
use std::process::{Command, Stdio};
use std::time::Instant;

struct Config {
    name: String,
    base: Option<String>,
    reps: usize,
    workloads: Vec<String>,
    command: Vec<String>,
}

#[derive(Clone, Default)]
struct Run {
    wall_s: f64,
    cpu_s: f64,
    work_s: f64,
    maxrss_kb: u64,
    allocs: Option<u64>,
    checksum: String,
}

fn median(values: &mut [f64]) -> f64 {
    values.sort_by(|a, b| a.partial_cmp(b).unwrap());
    let n = values.len();
    if n == 0 {
        f64::NAN
    } else if n % 2 == 1 {
        values[n / 2]
    } else {
        (values[n / 2 - 1] + values[n / 2]) / 2.0
    }
}

fn run_once(config: &Config, workload: &str) -> Result<Run, String> {
    let mut command = Command::new(&config.command[0]);
    command.arg(workload).args(&config.command[1..]);
    command.stdout(Stdio::piped()).stderr(Stdio::piped()).stdin(Stdio::null());
    let start = Instant::now();
    let mut child = command.spawn().map_err(|e| format!("{}: {e}", config.command[0]))?;
    let mut stdout = child.stdout.take().unwrap();
    let mut stderr = child.stderr.take().unwrap();
    let err_thread = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = stderr.read_to_string(&mut s);
        s
    });
    let mut out = String::new();
    let _ = stdout.read_to_string(&mut out);
    let mut status = 0;
    // SAFETY: plain wait4 on our own child, with valid out-pointers.
    let usage = unsafe {
        let mut usage: libc::rusage = std::mem::zeroed();
        let pid = libc::wait4(child.id() as libc::pid_t, &mut status, 0, &mut usage);
        if pid < 0 {
            return Err("wait4 failed".into());
        }
        usage
    };
    let wall_s = start.elapsed().as_secs_f64();
    let err = err_thread.join().unwrap();
    if !(libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0) {
        return Err(format!("{} {workload}: exit status {status}\n{err}", config.name));
    }
    let line = out
        .lines()
        .find(|l| l.starts_with("RESULT "))
        .ok_or_else(|| format!("{} {workload}: no RESULT line\n{out}\n{err}", config.name))?;
    let tv = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 * 1e-6;
    let cpu_s = tv(usage.ru_utime) + tv(usage.ru_stime);
    let mut run = Run { wall_s, cpu_s, maxrss_kb: usage.ru_maxrss as u64, ..Run::default() };
    for field in line.split_whitespace().skip(1) {
        let (k, v) = field.split_once('=').unwrap_or((field, ""));
        match k {
            "work_s" => run.work_s = v.parse().unwrap_or(f64::NAN),
            "allocs" => run.allocs = v.parse().ok(),
            "checksum" => run.checksum = v.to_string(),
            _ => {}
        }
    }
    Ok(run)
}

fn parse_config(text: &str, default_reps: usize, only: &Option<Vec<String>>) -> Vec<Config> {
    let mut configs = Vec::new();
    for line in text.lines() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let parts: Vec<String> = line.split_whitespace().map(String::from).collect();
        assert!(parts.len() >= 5, "config line needs `name base reps workloads command`: {line}");
        let workloads: Vec<String> = if parts[3] == "all" {
            allocsite_workloads::WORKLOADS.iter().map(|s| s.to_string()).collect()
        } else {
            parts[3].split(',').map(String::from).collect()
        };
        let workloads = workloads
            .into_iter()
            .filter(|w| only.as_ref().is_none_or(|o| o.contains(w)))
            .collect();
        configs.push(Config {
            name: parts[0].clone(),
            base: (parts[1] != "-").then(|| parts[1].clone()),
            reps: if parts[2] == "-" { default_reps } else { parts[2].parse().unwrap() },
            workloads,
            command: parts[4..].to_vec(),
        });
    }
    configs
}

const USAGE: &str = "usage: compare --config FILE [--reps N] [--workloads a,b] [--raw FILE] [--md FILE]\n\
    (FILE lines: name, ratio base, runs, workloads, command; compare.sh writes them)";

/// Ends the run with one line naming what was wrong, and the usage.
fn usage_error(problem: &str) -> ! {
    eprintln!("compare: {problem}\n{USAGE}");
    std::process::exit(2)
}

fn main() {
    let mut args = std::env::args().skip(1);
    let (mut config_path, mut reps, mut only, mut raw_path, mut md_path) = (None, 5, None, None, None);
    while let Some(a) = args.next() {
        let mut value = || args.next().unwrap_or_else(|| usage_error(&format!("{a} needs a value")));
        match a.as_str() {
            "--config" => config_path = Some(value()),
            "--reps" => {
                let given = value();
                reps = given.parse().unwrap_or_else(|_| usage_error(&format!("--reps {given}: not a number of runs")));
            }
            "--workloads" => only = Some(value().split(',').map(String::from).collect::<Vec<_>>()),
            "--raw" => raw_path = Some(value()),
            "--md" => md_path = Some(value()),
            "-h" | "--help" => {
                println!("{USAGE}");
                return;
            }
            other => usage_error(&format!("unknown argument {other}")),
        }
    }
    let config_path = config_path.unwrap_or_else(|| usage_error("--config FILE is required"));
    let text = std::fs::read_to_string(&config_path)
        .unwrap_or_else(|e| usage_error(&format!("cannot read the config {config_path}: {e}")));
    let configs = parse_config(&text, reps, &only);
    let workloads: Vec<String> = allocsite_workloads::WORKLOADS
        .iter()
        .map(|s| s.to_string())
        .filter(|w| configs.iter().any(|c| c.workloads.contains(w)))
        .collect();
    let max_reps = configs.iter().map(|c| c.reps).max().unwrap_or(0);
    // runs[config][workload]
    let mut runs: Vec<Vec<Vec<Run>>> = vec![vec![Vec::new(); workloads.len()]; configs.len()];
    let mut raw = String::from("config,workload,rep,wall_s,cpu_s,work_s,maxrss_kb,allocs\n");
    for rep in 0..max_reps {
        for (wi, workload) in workloads.iter().enumerate() {
            for k in 0..configs.len() {
                let ci = (k + rep) % configs.len();
                let config = &configs[ci];
                if rep >= config.reps || !config.workloads.contains(workload) {
                    continue;
                }
                match run_once(config, workload) {
                    Ok(run) => {
                        eprintln!(
                            "rep {rep} {workload:7} {:24} wall {:8.3}s cpu {:8.3}s work {:8.3}s rss {:7.1} MiB",
                            config.name,
                            run.wall_s,
                            run.cpu_s,
                            run.work_s,
                            run.maxrss_kb as f64 / 1024.0
                        );
                        raw += &format!(
                            "{},{workload},{rep},{:.6},{:.6},{:.6},{},{}\n",
                            config.name,
                            run.wall_s,
                            run.cpu_s,
                            run.work_s,
                            run.maxrss_kb,
                            run.allocs.map_or(String::new(), |a| a.to_string())
                        );
                        runs[ci][wi].push(run);
                    }
                    Err(e) => eprintln!("FAILED: {e}"),
                }
            }
        }
    }
    if let Some(path) = raw_path {
        std::fs::write(path, &raw).expect("write raw results");
    }

    let mut md = String::new();
    for (wi, workload) in workloads.iter().enumerate() {
        let allocs = configs
            .iter()
            .enumerate()
            .flat_map(|(ci, _)| runs[ci][wi].iter().filter_map(|r| r.allocs))
            .max();
        let checksums: std::collections::BTreeSet<&str> = (0..configs.len())
            .flat_map(|ci| runs[ci][wi].iter().map(|r| r.checksum.as_str()))
            .collect();
        md += &format!(
            "\n### {workload}{}\n\n",
            allocs.map_or(String::new(), |a| format!(" ({a} allocations + reallocations)"))
        );
        if checksums.len() > 1 {
            md += &format!("**Warning: configurations disagree on the checksum: {checksums:?}**\n\n");
        }
        md += "| configuration | runs | wall median (s) | min–max (s) | × base | CPU median (s) | × base | workload only (s) | × base | peak RSS (MiB) | × base | +ns/alloc (wall) | +ns/alloc (CPU) |\n";
        md += "|---|---|---|---|---|---|---|---|---|---|---|---|---|\n";
        let stats = |ci: usize| {
            let r = &runs[ci][wi];
            let mut wall: Vec<f64> = r.iter().map(|r| r.wall_s).collect();
            let mut work: Vec<f64> = r.iter().map(|r| r.work_s).collect();
            let mut rss: Vec<f64> = r.iter().map(|r| r.maxrss_kb as f64 / 1024.0).collect();
            let mut cpu: Vec<f64> = r.iter().map(|r| r.cpu_s).collect();
            let min = wall.iter().cloned().fold(f64::INFINITY, f64::min);
            let max = wall.iter().cloned().fold(0.0, f64::max);
            (r.len(), median(&mut wall), min, max, median(&mut work), median(&mut rss), median(&mut cpu))
        };
        for (ci, config) in configs.iter().enumerate() {
            if runs[ci][wi].is_empty() {
                continue;
            }
            let (n, wall, min, max, work, rss, cpu) = stats(ci);
            let base = config
                .base
                .as_ref()
                .and_then(|b| configs.iter().position(|c| &c.name == b))
                .filter(|&bi| !runs[bi][wi].is_empty() && bi != ci)
                .map(&stats);
            let ratio = |x: f64, b: f64| format!("{:.3}", x / b);
            let (r_wall, r_cpu, r_work, r_rss, ns, ns_cpu) = match base {
                Some((_, bw, _, _, bwork, brss, bcpu)) => (
                    ratio(wall, bw),
                    ratio(cpu, bcpu),
                    ratio(work, bwork),
                    ratio(rss, brss),
                    allocs.map_or("".into(), |a| format!("{:.0}", (wall - bw) * 1e9 / a as f64)),
                    allocs.map_or("".into(), |a| format!("{:.0}", (cpu - bcpu) * 1e9 / a as f64)),
                ),
                None => Default::default(),
            };
            md += &format!(
                "| {} | {n} | {wall:.3} | {min:.3}–{max:.3} | {r_wall} | {cpu:.3} | {r_cpu} | {work:.3} | {r_work} | {rss:.1} | {r_rss} | {ns} | {ns_cpu} |\n",
                config.name
            );
        }
    }
    println!("{md}");
    if let Some(path) = md_path {
        std::fs::write(path, &md).expect("write markdown");
    }
}
