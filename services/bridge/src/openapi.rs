//! The OpenAPI 3.1 document of the Backend API, served at `/api/v1/openapi.json`.
//!
//! It is built from the route table below and the contract types' JSON Schemas.
//!
//! A unit test reads the route modules' sources and fails when a route is missing here, or an
//! operation here has no route, so the document stays complete.

use crate::routes::{
    calls, capacity, carriers, crm as crm_routes, dial, knowledge_bases, live, ops, reports,
    settings,
};
use contracts::api;
use schemars::generate::SchemaSettings;
use schemars::{JsonSchema, Schema, SchemaGenerator};
use serde_json::{Map, Value, json};

type SchemaFn = fn(&mut SchemaGenerator) -> Schema;

fn of<T: JsonSchema>(generator: &mut SchemaGenerator) -> Schema {
    generator.subschema_for::<T>()
}

/// Who may call an operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Access {
    Public,
    Viewer,
    Operator,
    Admin,
    /// `Authorization: Bearer $VOXCORE_SECRET`.
    Fleet,
    /// A signed link (`expires` and `signature` in the query).
    Signed,
    /// A carrier's webhook, signed the way its vendor signs (`X-Twilio-Signature`, …).
    Carrier,
}

#[derive(Debug, Clone, Copy)]
enum Body {
    None,
    Json(SchemaFn),
    Csv,
    Audio,
    /// A document upload: any of the formats a knowledge base takes.
    Document,
    /// A carrier's form-encoded webhook.
    Form,
    /// A carrier's XML answer (TwiML).
    Xml,
}

struct Op {
    method: &'static str,
    path: &'static str,
    summary: &'static str,
    access: Access,
    query: Option<SchemaFn>,
    request: Body,
    status: u16,
    response: Body,
}

macro_rules! op {
    ($method:literal $path:literal, $access:ident, $summary:literal, query: $query:expr, request: $request:expr, $status:literal => $response:expr) => {
        Op {
            method: $method,
            path: $path,
            summary: $summary,
            access: Access::$access,
            query: $query,
            request: $request,
            status: $status,
            response: $response,
        }
    };
}

fn json<T: JsonSchema>() -> Body {
    Body::Json(of::<T>)
}

fn query<T: JsonSchema>() -> Option<SchemaFn> {
    Some(of::<T>)
}

type Page<T> = api::Page<T>;

