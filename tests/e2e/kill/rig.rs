//! The processes of a whole platform, each one killable with SIGKILL and restartable as it was.
//!
//! A PostgreSQL cluster of its own (so restarting it touches no other test), redis-server as the
//! capacity registry, the `vox-whisper` STT sidecar, `vox bridge`, two `vox core` workers and a
//! `vox dialler` on the PSTN simulator: the platform a host runs, every part a real process.

use crate::support::platform::{FLEET_SECRET, JWT_SECRET, wait_for};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use test_support::paths::{WHISPER_GGML, binary, free_port, model};

/// A program the rig started, with what starts it again the same way.
struct Proc {
    command: Box<dyn Fn() -> Command + Send + Sync>,
    child: Option<Child>,
    /// The loopback port it listens on, waited for after each start.
    port: u16,
    /// Where its standard error goes, every run appended.
    log: PathBuf,
}

impl Proc {
    fn start(
        command: impl Fn() -> Command + Send + Sync + 'static,
        port: u16,
        log: PathBuf,
    ) -> Self {
        let mut proc = Self {
            command: Box::new(command),
            child: None,
            port,
            log,
        };
        proc.restart();
        proc
    }

    fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    fn restart(&mut self) {
        self.kill();
        let mut command = (self.command)();
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)
            .unwrap();
        let child = command
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap_or_else(|e| panic!("{command:?}: {e}"));
        self.child = Some(child);
        let port = self.port;
        wait_for("a restarted program's port", || {
            std::net::TcpStream::connect(("127.0.0.1", port)).is_ok()
        });
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        self.kill();
    }
}

/// A PostgreSQL cluster in a folder of its own, run as the `postgres` user when the test is root.
struct Postgres {
    bin: PathBuf,
    dir: tempfile::TempDir,
    port: u16,
    user: String,
}

impl Postgres {
    fn as_owner(&self, program: &str) -> Command {
        let path = self.bin.join(program);
        if crate::support::platform::running_as_root() {
            let mut command = Command::new("runuser");
            command.args(["-u", "postgres", "--"]).arg(path);
            command
        } else {
            Command::new(path)
        }
    }

    fn start() -> Self {
        let bin = std::fs::read_dir("/usr/lib/postgresql")
            .expect("PostgreSQL is installed (scripts/test installs Debian's postgresql)")
            .flatten()
            .map(|e| e.path().join("bin"))
            .find(|b| b.join("initdb").is_file())
            .expect("PostgreSQL's initdb");
        let dir = tempfile::Builder::new()
            .prefix("vox-kill-pg")
            .tempdir()
            .unwrap();
        let root = crate::support::platform::running_as_root();
        let user = if root {
            "postgres".to_owned()
        } else {
            std::env::var("USER").unwrap_or_else(|_| "postgres".into())
        };
        if root {
            let owned = Command::new("chown")
                .arg("postgres")
                .arg(dir.path())
                .status()
                .unwrap();
            assert!(owned.success());
        }
        let postgres = Self {
            bin,
            dir,
            port: free_port(),
            user,
        };
        let initdb = postgres
            .as_owner("initdb")
            .arg("-D")
            .arg(postgres.data())
            .args(["-U", &postgres.user, "--auth=trust", "-E", "UTF8"])
            .output()
            .unwrap();
        assert!(initdb.status.success(), "initdb: {initdb:?}");
        postgres.up();
        postgres
    }

