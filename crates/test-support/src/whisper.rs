//! The local STT sidecar (`vox-whisper` with the tiny.en model `scripts/test` converts).
//!
//! Once per test process.
//!
//! Tests reach it over HTTP only, so depending on this crate does not link whisper.cpp.

use crate::paths::{WHISPER_GGML, binary, free_port, model};
use std::process::Stdio;
use std::sync::OnceLock;
use std::time::Duration;

/// The sidecar's OpenAI-compatible base URL; it exits when this process does (its stdin closes).
pub fn sidecar_url() -> String {
    static URL: OnceLock<String> = OnceLock::new();
    URL.get_or_init(|| {
        let model = model(WHISPER_GGML);
        let port = free_port();
        let child = std::process::Command::new(binary("vox-whisper"))
            .args([
                "serve",
                "--exit-on-stdin-close",
                "--threads",
                "1",
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

/// What the sidecar's whisper heard in `samples` at `rate`, lower case without punctuation.
#[cfg(feature = "platform")]
pub async fn transcribe(samples: &[i16], rate: audio::SampleRate) -> String {
    let wav = audio::wav::encode(rate, 1, samples).unwrap();
    let part = reqwest::multipart::Part::bytes(wav)
        .file_name("heard.wav")
        .mime_str("audio/wav")
        .unwrap();
    let form = reqwest::multipart::Form::new()
        .part("file", part)
        .text("model", "whisper-1")
        .text("language", "en");
    let url = format!("{}/audio/transcriptions", sidecar_url());
    let response = reqwest::Client::new()
        .post(url)
        .multipart(form)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let body: serde_json::Value = response.json().await.unwrap();
    body["text"]
        .as_str()
        .unwrap()
        .to_lowercase()
        .chars()
        .filter(|c| c.is_alphanumeric() || c.is_whitespace())
        .collect()
}
