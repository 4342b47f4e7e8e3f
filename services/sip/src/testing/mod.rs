//! What tests of `vox sip` share (feature `test-util`): SIPp, Kamailio and baresip.

mod baresip;

pub use baresip::{Baresip, Namespace, Role};

use std::path::PathBuf;
use std::process::Output;

/// A scenario's file in this crate's `tests/sipp/`.
fn scenario_file(scenario: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/sipp")
        .join(format!("{scenario}.xml"))
}

/// SIPp's options every run takes: a 20 s limit that counts as an error, no keyboard, the
/// unexpected messages kept in the run's folder.
const COMMON: [&str; 5] = [
    "-timeout",
    "20s",
    "-timeout_error",
    "-nostdin",
    "-trace_err",
];

/// Ok when SIPp exited 0, else its last screen and the messages it did not expect.
fn verdict(output: &Output, dir: &std::path::Path) -> Result<(), String> {
    if output.status.success() {
        return Ok(());
    }
    let mut errors = String::new();
    for entry in std::fs::read_dir(dir).map_err(|e| e.to_string())? {
        let path = entry.map_err(|e| e.to_string())?.path();
        errors += &std::fs::read_to_string(&path).unwrap_or_default();
    }
    Err(format!(
        "SIPp exited {:?}\n{}\n{errors}",
        output.status.code(),
        String::from_utf8_lossy(&output.stdout)
            .lines()
            .rev()
            .take(30)
            .collect::<Vec<_>>()
            .join("\n")
    ))
}

/// Runs SIPp against a gateway at `sip_addr`: `scenario` is `uac` (built in, a 1 s call) or a file
/// in this crate's `tests/sipp/`.
/// Whether every call of the run succeeded, and SIPp's output when not.
pub async fn sipp(
    sip_addr: std::net::SocketAddr,
    scenario: &str,
    service: &str,
) -> Result<(), String> {
    sipp_with(sip_addr, scenario, service, &[]).await
}

/// `sipp` with more of SIPp's options after vox's (a later one wins): `-t t1` for TCP, `-d 5000`
/// for a longer `uac` call.
pub async fn sipp_with(
    sip_addr: std::net::SocketAddr,
    scenario: &str,
    service: &str,
    options: &[&str],
) -> Result<(), String> {
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    let mut command = tokio::process::Command::new("sipp");
    if scenario == "uac" {
        command.args(["-sn", "uac", "-d", "1000"]);
    } else {
        command.arg("-sf").arg(scenario_file(scenario));
    }
    let output = command
        .arg(sip_addr.to_string())
        .args([
            "-i",
            "127.0.0.1",
            "-p",
            "0",
            "-m",
            "1",
            "-l",
            "1",
            "-s",
            service,
        ])
        .args(COMMON)
        .args(options)
        .current_dir(dir.path())
        .output()
        .await
        .map_err(|e| format!("SIPp could not run (apt-get install sip-tester): {e}"))?;
    verdict(&output, dir.path())
}

/// SIPp as a trunk's server (a registrar, a callee) on 127.0.0.1: one run of `scenario` from
/// this crate's `tests/sipp/`, killed if dropped before it ends.
#[derive(Debug)]
pub struct SippServer {
    pub addr: std::net::SocketAddr,
    child: tokio::process::Child,
    dir: tempfile::TempDir,
}

/// A port free on UDP now, for a SIPp server to bind a moment later, and never one given to
/// another server of this process: two tests starting servers at once were given the same port
/// (the kernel hands out a port again as soon as it is released), and one SIPp could not bind it.
fn server_port() -> Result<u16, String> {
    static GIVEN: parking_lot::Mutex<Vec<u16>> = parking_lot::const_mutex(Vec::new());
    let mut given = GIVEN.lock();
    for _ in 0..100 {
        let port = std::net::UdpSocket::bind("127.0.0.1:0")
            .and_then(|s| s.local_addr())
            .map_err(|e| e.to_string())?
            .port();
        if !given.contains(&port) {
            given.push(port);
            return Ok(port);
        }
    }
    Err("no UDP port free that no other SIPp server was given".into())
}

impl SippServer {
    pub fn start(scenario: &str) -> Result<Self, String> {
        Self::start_with(scenario, &[])
    }

