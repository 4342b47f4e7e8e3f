//! `vox up` end to end: every part starts on embedded defaults, the demo is seeded once.
//!
//! With the models and the console built, what the README promises: the sidecar up, the demo's
//! calls completed with transcripts, the console served.
//!
//! `vox check` passes against it and names what fails, SIGTERM stops it cleanly, and a taken port,
//! a read-only data directory or a second `vox up` on the same data are refused with the reason and
//! the data left alone. With `VOX_UP_SIP`, SIPp's call through its SIP gateway reaches the demo bot
//! and `vox check --sip` passes.

use std::io::BufRead;
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::time::Duration;
use test_support::http::{body, http, http_get};
use test_support::paths::{binary, free_port};

fn up_command(dir: &Path, port: u16) -> Command {
    up_command_with(dir, port, 0)
}

fn up_command_with(dir: &Path, port: u16, health_port: u16) -> Command {
    let mut command = Command::new(binary("vox"));
    command
        .arg("up")
        .current_dir(dir)
        .env_clear()
        .env("RUST_LOG", "warn")
        .env("VOXBRIDGE_HOST", "127.0.0.1")
        .env("VOXBRIDGE_PORT", port.to_string())
        .env("HEALTH_PORT", health_port.to_string())
        .env("VOX_UP_WORKERS", "2")
        .env("LOOP_INTERVAL_SECONDS", "0.2");
    command
}

/// Starts `vox up` in `dir` on a free port; returns the child, the port and what it printed
/// until it said where the Backend is.
fn start_up(dir: &Path) -> (Child, u16, Vec<String>) {
    start_up_with(dir, 0, &[])
}

fn start_up_with(
    dir: &Path,
    health_port: u16,
    extra: &[(&str, String)],
) -> (Child, u16, Vec<String>) {
    let mut child = up_command_with(dir, 0, health_port)
        .envs(extra.iter().map(|(name, value)| (*name, value)))
        .stdout(Stdio::piped())
        .spawn()
        .expect("start vox up");
    let mut stdout = std::io::BufReader::new(child.stdout.take().unwrap());
    let mut lines = Vec::new();
    loop {
        let mut line = String::new();
        if stdout.read_line(&mut line).unwrap() == 0 {
            break;
        }
        let line = line.trim_end().to_owned();
        let port = line
            .split("Backend API on http://127.0.0.1:")
            .nth(1)
            .and_then(|rest| rest.split_whitespace().next())
            .and_then(|port| port.parse().ok());
        lines.push(line);
        if let Some(port) = port {
            // Keep reading what it says next, as a terminal would.
            std::thread::spawn(move || stdout.lines().for_each(drop));
            return (child, port, lines);
        }
    }
    let _ = child.kill();
    let status = child.wait();
    panic!("vox up stopped before serving ({status:?}): {lines:?}");
}

