//! Outbound calls through a trunk: the INVITE, its digest challenge, ringing, the answer, a bridge.
//!
//! `Gateway::dial` places one call: an INVITE to `sip:NUMBER@TRUNK` with vox's offer (PCMU, PCMA,
//! telephone-events) on a fresh RTP port, the caller ID in From and in P-Asserted-Identity (RFC
//! 3325, which trunks read to present the number), the trunk's credentials for a 401 or 407
//! (rsipstack answers the challenge). Ringing (180) and early media (183 with SDP) are reported as
//! they come; no answer within the ring timeout is a CANCEL. On the 200 the `Outbound` says where
//! the call's media goes (the worker the telephony edge attaches), and the call is bridged as an
//! inbound one is, until a BYE from either side. The INVITE offers session timers (`timer`): when
//! the trunk agrees, vox refreshes the session or expects the trunk to. A final failure is reported with its SIP status.

use crate::gateway::{Gateway, Refusal, Routed};
use crate::media::{Ended, MediaStats};
use crate::sdp::{self, Direction};
use rsipstack::dialog::authenticate::Credential;
use rsipstack::dialog::dialog::{Dialog, DialogState};
use rsipstack::dialog::invitation::InviteOption;
use rsipstack::sip::{Header, StatusCodeKind};
use std::sync::Arc;
use std::time::Duration;

/// The trunk a call goes out through.
#[derive(Clone, PartialEq, Eq)]
pub struct OutboundTrunk {
    /// `host[:port]`.
    pub address: String,
    pub tcp: bool,
    /// The digest username, when the trunk challenges.
    pub username: Option<String>,
    pub password: String,
    /// Where INVITEs are sent when not to `address` itself (the Request-URI still names it).
    pub outbound_proxy: Option<std::net::SocketAddr>,
}

impl std::fmt::Debug for OutboundTrunk {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OutboundTrunk")
            .field("address", &self.address)
            .field("tcp", &self.tcp)
            .field("username", &self.username)
            .field("password", &"<redacted>")
            .field("outbound_proxy", &self.outbound_proxy)
            .finish()
    }
}

/// One call to place.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dial {
    /// The number dialled, as the trunk wants it (`+14155550100` or digits).
    pub to: String,
    /// The caller ID: From's user and P-Asserted-Identity's.
    pub caller_id: String,
    /// How long it may ring before vox cancels it.
    pub ring_timeout: Duration,
}

/// How a placed call is getting on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Progress {
    /// 180, or 183 (`early_media` when it carried SDP: the network's tones or announcements).
    Ringing { early_media: bool },
    /// 200: the callee answered.
    Answered,
    /// A final failure (486 busy, 404 no such number, 487 after vox's CANCEL, 408…), or none at
    /// all (`code` 408 when the trunk never answered, 503 when it could not be reached).
    Failed { code: u16, reason: String },
}

/// Hears how each placed call gets on, and says where an answered one's media goes.
#[async_trait::async_trait]
pub trait Outbound: Send + Sync + 'static {
    async fn progress(&self, dial: &Dial, sip_call_id: &str, progress: Progress);
    /// The callee answered: the worker's media URL, or why the call is hung up at once.
    async fn answered(&self, dial: &Dial, sip_call_id: &str) -> Result<Routed, Refusal>;
    async fn ended(&self, dial: &Dial, sip_call_id: &str, ended: &Ended, stats: &MediaStats);
}

