//! Telnyx at the edge: Call Control's webhooks drive the call with REST commands.
//!
//! References: <https://developers.telnyx.com/docs/voice/programmable-voice/receiving-webhooks>
//! (every event of a call posted to the application's one webhook URL, signed with Ed25519),
//! <https://developers.telnyx.com/api-reference/call-commands/answer-call> (an inbound call rings
//! until `actions/answer`), <https://developers.telnyx.com/api-reference/call-commands/start-streaming>
//! (the media stream, started once the call is answered and a worker is reserved),
//! <https://developers.telnyx.com/api-reference/call-commands/speak-text> (`call.speak.ended`
//! follows), and the callback pages `events.rs` cites. Telnyx does not wait for an answer to a
//! webhook: each is acknowledged with 200 once kept, and the edge acts through REST commands.
//! A call is known by the `client_state` vox set on the command that caused the event, else by
//! its `call_control_id`; an inbound call is routed by its `to` number on `call.initiated`.

use super::{
    BUSY_MESSAGE, Leg, UNROUTED_MESSAGE, Webhook, bad_signature, connect_to_worker, edge_move,
};
use crate::AppState;
use crate::error::{ApiError, ApiResult};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use carrier::Carrier as _;
use chrono::Utc;
use contracts::attach::{AmdVerdict, MediaProtocol};
use contracts::runtime_config::CallDirection;
use contracts::telephony::CarrierKind;
use contracts::{CallOutcomeCode, CallState, E164Number};
use serde_json::{Value, json};
use store::{Call, CarrierAccount, NewTelephonyEvent, Transition};
use telephony::telnyx::events::{self, Direction, Event};
use telephony::telnyx::state::{ClientState, Farewell};
use telephony::telnyx::{TelnyxCarrier, TelnyxConfig, signature};

pub(super) async fn handle(
    state: &AppState,
    account: &CarrierAccount,
    hook: &str,
    webhook: Webhook,
) -> ApiResult<Response> {
    if hook != "call" {
        return Err(ApiError::not_found(format!(
            "no Telnyx webhook {hook:?} (Call Control posts every event to …/call)"
        )));
    }
    verify(state, account, &webhook).await?;
    let parsed = events::parse(&webhook.body).map_err(|e| ApiError::invalid("body", e.0))?;
    let payload: Value = serde_json::from_slice::<Value>(&webhook.body)
        .ok()
        .and_then(|v| v.pointer("/data/payload").cloned())
        .unwrap_or(Value::Null);
    let edge = Edge {
        state,
        account,
        client: client(state, account).await?,
        webhook: &parsed,
        payload,
    };
    edge.act().await?;
    Ok(StatusCode::OK.into_response())
}

/// Checks `telnyx-signature-ed25519` over `telnyx-timestamp|body` with the account's public key.
async fn verify(state: &AppState, account: &CarrierAccount, webhook: &Webhook) -> ApiResult<()> {
    let header = |name: &str| {
        webhook
            .headers
            .get(name)
            .and_then(|h| h.to_str().ok())
            .map(str::to_owned)
    };
    let (Some(given), Some(timestamp)) = (
        header(signature::SIGNATURE_HEADER),
        header(signature::TIMESTAMP_HEADER),
    ) else {
        return Err(bad_signature(
            account,
            "the telnyx-signature-ed25519 or telnyx-timestamp header is missing",
        ));
    };
    let Some(key) = state.store.carrier_account_webhook_key(account.id).await? else {
        return Err(bad_signature(
            account,
            "the account has no public key to verify Telnyx's signature with",
        ));
    };
    let key = signature::public_key(&key).map_err(|e| bad_signature(account, &e.to_string()))?;
    signature::verify(
        &key,
        &timestamp,
        &given,
        &webhook.body,
        Utc::now().timestamp(),
    )
    .map_err(|e| bad_signature(account, &e.to_string()))
}

