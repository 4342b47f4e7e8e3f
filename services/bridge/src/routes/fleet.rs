//! The fleet's two contracts.
//!
//! Runtime config (`GET /config`) and call results (`POST /calls/{id}/result`), both behind
//! `VOXCORE_SECRET`.

use crate::auth::Fleet;
use crate::error::{ApiError, ApiJson, ApiPath, ApiQuery, ApiResult};
use crate::{AppState, template};
use axum::extract::State;
use axum::routing::{get, post};
use axum::{Json, Router};
use chrono::Utc;
use contracts::call_result::CallResult;
use contracts::runtime_config::{
    BotRef, BotSpec, CallDirection, CallInfo, ContactInfo, RuntimeConfig,
};
use contracts::{BotId, CallId, CallOutcomeCode, CallState};
use serde_json::{Map, Value, json};
use store::retry;
use store::{Call, NewCall, Transition};

pub fn router() -> Router<AppState> {
    Router::new().route("/config", get(config)).route(
        "/calls/{id}/result",
        post(result).layer(axum::extract::DefaultBodyLimit::max(RESULT_LIMIT)),
    )
}

/// A call's result has its own limit, well past the API's: a 4-hour call's transcript is large,
/// and a result refused for its size would be lost (M3).
const RESULT_LIMIT: usize = 32 << 20;

#[derive(Debug, serde::Deserialize, schemars::JsonSchema)]
pub(crate) struct ConfigQuery {
    call_id: Option<i64>,
    bot_id: Option<i64>,
    /// For `bot_id` calls: `inbound` (default) or `web`.
    direction: Option<CallDirection>,
    /// For inbound calls: the caller's number.
    #[schemars(regex(pattern = contracts::phone::E164_PATTERN))]
    from: Option<String>,
    /// For inbound calls: the number dialled, routed to its bot (`/inbound-numbers`).
    #[schemars(regex(pattern = contracts::phone::E164_PATTERN))]
    to: Option<String>,
    /// The worker asking (`VOXCORE_WORKER_ID`): kept on the call it takes, so the record says
    /// which worker carried it.
    #[schemars(regex(pattern = WORKER_ID_PATTERN))]
    worker_id: Option<String>,
}

/// A worker's name: 1 to 128 characters, none of them a control character.
const WORKER_ID_PATTERN: &str = r"^[^\x00-\x1f\x7f]{1,128}$";

fn checked_worker_id(id: Option<&str>) -> ApiResult<Option<String>> {
    match id {
        None => Ok(None),
        Some(id)
            if (1..=128).contains(&id.chars().count())
                && !id.chars().any(|c| c < ' ' || c == '\x7f') =>
        {
            Ok(Some(id.to_owned()))
        }
        Some(_) => Err(ApiError::invalid(
            "worker_id",
            "is 1 to 128 characters, with no control character",
        )),
    }
}

/// `{{variables}}` of the prompt and first message, from the contact and the call (the call's own
/// variables, an on-demand call's, win over the contact's).
fn rendered(
    spec: &BotSpec,
    call: &Call,
    contact: Option<&ContactInfo>,
    own: &Map<String, Value>,
    crm: Option<&Map<String, Value>>,
) -> BotSpec {
    let mut values: Map<String, Value> = contact.map(|c| c.variables.clone()).unwrap_or_default();
    // The CRM's fields as `{{crm.<field>}}`, under the call's own values.
    for (field, value) in crm.into_iter().flatten() {
        values.insert(format!("crm.{field}"), value.clone());
    }
    values.extend(own.iter().map(|(k, v)| (k.clone(), v.clone())));
    values.insert("call_id".into(), json!(call.id.to_string()));
    if let Some(id) = call.campaign_id {
        values.insert("campaign_id".into(), json!(id.to_string()));
    }
    if let Some(contact) = contact {
        values.insert("contact_id".into(), json!(contact.contact_id.to_string()));
        values.insert("phone".into(), json!(contact.phone.as_str()));
    }
    let mut spec = spec.clone();
    spec.system_prompt = template::render(&spec.system_prompt, &values);
    spec.first_message = spec
        .first_message
        .map(|text| template::render(&text, &values));
    spec
}

