//! The fleet host's nginx (deploy/nginx) tested for real.
//!
//! Debian's nginx rendered by render.sh in front of three `vox core` workers on Unix sockets and a
//! real Backend — the host's health through it, a call's media reaching the worker that reserved
//! it, and a busy worker's 429 retried on the next.

use crate::support::calls::*;
use crate::support::platform::*;
use serde_json::Value;
use std::process::Command;

/// Three workers behind nginx; returns the platform and nginx's base URL.
fn fleet_host() -> (Platform, String) {
    let mut platform = Platform::start();
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    platform.workers(3, |i| format!("{base}/w/{i}"));
    let rendered = Command::new(repo_root().join("deploy/nginx/render.sh"))
        .env("WORKERS", "3")
        .env("LISTEN", format!("127.0.0.1:{port}"))
        .env(
            "SOCKET_PATTERN",
            platform.path("voxcore_%i.sock").display().to_string(),
        )
        .output()
        .unwrap();
    assert!(
        rendered.status.success(),
        "{}",
        String::from_utf8_lossy(&rendered.stderr)
    );
    start_nginx(&mut platform, &rendered.stdout, port);
    (platform, base)
}

/// Debian's nginx serving `site` (a rendered `server` block) in the platform's folder, tested with
/// `nginx -t` first, once it accepts connections on `port`.
pub(crate) fn start_nginx(platform: &mut Platform, site: &[u8], port: u16) {
    std::fs::write(platform.path("site.conf"), site).unwrap();
    let dir = platform.dir.path().display().to_string();
    let main = format!(
        "{user}daemon off;\npid {dir}/nginx.pid;\nerror_log {dir}/nginx-error.log;\nevents {{}}\nhttp {{\n\
         log_format upstreams '$request_uri $status [$upstream_addr] [$upstream_status]';\n\
         access_log {dir}/nginx-access.log upstreams;\n\
         client_body_temp_path {dir}/nginx-body;\nproxy_temp_path {dir}/nginx-proxy;\n\
         include {dir}/site.conf;\n}}\n",
        user = if running_as_root() {
            "user root;\n"
        } else {
            ""
        },
    );
    std::fs::write(platform.path("nginx.conf"), main).unwrap();
    let nginx = system_binary("nginx");
    let config = platform.path("nginx.conf");
    let tested = Command::new(&nginx)
        .arg("-t")
        .arg("-p")
        .arg(platform.dir.path())
        .arg("-c")
        .arg(&config)
        .output()
        .unwrap();
    assert!(
        tested.status.success(),
        "nginx -t: {}",
        String::from_utf8_lossy(&tested.stderr)
    );
    platform.spawn(
        Command::new(&nginx)
            .arg("-p")
            .arg(platform.dir.path())
            .arg("-c")
            .arg(&config),
    );
    wait_for("nginx", || {
        std::net::TcpStream::connect(("127.0.0.1", port)).is_ok()
    });
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fleet_health_through_nginx_counts_every_worker_socket() {
    let (_platform, base) = fleet_host();
    let health: Value = reqwest::get(format!("{base}/health/fleet"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(health["workers_up"], 3, "{health}");
    assert_eq!(health["workers_down"], 0, "{health}");
    assert_eq!(health["fleet_available"], 3, "{health}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_call_through_nginx_gets_its_media_on_the_worker_that_reserved_it() {
    let (platform, base) = fleet_host();
    let token = sign_in(&platform).await;
    let bot = greeter(&platform, &token, "Hello from the fleet behind nginx.").await;
    save_fleets(&platform, &token, &[&base]).await;
    // The Backend attaches through nginx; the reply's media URL goes back through nginx.
    let accepted = test_call(&platform, &token, bot).await;
    let media = accepted["media_url"]
        .as_str()
        .unwrap_or_else(|| panic!("{accepted}"));
    let worker = accepted["worker_id"]
        .as_str()
        .unwrap()
        .trim_start_matches("voxcore-");
    let expected = format!("{}/w/{worker}/ws/vox/", base.replace("http://", "ws://"));
    assert!(
        media.starts_with(&expected),
        "{media} is not under {expected}"
    );
    let (heard, audio) = talk(media).await;
    assert_eq!(heard, "Hello from the fleet behind nginx.");
    assert!(audio > 0, "the bot's audio came through nginx");
    let call_id = accepted["call_id"].as_i64().unwrap();
    let state = final_state(&platform, &token, call_id).await;
    assert_eq!(
        state, "completed",
        "the worker's result reached the Backend"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn attach_through_nginx_retries_a_busy_workers_429_and_says_429_when_all_are_busy() {
    let (platform, base) = fleet_host();
    let token = sign_in(&platform).await;
    let bot = greeter(&platform, &token, "Hello.").await;
    // Workers 1 and 2 are taken behind nginx's back: it cannot know they are busy.
    for i in [1, 2] {
        let call = open_call(&platform, bot).await;
        let socket = platform.path(&format!("voxcore_{i}.sock"));
        let (status, body) = unix_http(
            &socket,
            "POST",
            "/attach",
            Some(FLEET_SECRET),
            &attach_body(call),
        );
        assert_eq!(status, 202, "{body}");
    }
    let client = reqwest::Client::new();
    let attach = |call: i64| {
        client
            .post(format!("{base}/attach"))
            .bearer_auth(FLEET_SECRET)
            .header("content-type", "application/json")
            .body(attach_body(call))
            .send()
    };
    let call = open_call(&platform, bot).await;
    let landed = attach(call).await.unwrap();
    assert_eq!(landed.status(), 202);
    let landed: Value = landed.json().await.unwrap();
    assert_eq!(landed["worker_id"], "voxcore-3", "{landed}");
    // Now every worker is busy: nginx tries all three, each says 429, and so does nginx.
    let call = open_call(&platform, bot).await;
    let refused = attach(call).await.unwrap();
    assert_eq!(refused.status(), 429);
    // nginx writes a request's log line as it finishes it, just after answering.
    let attaches = || -> Vec<String> {
        let log = std::fs::read_to_string(platform.path("nginx-access.log")).unwrap_or_default();
        log.lines()
            .filter(|l| l.starts_with("/attach "))
            .map(str::to_owned)
            .collect()
    };
    wait_for("the refused attach in nginx's log", || {
        attaches().len() == 2
    });
    let first = attaches()[0].clone();
    assert!(first.ends_with("202]"), "{first}");
    let last = attaches()[1].clone();
    assert_eq!(
        last.matches("429").count(),
        4,
        "three upstream 429s and nginx's own: {last}"
    );
    assert_eq!(
        last.matches(".sock").count(),
        3,
        "every socket was tried: {last}"
    );
}
