//! The SIP side of `vox sip`: an endpoint that answers OPTIONS and INVITEs and runs each call.
//!
//! An INVITE's offer is read first: a body that is not SDP is refused 400 and one vox cannot
//! answer (no G.711, SRTP) 488, before anything else happens. Then the caller hears ringing
//! (180) while the `Router` (the telephony edge, in the gateway) decides: a refusal becomes its
//! SIP status, a route gives the worker's media URL. The call is answered 200 with vox's SDP on
//! a fresh RTP socket and its media bridged to the worker (`media::bridge`) until one side ends
//! it: a BYE or CANCEL from the caller ends the bridge; the worker's end or a silent phone ends
//! the call with a BYE from vox. Signalling is rsipstack's (transactions, retransmissions,
//! dialogs) over UDP and TCP on the same port; this file only decides. Every final response and
//! every call's RTP is counted in `Metrics`. A draining gateway refuses new INVITEs 503 with
//! Retry-After while its live calls finish; `shutdown` unregisters from the trunk (when `register`
//! registered it), then hangs up what is left after a grace.

use crate::media::{self, Ended, LegConfig, MediaStats};
use crate::metrics::Metrics;
use crate::sdp::{self, Local, SdpError};
use rsipstack::dialog::DialogId;
use rsipstack::dialog::dialog::{Dialog, DialogState};
use rsipstack::dialog::dialog_layer::DialogLayer;
use rsipstack::sip::{Header, Method, StatusCode, prelude::HeadersExt};
use rsipstack::transaction::transaction::Transaction;
use rsipstack::transport::{
    SipConnection, TransportLayer, tcp_listener::TcpListenerConnection, udp::UdpConnection,
};
use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// An INVITE as the router sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IncomingCall {
    pub sip_call_id: String,
    /// The caller's user part (a number, usually).
    pub from: String,
    /// The dialled user part (the Request-URI's, else the To's).
    pub to: String,
}

/// Where an answered call's media goes.
#[derive(Debug, Clone, PartialEq)]
pub struct Routed {
    pub media_url: String,
    /// Passed to the worker's `start`.
    pub parameters: serde_json::Value,
}

/// Why a call is not taken: the SIP final response it gets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    pub code: u16,
    pub reason: String,
}

/// Decides where an INVITE goes (the telephony edge), and hears how each call ended.
#[async_trait::async_trait]
pub trait Router: Send + Sync + 'static {
    async fn route(&self, call: &IncomingCall) -> Result<Routed, Refusal>;
    /// The call's media ended (`stats` for metrics).
    async fn ended(&self, call: &IncomingCall, ended: &Ended, stats: &MediaStats);
}

/// Where the gateway listens and how it runs calls.
#[derive(Debug, Clone)]
pub struct GatewayConfig {
    /// SIP over UDP (and TCP on the same port when `tcp`).
    pub listen: SocketAddr,
    pub tcp: bool,
    /// The address RTP sockets bind to.
    pub rtp_bind: IpAddr,
    /// The ports calls' RTP (even) and RTCP (odd) take.
    pub rtp_ports: std::ops::RangeInclusive<u16>,
    /// The address written in SDP (the external one behind NAT), else `rtp_bind`.
    pub external_ip: Option<IpAddr>,
    pub rtp_timeout: Duration,
    pub jitter_depth: usize,
    /// The networks SIP is taken from (the trunk's signalling addresses, its registrar's); packets
    /// and connections from anywhere else are dropped unanswered. `None`: from anywhere.
    pub allowed_sources: Option<egress::Allowed>,
    /// The shortest session-timer interval accepted (RFC 4028's `Min-SE`).
    pub min_session_expires: Duration,
}

impl GatewayConfig {
    /// UDP and TCP on `listen`, RTP on the same address: ports 10000–20000, a 30 s RTP timeout,
    /// three packets of jitter buffer.
    pub fn new(listen: SocketAddr) -> Self {
        Self {
            listen,
            tcp: true,
            rtp_bind: listen.ip(),
            rtp_ports: 10_000..=20_000,
            external_ip: None,
            rtp_timeout: Duration::from_secs(30),
            jitter_depth: 3,
            allowed_sources: None,
            min_session_expires: crate::timer::MIN_SESSION_EXPIRES,
        }
    }
}

