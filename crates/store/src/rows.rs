//! Raw rows as both backends return them, and their checked conversion into the model types.

use crate::error::{Result, StoreError};
use crate::model::*;
use contracts::calling_window::CallingWindows;
use contracts::runtime_config::{BotSpec, CallDirection};
use contracts::{
    BotId, CallId, CallOutcomeCode, CallState, CampaignId, ContactId, E164Number, TimeZoneName,
    UserId,
};
use serde::de::DeserializeOwned;
use serde_json::Value;

pub(crate) fn json<T: DeserializeOwned>(column: &'static str, text: &str) -> Result<T> {
    serde_json::from_str(text).map_err(|error| StoreError::corrupt(column, error))
}

pub(crate) fn to_json<T: serde::Serialize>(value: &T) -> String {
    serde_json::to_string(value).expect("store values always serialize")
}

fn parse<T: std::str::FromStr>(column: &'static str, text: &str) -> Result<T>
where
    T::Err: std::fmt::Display,
{
    text.parse()
        .map_err(|error| StoreError::corrupt(column, error))
}

fn opt_json(column: &'static str, text: Option<String>) -> Result<Option<Value>> {
    text.map(|text| json(column, &text)).transpose()
}

fn opt_phone(column: &'static str, text: Option<String>) -> Result<Option<E164Number>> {
    text.map(|text| E164Number::parse(&text).map_err(|e| StoreError::corrupt(column, e)))
        .transpose()
}

pub(crate) fn direction(text: &str) -> Result<CallDirection> {
    match text {
        "inbound" => Ok(CallDirection::Inbound),
        "outbound" => Ok(CallDirection::Outbound),
        "web" => Ok(CallDirection::Web),
        other => Err(StoreError::corrupt("direction", other)),
    }
}

#[derive(sqlx::FromRow)]
pub(crate) struct UserRow {
    id: i64,
    email: String,
    name: String,
    password_hash: String,
    role: String,
    disabled: bool,
    created_at: i64,
    updated_at: i64,
    sessions_valid_after: i64,
}

impl TryFrom<UserRow> for User {
    type Error = StoreError;

    fn try_from(row: UserRow) -> Result<Self> {
        Ok(User {
            id: UserId(row.id),
            email: row.email,
            name: row.name,
            password_hash: row.password_hash,
            role: parse("role", &row.role)?,
            disabled: row.disabled,
            created_at: from_ms(row.created_at),
            updated_at: from_ms(row.updated_at),
            sessions_valid_after: from_ms(row.sessions_valid_after),
        })
    }
}

#[derive(sqlx::FromRow)]
pub(crate) struct ApiKeyRow {
    id: i64,
    name: String,
    prefix: String,
    key_hash: String,
    role: String,
    created_by: Option<i64>,
    created_at: i64,
    last_used_at: Option<i64>,
    revoked_at: Option<i64>,
}

impl TryFrom<ApiKeyRow> for ApiKey {
    type Error = StoreError;

    fn try_from(row: ApiKeyRow) -> Result<Self> {
        Ok(ApiKey {
            id: row.id,
            name: row.name,
            prefix: row.prefix,
            key_hash: row.key_hash,
            role: parse("role", &row.role)?,
            created_by: row.created_by.map(UserId),
            created_at: from_ms(row.created_at),
            last_used_at: row.last_used_at.map(from_ms),
            revoked_at: row.revoked_at.map(from_ms),
        })
    }
}

#[derive(sqlx::FromRow)]
pub(crate) struct BotRow {
    id: i64,
    name: String,
    current_version: i64,
    archived: bool,
    created_at: i64,
    updated_at: i64,
}

impl TryFrom<BotRow> for Bot {
    type Error = StoreError;

    fn try_from(row: BotRow) -> Result<Self> {
        Ok(Bot {
            id: BotId(row.id),
            name: row.name,
            current_version: row.current_version,
            archived: row.archived,
            created_at: from_ms(row.created_at),
            updated_at: from_ms(row.updated_at),
        })
    }
}

#[derive(sqlx::FromRow)]
pub(crate) struct BotVersionRow {
    bot_id: i64,
    version: i64,
    spec: String,
    created_by: Option<i64>,
    created_at: i64,
}

impl TryFrom<BotVersionRow> for BotVersion {
    type Error = StoreError;

    fn try_from(row: BotVersionRow) -> Result<Self> {
        Ok(BotVersion {
            bot_id: BotId(row.bot_id),
            version: row.version,
            spec: json::<BotSpec>("bot_versions.spec", &row.spec)?,
            created_by: row.created_by.map(UserId),
            created_at: from_ms(row.created_at),
        })
    }
}

#[derive(sqlx::FromRow)]
pub(crate) struct CampaignRow {
    id: i64,
    name: String,
    bot_id: i64,
    state: String,
    calling_windows: String,
    max_attempts: i64,
    concurrency_cap: i64,
    weight: i64,
    abandon_target: f64,
    caller_id: Option<String>,
    settings: String,
    created_at: i64,
    updated_at: i64,
}

impl TryFrom<CampaignRow> for Campaign {
    type Error = StoreError;

    fn try_from(row: CampaignRow) -> Result<Self> {
        Ok(Campaign {
            id: CampaignId(row.id),
            state: parse("campaigns.state", &row.state)?,
            config: NewCampaign {
                name: row.name,
                bot_id: BotId(row.bot_id),
                calling_windows: json::<CallingWindows>(
                    "campaigns.calling_windows",
                    &row.calling_windows,
                )?,
                max_attempts: row.max_attempts,
                concurrency_cap: row.concurrency_cap,
                weight: row.weight,
                abandon_target: row.abandon_target,
                caller_id: opt_phone("campaigns.caller_id", row.caller_id)?,
                settings: json("campaigns.settings", &row.settings)?,
            },
            created_at: from_ms(row.created_at),
            updated_at: from_ms(row.updated_at),
        })
    }
}

#[derive(sqlx::FromRow)]
pub(crate) struct ContactRow {
    id: i64,
    campaign_id: i64,
    phone: String,
    timezone: String,
    variables: String,
    status: String,
    attempts: i64,
    next_attempt_at: i64,
    lease_owner: Option<String>,
    lease_expires_at: Option<i64>,
    last_outcome: Option<String>,
}

impl TryFrom<ContactRow> for Contact {
    type Error = StoreError;

    fn try_from(row: ContactRow) -> Result<Self> {
        Ok(Contact {
            id: ContactId(row.id),
            campaign_id: CampaignId(row.campaign_id),
            phone: E164Number::parse(&row.phone)
                .map_err(|e| StoreError::corrupt("contacts.phone", e))?,
            timezone: TimeZoneName::parse(&row.timezone)
                .map_err(|e| StoreError::corrupt("contacts.timezone", e))?,
            variables: json("contacts.variables", &row.variables)?,
            status: parse("contacts.status", &row.status)?,
            attempts: row.attempts,
            next_attempt_at: from_ms(row.next_attempt_at),
            lease_owner: row.lease_owner,
            lease_expires_at: row.lease_expires_at.map(from_ms),
            last_outcome: row.last_outcome,
        })
    }
}

#[derive(sqlx::FromRow)]
pub(crate) struct CallRow {
    id: i64,
    direction: String,
    campaign_id: Option<i64>,
    contact_id: Option<i64>,
    bot_id: i64,
    bot_version: i64,
    attempt: i64,
    state: String,
    outcome: Option<String>,
    from_number: Option<String>,
    to_number: Option<String>,
    carrier_call_id: Option<String>,
    worker_id: Option<String>,
    created_at: i64,
    state_changed_at: i64,
    answered_at: Option<i64>,
    ended_at: Option<i64>,
    result: Option<String>,
    disposition: Option<String>,
}

impl TryFrom<CallRow> for Call {
    type Error = StoreError;

    fn try_from(row: CallRow) -> Result<Self> {
        Ok(Call {
            id: CallId(row.id),
            direction: direction(&row.direction)?,
            campaign_id: row.campaign_id.map(CampaignId),
            contact_id: row.contact_id.map(ContactId),
            bot_id: BotId(row.bot_id),
            bot_version: row.bot_version,
            attempt: row.attempt,
            state: parse::<CallState>("calls.state", &row.state)?,
            outcome: row
                .outcome
                .map(|code| parse::<CallOutcomeCode>("calls.outcome", &code))
                .transpose()?,
            from: opt_phone("calls.from_number", row.from_number)?,
            to: opt_phone("calls.to_number", row.to_number)?,
            carrier_call_id: row.carrier_call_id,
            worker_id: row.worker_id,
            created_at: from_ms(row.created_at),
            state_changed_at: from_ms(row.state_changed_at),
            answered_at: row.answered_at.map(from_ms),
            ended_at: row.ended_at.map(from_ms),
            result: opt_json("calls.result", row.result)?,
            disposition: row.disposition,
        })
    }
}

#[derive(sqlx::FromRow)]
pub(crate) struct CallEventRow {
    id: i64,
    call_id: i64,
    from_state: Option<String>,
    to_state: String,
    outcome: Option<String>,
    detail: Option<String>,
    at: i64,
}

impl TryFrom<CallEventRow> for CallEvent {
    type Error = StoreError;

    fn try_from(row: CallEventRow) -> Result<Self> {
        Ok(CallEvent {
            id: row.id,
            call_id: CallId(row.call_id),
            from_state: row
                .from_state
                .map(|state| parse::<CallState>("call_events.from_state", &state))
                .transpose()?,
            to_state: parse("call_events.to_state", &row.to_state)?,
            outcome: row
                .outcome
                .map(|code| parse::<CallOutcomeCode>("call_events.outcome", &code))
                .transpose()?,
            detail: opt_json("call_events.detail", row.detail)?,
            at: from_ms(row.at),
        })
    }
}

#[derive(sqlx::FromRow)]
pub(crate) struct DncRow {
    id: i64,
    phone: String,
    reason: String,
    created_at: i64,
}

impl TryFrom<DncRow> for DncEntry {
    type Error = StoreError;

    fn try_from(row: DncRow) -> Result<Self> {
        Ok(DncEntry {
            phone: E164Number::parse(&row.phone)
                .map_err(|e| StoreError::corrupt("dnc.phone", e))?,
            reason: row.reason,
            created_at: from_ms(row.created_at),
        })
    }
}

#[derive(sqlx::FromRow)]
pub(crate) struct SettingRow {
    key: String,
    value: String,
    updated_by: Option<i64>,
    updated_at: i64,
}

impl TryFrom<SettingRow> for Setting {
    type Error = StoreError;

    fn try_from(row: SettingRow) -> Result<Self> {
        Ok(Setting {
            value: json("settings.value", &row.value)?,
            key: row.key,
            updated_by: row.updated_by.map(UserId),
            updated_at: from_ms(row.updated_at),
        })
    }
}

#[derive(sqlx::FromRow)]
pub(crate) struct CrmDeliveryRow {
    id: i64,
    call_id: i64,
    target: String,
    payload: String,
    status: String,
    attempts: i64,
    next_attempt_at: i64,
    last_error: Option<String>,
    created_at: i64,
    delivered_at: Option<i64>,
}

impl TryFrom<CrmDeliveryRow> for CrmDelivery {
    type Error = StoreError;

    fn try_from(row: CrmDeliveryRow) -> Result<Self> {
        Ok(CrmDelivery {
            id: row.id,
            call_id: CallId(row.call_id),
            target: row.target,
            payload: json("crm_deliveries.payload", &row.payload)?,
            status: DeliveryStatus::parse(&row.status)
                .ok_or_else(|| StoreError::corrupt("crm_deliveries.status", &row.status))?,
            attempts: row.attempts,
            next_attempt_at: from_ms(row.next_attempt_at),
            last_error: row.last_error,
            created_at: from_ms(row.created_at),
            delivered_at: row.delivered_at.map(from_ms),
        })
    }
}

#[derive(sqlx::FromRow)]
pub(crate) struct AuditRow {
    id: i64,
    actor: String,
    action: String,
    entity: String,
    entity_id: Option<String>,
    detail: Option<String>,
    at: i64,
}

impl TryFrom<AuditRow> for AuditEntry {
    type Error = StoreError;

    fn try_from(row: AuditRow) -> Result<Self> {
        Ok(AuditEntry {
            id: row.id,
            actor: row.actor,
            action: row.action,
            entity: row.entity,
            entity_id: row.entity_id,
            detail: opt_json("audit_log.detail", row.detail)?,
            at: from_ms(row.at),
        })
    }
}

#[derive(sqlx::FromRow)]
pub(crate) struct LeaderRow {
    holder: String,
    fencing_token: i64,
    expires_at: i64,
}

impl From<LeaderRow> for LeaderLease {
    fn from(row: LeaderRow) -> Self {
        LeaderLease {
            holder: row.holder,
            fencing_token: row.fencing_token,
            expires_at: from_ms(row.expires_at),
        }
    }
}

/// Converts rows and builds the next-page cursor from the last item's id.
pub(crate) fn paged<R, T>(rows: Vec<R>, limit: u32, id_of: impl Fn(&R) -> i64) -> Result<Paged<T>>
where
    T: TryFrom<R, Error = StoreError>,
{
    let mut rows = rows;
    let has_more = rows.len() > limit as usize;
    rows.truncate(limit as usize);
    let next_after = if has_more {
        rows.last().map(&id_of)
    } else {
        None
    };
    let items = rows.into_iter().map(T::try_from).collect::<Result<_>>()?;
    Ok(Paged { items, next_after })
}

macro_rules! id_getter {
    ($($row:ident),+) => {
        $(impl $row {
            pub(crate) fn row_id(&self) -> i64 {
                self.id
            }
        })+
    };
}
id_getter!(
    UserRow,
    ApiKeyRow,
    BotRow,
    CampaignRow,
    ContactRow,
    CallRow,
    AuditRow,
    DncRow,
    CrmDeliveryRow
);

#[derive(sqlx::FromRow)]
pub(crate) struct PacingRow {
    campaign_id: i64,
    holder: String,
    decision: String,
    decided_at: i64,
}

impl TryFrom<PacingRow> for PacingRecord {
    type Error = StoreError;

    fn try_from(row: PacingRow) -> Result<Self> {
        Ok(PacingRecord {
            campaign_id: CampaignId(row.campaign_id),
            holder: row.holder,
            decision: json("campaign_pacing.decision", &row.decision)?,
            decided_at: from_ms(row.decided_at),
        })
    }
}

#[derive(sqlx::FromRow)]
pub(crate) struct StateCountRow {
    state: String,
    count: i64,
}

impl TryFrom<StateCountRow> for (CallState, i64) {
    type Error = StoreError;

    fn try_from(row: StateCountRow) -> Result<Self> {
        Ok((parse::<CallState>("calls.state", &row.state)?, row.count))
    }
}

#[derive(sqlx::FromRow)]
pub(crate) struct CarrierAccountRow {
    id: i64,
    carrier: String,
    name: String,
    account_sid: String,
    api_url: Option<String>,
    numbers: String,
    webhook_key_set: bool,
    sip_trunk: Option<String>,
    created_at: i64,
    updated_at: i64,
}

impl TryFrom<CarrierAccountRow> for CarrierAccount {
    type Error = StoreError;

    fn try_from(row: CarrierAccountRow) -> Result<Self> {
        Ok(CarrierAccount {
            id: contracts::telephony::CarrierAccountId(row.id),
            carrier: parse("carrier_accounts.carrier", &row.carrier)?,
            name: row.name,
            account_sid: row.account_sid,
            api_url: row.api_url,
            numbers: json("carrier_accounts.numbers", &row.numbers)?,
            webhook_key_set: row.webhook_key_set,
            trunk: row
                .sip_trunk
                .map(|text| json("carrier_accounts.sip_trunk", &text))
                .transpose()?,
            created_at: from_ms(row.created_at),
            updated_at: from_ms(row.updated_at),
        })
    }
}
