//! The `vox` binary end to end.
//!
//! Exit codes, messages that name the setting, and migrations on a real SQLite file.

use std::process::{Command, Output};
use test_support::http::http_get;

fn vox(args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_vox"));
    command.args(args).env_clear().env("RUST_LOG", "warn");
    for (name, value) in env {
        command.env(name, value);
    }
    command.output().expect("run vox")
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

#[test]
fn version_prints_the_build_version() {
    let output = vox(&["version"], &[]);
    assert!(output.status.success());
    assert_eq!(
        String::from_utf8_lossy(&output.stdout).trim(),
        format!("vox {}", env!("CARGO_PKG_VERSION"))
    );
}

#[test]
fn a_malformed_setting_exits_64_naming_it_without_showing_secrets() {
    let output = vox(
        &["migrate"],
        &[("DATABASE_URL", "mysql://vox:hunter22@db/vox")],
    );
    assert_eq!(output.status.code(), Some(64));
    let message = stderr(&output);
    assert!(message.contains("DATABASE_URL"), "{message}");
    assert!(!message.contains("hunter22"), "{message}");

    let output = vox(&["migrate"], &[("REDIS_URL", "http://redis:6379")]);
    assert_eq!(output.status.code(), Some(64));
    assert!(stderr(&output).contains("REDIS_URL"), "{}", stderr(&output));

    let output = vox(&["migrate"], &[("MAX_CONCURRENT_CALLS", "lots")]);
    assert_eq!(output.status.code(), Some(64));
    assert!(stderr(&output).contains("MAX_CONCURRENT_CALLS"));

    let output = vox(&["migrate"], &[("JWT_SECRET", "sesame")]);
    assert_eq!(output.status.code(), Some(64));
    assert!(stderr(&output).contains("JWT_SECRET"));
    assert!(!stderr(&output).contains("sesame"));

    let output = vox(&["migrate"], &[("MINIO_ENDPOINT", "https://minio:9000")]);
    assert_eq!(output.status.code(), Some(64));
    assert!(
        stderr(&output).contains("MINIO_ENDPOINT"),
        "{}",
        stderr(&output)
    );
}

#[test]
fn an_old_env_file_naming_mongodb_exits_64_pointing_at_database_url_and_the_migration_guide() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("vox.db");
    let output = vox(
        &["migrate"],
        &[
            ("MONGODB_URI", "mongodb://admin:hunter22@db:27017"),
            ("DATABASE_URL", &format!("sqlite://{}", db.display())),
        ],
    );
    assert_eq!(output.status.code(), Some(64));
    let message = stderr(&output);
    assert!(message.contains("MONGODB_URI"), "{message}");
    assert!(message.contains("DATABASE_URL") && message.contains("docs/migration.md"));
    assert!(!message.contains("hunter22"), "{message}");
    // Nothing was created.
    assert!(!db.exists());
}

#[test]
fn an_unreadable_config_file_exits_64() {
    let output = vox(&["migrate", "--config", "/nonexistent/vox.toml"], &[]);
    assert_eq!(output.status.code(), Some(64));
    assert!(stderr(&output).contains("VOX_CONFIG"));
}

#[test]
fn migrate_creates_the_sqlite_file_and_a_second_run_applies_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("nested/vox.db").display());
    let first = vox(&["migrate"], &[("DATABASE_URL", &url)]);
    assert!(first.status.success(), "{}", stderr(&first));
    assert!(
        String::from_utf8_lossy(&first.stdout).contains("migration(s) applied, schema up to date")
    );
    assert!(dir.path().join("nested/vox.db").exists());
    let second = vox(&["migrate"], &[("DATABASE_URL", &url)]);
    assert!(String::from_utf8_lossy(&second.stdout).contains("0 migration(s) applied"));
}

#[test]
fn an_older_release_still_migrates_and_opens_a_database_a_newer_one_migrated() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("vox.db");
    let url = format!("sqlite://{}", path.display());
    assert!(
        vox(&["migrate"], &[("DATABASE_URL", &url)])
            .status
            .success()
    );
    // What a later release leaves behind: a migration this binary has never heard of.
    let newer = Command::new("python3")
        .arg("-c")
        .arg(
            "import sqlite3, sys; db = sqlite3.connect(sys.argv[1]); \
             db.execute(\"INSERT INTO _sqlx_migrations (version, description, success, checksum, execution_time) \
             VALUES (99990001, 'from a newer release', 1, x'00', 1)\"); db.commit()",
        )
        .arg(&path)
        .status()
        .unwrap();
    assert!(newer.success());
    let rolled_back = vox(&["migrate"], &[("DATABASE_URL", &url)]);
    assert!(rolled_back.status.success(), "{}", stderr(&rolled_back));
    assert!(String::from_utf8_lossy(&rolled_back.stdout).contains("0 migration(s) applied"));
}