fn operations() -> Vec<Op> {
    use Body::None as Nothing;
    vec![
        op!("get" "/health", Public, "Health of the Backend and its dependencies", query: None, request: Nothing, 200 => json::<api::BackendHealth>()),
        op!("get" "/api/v1/openapi.json", Public, "This document", query: None, request: Nothing, 200 => Body::Json(|_| Schema::default())),
        op!("post" "/api/v1/auth/login", Public, "Sign in (rate-limited per account and address)", query: None, request: json::<api::LoginRequest>(), 200 => json::<api::TokenResponse>()),
        op!("post" "/api/v1/auth/refresh", Public, "Trade a refresh token for new tokens", query: None, request: json::<api::RefreshRequest>(), 200 => json::<api::TokenResponse>()),
        op!("post" "/api/v1/auth/logout", Viewer, "Sign out: every session of the user ends (refresh and access tokens)", query: None, request: Nothing, 204 => Body::None),
        op!("get" "/api/v1/auth/me", Viewer, "The signed-in user", query: None, request: Nothing, 200 => json::<api::UserView>()),
        op!("get" "/api/v1/users", Admin, "List users", query: query::<crate::routes::PageQuery>(), request: Nothing, 200 => json::<Page<api::UserView>>()),
        op!("post" "/api/v1/users", Admin, "Create a user", query: None, request: json::<api::CreateUser>(), 201 => json::<api::UserView>()),
        op!("patch" "/api/v1/users/{id}", Admin, "Change a user's name, password, role or disabled flag", query: None, request: json::<api::UpdateUser>(), 200 => json::<api::UserView>()),
        op!("get" "/api/v1/api-keys", Admin, "List API keys (never the keys themselves)", query: query::<crate::routes::PageQuery>(), request: Nothing, 200 => json::<Page<api::ApiKeyView>>()),
        op!("post" "/api/v1/api-keys", Admin, "Create an API key; the key is shown only in this answer", query: None, request: json::<api::CreateApiKey>(), 201 => json::<api::CreatedApiKey>()),
        op!("delete" "/api/v1/api-keys/{id}", Admin, "Revoke an API key", query: None, request: Nothing, 200 => json::<api::ApiKeyView>()),
        op!("get" "/api/v1/bots", Viewer, "List bots", query: query::<crate::routes::bots::ListQuery>(), request: Nothing, 200 => json::<Page<api::BotView>>()),
        op!("post" "/api/v1/bots", Operator, "Create a bot (version 1)", query: None, request: json::<api::SaveBot>(), 201 => json::<api::BotView>()),
        op!("get" "/api/v1/bots/{id}", Viewer, "A bot at its current version", query: None, request: Nothing, 200 => json::<api::BotView>()),
        op!("put" "/api/v1/bots/{id}", Operator, "Save a new version of a bot", query: None, request: json::<api::SaveBot>(), 200 => json::<api::BotView>()),
        op!("post" "/api/v1/bots/{id}/archive", Operator, "Archive a bot: campaigns and numbers can no longer start calls with it; it stays readable", query: None, request: Nothing, 200 => json::<api::BotView>()),
        op!("post" "/api/v1/bots/{id}/restore", Operator, "Put an archived bot back in use", query: None, request: Nothing, 200 => json::<api::BotView>()),
        op!("post" "/api/v1/bots/{id}/test-call", Operator, "Open a web call to the bot on a free fleet worker; the reply's media_url speaks the vox media protocol", query: None, request: Nothing, 201 => json::<contracts::attach::AttachAccepted>()),
        op!("get" "/api/v1/bots/{id}/widget", Viewer, "The bot's website widget: its publishable key, allowed origins and limits", query: None, request: Nothing, 200 => json::<crate::widget::Widget>()),
        op!("put" "/api/v1/bots/{id}/widget", Operator, "Give the bot a website widget or change it (the key is made once and kept)", query: None, request: json::<crate::widget::SaveWidget>(), 200 => json::<crate::widget::Widget>()),
        op!("delete" "/api/v1/bots/{id}/widget", Operator, "Take the bot's website widget away: its key stops working", query: None, request: Nothing, 204 => Body::None),
        op!("post" "/api/v1/widget/calls", Public, "A website visitor's call to a bot, from a page on one of its widget's allowed origins (rate-limited per visitor and key, capped per key); the reply's media_url speaks the vox media protocol", query: None, request: json::<crate::routes::widget::WidgetCallRequest>(), 201 => json::<crate::routes::widget::WidgetCall>()),
        op!("get" "/api/v1/bots/{id}/versions", Viewer, "Every version of a bot, newest first", query: None, request: Nothing, 200 => json::<Vec<api::BotVersionView>>()),
        op!("get" "/api/v1/bots/{id}/versions/{version}", Viewer, "One version of a bot", query: None, request: Nothing, 200 => json::<api::BotVersionView>()),
        op!("get" "/api/v1/providers", Viewer, "The voice providers of each slot (STT, LLM, TTS), and whether this deployment can run them", query: None, request: Nothing, 200 => json::<contracts::local_services::ProviderOffers>()),
        op!("get" "/api/v1/campaigns", Viewer, "List campaigns", query: query::<crate::routes::campaigns::ListQuery>(), request: Nothing, 200 => json::<Page<api::CampaignView>>()),
        op!("post" "/api/v1/campaigns", Operator, "Create a campaign (draft)", query: None, request: json::<api::CampaignSettings>(), 201 => json::<api::CampaignView>()),
        op!("get" "/api/v1/campaigns/{id}", Viewer, "A campaign", query: None, request: Nothing, 200 => json::<api::CampaignView>()),
        op!("put" "/api/v1/campaigns/{id}", Operator, "Change a campaign's settings", query: None, request: json::<api::CampaignSettings>(), 200 => json::<api::CampaignView>()),
        op!("post" "/api/v1/campaigns/{id}/{action}", Operator, "start, pause, resume or complete a campaign", query: None, request: Nothing, 200 => json::<api::CampaignView>()),
        op!("get" "/api/v1/campaigns/{id}/live", Viewer, "A campaign now: its calls by stage, the last hour's rates, the dialler's last pacing decision", query: None, request: Nothing, 200 => json::<live::CampaignLive>()),
        op!("get" "/api/v1/campaigns/{id}/contacts", Viewer, "List a campaign's contacts", query: query::<crate::routes::campaigns::ContactQuery>(), request: Nothing, 200 => json::<Page<api::ContactView>>()),
        op!("post" "/api/v1/campaigns/{id}/contacts", Operator, "Add a JSON batch of contacts, all or nothing", query: None, request: json::<Vec<api::ContactInput>>(), 201 => json::<api::ImportSummary>()),
        op!("post" "/api/v1/campaigns/{id}/contacts/import", Operator, "Import a CSV of contacts, streamed, with a per-row report", query: query::<crate::routes::campaigns::ImportQuery>(), request: Body::Csv, 200 => json::<crate::import::ImportReport>()),
        op!("get" "/api/v1/calls", Viewer, "The call log, filtered and paginated", query: query::<calls::ListQuery>(), request: Nothing, 200 => json::<Page<api::CallSummary>>()),
        op!("get" "/api/v1/calls/{id}", Viewer, "One call with its result and events", query: None, request: Nothing, 200 => json::<api::CallDetail>()),
        op!("get" "/api/v1/calls/{id}/recording", Viewer, "The call's recording; honours Range", query: None, request: Nothing, 200 => Body::Audio),
        op!("get" "/api/v1/calls/{id}/recording/link", Viewer, "A short-lived signed link to the recording", query: None, request: Nothing, 200 => json::<calls::RecordingLink>()),
        op!("get" "/api/v1/recordings/{id}", Signed, "A recording by signed link; honours Range", query: query::<calls::SignedQuery>(), request: Nothing, 200 => Body::Audio),
        op!("get" "/api/v1/calls/export.csv", Viewer, "Call records as CSV, streamed", query: query::<reports::ExportQuery>(), request: Nothing, 200 => Body::Csv),
        op!("get" "/api/v1/config", Fleet, "Runtime config for a call (contract 1); by bot_id or dialled number it opens an inbound call", query: query::<crate::routes::fleet::ConfigQuery>(), request: Nothing, 200 => json::<contracts::runtime_config::RuntimeConfig>()),
        op!("post" "/api/v1/calls/{id}/result", Fleet, "A call's result (contract 2), idempotent", query: None, request: json::<contracts::call_result::CallResult>(), 200 => Body::Json(|_| Schema::default())),
        op!("get" "/api/v1/dnc", Viewer, "The do-not-call list", query: query::<crate::routes::PageQuery>(), request: Nothing, 200 => json::<Page<api::DncView>>()),
        op!("post" "/api/v1/dnc", Operator, "Add a number to the do-not-call list", query: None, request: json::<api::DncInput>(), 201 => json::<api::DncView>()),
        op!("post" "/api/v1/dnc/import", Operator, "Import a CSV of numbers (phone, optional reason) into the list, streamed", query: query::<ops::DncImportQuery>(), request: Body::Csv, 200 => json::<crate::import::ImportReport>()),
        op!("get" "/api/v1/dnc/{phone}", Viewer, "Whether a number is on the list", query: None, request: Nothing, 200 => json::<ops::DncCheck>()),
        op!("delete" "/api/v1/dnc/{phone}", Operator, "Remove a number from the list", query: None, request: Nothing, 204 => Body::None),
        op!("get" "/api/v1/audit", Admin, "The audit log, newest first", query: query::<crate::routes::PageQuery>(), request: Nothing, 200 => json::<Page<api::AuditView>>()),
        op!("get" "/api/v1/reports/calls", Viewer, "Counts and rates by hour or day, and dispositions", query: query::<reports::ReportQuery>(), request: Nothing, 200 => json::<reports::Report>()),
        op!("get" "/api/v1/reports/amd", Viewer, "Answering-machine verdicts (carrier's, bot's) and the evidence of false positives and negatives", query: query::<reports::AmdQuery>(), request: Nothing, 200 => json::<reports::AmdReport>()),
        op!("get" "/api/v1/settings", Admin, "System settings; secrets show no value", query: None, request: Nothing, 200 => json::<Vec<settings::SettingView>>()),
        op!("put" "/api/v1/settings/{key}", Admin, "Save a setting (keys under secrets. are write-only)", query: None, request: json::<settings::SaveSetting>(), 200 => json::<settings::SettingView>()),
        op!("delete" "/api/v1/settings/{key}", Admin, "Remove a setting", query: None, request: Nothing, 204 => Body::None),
        op!("get" "/api/v1/fleet/status", Viewer, "Each fleet's workers, calls and free slots, and the dialler's leader lease", query: None, request: Nothing, 200 => json::<live::FleetStatus>()),
        op!("get" "/api/v1/fleets", Viewer, "The fleet URLs", query: None, request: Nothing, 200 => json::<settings::Fleets>()),
        op!("put" "/api/v1/fleets", Admin, "Replace the fleet URLs", query: None, request: json::<settings::Fleets>(), 200 => json::<settings::Fleets>()),
        op!("get" "/api/v1/inbound-numbers", Viewer, "Inbound numbers and the bots that answer them", query: None, request: Nothing, 200 => json::<Vec<settings::InboundRoute>>()),
        op!("put" "/api/v1/inbound-numbers/{number}", Operator, "Route a number to a bot", query: None, request: json::<settings::RouteBody>(), 200 => json::<settings::InboundRoute>()),
        op!("delete" "/api/v1/inbound-numbers/{number}", Operator, "Stop routing a number", query: None, request: Nothing, 204 => Body::None),
        op!("get" "/api/v1/knowledge-bases", Viewer, "Every knowledge base", query: None, request: Nothing, 200 => json::<Vec<knowledge_bases::BaseView>>()),
        op!("post" "/api/v1/knowledge-bases", Operator, "Create a knowledge base", query: None, request: json::<knowledge_bases::BaseInput>(), 201 => json::<knowledge_bases::BaseView>()),
        op!("get" "/api/v1/knowledge-bases/{id}", Viewer, "A knowledge base with its documents and their indexing status", query: None, request: Nothing, 200 => json::<knowledge_bases::BaseDetail>()),
        op!("put" "/api/v1/knowledge-bases/{id}", Operator, "Rename or describe a knowledge base", query: None, request: json::<knowledge_bases::BaseInput>(), 200 => json::<knowledge_bases::BaseView>()),
        op!("delete" "/api/v1/knowledge-bases/{id}", Operator, "Delete a knowledge base, its documents and chunks", query: None, request: Nothing, 204 => Body::None),
        op!("post" "/api/v1/knowledge-bases/{id}/documents", Operator, "Upload one document (PDF, DOCX, Markdown, HTML or text; at most 25 MiB); unreadable ones are stored as failed with why", query: query::<knowledge_bases::UploadQuery>(), request: Body::Document, 201 => json::<knowledge_bases::DocumentView>()),
        op!("delete" "/api/v1/knowledge-bases/{id}/documents/{document}", Operator, "Delete a document and its chunks", query: None, request: Nothing, 204 => Body::None),
        op!("post" "/api/v1/knowledge-bases/{id}/reindex", Operator, "Queue every document of the base for indexing again", query: None, request: Nothing, 200 => json::<knowledge_bases::Reindexed>()),
        op!("post" "/api/v1/knowledge-bases/{id}/search", Viewer, "Try a hybrid search on a knowledge base", query: None, request: json::<knowledge_bases::SearchInput>(), 200 => json::<knowledge_bases::SearchResults>()),
        op!("post" "/api/v1/knowledge/search", Fleet, "A live call's knowledge search (the search_knowledge tool)", query: None, request: json::<knowledge_bases::CallSearchInput>(), 200 => json::<knowledge_bases::SearchResults>()),
        op!("get" "/api/v1/crm/webhooks/{scope}/{id}", Viewer, "A campaign's or bot's CRM webhook (never its secret)", query: None, request: Nothing, 200 => json::<crm_routes::WebhookView>()),
        op!("put" "/api/v1/crm/webhooks/{scope}/{id}", Operator, "Set a CRM webhook", query: None, request: json::<crate::crm::Webhook>(), 200 => json::<crm_routes::WebhookView>()),
        op!("delete" "/api/v1/crm/webhooks/{scope}/{id}", Operator, "Remove a CRM webhook", query: None, request: Nothing, 204 => Body::None),
        op!("get" "/api/v1/crm/lookups/{scope}/{id}", Viewer, "A campaign's or bot's CRM lookup, asked at call start (never its secret)", query: None, request: Nothing, 200 => json::<crm_routes::WebhookView>()),
        op!("put" "/api/v1/crm/lookups/{scope}/{id}", Operator, "Set a CRM lookup: the URL the Backend POSTs the contact's number and ids to when a call starts, signed like a push; its JSON object becomes contact.crm", query: None, request: json::<crate::crm::Webhook>(), 200 => json::<crm_routes::WebhookView>()),
        op!("delete" "/api/v1/crm/lookups/{scope}/{id}", Operator, "Remove a CRM lookup", query: None, request: Nothing, 204 => Body::None),
        op!("post" "/api/v1/fleet/drain", Operator, "Drain or put back one worker or every worker of a host: a drained worker keeps its calls and gets no new one (409 without a capacity registry)", query: None, request: json::<capacity::DrainRequest>(), 200 => json::<capacity::DrainRequest>()),
        op!("get" "/api/v1/fleet/quotas/campaign/{id}", Viewer, "A campaign's quota of slots held at once (null: none)", query: None, request: Nothing, 200 => json::<capacity::QuotaRequest>()),
        op!("put" "/api/v1/fleet/quotas/campaign/{id}", Operator, "Set or lift (null) a campaign's quota of slots held at once", query: None, request: json::<capacity::QuotaRequest>(), 200 => json::<capacity::QuotaRequest>()),
        op!("get" "/api/v1/fleet/quotas/client/{client}", Viewer, "A client's quota of slots held at once by all the calls made for it (null: none)", query: None, request: Nothing, 200 => json::<capacity::QuotaRequest>()),
        op!("put" "/api/v1/fleet/quotas/client/{client}", Operator, "Set or lift (null) a client's quota of slots held at once (its campaigns' and inbound numbers' calls)", query: None, request: json::<capacity::QuotaRequest>(), 200 => json::<capacity::QuotaRequest>()),
        op!("get" "/api/v1/crm/deliveries", Viewer, "The CRM outbox", query: query::<crm_routes::ListQuery>(), request: Nothing, 200 => json::<Page<crm_routes::DeliveryView>>()),
        op!("post" "/api/v1/crm/deliveries/{id}/retry", Operator, "Requeue a dead-lettered delivery", query: None, request: Nothing, 200 => json::<crm_routes::DeliveryView>()),
        op!("post" "/api/v1/calls", Operator, "Call a number now with a bot through a carrier account (DNC and calling windows checked first)", query: None, request: json::<dial::DialBody>(), 201 => json::<dial::Dialled>()),
        op!("get" "/api/v1/carrier-accounts", Viewer, "Carrier accounts (never their secrets) and the webhook URLs to give each carrier", query: None, request: Nothing, 200 => json::<Vec<carriers::AccountView>>()),
        op!("post" "/api/v1/carrier-accounts", Admin, "Add a carrier account (Twilio, Telnyx, Plivo or Vonage); a Telnyx account needs its public key, a Vonage account its signature secret", query: None, request: json::<carriers::NewAccountBody>(), 201 => json::<carriers::AccountView>()),
        op!("put" "/api/v1/carrier-accounts/{id}", Admin, "Save a carrier account; a missing secret or webhook key keeps the saved one; its carrier cannot change (409)", query: None, request: json::<carriers::AccountBody>(), 200 => json::<carriers::AccountView>()),
        op!("post" "/api/v1/calls/{id}/transfer", Fleet, "A worker's bot transfers its caller: the edge moves the call to the number through its carrier", query: None, request: json::<crate::routes::telephony::TransferBody>(), 204 => Body::None),
        op!("post" "/api/v1/calls/{id}/digits", Fleet, "A worker's bot presses keys on its call with the carrier's own verb (Telnyx, Vonage, Plivo); a carrier without one answers 422 and the worker plays the tones itself", query: None, request: json::<crate::routes::telephony::DigitsBody>(), 204 => Body::None),
        op!("post" "/api/v1/telephony/{carrier}/{account}/{hook}", Carrier, "A carrier's webhook (Twilio: voice, status, amd; Telnyx: call; Plivo: answer, ring, hangup, amd, transfer, farewell; Vonage: answer, event; vox sip, with the fleet secret: invite, ended), verified, kept, then answered in the carrier's verbs", query: None, request: Body::Form, 200 => Body::Xml),
        op!("get" "/api/v1/telephony/exotel/{account}/{key}/{hook}", Carrier, "Exotel's applets (the URL carries the account's key; Exotel signs nothing): voicebot answers the stream's URL, greeting the words a refused call hears (text/plain)", query: None, request: Nothing, 200 => json::<crate::routes::telephony::StreamUrl>()),
        op!("post" "/api/v1/telephony/exotel/{account}/{key}/{hook}", Carrier, "Exotel's status callback (form, multipart form or JSON), behind the account's key, kept once", query: None, request: Body::Form, 204 => Body::None),
    ]
}

