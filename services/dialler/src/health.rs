//! The dialler's `/health` and `/metrics`, served on `HEALTH_PORT`.
//!
//! `/health` is 503 when no tick ran within the stale limit; `/metrics` is Prometheus text.

use crate::engine::{CampaignMetrics, Engine, Stats, TickReport};
use crate::fleet::FleetClient;
use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use chrono::{DateTime, Utc};
use contracts::health::{DiallerHealth, HealthStatus};
use parking_lot::Mutex;
use std::fmt::Write;
use std::sync::Arc;
use std::sync::atomic::Ordering;

#[derive(Debug, Default, Clone)]
struct Observed {
    leader: bool,
    fencing_token: Option<i64>,
    last_tick: Option<DateTime<Utc>>,
    campaigns: u32,
    active: u32,
    fleet_free: u32,
    stats: Stats,
    per_campaign: Vec<CampaignMetrics>,
}

/// What the health and metrics routes report, updated after every tick.
#[derive(Debug)]
pub struct Monitor {
    observed: Mutex<Observed>,
    stale_after_seconds: u32,
    version: String,
    fleet: Arc<FleetClient>,
}

impl Monitor {
    pub fn new(stale_after_seconds: u32, version: &str, fleet: Arc<FleetClient>) -> Self {
        Self {
            observed: Mutex::new(Observed::default()),
            stale_after_seconds,
            version: version.to_owned(),
            fleet,
        }
    }

    /// Records the engine's state after a tick.
    pub fn update(&self, engine: &Engine, report: &TickReport) {
        let now = engine.stats.last_tick.unwrap_or_else(Utc::now);
        let mut o = self.observed.lock();
        o.leader = report.leader;
        o.fencing_token = engine.fence().map(|f| f.token);
        o.last_tick = engine.stats.last_tick;
        o.campaigns = u32::try_from(report.campaigns).unwrap_or(u32::MAX);
        o.active = u32::try_from(engine.active_calls()).unwrap_or(u32::MAX);
        o.fleet_free = report.fleet_free;
        o.stats = engine.stats.clone();
        o.per_campaign = engine.campaign_metrics(now);
    }

    /// The health document and its HTTP status at `now`.
    pub fn health(&self, now: DateTime<Utc>) -> (StatusCode, DiallerHealth) {
        let o = self.observed.lock().clone();
        let stale = o.last_tick.is_none_or(|t| {
            now - t > chrono::Duration::seconds(i64::from(self.stale_after_seconds))
        });
        let (code, status) = if stale {
            (StatusCode::SERVICE_UNAVAILABLE, HealthStatus::Stale)
        } else if o.leader {
            (StatusCode::OK, HealthStatus::Ok)
        } else {
            (StatusCode::OK, HealthStatus::Standby)
        };
        (
            code,
            DiallerHealth {
                status,
                version: self.version.clone(),
                leader: o.leader,
                fencing_token: o.fencing_token,
                last_tick_at: o.last_tick,
                stale_after_seconds: self.stale_after_seconds,
                campaigns_running: o.campaigns,
                active_dials: o.active,
            },
        )
    }

