//! Shared helpers: serve a vendor test server on a loopback port, and collect what a stream yields.

use axum::Router;
use futures_util::StreamExt;
use futures_util::stream::BoxStream;
use pipeline::ProviderError;
use providers::Endpoint;
use std::net::SocketAddr;

/// Serves `router` on a free loopback port.
pub async fn serve(router: Router) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    addr
}

pub fn http_endpoint(name: &str, addr: SocketAddr, path: &str) -> Endpoint {
    Endpoint::new(
        name,
        &format!("http://{addr}{path}"),
        Some("test-key".to_owned()),
    )
}

pub fn ws_endpoint(name: &str, addr: SocketAddr) -> Endpoint {
    Endpoint::new(name, &format!("ws://{addr}"), Some("test-key".to_owned()))
}

/// Everything a stream yields, stopping after the first error.
pub async fn collect<T>(
    mut stream: BoxStream<'static, Result<T, ProviderError>>,
) -> (Vec<T>, Option<ProviderError>) {
    let mut items = Vec::new();
    while let Some(item) = stream.next().await {
        match item {
            Ok(item) => items.push(item),
            Err(error) => return (items, Some(error)),
        }
    }
    (items, None)
}

/// A body that sends `chunks` and then, a moment later, breaks the connection, as a server dying
/// mid-stream does.
pub fn body_then_drop(chunks: Vec<String>) -> axum::body::Body {
    let items: Vec<Option<String>> = chunks
        .into_iter()
        .map(Some)
        .chain(std::iter::once(None))
        .collect();
    let stream = futures_util::stream::iter(items).then(|item| async move {
        match item {
            Some(chunk) => Ok(chunk),
            None => {
                tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                Err(std::io::Error::other("server died"))
            }
        }
    });
    axum::body::Body::from_stream(stream)
}

/// Server-Sent Events text for `data` lines (optionally with event names).
pub fn sse(events: &[(Option<&str>, String)]) -> String {
    let mut out = String::new();
    for (name, data) in events {
        if let Some(name) = name {
            out.push_str(&format!("event: {name}\n"));
        }
        out.push_str(&format!("data: {data}\n\n"));
    }
    out
}