fn content(body: Body, generator: &mut SchemaGenerator) -> Option<Value> {
    match body {
        Body::None => None,
        Body::Json(schema) => Some(json!({ "application/json": { "schema": schema(generator) } })),
        Body::Csv => Some(json!({ "text/csv": { "schema": { "type": "string" } } })),
        Body::Document => Some(
            json!({ "application/octet-stream": { "schema": { "type": "string", "format": "binary", "minLength": 1 } } }),
        ),
        Body::Form => Some(
            json!({ "application/x-www-form-urlencoded": { "schema": { "type": "object", "additionalProperties": { "type": "string" } } } }),
        ),
        Body::Xml => Some(json!({ "application/xml": { "schema": { "type": "string" } } })),
        Body::Audio => {
            Some(json!({ "audio/wav": { "schema": { "type": "string", "format": "binary" } } }))
        }
    }
}

/// The schema of a path parameter, by its name (the same name means the same thing in every
/// route; a unit test checks every name is known).
fn path_parameter(name: &str, generator: &mut SchemaGenerator) -> Option<Value> {
    let schema = match name {
        // Row ids: integers from 1 (0 and below name nothing; axum refuses what is not an i64).
        "id" | "version" | "document" => {
            json!({ "type": "integer", "format": "int64", "minimum": 1 })
        }
        "phone" | "number" => contracts::shape::phone(generator).to_value(),
        "action" => of::<crate::routes::campaigns::Action>(generator).to_value(),
        "scope" => of::<crate::crm::Scope>(generator).to_value(),
        "key" => of::<settings::SettingKey>(generator).to_value(),
        "client" => json!({ "type": "string", "pattern": contracts::shape::CLIENT_NAME }),
        // A carrier's webhook URL, as the Backend gave it: anything else is 404.
        "carrier" | "account" | "hook" => json!({ "type": "string" }),
        _ => return None,
    };
    Some(schema)
}