    fn data(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    fn up(&self) {
        let options = format!(
            "-c listen_addresses=127.0.0.1 -p {} -k {} -c fsync=off",
            self.port,
            self.dir.path().display()
        );
        let started = self
            .as_owner("pg_ctl")
            .arg("-D")
            .arg(self.data())
            .arg("-l")
            .arg(self.dir.path().join("server.log"))
            .args(["-w", "-t", "60", "-o", &options, "start"])
            .stdout(Stdio::null())
            .status()
            .unwrap();
        assert!(started.success(), "pg_ctl start failed");
    }

    /// Stops the server the way a crash does: no checkpoint, every connection cut.
    fn crash(&self) {
        let _ = self
            .as_owner("pg_ctl")
            .arg("-D")
            .arg(self.data())
            .args(["-m", "immediate", "stop"])
            .stdout(Stdio::null())
            .status();
    }

    fn url(&self) -> String {
        format!("postgres://{}@127.0.0.1:{}/postgres", self.user, self.port)
    }
}

impl Drop for Postgres {
    fn drop(&mut self) {
        self.crash();
    }
}

/// The parts of the platform a kill test takes down, one at a time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Victim {
    Backend,
    Worker,
    Dialler,
    Whisper,
    Redis,
    Postgres,
}

impl Victim {
    pub const ALL: [Victim; 6] = [
        Victim::Backend,
        Victim::Worker,
        Victim::Dialler,
        Victim::Whisper,
        Victim::Redis,
        Victim::Postgres,
    ];
}

/// The whole platform on loopback.
pub struct Rig {
    pub store: Arc<dyn store::Store>,
    pub whisper_url: String,
    env: Vec<(String, String)>,
    // Dropped in this order: the programs first, the databases last.
    dialler: Option<Proc>,
    workers: Vec<Proc>,
    bridge: Proc,
    whisper: Proc,
    redis: registry::testing::RedisServer,
    postgres: Postgres,
    diallers_started: u32,
    dir: tempfile::TempDir,
}

