//! Registering with a trunk: REGISTER with digest auth, refreshed, retried, and unregistered.
//!
//! rsipstack's `Registration` does the protocol: the REGISTER, the 401 or 407 challenge answered
//! with the trunk's credentials (RFC 3261 §22, RFC 2617 digest), a refresh at three quarters of the
//! expiry the registrar granted, a backoff doubling from 1 s to 60 s after a failure. This file
//! says what to register and where, counts each outcome in `Metrics`, and sends the
//! unregistering REGISTER (expires 0) when the gateway shuts down, so a trunk stops sending calls
//! to a gateway that is gone.

use crate::metrics::{Metrics, Registered};
use rsipstack::dialog::authenticate::Credential;
use rsipstack::dialog::registration::{RefreshOutcome, Registration};
use rsipstack::transaction::endpoint::EndpointInnerRef;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// What the gateway registers with.
#[derive(Clone, PartialEq, Eq)]
pub struct RegisterConfig {
    /// The registrar's `host[:port]`.
    pub registrar: String,
    pub tcp: bool,
    /// The AOR's user and the digest username.
    pub username: String,
    pub password: String,
    /// Where every REGISTER is sent instead of the registrar's address.
    pub outbound_proxy: Option<SocketAddr>,
    /// The expiry asked for, in seconds (the registrar may grant less).
    pub expires: u32,
}

impl std::fmt::Debug for RegisterConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RegisterConfig")
            .field("registrar", &self.registrar)
            .field("tcp", &self.tcp)
            .field("username", &self.username)
            .field("password", &"<redacted>")
            .field("outbound_proxy", &self.outbound_proxy)
            .field("expires", &self.expires)
            .finish()
    }
}

/// A trunk address that is not a SIP `host[:port]`.
#[derive(Debug, thiserror::Error)]
#[error("the trunk address {address:?} is not a SIP host[:port]: {detail}")]
pub struct AddressError {
    pub address: String,
    pub detail: String,
}

/// A trunk's URI: `sip:host[:port]`, with `;transport=tcp` over TCP.
pub fn trunk_uri(address: &str, tcp: bool) -> Result<rsipstack::sip::Uri, AddressError> {
    let transport = if tcp { ";transport=tcp" } else { "" };
    rsipstack::sip::Uri::try_from(format!("sip:{address}{transport}").as_str()).map_err(|e| {
        AddressError {
            address: address.to_owned(),
            detail: e.to_string(),
        }
    })
}

impl RegisterConfig {
    /// The registrar's URI.
    pub fn server(&self) -> Result<rsipstack::sip::Uri, AddressError> {
        trunk_uri(&self.registrar, self.tcp)
    }
}

/// Registers until `stop` is cancelled, then unregisters (within `unregister_within`).
pub(crate) async fn run(
    endpoint: EndpointInnerRef,
    config: RegisterConfig,
    server: rsipstack::sip::Uri,
    metrics: Arc<Metrics>,
    stop: CancellationToken,
) {
    let credential = Credential {
        username: config.username.clone(),
        password: config.password.clone(),
        realm: None,
        auth_username: None,
    };
    let mut registration = Registration::new(endpoint, Some(credential));
    registration.outbound_proxy = config.outbound_proxy;
    let registrar = config.registrar.clone();
    registration
        .keep_alive(server.clone(), config.expires, stop.clone(), |outcome| {
            let state = match outcome {
                RefreshOutcome::Registered(_) => Registered::Yes,
                RefreshOutcome::Rejected(response) => {
                    tracing::warn!(%registrar, status = %response.status_code, "the registrar refused vox sip's REGISTER");
                    Registered::Refused
                }
                RefreshOutcome::Failed(error) => {
                    tracing::warn!(%registrar, %error, "vox sip could not register");
                    Registered::Failed
                }
            };
            metrics.registration(state);
        })
        .await;
    let unregistered = tokio::time::timeout(
        Duration::from_secs(2),
        registration.register(server, Some(0)),
    )
    .await;
    match unregistered {
        Ok(Ok(response)) => {
            tracing::info!(status = %response.status_code, "unregistered from the trunk")
        }
        Ok(Err(error)) => tracing::warn!(%error, "could not unregister from the trunk"),
        Err(_) => tracing::warn!("the trunk did not answer the unregistering REGISTER within 2 s"),
    }
    metrics.registration(Registered::No);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_registrar_uri_names_tcp_when_the_trunk_speaks_it() {
        let mut config = RegisterConfig {
            registrar: "sip.example.com:5080".into(),
            tcp: false,
            username: "vox".into(),
            password: "secret".into(),
            outbound_proxy: None,
            expires: 3600,
        };
        assert_eq!(
            config.server().unwrap().to_string(),
            "sip:sip.example.com:5080"
        );
        config.tcp = true;
        assert_eq!(
            config.server().unwrap().to_string(),
            "sip:sip.example.com:5080;transport=TCP"
        );
        assert!(!format!("{config:?}").contains("secret"));
    }
}
