//! baresip (Debian's `baresip-core`) as a softphone in a network namespace the test creates.
//!
//! baresip writes its host's address into SDP and never a loopback one (libre skips loopback
//! interfaces), so it runs in its own network namespace joined to this one by a veth pair: the
//! softphone at `10.88.N.2`, the side a gateway listens on at `10.88.N.1`, nothing routed beyond
//! the pair. Its microphone is a WAV file (the `aufile` module: 8 kHz mono, the call hung up when
//! the file ends), what it hears is written to a WAV file (the `sndfile` module), and it answers
//! calls by itself (`answermode=auto`). Needs root (`ip netns`). Reference: baresip 1.0's
//! `docs/examples/config` and `modules/{aufile,sndfile}` at https://github.com/baresip/baresip.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::atomic::{AtomicU32, Ordering};
use tokio::io::AsyncBufReadExt;

/// A network namespace joined to this one by a veth pair; deleted (with the pair) when dropped.
#[derive(Debug)]
pub struct Namespace {
    name: String,
    /// The softphone's side of the pair.
    device: String,
    /// This namespace's address on the pair: where a gateway listens for the softphone.
    pub host: IpAddr,
    /// The namespace's address on the pair.
    pub peer: IpAddr,
}

fn ip(args: &[&str]) -> Result<(), String> {
    let output = std::process::Command::new("ip")
        .args(args)
        .output()
        .map_err(|e| format!("ip could not run (apt-get install iproute2): {e}"))?;
    if output.status.success() {
        return Ok(());
    }
    Err(format!(
        "ip {}: {}",
        args.join(" "),
        String::from_utf8_lossy(&output.stderr).trim()
    ))
}

impl Namespace {
    /// Creates `vox-bs-<pid>-<n>` and the pair `10.88.N.0/30` (N from the process and a counter),
    /// first deleting the namespaces of test processes that died without deleting theirs.
    pub fn create() -> Result<Self, String> {
        static NEXT: AtomicU32 = AtomicU32::new(0);
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let pid = std::process::id();
        if n == 0 {
            Self::delete_stale();
        }
        let subnet = ((pid.wrapping_mul(7) + n) % 250 + 1) as u8;
        let tag = format!("{}{n}", pid % 100_000);
        let name = format!("vox-bs-{pid}-{n}");
        let (outside, device) = (format!("vxh{tag}"), format!("vxp{tag}"));
        let host = Ipv4Addr::new(10, 88, subnet, 1);
        let peer = Ipv4Addr::new(10, 88, subnet, 2);
        ip(&["netns", "add", &name])?;
        let namespace = Self {
            name,
            device,
            host: host.into(),
            peer: peer.into(),
        };
        let inside = |args: &[&str]| {
            let mut all = vec!["netns", "exec", &namespace.name, "ip"];
            all.extend_from_slice(args);
            ip(&all)
        };
        ip(&[
            "link",
            "add",
            &outside,
            "type",
            "veth",
            "peer",
            "name",
            &namespace.device,
        ])?;
        ip(&["link", "set", &namespace.device, "netns", &namespace.name])?;
        ip(&["addr", "add", &format!("{host}/30"), "dev", &outside])?;
        ip(&["link", "set", &outside, "up"])?;
        inside(&[
            "addr",
            "add",
            &format!("{peer}/30"),
            "dev",
            &namespace.device,
        ])?;
        inside(&["link", "set", &namespace.device, "up"])?;
        inside(&["link", "set", "lo", "up"])?;
        Ok(namespace)
    }

    fn delete_stale() {
        let Ok(listed) = std::process::Command::new("ip")
            .args(["netns", "list"])
            .output()
        else {
            return;
        };
        for line in String::from_utf8_lossy(&listed.stdout).lines() {
            let name = line.split_whitespace().next().unwrap_or_default();
            let owner = name
                .strip_prefix("vox-bs-")
                .and_then(|rest| rest.split('-').next());
            if let Some(owner) = owner
                && !std::path::Path::new(&format!("/proc/{owner}")).exists()
            {
                let _ = ip(&["netns", "del", name]);
            }
        }
    }
}

impl Drop for Namespace {
    fn drop(&mut self) {
        let _ = ip(&["netns", "del", &self.name]);
    }
}

/// What the softphone does once started.
#[derive(Debug, Clone)]
pub enum Role {
    /// Calls this SIP URI.
    Dial(String),
    /// Waits for a call and answers it.
    Answer,
}

