//! JSON Schema export of every contract type, for the console's generated TypeScript types.

use schemars::{JsonSchema, Schema, schema_for};
use std::collections::BTreeMap;

fn entry<T: JsonSchema>(out: &mut BTreeMap<&'static str, Schema>, name: &'static str) {
    out.insert(name, schema_for!(T));
}

/// Every top-level contract type by file stem (`runtime_config` → `runtime_config.json`).
pub fn export_all() -> BTreeMap<&'static str, Schema> {
    let mut out = BTreeMap::new();
    entry::<crate::runtime_config::RuntimeConfig>(&mut out, "runtime_config");
    entry::<crate::runtime_config::BotSpec>(&mut out, "bot_spec");
    entry::<crate::call_result::CallResult>(&mut out, "call_result");
    entry::<crate::attach::AttachRequest>(&mut out, "attach_request");
    entry::<crate::attach::AttachAccepted>(&mut out, "attach_accepted");
    entry::<crate::health::WorkerHealth>(&mut out, "worker_health");
    entry::<crate::health::FleetHealth>(&mut out, "fleet_health");
    entry::<crate::health::DiallerHealth>(&mut out, "dialler_health");
    entry::<crate::health::PacingDecision>(&mut out, "pacing_decision");
    entry::<crate::CallState>(&mut out, "call_state");
    entry::<crate::CallOutcomeCode>(&mut out, "call_outcome_code");
    entry::<crate::calling_window::CallingWindows>(&mut out, "calling_windows");
    entry::<crate::error::ErrorBody>(&mut out, "error_body");
    entry::<crate::api::ErrorResponse>(&mut out, "error_response");
    entry::<crate::api::TokenResponse>(&mut out, "token_response");
    entry::<crate::api::BotView>(&mut out, "bot_view");
    entry::<crate::api::CampaignView>(&mut out, "campaign_view");
    entry::<crate::api::CallDetail>(&mut out, "call_detail");
    entry::<crate::api::BackendHealth>(&mut out, "backend_health");
    out
}

/// Pretty JSON of one schema, with a trailing newline, as written to `crates/contracts/schema/`.
pub fn render(schema: &Schema) -> String {
    let mut text = serde_json::to_string_pretty(schema).expect("a schema is always JSON");
    text.push('\n');
    text
}