    /// The Prometheus text exposition of the dialler's counters and per-campaign figures.
    pub fn metrics(&self) -> String {
        let o = self.observed.lock().clone();
        let mut out = String::new();
        let (gauge, counter) = ("gauge", "counter");
        let retries = self.fleet.counters.attach_retries.load(Ordering::Relaxed);
        let attach_errors = self.fleet.counters.attach_errors.load(Ordering::Relaxed);
        let totals: [(&str, &str, &str, f64); 17] = [
            (
                "vox_dialler_leader",
                "1 while this instance holds the leader lease.",
                gauge,
                f64::from(u8::from(o.leader)),
            ),
            (
                "vox_dialler_ticks_total",
                "Loop iterations run.",
                counter,
                o.stats.ticks as f64,
            ),
            (
                "vox_dialler_campaigns_running",
                "Running campaigns at the last tick.",
                gauge,
                f64::from(o.campaigns),
            ),
            (
                "vox_dialler_active_dials",
                "Calls placed and not over (each holds a contact lease).",
                gauge,
                f64::from(o.active),
            ),
            (
                "vox_dialler_fleet_free_slots",
                "Free fleet slots at the last tick.",
                gauge,
                f64::from(o.fleet_free),
            ),
            (
                "vox_dialler_dials_total",
                "Calls placed.",
                counter,
                o.stats.dials as f64,
            ),
            (
                "vox_dialler_answered_total",
                "Calls answered.",
                counter,
                o.stats.answered as f64,
            ),
            (
                "vox_dialler_machines_total",
                "Calls the carrier's AMD called a machine.",
                counter,
                o.stats.machines as f64,
            ),
            (
                "vox_dialler_abandoned_total",
                "Answered calls abandoned (no worker within the grace).",
                counter,
                o.stats.abandoned as f64,
            ),
            (
                "vox_dialler_attached_total",
                "Calls attached to a worker.",
                counter,
                o.stats.attached as f64,
            ),
            (
                "vox_dialler_attach_retries_total",
                "Attach requests passed on to the next worker.",
                counter,
                retries as f64,
            ),
            (
                "vox_dialler_attach_errors_total",
                "Attach requests that failed other than by 429.",
                counter,
                attach_errors as f64,
            ),
            (
                "vox_dialler_carrier_errors_total",
                "Carrier requests that failed.",
                counter,
                o.stats.carrier_errors as f64,
            ),
            (
                "vox_dialler_adopted_total",
                "Calls a previous leader left before a worker had them, ended by this one.",
                counter,
                o.stats.adopted as f64,
            ),
            (
                "vox_dialler_rate_limited_total",
                "Placements the carrier held back for a later tick (rate-limiting).",
                counter,
                o.stats.rate_limited as f64,
            ),
            (
                "vox_dialler_breaker_trips_total",
                "Times every attach failing stopped new dials for a while.",
                counter,
                o.stats.breaker_trips as f64,
            ),
            (
                "vox_dialler_store_errors_total",
                "Store operations that failed.",
                counter,
                o.stats.store_errors as f64,
            ),
        ];
        for (name, help, kind, value) in totals {
            let _ = writeln!(
                out,
                "# HELP {name} {help}\n# TYPE {name} {kind}\n{name} {value}"
            );
        }
        let per = |out: &mut String, name: &str, help: &str, rows: &[(String, f64)]| {
            if rows.is_empty() {
                return;
            }
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} gauge");
            for (labels, value) in rows {
                let _ = writeln!(out, "{name}{{{labels}}} {value}");
            }
        };
        let campaign = |m: &CampaignMetrics| format!("campaign=\"{}\"", m.campaign.0);
        let rows = |f: &dyn Fn(&CampaignMetrics) -> Option<(String, f64)>| -> Vec<(String, f64)> {
            o.per_campaign.iter().filter_map(f).collect()
        };
        per(
            &mut out,
            "vox_dialler_answer_rate",
            "Share of recent dials answered by a person.",
            &rows(&|m| m.answer_rate.map(|v| (campaign(m), v))),
        );
        per(
            &mut out,
            "vox_dialler_aht_seconds",
            "Average handle time of recent conversations.",
            &rows(&|m| m.aht_secs.map(|v| (campaign(m), v))),
        );
        let mut abandon = rows(&|m| {
            m.abandon_recent
                .map(|v| (format!("{},window=\"30m\"", campaign(m)), v))
        });
        abandon.extend(rows(&|m| {
            m.abandon_legal
                .map(|v| (format!("{},window=\"legal\"", campaign(m)), v))
        }));
        per(
            &mut out,
            "vox_dialler_abandon_rate",
            "Abandoned / answered by a person, per window.",
            &abandon,
        );
        per(
            &mut out,
            "vox_dialler_in_flight",
            "Calls placed and not over, per campaign.",
            &rows(&|m| Some((campaign(m), m.in_flight as f64))),
        );
        per(
            &mut out,
            "vox_dialler_pacing_dials",
            "Dials the last pacing decision placed, by the mode applied.",
            &rows(&|m| {
                m.decision.map(|d| {
                    (
                        format!("{},mode=\"{}\"", campaign(m), d.applied.label()),
                        d.dials as f64,
                    )
                })
            }),
        );
        per(
            &mut out,
            "vox_dialler_pacing_target",
            "The abandon rate the predictive pacer aimed at.",
            &rows(&|m| m.decision.map(|d| (campaign(m), d.alpha))),
        );
        per(
            &mut out,
            "vox_dialler_pacing_k",
            "The abandon feedback multiplier.",
            &rows(&|m| Some((campaign(m), m.k))),
        );
        out
    }
}

async fn health(State(monitor): State<Arc<Monitor>>) -> Response {
    let (code, body) = monitor.health(Utc::now());
    (code, axum::Json(body)).into_response()
}

async fn metrics(State(monitor): State<Arc<Monitor>>) -> Response {
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        monitor.metrics(),
    )
        .into_response()
}

/// `GET /health` and `GET /metrics`.
pub fn router(monitor: Arc<Monitor>) -> Router {
    Router::new()
        .route("/health", get(health))
        .route("/metrics", get(metrics))
        .with_state(monitor)
}