impl Rig {
    /// Every part but the dialler, on a migrated database with the population `population`
    /// behind every number.
    pub async fn start(population: &sim::Population) -> Self {
        let postgres = Postgres::start();
        let redis = registry::testing::RedisServer::start();
        let dir = tempfile::tempdir().unwrap();
        let population_file = dir.path().join("population.json");
        let populations = sim::Populations {
            default: population.clone(),
            campaigns: Default::default(),
        };
        std::fs::write(
            &population_file,
            serde_json::to_string(&populations).unwrap(),
        )
        .unwrap();
        let bridge_port = free_port();
        let env: Vec<(String, String)> = [
            ("RUST_LOG", "info".to_owned()),
            ("PATH", std::env::var("PATH").unwrap_or_default()),
            ("DATABASE_URL", postgres.url()),
            (
                "OBJECT_STORE_URL",
                format!("file://{}", dir.path().join("recordings").display()),
            ),
            ("VOXCORE_SECRET", FLEET_SECRET.to_owned()),
            ("JWT_SECRET", JWT_SECRET.to_owned()),
            ("OUTBOUND_ALLOWED_NETWORKS", "127.0.0.0/8".to_owned()),
            ("REDIS_URL", redis.url()),
            ("VOXBRIDGE_URL", format!("http://127.0.0.1:{bridge_port}")),
            ("SIM_POPULATION", population_file.display().to_string()),
            ("LOOP_INTERVAL_SECONDS", "0.5".to_owned()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect();
        let vox = {
            let env = env.clone();
            move || {
                let mut command = Command::new(binary("vox"));
                command
                    .env_clear()
                    .envs(env.iter().map(|(k, v)| (k, v)))
                    .stdin(Stdio::null());
                command
            }
        };
        let migrated = vox().arg("migrate").output().unwrap();
        assert!(migrated.status.success(), "vox migrate: {migrated:?}");
        let store = store::connect(&postgres.url()).await.unwrap();

        let whisper_port = free_port();
        let whisper_model = model(WHISPER_GGML);
        let whisper = Proc::start(
            move || {
                let mut command = Command::new(binary("vox-whisper"));
                command
                    .args(["serve", "--threads", "1", "--listen"])
                    .arg(format!("127.0.0.1:{whisper_port}"))
                    .arg("--model")
                    .arg(&whisper_model)
                    .env("RUST_LOG", "warn")
                    .stdin(Stdio::null());
                command
            },
            whisper_port,
            dir.path().join("whisper.log"),
        );
        let bridge = Proc::start(
            {
                let vox = vox.clone();
                move || {
                    let mut command = vox();
                    command
                        .arg("bridge")
                        .env("VOXBRIDGE_HOST", "127.0.0.1")
                        .env("VOXBRIDGE_PORT", bridge_port.to_string());
                    command
                }
            },
            bridge_port,
            dir.path().join("bridge.log"),
        );
        let workers = (1..=2)
            .map(|i| {
                let port = free_port();
                let outbox = dir.path().join(format!("outbox/{i}"));
                let log = dir.path().join(format!("worker-{i}.log"));
                let vox = vox.clone();
                Proc::start(
                    move || {
                        let mut command = vox();
                        command
                            .arg("core")
                            .env("VOXCORE_LISTEN", format!("127.0.0.1:{port}"))
                            .env("VOXCORE_PUBLIC_URL", format!("http://127.0.0.1:{port}"))
                            .env("VOXCORE_WORKER_ID", format!("voxcore-{i}"))
                            .env("VOXCORE_OUTBOX", &outbox)
                            .env("MAX_CONCURRENT_CALLS", "2");
                        command
                    },
                    port,
                    log,
                )
            })
            .collect();
        Self {
            store,
            whisper_url: format!("http://127.0.0.1:{whisper_port}/v1"),
            dir,
            env,
            dialler: None,
            workers,
            bridge,
            whisper,
            redis,
            postgres,
            diallers_started: 0,
        }
    }

    /// Starts a `vox dialler` (a new process, as a host's supervisor would).
    pub fn start_dialler(&mut self) {
        self.diallers_started += 1;
        let port = free_port();
        let env = self.env.clone();
        let log = self.path(&format!("dialler-{}.log", self.diallers_started));
        self.dialler = Some(Proc::start(
            move || {
                let mut command = Command::new(binary("vox"));
                command
                    .env_clear()
                    .envs(env.iter().map(|(k, v)| (k, v)))
                    .env("HEALTH_PORT", port.to_string())
                    .arg("dialler")
                    .stdin(Stdio::null());
                command
            },
            port,
            log,
        ));
    }

    /// Kills `victim` with SIGKILL (PostgreSQL: an immediate stop), waits `down`, and starts it
    /// again; `worker` picks which worker (1 or 2). A killed dialler is replaced by a new one.
    pub async fn kill_and_restart(
        &mut self,
        victim: Victim,
        worker: usize,
        down: std::time::Duration,
    ) {
        match victim {
            Victim::Backend => self.bridge.kill(),
            Victim::Worker => self.workers[worker - 1].kill(),
            Victim::Dialler => {
                if let Some(mut dialler) = self.dialler.take() {
                    dialler.kill();
                }
            }
            Victim::Whisper => self.whisper.kill(),
            Victim::Redis => self.redis.stop(),
            Victim::Postgres => self.postgres.crash(),
        }
        tokio::time::sleep(down).await;
        match victim {
            Victim::Backend => self.bridge.restart(),
            Victim::Worker => self.workers[worker - 1].restart(),
            Victim::Dialler => self.start_dialler(),
            Victim::Whisper => self.whisper.restart(),
            Victim::Redis => {
                let port = self.redis.port;
                self.redis = registry::testing::RedisServer::start_on(port);
            }
            Victim::Postgres => self.postgres.up(),
        }
    }

    /// A file in the rig's folder (the diallers' logs).
    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// The last lines of every program's log, for a failure's message.
    pub fn logs(&self) -> String {
        let mut names: Vec<PathBuf> = std::fs::read_dir(self.dir.path())
            .into_iter()
            .flatten()
            .flatten()
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|e| e == "log"))
            .collect();
        names.sort();
        let mut out = String::new();
        for path in names {
            let text = std::fs::read_to_string(&path).unwrap_or_default();
            let lines: Vec<&str> = text.lines().collect();
            let tail = &lines[lines.len().saturating_sub(15)..];
            out.push_str(&format!(
                "--- {} ---\n{}\n",
                file_name(&path),
                tail.join("\n")
            ));
        }
        out
    }
}

fn file_name(path: &Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}