async fn config(
    State(state): State<AppState>,
    _fleet: Fleet,
    ApiQuery(query): ApiQuery<ConfigQuery>,
) -> ApiResult<Json<RuntimeConfig>> {
    let worker_id = checked_worker_id(query.worker_id.as_deref())?;
    let to = query
        .to
        .as_deref()
        .map(|text| {
            contracts::E164Number::parse(text).map_err(|e| ApiError::invalid("to", e.to_string()))
        })
        .transpose()?;
    // Checked whatever else is given: a malformed number is refused, not ignored.
    let from = query
        .from
        .as_deref()
        .map(|text| {
            contracts::E164Number::parse(text).map_err(|e| ApiError::invalid("from", e.to_string()))
        })
        .transpose()?;
    let routed = match (&to, query.bot_id) {
        (Some(number), None) => Some(
            super::settings::bot_for_number(&state, number)
                .await?
                .ok_or_else(|| ApiError::not_found(format!("no bot answers {number}")))?
                .0,
        ),
        _ => query.bot_id,
    };
    let call_id = match (query.call_id, routed) {
        (Some(id), None) => CallId(id),
        (None, Some(bot_id)) => {
            // An inbound or test call without a campaign: the Backend opens its record here.
            state
                .store
                .create_call(NewCall {
                    direction: query.direction.unwrap_or(CallDirection::Inbound),
                    bot_id: BotId(bot_id),
                    campaign_id: None,
                    contact_id: None,
                    from,
                    to,
                    state: CallState::Answered,
                    variables: Default::default(),
                    carrier_call_id: None,
                    now: Utc::now(),
                })
                .await?
                .id
        }
        _ => {
            return Err(ApiError::invalid(
                "call_id",
                "give exactly one of call_id, bot_id or to",
            ));
        }
    };
    // One query: the call, its bot version's spec and its contact.
    let runtime = state.store.call_runtime(call_id).await?;
    let call = &runtime.call;
    // What the operator's CRM knows: asked about the contact's number, else the other party's.
    let phone = match (&runtime.contact, call.direction) {
        (Some((_, phone, _)), _) => Some(phone.to_string()),
        (None, CallDirection::Inbound) => call.from.as_ref().map(ToString::to_string),
        (None, _) => call.to.as_ref().map(ToString::to_string),
    };
    let crm = state
        .crm_lookups
        .for_call(
            &*state.store,
            call,
            runtime.contact.as_ref().map(|(id, _, _)| id.0),
            phone.as_deref(),
        )
        .await;
    // A worker asking for an answered call's config has taken it: the call is now in progress.
    if matches!(call.state, CallState::Answered | CallState::Attaching) {
        let mut transition =
            Transition::new(call.id, call.state, CallState::InProgress, Utc::now());
        let mut detail = json!({ "source": "runtime_config" });
        if let Some(note) = crm.note() {
            detail["crm_lookup"] = note;
        }
        transition.detail = Some(detail);
        transition.worker_id = worker_id;
        super::move_unless_stale(&*state.store, transition).await?;
    }
    let contact = runtime
        .contact
        .map(|(contact_id, phone, variables)| ContactInfo {
            contact_id,
            phone,
            variables,
            crm: crm.found().map(|object| Value::Object(object.clone())),
        });
    let config = RuntimeConfig {
        call_id: call.id,
        bot: BotRef {
            bot_id: call.bot_id,
            version: call.bot_version,
            name: runtime.bot_name.clone(),
        },
        spec: rendered(
            &runtime.spec,
            call,
            contact.as_ref(),
            &runtime.variables,
            crm.found(),
        ),
        call: CallInfo {
            direction: call.direction,
            campaign_id: call.campaign_id,
            from: call.from.clone(),
            to: call.to.clone(),
            attempt: call.attempt,
            created_at: call.created_at,
        },
        contact,
    };
    Ok(Json(config))
}

