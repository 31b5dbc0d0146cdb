//! `examples/serve_pprof.rs`, the service that serves its live heap profile, run as a child
//! process on a free port: `go tool pprof` reads `/debug/pprof/allocs` and
//! `/debug/pprof/heap` (the second read holds at least what the first did, the service goes
//! on), names the example's functions, and reads the dumps it writes on `SIGUSR1` and every
//! 300 ms, whose figures equal their DHAT twins'. Bad input gets one clear message each: a
//! malformed request (the service goes on), an unwritable dump path (said once), a port in
//! use (the program ends naming the address and `ALLOCSITE_LISTEN`).
//!
//! Needs Go (see `go_pprof/mod.rs`).

mod go_pprof;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use go_pprof::{
    assert_contains, check_heap_totals, go, pprof_target, read_dhat, skipped, top_names, top_total,
};

#[global_allocator]
static ALLOC: allocsite::Alloc = allocsite::Alloc::system();

fn scratch(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join("serve_pprof")
        .join(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// The example's executable, built with `track` (run directly, not through `cargo run`, so
/// signals reach it).
fn example() -> PathBuf {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let output = Command::new(cargo)
        .args([
            "build",
            "--quiet",
            "--example",
            "serve_pprof",
            "--features",
            "track",
        ])
        .args(["--message-format=json", "--manifest-path"])
        .arg(concat!(env!("CARGO_MANIFEST_DIR"), "/Cargo.toml"))
        .output()
        .expect("running cargo build");
    assert!(
        output.status.success(),
        "building the example failed:\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let messages = String::from_utf8_lossy(&output.stdout);
    let path = messages
        .lines()
        .filter(|line| line.contains("\"name\":\"serve_pprof\""))
        .find_map(|line| {
            let start = line.find("\"executable\":\"")? + "\"executable\":\"".len();
            let end = start + line[start..].find('"')?;
            Some(PathBuf::from(&line[start..end]))
        })
        .expect("the example's executable in cargo's messages");
    assert!(path.is_file(), "{}", path.display());
    path
}

/// The running example; killed when dropped (also when a check fails).
struct Service {
    child: Child,
    address: String,
    stderr: PathBuf,
}

impl Service {
    fn start(dir: &Path, variables: &[(&str, &Path)]) -> Service {
        let stderr = dir.join("stderr.txt");
        let mut command = Command::new(example());
        command
            .env("ALLOCSITE_LISTEN", "127.0.0.1:0")
            .env("ALLOCSITE_SUMMARY", "0")
            .env("ALLOCSITE_SAMPLE_BYTES", "1")
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(&stderr).unwrap())
            .current_dir(dir);
        for (name, value) in variables {
            command.env(name, value);
        }
        let mut child = command.spawn().unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let address = line
            .strip_prefix("serve_pprof: listening on http://")
            .and_then(|rest| rest.split('/').next())
            .unwrap_or_else(|| {
                let _ = child.kill();
                panic!(
                    "no address in {line:?}; stderr:\n{}",
                    std::fs::read_to_string(&stderr).unwrap()
                )
            })
            .to_owned();
        Service {
            child,
            address,
            stderr,
        }
    }

    fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.address)
    }

    fn stderr(&self) -> String {
        std::fs::read_to_string(&self.stderr).unwrap()
    }

    fn running(&mut self) -> bool {
        self.child.try_wait().unwrap().is_none()
    }

    /// Sends `request` as is and returns the whole response.
    fn exchange(&self, request: &[u8]) -> Vec<u8> {
        let mut stream = TcpStream::connect(&self.address).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(60)))
            .unwrap();
        stream.write_all(request).unwrap();
        let mut response = Vec::new();
        stream.read_to_end(&mut response).unwrap();
        response
    }
}

