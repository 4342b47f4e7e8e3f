//! The only crate that writes SQL.
//!
//! The [`Store`] trait and its two real implementations, SQLite (embedded default) and PostgreSQL.
//!
//! ## Design Notes
//! - One trait, two backends, one query text where the dialects agree: the shared code in
//!   `shared/` is compiled once per backend (`#[path]` modules) against that backend's concrete
//!   `sqlx` types, so there are no generic bounds and no `Any` driver. Only what truly differs
//!   (how a write transaction starts, the skip-locked lease, migrations) is written per backend.
//! - Times are stored as Unix epoch milliseconds and JSON as TEXT in both dialects.
//! - Every operation whose result depends on the time takes `now` from the caller, so tests
//!   inject the clock instead of sleeping.
//! - Bad input is rejected here with [`StoreError::Invalid`] naming the field, before any write.

#![forbid(unsafe_code)]

pub mod dialler_settings;
mod error;
mod knowledge;
pub mod model;
mod postgres;
pub mod retry;
mod rows;
mod sqlite;
#[cfg(feature = "test-util")]
pub mod testing;
mod validate;

pub use error::{Result, StoreError};
pub use knowledge::KnowledgeStore;
pub use model::*;
pub use postgres::PgStore;
pub use sqlite::SqliteStore;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use contracts::runtime_config::BotSpec;
use contracts::telephony::{CarrierAccountId, CarrierKind};
use contracts::{BotId, CallId, CallState, CampaignId, ContactId, UserId};
use serde_json::Value;
use std::sync::Arc;
use std::time::Duration;

/// Which database a store talks to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// Opens the store a `DATABASE_URL` names (`sqlite://…` or `postgres://…`), without migrating.
pub async fn connect(url: &str) -> Result<Arc<dyn Store>> {
    if url.starts_with("sqlite:") {
        Ok(Arc::new(SqliteStore::connect(url).await?))
    } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        Ok(Arc::new(PgStore::connect(url).await?))
    } else {
        Err(StoreError::UnsupportedUrl(redact_url(url)))
    }
}

/// The URL with any password replaced by `***`, safe to print.
pub fn redact_url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    match rest.split_once('@') {
        Some((credentials, host)) => match credentials.split_once(':') {
            Some((user, _password)) => format!("{scheme}://{user}:***@{host}"),
            None => url.to_owned(),
        },
        None => url.to_owned(),
    }
}

/// Everything the services need from durable state.
#[async_trait]
pub trait Store: KnowledgeStore + Send + Sync + std::fmt::Debug {
    fn backend(&self) -> Backend;
    /// Applies the pending migrations of this backend; returns how many ran.
    async fn migrate(&self) -> Result<usize>;
    /// A round trip to the database.
    async fn ping(&self) -> Result<()>;

    // Users and API keys.
    async fn create_user(&self, user: NewUser) -> Result<User>;
    async fn user(&self, id: UserId) -> Result<User>;
    async fn user_by_email(&self, email: &str) -> Result<Option<User>>;
    async fn list_users(&self, page: Page) -> Result<Paged<User>>;
    async fn update_user(&self, id: UserId, update: UserUpdate) -> Result<User>;
    async fn create_api_key(&self, key: NewApiKey) -> Result<ApiKey>;
    /// The key with this hash, revoked or not; marks it used.
    async fn api_key_by_hash(&self, key_hash: &str, now: DateTime<Utc>) -> Result<Option<ApiKey>>;
    async fn list_api_keys(&self, page: Page) -> Result<Paged<ApiKey>>;
    async fn revoke_api_key(&self, id: i64, now: DateTime<Utc>) -> Result<ApiKey>;
    /// Keeps a refresh token just issued (the user's expired ones are pruned).
    async fn record_refresh_token(&self, token: NewRefreshToken, now: DateTime<Utc>) -> Result<()>;
    /// Uses a refresh token once; a second use revokes its whole family (M10).
    async fn use_refresh_token(&self, id: &str, now: DateTime<Utc>) -> Result<RefreshUse>;

