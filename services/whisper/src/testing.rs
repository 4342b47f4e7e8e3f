//! Test fixture for any crate's tests: the local STT sidecar (`vox-whisper` with the tiny.en model that `scripts/test` converts), started once per test process.
//!
//! Other crates' tests include this file by `#[path]` rather than depending on this crate, which
//! would link whisper.cpp into test binaries that only talk to the sidecar over HTTP.

use std::path::PathBuf;
use std::process::Stdio;
use std::sync::OnceLock;
use std::time::Duration;

fn models_dir() -> PathBuf {
    std::env::var_os("VOX_MODELS_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../target/models"))
        })
}

/// The `vox-whisper` binary cargo built beside this test (`cargo test --workspace` builds it).
fn whisper_binary() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let path = exe.parent().unwrap().parent().unwrap().join("vox-whisper");
    assert!(
        path.is_file(),
        "{} is missing: build it with `cargo build -p whisper-server` (scripts/test does)",
        path.display()
    );
    path
}

/// The local STT sidecar, once per test binary; it exits when this process does (its stdin closes).
pub fn sidecar_url() -> String {
    static URL: OnceLock<String> = OnceLock::new();
    URL.get_or_init(|| {
        let model = models_dir().join("whisper/ggml-tiny.en.bin");
        assert!(
            model.is_file(),
            "{} is missing: scripts/test converts it (scripts/whisper-model)",
            model.display()
        );
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let child = std::process::Command::new(whisper_binary())
            .args([
                "serve",
                "--exit-on-stdin-close",
                "--threads",
                "2",
                "--listen",
            ])
            .arg(format!("127.0.0.1:{port}"))
            .arg("--model")
            .arg(&model)
            .env("RUST_LOG", "warn")
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .spawn()
            .expect("start vox-whisper");
        // Keep the pipe open for the life of the test process.
        std::mem::forget(child);
        for _ in 0..400 {
            if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                return format!("http://127.0.0.1:{port}/v1");
            }
            std::thread::sleep(Duration::from_millis(25));
        }
        panic!("vox-whisper did not start listening");
    })
    .clone()
}