#[test]
fn migrate_runs_against_postgres() {
    let url = std::env::var("VOX_TEST_DATABASE_URL").expect(
        "VOX_TEST_DATABASE_URL is not set: run scripts/test, which starts a throwaway PostgreSQL",
    );
    let output = vox(&["migrate"], &[("DATABASE_URL", &url)]);
    assert!(output.status.success(), "{}", stderr(&output));
    assert!(String::from_utf8_lossy(&output.stdout).contains("schema up to date"));
}

#[test]
fn bridge_refuses_to_start_without_its_secrets() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("vox.db").display());
    let output = vox(&["bridge"], &[("DATABASE_URL", &url)]);
    assert_eq!(output.status.code(), Some(64));
    assert!(
        stderr(&output).contains("JWT_SECRET"),
        "{}",
        stderr(&output)
    );
    let output = vox(
        &["bridge"],
        &[
            ("DATABASE_URL", &url),
            ("JWT_SECRET", "0123456789abcdef0123"),
        ],
    );
    assert_eq!(output.status.code(), Some(64));
    assert!(stderr(&output).contains("VOXCORE_SECRET"));
}

#[test]
fn a_worker_given_a_local_model_file_instead_of_the_llm_sidecar_url_exits_64_saying_what_to_run() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("vox.db").display());
    let worker = [
        ("DATABASE_URL", url.as_str()),
        ("VOXCORE_SECRET", "0123456789abcdef0123"),
        ("VOXBRIDGE_URL", "http://127.0.0.1:9"),
        ("VOXCORE_LISTEN", "127.0.0.1:0"),
    ];
    let mut env = worker.to_vec();
    env.push(("LOCAL_LLM_MODEL", "/models/smollm2.gguf"));
    let output = vox(&["core"], &env);
    assert_eq!(output.status.code(), Some(64));
    let message = stderr(&output);
    assert!(
        message.contains("LOCAL_LLM_MODEL") && message.contains("LOCAL_LLM_URL"),
        "{message}"
    );
    assert!(message.contains("vox-llm serve"), "{message}");

    let mut env = worker.to_vec();
    env.push(("LOCAL_LLM_URL", "ftp://127.0.0.1:8179/v1"));
    let output = vox(&["core"], &env);
    assert_eq!(output.status.code(), Some(64));
    assert!(
        stderr(&output).contains("LOCAL_LLM_URL"),
        "{}",
        stderr(&output)
    );
}

#[test]
fn cleanup_reports_what_it_reaped() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("vox.db").display());
    assert!(
        vox(&["migrate"], &[("DATABASE_URL", &url)])
            .status
            .success()
    );
    let output = vox(&["cleanup"], &[("DATABASE_URL", &url)]);
    assert!(output.status.success(), "{}", stderr(&output));
    assert!(String::from_utf8_lossy(&output.stdout).contains("reaped 0 stale call(s)"));
}

#[test]
fn admin_create_user_prints_a_generated_password_once() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("vox.db").display());
    let output = vox(
        &["admin", "create-user", "--email", "root@example.com"],
        &[("DATABASE_URL", &url)],
    );
    assert!(output.status.success(), "{}", stderr(&output));
    let said = String::from_utf8_lossy(&output.stdout);
    assert!(said.contains("created admin root@example.com"), "{said}");
    assert!(said.contains("password (shown once): "), "{said}");
    let again = vox(
        &["admin", "create-user", "--email", "root@example.com"],
        &[("DATABASE_URL", &url)],
    );
    assert!(!again.status.success());
}

#[test]
fn dialler_refuses_to_start_without_fleet_urls_and_serves_its_health_when_configured() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("vox.db").display());
    assert!(
        vox(&["migrate"], &[("DATABASE_URL", &url)])
            .status
            .success()
    );
    let secret = ("VOXCORE_SECRET", "fleet-secret-0123456789");
    let output = vox(&["dialler"], &[("DATABASE_URL", &url), secret]);
    assert_eq!(output.status.code(), Some(64));
    assert!(
        stderr(&output).contains("FLEET_URLS"),
        "{}",
        stderr(&output)
    );

    let port = test_support::paths::free_port();
    let mut child = Command::new(env!("CARGO_BIN_EXE_vox"))
        .arg("dialler")
        .env_clear()
        .env("RUST_LOG", "error")
        .env("DATABASE_URL", &url)
        .env(secret.0, secret.1)
        .env("FLEET_URLS", "http://127.0.0.1:9")
        .env("HEALTH_PORT", port.to_string())
        .env("LOOP_INTERVAL_SECONDS", "0.2")
        .spawn()
        .unwrap();
    let mut health = String::new();
    for _ in 0..100 {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            health = http_get(port, "/health");
            if health.starts_with("HTTP/1.1 200") {
                break;
            }
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    let metrics = http_get(port, "/metrics");
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(health.starts_with("HTTP/1.1 200"), "{health}");
    assert!(health.contains("\"leader\":true"), "{health}");
    assert!(metrics.contains("vox_dialler_ticks_total"), "{metrics}");
}

