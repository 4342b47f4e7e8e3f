//! The suite's fixtures.
//!
//! A real redis-server per test (Debian's, on a free loopback port, killed when the test ends),
//! workers to register, and the macro that runs a test against both registries.

pub use registry::testing::RedisServer;
use registry::{InProcess, RedisRegistry, Registry, WorkerInfo};
use std::sync::Arc;

pub const T0: u64 = 1_800_000_000_000;

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
