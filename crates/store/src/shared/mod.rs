//! The `Store` implementation shared by both backends.
//!
//! It is compiled once per backend against that backend's concrete `sqlx` types.
//!
//! The including module (`sqlite.rs` or `postgres.rs`) provides `Db`, `ThisStore` (with a `pool`
//! field), `BACKEND`, `begin_write`, `run_migrations` and `lease_contacts`; everything else is here.

mod calls;
mod catalog;
mod contacts;
mod identity;
mod knowledge;
mod ops;
mod reports;
mod telephony;

use super::{Db, ThisStore};
use crate::error::Result;
use crate::model::*;
use crate::{Backend, KnowledgeStore, Store};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use contracts::runtime_config::BotSpec;
use contracts::telephony::{CarrierAccountId, CarrierKind};
use contracts::{BotId, CallId, CallState, CampaignId, ContactId, UserId};
use serde_json::Value;
use std::time::Duration;

pub(crate) use contacts::{
    LeasedRow, check_lease_request, insert_leased_calls, lease_context, push_due_conditions,
    reclaim_expired,
};

#[async_trait]
impl Store for ThisStore {
    fn backend(&self) -> Backend {
        super::BACKEND
    }

    async fn migrate(&self) -> Result<usize> {
        super::run_migrations(&self.pool).await
    }

