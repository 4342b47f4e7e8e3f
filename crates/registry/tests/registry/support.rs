//! The suite's fixtures: a real redis-server per test (Debian's, on a free loopback port, killed when the test ends), workers to register, and the macro that runs a test against both registries.

use registry::{InProcess, RedisRegistry, Registry, WorkerInfo};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

pub const T0: u64 = 1_800_000_000_000;

/// A redis-server of our own, stopped on drop.
pub struct RedisServer {
    child: Child,
    pub port: u16,
}

impl RedisServer {
    pub fn start() -> Self {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        Self::start_on(port)
    }

    pub fn start_on(port: u16) -> Self {
        let binary = ["/usr/bin/redis-server", "/usr/sbin/redis-server"]
            .into_iter()
            .find(|p| std::path::Path::new(p).is_file())
            .expect("redis-server is installed (scripts/test installs Debian's redis-server)");
        let mut child = Command::new(binary)
            .args([
                "--port",
                &port.to_string(),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
            ])
            .stdout(Stdio::null())
            .spawn()
            .unwrap();
        for _ in 0..200 {
            if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                return Self { child, port };
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        let _ = child.kill();
        let _ = child.wait();
        panic!("redis-server did not start on {port}");
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/", self.port)
    }

    pub fn stop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.stop();
    }
}

pub fn worker(id: &str, host: &str, slots: u32) -> WorkerInfo {
    WorkerInfo {
        worker_id: id.to_owned(),
        url: format!("http://{host}/w/{id}"),
        host: host.to_owned(),
        slots,
        busy: 0,
    }
}

pub async fn in_process() -> Arc<dyn Registry> {
    Arc::new(InProcess::new())
}

pub async fn redis(server: &RedisServer) -> Arc<dyn Registry> {
    Arc::new(
        RedisRegistry::connect(&server.url(), "test:reg:")
            .await
            .unwrap(),
    )
}

/// Runs each named `async fn(Arc<dyn Registry>)` against the in-process registry and a Redis one.
macro_rules! both_registries {
    ($($name:ident),+ $(,)?) => {
        mod in_process {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name($crate::support::in_process().await).await;
                }
            )+
        }
        mod redis {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    let server = $crate::support::RedisServer::start();
                    super::$name($crate::support::redis(&server).await).await;
                }
            )+
        }
    };
}
pub(crate) use both_registries;