/// What a draining gateway's 503 asks a trunk to wait before trying it again (seconds).
pub const RETRY_AFTER_SECONDS: u32 = 30;

/// Why the gateway cannot start.
#[derive(Debug, thiserror::Error)]
#[error("the SIP endpoint could not start on {listen}: {detail}")]
pub struct GatewayError {
    pub listen: SocketAddr,
    pub detail: String,
}

/// A running gateway.
pub struct Gateway {
    /// Where SIP is answered (the port chosen when `listen` asked for 0).
    pub sip_addr: SocketAddr,
    cancel: CancellationToken,
    pub(crate) shared: Arc<Shared>,
}

impl std::fmt::Debug for Gateway {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Gateway")
            .field("sip_addr", &self.sip_addr)
            .field("calls_up", &self.shared.metrics.calls_up())
            .finish_non_exhaustive()
    }
}

impl Drop for Gateway {
    fn drop(&mut self) {
        self.cancel.cancel();
    }
}

pub(crate) struct Shared {
    pub(crate) config: GatewayConfig,
    pub(crate) ports: crate::ports::Ports,
    router: Arc<dyn Router>,
    pub(crate) dialogs: Arc<DialogLayer>,
    pub(crate) contact: rsipstack::sip::Uri,
    pub(crate) metrics: Arc<Metrics>,
    /// Ends every live call (with a BYE): the end of a shutdown's grace.
    pub(crate) hang_up: CancellationToken,
    /// Told at every call's end, for `drained`.
    pub(crate) call_over: tokio::sync::Notify,
    endpoint: rsipstack::transaction::endpoint::EndpointInnerRef,
    /// The registration's task and what stops it (unregistering).
    registration: parking_lot::Mutex<Option<(CancellationToken, tokio::task::JoinHandle<()>)>>,
    /// The user vox registered as: a registered trunk's INVITE names it in the Request-URI and
    /// the dialled number in To.
    registered_user: parking_lot::Mutex<Option<String>>,
    /// Each bridged call's media as last agreed, by dialog id, for new offers in the call.
    pub(crate) sessions: parking_lot::Mutex<HashMap<String, crate::reoffer::Session>>,
    /// Each call with a session timer: its interval and what its refreshes tell.
    pub(crate) timers: parking_lot::Mutex<HashMap<String, (Duration, Arc<tokio::sync::Notify>)>>,
    /// The live calls by SIP Call-ID, for `Control`.
    pub(crate) calls: crate::control::Calls,
    /// The credentials callers must present (a trunk saved to challenge them).
    challenge: parking_lot::Mutex<Option<Arc<crate::challenge::Challenge>>>,
    /// Each bridged call's media as a new offer agreed it, for its leg to follow.
    agreed: parking_lot::Mutex<HashMap<String, tokio::sync::watch::Sender<crate::sdp::Negotiated>>>,
}

/// Binds the UDP socket; with TCP on, the same port must be free for TCP too. A port the
/// system picked (`:0`) may be free for UDP and held by a TCP connection: then another is
/// picked, a few times over, before giving up.
async fn bind_udp(listen: SocketAddr, tcp: bool) -> Result<tokio::net::UdpSocket, String> {
    let tries = if listen.port() == 0 && tcp { 20 } else { 1 };
    let mut last = String::new();
    for _ in 0..tries {
        let socket = tokio::net::UdpSocket::bind(listen)
            .await
            .map_err(|e| e.to_string())?;
        if !tcp {
            return Ok(socket);
        }
        let bound = socket.local_addr().map_err(|e| e.to_string())?;
        match std::net::TcpListener::bind(bound) {
            Ok(_) => return Ok(socket),
            Err(e) => last = format!("TCP: {e}"),
        }
    }
    Err(last)
}