    async fn ping(&self) -> Result<()> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }

    async fn create_user(&self, user: NewUser) -> Result<User> {
        identity::create_user(&self.pool, user).await
    }
    async fn user(&self, id: UserId) -> Result<User> {
        identity::user(&self.pool, id).await
    }
    async fn user_by_email(&self, email: &str) -> Result<Option<User>> {
        identity::user_by_email(&self.pool, email).await
    }
    async fn list_users(&self, page: Page) -> Result<Paged<User>> {
        identity::list_users(&self.pool, page).await
    }
    async fn update_user(&self, id: UserId, update: UserUpdate) -> Result<User> {
        identity::update_user(&self.pool, id, update).await
    }
    async fn create_api_key(&self, key: NewApiKey) -> Result<ApiKey> {
        identity::create_api_key(&self.pool, key).await
    }
    async fn api_key_by_hash(&self, key_hash: &str, now: DateTime<Utc>) -> Result<Option<ApiKey>> {
        identity::api_key_by_hash(&self.pool, key_hash, now).await
    }
    async fn list_api_keys(&self, page: Page) -> Result<Paged<ApiKey>> {
        identity::list_api_keys(&self.pool, page).await
    }
    async fn revoke_api_key(&self, id: i64, now: DateTime<Utc>) -> Result<ApiKey> {
        identity::revoke_api_key(&self.pool, id, now).await
    }
    async fn record_refresh_token(&self, token: NewRefreshToken, now: DateTime<Utc>) -> Result<()> {
        identity::record_refresh_token(&self.pool, token, now).await
    }
    async fn use_refresh_token(&self, id: &str, now: DateTime<Utc>) -> Result<RefreshUse> {
        identity::use_refresh_token(&self.pool, id, now).await
    }

    async fn create_bot(&self, bot: NewBot) -> Result<(Bot, BotVersion)> {
        catalog::create_bot(&self.pool, bot).await
    }
    async fn save_bot_version(
        &self,
        bot_id: BotId,
        spec: BotSpec,
        by: Option<UserId>,
    ) -> Result<BotVersion> {
        catalog::save_bot_version(&self.pool, bot_id, spec, by).await
    }
    async fn bot(&self, id: BotId) -> Result<Bot> {
        catalog::bot(&self.pool, id).await
    }
    async fn bot_version(&self, id: BotId, version: i64) -> Result<BotVersion> {
        catalog::bot_version(&self.pool, id, version).await
    }
    async fn list_bot_versions(&self, id: BotId) -> Result<Vec<BotVersion>> {
        catalog::list_bot_versions(&self.pool, id).await
    }
    async fn list_bots(&self, page: Page, include_archived: bool) -> Result<Paged<Bot>> {
        catalog::list_bots(&self.pool, page, include_archived).await
    }
    async fn set_bot_archived(&self, id: BotId, archived: bool) -> Result<Bot> {
        catalog::set_bot_archived(&self.pool, id, archived).await
    }

    async fn create_campaign(&self, campaign: NewCampaign) -> Result<Campaign> {
        catalog::create_campaign(&self.pool, campaign).await
    }
    async fn campaign(&self, id: CampaignId) -> Result<Campaign> {
        catalog::campaign(&self.pool, id).await
    }
    async fn list_campaigns(
        &self,
        page: Page,
        state: Option<CampaignState>,
    ) -> Result<Paged<Campaign>> {
        catalog::list_campaigns(&self.pool, page, state).await
    }
    async fn update_campaign(&self, id: CampaignId, campaign: NewCampaign) -> Result<Campaign> {
        catalog::update_campaign(&self.pool, id, campaign).await
    }
    async fn set_campaign_state(
        &self,
        id: CampaignId,
        from: CampaignState,
        to: CampaignState,
    ) -> Result<Campaign> {
        catalog::set_campaign_state(&self.pool, id, from, to).await
    }
    async fn add_contacts(&self, campaign: CampaignId, contacts: Vec<NewContact>) -> Result<u64> {
        contacts::add_contacts(&self.pool, campaign, contacts).await
    }
    async fn import_contacts(
        &self,
        campaign: CampaignId,
        contacts: Vec<NewContact>,
    ) -> Result<Vec<bool>> {
        contacts::import_contacts(&self.pool, campaign, contacts).await
    }
    async fn contact(&self, id: ContactId) -> Result<Contact> {
        contacts::contact(&self.pool, id).await
    }
    async fn list_contacts(
        &self,
        campaign: CampaignId,
        filter: ContactFilter,
        page: Page,
    ) -> Result<Paged<Contact>> {
        contacts::list_contacts(&self.pool, campaign, filter, page).await
    }

    async fn lease_contacts(&self, request: LeaseRequest) -> Result<Vec<Lease>> {
        super::lease_contacts(&self.pool, request).await
    }
    async fn renew_leases(
        &self,
        owner: &str,
        contacts: &[ContactId],
        ttl: Duration,
        now: DateTime<Utc>,
    ) -> Result<u64> {
        contacts::renew_leases(&self.pool, owner, contacts, ttl, now).await
    }
    async fn finish_attempt(
        &self,
        contact: ContactId,
        owner: &str,
        last_outcome: &str,
        next: ContactNext,
        now: DateTime<Utc>,
    ) -> Result<()> {
        contacts::finish_attempt(&self.pool, contact, owner, last_outcome, next, now).await
    }

    async fn finish_call_attempt(
        &self,
        call: CallId,
        last_outcome: &str,
        next: ContactNext,
        now: DateTime<Utc>,
    ) -> Result<bool> {
        contacts::finish_call_attempt(&self.pool, call, last_outcome, next, now).await
    }

    async fn create_call(&self, call: NewCall) -> Result<Call> {
        calls::create_call(&self.pool, call).await
    }
    async fn call(&self, id: CallId) -> Result<Call> {
        calls::call(&self.pool, id).await
    }
    async fn list_calls(&self, filter: CallFilter, page: Page) -> Result<Paged<Call>> {
        calls::list_calls(&self.pool, filter, page).await
    }
    async fn transition(&self, transition: Transition) -> Result<Call> {
        calls::transition(&self.pool, transition).await
    }
    async fn claim_dial(
        &self,
        fence: &Fence,
        call_id: CallId,
        from: CallState,
        at: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> Result<Call> {
        calls::claim_dial(&self.pool, fence, call_id, from, at, until).await
    }
    async fn correct_attach_failed(
        &self,
        id: CallId,
        result: &Value,
        to: CallState,
        outcome: contracts::CallOutcomeCode,
        at: DateTime<Utc>,
    ) -> Result<Call> {
        calls::correct_attach_failed(&self.pool, id, result, to, outcome, at).await
    }
    async fn record_call_result(
        &self,
        id: CallId,
        result: &Value,
        transition: Option<Transition>,
    ) -> Result<Call> {
        calls::record_call_result(&self.pool, id, result, transition).await
    }
    async fn call_runtime(&self, id: CallId) -> Result<CallRuntime> {
        calls::call_runtime(&self.pool, id).await
    }
    async fn amd_report(&self, filter: ReportFilter) -> Result<AmdCounts> {
        reports::amd_report(&self.pool, filter).await
    }
    async fn call_report(&self, filter: ReportFilter) -> Result<CallReport> {
        reports::call_report(&self.pool, filter).await
    }
    async fn call_events(&self, id: CallId) -> Result<Vec<CallEvent>> {
        calls::call_events(&self.pool, id).await
    }
    async fn reap_stale_calls(&self, policy: ReapPolicy) -> Result<ReapReport> {
        calls::reap_stale_calls(&self.pool, policy).await
    }

    async fn add_dnc(&self, phone: &str, reason: &str) -> Result<DncEntry> {
        ops::add_dnc(&self.pool, phone, reason).await
    }
    async fn add_dnc_batch(&self, entries: Vec<(String, String)>) -> Result<Vec<bool>> {
        ops::add_dnc_batch(&self.pool, entries).await
    }
    async fn remove_dnc(&self, phone: &str) -> Result<bool> {
        ops::remove_dnc(&self.pool, phone).await
    }
    async fn is_dnc(&self, phone: &str) -> Result<bool> {
        ops::is_dnc(&self.pool, phone).await
    }
    async fn list_dnc(&self, page: Page) -> Result<Paged<DncEntry>> {
        ops::list_dnc(&self.pool, page).await
    }

    async fn setting(&self, key: &str) -> Result<Option<Setting>> {
        ops::setting(&self.pool, key).await
    }
    async fn put_setting(&self, key: &str, value: Value, by: Option<UserId>) -> Result<Setting> {
        ops::put_setting(&self.pool, key, value, by).await
    }
    async fn list_settings(&self) -> Result<Vec<Setting>> {
        ops::list_settings(&self.pool).await
    }

    async fn enqueue_crm_delivery(
        &self,
        delivery: NewCrmDelivery,
        now: DateTime<Utc>,
    ) -> Result<CrmDelivery> {
        ops::enqueue_crm_delivery(&self.pool, delivery, now).await
    }
    async fn claim_crm_deliveries(
        &self,
        now: DateTime<Utc>,
        limit: u32,
        lease: Duration,
    ) -> Result<Vec<CrmDelivery>> {
        ops::claim_crm_deliveries(&self.pool, now, limit, lease).await
    }
    async fn list_crm_deliveries(
        &self,
        status: Option<DeliveryStatus>,
        page: Page,
    ) -> Result<Paged<CrmDelivery>> {
        ops::list_crm_deliveries(&self.pool, status, page).await
    }
    async fn requeue_crm_delivery(&self, id: i64, now: DateTime<Utc>) -> Result<CrmDelivery> {
        ops::requeue_crm_delivery(&self.pool, id, now).await
    }
    async fn record_crm_attempt(
        &self,
        id: i64,
        outcome: DeliveryOutcome,
        now: DateTime<Utc>,
    ) -> Result<CrmDelivery> {
        ops::record_crm_attempt(&self.pool, id, outcome, now).await
    }

    async fn append_audit(&self, entry: NewAuditEntry) -> Result<AuditEntry> {
        ops::append_audit(&self.pool, entry).await
    }
    async fn list_audit(&self, page: Page) -> Result<Paged<AuditEntry>> {
        ops::list_audit(&self.pool, page).await
    }

    async fn acquire_leader(
        &self,
        holder: &str,
        ttl: Duration,
        now: DateTime<Utc>,
    ) -> Result<Option<LeaderLease>> {
        ops::acquire_leader(&self.pool, holder, ttl, now).await
    }
    async fn renew_leader(
        &self,
        fence: &Fence,
        ttl: Duration,
        now: DateTime<Utc>,
    ) -> Result<Option<LeaderLease>> {
        ops::renew_leader(&self.pool, fence, ttl, now).await
    }
    async fn release_leader(&self, fence: &Fence) -> Result<()> {
        ops::release_leader(&self.pool, fence).await
    }
    async fn leader(&self) -> Result<Option<LeaderLease>> {
        ops::leader(&self.pool).await
    }
    async fn record_pacing(
        &self,
        holder: &str,
        campaign: CampaignId,
        decision: &Value,
        now: DateTime<Utc>,
    ) -> Result<()> {
        ops::record_pacing(&self.pool, holder, campaign, decision, now).await
    }
    async fn pacing(&self, campaign: CampaignId) -> Result<Option<PacingRecord>> {
        ops::pacing(&self.pool, campaign).await
    }
    async fn live_calls_with_carrier_prefix(&self, prefix: &str) -> Result<i64> {
        calls::live_calls_with_carrier_prefix(&self.pool, prefix).await
    }
    async fn live_call_counts(&self, campaign: CampaignId) -> Result<Vec<(CallState, i64)>> {
        calls::live_call_counts(&self.pool, campaign).await
    }

    async fn create_carrier_account(&self, account: NewCarrierAccount) -> Result<CarrierAccount> {
        telephony::create_carrier_account(&self.pool, account).await
    }
    async fn update_carrier_account(
        &self,
        id: CarrierAccountId,
        account: NewCarrierAccount,
    ) -> Result<CarrierAccount> {
        telephony::update_carrier_account(&self.pool, id, account).await
    }
    async fn carrier_account(&self, id: CarrierAccountId) -> Result<CarrierAccount> {
        telephony::carrier_account(&self.pool, id).await
    }
    async fn carrier_account_secret(&self, id: CarrierAccountId) -> Result<String> {
        telephony::carrier_account_secret(&self.pool, id).await
    }
    async fn carrier_account_webhook_key(&self, id: CarrierAccountId) -> Result<Option<String>> {
        telephony::carrier_account_webhook_key(&self.pool, id).await
    }
    async fn list_carrier_accounts(&self) -> Result<Vec<CarrierAccount>> {
        telephony::list_carrier_accounts(&self.pool).await
    }
    async fn record_telephony_event(
        &self,
        event: NewTelephonyEvent,
        transition: Option<Transition>,
    ) -> Result<TelephonyRecord> {
        telephony::record_telephony_event(&self.pool, event, transition).await
    }
    async fn call_by_carrier_call_id(&self, carrier_call_id: &str) -> Result<Option<Call>> {
        telephony::call_by_carrier_call_id(&self.pool, carrier_call_id).await
    }
    async fn note_call_leg(
        &self,
        call_id: CallId,
        carrier: CarrierKind,
        carrier_call_id: &str,
        worker_id: Option<&str>,
    ) -> Result<()> {
        telephony::note_call_leg(&self.pool, call_id, carrier, carrier_call_id, worker_id).await
    }
    async fn carrier_call_known(
        &self,
        carrier: CarrierKind,
        carrier_call_id: &str,
    ) -> Result<bool> {
        telephony::carrier_call_known(&self.pool, carrier, carrier_call_id).await
    }
    async fn call_events_after(&self, after: i64, limit: u32) -> Result<Vec<CallEvent>> {
        telephony::call_events_after(&self.pool, after, limit).await
    }
    async fn last_call_event_id(&self) -> Result<i64> {
        telephony::last_call_event_id(&self.pool).await
    }
    async fn carrier_account_of_call(&self, call_id: CallId) -> Result<Option<CarrierAccountId>> {
        telephony::carrier_account_of_call(&self.pool, call_id).await
    }
    async fn telephony_events(&self, call_id: CallId) -> Result<Vec<(String, i64)>> {
        telephony::telephony_events(&self.pool, call_id).await
    }
}

