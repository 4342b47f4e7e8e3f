//! What `vox sip` counts, and its `/health` and Prometheus `/metrics` (served by `vox sip`).
//!
//! The gateway updates one `Metrics` as calls come and go: calls up, every final response it
//! gave an INVITE by status code, and what each ended call's RTP carried (packets each way, lost,
//! the caller's jitter as a histogram over calls), and the trunk registration's state and every
//! REGISTER's outcome. `/health` is 200 while the gateway takes calls
//! and 503 once it drains (a load balancer or a trunk's health probe stops sending it calls);
//! `/metrics` is the Prometheus text exposition.

use crate::media::MediaStats;
use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use parking_lot::Mutex;
use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

/// Where the gateway's registration with its trunk stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Registered {
    /// Registered: the last REGISTER got a 2xx.
    Yes,
    /// The registrar answered the last REGISTER with an error (a wrong password: 403).
    Refused,
    /// The registrar could not be reached.
    Failed,
    /// Not registering (no registration, or unregistered at shutdown).
    No,
}

impl Registered {
    fn as_str(self) -> &'static str {
        match self {
            Registered::Yes => "registered",
            Registered::Refused => "refused",
            Registered::Failed => "failed",
            Registered::No => "none",
        }
    }
}

/// The upper bounds (ms) of the jitter histogram's buckets; the last is `+Inf`.
const JITTER_BUCKETS_MS: [u32; 7] = [1, 5, 10, 20, 40, 80, 160];

/// The gateway's counters, shared by its calls and the HTTP routes.
#[derive(Debug, Default)]
pub struct Metrics {
    calls_up: AtomicU64,
    calls_total: AtomicU64,
    /// Packets and connections dropped for coming from outside the allowed networks.
    dropped: AtomicU64,
    draining: AtomicBool,
    /// Final responses to INVITEs, by status code.
    responses: Mutex<BTreeMap<u16, u64>>,
    rtp: Mutex<Rtp>,
    registration: Mutex<Registration>,
    /// The trunk's last answer to an OPTIONS (`None`: not asked), and how many of each.
    trunk: Mutex<(Option<bool>, [u64; 2])>,
}

#[derive(Debug, Clone)]
struct Registration {
    state: Registered,
    /// REGISTER outcomes by `Registered::as_str`.
    outcomes: BTreeMap<&'static str, u64>,
}

impl Default for Registration {
    fn default() -> Self {
        Self {
            state: Registered::No,
            outcomes: BTreeMap::new(),
        }
    }
}

#[derive(Debug, Default, Clone)]
struct Rtp {
    received: u64,
    sent: u64,
    lost: u64,
    /// Calls per jitter bucket (`JITTER_BUCKETS_MS`, then +Inf), not cumulative.
    jitter: [u64; JITTER_BUCKETS_MS.len() + 1],
    jitter_sum_ms: u64,
}

impl Metrics {
    /// An INVITE got its final response.
    pub fn responded(&self, code: u16) {
        *self.responses.lock().entry(code).or_default() += 1;
    }

    /// A REGISTER's outcome (or `No` once the gateway stopped registering).
    pub fn registration(&self, state: Registered) {
        let mut registration = self.registration.lock();
        registration.state = state;
        if state != Registered::No {
            *registration.outcomes.entry(state.as_str()).or_default() += 1;
        }
    }

    /// Where the registration stands, and how many REGISTERs ended `state`.
    pub fn registered(&self) -> Registered {
        self.registration.lock().state
    }

    pub fn registrations(&self, state: Registered) -> u64 {
        let registration = self.registration.lock();
        registration
            .outcomes
            .get(state.as_str())
            .copied()
            .unwrap_or_default()
    }

    /// The trunk answered an OPTIONS keep-alive, or did not.
    pub fn trunk_answered(&self, up: bool) {
        let mut trunk = self.trunk.lock();
        trunk.0 = Some(up);
        trunk.1[usize::from(up)] += 1;
    }

    /// The trunk's last answer to an OPTIONS, when it is asked.
    pub fn trunk_up(&self) -> Option<bool> {
        self.trunk.lock().0
    }

    /// How many OPTIONS the trunk answered (`true`) or left unanswered (`false`).
    pub fn trunk_answers(&self, answered: bool) -> u64 {
        self.trunk.lock().1[usize::from(answered)]
    }