#[test]
fn sim_says_what_is_missing_or_malformed_and_exits_non_zero() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("vox.db").display());
    let db = ("DATABASE_URL", url.as_str());
    let secret = ("VOXCORE_SECRET", "fleet-secret-0123456789");
    let bridge = ("VOXBRIDGE_URL", "http://127.0.0.1:9");
    let fleet = ("FLEET_URLS", "http://127.0.0.1:9");
    let args = ["sim", "--number", "+442071838750", "--calls", "1"];
    let output = vox(&args, &[db, secret, fleet]);
    assert_eq!(output.status.code(), Some(64));
    assert!(
        stderr(&output).contains("VOXBRIDGE_URL"),
        "{}",
        stderr(&output)
    );

    let output = vox(
        &["sim", "--number", "0207 183", "--calls", "1"],
        &[db, secret, bridge, fleet],
    );
    assert_eq!(output.status.code(), Some(1));
    assert!(stderr(&output).contains("--number"), "{}", stderr(&output));

    let population = dir.path().join("people.json");
    std::fs::write(&population, r#"{"answer": 0.5, "talk_time": 3}"#).unwrap();
    let mut with_file = args.to_vec();
    with_file.extend(["--population", population.to_str().unwrap()]);
    let output = vox(&with_file, &[db, secret, bridge, fleet]);
    assert_eq!(output.status.code(), Some(1));
    assert!(stderr(&output).contains("talk_time"), "{}", stderr(&output));

    // Nobody answers at the Backend's address: the call fails, and the exit code says so.
    let output = vox(&args, &[db, secret, bridge, fleet]);
    assert_eq!(output.status.code(), Some(1));
    let out = String::from_utf8_lossy(&output.stdout);
    assert!(out.contains("failed 1"), "{out}");
    assert!(
        stderr(&output).contains("1 of 1 calls failed"),
        "{}",
        stderr(&output)
    );
}

#[test]
fn sim_through_a_carrier_needs_the_edges_url_and_an_account_owning_the_number() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("vox.db").display());
    let db = ("DATABASE_URL", url.as_str());
    assert!(vox(&["migrate"], &[db]).status.success());
    let args = [
        "sim",
        "--carrier",
        "twilio",
        "--number",
        "+442071838750",
        "--calls",
        "1",
    ];
    // No fleet secret or fleet URLs are needed, but the telephony edge's URL is.
    let output = vox(&args, &[db]);
    assert_eq!(output.status.code(), Some(64));
    assert!(
        stderr(&output).contains("VOX_PUBLIC_URL"),
        "{}",
        stderr(&output)
    );
    let public = ("VOX_PUBLIC_URL", "http://127.0.0.1:9");
    let output = vox(&args, &[db, public]);
    assert_eq!(output.status.code(), Some(1));
    assert!(
        stderr(&output).contains("no Twilio carrier account owns +442071838750"),
        "{}",
        stderr(&output)
    );
    let mut telnyx = args.to_vec();
    telnyx[2] = "telnyx";
    let output = vox(&telnyx, &[db, public]);
    assert_eq!(output.status.code(), Some(1));
    assert!(
        stderr(&output).contains("no Telnyx carrier account owns +442071838750"),
        "{}",
        stderr(&output)
    );
    let mut exotel = args.to_vec();
    exotel[2] = "exotel";
    let output = vox(&exotel, &[db, public]);
    assert_eq!(output.status.code(), Some(1));
    assert!(
        stderr(&output).contains("no Exotel carrier account owns +442071838750"),
        "{}",
        stderr(&output)
    );
    let mut other = args.to_vec();
    other[2] = "pigeon";
    let output = vox(&other, &[db, public]);
    assert_eq!(output.status.code(), Some(2));
    assert!(stderr(&output).contains("pigeon"), "{}", stderr(&output));
}

