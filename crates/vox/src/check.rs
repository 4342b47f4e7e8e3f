//! `vox check`: the smoke check the health timer runs.
//!
//! The Backend's `/health`, each fleet's `/health/fleet`, the dialler's `/health` and `/metrics`,
//! and with `--sip` the SIP gateway (an OPTIONS answered 200, its `/health` and `/metrics`, its
//! trunk registered or answering) —
//! with one line per failing check and a non-zero exit when any fails.

use crate::config::Settings;
use contracts::health::{DiallerHealth, FleetHealth, HealthStatus};
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

const TIMEOUT: Duration = Duration::from_secs(5);

/// What `vox check` looks at; the parts a host does not run are left out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Targets {
    /// The Backend's base URL (`VOXBRIDGE_URL`), when this host checks it.
    pub backend: Option<String>,
    /// Fleet base URLs (`FLEET_URLS`).
    pub fleets: Vec<String>,
    /// The dialler's health server (`http://127.0.0.1:HEALTH_PORT`), unless skipped.
    pub dialler: Option<String>,
    /// `vox sip`, with `--sip`.
    pub sip: Option<SipTargets>,
}

/// Where `vox sip` answers: SIP, its health server, its call control.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SipTargets {
    pub sip: SocketAddr,
    /// `http://127.0.0.1:VOX_SIP_HEALTH_PORT`.
    pub health: String,
    /// `http://VOX_SIP_CONTROL_LISTEN`.
    pub control: String,
}

impl Targets {
    pub fn from_settings(settings: &Settings, skip_dialler: bool, sip: bool) -> Self {
        // A gateway on every address answers on loopback too.
        let reachable = |listen: SocketAddr| {
            let ip = match listen.ip() {
                ip if ip.is_unspecified() && ip.is_ipv4() => IpAddr::from([127, 0, 0, 1]),
                ip if ip.is_unspecified() => IpAddr::from(std::net::Ipv6Addr::LOCALHOST),
                ip => ip,
            };
            SocketAddr::new(ip, listen.port())
        };
        let gateway = || SipTargets {
            sip: reachable(settings.sip.listen),
            health: format!("http://127.0.0.1:{}", settings.sip.health_port),
            control: format!("http://{}", reachable(settings.sip.control_listen)),
        };
        Self {
            backend: settings.voxbridge_url.clone(),
            fleets: settings.fleet_urls.clone(),
            dialler: (!skip_dialler).then(|| format!("http://127.0.0.1:{}", settings.health_port)),
            sip: sip.then(gateway),
        }
    }
}

/// One check and what was wrong, if anything.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    pub name: String,
    pub problem: Option<String>,
}

async fn get(client: &reqwest::Client, url: &str) -> Result<(u16, String), String> {
    let response = client
        .get(url)
        .timeout(TIMEOUT)
        .send()
        .await
        .map_err(|e| format!("unreachable ({e})"))?;
    let status = response.status().as_u16();
    let body = response
        .text()
        .await
        .map_err(|e| format!("the answer broke off ({e})"))?;
    Ok((status, body))
}

async fn backend(client: &reqwest::Client, base: &str) -> Option<String> {
    match get(client, &format!("{base}/health")).await {
        Err(problem) => Some(problem),
        Ok((200, _)) => None,
        Ok((status, body)) => Some(format!("answered {status}: {}", body.trim())),
    }
}

async fn fleet(client: &reqwest::Client, base: &str) -> Option<String> {
    let (status, body) = match get(client, &format!("{base}/health/fleet")).await {
        Err(problem) => return Some(problem),
        Ok(answer) => answer,
    };
    if status != 200 {
        return Some(format!("answered {status}"));
    }
    let health: FleetHealth = match serde_json::from_str(&body) {
        Ok(health) => health,
        Err(e) => return Some(format!("not a fleet health document ({e})")),
    };
    if health.workers_up == 0 {
        return Some("no worker answers".into());
    }
    if health.workers_down > 0 {
        let down: Vec<&str> = health
            .workers
            .iter()
            .filter(|w| w.health.is_none())
            .map(|w| w.endpoint.as_str())
            .collect();
        return Some(format!(
            "{} of {} workers down ({})",
            health.workers_down,
            health.workers_up + health.workers_down,
            down.join(", ")
        ));
    }
    None
}