    // Bots: every save is a new version.
    async fn create_bot(&self, bot: NewBot) -> Result<(Bot, BotVersion)>;
    async fn save_bot_version(
        &self,
        bot_id: BotId,
        spec: BotSpec,
        by: Option<UserId>,
    ) -> Result<BotVersion>;
    async fn bot(&self, id: BotId) -> Result<Bot>;
    async fn bot_version(&self, id: BotId, version: i64) -> Result<BotVersion>;
    async fn list_bot_versions(&self, id: BotId) -> Result<Vec<BotVersion>>;
    async fn list_bots(&self, page: Page, include_archived: bool) -> Result<Paged<Bot>>;
    async fn set_bot_archived(&self, id: BotId, archived: bool) -> Result<Bot>;

    // Campaigns and contacts.
    async fn create_campaign(&self, campaign: NewCampaign) -> Result<Campaign>;
    async fn campaign(&self, id: CampaignId) -> Result<Campaign>;
    async fn list_campaigns(
        &self,
        page: Page,
        state: Option<CampaignState>,
    ) -> Result<Paged<Campaign>>;
    async fn update_campaign(&self, id: CampaignId, campaign: NewCampaign) -> Result<Campaign>;
    /// A checked move of the campaign's state from `from` to `to`.
    async fn set_campaign_state(
        &self,
        id: CampaignId,
        from: CampaignState,
        to: CampaignState,
    ) -> Result<Campaign>;
    /// Validates every row, then inserts them all in one transaction, or none.
    async fn add_contacts(&self, campaign: CampaignId, contacts: Vec<NewContact>) -> Result<u64>;
    /// Like `add_contacts`, but numbers the campaign already has are skipped (the first one
    /// wins) instead of failing the batch; returns, per row, whether it was inserted.
    async fn import_contacts(
        &self,
        campaign: CampaignId,
        contacts: Vec<NewContact>,
    ) -> Result<Vec<bool>>;
    async fn contact(&self, id: ContactId) -> Result<Contact>;
    async fn list_contacts(
        &self,
        campaign: CampaignId,
        filter: ContactFilter,
        page: Page,
    ) -> Result<Paged<Contact>>;

    // Leases: the dialler's atomic take of due contacts.
    /// Atomically leases up to `limit` due contacts and creates a `leased` call for each.
    async fn lease_contacts(&self, request: LeaseRequest) -> Result<Vec<Lease>>;
    /// Extends the leases `owner` still holds; returns how many were extended.
    async fn renew_leases(
        &self,
        owner: &str,
        contacts: &[ContactId],
        ttl: Duration,
        now: DateTime<Utc>,
    ) -> Result<u64>;
    /// Ends `owner`'s lease on a contact after an attempt: schedules a retry or closes it.
    async fn finish_attempt(
        &self,
        contact: ContactId,
        owner: &str,
        last_outcome: &str,
        next: ContactNext,
        now: DateTime<Utc>,
    ) -> Result<()>;

    /// Ends `call`'s attempt on its contact, whoever holds the contact's lease now: a retry or
    /// the close, with the outcome kept. Nothing changes when a newer call of the contact exists
    /// (that call owns the contact now); a contact closed meanwhile stays closed and only keeps
    /// the outcome. `Ok(false)` when nothing changed.
    async fn finish_call_attempt(
        &self,
        call: CallId,
        last_outcome: &str,
        next: ContactNext,
        now: DateTime<Utc>,
    ) -> Result<bool>;