/// SIGTERM, then the exit status (within a minute).
fn terminate(mut child: Child) -> std::process::ExitStatus {
    let sent = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(sent.success());
    for _ in 0..600 {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let _ = child.kill();
    panic!("vox up did not stop within a minute of SIGTERM");
}

fn json(answer: &str) -> serde_json::Value {
    serde_json::from_str(&body(answer)).unwrap_or_else(|e| panic!("{e}: {answer}"))
}

fn sign_in(port: u16, password: &str) -> String {
    let login = format!(r#"{{"email":"admin@vox.local","password":"{password}"}}"#);
    let answer = http(port, "POST", "/api/v1/auth/login", None, Some(&login));
    json(&answer)["access_token"].as_str().unwrap().to_owned()
}

/// The first admin's password, which the first run prints once.
fn password_of(said: &[String]) -> String {
    said.iter()
        .find_map(|l| l.strip_prefix("first run: created admin@vox.local with password "))
        .and_then(|rest| rest.split_whitespace().next())
        .unwrap_or_else(|| panic!("no password: {said:?}"))
        .to_owned()
}

#[test]
fn up_runs_every_part_seeds_the_demo_once_and_stops_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let (first, port, said) = start_up(dir.path());
    let password = password_of(&said);
    assert!(http_get(port, "/health").starts_with("HTTP/1.1 200"));
    let token = sign_in(port, &password);
    let campaigns = json(&http(port, "GET", "/api/v1/campaigns", Some(&token), None));
    assert_eq!(campaigns["items"][0]["name"], "Demo: clinic appointments");
    assert_eq!(campaigns["items"][0]["state"], "running");
    // Both workers answer and heartbeat into the registry, and the dialler leads within a few ticks.
    let mut status = serde_json::Value::Null;
    for _ in 0..100 {
        status = json(&http(
            port,
            "GET",
            "/api/v1/fleet/status",
            Some(&token),
            None,
        ));
        if status["workers_up"] == 2
            && status["dialler"]["healthy"] == true
            && status["registry"]["workers"] == 2
        {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(status["workers_up"], 2, "{status}");
    assert_eq!(status["dialler"]["healthy"], true, "{status}");
    // The in-process registry holds both workers' heartbeats.
    assert_eq!(status["registry"]["workers"], 2, "{status}");
    assert!(terminate(first).success());
    assert!(dir.path().join("data/vox.db").exists());
    let secrets = dir.path().join("data/secrets.toml");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&secrets).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        // L5: the data directory is its owner's alone.
        let data = std::fs::metadata(dir.path().join("data")).unwrap();
        assert_eq!(data.permissions().mode() & 0o777, 0o700);
    }
    let kept = std::fs::read_to_string(&secrets).unwrap();

    // A restart creates nothing again and keeps the secrets (the old token still works).
    let (second, port, said) = start_up(dir.path());
    assert!(!said.iter().any(|l| l.starts_with("first run")), "{said:?}");
    let campaigns = json(&http(port, "GET", "/api/v1/campaigns", Some(&token), None));
    assert_eq!(campaigns["items"].as_array().map(Vec::len), Some(1));
    assert!(terminate(second).success());
    assert_eq!(std::fs::read_to_string(&secrets).unwrap(), kept);
}

/// What the README promises a new user, with the models `scripts/up` fetches (here where
/// `scripts/test` put them) and the console built: the speech-to-text sidecar up, the demo
/// campaign's calls ending `completed` with the caller's words heard in their transcripts, and the
/// console served, within four minutes.
#[test]
fn up_with_its_models_completes_demo_calls_with_transcripts_and_serves_the_console() {
    use test_support::paths::{ONNXRUNTIME_LIB, PIPER_ONNX, WHISPER_GGML, model, repo_root};
    let console = repo_root().join("console/dist");
    let index = std::fs::read_to_string(console.join("index.html")).unwrap_or_else(|e| {
        panic!(
            "{}/index.html: {e}: scripts/test builds the console before the tests (npm --prefix \
             console run build)",
            console.display()
        )
    });
    let path = |p: std::path::PathBuf| p.display().to_string();
    let dir = tempfile::tempdir().unwrap();
    let (up, port, said) = start_up_with(
        dir.path(),
        0,
        &[
            ("WHISPER_MODEL", path(model(WHISPER_GGML))),
            ("PIPER_VOICE_MODEL", path(model(PIPER_ONNX))),
            ("VOX_ONNXRUNTIME", path(model(ONNXRUNTIME_LIB))),
            ("CONSOLE_DIR", path(console)),
        ],
    );
    // The sidecar started (the line says what `vox up` runs), and the console is served, at `/`
    // and at a client-side route.
    let banner = said.last().unwrap();
    assert!(banner.contains("speech-to-text on"), "{said:?}");
    for page in ["/", "/calls"] {
        let answer = http_get(port, page);
        assert!(answer.starts_with("HTTP/1.1 200"), "{page}: {answer}");
        assert_eq!(body(&answer), index, "{page} is not the console");
    }
    let token = sign_in(port, &password_of(&said));
    // What it runs is what it offers: the Piper voice and the sidecar.
    let offers = json(&http(port, "GET", "/api/v1/providers", Some(&token), None));
    assert_eq!(
        offers["local"],
        serde_json::json!(["piper", "whisper"]),
        "{offers}"
    );

    // The demo campaign's calls: two completed, each with the bot's words and the caller's.
    let deadline = std::time::Instant::now() + Duration::from_secs(240);
    let mut seen = std::collections::BTreeSet::new();
    let mut heard = Vec::new();
    while heard.len() < 2 {
        let calls = json(&http(
            port,
            "GET",
            "/api/v1/calls?limit=100",
            Some(&token),
            None,
        ));
        let items = calls["items"].as_array().cloned().unwrap_or_default();
        for call in items.iter().filter(|c| c["state"] == "completed") {
            let id = call["id"].as_i64().unwrap();
            if !seen.insert(id) {
                continue;
            }
            let detail = json(&http(
                port,
                "GET",
                &format!("/api/v1/calls/{id}"),
                Some(&token),
                None,
            ));
            let lines = detail["result"]["transcript"]
                .as_array()
                .cloned()
                .unwrap_or_default();
            let said_by = |speaker: &str| -> Vec<String> {
                lines
                    .iter()
                    .filter(|l| l["speaker"] == speaker)
                    .filter_map(|l| l["text"].as_str())
                    .filter(|text| !text.trim().is_empty())
                    .map(str::to_owned)
                    .collect()
            };
            let (bot, caller) = (said_by("assistant"), said_by("user"));
            assert!(
                !bot.is_empty(),
                "call {id} completed without the bot's words: {detail}"
            );
            if !caller.is_empty() {
                heard.push((id, caller));
            }
        }
        if std::time::Instant::now() > deadline {
            let states: Vec<_> = items.iter().map(|c| c["state"].to_string()).collect();
            panic!(
                "in 240 s, {} demo call(s) completed with the caller heard ({heard:?}); the \
                 calls: {states:?}",
                heard.len()
            );
        }
        std::thread::sleep(Duration::from_secs(1));
    }
    assert!(terminate(up).success());
}

fn refused(output: &Output) -> String {
    assert!(!output.status.success(), "vox up did not fail");
    String::from_utf8_lossy(&output.stderr).into_owned()
}

#[test]
fn a_second_up_on_the_same_data_is_refused_and_the_first_runs_on() {
    let dir = tempfile::tempdir().unwrap();
    let (first, port, _) = start_up(dir.path());
    let database = std::fs::read(dir.path().join("data/vox.db")).unwrap();
    let message = refused(&up_command(dir.path(), 0).output().unwrap());
    assert!(
        message.contains("another `vox up` is already running"),
        "{message}"
    );
    assert!(http_get(port, "/health").starts_with("HTTP/1.1 200"));
    assert!(terminate(first).success());
    assert!(!database.is_empty());
}

#[test]
fn up_on_a_taken_port_names_the_port_and_exits_non_zero() {
    let dir = tempfile::tempdir().unwrap();
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port();
    let message = refused(&up_command(dir.path(), port).output().unwrap());
    assert!(
        message.contains(&format!("port {port} is taken")),
        "{message}"
    );
}

#[cfg(unix)]
#[test]
fn up_refuses_a_read_only_data_directory_and_writes_nothing_there() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    std::fs::create_dir(&data).unwrap();
    std::fs::set_permissions(&data, std::fs::Permissions::from_mode(0o555)).unwrap();
    let message = refused(&up_command(dir.path(), 0).output().unwrap());
    std::fs::set_permissions(&data, std::fs::Permissions::from_mode(0o755)).unwrap();
    assert!(message.contains("is not writable"), "{message}");
    assert_eq!(std::fs::read_dir(&data).unwrap().count(), 0);
}

