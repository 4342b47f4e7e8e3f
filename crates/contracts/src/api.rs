//! Contract 5, console → Backend.
//!
//! Request and response bodies of the Backend API's `/api/v1` routes.

use crate::calling_window::CallingWindows;
use crate::runtime_config::BotSpec;
use crate::{BotId, CallId, CallOutcomeCode, CallState, CampaignId, ContactId, E164Number, UserId};
use chrono::{DateTime, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// Every 4xx and 5xx body: `{"error": {"code": …, "message": …, "field": …}}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct ErrorResponse {
    pub error: crate::error::ErrorBody,
}

/// What an operator or API key may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Viewer,
    Operator,
    Admin,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct LoginRequest {
    pub email: String,
    pub password: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct RefreshRequest {
    pub refresh_token: String,
}

/// A signed-in session: a short-lived access token and a refresh token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct TokenResponse {
    pub access_token: String,
    /// Always `Bearer`.
    pub token_type: String,
    /// Seconds until the access token expires.
    pub expires_in: u64,
    pub refresh_token: String,
    pub user: UserView,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct UserView {
    pub id: UserId,
    pub email: String,
    pub name: String,
    pub role: Role,
    pub disabled: bool,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct CreateUser {
    #[schemars(schema_with = "crate::shape::email")]
    pub email: String,
    #[schemars(schema_with = "crate::shape::non_blank")]
    pub name: String,
    #[schemars(schema_with = "crate::shape::password")]
    pub password: String,
    pub role: Role,
}

/// Changes to a user; absent fields stay as they are.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct UpdateUser {
    #[serde(default)]
    #[schemars(schema_with = "crate::shape::optional_non_blank")]
    pub name: Option<String>,
    #[serde(default)]
    #[schemars(schema_with = "crate::shape::optional_password")]
    pub password: Option<String>,
    #[serde(default)]
    pub role: Option<Role>,
    #[serde(default)]
    pub disabled: Option<bool>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct CreateApiKey {
    #[schemars(schema_with = "crate::shape::non_blank")]
    pub name: String,
    pub role: Role,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct ApiKeyView {
    pub id: i64,
    pub name: String,
    /// The first characters, to recognise the key; the key itself is never shown again.
    pub prefix: String,
    pub role: Role,
    pub created_at: DateTime<Utc>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_used_at: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revoked_at: Option<DateTime<Utc>>,
}

/// The answer to creating a key: the only time the key is shown.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct CreatedApiKey {
    pub key: String,
    pub api_key: ApiKeyView,
}

/// One page of a list and the cursor of the next (`None` on the last page).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Page<T> {
    pub items: Vec<T>,
    /// The `cursor` of the next page's request.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = r"^-?[0-9]{1,19}$"))]
    pub next_cursor: Option<String>,
}

/// Create a bot, or save a new version of one.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct SaveBot {
    #[schemars(schema_with = "crate::shape::non_blank")]
    pub name: String,
    pub spec: BotSpec,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct BotView {
    pub id: BotId,
    pub name: String,
    pub version: i64,
    pub archived: bool,
    pub spec: BotSpec,
    pub updated_at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct BotVersionView {
    pub bot_id: BotId,
    pub version: i64,
    pub spec: BotSpec,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum CampaignState {
    Draft,
    Running,
    Paused,
    Completed,
}

/// A campaign's settings (everything but its state).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct CampaignSettings {
    #[schemars(schema_with = "crate::shape::non_blank")]
    pub name: String,
    pub bot_id: BotId,
    #[serde(default)]
    pub calling_windows: CallingWindows,
    /// When the campaign may start dialling; absent means as soon as it runs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub starts_at: Option<DateTime<Utc>>,
    /// When it stops dialling for good; absent means when its contacts are done.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ends_at: Option<DateTime<Utc>>,
    #[serde(default = "default_max_attempts")]
    #[schemars(range(min = 1))]
    pub max_attempts: i64,
    #[serde(default = "default_concurrency_cap")]
    #[schemars(range(min = 1))]
    pub concurrency_cap: i64,
    #[serde(default = "default_weight")]
    #[schemars(range(min = 1))]
    pub weight: i64,
    /// Target abandon rate, a fraction (0.03 = 3 %).
    #[serde(default = "default_abandon_target")]
    #[schemars(range(min = 0.0, max = 1.0))]
    pub abandon_target: f64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub caller_id: Option<E164Number>,
    /// Default region for numbers imported without a country code (ISO 3166 alpha-2, e.g. `US`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "crate::shape::optional_region")]
    pub default_region: Option<String>,
    /// Pacing mode and retry policy per outcome, read by the dialler.
    #[serde(default)]
    pub dialler: Map<String, Value>,
    /// Whom the campaign calls for (an operator's customer): its calls count against that
    /// client's quota of slots (`/fleet/quotas/client/{name}`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "crate::shape::optional_client")]
    pub client: Option<String>,
}

fn default_max_attempts() -> i64 {
    3
}
fn default_concurrency_cap() -> i64 {
    10
}
fn default_weight() -> i64 {
    1
}
fn default_abandon_target() -> f64 {
    0.03
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct CampaignView {
    pub id: CampaignId,
    pub state: CampaignState,
    #[serde(flatten)]
    pub settings: CampaignSettings,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// One contact as sent in a JSON batch.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ContactInput {
    /// E.164 (national numbers with the campaign's `default_region` are for CSV imports).
    #[schemars(schema_with = "crate::shape::phone")]
    pub phone: String,
    /// The contact's IANA zone, which its calling windows are read in.
    #[schemars(with = "crate::TimeZoneName")]
    pub timezone: String,
    #[serde(default)]
    pub variables: Map<String, Value>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ContactView {
    pub id: ContactId,
    pub phone: E164Number,
    pub timezone: String,
    pub variables: Map<String, Value>,
    pub status: String,
    pub attempts: i64,
    pub next_attempt_at: DateTime<Utc>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_outcome: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct ImportSummary {
    pub imported: u64,
}

/// A row of the call log.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct CallSummary {
    pub id: CallId,
    pub direction: crate::runtime_config::CallDirection,
    pub state: CallState,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub outcome: Option<CallOutcomeCode>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub campaign_id: Option<CampaignId>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub contact_id: Option<ContactId>,
    pub bot_id: BotId,
    pub bot_version: i64,
    pub attempt: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from: Option<E164Number>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to: Option<E164Number>,
    pub created_at: DateTime<Utc>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub answered_at: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ended_at: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disposition: Option<String>,
}

/// One call with its result and history.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct CallDetail {
    #[serde(flatten)]
    pub summary: CallSummary,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub result: Option<crate::call_result::CallResult>,
    pub events: Vec<CallEventView>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct CallEventView {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from_state: Option<CallState>,
    pub to_state: CallState,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub outcome: Option<CallOutcomeCode>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<Value>,
    pub at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct DncInput {
    #[schemars(schema_with = "crate::shape::phone")]
    pub phone: String,
    #[serde(default)]
    pub reason: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct DncView {
    pub phone: E164Number,
    pub reason: String,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct AuditView {
    pub id: i64,
    pub actor: String,
    pub action: String,
    pub entity: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub entity_id: Option<String>,
    /// `{"before": …, "after": …}` for changes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<Value>,
    pub at: DateTime<Utc>,
}

/// `GET /health` of the Backend.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct BackendHealth {
    /// `ok` or `down`.
    pub status: String,
    pub version: String,
    /// Each check by name (`database`, `redis`, `settings`) and `ok` or what is wrong.
    pub checks: std::collections::BTreeMap<String, String>,
}