/// A running baresip.
#[derive(Debug)]
pub struct Baresip {
    /// Where it takes SIP (UDP).
    pub addr: SocketAddr,
    child: tokio::process::Child,
    ended: tokio::sync::watch::Receiver<bool>,
    dir: tempfile::TempDir,
}

impl Baresip {
    /// Starts baresip in `namespace` as `user`, its microphone `speech` (8 kHz mono samples).
    pub fn start(
        namespace: &Namespace,
        user: &str,
        speech: &[i16],
        role: Role,
    ) -> Result<Self, String> {
        let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
        let wav =
            audio::wav::encode(audio::SampleRate::Hz8000, 1, speech).map_err(|e| e.to_string())?;
        let microphone = dir.path().join("speech.wav");
        std::fs::write(&microphone, wav).map_err(|e| e.to_string())?;
        let addr = SocketAddr::new(namespace.peer, 5060);
        let config = format!(
            "sip_listen {addr}\n\
             net_interface {device}\n\
             dns_server 127.0.0.1:53\n\
             rtp_ports 40000-40999\n\
             audio_source aufile,{microphone}\n\
             audio_player aubridge,nowhere\n\
             audio_alert aubridge,nowhere\n\
             module_path /usr/lib/baresip/modules\n\
             module g711.so\n\
             module aufile.so\n\
             module aubridge.so\n\
             module sndfile.so\n\
             module_app account.so\n\
             module_app menu.so\n\
             snd_path {dir}\n",
            device = namespace.device,
            microphone = microphone.display(),
            dir = dir.path().display(),
        );
        std::fs::write(dir.path().join("config"), config).map_err(|e| e.to_string())?;
        let account = format!(
            "<sip:{user}@{}>;regint=0;answermode=auto;audio_codecs=PCMU\n",
            namespace.peer
        );
        std::fs::write(dir.path().join("accounts"), account).map_err(|e| e.to_string())?;
        let mut command = tokio::process::Command::new("ip");
        command
            .args(["netns", "exec", &namespace.name, "baresip", "-f"])
            .arg(dir.path())
            // It quits by itself after a minute and a half whatever happens.
            .args(["-t", "90"]);
        if let Role::Dial(uri) = &role {
            command.arg("-e").arg(format!("/dial {uri}"));
        }
        let mut child = command
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| format!("baresip could not run (apt-get install baresip-core): {e}"))?;
        let stdout = child.stdout.take().ok_or("baresip's stdout")?;
        let (said, ended) = tokio::sync::watch::channel(false);
        let log = dir.path().join("baresip.log");
        tokio::spawn(async move {
            let mut lines = tokio::io::BufReader::new(stdout).lines();
            let mut kept = String::new();
            while let Ok(Some(line)) = lines.next_line().await {
                kept += &line;
                kept.push('\n');
                let _ = std::fs::write(&log, &kept);
                // "…: Call with sip:… terminated (duration: 5 secs)", or a call that never
                // started: "…: session closed: …".
                if line.contains("terminated (duration") || line.contains("session closed") {
                    let _ = said.send(true);
                }
            }
        });
        Ok(Self {
            addr,
            child,
            ended,
            dir,
        })
    }

    /// Waits (up to `limit`) for its call to end, stops it, and returns what it heard (8 kHz).
    pub async fn heard(mut self, limit: std::time::Duration) -> Result<Vec<i16>, String> {
        let ended = tokio::time::timeout(limit, self.ended.wait_for(|e| *e)).await;
        if let Some(pid) = self.child.id() {
            // SIGTERM: baresip closes its files and exits.
            let _ = std::process::Command::new("kill")
                .arg(pid.to_string())
                .status();
        }
        let _ = tokio::time::timeout(std::time::Duration::from_secs(5), self.child.wait()).await;
        let log = std::fs::read_to_string(self.dir.path().join("baresip.log")).unwrap_or_default();
        if !matches!(ended, Ok(Ok(_))) {
            return Err(format!("baresip's call never ended:\n{log}"));
        }
        let recording = std::fs::read_dir(self.dir.path())
            .map_err(|e| e.to_string())?
            .filter_map(Result::ok)
            .map(|entry| entry.path())
            .find(|path| path.to_string_lossy().ends_with("-dec.wav"))
            .ok_or_else(|| format!("baresip recorded nothing:\n{log}"))?;
        let bytes = std::fs::read(recording).map_err(|e| e.to_string())?;
        let wav = audio::wav::decode(&bytes).map_err(|e| format!("{e}:\n{log}"))?;
        Ok(wav.samples)
    }
}
