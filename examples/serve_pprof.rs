//! A service that serves its live heap profile the way Go services do, for `go tool pprof`,
//! Pyroscope (Grafana Alloy's `pyroscope.scrape`) and Parca: a steady workload and a minimal
//! HTTP responder (std only) calling `allocsite::snapshot`.
//!
//! ```text
//! cargo run --release --example serve_pprof --features track
//! go tool pprof -top http://127.0.0.1:6060/debug/pprof/allocs    # allocated so far
//! go tool pprof -top http://127.0.0.1:6060/debug/pprof/heap      # live now
//! ```
//!
//! - `GET /debug/pprof/heap`: gzip-compressed `profile.proto` with Go's four heap sample
//!   types, opening on `inuse_space`. `GET /debug/pprof/allocs`: the same, opening on
//!   `alloc_space`. Both are cumulative since the profile started (Go's are too); `HEAD`
//!   works, `gc=` is accepted and ignored, `debug=N` (Go's text format) and `seconds=N`
//!   (a delta over N seconds) are refused with 400 and a message.
//! - Listens on `ALLOCSITE_LISTEN` (default `127.0.0.1:6060`; port 0 takes any free port,
//!   and the address is printed on the first line of the standard output). A port in use
//!   ends the program with a message naming the address and `ALLOCSITE_LISTEN`.
//! - A malformed request gets `400` and one line on the standard error; the service goes on.
//! - Every profiler variable applies: `ALLOCSITE_SAMPLE_BYTES`, and dumps to files, e.g.
//!   `ALLOCSITE_PPROF=heap.pb.gz ALLOCSITE_DUMP_SIGNAL=USR1` then `kill -USR1 <pid>`.
//!   Nothing is written unless asked: the service runs until it is killed.