    /// A packet or connection from outside the allowed networks was dropped.
    pub fn dropped_source(&self) {
        self.dropped.fetch_add(1, Ordering::Relaxed);
    }

    /// A call was answered; it counts as up until `call_ended`.
    pub fn call_up(&self) {
        self.calls_up.fetch_add(1, Ordering::Relaxed);
        self.calls_total.fetch_add(1, Ordering::Relaxed);
    }

    /// An answered call is over, with what its RTP carried.
    pub fn call_ended(&self, stats: &MediaStats) {
        self.calls_up.fetch_sub(1, Ordering::Relaxed);
        let mut rtp = self.rtp.lock();
        rtp.received += stats.rtp_in;
        rtp.sent += stats.rtp_out;
        rtp.lost += stats.lost;
        let bucket = JITTER_BUCKETS_MS
            .iter()
            .position(|&bound| stats.jitter_ms <= bound)
            .unwrap_or(JITTER_BUCKETS_MS.len());
        rtp.jitter[bucket] += 1;
        rtp.jitter_sum_ms += u64::from(stats.jitter_ms);
    }

    /// Calls answered and not over.
    pub fn calls_up(&self) -> u64 {
        self.calls_up.load(Ordering::Relaxed)
    }

    /// How many INVITEs got `code` as their final response.
    pub fn responses(&self, code: u16) -> u64 {
        self.responses
            .lock()
            .get(&code)
            .copied()
            .unwrap_or_default()
    }

    pub(crate) fn set_draining(&self) {
        self.draining.store(true, Ordering::Relaxed);
    }

    /// True once the gateway refuses new calls.
    pub fn draining(&self) -> bool {
        self.draining.load(Ordering::Relaxed)
    }

    /// The Prometheus text exposition.
    pub fn prometheus(&self) -> String {
        let mut out = String::new();
        let mut metric = |name: &str, help: &str, kind: &str, value: u64| {
            let _ = writeln!(
                out,
                "# HELP {name} {help}\n# TYPE {name} {kind}\n{name} {value}"
            );
        };
        metric(
            "vox_sip_calls_up",
            "Calls answered and not over.",
            "gauge",
            self.calls_up(),
        );
        metric(
            "vox_sip_calls_total",
            "Calls answered since the start.",
            "counter",
            self.calls_total.load(Ordering::Relaxed),
        );
        metric(
            "vox_sip_dropped_sources_total",
            "SIP packets and connections dropped for coming from outside VOX_SIP_ALLOWED_NETWORKS.",
            "counter",
            self.dropped.load(Ordering::Relaxed),
        );
        metric(
            "vox_sip_draining",
            "1 once the gateway refuses new calls (SIGTERM).",
            "gauge",
            u64::from(self.draining()),
        );
        metric(
            "vox_sip_registered",
            "1 while the gateway is registered with its trunk.",
            "gauge",
            u64::from(self.registered() == Registered::Yes),
        );
        let (trunk_up, asked) = *self.trunk.lock();
        if let Some(up) = trunk_up {
            metric(
                "vox_sip_trunk_up",
                "1 while the trunk answers the gateway's OPTIONS keep-alive.",
                "gauge",
                u64::from(up),
            );
        }
        let rtp = self.rtp.lock().clone();
        metric(
            "vox_sip_rtp_received_packets_total",
            "RTP packets received from phones, over ended calls.",
            "counter",
            rtp.received,
        );
        metric(
            "vox_sip_rtp_sent_packets_total",
            "RTP packets sent to phones, over ended calls.",
            "counter",
            rtp.sent,
        );
        metric(
            "vox_sip_rtp_lost_packets_total",
            "RTP packets from phones that never arrived (sequence gaps), over ended calls.",
            "counter",
            rtp.lost,
        );
        let _ = writeln!(
            out,
            "# HELP vox_sip_invite_responses_total Final responses to INVITEs, by status code.\n# TYPE vox_sip_invite_responses_total counter"
        );
        for (code, count) in self.responses.lock().iter() {
            let _ = writeln!(
                out,
                "vox_sip_invite_responses_total{{code=\"{code}\"}} {count}"
            );
        }
        let _ = writeln!(
            out,
            "# HELP vox_sip_registrations_total REGISTERs sent to the trunk, by outcome.\n# TYPE vox_sip_registrations_total counter"
        );
        for (outcome, count) in &self.registration.lock().outcomes {
            let _ = writeln!(
                out,
                "vox_sip_registrations_total{{outcome=\"{outcome}\"}} {count}"
            );
        }
        if trunk_up.is_some() {
            let _ = writeln!(
                out,
                "# HELP vox_sip_trunk_options_total OPTIONS keep-alives sent to the trunk, by outcome.\n# TYPE vox_sip_trunk_options_total counter\nvox_sip_trunk_options_total{{outcome=\"answered\"}} {}\nvox_sip_trunk_options_total{{outcome=\"unanswered\"}} {}",
                asked[1], asked[0]
            );
        }
        let name = "vox_sip_rtp_jitter_ms";
        let _ = writeln!(
            out,
            "# HELP {name} The caller's RTP interarrival jitter at each call's end, in ms.\n# TYPE {name} histogram"
        );
        let mut cumulative = 0;
        for (i, calls) in rtp.jitter.iter().enumerate() {
            cumulative += calls;
            let bound = JITTER_BUCKETS_MS
                .get(i)
                .map_or_else(|| "+Inf".to_owned(), u32::to_string);
            let _ = writeln!(out, "{name}_bucket{{le=\"{bound}\"}} {cumulative}");
        }
        let _ = writeln!(
            out,
            "{name}_sum {}\n{name}_count {cumulative}",
            rtp.jitter_sum_ms
        );
        out
    }
}