    // Calls.
    async fn create_call(&self, call: NewCall) -> Result<Call>;
    async fn call(&self, id: CallId) -> Result<Call>;
    async fn list_calls(&self, filter: CallFilter, page: Page) -> Result<Paged<Call>>;
    /// Moves a call by a conditional update and appends its event in the same transaction.
    async fn transition(&self, transition: Transition) -> Result<Call>;
    /// The dialler's claim before it places a call: moves it `leased → dialing` (a held-back
    /// `dialing` call stays) only while `fence` is the leader's, valid past `until`; `Fenced`
    /// otherwise, and `StaleTransition` when the call moved on (a new leader ended it).
    async fn claim_dial(
        &self,
        fence: &Fence,
        call_id: CallId,
        from: CallState,
        at: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> Result<Call>;
    /// Stores a call's result document once, and (when given) moves the call in the same
    /// transaction; a second result is a `Conflict`, a stale move a `StaleTransition`, and
    /// either leaves nothing written.
    /// Replaces the minimal result a worker posts when an attach it accepted was never connected
    /// (`fleet.attach_failed`), or when it restarted and found the call unfinished
    /// (`fleet.worker_lost`), with the call's real result (another worker took the call), and
    /// moves the call from where that left it to `to` with `outcome`. A `Conflict` when the
    /// stored result is anything else.
    async fn correct_attach_failed(
        &self,
        id: CallId,
        result: &Value,
        to: CallState,
        outcome: contracts::CallOutcomeCode,
        at: DateTime<Utc>,
    ) -> Result<Call>;
    async fn record_call_result(
        &self,
        id: CallId,
        result: &Value,
        transition: Option<Transition>,
    ) -> Result<Call>;
    async fn call_events(&self, id: CallId) -> Result<Vec<CallEvent>>;
    /// A call with its bot version's spec and its contact, in one query.
    async fn call_runtime(&self, id: CallId) -> Result<CallRuntime>;
    /// Counts and talk time per bucket over a range, and the dispositions.
    async fn call_report(&self, filter: ReportFilter) -> Result<CallReport>;
    /// Machine verdicts (carrier's, bot's) over a range and the evidence that some were wrong
    /// (`filter.bucket` is not used).
    async fn amd_report(&self, filter: ReportFilter) -> Result<AmdCounts>;
    /// Ends calls stuck in a live state past their deadline and counts them.
    async fn reap_stale_calls(&self, policy: ReapPolicy) -> Result<ReapReport>;

    // Do-not-call list.
    async fn add_dnc(&self, phone: &str, reason: &str) -> Result<DncEntry>;
    /// Lists `(phone, reason)` pairs in one transaction; numbers already listed keep their entry.
    /// Returns, per entry, whether it was newly listed.
    async fn add_dnc_batch(&self, entries: Vec<(String, String)>) -> Result<Vec<bool>>;
    async fn remove_dnc(&self, phone: &str) -> Result<bool>;
    async fn is_dnc(&self, phone: &str) -> Result<bool>;
    async fn list_dnc(&self, page: Page) -> Result<Paged<DncEntry>>;

    // Settings.
    async fn setting(&self, key: &str) -> Result<Option<Setting>>;
    async fn put_setting(&self, key: &str, value: Value, by: Option<UserId>) -> Result<Setting>;
    async fn list_settings(&self) -> Result<Vec<Setting>>;

    // CRM outbox.
    /// Queues a delivery. The same call, target and payload again changes nothing; another
    /// payload (a corrected result) replaces the queued one and is delivered again.
    async fn enqueue_crm_delivery(
        &self,
        delivery: NewCrmDelivery,
        now: DateTime<Utc>,
    ) -> Result<CrmDelivery>;
    /// Takes up to `limit` due deliveries for `lease` (they are not due again before it ends,
    /// so two senders never take the same one), oldest first.
    async fn claim_crm_deliveries(
        &self,
        now: DateTime<Utc>,
        limit: u32,
        lease: Duration,
    ) -> Result<Vec<CrmDelivery>>;
    async fn list_crm_deliveries(
        &self,
        status: Option<DeliveryStatus>,
        page: Page,
    ) -> Result<Paged<CrmDelivery>>;
    /// Puts a dead-lettered (`failed`) delivery back in the queue, due now, with its attempts reset.
    async fn requeue_crm_delivery(&self, id: i64, now: DateTime<Utc>) -> Result<CrmDelivery>;
    async fn record_crm_attempt(
        &self,
        id: i64,
        outcome: DeliveryOutcome,
        now: DateTime<Utc>,
    ) -> Result<CrmDelivery>;

    // Audit log.
    async fn append_audit(&self, entry: NewAuditEntry) -> Result<AuditEntry>;
    async fn list_audit(&self, page: Page) -> Result<Paged<AuditEntry>>;

    // The dialler's leader lease.
    /// Takes the lease when it is free or expired (a new, higher fencing token), or returns the
    /// caller's own valid lease; `None` while another holder's lease is valid.
    async fn acquire_leader(
        &self,
        holder: &str,
        ttl: Duration,
        now: DateTime<Utc>,
    ) -> Result<Option<LeaderLease>>;
    /// Extends a held lease; `None` when it was lost (expired and taken, or released).
    async fn renew_leader(
        &self,
        fence: &Fence,
        ttl: Duration,
        now: DateTime<Utc>,
    ) -> Result<Option<LeaderLease>>;
    async fn release_leader(&self, fence: &Fence) -> Result<()>;
    /// The current lease, valid or not.
    async fn leader(&self) -> Result<Option<LeaderLease>>;

    // What the dialler shows of itself.
    /// Keeps a campaign's last pacing decision (one per campaign, overwritten).
    async fn record_pacing(
        &self,
        holder: &str,
        campaign: CampaignId,
        decision: &Value,
        now: DateTime<Utc>,
    ) -> Result<()>;
    async fn pacing(&self, campaign: CampaignId) -> Result<Option<PacingRecord>>;
    /// How many of a campaign's calls are in each live state (states with none are left out).
    async fn live_call_counts(&self, campaign: CampaignId) -> Result<Vec<(CallState, i64)>>;
    /// How many calls not yet ended have a channel id starting with `prefix` (a widget key's).
    async fn live_calls_with_carrier_prefix(&self, prefix: &str) -> Result<i64>;

    // The telephony edge.
    async fn create_carrier_account(&self, account: NewCarrierAccount) -> Result<CarrierAccount>;
    /// Saves the account; a `None` secret keeps the saved one. The carrier cannot change.
    async fn update_carrier_account(
        &self,
        id: CarrierAccountId,
        account: NewCarrierAccount,
    ) -> Result<CarrierAccount>;
    async fn carrier_account(&self, id: CarrierAccountId) -> Result<CarrierAccount>;
    /// The account's secret, for signing and verifying; never shown.
    async fn carrier_account_secret(&self, id: CarrierAccountId) -> Result<String>;
    /// The account's webhook key, when its carrier verifies webhooks with one; never shown.
    async fn carrier_account_webhook_key(&self, id: CarrierAccountId) -> Result<Option<String>>;
    async fn list_carrier_accounts(&self) -> Result<Vec<CarrierAccount>>;
    /// Keeps a carrier event once (a redelivery changes nothing) and, with it, moves the call to
    /// `transition.to` from its current state when that state may move there.
    async fn record_telephony_event(
        &self,
        event: NewTelephonyEvent,
        transition: Option<Transition>,
    ) -> Result<TelephonyRecord>;
    /// The newest call with this carrier call id.
    async fn call_by_carrier_call_id(&self, carrier_call_id: &str) -> Result<Option<Call>>;
    /// Call events of every call after event `after`, oldest first, at most `limit`.
    async fn call_events_after(&self, after: i64, limit: u32) -> Result<Vec<CallEvent>>;
    /// The newest call event's id (0 with none): where a new follower of the events starts.
    async fn last_call_event_id(&self) -> Result<i64>;
    /// The carrier account whose webhooks first named the call.
    async fn carrier_account_of_call(&self, call_id: CallId) -> Result<Option<CarrierAccountId>>;
    /// The carrier events kept for a call: (event, sequence), oldest first.
    async fn telephony_events(&self, call_id: CallId) -> Result<Vec<(String, i64)>>;
    /// Records which carrier leg and worker carry a call, whatever state it is in (values already
    /// kept stay), and links the leg's kept carrier events that had no call yet to it.
    async fn note_call_leg(
        &self,
        call_id: CallId,
        carrier: CarrierKind,
        carrier_call_id: &str,
        worker_id: Option<&str>,
    ) -> Result<()>;
    /// Whether any event of this carrier call was kept (a call the edge refused has no call
    /// record, but its voice webhook was kept).
    async fn carrier_call_known(&self, carrier: CarrierKind, carrier_call_id: &str)
    -> Result<bool>;
}