impl Gateway {
    pub async fn start(
        config: GatewayConfig,
        router: Arc<dyn Router>,
    ) -> Result<Self, GatewayError> {
        let failed = |detail: String| GatewayError {
            listen: config.listen,
            detail,
        };
        let cancel = CancellationToken::new();
        let transports = TransportLayer::new(cancel.clone());
        let metrics = Arc::new(Metrics::default());
        if let Some(allowed) = config.allowed_sources.clone() {
            // A scanner gets no answer at all, which tells it nothing.
            let counted = metrics.clone();
            transports.set_whitelist(move |ip: IpAddr| {
                let allowed = allowed.contains(ip);
                if !allowed {
                    counted.dropped_source();
                }
                async move { allowed }
            });
        }
        let socket = bind_udp(config.listen, config.tcp).await.map_err(failed)?;
        let sip_addr = socket.local_addr().map_err(|e| failed(e.to_string()))?;
        let external = config
            .external_ip
            .map(|ip| SocketAddr::new(ip, sip_addr.port()));
        let udp =
            UdpConnection::from_socket(Arc::new(socket), external, Some(cancel.child_token()))
                .await
                .map_err(|e| failed(e.to_string()))?;
        transports.add_transport(udp.into());
        if config.tcp {
            // rsipstack binds its listener when the endpoint serves and only logs a failure:
            // `bind_udp` found the TCP port free, or said why not.
            let tcp = TcpListenerConnection::new(sip_addr, external)
                .await
                .map_err(|e| failed(e.to_string()))?;
            transports.add_transport(SipConnection::TcpListener(tcp));
        }
        let endpoint = rsipstack::EndpointBuilder::new()
            .with_cancel_token(cancel.clone())
            .with_transport_layer(transports)
            .with_user_agent("vox-sip")
            .build();
        let address = endpoint
            .get_addrs()
            .first()
            .cloned()
            .ok_or_else(|| failed("no address".into()))?;
        let contact = rsipstack::sip::Uri {
            scheme: Some(rsipstack::sip::Scheme::Sip),
            auth: None,
            host_with_port: address.addr,
            params: vec![],
            headers: vec![],
        };
        let incoming = endpoint
            .incoming_transactions()
            .map_err(|e| failed(e.to_string()))?;
        let dialogs = Arc::new(DialogLayer::new(endpoint.inner.clone()));
        let (states_tx, states) = dialogs.new_dialog_state_channel();
        let shared = Arc::new(Shared {
            ports: crate::ports::Ports::new(config.rtp_bind, config.rtp_ports.clone()),
            config,
            router,
            dialogs,
            contact,
            metrics,
            hang_up: CancellationToken::new(),
            call_over: tokio::sync::Notify::new(),
            endpoint: endpoint.inner.clone(),
            registration: parking_lot::Mutex::new(None),
            registered_user: parking_lot::Mutex::new(None),
            sessions: parking_lot::Mutex::new(HashMap::new()),
            timers: parking_lot::Mutex::new(HashMap::new()),
            calls: crate::control::Calls::default(),
            agreed: parking_lot::Mutex::new(HashMap::new()),
            challenge: parking_lot::Mutex::new(None),
        });
        let serving = cancel.clone();
        tokio::spawn(async move {
            tokio::select! {
                () = endpoint.serve() => {}
                () = serving.cancelled() => {}
            }
        });
        tokio::spawn(follow_dialogs(shared.clone(), states));
        tokio::spawn(answer(shared.clone(), incoming, states_tx, cancel.clone()));
        Ok(Self {
            sip_addr,
            cancel,
            shared,
        })
    }

    /// A handle to place, hang up and transfer calls with (`control::api` serves it).
    pub fn control(&self) -> crate::control::Control {
        crate::control::Control {
            shared: self.shared.clone(),
        }
    }

    /// Challenges every INVITE from now on (401) for a digest of `username` and `password`.
    pub fn challenge_callers(&self, username: String, password: String) {
        let challenge = crate::challenge::Challenge::new(username, password);
        *self.shared.challenge.lock() = Some(Arc::new(challenge));
    }

    /// What the gateway counts (for `/health` and `/metrics`).
    pub fn metrics(&self) -> Arc<Metrics> {
        self.shared.metrics.clone()
    }

    /// Refuses new INVITEs from now on (503 with Retry-After); live calls go on.
    pub fn drain(&self) {
        self.shared.metrics.set_draining();
    }