    /// `start` with more of SIPp's options (`-m 2` for two calls).
    pub fn start_with(scenario: &str, options: &[&str]) -> Result<Self, String> {
        let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
        let port = server_port()?;
        let child = tokio::process::Command::new("sipp")
            .arg("-sf")
            .arg(scenario_file(scenario))
            .args(["-i", "127.0.0.1", "-p", &port.to_string(), "-m", "1"])
            .args(COMMON)
            .args(options)
            .current_dir(dir.path())
            .stdout(std::process::Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| format!("SIPp could not run (apt-get install sip-tester): {e}"))?;
        Ok(Self {
            addr: std::net::SocketAddr::from(([127, 0, 0, 1], port)),
            child,
            dir,
        })
    }

    /// Waits for the run to end: Ok when its call succeeded.
    pub async fn finish(self) -> Result<(), String> {
        let output = self
            .child
            .wait_with_output()
            .await
            .map_err(|e| e.to_string())?;
        verdict(&output, self.dir.path())
    }
}

/// Waits up to 10 s for `done` to hold, looking every 20 ms; panics naming `what` if it never does.
pub async fn until(what: &str, done: impl Fn() -> bool) {
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(10);
    while !done() {
        assert!(tokio::time::Instant::now() < deadline, "never: {what}");
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}

/// Kamailio (Debian's package) on 127.0.0.1, running `config` from this crate's
/// `tests/kamailio/` with `LISTEN` its address; stopped when dropped.
#[derive(Debug)]
pub struct Kamailio {
    pub addr: std::net::SocketAddr,
    _child: tokio::process::Child,
    _dir: tempfile::TempDir,
}

impl Kamailio {
    /// Starts it and waits (up to 10 s) until it answers SIP.
    pub async fn start(config: &str) -> Result<Self, String> {
        let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
        let port = std::net::UdpSocket::bind("127.0.0.1:0")
            .and_then(|s| s.local_addr())
            .map_err(|e| e.to_string())?
            .port();
        let addr = std::net::SocketAddr::from(([127, 0, 0, 1], port));
        let template = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("tests/kamailio")
            .join(format!("{config}.cfg"));
        let text = std::fs::read_to_string(&template).map_err(|e| e.to_string())?;
        let file = dir.path().join("kamailio.cfg");
        std::fs::write(&file, text.replace("LISTEN", &addr.to_string()))
            .map_err(|e| e.to_string())?;
        let binary = ["/usr/sbin/kamailio", "kamailio"]
            .into_iter()
            .find(|b| std::path::Path::new(b).exists())
            .unwrap_or("kamailio");
        let child = tokio::process::Command::new(binary)
            .arg("-f")
            .arg(&file)
            .args(["-DD", "-E", "-Y"])
            .arg(dir.path())
            .current_dir(dir.path())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| format!("Kamailio could not run (apt-get install kamailio): {e}"))?;
        let kamailio = Self {
            addr,
            _child: child,
            _dir: dir,
        };
        kamailio.answering().await?;
        Ok(kamailio)
    }

    /// Sends OPTIONS until any answer comes.
    async fn answering(&self) -> Result<(), String> {
        let socket = tokio::net::UdpSocket::bind("127.0.0.1:0")
            .await
            .map_err(|e| e.to_string())?;
        let local = socket.local_addr().map_err(|e| e.to_string())?;
        let options = format!(
            "OPTIONS sip:{addr} SIP/2.0\r\nVia: SIP/2.0/UDP {local};branch=z9hG4bKready\r\n\
             Max-Forwards: 70\r\nFrom: <sip:test@{local}>;tag=1\r\nTo: <sip:{addr}>\r\n\
             Call-ID: ready@test\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n",
            addr = self.addr
        );
        let mut buffer = [0u8; 2048];
        for _ in 0..50 {
            socket
                .send_to(options.as_bytes(), self.addr)
                .await
                .map_err(|e| e.to_string())?;
            let wait = std::time::Duration::from_millis(200);
            if let Ok(Ok(_)) = tokio::time::timeout(wait, socket.recv_from(&mut buffer)).await {
                return Ok(());
            }
        }
        Err(format!("Kamailio never answered on {}", self.addr))
    }
}
