//! OPTIONS keep-alive to a trunk that vox does not register with: is the trunk there?
//!
//! RFC 3261 §11: OPTIONS asks a server what it supports, and any final response says it is up (a
//! trunk may answer 200, or 403 and 405 to a request it does not authenticate). No final response
//! within 5 s, or before the next OPTIONS is due when they are closer, or a transport error says
//! it is down.
//! The answer is asked every `every` and kept in `Metrics` (`vox_sip_trunk_up`, `/health`).

use crate::metrics::Metrics;
use rsipstack::sip::{Method, StatusCodeKind, Uri};
use rsipstack::transaction::endpoint::EndpointInnerRef;
use rsipstack::transaction::key::{TransactionKey, TransactionRole};
use rsipstack::transaction::transaction::Transaction;
use rsipstack::transport::SipAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// How long one OPTIONS may wait for its final response.
const ANSWER_WITHIN: Duration = Duration::from_secs(5);

/// Asks `target` every `every` until `stop`.
pub(crate) async fn run(
    endpoint: EndpointInnerRef,
    target: Uri,
    every: Duration,
    metrics: Arc<Metrics>,
    stop: CancellationToken,
) {
    let mut seq = 0;
    loop {
        seq += 1;
        let within = ANSWER_WITHIN.min(every);
        let answered = tokio::time::timeout(within, ping(&endpoint, &target, seq)).await;
        let up = match answered {
            Ok(Ok(status)) => {
                tracing::debug!(%target, %status, "the trunk answered an OPTIONS");
                true
            }
            Ok(Err(error)) => {
                tracing::warn!(%target, %error, "the trunk could not be asked (OPTIONS)");
                false
            }
            Err(_) => {
                tracing::warn!(%target, ?within, "the trunk did not answer an OPTIONS");
                false
            }
        };
        metrics.trunk_answered(up);
        tokio::select! {
            () = tokio::time::sleep(every) => {}
            () = stop.cancelled() => return,
        }
    }
}

/// One OPTIONS, sent on the connection the target's transport calls for: its final status.
async fn ping(endpoint: &EndpointInnerRef, target: &Uri, seq: u32) -> Result<String, String> {
    let error = |e: rsipstack::Error| e.to_string();
    let address = SipAddr::try_from(target).map_err(error)?;
    let (connection, _) = endpoint
        .transport_layer
        .lookup(&address, None)
        .await
        .map_err(error)?;
    let via = endpoint
        .get_via(Some(connection.get_addr().clone()), None)
        .map_err(error)?;
    let from = rsipstack::sip::typed::From {
        display_name: None,
        uri: Uri {
            scheme: Some(rsipstack::sip::Scheme::Sip),
            auth: Some(rsipstack::sip::Auth {
                user: "vox".into(),
                password: None,
            }),
            host_with_port: via.uri.host_with_port.clone(),
            params: vec![],
            headers: vec![],
        },
        params: vec![],
    }
    .with_tag(rsipstack::transaction::make_tag());
    let to = rsipstack::sip::typed::To {
        display_name: None,
        uri: target.clone(),
        params: vec![],
    };
    let request = endpoint.make_request(Method::Options, target.clone(), via, from, to, seq, None);
    let key = TransactionKey::from_request(&request, TransactionRole::Client).map_err(error)?;
    let mut tx = Transaction::new_client(key, request, endpoint.clone(), Some(connection));
    tx.send().await.map_err(error)?;
    while let Some(message) = tx.receive().await {
        if let rsipstack::sip::SipMessage::Response(response) = message
            && response.status_code.kind() != StatusCodeKind::Provisional
        {
            return Ok(response.status_code.to_string());
        }
    }
    Err("the transaction ended without a final response".into())
}