/// Stores the result once, ends the call, and schedules the contact's next attempt.
async fn result(
    State(state): State<AppState>,
    _fleet: Fleet,
    ApiPath(id): ApiPath<i64>,
    ApiJson(result): ApiJson<CallResult>,
) -> ApiResult<Json<Value>> {
    if result.call_id != CallId(id) {
        return Err(ApiError::invalid(
            "call_id",
            format!(
                "the body is for call {}, the URL for call {id}",
                result.call_id
            ),
        ));
    }
    if result.timings.ended_at < result.timings.started_at {
        return Err(ApiError::invalid(
            "timings.ended_at",
            "is before started_at",
        ));
    }
    let document = serde_json::to_value(&result).map_err(ApiError::internal)?;
    let call = state.store.call(CallId(id)).await?;
    if let Some(existing) = &call.result {
        // A worker that accepted an attach it never saw connected posts `fleet.attach_failed`
        // when its reservation lapses; when another worker took the call meanwhile (the
        // dialler failed over), that worker's real result replaces it.
        // Likewise a restarted worker's `fleet.worker_lost` for a call the dialler had moved to
        // another worker when the first died mid-attach.
        let placeholder = |outcome| {
            matches!(
                outcome,
                CallOutcomeCode::FleetAttachFailed | CallOutcomeCode::FleetWorkerLost
            )
        };
        let superseded = call.outcome.is_some_and(placeholder) && !placeholder(result.outcome);
        if superseded && existing != &document {
            let corrected = state
                .store
                .correct_attach_failed(
                    call.id,
                    &document,
                    result.outcome.end_state(),
                    result.outcome,
                    result.timings.ended_at,
                )
                .await?;
            tracing::warn!(call_id = id, outcome = %result.outcome, "a real result replaced fleet.attach_failed");
            after_result(&state, &corrected, &result, document).await?;
            return Ok(Json(
                json!({ "call_id": id, "state": corrected.state, "duplicate": false }),
            ));
        }
        // The lapsed reservation's report arriving after the real result, or a restarted
        // worker's report of a call it found unfinished that was delivered after all: nothing
        // to keep, and nothing for that worker to retry or bury.
        if matches!(
            result.outcome,
            CallOutcomeCode::FleetAttachFailed | CallOutcomeCode::FleetWorkerLost
        ) && existing != &document
        {
            return Ok(Json(
                json!({ "call_id": id, "state": call.state, "duplicate": true, "superseded": true }),
            ));
        }
        if existing != &document {
            return Err(ApiError::conflict(
                "conflict.result",
                format!("call {id} already has a different result"),
            ));
        }
        // A retried delivery: finish what a crash may have cut short (both steps are idempotent).
        after_result(&state, &call, &result, document).await?;
        return Ok(Json(
            json!({ "call_id": id, "state": call.state, "duplicate": true }),
        ));
    }
    let end_state = result.outcome.end_state();
    let transition = (!call.state.is_terminal()).then(|| {
        let mut transition =
            Transition::new(call.id, call.state, end_state, result.timings.ended_at);
        transition.outcome = Some(result.outcome);
        transition.detail = Some(json!({ "source": "call_result" }));
        transition
    });
    if let Some(transition) = &transition
        && !transition.from.can_move_to(transition.to)
    {
        return Err(ApiError::conflict(
            "conflict.state",
            format!("a call that is {} cannot end as {end_state}", call.state),
        ));
    }
    let stored = state
        .store
        .record_call_result(call.id, &document, transition)
        .await?;
    super::telephony::end_at_carrier(&state, &stored).await;
    after_result(&state, &stored, &result, document).await?;
    Ok(Json(
        json!({ "call_id": id, "state": stored.state, "duplicate": false }),
    ))
}

/// The contact's next attempt and the CRM push; safe to repeat.
async fn after_result(
    state: &AppState,
    call: &Call,
    result: &CallResult,
    document: Value,
) -> ApiResult<()> {
    schedule_retry(state, call, result).await?;
    let record = json!({
        "event": "call.finished",
        "call": crate::convert::call_summary(call),
        "result": document,
    });
    crate::crm::enqueue_for_call(&*state.store, call, record).await?;
    Ok(())
}

async fn schedule_retry(state: &AppState, call: &Call, result: &CallResult) -> ApiResult<()> {
    let (Some(campaign_id), Some(contact_id)) = (call.campaign_id, call.contact_id) else {
        return Ok(());
    };
    let contact = state.store.contact(contact_id).await?;
    let campaign = state.store.campaign(campaign_id).await?;
    let now = Utc::now();
    let next = retry::jittered(
        retry::next_for(&campaign, &contact, result.outcome, now),
        now,
        rand::random::<f64>(),
    );
    // By the call, not by whoever leases the contact now: a lease that lapsed and was taken
    // by a newer call is that call's to close (M1).
    let finished = state
        .store
        .finish_call_attempt(call.id, result.outcome.as_str(), next, now)
        .await?;
    if !finished {
        tracing::info!(call_id = %call.id, %contact_id, "a newer call owns the contact; this result does not close its attempt");
    }
    Ok(())
}
