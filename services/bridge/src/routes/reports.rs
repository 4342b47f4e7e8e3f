//! Reports over a date range (per campaign or bot, by hour or day) and the CSV export.
//!
//! The answering-machine report comes with its evidence of wrong verdicts; the export of call
//! records streams.

use crate::AppState;
use crate::auth::{Authorized, role};
use crate::error::{ApiError, ApiQuery, ApiResult};
use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::get;
use axum::{Json, Router};
use chrono::{DateTime, Utc};
use contracts::{BotId, CampaignId};
use serde::Serialize;
use std::sync::Arc;
use store::{Bucket, CallFilter, ReportCounts, ReportFilter, Store};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/reports/calls", get(report))
        .route("/reports/amd", get(amd_report))
        .route("/calls/export.csv", get(export))
}

#[derive(Debug, serde::Deserialize, schemars::JsonSchema)]
pub(crate) struct ReportQuery {
    since: DateTime<Utc>,
    until: DateTime<Utc>,
    campaign_id: Option<i64>,
    bot_id: Option<i64>,
    #[serde(default)]
    bucket: BucketName,
}

#[derive(Debug, Default, serde::Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub(crate) enum BucketName {
    Hour,
    #[default]
    Day,
}

/// Counts with the rates operators read.
#[derive(Debug, Serialize, schemars::JsonSchema)]
pub(crate) struct Figures {
    calls: i64,
    answered: i64,
    human: i64,
    machine: i64,
    abandoned: i64,
    completed: i64,
    talk_minutes: f64,
    /// Answered / calls.
    answer_rate: f64,
    /// Abandoned / answered by a human.
    abandon_rate: f64,
    /// Average handle time of completed conversations, in seconds.
    aht_seconds: f64,
}

fn ratio(part: i64, whole: i64) -> f64 {
    if whole == 0 {
        0.0
    } else {
        part as f64 / whole as f64
    }
}

pub(crate) fn figures(counts: &ReportCounts) -> Figures {
    let human = counts.answered - counts.machine;
    Figures {
        calls: counts.calls,
        answered: counts.answered,
        human,
        machine: counts.machine,
        abandoned: counts.abandoned,
        completed: counts.completed,
        talk_minutes: counts.talk_ms as f64 / 60_000.0,
        answer_rate: ratio(counts.answered, counts.calls),
        abandon_rate: ratio(counts.abandoned, human),
        aht_seconds: ratio(counts.talk_ms, counts.completed) / 1000.0,
    }
}

#[derive(Debug, Serialize, schemars::JsonSchema)]
pub(crate) struct BucketFigures {
    start: DateTime<Utc>,
    #[serde(flatten)]
    figures: Figures,
}

#[derive(Debug, Serialize, schemars::JsonSchema)]
pub(crate) struct Disposition {
    disposition: String,
    count: i64,
}

#[derive(Debug, Serialize, schemars::JsonSchema)]
pub(crate) struct Report {
    totals: Figures,
    buckets: Vec<BucketFigures>,
    dispositions: Vec<Disposition>,
}

async fn report(
    State(state): State<AppState>,
    _: Authorized<role::Viewer>,
    ApiQuery(query): ApiQuery<ReportQuery>,
) -> ApiResult<Json<Report>> {
    let filter = ReportFilter {
        since: query.since,
        until: query.until,
        campaign_id: query.campaign_id.map(CampaignId),
        bot_id: query.bot_id.map(BotId),
        bucket: match query.bucket {
            BucketName::Hour => Bucket::Hour,
            BucketName::Day => Bucket::Day,
        },
    };
    let report = state.store.call_report(filter).await?;
    Ok(Json(Report {
        totals: figures(&report.totals),
        buckets: report
            .buckets
            .iter()
            .map(|b| BucketFigures {
                start: b.start,
                figures: figures(&b.counts),
            })
            .collect(),
        dispositions: report
            .dispositions
            .into_iter()
            .map(|(disposition, count)| Disposition { disposition, count })
            .collect(),
    }))
}

#[derive(Debug, serde::Deserialize, schemars::JsonSchema)]
pub(crate) struct AmdQuery {
    since: DateTime<Utc>,
    until: DateTime<Utc>,
    campaign_id: Option<i64>,
    bot_id: Option<i64>,
}

/// Answering-machine verdicts over a range and the evidence that some were wrong.
#[derive(Debug, Serialize, schemars::JsonSchema)]
pub(crate) struct AmdReport {
    /// Answered calls that were not machines.
    people: i64,
    /// Machines the carrier caught (never given to a worker).
    carrier_machines: i64,
    /// Machines the bot caught itself.
    bot_machines: i64,
    /// False-negative evidence: passed on as a person, and the callee's first words were a
    /// voicemail greeting.
    machine_taken_for_person: i64,
    /// False-positive evidence: a machine verdict with no message left, and the number called
    /// back within 24 hours.
    callbacks_after_machine: i64,
    /// Machines / answered.
    machine_share: f64,
    /// `machine_taken_for_person` / people.
    false_negative_evidence_rate: f64,
    /// `callbacks_after_machine` / machines.
    false_positive_evidence_rate: f64,
}

