//! Campaigns (settings, checked state changes) and their contacts.

use super::{audit, snapshot};
use crate::auth::{Authorized, role};
use crate::convert;
use crate::error::{ApiError, ApiJson, ApiPath, ApiQuery, ApiResult};
use crate::{AppState, phone};
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use contracts::CampaignId;
use contracts::api::{
    CampaignSettings, CampaignState as ApiState, CampaignView, ContactInput, ContactView,
    ImportSummary, Page,
};
use serde_json::{Value, json};
use store::{Campaign, CampaignState, ContactFilter, ContactStatus, NewCampaign, NewContact};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/campaigns", get(list).post(create))
        .route("/campaigns/{id}", get(read).put(update))
        .route("/campaigns/{id}/{action}", post(act))
        .route(
            "/campaigns/{id}/contacts",
            get(list_contacts).post(add_contacts),
        )
        .route(
            "/campaigns/{id}/contacts/import",
            post(import).layer(axum::extract::DefaultBodyLimit::max(IMPORT_LIMIT)),
        )
}

fn to_store(settings: &CampaignSettings) -> ApiResult<NewCampaign> {
    if let Some(region) = &settings.default_region {
        phone::check_region("default_region", region)?;
    }
    if let Some(client) = &settings.client
        && !contracts::shape::is_client_name(client)
    {
        return Err(ApiError::invalid(
            "client",
            contracts::shape::CLIENT_NAME_RULE,
        ));
    }
    if let (Some(starts), Some(ends)) = (settings.starts_at, settings.ends_at)
        && ends <= starts
    {
        return Err(ApiError::invalid("ends_at", "must be after starts_at"));
    }
    Ok(NewCampaign {
        name: settings.name.clone(),
        bot_id: settings.bot_id,
        calling_windows: settings.calling_windows.clone(),
        max_attempts: settings.max_attempts,
        concurrency_cap: settings.concurrency_cap,
        weight: settings.weight,
        abandon_target: settings.abandon_target,
        caller_id: settings.caller_id.clone(),
        settings: json!({
            "default_region": settings.default_region,
            "starts_at": settings.starts_at,
            "ends_at": settings.ends_at,
            "dialler": settings.dialler,
            "client": settings.client,
        }),
    })
}

/// The carrier account a campaign names must exist, and own the campaign's caller ID (a carrier
/// refuses a `From` its account does not own).
async fn check_carrier(state: &AppState, campaign: &NewCampaign) -> ApiResult<()> {
    let Some(id) = store::dialler_settings::carrier_account(&campaign.settings) else {
        return Ok(());
    };
    let account = match state.store.carrier_account(id).await {
        Ok(account) => account,
        Err(store::StoreError::NotFound { .. }) => {
            return Err(ApiError::unknown(
                "dialler.carrier_account",
                format!("there is no carrier account {id}"),
            ));
        }
        Err(other) => return Err(other.into()),
    };
    if let Some(caller_id) = &campaign.caller_id
        && !account.numbers.is_empty()
        && !account.numbers.contains(caller_id)
    {
        return Err(ApiError::refused(
            "caller_id",
            format!(
                "{caller_id} is not one of carrier account {:?}'s numbers, and the carrier \
                 refuses a caller ID the account does not own",
                account.name
            ),
        ));
    }
    Ok(())
}

fn to_view(campaign: &Campaign) -> CampaignView {
    let config = &campaign.config;
    CampaignView {
        id: campaign.id,
        state: convert::campaign_state_out(campaign.state),
        settings: CampaignSettings {
            name: config.name.clone(),
            bot_id: config.bot_id,
            calling_windows: config.calling_windows.clone(),
            max_attempts: config.max_attempts,
            concurrency_cap: config.concurrency_cap,
            weight: config.weight,
            abandon_target: config.abandon_target,
            caller_id: config.caller_id.clone(),
            starts_at: config
                .settings
                .get("starts_at")
                .and_then(|v| serde_json::from_value(v.clone()).ok()),
            ends_at: config
                .settings
                .get("ends_at")
                .and_then(|v| serde_json::from_value(v.clone()).ok()),
            default_region: config
                .settings
                .get("default_region")
                .and_then(Value::as_str)
                .map(str::to_owned),
            dialler: config
                .settings
                .get("dialler")
                .and_then(Value::as_object)
                .cloned()
                .unwrap_or_default(),
            client: store::dialler_settings::client(&config.settings),
        },
        created_at: campaign.created_at,
        updated_at: campaign.updated_at,
    }
}

