//! Without the `track` feature a program that profiles itself builds and runs as it would
//! with it: `start` and `finish` return `Ok` (an empty report), nothing is written, the
//! environment cannot make it fail, and one short line on stderr says no profile will be
//! written — with no advice about `cargo test` (this may be a production binary), and
//! nothing at all when the summary is off. (With the feature on there is nothing to check
//! here.) Re-executes itself to capture its own stderr; runs without libtest's harness.

#[global_allocator]
static ALLOC: allocsite::Alloc = allocsite::Alloc::system();

/// What the child does, by its `ALLOCSITE_FEATURE_OFF_CHILD` value.
fn child(mode: &str) -> Result<(), allocsite::Error> {
    for _ in 0..3 {
        let profiler = allocsite::Profiler::builder()
            .summary(mode != "quiet")
            .html("profile.html")
            .start()?;
        drop(std::hint::black_box(vec![1u8; 100]));
        drop(profiler);
    }
    // The README's pattern: `?` on both ends, in a `main` that returns a `Result`.
    let profiler = match mode {
        "quiet" => allocsite::Profiler::builder().summary(false).start()?,
        _ => allocsite::Profiler::start()?,
    };
    let report = profiler.finish()?;
    assert_eq!(report, allocsite::ProfileReport::default());
    Ok(())
}

fn run_child(mode: &str, environment: &[(&str, &str)]) -> (String, std::path::PathBuf) {
    let directory = std::env::temp_dir().join(format!(
        "allocsite-feature-off-{mode}-{}",
        std::process::id()
    ));
    std::fs::create_dir_all(&directory).unwrap();
    let output = std::process::Command::new(std::env::current_exe().unwrap())
        .env("ALLOCSITE_FEATURE_OFF_CHILD", mode)
        .envs(environment.iter().copied())
        .current_dir(&directory)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    assert!(output.status.success(), "{mode}: {stderr}");
    (stderr, directory)
}

fn main() {
    if let Ok(mode) = std::env::var("ALLOCSITE_FEATURE_OFF_CHILD") {
        if let Err(error) = child(&mode) {
            eprintln!("{error}");
            std::process::exit(1);
        }
        return;
    }
    if allocsite::tracking_enabled() {
        println!("feature_off_profiler: tracking is on; nothing to check");
        return;
    }
    // Invalid settings do not matter to a profiler that does nothing.
    let (stderr, directory) = run_child("default", &[("ALLOCSITE_SAMPLE_BYTES", "lots")]);
    assert_eq!(
        stderr,
        "allocsite: no heap profile will be written (built without allocsite's `track` feature)\n",
        "one short line, said once in four starts"
    );
    assert!(
        std::fs::read_dir(&directory).unwrap().next().is_none(),
        "nothing was written"
    );
    let (stderr, _) = run_child("quiet", &[]);
    assert_eq!(stderr, "", "summary(false): nothing said");
    let (stderr, _) = run_child("default", &[("ALLOCSITE_SUMMARY", "0")]);
    assert_eq!(stderr, "", "ALLOCSITE_SUMMARY=0: nothing said");
    println!("feature_off_profiler: inert, said once in four starts, wrote nothing");
}