impl Drop for Service {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Waits (up to two minutes) until `done` holds.
fn wait_until(what: &str, mut done: impl FnMut() -> bool) {
    let start = Instant::now();
    while !done() {
        assert!(
            start.elapsed() < Duration::from_secs(120),
            "{what}: timed out"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn head_and_body(response: &[u8]) -> (String, &[u8]) {
    let end = response
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("a response head");
    (
        String::from_utf8_lossy(&response[..end]).into_owned(),
        &response[end + 4..],
    )
}

#[test]
fn live_endpoints_dumps_and_bad_requests() {
    let go = go();
    let dir = scratch("live");
    let missing = dir.join("missing").join("serve.html");
    let mut service = Service::start(
        &dir,
        &[
            ("ALLOCSITE_OUTPUT", &dir.join("serve.json")),
            ("ALLOCSITE_PPROF", &dir.join("serve.pb.gz")),
            ("ALLOCSITE_HTML", &missing),
            ("ALLOCSITE_DUMP_SIGNAL", Path::new("USR1")),
            ("ALLOCSITE_DUMP_INTERVAL", Path::new("300ms")),
        ],
    );
    let pid = service.child.id();
    let dump = |n: u32, extension: &str| dir.join(format!("serve.{pid}.{n:04}.{extension}"));

    // Malformed and unsupported requests: one answer and one line each; the service goes on.
    for (request, status, says) in [
        (
            &b"HELLO\r\n\r\n"[..],
            "400",
            "expected `METHOD /path HTTP/1.1`",
        ),
        (b"\xff\xfe\r\n\r\n", "400", "not UTF-8"),
        (
            b"GET /nope HTTP/1.1\r\n\r\n",
            "404",
            "try /debug/pprof/heap",
        ),
        (
            b"POST /debug/pprof/heap HTTP/1.1\r\n\r\n",
            "405",
            "only GET and HEAD",
        ),
        (
            b"GET /debug/pprof/heap?seconds=5 HTTP/1.1\r\n\r\n",
            "400",
            "cumulative",
        ),
        (
            b"GET /debug/pprof/allocs?debug=1 HTTP/1.1\r\n\r\n",
            "400",
            "debug=N",
        ),
    ] {
        let response = service.exchange(request);
        let (head, body) = head_and_body(&response);
        assert!(head.starts_with(&format!("HTTP/1.1 {status} ")), "{head}");
        assert!(
            String::from_utf8_lossy(body).contains(says),
            "{head}\n{body:?}"
        );
    }
    assert_eq!(
        service
            .stderr()
            .matches("serve_pprof: malformed request")
            .count(),
        2,
        "{}",
        service.stderr()
    );
    let response = service.exchange(b"HEAD /debug/pprof/heap HTTP/1.1\r\nHost: x\r\n\r\n");
    let (head, body) = head_and_body(&response);
    assert!(head.starts_with("HTTP/1.1 200 OK"), "{head}");
    assert!(
        head.contains("Content-Type: application/octet-stream"),
        "{head}"
    );
    assert!(body.is_empty());
    let response = service.exchange(b"GET /debug/pprof/allocs?gc=1 HTTP/1.1\r\n\r\n");
    let (head, body) = head_and_body(&response);
    assert!(
        head.contains(&format!("Content-Length: {}", body.len())),
        "{head}"
    );
    assert_eq!(&body[..2], &[0x1f, 0x8b], "gzip");

    // A dump on SIGUSR1, after two interval dumps (whose HTML output cannot be written).
    wait_until("two interval dumps", || dump(2, "pb.gz").exists());
    // SAFETY: sends a signal to the child started above, which is still running.
    assert_eq!(unsafe { libc::kill(pid as i32, libc::SIGUSR1) }, 0);
    wait_until("the SIGUSR1 dump", || {
        service.stderr().contains("allocsite: SIGUSR1: dump ")
    });
    let stderr = service.stderr();
    let line = stderr
        .lines()
        .find(|line| line.starts_with("allocsite: SIGUSR1: dump "))
        .unwrap();
    let written: Vec<PathBuf> = line
        .split_once(" written: ")
        .unwrap()
        .1
        .split(", ")
        .map(PathBuf::from)
        .collect();
    assert_eq!(written.len(), 2, "{line}");
    // The unwritable output: said once by the interval dumps, and by the signal's dump.
    let failures: Vec<&str> = stderr
        .lines()
        .filter(|line| line.contains("could not write"))
        .collect();
    assert_eq!(failures.len(), 2, "{stderr}");
    assert!(failures[0].contains("missing/serve."), "{stderr}");
    assert!(
        failures[0].ends_with("only if the reason changes)"),
        "{stderr}"
    );

    let Some(go) = go else {
        return skipped("live_endpoints_dumps_and_bad_requests");
    };
    let allocs = service.url("/debug/pprof/allocs");
    let args = ["-top", "-sample_index=alloc_space", "-unit=B"];
    let first = top_total(&pprof_target(go, &args, &allocs, &dir));
    let top = pprof_target(go, &["-top", "-nodecount=1000"], &allocs, &dir);
    assert_contains(&top, &["Type: alloc_space"], "-top of /allocs");
    let names = top_names(&top);
    for user in [
        "serve_pprof::parse_query",
        "serve_pprof::render_page",
        "serve_pprof::workload",
    ] {
        assert!(names.iter().any(|n| n == user), "{user} not in:\n{top}");
    }
    let heap = pprof_target(go, &["-top"], service.url("/debug/pprof/heap"), &dir);
    assert_contains(&heap, &["Type: inuse_space"], "-top of /heap");
    let second = top_total(&pprof_target(go, &args, &allocs, &dir));
    assert!(first > 0.0 && second >= first, "{first} then {second}");
    assert!(service.running(), "the service stopped");

    for pair in [
        (written[0].clone(), written[1].clone()),
        (dump(1, "json"), dump(1, "pb.gz")),
    ] {
        check_heap_totals(go, &read_dhat(&pair.0), &pair.1);
    }
    assert!(service.running(), "the service stopped");
}

#[test]
fn a_port_in_use_ends_the_service_with_a_message() {
    let taken = TcpListener::bind("127.0.0.1:0").unwrap();
    let address = taken.local_addr().unwrap().to_string();
    let output = Command::new(example())
        .env("ALLOCSITE_LISTEN", &address)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert_contains(
        &stderr,
        &[
            &format!("cannot listen on {address}"),
            "ALLOCSITE_LISTEN",
            "in use",
        ],
        "the message",
    );
}