fn check(env: &[(&str, String)]) -> Output {
    let mut command = Command::new(binary("vox"));
    command.arg("check").env_clear().env("RUST_LOG", "warn");
    for (name, value) in env {
        command.env(name, value);
    }
    command.output().unwrap()
}

#[test]
fn vox_check_passes_against_a_running_up_and_names_each_failing_part() {
    let dir = tempfile::tempdir().unwrap();
    let health_port = free_port();
    // With its SIP gateway on loopback (VOX_UP_SIP).
    let (sip_port, sip_health, sip_control) = (free_port(), free_port(), free_port());
    let sip = [
        ("VOX_UP_SIP", sip_port.to_string()),
        ("VOX_SIP_HEALTH_PORT", sip_health.to_string()),
        ("VOX_SIP_CONTROL_LISTEN", format!("127.0.0.1:{sip_control}")),
        ("VOX_SIP_RTP_PORTS", "34000-34199".to_owned()),
    ];
    let (up, port, said) = start_up_with(dir.path(), health_port, &sip);
    let gateway = format!("127.0.0.1:{sip_port}");
    assert!(
        said.iter()
            .any(|l| l.starts_with(&format!("SIP gateway on {gateway} (UDP and TCP)"))),
        "{said:?}"
    );
    let token = sign_in(port, &password_of(&said));
    let fleets = json(&http(port, "GET", "/api/v1/fleets", Some(&token), None));
    let fleet_urls: Vec<&str> = fleets["urls"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|u| u.as_str())
        .collect();
    let env = |fleets: String| {
        vec![
            ("VOXBRIDGE_URL", format!("http://127.0.0.1:{port}")),
            ("FLEET_URLS", fleets),
            ("HEALTH_PORT", health_port.to_string()),
        ]
    };
    // The dialler's first tick may still be on its way.
    let mut passed = check(&env(fleet_urls.join(",")));
    for _ in 0..50 {
        if passed.status.success() {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
        passed = check(&env(fleet_urls.join(",")));
    }
    let said = String::from_utf8_lossy(&passed.stdout).into_owned();
    assert!(
        passed.status.success(),
        "{said}{}",
        String::from_utf8_lossy(&passed.stderr)
    );
    assert!(said.contains("ok: 5 check(s) passed"), "{said}");

    // The gateway answers a SIP call to the demo number with the demo bot once a worker is
    // free (the demo campaign is paused, and its live calls end on their own). This `vox up`
    // has no speech-to-text, so the bot ends the call at once: the caller gets vox's BYE.
    let campaigns = json(&http(port, "GET", "/api/v1/campaigns", Some(&token), None));
    let campaign = campaigns["items"][0]["id"].as_i64().unwrap();
    let paused = http(
        port,
        "POST",
        &format!("/api/v1/campaigns/{campaign}/pause"),
        Some(&token),
        None,
    );
    assert!(paused.starts_with("HTTP/1.1 200"), "{paused}");
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let address = gateway.parse().unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(120);
    loop {
        let called = runtime.block_on(sip::testing::sipp(address, "hung_up_by_vox", "15555550100"));
        match called {
            Ok(()) => break,
            Err(why) if why.contains("SIP/2.0 486") && std::time::Instant::now() < deadline => {
                std::thread::sleep(Duration::from_secs(1));
            }
            Err(why) => panic!("the SIP call failed: {why}"),
        }
    }
    let mut with_sip = env(fleet_urls.join(","));
    with_sip.push(("VOX_SIP_LISTEN", gateway.clone()));
    with_sip.push(("VOX_SIP_HEALTH_PORT", sip_health.to_string()));
    with_sip.push(("VOX_SIP_CONTROL_LISTEN", format!("127.0.0.1:{sip_control}")));
    let mut command = Command::new(binary("vox"));
    command.args(["check", "--sip"]).env_clear();
    let passed = command
        .envs(with_sip.iter().map(|(name, value)| (*name, value)))
        .output()
        .unwrap();
    let said = String::from_utf8_lossy(&passed.stdout).into_owned();
    assert!(passed.status.success(), "{said}");
    assert!(said.contains("ok: 8 check(s) passed"), "{said}");
    let metrics = http_get(sip_health, "/metrics");
    assert!(
        metrics.contains("vox_sip_invite_responses_total{code=\"200\"} 1"),
        "{metrics}"
    );

    let failed = check(&env(format!("{},http://127.0.0.1:9", fleet_urls[0])));
    let said = String::from_utf8_lossy(&failed.stdout).into_owned();
    assert_eq!(failed.status.code(), Some(1), "{said}");
    assert_eq!(said.lines().count(), 1, "{said}");
    assert!(
        said.starts_with("FAIL fleet http://127.0.0.1:9: unreachable"),
        "{said}"
    );

    assert!(terminate(up).success());
    let down = check(&env(fleet_urls[0].to_owned()));
    let said = String::from_utf8_lossy(&down.stdout).into_owned();
    assert_eq!(down.status.code(), Some(1));
    for part in [
        "FAIL backend:",
        "FAIL fleet",
        "FAIL dialler health:",
        "FAIL dialler metrics:",
    ] {
        assert!(said.contains(part), "{part} missing: {said}");
    }
}
