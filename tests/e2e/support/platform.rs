//! A real platform of processes for the deployment tests.
//!
//! `vox bridge` on SQLite, `vox core` workers, and nginx or HAProxy rendered from `deploy/`; every
//! process is stopped when the guard drops.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

pub const JWT_SECRET: &str = "deploy-test-jwt-secret-0123456789";
pub const FLEET_SECRET: &str = "deploy-test-fleet-secret-0123456789";
pub const EMAIL: &str = "admin@deploy.test";
pub const PASSWORD: &str = "correct horse battery staple";

pub use test_support::paths::{free_port, repo_root};

/// A program the test command installs from Debian's packages (`/usr/sbin` is not always on PATH).
pub fn system_binary(name: &str) -> PathBuf {
    for dir in ["/usr/sbin", "/usr/bin", "/sbin", "/bin"] {
        let path = Path::new(dir).join(name);
        if path.is_file() {
            return path;
        }
    }
    panic!("{name} is not installed; scripts/test installs it (Debian: apt-get install {name})");
}

pub fn running_as_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false)
}

/// Waits until `probe` is true (at most 20 s).
pub fn wait_for(what: &str, mut probe: impl FnMut() -> bool) {
    for _ in 0..400 {
        if probe() {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("{what} did not happen within 20 s");
}

/// Processes killed on drop, with the directory they share.
pub struct Platform {
    pub dir: tempfile::TempDir,
    pub bridge_port: u16,
    children: Vec<Child>,
    /// Set for every program the platform starts (`REDIS_URL`, say).
    env: Vec<(String, String)>,
}

impl Drop for Platform {
    fn drop(&mut self) {
        for child in &mut self.children {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Platform {
    fn vox(&self) -> Command {
        let mut command = Command::new(test_support::paths::binary("vox"));
        command
            .env_clear()
            .env("RUST_LOG", "warn")
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env(
                "DATABASE_URL",
                format!("sqlite://{}", self.path("vox.db").display()),
            )
            .env(
                "OBJECT_STORE_URL",
                format!("file://{}", self.path("recordings").display()),
            )
            .env("VOXCORE_SECRET", FLEET_SECRET)
            // The tests' provider servers (the STT sidecar, fakes) listen on loopback.
            .env("OUTBOUND_ALLOWED_NETWORKS", "127.0.0.0/8")
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::null());
        command
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    pub fn bridge_url(&self) -> String {
        format!("http://127.0.0.1:{}", self.bridge_port)
    }

    /// A migrated database with an admin, and `vox bridge` serving it.
    pub fn start() -> Self {
        Self::start_with(&[])
    }

    /// [`Platform::start`], with `env` set for every program the platform starts.
    pub fn start_with(env: &[(&str, &str)]) -> Self {
        let mut platform = Platform {
            dir: tempfile::tempdir().unwrap(),
            bridge_port: free_port(),
            children: Vec::new(),
            env: env
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
        };
        assert!(
            platform
                .vox()
                .arg("migrate")
                .output()
                .unwrap()
                .status
                .success()
        );
        let mut admin = platform
            .vox()
            .args(["admin", "create-user", "--email", EMAIL, "--password-stdin"])
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .spawn()
            .unwrap();
        use std::io::Write;
        writeln!(admin.stdin.take().unwrap(), "{PASSWORD}").unwrap();
        assert!(admin.wait().unwrap().success());
        let bridge = platform
            .vox()
            .arg("bridge")
            .env("JWT_SECRET", JWT_SECRET)
            .env("VOXBRIDGE_HOST", "127.0.0.1")
            .env("VOXBRIDGE_PORT", platform.bridge_port.to_string())
            .spawn()
            .unwrap();
        platform.children.push(bridge);
        let port = platform.bridge_port;
        wait_for("vox bridge", || {
            std::net::TcpStream::connect(("127.0.0.1", port)).is_ok()
        });
        platform
    }

    /// `count` workers, each on `voxcore_<i>.sock` in the platform's directory, with media URLs
    /// under `public(i)`.
    pub fn workers(&mut self, count: usize, public: impl Fn(usize) -> String) -> Vec<PathBuf> {
        let mut sockets = Vec::new();
        for i in 1..=count {
            let socket = self.path(&format!("voxcore_{i}.sock"));
            let child = self
                .vox()
                .arg("core")
                .env("VOXBRIDGE_URL", self.bridge_url())
                .env("VOXCORE_SOCKET", &socket)
                .env("VOXCORE_WORKER_ID", format!("voxcore-{i}"))
                .env("VOXCORE_PUBLIC_URL", public(i))
                .env(
                    "VOXCORE_FLEET_SOCKETS",
                    self.path("voxcore_*.sock").display().to_string(),
                )
                .env("VOXCORE_OUTBOX", self.path(&format!("outbox/{i}")))
                .env("MAX_CONCURRENT_CALLS", "1")
                .spawn()
                .unwrap();
            self.children.push(child);
            sockets.push(socket);
        }
        for socket in &sockets {
            wait_for("a worker's socket", || {
                std::os::unix::net::UnixStream::connect(socket).is_ok()
            });
        }
        sockets
    }

    /// `count` workers on loopback TCP ports (a fleet of one each), with media URLs under
    /// `public(i)`; returns their base URLs.
    pub fn tcp_workers(&mut self, count: usize, public: impl Fn(usize) -> String) -> Vec<String> {
        (1..=count)
            .map(|i| self.tcp_worker(i, Some(public(i))))
            .collect()
    }

    /// Worker `i` on a loopback TCP port, its media URLs under `public` (else its own address);
    /// returns its base URL.
    pub fn tcp_worker(&mut self, i: usize, public: Option<String>) -> String {
        let port = free_port();
        let mut command = self.vox();
        command
            .arg("core")
            .env("VOXBRIDGE_URL", self.bridge_url())
            .env("VOXCORE_LISTEN", format!("127.0.0.1:{port}"))
            .env("VOXCORE_WORKER_ID", format!("voxcore-{i}"))
            .env("VOXCORE_OUTBOX", self.path(&format!("outbox/{i}")))
            .env("MAX_CONCURRENT_CALLS", "1");
        if let Some(public) = public {
            command.env("VOXCORE_PUBLIC_URL", public);
        }
        self.children.push(command.spawn().unwrap());
        wait_for("a TCP worker", || {
            std::net::TcpStream::connect(("127.0.0.1", port)).is_ok()
        });
        format!("http://127.0.0.1:{port}")
    }

    /// Kills the program started `index`-th (0 is the Backend) at once, as a crash would.
    pub fn kill(&mut self, index: usize) {
        let child = &mut self.children[index];
        child.kill().unwrap();
        child.wait().unwrap();
    }

    /// `vox` with the platform's environment, for a program the test runs itself.
    pub fn command(&self) -> Command {
        self.vox()
    }

    /// The process id of the last program started with [`Platform::spawn`].
    pub fn last_pid(&self) -> u32 {
        self.children.last().map(Child::id).unwrap_or_default()
    }

    /// Runs a program in the foreground of the platform (killed on drop).
    pub fn spawn(&mut self, command: &mut Command) {
        let child = command
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("{command:?}: {e}"));
        self.children.push(child);
    }
}

/// One HTTP/1.1 request over a Unix socket: `(status, body)`.
pub fn unix_http(
    socket: &Path,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: &str,
) -> (u16, String) {
    use std::io::{Read, Write};
    let mut stream = std::os::unix::net::UnixStream::connect(socket).unwrap();
    stream
        .write_all(test_support::http::request(method, path, token, Some(body)).as_bytes())
        .unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).unwrap();
    let status = answer
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    (status, test_support::http::body(&answer))
}