use std::collections::{HashMap, VecDeque};
use std::io::{self, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::ExitCode;
use std::time::Duration;

use allocsite::SnapshotFormat;

#[global_allocator]
static ALLOC: allocsite::Alloc = allocsite::Alloc::system();

const DEFAULT_LISTEN: &str = "127.0.0.1:6060";
/// Longest request head read; a longer one is refused.
const MAX_HEAD: usize = 8 * 1024;

fn main() -> ExitCode {
    let address = std::env::var("ALLOCSITE_LISTEN").unwrap_or_else(|_| DEFAULT_LISTEN.into());
    let listener = match TcpListener::bind(&address) {
        Ok(listener) => listener,
        Err(error) => {
            eprintln!(
                "serve_pprof: cannot listen on {address} ({error}). Set ALLOCSITE_LISTEN to a \
                 free address, e.g. ALLOCSITE_LISTEN=127.0.0.1:6061, or 127.0.0.1:0 for any \
                 free port"
            );
            return ExitCode::from(2);
        }
    };
    // The profile is never finished (the service runs until killed): write nothing at the
    // end unless the environment asks; dumps and the endpoints read it while it runs.
    let profiler = match allocsite::Profiler::builder().no_json().start() {
        Ok(profiler) => profiler,
        Err(error) => {
            eprintln!("serve_pprof: {error}");
            return ExitCode::from(2);
        }
    };
    let local = listener
        .local_addr()
        .map_or(address.clone(), |a| a.to_string());
    println!("serve_pprof: listening on http://{local}/debug/pprof/heap and /debug/pprof/allocs");
    let _ = io::stdout().flush();

    std::thread::Builder::new()
        .name("workload".into())
        .spawn(workload)
        .expect("starting the workload thread");
    for connection in listener.incoming() {
        match connection {
            Ok(stream) => {
                let spawned = std::thread::Builder::new()
                    .name("http".into())
                    .spawn(move || handle(stream));
                if let Err(error) = spawned {
                    eprintln!("serve_pprof: cannot start a thread for a connection: {error}");
                }
            }
            Err(error) => eprintln!("serve_pprof: accepting a connection failed: {error}"),
        }
    }
    drop(profiler);
    ExitCode::SUCCESS
}

/// The steady workload: a request every millisecond or so, a bounded cache of responses
/// (what stays live), and now and then a large buffer.
fn workload() {
    let mut cache = Cache::new(2_000);
    let mut state: u64 = 0x5EED;
    for request in 0u64.. {
        state = state
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        let query = format!(
            "user={}&page={}&sort=name&tags=a,b,{}",
            state >> 54,
            request % 40,
            state % 7
        );
        let fields = parse_query(&query);
        let page = render_page(&fields, request);
        cache.insert(request, page);
        if request % 500 == 0 {
            std::hint::black_box(build_report(&cache));
        }
        std::thread::sleep(Duration::from_millis(1));
    }
}

#[inline(never)]
fn parse_query(query: &str) -> HashMap<String, String> {
    query
        .split('&')
        .filter_map(|pair| pair.split_once('='))
        .map(|(key, value)| (key.to_owned(), value.to_owned()))
        .collect()
}

#[inline(never)]
fn render_page(fields: &HashMap<String, String>, request: u64) -> Vec<u8> {
    let mut page = String::with_capacity(256);
    page.push_str("<ul>");
    let mut keys: Vec<&String> = fields.keys().collect();
    keys.sort();
    for key in keys {
        page.push_str(&format!("<li>{key}: {}</li>", fields[key]));
    }
    page.push_str(&format!("</ul><p>request {request}</p>"));
    page.into_bytes()
}

#[inline(never)]
fn build_report(cache: &Cache) -> Vec<u8> {
    let mut report = Vec::with_capacity(256 * 1024);
    for (id, page) in &cache.entries {
        report.extend_from_slice(&id.to_le_bytes());
        report.extend_from_slice(&page[..page.len().min(64)]);
    }
    report
}

struct Cache {
    entries: VecDeque<(u64, Vec<u8>)>,
    capacity: usize,
}

impl Cache {
    fn new(capacity: usize) -> Cache {
        Cache {
            entries: VecDeque::new(),
            capacity,
        }
    }

    #[inline(never)]
    fn insert(&mut self, id: u64, page: Vec<u8>) {
        if self.entries.len() == self.capacity {
            self.entries.pop_front();
        }
        self.entries.push_back((id, page));
    }
}

/// One HTTP/1.x exchange: read the request head, answer, close.
fn handle(mut stream: TcpStream) {
    let peer = stream
        .peer_addr()
        .map_or_else(|_| "unknown peer".into(), |a| a.to_string());
    let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
    let _ = stream.set_write_timeout(Some(Duration::from_secs(30)));
    let response = match read_head(&mut stream) {
        Ok(head) => respond(&head),
        Err(problem) => {
            eprintln!("serve_pprof: malformed request from {peer}: {problem}");
            Response::text(400, &format!("malformed request: {problem}\n"))
        }
    };
    if let Err(error) = response.send(&mut stream) {
        eprintln!("serve_pprof: could not answer {peer}: {error}");
    }
}

/// The request line and headers, up to the empty line.
fn read_head(stream: &mut TcpStream) -> Result<String, String> {
    let mut head = Vec::new();
    let mut buffer = [0u8; 1024];
    loop {
        if let Some(end) = find_end(&head) {
            head.truncate(end);
            return String::from_utf8(head).map_err(|_| "the request head is not UTF-8".into());
        }
        if head.len() > MAX_HEAD {
            return Err(format!("the request head is longer than {MAX_HEAD} bytes"));
        }
        match stream.read(&mut buffer) {
            Ok(0) if head.is_empty() => {
                return Err("the connection closed without a request".into());
            }
            Ok(0) => return Err("the connection closed in the middle of the request head".into()),
            Ok(read) => head.extend_from_slice(&buffer[..read]),
            Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
            Err(error) => return Err(format!("reading the request failed: {error}")),
        }
    }
}

/// Where the head ends (`\r\n\r\n`, or `\n\n` from lenient clients).
fn find_end(bytes: &[u8]) -> Option<usize> {
    let crlf = bytes.windows(4).position(|w| w == b"\r\n\r\n");
    let lf = bytes.windows(2).position(|w| w == b"\n\n");
    crlf.into_iter().chain(lf).min()
}

fn respond(head: &str) -> Response {
    let line = head.lines().next().unwrap_or_default();
    let mut parts = line.split(' ');
    let (Some(method), Some(target), Some(version), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return malformed(line, "expected `METHOD /path HTTP/1.1`");
    };
    if !version.starts_with("HTTP/1.") || !target.starts_with('/') {
        return malformed(line, "expected `METHOD /path HTTP/1.1`");
    }
    let head_only = match method {
        "GET" => false,
        "HEAD" => true,
        _ => {
            let mut response = Response::text(405, "only GET and HEAD are served\n");
            response.headers.push(("Allow", "GET, HEAD".into()));
            return response;
        }
    };
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    let format = match path {
        "/debug/pprof/heap" => SnapshotFormat::PprofHeap,
        "/debug/pprof/allocs" => SnapshotFormat::Pprof,
        "/" | "/debug/pprof" | "/debug/pprof/" => {
            return Response::text(
                200,
                "heap profiles: /debug/pprof/heap /debug/pprof/allocs\n",
            )
            .head_only(head_only);
        }
        _ => {
            return Response::text(
                404,
                &format!("no profile at {path}: try /debug/pprof/heap or /debug/pprof/allocs\n"),
            );
        }
    };
    for (key, value) in query.split('&').filter_map(|pair| pair.split_once('=')) {
        match key {
            "debug" if value != "0" => {
                return Response::text(
                    400,
                    "debug=N (Go's legacy text format) is not served: omit it for pprof\n",
                );
            }
            "seconds" => {
                return Response::text(
                    400,
                    "seconds=N (a delta profile) is not served: profiles here are cumulative \
                     since the start; scrape without it and subtract two of them \
                     (go tool pprof -diff_base)\n",
                );
            }
            _ => {}
        }
    }
    match allocsite::snapshot(format) {
        Ok(bytes) => {
            let name = if format == SnapshotFormat::PprofHeap {
                "heap"
            } else {
                "allocs"
            };
            let mut response = Response::new(200, "application/octet-stream", bytes);
            response.headers.push((
                "Content-Disposition",
                format!("attachment; filename=\"{name}\""),
            ));
            response.head_only(head_only)
        }
        Err(error) => Response::text(503, &format!("no profile: {error}\n")),
    }
}

fn malformed(line: &str, problem: &str) -> Response {
    let shown: String = line.chars().take(80).collect();
    eprintln!("serve_pprof: malformed request {shown:?}: {problem}");
    Response::text(400, &format!("malformed request: {problem}\n"))
}

struct Response {
    status: u16,
    headers: Vec<(&'static str, String)>,
    body: Vec<u8>,
    head_only: bool,
}

impl Response {
    fn new(status: u16, content_type: &str, body: Vec<u8>) -> Response {
        Response {
            status,
            headers: vec![
                ("Content-Type", content_type.into()),
                ("X-Content-Type-Options", "nosniff".into()),
            ],
            body,
            head_only: false,
        }
    }

    fn text(status: u16, text: &str) -> Response {
        Response::new(
            status,
            "text/plain; charset=utf-8",
            text.as_bytes().to_vec(),
        )
    }

    fn head_only(mut self, head_only: bool) -> Response {
        self.head_only = head_only;
        self
    }

    fn send(&self, stream: &mut TcpStream) -> io::Result<()> {
        let reason = match self.status {
            200 => "OK",
            400 => "Bad Request",
            404 => "Not Found",
            405 => "Method Not Allowed",
            _ => "Service Unavailable",
        };
        let mut head = format!("HTTP/1.1 {} {reason}\r\n", self.status);
        for (name, value) in &self.headers {
            head.push_str(&format!("{name}: {value}\r\n"));
        }
        head.push_str(&format!(
            "Content-Length: {}\r\nConnection: close\r\n\r\n",
            self.body.len()
        ));
        stream.write_all(head.as_bytes())?;
        if !self.head_only {
            stream.write_all(&self.body)?;
        }
        stream.flush()
    }
}