/// The account's Call Control client, over the process's one HTTP client to Telnyx.
async fn client(state: &AppState, account: &CarrierAccount) -> ApiResult<TelnyxCarrier> {
    static HTTP: std::sync::OnceLock<reqwest::Client> = std::sync::OnceLock::new();
    let http = HTTP.get_or_init(TelnyxCarrier::http_client).clone();
    let secret = state.store.carrier_account_secret(account.id).await?;
    Ok(TelnyxCarrier::with_http(
        TelnyxConfig {
            account: account.id,
            connection_id: account.account_sid.clone(),
            api_key: secret,
            api_url: account.api_url.clone(),
            public_url: state.config.public_url.clone().unwrap_or_default(),
            numbers: Vec::new(),
        },
        http,
    ))
}

/// One verified webhook and what the edge needs to act on it.
struct Edge<'a> {
    state: &'a AppState,
    account: &'a CarrierAccount,
    client: TelnyxCarrier,
    webhook: &'a events::Webhook,
    payload: Value,
}

impl Edge<'_> {
    fn leg(&self) -> Leg<'_> {
        Leg {
            account: self.account,
            call_sid: &self.webhook.call_control_id,
            media_protocol: MediaProtocol::Telnyx,
        }
    }

    fn client_state(&self) -> Option<ClientState> {
        self.webhook
            .client_state
            .as_deref()
            .and_then(ClientState::decode)
    }

    /// Keeps the webhook (once: a redelivery has the same `occurred_at`) with `transition`.
    async fn keep(
        &self,
        call: Option<&Call>,
        transition: Option<Transition>,
    ) -> ApiResult<store::TelephonyRecord> {
        let event = NewTelephonyEvent {
            carrier: CarrierKind::Telnyx,
            account_id: self.account.id,
            call_id: call.map(|c| c.id),
            carrier_call_id: self.webhook.call_control_id.clone(),
            event: self.webhook.event_type.clone(),
            sequence: self.webhook.occurred_at.timestamp_micros(),
            payload: self.payload.clone(),
            received_at: Utc::now(),
        };
        Ok(self
            .state
            .store
            .record_telephony_event(event, transition)
            .await?)
    }

    /// The vox call the webhook is about, when there is one.
    async fn call(&self) -> ApiResult<Option<Call>> {
        if let Some(id) = self.client_state().and_then(ClientState::call) {
            let call = self
                .state
                .store
                .call(id)
                .await
                .map_err(|_| ApiError::not_found(format!("there is no call {id}")))?;
            if call
                .carrier_call_id
                .as_deref()
                .is_some_and(|known| known != self.webhook.call_control_id)
            {
                tracing::warn!(%id, call_control_id = %self.webhook.call_control_id, "a Telnyx webhook whose call_control_id is not the call's");
                return Err(ApiError::conflict(
                    "conflict.carrier_call",
                    format!(
                        "call {id} is not Telnyx call {}",
                        self.webhook.call_control_id
                    ),
                ));
            }
            return Ok(Some(call));
        }
        Ok(self
            .state
            .store
            .call_by_carrier_call_id(&self.webhook.call_control_id)
            .await?)
    }

    async fn act(&self) -> ApiResult<()> {
        let call = self.call().await?;
        match (&self.webhook.event, call) {
            (
                Event::Initiated {
                    direction: Direction::Incoming,
                    from,
                    to,
                },
                None,
            ) => self.inbound(from, to).await,
            // Telnyx reports no ringing: the call's leg is noted now, so a new dialler leader
            // can follow the call from the store.
            (
                Event::Initiated {
                    direction: Direction::Outgoing,
                    ..
                },
                Some(call),
            ) => {
                let kept = self.keep(Some(&call), None).await?;
                if kept.new && call.carrier_call_id.is_none() {
                    let leg = &self.webhook.call_control_id;
                    let store = &self.state.store;
                    store
                        .note_call_leg(call.id, CarrierKind::Telnyx, leg, None)
                        .await?;
                }
                Ok(())
            }
            (Event::Answered, Some(call)) => self.answered(call).await,
            (Event::Answered, None) => self.farewell_answered().await,
            (Event::Hangup { cause, sip, .. }, call) => self.hangup(call, *cause, *sip).await,
            (Event::MachineDetected { verdict, premium }, Some(call)) => {
                self.machine(call, *verdict, *premium).await
            }
            (Event::SpeakEnded, call) => {
                self.keep(call.as_ref(), None).await?;
                if matches!(self.client_state(), Some(ClientState::Farewell(..))) {
                    self.hang_up_leg().await;
                }
                Ok(())
            }
            (Event::StreamingFailed { reason }, Some(call)) => {
                tracing::warn!(call_id = %call.id, %reason, "Telnyx could not stream the call to its worker; hanging up");
                let kept = self.keep(Some(&call), None).await?;
                if kept.new {
                    self.hang_up_leg().await;
                }
                Ok(())
            }
            (_, call) => {
                if call.is_none()
                    && !self
                        .state
                        .store
                        .carrier_call_known(CarrierKind::Telnyx, &self.webhook.call_control_id)
                        .await?
                {
                    tracing::warn!(call_control_id = %self.webhook.call_control_id, event = %self.webhook.event_type, "a Telnyx webhook for a call we do not know");
                    return Err(ApiError::not_found(format!(
                        "no call is Telnyx call {}",
                        self.webhook.call_control_id
                    )));
                }
                self.keep(call.as_ref(), None).await.map(|_| ())
            }
        }
    }

    /// A caller rang one of the account's numbers: answered for its bot, or to be told why not.
    async fn inbound(&self, from: &str, to: &str) -> ApiResult<()> {
        let to = E164Number::parse(to).map_err(|e| ApiError::invalid("to", e.to_string()))?;
        let kept = self.keep(None, None).await?;
        if !kept.new {
            return Ok(());
        }
        let control_id = &self.webhook.call_control_id;
        let from = E164Number::parse(from).ok();
        let Some(call) = super::open_inbound(
            self.state,
            CarrierKind::Telnyx,
            control_id,
            to.clone(),
            from,
        )
        .await?
        else {
            tracing::warn!(%to, control_id, "an inbound Telnyx call to a number that routes nowhere");
            if let Err(error) = self
                .client
                .answer_to_refuse(control_id, Farewell::Unrouted)
                .await
            {
                tracing::warn!(control_id, %error, "answering an unrouted call failed");
            }
            return Ok(());
        };
        if let Err(error) = self
            .client
            .answer(call.id, control_id, ClientState::Call(call.id))
            .await
        {
            // The caller hung up first: the hang-up webhook ends the call.
            tracing::warn!(call_id = %call.id, %error, "answering an inbound Telnyx call failed");
        }
        Ok(())
    }

    /// Our call was answered: a worker is reserved and Telnyx streams to it, or the caller hears
    /// why not and the call ends.
    async fn answered(&self, call: Call) -> ApiResult<()> {
        let direction = call.direction;
        let transition = (direction == CallDirection::Outbound)
            .then(|| edge_move(call.id, CallState::Answered, self.leg(), json!({})));
        let kept = self.keep(Some(&call), transition).await?;
        let proceed = match direction {
            CallDirection::Outbound => kept.moved.is_some(),
            _ => kept.new && call.state == CallState::Answered,
        };
        if !proceed {
            if kept.new {
                // Ended meanwhile (the dialler canceled it): nobody will take it.
                tracing::info!(call_id = %call.id, "an answer for a call that is not dialling; hanging up");
                self.hang_up_leg().await;
            }
            return Ok(());
        }
        self.client.follow(call.id, &self.webhook.call_control_id);
        match connect_to_worker(self.state, self.leg(), &call, direction).await? {
            Ok(accepted) => {
                if let Err(error) = self.client.connect(call.id, &accepted.media_url).await {
                    tracing::warn!(call_id = %call.id, %error, "starting the Telnyx stream failed; hanging up");
                    self.hang_up_leg().await;
                }
            }
            Err(message) => {
                let farewell = if message == BUSY_MESSAGE {
                    Farewell::Busy
                } else {
                    Farewell::Abandoned
                };
                self.say(message, ClientState::Farewell(farewell, Some(call.id)))
                    .await;
            }
        }
        Ok(())
    }

    /// A call answered only to be refused (an unrouted number): say why.
    async fn farewell_answered(&self) -> ApiResult<()> {
        let Some(ClientState::Farewell(farewell, None)) = self.client_state() else {
            return Err(ApiError::not_found(format!(
                "no call is Telnyx call {}",
                self.webhook.call_control_id
            )));
        };
        let kept = self.keep(None, None).await?;
        if kept.new {
            let message = match farewell {
                Farewell::Unrouted => UNROUTED_MESSAGE,
                Farewell::Busy => BUSY_MESSAGE,
                Farewell::Abandoned => super::ABANDON_MESSAGE,
            };
            self.say(message, ClientState::Farewell(farewell, None))
                .await;
        }
        Ok(())
    }

    /// Says `message`; the `call.speak.ended` it causes hangs up. Hangs up at once if it fails.
    async fn say(&self, message: &str, state: ClientState) {
        let control_id = &self.webhook.call_control_id;
        if let Err(error) = self.client.speak(control_id, message, state).await {
            tracing::warn!(control_id, %error, "speaking a farewell failed; hanging up");
            self.hang_up_leg().await;
        }
    }

    async fn hang_up_leg(&self) {
        let control_id = &self.webhook.call_control_id;
        if let Err(error) = self.client.hang_up_leg(control_id).await {
            tracing::info!(control_id, %error, "hanging up at Telnyx failed (the call may be over)");
        }
    }

    /// The call is over at Telnyx: an unanswered call ends with the cause's outcome; one
    /// answered but not yet given to a worker was abandoned; a worker reports the rest.
    async fn hangup(
        &self,
        call: Option<Call>,
        cause: telephony::telnyx::status::HangupCause,
        sip: Option<u16>,
    ) -> ApiResult<()> {
        let Some(call) = call else {
            // A refused call has no record, but its first webhook was kept.
            if self
                .state
                .store
                .carrier_call_known(CarrierKind::Telnyx, &self.webhook.call_control_id)
                .await?
            {
                self.keep(None, None).await?;
                return Ok(());
            }
            return Err(ApiError::not_found(format!(
                "no call is Telnyx call {}",
                self.webhook.call_control_id
            )));
        };
        let detail = json!({ "detail": format!("Telnyx: {}", cause.as_str()), "sip": sip });
        let transition = match call.state {
            CallState::Queued | CallState::Dialing | CallState::Ringing => {
                let outcome = cause.unanswered_outcome(sip);
                let mut moved = edge_move(call.id, outcome.end_state(), self.leg(), detail);
                moved.outcome = Some(outcome);
                Some(moved)
            }
            CallState::Answered => {
                let mut moved = edge_move(call.id, CallState::Abandoned, self.leg(), detail);
                moved.outcome = Some(CallOutcomeCode::DialAbandoned);
                Some(moved)
            }
            _ => None,
        };
        self.keep(Some(&call), transition).await?;
        Ok(())
    }

    /// Machine detection's verdict: a machine is hung up on and ends `dial.machine`.
    async fn machine(&self, call: Call, verdict: AmdVerdict, premium: bool) -> ApiResult<()> {
        let transition = (verdict == AmdVerdict::Machine).then(|| {
            let mut moved = edge_move(
                call.id,
                CallState::Machine,
                self.leg(),
                json!({ "detail": format!("Telnyx AMD{}: machine", if premium { " (premium)" } else { "" }), "amd": verdict }),
            );
            moved.outcome = Some(CallOutcomeCode::DialMachine);
            moved
        });
        let kept = self.keep(Some(&call), transition).await?;
        if kept.moved.is_some() {
            self.hang_up_leg().await;
        }
        Ok(())
    }
}