    /// Waits up to `within` for every live call to end; true when none is left.
    pub async fn drained(&self, within: Duration) -> bool {
        let wait = async {
            loop {
                let over = self.shared.call_over.notified();
                tokio::pin!(over);
                over.as_mut().enable();
                if self.shared.metrics.calls_up() == 0 {
                    return;
                }
                over.await;
            }
        };
        tokio::time::timeout(within, wait).await.is_ok()
    }

    /// Registers with the trunk and keeps the registration fresh (`register`) until `shutdown`.
    pub fn register(
        &self,
        config: crate::register::RegisterConfig,
    ) -> Result<(), crate::register::AddressError> {
        let server = config.server()?;
        *self.shared.registered_user.lock() = Some(config.username.clone());
        let stop = self.cancel.child_token();
        let task = tokio::spawn(crate::register::run(
            self.shared.endpoint.clone(),
            config,
            server,
            self.shared.metrics.clone(),
            stop.clone(),
        ));
        if let Some((before, _)) = self.shared.registration.lock().replace((stop, task)) {
            before.cancel();
        }
        Ok(())
    }

    /// Asks the trunk at `address` (`host[:port]`) with an OPTIONS every `every` whether it is
    /// there (a trunk vox does not register with), until the gateway stops.
    pub fn keep_alive(
        &self,
        address: &str,
        tcp: bool,
        every: Duration,
    ) -> Result<(), crate::register::AddressError> {
        let target = crate::register::trunk_uri(address, tcp)?;
        tokio::spawn(crate::keepalive::run(
            self.shared.endpoint.clone(),
            target,
            every,
            self.shared.metrics.clone(),
            self.cancel.child_token(),
        ));
        Ok(())
    }

    /// Stops registering and sends the unregistering REGISTER (waiting up to 3 s for it).
    async fn unregister(&self) {
        let registration = self.shared.registration.lock().take();
        if let Some((stop, task)) = registration {
            stop.cancel();
            let _ = tokio::time::timeout(Duration::from_secs(3), task).await;
        }
    }

    /// Drains (and unregisters, so the trunk sends new calls elsewhere), gives live calls `grace`
    /// to end, hangs up the rest (a BYE each), and stops.
    pub async fn shutdown(self, grace: Duration) {
        self.drain();
        self.unregister().await;
        if !self.drained(grace).await {
            tracing::warn!(
                calls = self.shared.metrics.calls_up(),
                "hanging up the calls still live after the drain"
            );
            self.shared.hang_up.cancel();
            self.drained(Duration::from_secs(5)).await;
        }
        self.stop();
    }

    /// Stops answering; live calls' tasks end with their dialogs.
    pub fn stop(&self) {
        self.cancel.cancel();
    }
}

/// Follows dialogs: a new offer in a call is answered (`reoffered`), a NOTIFY of a transfer's
/// progress told (`control::notified`), a terminated dialog is removed, which cancels its call's
/// token (ending its media).
pub(crate) async fn follow_dialogs(
    shared: Arc<Shared>,
    mut states: rsipstack::dialog::dialog::DialogStateReceiver,
) {
    while let Some(state) = states.recv().await {
        match state {
            DialogState::Terminated(id, reason) => {
                tracing::debug!(%id, ?reason, "dialog over");
                shared.dialogs.remove_dialog(&id);
            }
            DialogState::Updated(id, request, handle) => {
                tokio::spawn(reoffered(shared.clone(), id, request, handle));
            }
            DialogState::Notify(id, request, handle) => {
                tokio::spawn(crate::control::notified(
                    shared.clone(),
                    id,
                    request,
                    handle,
                ));
            }
            _ => {}
        }
    }
}