/// Why a call could not be placed at all.
#[derive(Debug, thiserror::Error)]
pub enum DialError {
    #[error(transparent)]
    Address(#[from] crate::register::AddressError),
    #[error("no RTP port is free")]
    NoPort,
    #[error("the INVITE could not be built: {0}")]
    Invite(String),
    #[error("the gateway is draining: it places no new calls")]
    Draining,
}

impl Gateway {
    /// Places `dial` through `trunk`; its progress and end go to `outbound`. Returns the call's
    /// SIP Call-ID once the INVITE is on its way.
    pub async fn dial(
        &self,
        trunk: &OutboundTrunk,
        dial: Dial,
        outbound: Arc<dyn Outbound>,
    ) -> Result<String, DialError> {
        self.control().dial(trunk, dial, outbound).await
    }
}

/// `Gateway::dial` on the gateway's shared state.
pub(crate) async fn dial(
    shared: Arc<crate::gateway::Shared>,
    trunk: &OutboundTrunk,
    dial: Dial,
    outbound: Arc<dyn Outbound>,
) -> Result<String, DialError> {
    if shared.metrics.draining() {
        return Err(DialError::Draining);
    }
    let trunk_uri = crate::register::trunk_uri(&trunk.address, trunk.tcp)?;
    let pair = shared.ports.open().await.map_err(|_| DialError::NoPort)?;
    let local = shared.local(&pair);
    let host = shared.contact.host_with_port.clone();
    let user = |user: &str| rsipstack::sip::Uri {
        auth: Some(rsipstack::sip::Auth {
            user: user.to_owned(),
            password: None,
        }),
        ..shared.contact.clone()
    };
    let mut callee = trunk_uri.clone();
    callee.auth = Some(rsipstack::sip::Auth {
        user: dial.to.clone(),
        password: None,
    });
    let sip_call_id = format!("{:032x}@vox", rand::random::<u128>());
    let identity = Header::Other(
        "P-Asserted-Identity".into(),
        format!("<sip:{}@{host}>", dial.caller_id),
    );
    let option = InviteOption {
        caller: user(&dial.caller_id),
        callee,
        content_type: Some("application/sdp".into()),
        offer: Some(sdp::offer(&local, Direction::SendRecv).into_bytes()),
        contact: user("vox"),
        credential: trunk.username.as_ref().map(|username| Credential {
            username: username.clone(),
            password: trunk.password.clone(),
            realm: None,
            auth_username: None,
        }),
        headers: Some(
            std::iter::once(identity)
                .chain(crate::timer::offered(shared.config.min_session_expires))
                .collect(),
        ),
        call_id: Some(sip_call_id.clone()),
        destination: trunk.outbound_proxy.map(|proxy| {
            let mut proxy = rsipstack::transport::SipAddr::from(proxy);
            if trunk.tcp {
                proxy.r#type = Some(rsipstack::sip::Transport::Tcp);
            }
            proxy
        }),
        ..InviteOption::default()
    };
    let (states_tx, mut states) = shared.dialogs.new_dialog_state_channel();
    let (dialog, invited) = shared
        .dialogs
        .do_invite_async(option, states_tx)
        .map_err(|e| DialError::Invite(e.to_string()))?;
    // Ringing as it comes; a terminated dialog leaves the layer. The edge hears a call's progress
    // in order: the answer waits for a ringing report still being posted.
    let reports = Arc::new(tokio::sync::Mutex::new(()));
    {
        let (outbound, dial, id) = (outbound.clone(), dial.clone(), sip_call_id.clone());
        let reports = reports.clone();
        let (followed_tx, followed) = shared.dialogs.new_dialog_state_channel();
        tokio::spawn(crate::gateway::follow_dialogs(shared.clone(), followed));
        tokio::spawn(async move {
            while let Some(state) = states.recv().await {
                if let DialogState::Early(_, response) = &state {
                    let early_media = !response.body.is_empty();
                    let _in_order = reports.lock().await;
                    outbound
                        .progress(&dial, &id, Progress::Ringing { early_media })
                        .await;
                }
                // New offers and the end, as for every dialog.
                let _ = followed_tx.send(state);
            }
        });
    }
    let id = sip_call_id.clone();
    let asked = shared.calls.open(&sip_call_id);
    tokio::spawn(async move {
        // However the call ends, it leaves the live calls.
        let _closed = Closed(shared.clone(), id.clone());
        let over = dialog.cancel_token().clone();
        let rang = tokio::select! {
            rang = tokio::time::timeout(dial.ring_timeout, invited) => rang.map_err(|_| {
                "no answer within the ring timeout"
            }),
            () = asked.cancelled() => Err("canceled by vox"),
        };
        let answered = match rang {
            Ok(Ok(Ok((dialog_id, response)))) => Ok((dialog_id, response)),
            Ok(Ok(Err(error))) => Err((503, error.to_string())),
            Ok(Err(error)) => Err((503, error.to_string())),
            Err(why) => {
                // Rang out, or ended from here: CANCEL (the trunk answers 487).
                let _ = dialog.cancel().await;
                Err((487, why.to_owned()))
            }
        };
        let (dialog_id, response) = match answered {
            Ok((dialog_id, Some(response)))
                if response.status_code.kind() == StatusCodeKind::Successful =>
            {
                (dialog_id, response)
            }
            Ok((_, Some(response))) => {
                let failed = Progress::Failed {
                    code: response.status_code.code(),
                    reason: response.status_code.to_string(),
                };
                outbound.progress(&dial, &id, failed).await;
                return;
            }
            Ok((_, None)) => {
                let failed = Progress::Failed {
                    code: 408,
                    reason: "the trunk never answered the INVITE".into(),
                };
                outbound.progress(&dial, &id, failed).await;
                return;
            }
            Err((code, reason)) => {
                outbound
                    .progress(&dial, &id, Progress::Failed { code, reason })
                    .await;
                return;
            }
        };
        outbound.progress(&dial, &id, Progress::Answered).await;
        let hang_up = |dialog_id| {
            let shared = shared.clone();
            async move {
                if let Some(Dialog::Invite(dialog)) = shared.dialogs.get_dialog(&dialog_id) {
                    let _ = dialog.bye().await;
                }
                shared.dialogs.remove_dialog(&dialog_id);
            }
        };
        // The callee's description decides the codec (the first of ours it lists).
        let negotiated = std::str::from_utf8(&response.body)
            .map_err(|_| sdp::SdpError::Malformed("the answer is not text".into()))
            .and_then(sdp::parse)
            .and_then(|answer| sdp::answer(&answer, &local).map(|(_, n)| n));
        let negotiated = match negotiated {
            Ok(negotiated) => negotiated,
            Err(error) => {
                tracing::warn!(%error, sip_call_id = %id, "the callee's answer cannot be spoken");
                hang_up(dialog_id).await;
                let ended = Ended::WorkerLost(format!("the callee's SDP: {error}"));
                outbound
                    .ended(&dial, &id, &ended, &MediaStats::default())
                    .await;
                return;
            }
        };
        let in_order = reports.lock().await;
        let answered = outbound.answered(&dial, &id).await;
        drop(in_order);
        let routed = match answered {
            Ok(routed) => routed,
            Err(refusal) => {
                tracing::info!(sip_call_id = %id, reason = %refusal.reason, "hanging up an answered call");
                hang_up(dialog_id).await;
                let ended = Ended::Worker(Some(refusal.reason));
                outbound
                    .ended(&dial, &id, &ended, &MediaStats::default())
                    .await;
                return;
            }
        };
        shared.sessions.lock().insert(
            dialog_id.to_string(),
            crate::reoffer::Session {
                local: local.clone(),
                negotiated: negotiated.clone(),
            },
        );
        // Session timers, when the trunk agreed to them: vox refreshes unless the trunk does.
        let timer = crate::timer::agreed_by(&response);
        if let Some((interval, crate::timer::Refresher::Vox)) = timer {
            let refreshing = crate::timer::refresh(shared.clone(), dialog_id.clone(), interval);
            let stop = over.clone();
            tokio::spawn(async move {
                tokio::select! {
                    () = refreshing => {}
                    () = stop.cancelled() => {}
                }
            });
        }
        let interval = timer.map(|(interval, _)| interval);
        let (ended, stats) = crate::gateway::bridge_call(
            &shared, pair, negotiated, routed, &over, &dialog_id, interval,
        )
        .await;
        tracing::info!(sip_call_id = %id, ?ended, ?stats, "outbound call over");
        outbound.ended(&dial, &id, &ended, &stats).await;
    });
    Ok(sip_call_id)
}

/// Forgets a placed call when its task ends, however it ends.
struct Closed(Arc<crate::gateway::Shared>, String);

impl Drop for Closed {
    fn drop(&mut self) {
        self.0.calls.close(&self.1);
    }
}
