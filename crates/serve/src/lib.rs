//! Serving an axum router with limits on every connection (M11).
//!
//! `axum::serve` sets no timer, so a client that sends its headers one byte at a time, or opens a
//! connection and says nothing, holds it forever. Here every connection has a deadline for its
//! request head (which is also the keep-alive idle time before the next request), and a request
//! body that stops sending is cut off. The rest is `axum::serve`: HTTP/1.1, upgrades
//! (WebSockets), `ConnectInfo` of the peer, and a graceful shutdown that lets requests finish.

use axum::Router;
use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::serve::Listener;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use std::time::Duration;
use tokio::sync::watch;
use tower::ServiceExt;
use tower_http::timeout::TimeoutBody;

/// The limits every connection is held to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// How long a client has to send a request's head, counted from when the server starts
    /// reading it: on a new connection, and between requests on a kept-alive one.
    pub header_read: Duration,
    /// How long a request body may go without sending anything.
    pub body_idle: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            header_read: Duration::from_secs(10),
            body_idle: Duration::from_secs(30),
        }
    }
}

/// Serves `router` on `listener` until `shutdown` resolves, then lets the requests in flight
/// finish (upgraded connections too) and returns.
pub async fn serve<L>(
    mut listener: L,
    router: Router,
    limits: Limits,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()>
where
    L: Listener,
    L::Addr: Clone + Send + Sync + std::fmt::Debug + 'static,
{
    // Dropping `stop_rx` tells every connection to shut down gracefully; each connection holds a
    // `done_rx`, so `done_tx.closed()` resolves when the last one is over.
    let (stop_tx, stop_rx) = watch::channel(());
    let (done_tx, done_rx) = watch::channel(());
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let (io, peer) = tokio::select! {
            accepted = listener.accept() => accepted,
            () = &mut shutdown => break,
        };
        let service = router
            .clone()
            .map_request(move |request: axum::http::Request<Incoming>| {
                let mut request =
                    request.map(|body| Body::new(TimeoutBody::new(limits.body_idle, body)));
                request.extensions_mut().insert(ConnectInfo(peer.clone()));
                request
            });
        let service = TowerToHyperService::new(service);
        let stop = stop_tx.clone();
        let done = done_rx.clone();
        tokio::spawn(async move {
            // HTTP/1.1 only: telling HTTP/2 apart would first wait, with no deadline, for a
            // preface the client may never send. nginx, HAProxy, carriers and browsers speak it.
            let mut builder = hyper::server::conn::http1::Builder::new();
            builder
                .timer(TokioTimer::new())
                .header_read_timeout(limits.header_read);
            let connection = builder
                .serve_connection(TokioIo::new(io), service)
                .with_upgrades();
            let mut connection = std::pin::pin!(connection);
            let served = tokio::select! {
                served = connection.as_mut() => served,
                () = stop.closed() => {
                    connection.as_mut().graceful_shutdown();
                    connection.await
                }
            };
            if let Err(error) = served {
                tracing::trace!(%error, "a connection ended with an error");
            }
            drop(done);
        });
    }
    drop(listener);
    drop(stop_rx);
    drop(done_rx);
    done_tx.closed().await;
    Ok(())
}