fn parameters(op: &Op, generator: &mut SchemaGenerator) -> Vec<Value> {
    let mut out: Vec<Value> = op
        .path
        .split('/')
        .filter_map(|segment| segment.strip_prefix('{')?.strip_suffix('}'))
        .map(|name| {
            let schema = path_parameter(name, generator).unwrap_or_else(|| {
                panic!("path parameter {{{name}}} has no schema in path_parameter")
            });
            json!({ "name": name, "in": "path", "required": true, "schema": schema })
        })
        .collect();
    if let Some(query) = op.query {
        // Inline the query type and list its properties as parameters.
        let schema = query(&mut SchemaGenerator::new(
            settings().with(|s| s.inline_subschemas = true),
        ));
        let object = schema.as_object().cloned().unwrap_or_default();
        let required: Vec<String> = object
            .get("required")
            .and_then(Value::as_array)
            .map(|names| {
                names
                    .iter()
                    .filter_map(|n| n.as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default();
        if let Some(Value::Object(properties)) = object.get("properties") {
            for (name, property) in properties {
                let schema = without_null(property.clone());
                out.push(json!({ "name": name, "in": "query", "required": required.contains(name), "schema": schema }));
            }
        }
    }
    out
}

/// What a request must also satisfy that relates two of its values, which JSON Schema cannot say
/// (the fuzzer's hooks in scripts/fuzz/hooks.py keep its valid cases within these).
fn rules(method: &str, path: &str) -> &'static str {
    match (method, path) {
        ("post", "/api/v1/bots") | ("put", "/api/v1/bots/{id}") => {
            " Also: webhook tool names are unique and `search_knowledge` appears once; analysis field names are unique and an `enum` field lists options; a tool's `required` names its own properties; every `{{name}}` in the prompt and first message is a declared variable or a built-in one; a flow's `start` and every step it leads to exist; each voice chain (`stt`, `tts`, and `llm` unless the bot is a flow) has a provider this deployment can run, as `GET /api/v1/providers` says (422 naming the field otherwise)."
        }
        ("get", "/api/v1/reports/calls") | ("get", "/api/v1/reports/amd") => {
            " Also: `until` is after `since`, at most 400 days later (422 otherwise)."
        }
        ("post", "/api/v1/campaigns") | ("put", "/api/v1/campaigns/{id}") => {
            " Also: `ends_at`, when given with `starts_at`, is after it (422 otherwise)."
        }
        ("post", "/api/v1/campaigns/{id}/contacts") => {
            " Also: each number appears once in the batch (422 naming the row otherwise)."
        }
        ("post", "/api/v1/campaigns/{id}/contacts/import") | ("post", "/api/v1/dnc/import") => {
            " Also: the CSV's header names the phone column (`phone_column`, `phone` by default; 422 otherwise)."
        }
        ("get", "/api/v1/config") => {
            " Also: give `call_id` alone (a call the Backend opened), or `bot_id` and/or `to` (an inbound or web call it opens now; 422 otherwise)."
        }
        ("post", "/api/v1/calls/{id}/result") => {
            " Also: the body's `call_id` is the URL's, and `timings.ended_at` is not before `timings.started_at` (422 otherwise)."
        }
        _ => "",
    }
}

/// A query parameter's schema from its `Option<T>` field's: a parameter is absent or a value,
/// never `null` (which would be sent as the text "null").
fn without_null(mut schema: Value) -> Value {
    let Some(object) = schema.as_object_mut() else {
        return schema;
    };
    if let Some(Value::Array(types)) = object.get_mut("type") {
        types.retain(|t| t != "null");
        if types.len() == 1 {
            let only = types[0].clone();
            object.insert("type".into(), only);
        }
    }
    if let Some(Value::Array(values)) = object.get_mut("enum") {
        values.retain(|v| !v.is_null());
    }
    if let Some(Value::Array(branches)) = object.get_mut("anyOf") {
        branches.retain(|b| b.get("type") != Some(&json!("null")));
        if branches.len() == 1 {
            let only = branches.remove(0);
            object.remove("anyOf");
            if let Value::Object(fields) = only {
                object.extend(fields);
            }
        }
    }
    schema
}

/// JSON Schema 2020-12, OpenAPI 3.1's dialect (`null` is a type; no `nullable`), with the
/// definitions under `components/schemas`.
fn settings() -> SchemaSettings {
    SchemaSettings::draft2020_12().with(|s| {
        s.definitions_path = "/components/schemas".into();
        s.meta_schema = None;
    })
}

/// The shape of an RFC 3339 date-time, as chrono reads one.
const DATE_TIME_PATTERN: &str = "^[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt ][0-9]{2}:[0-9]{2}:[0-9]{2}(\\.[0-9]+)?([Zz]|[+-][0-9]{2}:[0-9]{2})$";

/// Gives every integer with a `format` the bounds of its Rust type, so that the document does not
/// admit a number the server cannot parse (JSON Schema's integers are unbounded).
fn bound_integers(value: &mut Value) {
    match value {
        Value::Object(object) => {
            let bounds: Option<(Value, Value)> = match object.get("format").and_then(Value::as_str)
            {
                Some("int64") => Some((i64::MIN.into(), i64::MAX.into())),
                Some("int32") => Some((i32::MIN.into(), i32::MAX.into())),
                Some("uint64" | "uint") => Some((0.into(), u64::MAX.into())),
                Some("uint32") => Some((0.into(), u32::MAX.into())),
                Some("uint16") => Some((0.into(), u16::MAX.into())),
                Some("uint8") => Some((0.into(), u8::MAX.into())),
                _ => None,
            };
            if let Some((low, high)) = bounds {
                object.entry("minimum").or_insert(low);
                object.entry("maximum").or_insert(high);
            }
            // `format` alone is an annotation in JSON Schema 2020-12: the shape of RFC 3339
            // (what chrono reads) is asserted too, so an empty string is no date-time.
            if object.get("format").and_then(Value::as_str) == Some("date-time") {
                object.entry("pattern").or_insert(json!(DATE_TIME_PATTERN));
            }
            object.values_mut().for_each(bound_integers);
        }
        Value::Array(items) => items.iter_mut().for_each(bound_integers),
        _ => {}
    }
}

/// The whole document.
pub fn document() -> Value {
    let mut generator = settings().into_generator();
    let error = of::<api::ErrorResponse>(&mut generator);
    let mut paths: Map<String, Value> = Map::new();
    for op in operations() {
        let security = match op.access {
            Access::Public | Access::Signed | Access::Carrier => json!([]),
            Access::Fleet => json!([{ "fleetSecret": [] }]),
            _ => json!([{ "bearer": [] }]),
        };
        let role = match op.access {
            Access::Viewer => " Needs the viewer role or higher.",
            Access::Operator => " Needs the operator role or higher.",
            Access::Admin => " Needs the admin role.",
            _ => "",
        };
        let mut responses = Map::new();
        let mut ok = json!({ "description": "Success" });
        if let Some(body) = content(op.response, &mut generator) {
            ok["content"] = body;
        }
        responses.insert(op.status.to_string(), ok);
        responses.insert(
            "default".into(),
            json!({ "description": "An error: {\"error\": {\"code\", \"message\", \"field\"}}", "content": { "application/json": { "schema": error } } }),
        );
        let mut operation = json!({
            "summary": op.summary,
            "description": format!("{}.{role}{}", op.summary, rules(op.method, op.path)),
            "parameters": parameters(&op, &mut generator),
            "security": security,
            "responses": responses,
        });
        if let Some(body) = content(op.request, &mut generator) {
            operation["requestBody"] = json!({ "required": true, "content": body });
        }
        let entry = paths.entry(op.path.to_owned()).or_insert_with(|| json!({}));
        entry[op.method] = operation;
    }
    let mut schemas: Map<String, Value> = generator.take_definitions(true).into_iter().collect();
    // A campaign's `dialler` object is free-form in Rust; its rules live with its check.
    for schema in schemas.values_mut() {
        if schema.pointer("/properties/calling_windows").is_none() {
            continue; // not a campaign's settings (the fleet status has a `dialler` too)
        }
        if let Some(dialler) = schema.pointer_mut("/properties/dialler") {
            *dialler = store::dialler_settings::schema();
        }
    }
    let mut document = json!({
        "openapi": "3.1.0",
        "info": { "title": "vox Backend API", "version": env!("CARGO_PKG_VERSION") },
        "paths": paths,
        "components": {
            "schemas": schemas,
            "securitySchemes": {
                "bearer": { "type": "http", "scheme": "bearer", "description": "A JWT access token or an API key (vox_…)" },
                "fleetSecret": { "type": "http", "scheme": "bearer", "description": "VOXCORE_SECRET, for fleet workers" }
            }
        }
    });
    bound_integers(&mut document);
    document
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    /// `(method, path)` of every `.route(...)` in the route modules' sources.
    fn routes_in_source() -> BTreeSet<(String, String)> {
        let sources = [
            ("", "routes/health.rs", include_str!("routes/health.rs")),
            ("/api/v1", "routes/auth.rs", include_str!("routes/auth.rs")),
            (
                "/api/v1",
                "routes/users.rs",
                include_str!("routes/users.rs"),
            ),
            ("/api/v1", "routes/bots.rs", include_str!("routes/bots.rs")),
            (
                "/api/v1",
                "routes/campaigns.rs",
                include_str!("routes/campaigns.rs"),
            ),
            (
                "/api/v1",
                "routes/calls.rs",
                include_str!("routes/calls.rs"),
            ),
            (
                "/api/v1",
                "routes/fleet.rs",
                include_str!("routes/fleet.rs"),
            ),
            ("/api/v1", "routes/ops.rs", include_str!("routes/ops.rs")),
            (
                "/api/v1",
                "routes/reports.rs",
                include_str!("routes/reports.rs"),
            ),
            (
                "/api/v1",
                "routes/settings.rs",
                include_str!("routes/settings.rs"),
            ),
            ("/api/v1", "routes/crm.rs", include_str!("routes/crm.rs")),
            ("/api/v1", "routes/live.rs", include_str!("routes/live.rs")),
            (
                "/api/v1",
                "routes/capacity.rs",
                include_str!("routes/capacity.rs"),
            ),
            (
                "/api/v1",
                "routes/test_call.rs",
                include_str!("routes/test_call.rs"),
            ),
            (
                "/api/v1",
                "routes/knowledge_bases.rs",
                include_str!("routes/knowledge_bases.rs"),
            ),
            ("/api/v1", "routes/dial.rs", include_str!("routes/dial.rs")),
            (
                "/api/v1",
                "routes/widget.rs",
                include_str!("routes/widget.rs"),
            ),
            (
                "/api/v1",
                "routes/carriers.rs",
                include_str!("routes/carriers.rs"),
            ),
            (
                "/api/v1",
                "routes/telephony",
                include_str!("routes/telephony/mod.rs"),
            ),
            ("/api/v1", "routes/mod.rs", include_str!("routes/mod.rs")),
        ];
        // Every route file is read here: a new one cannot be left out of this check.
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src/routes");
        for entry in std::fs::read_dir(&dir).unwrap() {
            let name = format!("routes/{}", entry.unwrap().file_name().to_string_lossy());
            assert!(
                sources.iter().any(|(_, file, _)| *file == name),
                "{name} is not read by routes_in_source: add it"
            );
        }
        let mut found = BTreeSet::new();
        for (prefix, _, source) in sources {
            let compact: String = source.split_whitespace().collect();
            for piece in compact.split(".route(\"").skip(1) {
                let Some((path, rest)) = piece.split_once("\",") else {
                    continue;
                };
                // The handlers end with the route call; the router function ends at its `}`.
                let rest = rest.split('}').next().unwrap_or(rest);
                let handlers = rest.split(".layer(").next().unwrap_or(rest);
                for method in ["get", "post", "put", "patch", "delete"] {
                    let called = handlers.starts_with(&format!("{method}("))
                        || handlers.contains(&format!(").{method}("));
                    if called {
                        found.insert((method.to_owned(), format!("{prefix}{path}")));
                    }
                }
            }
        }
        found
    }

    /// The console generates its API types from this copy (`npm run gen:api`), so it is never
    /// written twice by hand and never stale.
    #[test]
    fn the_consoles_copy_of_the_document_is_current() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../console/src/api/openapi.json");
        let text = serde_json::to_string_pretty(&document()).unwrap() + "\n";
        if std::env::var_os("VOX_UPDATE_SCHEMAS").is_some() {
            std::fs::write(&path, &text).unwrap();
            return;
        }
        let committed = std::fs::read_to_string(&path).unwrap_or_default();
        assert!(
            committed == text,
            "{} is out of date: run `VOX_UPDATE_SCHEMAS=1 cargo test -p bridge --lib openapi` and commit it",
            path.display()
        );
    }

    #[test]
    fn every_route_is_documented_and_every_operation_has_a_route() {
        let documented: BTreeSet<(String, String)> = operations()
            .iter()
            .map(|op| (op.method.to_owned(), op.path.to_owned()))
            .collect();
        let mut routed = routes_in_source();
        routed.insert(("get".into(), "/api/v1/openapi.json".into()));
        let undocumented: Vec<_> = routed.difference(&documented).collect();
        let unrouted: Vec<_> = documented.difference(&routed).collect();
        assert!(
            undocumented.is_empty(),
            "routes missing from the OpenAPI document: {undocumented:?}"
        );
        assert!(
            unrouted.is_empty(),
            "documented operations without a route: {unrouted:?}"
        );
        assert!(routed.len() > 40);
    }

    #[test]
    fn the_document_resolves_every_schema_reference() {
        let document = document();
        let text = document.to_string();
        let schemas = document["components"]["schemas"].as_object().unwrap();
        for reference in text.split("\"$ref\":\"#/components/schemas/").skip(1) {
            let name = reference.split('"').next().unwrap();
            assert!(schemas.contains_key(name), "unresolved $ref {name}");
        }
        assert!(schemas.contains_key("BotSpec"));
        assert_eq!(
            document["paths"]["/api/v1/bots/{id}"]["put"]["parameters"][0]["name"],
            "id"
        );
    }
}
