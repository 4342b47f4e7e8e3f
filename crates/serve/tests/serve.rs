//! The limits against real sockets on loopback: slow heads, stalled bodies, the peer's address,
//! and a shutdown that lets a request in flight finish.

use axum::Router;
use axum::extract::ConnectInfo;
use axum::routing::{get, post};
use serve::{Limits, serve};
use std::net::SocketAddr;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const SHORT: Limits = Limits {
    header_read: Duration::from_millis(500),
    body_idle: Duration::from_millis(500),
};

fn app() -> Router {
    Router::new()
        .route(
            "/peer",
            get(|ConnectInfo(peer): ConnectInfo<SocketAddr>| async move { peer.to_string() }),
        )
        .route("/echo", post(|body: String| async move { body }))
        .route(
            "/slow",
            get(|| async {
                tokio::time::sleep(Duration::from_millis(300)).await;
                "done"
            }),
        )
}

async fn start(
    limits: Limits,
) -> (
    SocketAddr,
    tokio::sync::oneshot::Sender<()>,
    tokio::task::JoinHandle<()>,
) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let stop = async move {
        let _ = stop_rx.await;
    };
    let served = tokio::spawn(async move { serve(listener, app(), limits, stop).await.unwrap() });
    (address, stop_tx, served)
}

/// Reads until the server closes the connection; how long that took.
async fn closed_after(stream: &mut TcpStream) -> Duration {
    let start = Instant::now();
    let mut buffer = [0u8; 1024];
    let wait = tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            match stream.read(&mut buffer).await {
                Ok(0) | Err(_) => break,
                Ok(_) => continue,
            }
        }
    });
    wait.await.expect("the server closed the connection");
    start.elapsed()
}

#[tokio::test]
async fn a_client_that_never_finishes_its_head_is_cut_off() {
    let (address, _stop, _served) = start(SHORT).await;
    // Silent from the start.
    let mut silent = TcpStream::connect(address).await.unwrap();
    // Trickling: a byte now and then, never the end of the head.
    let mut trickling = TcpStream::connect(address).await.unwrap();
    trickling
        .write_all(b"GET /peer HTTP/1.1\r\nHo")
        .await
        .unwrap();
    let writer = tokio::spawn(async move {
        for _ in 0..20 {
            tokio::time::sleep(Duration::from_millis(100)).await;
            if trickling.write_all(b"s").await.is_err() {
                return Some(());
            }
        }
        closed_after(&mut trickling).await;
        Some(())
    });
    assert!(closed_after(&mut silent).await < Duration::from_secs(3));
    assert_eq!(writer.await.unwrap(), Some(()));
}

#[tokio::test]
async fn a_kept_alive_connection_idle_past_the_limit_is_closed() {
    let (address, _stop, _served) = start(SHORT).await;
    let mut stream = TcpStream::connect(address).await.unwrap();
    stream
        .write_all(b"GET /peer HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    let mut reply = vec![0u8; 1024];
    let n = stream.read(&mut reply).await.unwrap();
    let reply = String::from_utf8_lossy(&reply[..n]).into_owned();
    assert!(reply.starts_with("HTTP/1.1 200"), "{reply}");
    // The peer's address reaches handlers, as with axum's own serve.
    let local = stream.local_addr().unwrap().to_string();
    assert!(reply.ends_with(&local), "{reply}");
    assert!(closed_after(&mut stream).await < Duration::from_secs(3));
}

#[tokio::test]
async fn a_request_body_that_stops_sending_is_cut_off() {
    let (address, _stop, _served) = start(SHORT).await;
    let mut stream = TcpStream::connect(address).await.unwrap();
    stream
        .write_all(b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\nonly part")
        .await
        .unwrap();
    let start = Instant::now();
    let mut reply = Vec::new();
    tokio::time::timeout(Duration::from_secs(10), stream.read_to_end(&mut reply))
        .await
        .expect("the server gave up on the body")
        .ok();
    assert!(start.elapsed() < Duration::from_secs(3));
    let reply = String::from_utf8_lossy(&reply);
    assert!(!reply.starts_with("HTTP/1.1 200"), "{reply}");
}

#[tokio::test]
async fn shutting_down_lets_the_request_in_flight_finish() {
    let (address, stop, served) = start(Limits::default()).await;
    let request = tokio::spawn(async move {
        reqwest::get(format!("http://{address}/slow"))
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
    });
    tokio::time::sleep(Duration::from_millis(100)).await;
    stop.send(()).unwrap();
    assert_eq!(request.await.unwrap(), "done");
    tokio::time::timeout(Duration::from_secs(5), served)
        .await
        .expect("serve returned once the request was over")
        .unwrap();
    assert!(
        TcpStream::connect(address).await.is_err(),
        "still listening"
    );
}