#[async_trait]
impl KnowledgeStore for ThisStore {
    async fn create_knowledge_base(
        &self,
        name: &str,
        description: &str,
        now: DateTime<Utc>,
    ) -> Result<KnowledgeBase> {
        knowledge::create_knowledge_base(&self.pool, name, description, now).await
    }
    async fn knowledge_base(&self, id: i64) -> Result<KnowledgeBase> {
        knowledge::knowledge_base(&self.pool, id).await
    }
    async fn knowledge_bases(&self) -> Result<Vec<KnowledgeBase>> {
        knowledge::knowledge_bases(&self.pool).await
    }
    async fn update_knowledge_base(
        &self,
        id: i64,
        name: &str,
        description: &str,
        now: DateTime<Utc>,
    ) -> Result<KnowledgeBase> {
        knowledge::update_knowledge_base(&self.pool, id, name, description, now).await
    }
    async fn delete_knowledge_base(&self, id: i64) -> Result<()> {
        knowledge::delete_knowledge_base(&self.pool, id).await
    }
    async fn add_document(&self, document: NewKbDocument) -> Result<KbDocument> {
        knowledge::add_document(&self.pool, document).await
    }
    async fn document(&self, id: i64) -> Result<KbDocument> {
        knowledge::document(&self.pool, id).await
    }
    async fn documents(&self, knowledge_base_id: i64) -> Result<Vec<KbDocument>> {
        knowledge::documents(&self.pool, knowledge_base_id).await
    }
    async fn delete_document(&self, id: i64, now: DateTime<Utc>) -> Result<()> {
        knowledge::delete_document(&self.pool, id, now).await
    }
    async fn reindex_knowledge_base(&self, id: i64, now: DateTime<Utc>) -> Result<u64> {
        knowledge::reindex_knowledge_base(&self.pool, id, now).await
    }
    async fn claim_document(
        &self,
        now: DateTime<Utc>,
        stale_after: Duration,
    ) -> Result<Option<ClaimedDocument>> {
        knowledge::claim_document(&self.pool, now, stale_after).await
    }
    async fn document_progress(
        &self,
        id: i64,
        done: i64,
        total: i64,
        now: DateTime<Utc>,
    ) -> Result<()> {
        knowledge::document_progress(&self.pool, id, done, total, now).await
    }
    async fn finish_document(
        &self,
        id: i64,
        model: &str,
        chunks: Vec<NewChunk>,
        now: DateTime<Utc>,
    ) -> Result<()> {
        knowledge::finish_document(&self.pool, id, model, chunks, now).await
    }
    async fn fail_document(&self, id: i64, error: &str, now: DateTime<Utc>) -> Result<()> {
        knowledge::fail_document(&self.pool, id, error, now).await
    }
    async fn chunks(&self, knowledge_base_id: i64) -> Result<Vec<StoredChunk>> {
        knowledge::chunks(&self.pool, knowledge_base_id).await
    }
    async fn chunk_sources(&self, ids: &[i64]) -> Result<Vec<ChunkSource>> {
        knowledge::chunk_sources(&self.pool, ids).await
    }
}