async fn health(State(metrics): State<Arc<Metrics>>) -> Response {
    let draining = metrics.draining();
    let body = serde_json::json!({
        "status": if draining { "draining" } else { "ok" },
        "calls_up": metrics.calls_up(),
        "registration": metrics.registered().as_str(),
        "trunk": metrics.trunk_up().map(|up| if up { "up" } else { "down" }),
    });
    let code = if draining {
        StatusCode::SERVICE_UNAVAILABLE
    } else {
        StatusCode::OK
    };
    (code, axum::Json(body)).into_response()
}

async fn prometheus(State(metrics): State<Arc<Metrics>>) -> Response {
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        metrics.prometheus(),
    )
        .into_response()
}

/// `GET /health` and `GET /metrics`.
pub fn router(metrics: Arc<Metrics>) -> Router {
    Router::new()
        .route("/health", get(health))
        .route("/metrics", get(prometheus))
        .with_state(metrics)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_exposition_counts_responses_by_code_and_bins_each_calls_jitter() {
        let metrics = Metrics::default();
        metrics.responded(200);
        metrics.responded(404);
        metrics.responded(200);
        metrics.call_up();
        metrics.call_up();
        let call = |jitter_ms, lost| MediaStats {
            rtp_in: 100,
            rtp_out: 90,
            lost,
            jitter_ms,
            ..MediaStats::default()
        };
        metrics.call_ended(&call(3, 1));
        let text = metrics.prometheus();
        assert!(text.contains("vox_sip_calls_up 1\n"), "{text}");
        assert!(text.contains("vox_sip_calls_total 2\n"), "{text}");
        assert!(text.contains("vox_sip_invite_responses_total{code=\"200\"} 2\n"));
        assert!(text.contains("vox_sip_invite_responses_total{code=\"404\"} 1\n"));
        assert!(text.contains("vox_sip_rtp_lost_packets_total 1\n"));
        metrics.call_ended(&call(500, 0));
        let text = metrics.prometheus();
        assert!(
            text.contains("vox_sip_rtp_jitter_ms_bucket{le=\"1\"} 0\n"),
            "{text}"
        );
        assert!(
            text.contains("vox_sip_rtp_jitter_ms_bucket{le=\"5\"} 1\n"),
            "{text}"
        );
        assert!(text.contains("vox_sip_rtp_jitter_ms_bucket{le=\"160\"} 1\n"));
        assert!(text.contains("vox_sip_rtp_jitter_ms_bucket{le=\"+Inf\"} 2\n"));
        assert!(text.contains("vox_sip_rtp_jitter_ms_sum 503\nvox_sip_rtp_jitter_ms_count 2\n"));
        assert!(text.contains("vox_sip_rtp_received_packets_total 200\n"));
        assert!(text.contains("vox_sip_calls_up 0\n"));
    }
}