/// A re-INVITE or UPDATE in a call: answered on the call's codec (`reoffer::reanswer`), or
/// refused with the reason; one before the call is bridged is 491 Request Pending (RFC 3261 §14.2).
async fn reoffered(
    shared: Arc<Shared>,
    id: DialogId,
    request: rsipstack::sip::Request,
    handle: rsipstack::dialog::dialog::TransactionHandle,
) {
    let answered = match shared.sessions.lock().get_mut(&id.to_string()) {
        Some(session) => crate::reoffer::reanswer(session, &request.body)
            .map(|answer| (answer, session.negotiated.clone())),
        None => Err((491, "the call is not bridged yet".to_owned())),
    };
    // The leg follows what was agreed (a codec change, hold, a new address).
    let answered = answered.map(|(answer, negotiated)| {
        if let Some(agreed) = shared.agreed.lock().get(&id.to_string()) {
            agreed.send_replace(negotiated);
        }
        answer
    });
    let sent = match answered {
        Ok(sdp) => {
            let mut headers = vec![Header::ContentType("application/sdp".into())];
            // A refresh of the session timer (RFC 4028 §9): agreed again, and the clock restarts.
            if let Some((interval, refreshed)) = shared.timers.lock().get(&id.to_string()) {
                headers.extend(crate::timer::agreed(*interval));
                refreshed.notify_one();
            }
            handle
                .respond(StatusCode::OK, Some(headers), Some(sdp.into_bytes()))
                .await
        }
        Err((code, reason)) => {
            tracing::info!(%id, code, %reason, method = %request.method, "refused a new offer in a call");
            handle.reply(StatusCode::from(code)).await
        }
    };
    if sent.is_err() {
        tracing::debug!(%id, "the new offer's transaction was gone before its answer");
    }
}

/// Every request that reaches the endpoint.
async fn answer(
    shared: Arc<Shared>,
    mut incoming: rsipstack::transaction::TransactionReceiver,
    states: rsipstack::dialog::dialog::DialogStateSender,
    cancel: CancellationToken,
) {
    loop {
        let mut tx = tokio::select! {
            tx = incoming.recv() => match tx { Some(tx) => tx, None => return },
            () = cancel.cancelled() => return,
        };
        if let Some(mut dialog) = shared.dialogs.match_dialog(&tx) {
            // In a dialog: ACK, BYE, re-INVITE, in-dialog OPTIONS.
            tokio::spawn(async move {
                if let Err(error) = dialog.handle(&mut tx).await {
                    tracing::debug!(%error, "an in-dialog request failed");
                }
            });
            continue;
        }
        match tx.original.method {
            // A draining gateway is out of service to a trunk's keep-alive probe too.
            Method::Invite | Method::Options if shared.metrics.draining() => {
                let retry = rsipstack::sip::RetryAfter::new(RETRY_AFTER_SECONDS.to_string());
                let _ = tx
                    .reply_with(StatusCode::ServiceUnavailable, vec![retry.into()], None)
                    .await;
                if tx.original.method == Method::Invite {
                    shared.metrics.responded(503);
                }
            }
            Method::Invite => {
                let (shared, states) = (shared.clone(), states.clone());
                tokio::spawn(async move { invite(shared, tx, states).await });
            }
            Method::Options => {
                let _ = tx.reply(StatusCode::OK).await;
            }
            Method::Ack => {}
            Method::Bye | Method::Cancel => {
                let _ = tx.reply(StatusCode::CallTransactionDoesNotExist).await;
            }
            _ => {
                let _ = tx.reply(StatusCode::MethodNotAllowed).await;
            }
        }
    }
}

/// The user part of a SIP URI, or its host when it has none.
fn user_of(uri: &rsipstack::sip::Uri) -> String {
    uri.user()
        .map(str::to_owned)
        .unwrap_or_else(|| uri.host_with_port.to_string())
}