/// `ttl` after `now`, in stored milliseconds.
pub(crate) fn expiry_ms(now: DateTime<Utc>, ttl: Duration) -> i64 {
    to_ms(now) + i64::try_from(ttl.as_millis()).unwrap_or(i64::MAX / 2)
}

fn now_ms() -> i64 {
    to_ms(Utc::now())
}

type Pool = sqlx::Pool<Db>;

/// One keyset page, newest first, of `SELECT {columns} FROM {table}` (optionally `WHERE {filter}`
/// on constant SQL) for the simple lists that take no bound filters.
async fn simple_page<R, T>(
    pool: &Pool,
    columns: &str,
    table: &str,
    filter: Option<&str>,
    page: Page,
    id_of: fn(&R) -> i64,
) -> Result<Paged<T>>
where
    R: for<'r> sqlx::FromRow<'r, <Db as sqlx::Database>::Row> + Send + Unpin,
    T: TryFrom<R, Error = crate::StoreError>,
{
    let page = crate::validate::page(page)?;
    let extra = filter.map(|f| format!(" AND {f}")).unwrap_or_default();
    let sql =
        format!("SELECT {columns} FROM {table} WHERE id < $1{extra} ORDER BY id DESC LIMIT $2");
    let rows: Vec<R> = sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(page.after.unwrap_or(i64::MAX))
        .bind(i64::from(page.limit) + 1)
        .fetch_all(pool)
        .await?;
    crate::rows::paged(rows, page.limit, id_of)
}

/// How many migrations the database records as applied (0 before the first run).
pub(crate) async fn applied_migrations(pool: &Pool) -> i64 {
    sqlx::query_scalar("SELECT COUNT(*) FROM _sqlx_migrations WHERE success = TRUE")
        .fetch_one(pool)
        .await
        .unwrap_or(0)
}