#[test]
fn dialler_refuses_a_malformed_sim_population_file_naming_the_campaign() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("vox.db").display());
    assert!(
        vox(&["migrate"], &[("DATABASE_URL", &url)])
            .status
            .success()
    );
    let file = dir.path().join("people.json");
    std::fs::write(&file, r#"{"campaigns": {"3": {"answer": 2.0}}}"#).unwrap();
    let output = vox(
        &["dialler"],
        &[
            ("DATABASE_URL", &url),
            ("VOXCORE_SECRET", "fleet-secret-0123456789"),
            ("FLEET_URLS", "http://127.0.0.1:9"),
            ("SIM_POPULATION", file.to_str().unwrap()),
        ],
    );
    assert_eq!(output.status.code(), Some(1));
    let err = stderr(&output);
    assert!(
        err.contains("SIM_POPULATION") && err.contains("campaigns.3"),
        "{err}"
    );
}

/// A child process killed when the test ends, passed or not.
struct Running(std::process::Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn sip_refuses_to_start_without_its_trunk_and_serves_is_checked_and_stops_on_sigterm() {
    let output = vox(&["sip"], &[("VOXCORE_SECRET", "fleet-secret-0123456789")]);
    assert_eq!(output.status.code(), Some(64));
    assert!(
        stderr(&output).contains("VOX_SIP_ACCOUNT"),
        "{}",
        stderr(&output)
    );
    let output = vox(
        &["sip"],
        &[("VOX_SIP_LISTEN", "0.0.0.0:5060"), ("VOX_SIP_ACCOUNT", "1")],
    );
    assert_eq!(output.status.code(), Some(64));
    assert!(stderr(&output).contains("VOX_SIP_EXTERNAL_IP"));

    // A port free on TCP (the gateway takes UDP and TCP there), the health server's, and a
    // Backend that is not there (no call is placed).
    let sip = format!("127.0.0.1:{}", test_support::paths::free_port());
    let health = test_support::paths::free_port().to_string();
    let control = format!("127.0.0.1:{}", test_support::paths::free_port());
    let env = [
        ("VOX_SIP_LISTEN", sip.as_str()),
        ("VOX_SIP_HEALTH_PORT", health.as_str()),
        ("VOX_SIP_CONTROL_LISTEN", control.as_str()),
        ("VOX_SIP_ACCOUNT", "1"),
        ("VOX_SIP_RTP_PORTS", "33000-33099"),
        ("VOXCORE_SECRET", "fleet-secret-0123456789"),
        ("VOXBRIDGE_URL", "http://127.0.0.1:9"),
    ];
    let mut command = Command::new(env!("CARGO_BIN_EXE_vox"));
    command.arg("sip").env_clear().env("RUST_LOG", "error");
    for (name, value) in env {
        command.env(name, value);
    }
    let mut child = Running(
        command
            .stdout(std::process::Stdio::piped())
            .spawn()
            .unwrap(),
    );
    let port: u16 = health.parse().unwrap();
    let mut answered = String::new();
    for _ in 0..100 {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            answered = http_get(port, "/health");
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    assert!(answered.starts_with("HTTP/1.1 200"), "{answered}");
    assert!(answered.contains("\"calls_up\":0"), "{answered}");
    let metrics = http_get(port, "/metrics");
    assert!(metrics.contains("vox_sip_calls_up 0"), "{metrics}");
    // `vox check --sip`: an OPTIONS answered 200 and the health server; the call control answers
    // but, with no Backend to read the trunk from, places no call, and says so; a gateway that is
    // not there is named.
    let checked = vox(&["check", "--sip", "--skip-dialler"], &env[..3]);
    let said = String::from_utf8_lossy(&checked.stdout).into_owned();
    assert_eq!(checked.status.code(), Some(1), "{said}{}", stderr(&checked));
    assert_eq!(said.lines().count(), 1, "{said}");
    assert!(
        said.starts_with("FAIL sip control: it has not read its trunk's settings"),
        "{said}"
    );
    let elsewhere = [
        ("VOX_SIP_LISTEN", "127.0.0.1:9"),
        ("VOX_SIP_HEALTH_PORT", health.as_str()),
    ];
    let checked = vox(&["check", "--sip", "--skip-dialler"], &elsewhere);
    let said = String::from_utf8_lossy(&checked.stdout).into_owned();
    assert!(!checked.status.success());
    assert!(said.contains("FAIL sip 127.0.0.1:9"), "{said}");

    let sent = Command::new("kill")
        .args(["-TERM", &child.0.id().to_string()])
        .status()
        .unwrap();
    assert!(sent.success());
    let status = child.0.wait().unwrap();
    let mut printed = String::new();
    std::io::Read::read_to_string(child.0.stdout.as_mut().unwrap(), &mut printed).unwrap();
    assert!(status.success(), "{status:?} {printed}");
    assert!(printed.contains("UDP and TCP"), "{printed}");
    assert!(printed.contains("draining"), "{printed}");
    assert!(printed.contains("stopped"), "{printed}");
}