/// One INVITE, from its offer to its end.
async fn invite(
    shared: Arc<Shared>,
    mut tx: Transaction,
    states: rsipstack::dialog::dialog::DialogStateSender,
) {
    let request = tx.original.clone();
    let challenge = shared.challenge.lock().clone();
    if let Some(challenge) = challenge {
        match challenge.verify(&request) {
            crate::challenge::Verdict::Accepted => {}
            crate::challenge::Verdict::Challenge(header) => {
                shared.metrics.responded(401);
                let _ = tx
                    .reply_with(StatusCode::Unauthorized, vec![header], None)
                    .await;
                return;
            }
            crate::challenge::Verdict::Refused(why) => {
                tracing::warn!(%why, "refused a caller's credentials");
                shared.metrics.responded(403);
                let _ = tx.reply(StatusCode::Forbidden).await;
                return;
            }
        }
    }
    let offer = match std::str::from_utf8(&request.body)
        .map_err(|_| SdpError::Malformed("the body is not text".into()))
        .and_then(sdp::parse)
    {
        Ok(offer) => offer,
        Err(error) => {
            let status = match error {
                SdpError::Malformed(_) => StatusCode::BadRequest,
                SdpError::NotAcceptable(_) => StatusCode::NotAcceptableHere,
            };
            tracing::info!(%error, "refused an INVITE's offer");
            shared.metrics.responded(status.code());
            let _ = tx.reply(status).await;
            return;
        }
    };
    let call = IncomingCall {
        sip_call_id: request
            .call_id_header()
            .map(|c| c.value().to_owned())
            .unwrap_or_default(),
        from: request
            .from_header()
            .ok()
            .and_then(|f| f.uri().ok())
            .map(|u| user_of(&u))
            .unwrap_or_default(),
        to: request
            .uri
            .user()
            .filter(|user| Some(*user) != shared.registered_user.lock().as_deref())
            .map(str::to_owned)
            .or_else(|| {
                request
                    .to_header()
                    .ok()
                    .and_then(|t| t.uri().ok())
                    .map(|u| user_of(&u))
            })
            .unwrap_or_default(),
    };
    if offer.codecs.is_empty() {
        tracing::info!(call_id = %call.sip_call_id, "no codec in common");
        shared.metrics.responded(488);
        let _ = tx.reply(StatusCode::NotAcceptableHere).await;
        return;
    }
    let timer = match crate::timer::asked(&request, shared.config.min_session_expires) {
        crate::timer::Asked::TooSmall => {
            shared.metrics.responded(422);
            let min_se = crate::timer::min_se(shared.config.min_session_expires);
            let _ = tx
                .reply_with(StatusCode::from(422), vec![min_se], None)
                .await;
            return;
        }
        crate::timer::Asked::Every(interval) => Some(interval),
        crate::timer::Asked::None => None,
    };
    let dialog = match shared.dialogs.get_or_create_server_invite(
        &tx,
        states,
        None,
        Some(shared.contact.clone()),
    ) {
        Ok(dialog) => dialog,
        Err(error) => {
            tracing::warn!(%error, "could not open a dialog for an INVITE");
            shared.metrics.responded(500);
            let _ = tx.reply(StatusCode::ServerInternalError).await;
            return;
        }
    };
    let id: DialogId = dialog.id();
    let over = dialog.cancel_token().clone();
    // The INVITE transaction runs on its own: our answers, the ACK, a CANCEL.
    {
        let mut dialog = dialog.clone();
        tokio::spawn(async move {
            if let Err(error) = dialog.handle(&mut tx).await {
                tracing::debug!(%error, "the INVITE transaction ended");
            }
        });
    }
    let _ = dialog.ringing(None, None);
    let routed = tokio::select! {
        routed = shared.router.route(&call) => routed,
        () = over.cancelled() => {
            tracing::info!(call_id = %call.sip_call_id, "the caller hung up before the answer");
            shared.metrics.responded(487);
            return;
        }
    };
    let routed = match routed {
        Ok(routed) => routed,
        Err(refusal) => {
            tracing::info!(call_id = %call.sip_call_id, code = refusal.code, reason = %refusal.reason, "refused");
            shared.metrics.responded(refusal.code);
            let _ = dialog.reject(Some(StatusCode::from(refusal.code)), Some(refusal.reason));
            return;
        }
    };
    let pair = match shared.ports.open().await {
        Ok(pair) => pair,
        Err(error) => {
            tracing::warn!(%error, "refusing a call");
            shared.metrics.responded(503);
            let _ = dialog.reject(
                Some(StatusCode::ServiceUnavailable),
                Some("no RTP port free".into()),
            );
            return;
        }
    };
    let local = shared.local(&pair);
    let (answer, negotiated) = match sdp::answer(&offer, &local) {
        Ok(answered) => answered,
        Err(error) => {
            shared.metrics.responded(488);
            let _ = dialog.reject(Some(StatusCode::NotAcceptableHere), Some(error.to_string()));
            return;
        }
    };
    let mut headers = vec![Header::ContentType("application/sdp".into())];
    headers.extend(timer.map(crate::timer::agreed).unwrap_or_default());
    if let Err(error) = dialog.accept(Some(headers), Some(answer.into_bytes())) {
        tracing::warn!(%error, "could not answer");
        return;
    }
    shared.metrics.responded(200);
    shared.sessions.lock().insert(
        id.to_string(),
        crate::reoffer::Session {
            local,
            negotiated: negotiated.clone(),
        },
    );
    let (ended, stats) = bridge_call(&shared, pair, negotiated, routed, &over, &id, timer).await;
    tracing::info!(call_id = %call.sip_call_id, ?ended, ?stats, "call over");
    shared.router.ended(&call, &ended, &stats).await;
}

