//! Without the `track` feature a Profiler builds, does nothing, and says so exactly once on
//! stderr however many times it is started. (With the feature on there is nothing to check
//! here.) Re-executes itself to capture its own stderr; runs without libtest's harness.

#[global_allocator]
static ALLOC: allocsite::Alloc = allocsite::Alloc::system();

fn main() {
    if std::env::var_os("ALLOCSITE_FEATURE_OFF_CHILD").is_some() {
        for _ in 0..3 {
            let profiler = allocsite::Profiler::builder()
                .summary(false)
                .start()
                .unwrap();
            drop(std::hint::black_box(vec![1u8; 100]));
            drop(profiler);
        }
        return;
    }
    if allocsite::tracking_enabled() {
        println!("feature_off_profiler: tracking is on; nothing to check");
        return;
    }
    let directory =
        std::env::temp_dir().join(format!("allocsite-feature-off-{}", std::process::id()));
    std::fs::create_dir_all(&directory).unwrap();
    let output = std::process::Command::new(std::env::current_exe().unwrap())
        .env("ALLOCSITE_FEATURE_OFF_CHILD", "1")
        .current_dir(&directory)
        .output()
        .unwrap();
    assert!(output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    let notice =
        "allocsite: allocsite tracking is off: this build does not have the `track` cargo feature.";
    assert_eq!(
        stderr.matches(notice).count(),
        1,
        "said exactly once:\n{stderr}"
    );
    assert!(stderr.contains("no profile will be written"), "{stderr}");
    assert!(
        !directory.join(allocsite::DEFAULT_OUTPUT).exists(),
        "nothing was written"
    );
    println!("feature_off_profiler: said once in three starts, wrote nothing");
}
