//! The README's main job: profile a realistic workload, write the report, print the summary.
//!
//! ```text
//! cargo run --release --example profile --features track
//! ```
//!
//! Writes `allocsite-profile.json` (DHAT format: open it with `allocsite view`, in
//! `viewer/index.html` or in Valgrind's `dh_view.html`) and `allocsite-profile.html`
//! (self-contained) into the working directory.
//! `ALLOCSITE_SAMPLE_BYTES=1` records every allocation; see the crate docs for the other
//! `ALLOCSITE_*` variables.

use std::collections::{BTreeMap, HashMap};

#[global_allocator]
static ALLOC: allocsite::Alloc = allocsite::Alloc::system();

/// One parsed line of the generated access log.
#[derive(Debug)]
struct Request {
    client: String,
    path: String,
    status: u16,
    bytes: u32,
    tags: Vec<String>,
}

/// Generates a deterministic access log of `lines` lines.
#[inline(never)]
fn generate_log(lines: usize) -> String {
    let paths = [
        "/",
        "/search",
        "/api/items",
        "/api/users",
        "/static/app.js",
        "/login",
    ];
    let mut text = String::new();
    let mut state: u64 = 0x1234_5678;
    for line in 0..lines {
        state = state
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        let client = (state >> 33) % 500;
        let path = paths[(state >> 20) as usize % paths.len()];
        let status = [200, 200, 200, 304, 404, 500][(state >> 12) as usize % 6];
        text.push_str(&format!(
            "10.0.{}.{} {path}?page={} {status} {} tags=web,v{}\n",
            client / 256,
            client % 256,
            line % 17,
            (state >> 40) % 100_000,
            line % 3
        ));
    }
    text
}

/// Parses the log into owned records.
#[inline(never)]
fn parse_log(text: &str) -> Vec<Request> {
    text.lines()
        .filter_map(|line| {
            let mut fields = line.split(' ');
            let client = fields.next()?.to_string();
            let path = fields.next()?.split('?').next()?.to_string();
            let status = fields.next()?.parse().ok()?;
            let bytes = fields.next()?.parse().ok()?;
            let tags = fields
                .next()?
                .trim_start_matches("tags=")
                .split(',')
                .map(str::to_owned)
                .collect();
            Some(Request {
                client,
                path,
                status,
                bytes,
                tags,
            })
        })
        .collect()
}

/// Indexes request sizes by path.
#[inline(never)]
fn index_by_path(requests: &[Request]) -> HashMap<String, Vec<u32>> {
    let mut index: HashMap<String, Vec<u32>> = HashMap::new();
    for request in requests {
        index
            .entry(request.path.clone())
            .or_default()
            .push(request.bytes);
    }
    index
}

/// Counts requests per client and status, in order.
#[inline(never)]
fn count_clients(requests: &[Request]) -> BTreeMap<(String, u16), usize> {
    let mut counts = BTreeMap::new();
    for request in requests {
        *counts
            .entry((request.client.clone(), request.status))
            .or_insert(0) += 1;
    }
    counts
}

/// Renders a report line per path (short-lived strings).
#[inline(never)]
fn render_report(index: &HashMap<String, Vec<u32>>) -> Vec<String> {
    let mut lines: Vec<String> = index
        .iter()
        .map(|(path, sizes)| {
            let total: u64 = sizes.iter().map(|&s| u64::from(s)).sum();
            format!("{path}: {} requests, {total} bytes", sizes.len())
        })
        .collect();
    lines.sort();
    lines
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let profiler = allocsite::Profiler::builder()
        .html("allocsite-profile.html")
        .start()?;

    let text = generate_log(200_000);
    // Two threads parse half of the log each.
    let half = text.len() / 2;
    let split = half + text[half..].find('\n').map_or(0, |i| i + 1);
    let (first, second) = text.split_at(split);
    let (mut requests, more) = std::thread::scope(|scope| {
        let worker = scope.spawn(|| parse_log(second));
        (
            parse_log(first),
            worker.join().expect("parser thread panicked"),
        )
    });
    requests.extend(more);
    drop(text);

    let index = index_by_path(&requests);
    let clients = count_clients(&requests);
    let report = render_report(&index);
    let errors = requests.iter().filter(|r| r.status >= 500).count();
    let tags: usize = requests.iter().map(|r| r.tags.len()).sum();
    // A small deliberate leak: it shows up as live at the end.
    let banner: &'static str =
        Box::leak(format!("{} paths, {} clients", index.len(), clients.len()).into_boxed_str());
    println!(
        "{banner}; {errors} server errors; {tags} tags; {} report lines",
        report.len()
    );
    drop(requests);

    // Without `--features track` the profiler is inert: it said so once, and writes nothing.
    let report = profiler.finish()?;
    if !report.written.is_empty() {
        println!("profile written: {:?}", report.written);
    }
    Ok(())
}