#[derive(Debug, serde::Deserialize, schemars::JsonSchema)]
pub(crate) struct ListQuery {
    #[schemars(range(min = 1, max = 1000))]
    limit: Option<u32>,
    /// `next_cursor` of the previous page.
    cursor: Option<i64>,
    state: Option<ApiState>,
}

fn state_in(state: ApiState) -> CampaignState {
    match state {
        ApiState::Draft => CampaignState::Draft,
        ApiState::Running => CampaignState::Running,
        ApiState::Paused => CampaignState::Paused,
        ApiState::Completed => CampaignState::Completed,
    }
}

async fn list(
    State(state): State<AppState>,
    _: Authorized<role::Viewer>,
    ApiQuery(query): ApiQuery<ListQuery>,
) -> ApiResult<Json<Page<CampaignView>>> {
    let campaigns = state
        .store
        .list_campaigns(
            super::page(query.limit, query.cursor)?,
            query.state.map(state_in),
        )
        .await?;
    Ok(Json(convert::page(campaigns, to_view)))
}

async fn create(
    State(state): State<AppState>,
    Authorized(principal, _): Authorized<role::Operator>,
    ApiJson(body): ApiJson<CampaignSettings>,
) -> ApiResult<(StatusCode, Json<CampaignView>)> {
    let new = to_store(&body)?;
    check_carrier(&state, &new).await?;
    let campaign = state.store.create_campaign(new).await?;
    let view = to_view(&campaign);
    audit(
        &state,
        &principal,
        "campaign.create",
        "campaign",
        campaign.id,
        None,
        snapshot(&view),
    )
    .await?;
    Ok((StatusCode::CREATED, Json(view)))
}

async fn read(
    State(state): State<AppState>,
    _: Authorized<role::Viewer>,
    ApiPath(id): ApiPath<i64>,
) -> ApiResult<Json<CampaignView>> {
    Ok(Json(to_view(&state.store.campaign(CampaignId(id)).await?)))
}

async fn update(
    State(state): State<AppState>,
    Authorized(principal, _): Authorized<role::Operator>,
    ApiPath(id): ApiPath<i64>,
    ApiJson(body): ApiJson<CampaignSettings>,
) -> ApiResult<Json<CampaignView>> {
    let before = to_view(&state.store.campaign(CampaignId(id)).await?);
    let new = to_store(&body)?;
    check_carrier(&state, &new).await?;
    let after = to_view(&state.store.update_campaign(CampaignId(id), new).await?);
    audit(
        &state,
        &principal,
        "campaign.update",
        "campaign",
        id,
        snapshot(&before),
        snapshot(&after),
    )
    .await?;
    Ok(Json(after))
}

/// What `POST /campaigns/{id}/{action}` does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub(crate) enum Action {
    /// draft → running
    Start,
    /// running → paused
    Pause,
    /// paused → running
    Resume,
    /// any → completed, for good
    Complete,
}

impl Action {
    fn as_str(self) -> &'static str {
        match self {
            Action::Start => "start",
            Action::Pause => "pause",
            Action::Resume => "resume",
            Action::Complete => "complete",
        }
    }
}

