//! Opening a vendor's WebSocket with headers, under a timeout, with typed handshake failures.

use crate::http::{retry_after, status_error};
use pipeline::ProviderError;
use std::time::Duration;
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

pub(crate) type Socket = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// Connects to `url` with `headers`; a refused handshake becomes the error its status means.
pub(crate) async fn connect(
    provider: &str,
    url: &str,
    headers: &[(&'static str, String)],
    timeout: Duration,
) -> Result<Socket, ProviderError> {
    let mut request = url
        .into_client_request()
        .map_err(|e| ProviderError::Protocol {
            provider: provider.to_owned(),
            message: format!("bad URL {url}: {e}"),
        })?;
    for (name, value) in headers {
        let value = HeaderValue::from_str(value).map_err(|e| ProviderError::Protocol {
            provider: provider.to_owned(),
            message: format!("bad header {name}: {e}"),
        })?;
        request.headers_mut().insert(*name, value);
    }
    let connected = tokio::time::timeout(timeout, tokio_tungstenite::connect_async(request))
        .await
        .map_err(|_| ProviderError::Timeout {
            provider: provider.to_owned(),
            after: timeout,
        })?;
    match connected {
        Ok((socket, _)) => Ok(socket),
        Err(tokio_tungstenite::tungstenite::Error::Http(response)) => {
            let status = reqwest::StatusCode::from_u16(response.status().as_u16())
                .unwrap_or(reqwest::StatusCode::BAD_GATEWAY);
            let mut headers = reqwest::header::HeaderMap::new();
            if let Some(value) = response.headers().get("retry-after")
                && let Ok(value) = reqwest::header::HeaderValue::from_bytes(value.as_bytes())
            {
                headers.insert(reqwest::header::RETRY_AFTER, value);
            }
            let body = response
                .body()
                .as_ref()
                .map(|b| String::from_utf8_lossy(b).into_owned())
                .unwrap_or_default();
            Err(status_error(provider, status, retry_after(&headers), &body))
        }
        Err(error) => Err(ProviderError::Connection {
            provider: provider.to_owned(),
            message: error.to_string(),
        }),
    }
}

/// The error a vendor's close frame means: policy violations (bad keys) are auth errors.
pub(crate) fn close_error(provider: &str, code: u16, reason: &str) -> ProviderError {
    let message = format!("socket closed with {code}: {reason}");
    match code {
        1008 => ProviderError::Auth {
            provider: provider.to_owned(),
            message,
        },
        _ => ProviderError::Protocol {
            provider: provider.to_owned(),
            message,
        },
    }
}
