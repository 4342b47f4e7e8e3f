//! The WSS ingress (deploy/haproxy) tested for real.
//!
//! Debian's HAProxy rendered by render.sh over two fleets on loopback and a real Backend — each
//! fleet reached by its prefix, a call's media through the ingress, and add-fleet.sh adding a fleet
//! by configuration and reload alone while refusing a bad one.

use crate::support::calls::*;
use crate::support::platform::*;
use serde_json::Value;
use std::path::Path;
use std::process::{Command, Output};

struct Ingress {
    platform: Platform,
    /// The ingress's base URL.
    base: String,
    /// Fleet base URLs, in order.
    fleets: Vec<String>,
}

fn script(name: &str, platform: &Platform, port: u16) -> Command {
    let mut command = Command::new(repo_root().join("deploy/haproxy").join(name));
    command
        .env("FLEETS_FILE", platform.path("fleets.txt"))
        .env("HAPROXY_CFG", platform.path("haproxy.cfg"))
        .env("BIND", format!("127.0.0.1:{port}"))
        .env("MAXCONN", "1000")
        .env(
            "GLOBAL_EXTRA",
            format!("pidfile {}", platform.path("haproxy.pid").display()),
        );
    command
}

fn fleet_health(base: &str, prefix: &str) -> (u16, Value) {
    let port: u16 = base.rsplit(':').next().unwrap().parse().unwrap();
    let answer =
        test_support::http::http(port, "GET", &format!("{prefix}/health/fleet"), None, None);
    let status = answer
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    (
        status,
        serde_json::from_str(&test_support::http::body(&answer)).unwrap_or(Value::Null),
    )
}

/// Two fleets (a worker each) and HAProxy in front of the first `listed` of them.
fn ingress(listed: usize) -> Ingress {
    let mut platform = Platform::start();
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let fleets = platform.tcp_workers(2, |i| format!("{base}/f/fleet{i}"));
    let lines: String = fleets
        .iter()
        .take(listed)
        .enumerate()
        .map(|(i, url)| format!("fleet{} {}\n", i + 1, url.trim_start_matches("http://")))
        .collect();
    std::fs::write(platform.path("fleets.txt"), lines).unwrap();
    let rendered = script("render.sh", &platform, port).output().unwrap();
    assert!(
        rendered.status.success(),
        "{}",
        String::from_utf8_lossy(&rendered.stderr)
    );
    std::fs::write(platform.path("haproxy.cfg"), &rendered.stdout).unwrap();
    let haproxy = system_binary("haproxy");
    let checked = Command::new(&haproxy)
        .args(["-c", "-q", "-f"])
        .arg(platform.path("haproxy.cfg"))
        .output()
        .unwrap();
    assert!(
        checked.status.success(),
        "haproxy -c: {}",
        String::from_utf8_lossy(&checked.stderr)
    );
    // Master-worker mode: SIGUSR2 to the master reloads the configuration.
    platform.spawn(
        Command::new(&haproxy)
            .args(["-W", "-db", "-f"])
            .arg(platform.path("haproxy.cfg")),
    );
    wait_for("haproxy", || {
        std::net::TcpStream::connect(("127.0.0.1", port)).is_ok()
    });
    Ingress {
        platform,
        base,
        fleets,
    }
}

fn said(output: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap()
}

#[test]
fn each_fleet_prefix_reaches_its_own_fleet_through_the_ingress() {
    let ingress = ingress(2);
    for i in 1..=2 {
        let (status, health) = fleet_health(&ingress.base, &format!("/f/fleet{i}"));
        assert_eq!(status, 200, "{health}");
        assert_eq!(
            health["workers"][0]["health"]["worker_id"],
            format!("voxcore-{i}"),
            "{health}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_call_through_the_ingress_gets_its_media_on_its_fleet() {
    let ingress = tokio::task::spawn_blocking(|| ingress(2)).await.unwrap();
    let platform = &ingress.platform;
    let token = sign_in(platform).await;
    let bot = greeter(platform, &token, "Hello through the ingress.").await;
    let fleets: Vec<String> = (1..=2)
        .map(|i| format!("{}/f/fleet{i}", ingress.base))
        .collect();
    let fleets: Vec<&str> = fleets.iter().map(String::as_str).collect();
    save_fleets(platform, &token, &fleets).await;
    let accepted = test_call(platform, &token, bot).await;
    let media = accepted["media_url"]
        .as_str()
        .unwrap_or_else(|| panic!("{accepted}"));
    let worker = accepted["worker_id"]
        .as_str()
        .unwrap()
        .trim_start_matches("voxcore-");
    let expected = format!(
        "{}/f/fleet{worker}/ws/vox/",
        ingress.base.replace("http://", "ws://")
    );
    assert!(
        media.starts_with(&expected),
        "{media} is not under {expected}"
    );
    let (heard, audio) = talk(media).await;
    assert_eq!(heard, "Hello through the ingress.");
    assert!(audio > 0);
    let state = final_state(platform, &token, accepted["call_id"].as_i64().unwrap()).await;
    assert_eq!(state, "completed");
}

#[test]
fn add_fleet_adds_a_fleet_by_configuration_and_reload_and_refuses_a_bad_one() {
    let ingress = ingress(1);
    let platform = &ingress.platform;
    let port: u16 = ingress.base.rsplit(':').next().unwrap().parse().unwrap();
    // Before: the second fleet's prefix is nobody's, so the default backend (fleet 1) says 404.
    let (status, _) = fleet_health(&ingress.base, "/f/fleet2");
    assert_eq!(status, 404);
    let reload = format!("kill -USR2 {}", platform.last_pid());
    let address = ingress.fleets[1].trim_start_matches("http://");

    let bad = script("add-fleet.sh", platform, port)
        .env("RELOAD", &reload)
        .args(["fleet 2", address])
        .output()
        .unwrap();
    assert_eq!(bad.status.code(), Some(64), "{}", said(&bad));
    assert!(
        said(&bad).contains("may hold only letters"),
        "{}",
        said(&bad)
    );
    let bad = script("add-fleet.sh", platform, port)
        .env("RELOAD", &reload)
        .args(["fleet2", "not-an-address"])
        .output()
        .unwrap();
    assert_eq!(bad.status.code(), Some(64), "{}", said(&bad));
    let config_before = read(&platform.path("haproxy.cfg"));
    assert_eq!(
        read(&platform.path("fleets.txt")).lines().count(),
        1,
        "nothing was added"
    );

    let added = script("add-fleet.sh", platform, port)
        .env("RELOAD", &reload)
        .args(["fleet2", address])
        .output()
        .unwrap();
    assert!(added.status.success(), "{}", said(&added));
    assert_ne!(read(&platform.path("haproxy.cfg")), config_before);
    assert_eq!(read(&platform.path("fleets.txt")).lines().count(), 2);
    wait_for("the reloaded ingress to route fleet2", || {
        fleet_health(&ingress.base, "/f/fleet2").1["workers"][0]["health"]["worker_id"]
            == "voxcore-2"
    });
    // Fleet 1 still answers after the reload.
    assert_eq!(fleet_health(&ingress.base, "/f/fleet1").0, 200);
    let again = script("add-fleet.sh", platform, port)
        .env("RELOAD", &reload)
        .args(["fleet2", address])
        .output()
        .unwrap();
    assert_eq!(again.status.code(), Some(64), "{}", said(&again));
    assert!(said(&again).contains("already in"), "{}", said(&again));
}