/// `start` (draft → running), `pause`, `resume`, `complete`.
async fn act(
    State(state): State<AppState>,
    Authorized(principal, _): Authorized<role::Operator>,
    ApiPath((id, action)): ApiPath<(i64, Action)>,
) -> ApiResult<Json<CampaignView>> {
    let current = state.store.campaign(CampaignId(id)).await?;
    let from = current.state;
    let to = match action {
        Action::Start | Action::Resume => CampaignState::Running,
        Action::Pause => CampaignState::Paused,
        Action::Complete => CampaignState::Completed,
    };
    let allowed = match action {
        Action::Start => from == CampaignState::Draft,
        Action::Resume => from == CampaignState::Paused,
        _ => from.can_move_to(to),
    };
    let action = action.as_str();
    if !allowed {
        return Err(ApiError::conflict(
            "conflict.state",
            format!("a {from} campaign cannot {action}"),
        ));
    }
    if to == CampaignState::Running {
        ready_to_dial(&state, &current).await?;
    }
    let moved = state
        .store
        .set_campaign_state(CampaignId(id), from, to)
        .await?;
    let view = to_view(&moved);
    audit(
        &state,
        &principal,
        &format!("campaign.{action}"),
        "campaign",
        id,
        Some(json!({"state": from.as_str()})),
        Some(json!({"state": to.as_str()})),
    )
    .await?;
    Ok(Json(view))
}

/// A campaign may run only with a usable bot, someone left to call, and a caller ID of ours.
async fn ready_to_dial(state: &AppState, campaign: &Campaign) -> ApiResult<()> {
    let bot = match state.store.bot(campaign.config.bot_id).await {
        Ok(bot) => bot,
        Err(store::StoreError::NotFound { .. }) => {
            return Err(ApiError::unknown(
                "bot_id",
                "the campaign's bot does not exist",
            ));
        }
        Err(other) => return Err(other.into()),
    };
    if bot.archived {
        return Err(ApiError::refused(
            "bot_id",
            "the campaign's bot is archived: restore it or pick another bot",
        ));
    }
    let pending = state
        .store
        .list_contacts(
            campaign.id,
            ContactFilter {
                status: Some(ContactStatus::Pending),
                phone: None,
            },
            store::Page::first(1),
        )
        .await?;
    if pending.items.is_empty() {
        return Err(ApiError::refused(
            "contacts",
            "the campaign has no contact left to call: add or import contacts first",
        ));
    }
    // The number callees see must be one of ours and answer when they call back (caller-ID
    // rules require a number that can be returned), so it must be routed to a bot.
    if let Some(caller_id) = &campaign.config.caller_id
        && super::settings::bot_for_number(state, caller_id)
            .await?
            .is_none()
    {
        return Err(ApiError::refused(
            "caller_id",
            format!(
                "{caller_id} is not one of this platform's numbers: route it to a bot under \
                 /inbound-numbers so callbacks are answered, or clear the caller ID"
            ),
        ));
    }
    Ok(())
}

#[derive(Debug, serde::Deserialize, schemars::JsonSchema)]
pub(crate) struct ContactQuery {
    #[schemars(range(min = 1, max = 1000))]
    limit: Option<u32>,
    /// `next_cursor` of the previous page.
    cursor: Option<i64>,
    #[schemars(extend("enum" = ["pending", "leased", "done"]))]
    status: Option<String>,
    /// The contact's number, exactly as stored (E.164).
    phone: Option<String>,
}

async fn list_contacts(
    State(state): State<AppState>,
    _: Authorized<role::Viewer>,
    ApiPath(id): ApiPath<i64>,
    ApiQuery(query): ApiQuery<ContactQuery>,
) -> ApiResult<Json<Page<ContactView>>> {
    state.store.campaign(CampaignId(id)).await?;
    let status = query
        .status
        .as_deref()
        .map(|s| {
            s.parse::<ContactStatus>()
                .map_err(|e| ApiError::invalid("status", e))
        })
        .transpose()?;
    let filter = ContactFilter {
        status,
        phone: query.phone.clone(),
    };
    let contacts = state
        .store
        .list_contacts(
            CampaignId(id),
            filter,
            super::page(query.limit, query.cursor)?,
        )
        .await?;
    Ok(Json(convert::page(contacts, convert::contact)))
}