async fn dialler_health(client: &reqwest::Client, base: &str) -> Option<String> {
    let (status, body) = match get(client, &format!("{base}/health")).await {
        Err(problem) => return Some(problem),
        Ok(answer) => answer,
    };
    let health: Result<DiallerHealth, _> = serde_json::from_str(&body);
    match (status, health) {
        (200, Ok(h)) if matches!(h.status, HealthStatus::Ok | HealthStatus::Standby) => None,
        (_, Ok(h)) if h.status == HealthStatus::Stale => Some(format!(
            "stale: no tick within {} s (last at {})",
            h.stale_after_seconds,
            h.last_tick_at
                .map_or_else(|| "never".to_owned(), |t| t.to_rfc3339())
        )),
        (status, _) => Some(format!("answered {status}: {}", body.trim())),
    }
}

async fn dialler_metrics(client: &reqwest::Client, base: &str) -> Option<String> {
    match get(client, &format!("{base}/metrics")).await {
        Err(problem) => Some(problem),
        Ok((200, body)) if body.contains("vox_dialler_ticks_total") => None,
        Ok((200, _)) => Some("the metrics lack vox_dialler_ticks_total".into()),
        Ok((status, _)) => Some(format!("answered {status}")),
    }
}

/// An OPTIONS over UDP to the gateway at `target`, sent up to four times half a second apart
/// (RFC 3261's T1): anything but a 200 is the problem.
async fn sip_options(target: SocketAddr) -> Option<String> {
    let bind = if target.is_ipv4() {
        SocketAddr::from(([127, 0, 0, 1], 0))
    } else {
        SocketAddr::from((std::net::Ipv6Addr::LOCALHOST, 0))
    };
    let socket = match tokio::net::UdpSocket::bind(bind).await {
        Ok(socket) => socket,
        Err(e) => return Some(format!("no UDP socket ({e})")),
    };
    let local = socket.local_addr().unwrap_or(bind);
    let tag: u64 = rand::random();
    let request = format!(
        "OPTIONS sip:{target} SIP/2.0\r\nVia: SIP/2.0/UDP {local};branch=z9hG4bK{tag:x}\r\nMax-Forwards: 70\r\n\
         From: <sip:check@{local}>;tag={tag:x}\r\nTo: <sip:{target}>\r\nCall-ID: {tag:x}@vox-check\r\n\
         CSeq: 1 OPTIONS\r\nUser-Agent: vox-check\r\nContent-Length: 0\r\n\r\n"
    );
    let mut buffer = vec![0u8; 4096];
    for _ in 0..4 {
        if let Err(e) = socket.send_to(request.as_bytes(), target).await {
            return Some(format!("could not send an OPTIONS ({e})"));
        }
        let answer =
            tokio::time::timeout(Duration::from_millis(500), socket.recv_from(&mut buffer));
        let Ok(Ok((length, _))) = answer.await else {
            continue;
        };
        let text = String::from_utf8_lossy(&buffer[..length]);
        let status = text.lines().next().unwrap_or_default().trim();
        return match status.split_whitespace().nth(1) {
            Some("200") => None,
            _ => Some(format!("answered an OPTIONS {status:?}")),
        };
    }
    Some(format!("no answer to an OPTIONS at {target} within 2 s"))
}

/// What the gateway's `/health` says is wrong with its trunk: a registration the trunk refused or
/// could not take, or a trunk that does not answer OPTIONS.
fn trunk_problem(health: &serde_json::Value) -> Option<String> {
    match health["registration"].as_str() {
        Some("refused") => return Some("the trunk refuses its registration".into()),
        Some("failed") => return Some("the trunk's registrar cannot be reached".into()),
        _ => {}
    }
    (health["trunk"].as_str() == Some("down"))
        .then(|| "the trunk does not answer OPTIONS".to_owned())
}

async fn sip_health(client: &reqwest::Client, base: &str) -> Option<String> {
    match get(client, &format!("{base}/health")).await {
        Err(problem) => return Some(problem),
        Ok((200, body)) => {
            let health = serde_json::from_str(&body).unwrap_or(serde_json::Value::Null);
            if let Some(problem) = trunk_problem(&health) {
                return Some(problem);
            }
        }
        Ok((status, body)) => return Some(format!("answered {status}: {}", body.trim())),
    }
    match get(client, &format!("{base}/metrics")).await {
        Err(problem) => Some(problem),
        Ok((200, body)) if body.contains("vox_sip_calls_up") => None,
        Ok((200, _)) => Some("the metrics lack vox_sip_calls_up".into()),
        Ok((status, _)) => Some(format!("its metrics answered {status}")),
    }
}