async fn amd_report(
    State(state): State<AppState>,
    _: Authorized<role::Viewer>,
    ApiQuery(query): ApiQuery<AmdQuery>,
) -> ApiResult<Json<AmdReport>> {
    let counts = state
        .store
        .amd_report(ReportFilter {
            since: query.since,
            until: query.until,
            campaign_id: query.campaign_id.map(CampaignId),
            bot_id: query.bot_id.map(BotId),
            bucket: Bucket::Day,
        })
        .await?;
    let machines = counts.carrier_machines + counts.bot_machines;
    Ok(Json(AmdReport {
        people: counts.people,
        carrier_machines: counts.carrier_machines,
        bot_machines: counts.bot_machines,
        machine_taken_for_person: counts.machine_taken_for_person,
        callbacks_after_machine: counts.callbacks_after_machine,
        machine_share: ratio(machines, machines + counts.people),
        false_negative_evidence_rate: ratio(counts.machine_taken_for_person, counts.people),
        false_positive_evidence_rate: ratio(counts.callbacks_after_machine, machines),
    }))
}

#[derive(Debug, serde::Deserialize, schemars::JsonSchema)]
pub(crate) struct ExportQuery {
    campaign_id: Option<i64>,
    bot_id: Option<i64>,
    since: Option<DateTime<Utc>>,
    until: Option<DateTime<Utc>>,
}

const EXPORT_PAGE: u32 = 1000;
const EXPORT_HEADER: &str = "id,created_at,direction,state,outcome,disposition,campaign_id,bot_id,bot_version,attempt,from,to,answered_at,ended_at,talk_seconds\n";

/// Operator text as a spreadsheet cell: a leading `=`, `+`, `-`, `@`, tab or carriage return
/// would make it a formula, so it gets a `'` first (L8).
fn cell(text: Option<String>) -> String {
    let text = text.unwrap_or_default();
    if text.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{text}")
    } else {
        text
    }
}

fn csv_page(calls: &[store::Call]) -> ApiResult<Vec<u8>> {
    let mut writer = csv::WriterBuilder::new()
        .has_headers(false)
        .from_writer(Vec::new());
    let text = |v: Option<String>| v.unwrap_or_default();
    for call in calls {
        let talk = match (call.answered_at, call.ended_at) {
            (Some(a), Some(e)) => format!("{:.1}", (e - a).num_milliseconds() as f64 / 1000.0),
            _ => String::new(),
        };
        writer
            .write_record([
                call.id.to_string(),
                call.created_at.to_rfc3339(),
                call.direction.as_str().to_owned(),
                call.state.as_str().to_owned(),
                text(call.outcome.map(|o| o.as_str().to_owned())),
                cell(call.disposition.clone()),
                text(call.campaign_id.map(|c| c.to_string())),
                call.bot_id.to_string(),
                call.bot_version.to_string(),
                call.attempt.to_string(),
                text(call.from.as_ref().map(|n| n.to_string())),
                text(call.to.as_ref().map(|n| n.to_string())),
                text(call.answered_at.map(|t| t.to_rfc3339())),
                text(call.ended_at.map(|t| t.to_rfc3339())),
                talk,
            ])
            .map_err(ApiError::internal)?;
    }
    writer.into_inner().map_err(ApiError::internal)
}

/// Every matching call, newest first, fetched a page at a time while the client reads.
async fn export(
    State(state): State<AppState>,
    _: Authorized<role::Viewer>,
    ApiQuery(query): ApiQuery<ExportQuery>,
) -> ApiResult<impl IntoResponse> {
    let filter = CallFilter {
        campaign_id: query.campaign_id.map(CampaignId),
        bot_id: query.bot_id.map(BotId),
        since: query.since,
        until: query.until,
        ..CallFilter::default()
    };
    let store: Arc<dyn Store> = state.store.clone();
    // The first page is read before answering, so a bad filter is a clean 4xx.
    let first = store
        .list_calls(filter.clone(), store::Page::first(EXPORT_PAGE))
        .await?;
    let head = futures_util::stream::once(async {
        Ok::<_, std::io::Error>(axum::body::Bytes::from_static(EXPORT_HEADER.as_bytes()))
    });
    let pages = futures_util::stream::unfold(Some(first), move |page| {
        let store = store.clone();
        let filter = filter.clone();
        async move {
            let page = page?;
            let chunk = csv_page(&page.items).map_err(|e| std::io::Error::other(e.message));
            let next = match page.next_after {
                None => None,
                Some(after) => match store
                    .list_calls(
                        filter,
                        store::Page {
                            limit: EXPORT_PAGE,
                            after: Some(after),
                        },
                    )
                    .await
                {
                    Ok(next) => Some(next),
                    Err(error) => {
                        return Some((Err(std::io::Error::other(error.to_string())), None));
                    }
                },
            };
            Some((chunk.map(axum::body::Bytes::from), next))
        }
    });
    let body = axum::body::Body::from_stream(futures_util::StreamExt::chain(head, pages));
    Ok((
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8"),
            (
                header::CONTENT_DISPOSITION,
                "attachment; filename=\"calls.csv\"",
            ),
        ],
        body,
    ))
}