impl Shared {
    /// This side of a call's SDP: the external address (else the RTP one) and `pair`'s port.
    pub(crate) fn local(&self, pair: &crate::ports::Pair) -> Local {
        Local {
            address: self.config.external_ip.unwrap_or(self.config.rtp_bind),
            port: pair.rtp.local_addr().map(|a| a.port()).unwrap_or_default(),
            session_id: rand::random::<u32>().into(),
            version: 1,
        }
    }
}

/// An answered call (inbound or outbound): its RTP bridged to the worker at `routed` until the
/// other side's BYE (`over`), the worker's end, a silent phone or a shutdown's grace; then vox's
/// BYE unless the other side ended the dialog. Counted as up meanwhile.
pub(crate) async fn bridge_call(
    shared: &Shared,
    pair: crate::ports::Pair,
    negotiated: crate::sdp::Negotiated,
    routed: Routed,
    over: &CancellationToken,
    id: &DialogId,
    timer: Option<Duration>,
) -> (Ended, MediaStats) {
    shared.metrics.call_up();
    let refreshed = Arc::new(tokio::sync::Notify::new());
    if let Some(interval) = timer {
        let entry = (interval, refreshed.clone());
        shared.timers.lock().insert(id.to_string(), entry);
    }
    let (agreed, renegotiated) = tokio::sync::watch::channel(negotiated.clone());
    shared.agreed.lock().insert(id.to_string(), agreed);
    let config = LegConfig {
        negotiated,
        rtp_timeout: shared.config.rtp_timeout,
        jitter_depth: shared.config.jitter_depth,
        rtcp_interval: Duration::from_secs(5),
        renegotiated: Some(renegotiated),
    };
    // The other side's BYE or CANCEL, a shutdown's grace, a session timer run out, or an end
    // asked for (`Control`: the Backend's hang-up, a transfer done).
    let lapsed = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let asked = shared.calls.bridged(id);
    let hung_up = {
        let (over, hang_up) = (over.clone(), shared.hang_up.clone());
        let (id, lapsed) = (id.clone(), lapsed.clone());
        async move {
            let expired = async {
                match timer {
                    Some(interval) => crate::timer::expired(interval, refreshed).await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                () = over.cancelled() => {}
                () = hang_up.cancelled() => {}
                () = asked.cancelled() => {}
                () = expired => {
                    tracing::info!(%id, "the session timer ran out without a refresh");
                    lapsed.store(true, std::sync::atomic::Ordering::Relaxed);
                }
            }
        }
    };
    let (mut ended, stats) =
        media::bridge(pair, config, &routed.media_url, routed.parameters, hung_up).await;
    shared.timers.lock().remove(&id.to_string());
    let why = shared.calls.close(&id.call_id);
    if ended == Ended::HungUp {
        if lapsed.load(std::sync::atomic::Ordering::Relaxed) {
            ended = Ended::SessionExpired;
        } else if let Some(why) = why {
            ended = why;
        }
    }
    if !over.is_cancelled() {
        if let Some(Dialog::Invite(dialog)) = shared.dialogs.get_dialog(id) {
            let _ = dialog.bye().await;
        }
        shared.dialogs.remove_dialog(id);
    }
    shared.sessions.lock().remove(&id.to_string());
    shared.agreed.lock().remove(&id.to_string());
    shared.metrics.call_ended(&stats);
    shared.call_over.notify_waiters();
    (ended, stats)
}