/// A JSON batch of contacts: all are normalised and checked, then all are written, or none.
async fn add_contacts(
    State(state): State<AppState>,
    Authorized(principal, _): Authorized<role::Operator>,
    ApiPath(id): ApiPath<i64>,
    ApiJson(rows): ApiJson<Vec<ContactInput>>,
) -> ApiResult<(StatusCode, Json<ImportSummary>)> {
    state.store.campaign(CampaignId(id)).await?;
    let contacts = rows
        .into_iter()
        .enumerate()
        .map(|(index, row)| {
            let number = phone::e164(&format!("[{index}].phone"), &row.phone)?;
            Ok(NewContact {
                phone: number.to_string(),
                timezone: row.timezone,
                variables: row.variables,
            })
        })
        .collect::<ApiResult<Vec<_>>>()?;
    let imported = state
        .store
        .add_contacts(CampaignId(id), contacts)
        .await
        .map_err(|error| match error {
            store::StoreError::Invalid { field, message } => {
                ApiError::invalid(field.trim_start_matches("contacts"), message)
            }
            other => other.into(),
        })?;
    audit(
        &state,
        &principal,
        "contacts.add",
        "campaign",
        id,
        None,
        Some(json!({"imported": imported})),
    )
    .await?;
    Ok((StatusCode::CREATED, Json(ImportSummary { imported })))
}

/// Largest CSV accepted (a million rows of a few columns fit well inside).
pub(crate) const IMPORT_LIMIT: usize = 1024 * 1024 * 1024;

#[derive(Debug, serde::Deserialize, schemars::JsonSchema)]
pub(crate) struct ImportQuery {
    /// The header's column holding the number (`phone` when absent).
    #[schemars(regex(pattern = r#"^[^,"\r\n]+$"#))]
    phone_column: Option<String>,
    /// The header's column holding the IANA zone (`timezone` when absent).
    #[schemars(regex(pattern = r#"^[^,"\r\n]+$"#))]
    timezone_column: Option<String>,
}

/// `text/csv` upload, streamed: see `crate::import` for the rules.
async fn import(
    State(state): State<AppState>,
    Authorized(principal, _): Authorized<role::Operator>,
    ApiPath(id): ApiPath<i64>,
    ApiQuery(query): ApiQuery<ImportQuery>,
    request: axum::extract::Request,
) -> ApiResult<Json<crate::import::ImportReport>> {
    require_csv(&request)?;
    for (field, column) in [
        ("phone_column", &query.phone_column),
        ("timezone_column", &query.timezone_column),
    ] {
        if let Some(column) = column
            && (column.is_empty() || column.contains([',', '"', '\r', '\n']))
        {
            return Err(ApiError::invalid(
                field,
                "names a header column: at least one character, no comma, quote or line break",
            ));
        }
    }
    let campaign = to_view(&state.store.campaign(CampaignId(id)).await?);
    let options = crate::import::ImportOptions {
        phone_column: query.phone_column.unwrap_or_else(|| "phone".into()),
        timezone_column: query.timezone_column.unwrap_or_else(|| "timezone".into()),
        default_region: campaign.settings.default_region,
    };
    let report =
        crate::import::import_contacts(&*state.store, CampaignId(id), request.into_body(), options)
            .await?;
    audit(&state, &principal, "contacts.import", "campaign", id, None, Some(json!({"imported": report.imported, "rejected": report.rejected, "duplicates": report.duplicates}))).await?;
    Ok(Json(report))
}

/// 415 unless the body is `text/csv`.
pub(crate) fn require_csv(request: &axum::extract::Request) -> ApiResult<()> {
    let is_csv = request
        .headers()
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("text/csv"));
    if is_csv {
        return Ok(());
    }
    Err(ApiError::new(
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "request.not_csv",
        "send the file as text/csv",
    ))
}