/// The call control answers, and has its trunk: a request without the trunk's token is refused
/// 401 (503 `sip.starting` means it has not read the trunk's settings, so it places no call).
async fn sip_control(client: &reqwest::Client, base: &str) -> Option<String> {
    let response = client
        .post(format!("{base}/calls"))
        .timeout(TIMEOUT)
        .send()
        .await;
    let response = match response {
        Ok(response) => response,
        Err(error) => return Some(format!("unreachable: {error}")),
    };
    let status = response.status().as_u16();
    let body: serde_json::Value = response.json().await.unwrap_or_default();
    match (status, body["error"]["code"].as_str()) {
        (401, Some("auth.unauthorized")) => None,
        (503, Some("sip.starting")) => Some("it has not read its trunk's settings yet".into()),
        (status, _) => Some(format!("answered {status}, not vox sip's call control")),
    }
}

/// One check on its way: what is wrong, if anything.
type Check<'a> = std::pin::Pin<Box<dyn std::future::Future<Output = Option<String>> + Send + 'a>>;

/// Runs every check of `targets` at once.
pub async fn run(targets: &Targets) -> Vec<Outcome> {
    let client = reqwest::Client::new();
    let mut checks: Vec<(String, Check<'_>)> = Vec::new();
    if let Some(base) = &targets.backend {
        let base = base.trim_end_matches('/');
        checks.push(("backend".into(), Box::pin(backend(&client, base))));
    }
    for base in &targets.fleets {
        let base = base.trim_end_matches('/');
        checks.push((format!("fleet {base}"), Box::pin(fleet(&client, base))));
    }
    if let Some(base) = &targets.dialler {
        checks.push((
            "dialler health".into(),
            Box::pin(dialler_health(&client, base)),
        ));
        checks.push((
            "dialler metrics".into(),
            Box::pin(dialler_metrics(&client, base)),
        ));
    }
    if let Some(sip) = &targets.sip {
        let name = format!("sip {}", sip.sip);
        checks.push((name, Box::pin(sip_options(sip.sip))));
        let health = &sip.health;
        checks.push(("sip health".into(), Box::pin(sip_health(&client, health))));
        let control = &sip.control;
        checks.push((
            "sip control".into(),
            Box::pin(sip_control(&client, control)),
        ));
    }
    let (names, futures): (Vec<String>, Vec<_>) = checks.into_iter().unzip();
    let problems = futures_util::future::join_all(futures).await;
    names
        .into_iter()
        .zip(problems)
        .map(|(name, problem)| Outcome { name, problem })
        .collect()
}

/// `vox check`: prints a line per failing check (and a summary), fails when any check failed.
pub async fn check(settings: &Settings, skip_dialler: bool, sip: bool) -> anyhow::Result<()> {
    let targets = Targets::from_settings(settings, skip_dialler, sip);
    let outcomes = run(&targets).await;
    if outcomes.is_empty() {
        anyhow::bail!("nothing to check: set VOXBRIDGE_URL or FLEET_URLS, or leave the dialler in");
    }
    let failed: Vec<&Outcome> = outcomes.iter().filter(|o| o.problem.is_some()).collect();
    for outcome in &failed {
        println!(
            "FAIL {}: {}",
            outcome.name,
            outcome.problem.as_deref().unwrap_or_default()
        );
    }
    if failed.is_empty() {
        println!("ok: {} check(s) passed", outcomes.len());
        Ok(())
    } else {
        anyhow::bail!("{} of {} check(s) failed", failed.len(), outcomes.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_refused_registration_or_a_silent_trunk_fails_the_sip_check() {
        let health = |registration: &str, trunk: Option<&str>| json!({"status": "ok", "calls_up": 0, "registration": registration, "trunk": trunk});
        assert_eq!(trunk_problem(&health("registered", None)), None);
        assert_eq!(trunk_problem(&health("none", Some("up"))), None);
        assert_eq!(trunk_problem(&health("none", None)), None);
        assert!(
            trunk_problem(&health("refused", None))
                .unwrap()
                .contains("refuses")
        );
        assert!(
            trunk_problem(&health("failed", None))
                .unwrap()
                .contains("registrar")
        );
        assert!(
            trunk_problem(&health("none", Some("down")))
                .unwrap()
                .contains("OPTIONS")
        );
    }
}
