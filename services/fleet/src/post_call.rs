//! After the call: transcript, outcome, QC findings and analysis, as contract 2's `CallResult`.
//!
//! QC rules come in two kinds. The worker always checks its own timeline (`no_long_silence`,
//! `bot_did_not_talk_over_caller`). A bot's rule whose description is `must_say: <phrase>` or
//! `must_not_say: <phrase>` is checked on what the caller heard; any other rule is judged by the
//! analysis LLM from the transcript, in the same request that fills the analysis fields.

use contracts::CallOutcomeCode;
use contracts::call_result::{QcFinding, Speaker, TranscriptEntry};
use contracts::runtime_config::{AnalysisField, AnalysisFieldKind, BotSpec, QcRule};
use futures_util::StreamExt;
use pipeline::{
    CallEvent, EndReason, IdleStep, LanguageModel, LlmEvent, LlmRequest, Message, SessionReport,
    SystemFrame,
};
use serde_json::{Map, Value, json};
use std::sync::Arc;
use std::time::Duration;

/// A gap longer than this with nobody speaking fails `no_long_silence`.
pub const LONG_SILENCE: Duration = Duration::from_secs(10);

/// What the session's log says, in contract terms.
#[derive(Debug, Clone, Default)]
pub struct Conversation {
    pub transcript: Vec<TranscriptEntry>,
    pub disposition: Option<String>,
    /// Fields a flow collected.
    pub fields: Map<String, Value>,
    /// Replies started on a draft of the caller's turn and thrown away.
    pub drafts_dropped: u32,
}

/// Builds the transcript (who said what and when) from the session's events.
pub fn conversation(report: &SessionReport) -> Conversation {
    let mut out = Conversation::default();
    for logged in &report.events {
        let at_ms = logged.at.as_millis() as u64;
        let entry = |speaker, text: &str, interrupted, detail| TranscriptEntry {
            speaker,
            text: text.to_owned(),
            at_ms,
            interrupted,
            detail,
        };
        match &logged.event {
            SystemFrame::Call(CallEvent::UserSaid(text)) => {
                out.transcript.push(entry(Speaker::User, text, false, None));
            }
            SystemFrame::AssistantHeard { text, interrupted } if !text.trim().is_empty() => {
                out.transcript
                    .push(entry(Speaker::Assistant, text, *interrupted, None));
            }
            SystemFrame::Call(CallEvent::ToolCalled(call)) => {
                let detail = json!({
                    "name": call.name,
                    "arguments": call.arguments,
                    "result": call.result,
                    "duration_ms": call.duration.as_millis() as u64,
                });
                out.transcript
                    .push(entry(Speaker::Tool, &call.name, false, Some(detail)));
            }
            SystemFrame::Call(CallEvent::Turn(decision)) => {
                let verdict = if decision.complete {
                    "complete"
                } else {
                    "incomplete"
                };
                let detail = json!({
                    "kind": "turn",
                    "complete": decision.complete,
                    "probability": decision.probability,
                    "inference_ms": decision.inference.as_secs_f64() * 1_000.0,
                });
                out.transcript.push(entry(
                    Speaker::System,
                    &format!("turn {verdict}"),
                    false,
                    Some(detail),
                ));
            }
            SystemFrame::Call(CallEvent::Interruption(record)) => {
                let kind = record.kind.as_str();
                let detail = json!({
                    "kind": "interruption",
                    "verdict": kind,
                    "heard": record.text,
                    "paused_ms": record.paused.as_millis() as u64,
                });
                out.transcript.push(entry(
                    Speaker::System,
                    &format!("interruption {kind}"),
                    false,
                    Some(detail),
                ));
            }
            SystemFrame::Call(CallEvent::Idle(step)) => {
                let (text, detail) = match step {
                    IdleStep::Prompt { number, of } => (
                        format!("idle prompt {number} of {of}"),
                        json!({"kind": "idle", "step": "prompt", "number": number, "of": of}),
                    ),
                    IdleStep::Goodbye => (
                        "idle goodbye".to_owned(),
                        json!({"kind": "idle", "step": "goodbye"}),
                    ),
                };
                out.transcript
                    .push(entry(Speaker::System, &text, false, Some(detail)));
            }
            SystemFrame::Call(CallEvent::DraftDropped) => out.drafts_dropped += 1,
            SystemFrame::Call(CallEvent::Disposition(value)) => {
                out.disposition = Some(value.clone());
            }
            SystemFrame::Call(CallEvent::Field { name, value }) => {
                out.fields.insert(name.clone(), value.clone());
            }
            SystemFrame::Error(error) => {
                let text = format!("{} failed: {}", error.source, error.message);
                out.transcript
                    .push(entry(Speaker::System, &text, false, None));
            }
            _ => {}
        }
    }
    out
}

/// The outcome code of a session's end; `stt`, `llm`, `tts` name the providers of each chain.
pub fn outcome(reason: &EndReason, spec: &BotSpec) -> CallOutcomeCode {
    match reason {
        EndReason::CallerHungUp => CallOutcomeCode::CallCallerHangup,
        EndReason::BotEnded => CallOutcomeCode::CallBotHangup,
        EndReason::Transferred { .. } => CallOutcomeCode::CallTransferred,
        EndReason::MaxDuration => CallOutcomeCode::CallMaxDuration,
        EndReason::SilenceTimeout => CallOutcomeCode::CallSilenceTimeout,
        EndReason::IdleTimeout => CallOutcomeCode::CallIdleTimeout,
        EndReason::ProviderFailed { provider, .. } => {
            let in_chain = |settings: &contracts::runtime_config::ProviderSettings| {
                let mut next = Some(settings);
                while let Some(s) = next {
                    if provider.starts_with(&s.provider) {
                        return true;
                    }
                    next = s.fallback.as_deref();
                }
                false
            };
            if in_chain(&spec.stt) {
                CallOutcomeCode::ProviderSttFailed
            } else if in_chain(&spec.tts) {
                CallOutcomeCode::ProviderTtsFailed
            } else {
                CallOutcomeCode::ProviderLlmFailed
            }
        }
        EndReason::Internal(_) => CallOutcomeCode::FleetWorkerLost,
    }
}

/// Speaking intervals the call loop saw, for the timeline checks.
#[derive(Debug, Clone, Default)]
pub struct Timeline {
    /// `(start, end)` of each stretch of caller speech.
    pub user: Vec<(Duration, Duration)>,
    /// When the bot started speaking.
    pub bot_starts: Vec<Duration>,
    /// When the call's audio ended.
    pub end: Duration,
    /// When the bot was last heard or the caller last spoke, in order.
    pub activity: Vec<Duration>,
}

/// The worker's own checks and the bot's phrase rules.
pub fn qc_findings(
    spec: &BotSpec,
    conversation: &Conversation,
    timeline: &Timeline,
) -> (Vec<QcFinding>, Vec<QcRule>) {
    let mut findings = Vec::new();
    let mut points = timeline.activity.clone();
    points.push(timeline.end);
    points.sort();
    let longest = points
        .windows(2)
        .map(|w| w[1].saturating_sub(w[0]))
        .max()
        .unwrap_or_default();
    findings.push(QcFinding {
        rule: "no_long_silence".to_owned(),
        passed: longest <= LONG_SILENCE,
        note: Some(format!("longest gap {:.1} s", longest.as_secs_f64())),
    });
    let over = timeline
        .bot_starts
        .iter()
        .filter(|start| timeline.user.iter().any(|(a, b)| a < *start && *start < b))
        .count();
    findings.push(QcFinding {
        rule: "bot_did_not_talk_over_caller".to_owned(),
        passed: over == 0,
        note: (over > 0)
            .then(|| format!("the bot started speaking over the caller {over} time(s)")),
    });
    let heard: String = conversation
        .transcript
        .iter()
        .filter(|e| e.speaker == Speaker::Assistant)
        .map(|e| e.text.to_lowercase())
        .collect::<Vec<_>>()
        .join(" ");
    let mut for_llm = Vec::new();
    for rule in &spec.qc_rules {
        let description = rule.description.trim();
        if let Some(phrase) = description.strip_prefix("must_say:") {
            let phrase = phrase.trim().trim_matches('"').to_lowercase();
            findings.push(QcFinding {
                rule: rule.name.clone(),
                passed: heard.contains(&phrase),
                note: Some(format!("the bot must say \"{phrase}\"")),
            });
        } else if let Some(phrase) = description.strip_prefix("must_not_say:") {
            let phrase = phrase.trim().trim_matches('"').to_lowercase();
            findings.push(QcFinding {
                rule: rule.name.clone(),
                passed: !heard.contains(&phrase),
                note: Some(format!("the bot must not say \"{phrase}\"")),
            });
        } else {
            for_llm.push(rule.clone());
        }
    }
    (findings, for_llm)
}

/// What the analysis LLM returned, checked against the bot's schema.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Analysis {
    pub fields: Map<String, Value>,
    pub findings: Vec<QcFinding>,
    /// Why analysis was skipped or partial, when it was.
    pub problem: Option<String>,
}

fn field_schema(field: &AnalysisField) -> Value {
    match field.kind {
        AnalysisFieldKind::String => json!({"type": "string"}),
        AnalysisFieldKind::Number => json!({"type": "number"}),
        AnalysisFieldKind::Boolean => json!({"type": "boolean"}),
        AnalysisFieldKind::Enum => json!({"type": "string", "enum": field.options}),
    }
}

fn valid(field: &AnalysisField, value: &Value) -> bool {
    match field.kind {
        AnalysisFieldKind::String => value.is_string(),
        AnalysisFieldKind::Number => value.is_number(),
        AnalysisFieldKind::Boolean => value.is_boolean(),
        AnalysisFieldKind::Enum => value
            .as_str()
            .is_some_and(|v| field.options.iter().any(|o| o == v)),
    }
}

/// The first balanced `{…}` in `text` that parses as JSON.
fn first_json_object(text: &str) -> Option<Value> {
    let bytes = text.as_bytes();
    let mut start = 0;
    while let Some(offset) = text[start..].find('{') {
        let open = start + offset;
        let (mut depth, mut in_string, mut escaped) = (0i32, false, false);
        for (i, &b) in bytes.iter().enumerate().skip(open) {
            match (in_string, escaped, b) {
                (true, true, _) => escaped = false,
                (true, false, b'\\') => escaped = true,
                (true, false, b'"') => in_string = false,
                (false, _, b'"') => in_string = true,
                (false, _, b'{') => depth += 1,
                (false, _, b'}') => {
                    depth -= 1;
                    if depth == 0 {
                        if let Ok(value) = serde_json::from_str(&text[open..=i]) {
                            return Some(value);
                        }
                        break;
                    }
                }
                _ => {}
            }
        }
        start = open + 1;
    }
    None
}

/// Asks the LLM chain (first that answers) to fill the analysis fields and judge the rules.
pub async fn analyse(
    llms: &[Arc<dyn LanguageModel>],
    fields: &[AnalysisField],
    rules: &[QcRule],
    transcript: &[TranscriptEntry],
    timeout: Duration,
) -> Analysis {
    if fields.is_empty() && rules.is_empty() {
        return Analysis::default();
    }
    if transcript.iter().all(|e| e.speaker == Speaker::System) {
        return Analysis {
            problem: Some("nothing was said; analysis skipped".into()),
            ..Analysis::default()
        };
    }
    let properties: Map<String, Value> = fields
        .iter()
        .map(|f| {
            let mut schema = field_schema(f);
            schema["description"] = json!(f.description);
            (f.name.clone(), schema)
        })
        .collect();
    let rule_lines: Vec<String> = rules
        .iter()
        .map(|r| format!("- {}: {}", r.name, r.description))
        .collect();
    let lines: Vec<String> = transcript
        .iter()
        .filter(|e| matches!(e.speaker, Speaker::User | Speaker::Assistant))
        .map(|e| {
            format!(
                "{}: {}",
                if e.speaker == Speaker::User {
                    "Caller"
                } else {
                    "Bot"
                },
                e.text
            )
        })
        .collect();
    let system = format!(
        "You analyse a finished phone call. Reply with one JSON object and nothing else: \
         {{\"analysis\": {{...}}, \"qc\": [{{\"rule\": name, \"passed\": true|false, \"note\": short reason}}]}}.\n\
         \"analysis\" follows this JSON Schema (leave out what the call does not tell):\n{}\n\
         Judge each rule in \"qc\":\n{}",
        json!({"type": "object", "properties": properties}),
        if rule_lines.is_empty() {
            "(none)".to_owned()
        } else {
            rule_lines.join("\n")
        },
    );
    let request = LlmRequest {
        system,
        messages: vec![Message::User(format!("The call:\n{}", lines.join("\n")))],
        tools: Vec::new(),
    };
    let mut problem = None;
    for llm in llms {
        let reply = tokio::time::timeout(timeout, async {
            let mut stream = llm.stream(&request).await?;
            let mut text = String::new();
            while let Some(event) = stream.next().await {
                if let LlmEvent::Text(piece) = event? {
                    text.push_str(&piece);
                }
            }
            Ok::<_, pipeline::ProviderError>(text)
        })
        .await;
        let text = match reply {
            Ok(Ok(text)) => text,
            Ok(Err(error)) => {
                problem = Some(format!("{}: {error}", llm.name()));
                continue;
            }
            Err(_) => {
                problem = Some(format!("{} timed out after {timeout:?}", llm.name()));
                continue;
            }
        };
        let Some(value) = first_json_object(&text) else {
            problem = Some(format!("{} did not answer with JSON", llm.name()));
            continue;
        };
        return parse_analysis(&value, fields, rules);
    }
    Analysis {
        problem,
        ..Analysis::default()
    }
}

/// Keeps the fields that match their kind and the verdicts on known rules.
pub fn parse_analysis(value: &Value, fields: &[AnalysisField], rules: &[QcRule]) -> Analysis {
    let given = value.get("analysis").unwrap_or(value);
    let mut out = Analysis::default();
    let mut rejected = Vec::new();
    for field in fields {
        match given.get(&field.name) {
            Some(v) if valid(field, v) => {
                out.fields.insert(field.name.clone(), v.clone());
            }
            Some(Value::Null) | None => {}
            Some(_) => rejected.push(field.name.clone()),
        }
    }
    for verdict in value
        .get("qc")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let (Some(rule), Some(passed)) = (
            verdict.get("rule").and_then(Value::as_str),
            verdict.get("passed").and_then(Value::as_bool),
        ) else {
            continue;
        };
        if rules.iter().any(|r| r.name == rule) {
            out.findings.push(QcFinding {
                rule: rule.to_owned(),
                passed,
                note: verdict
                    .get("note")
                    .and_then(Value::as_str)
                    .map(str::to_owned),
            });
        }
    }
    if !rejected.is_empty() {
        out.problem = Some(format!(
            "values of the wrong type were dropped: {}",
            rejected.join(", ")
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn field(name: &str, kind: AnalysisFieldKind, options: &[&str]) -> AnalysisField {
        AnalysisField {
            name: name.into(),
            description: String::new(),
            kind,
            options: options.iter().map(|o| o.to_string()).collect(),
        }
    }

    fn said(speaker: Speaker, text: &str) -> TranscriptEntry {
        TranscriptEntry {
            speaker,
            text: text.into(),
            at_ms: 0,
            interrupted: false,
            detail: None,
        }
    }

    #[tokio::test]
    async fn analysis_falls_back_to_the_next_llm_and_fills_the_fields() {
        use pipeline::testing::{Behaviour, ScriptedLlm};
        let broken = ScriptedLlm::texts("primary", &["unused"]).behaving(Behaviour::Fails(
            pipeline::ProviderError::Timeout {
                provider: "primary".into(),
                after: Duration::from_secs(1),
            },
        ));
        let answer = "Here you go: {\"analysis\": {\"interest\": \"high\"}, \"qc\": [{\"rule\": \"polite\", \"passed\": true}]}";
        let working = ScriptedLlm::texts("secondary", &[answer]);
        let llms: Vec<Arc<dyn LanguageModel>> = vec![Arc::new(broken), Arc::new(working)];
        let fields = [field("interest", AnalysisFieldKind::Enum, &["high", "low"])];
        let rules = [QcRule {
            name: "polite".into(),
            description: "The bot stays polite".into(),
            severity: Default::default(),
        }];
        let transcript = [
            said(Speaker::Assistant, "Hello, would you like a demo?"),
            said(Speaker::User, "Yes, very much."),
        ];
        let out = analyse(&llms, &fields, &rules, &transcript, Duration::from_secs(5)).await;
        assert_eq!(out.fields.get("interest"), Some(&json!("high")), "{out:?}");
        assert_eq!(out.findings.len(), 1);
        assert!(out.findings[0].passed);
    }

    #[tokio::test]
    async fn a_bot_without_analysis_fields_or_rules_skips_the_llm() {
        let out = analyse(
            &[],
            &[],
            &[],
            &[said(Speaker::User, "hi")],
            Duration::from_secs(1),
        )
        .await;
        assert_eq!(out, Analysis::default());
    }

    #[test]
    fn an_interruption_verdict_is_a_system_line_of_the_transcript_at_its_moment() {
        let record = pipeline::InterruptionRecord {
            kind: pipeline::InterruptionKind::Backchannel,
            text: "Mhm.".into(),
            paused: std::time::Duration::from_millis(640),
        };
        let report = pipeline::SessionReport {
            end_reason: EndReason::CallerHungUp,
            duration: std::time::Duration::from_secs(9),
            turns: Vec::new(),
            events: vec![pipeline::LoggedEvent {
                at: std::time::Duration::from_millis(4_200),
                event: SystemFrame::Call(CallEvent::Interruption(record)),
            }],
        };
        let transcript = conversation(&report).transcript;
        assert_eq!(transcript.len(), 1);
        let line = &transcript[0];
        assert_eq!(
            (line.speaker, line.text.as_str(), line.at_ms),
            (Speaker::System, "interruption backchannel", 4_200)
        );
        assert_eq!(
            line.detail,
            Some(
                json!({"kind": "interruption", "verdict": "backchannel", "heard": "Mhm.", "paused_ms": 640})
            )
        );
    }

    #[test]
    fn idle_prompts_and_the_goodbye_are_system_lines_of_the_transcript_at_their_moments() {
        let step = |ms, step| pipeline::LoggedEvent {
            at: std::time::Duration::from_millis(ms),
            event: SystemFrame::Call(CallEvent::Idle(step)),
        };
        let report = pipeline::SessionReport {
            end_reason: EndReason::IdleTimeout,
            duration: std::time::Duration::from_secs(30),
            turns: Vec::new(),
            events: vec![
                step(8_000, IdleStep::Prompt { number: 1, of: 2 }),
                step(16_000, IdleStep::Goodbye),
            ],
        };
        let transcript = conversation(&report).transcript;
        let lines: Vec<_> = transcript
            .iter()
            .map(|l| (l.speaker, l.text.as_str(), l.at_ms, l.detail.clone()))
            .collect();
        assert_eq!(
            lines,
            vec![
                (
                    Speaker::System,
                    "idle prompt 1 of 2",
                    8_000,
                    Some(json!({"kind": "idle", "step": "prompt", "number": 1, "of": 2}))
                ),
                (
                    Speaker::System,
                    "idle goodbye",
                    16_000,
                    Some(json!({"kind": "idle", "step": "goodbye"}))
                ),
            ]
        );
    }

    #[test]
    fn dropped_drafts_are_counted_and_leave_no_line_in_the_transcript() {
        let dropped = |ms| pipeline::LoggedEvent {
            at: std::time::Duration::from_millis(ms),
            event: SystemFrame::Call(CallEvent::DraftDropped),
        };
        let report = pipeline::SessionReport {
            end_reason: EndReason::CallerHungUp,
            duration: std::time::Duration::from_secs(9),
            turns: Vec::new(),
            events: vec![dropped(1_000), dropped(5_000)],
        };
        let conversation = conversation(&report);
        assert_eq!(conversation.drafts_dropped, 2);
        assert!(conversation.transcript.is_empty());
    }

    #[test]
    fn json_is_found_inside_chatter_and_code_fences() {
        let text =
            "Sure! ```json\n{\"analysis\": {\"note\": \"a } in text\"}, \"qc\": []}\n``` done";
        let value = first_json_object(text).unwrap();
        assert_eq!(value["analysis"]["note"], "a } in text");
        assert!(first_json_object("no json here {").is_none());
    }

    #[test]
    fn analysis_keeps_values_of_the_right_kind_and_known_rules_only() {
        let fields = [
            field("interest", AnalysisFieldKind::Enum, &["high", "low"]),
            field("callback", AnalysisFieldKind::Boolean, &[]),
            field("budget", AnalysisFieldKind::Number, &[]),
        ];
        let rules = [QcRule {
            name: "polite".into(),
            description: "The bot stays polite".into(),
            severity: Default::default(),
        }];
        let value = json!({
            "analysis": {"interest": "medium", "callback": true, "budget": 1200},
            "qc": [{"rule": "polite", "passed": true, "note": "yes"}, {"rule": "invented", "passed": false}]
        });
        let out = parse_analysis(&value, &fields, &rules);
        assert_eq!(out.fields.get("callback"), Some(&json!(true)));
        assert_eq!(out.fields.get("budget"), Some(&json!(1200)));
        assert!(!out.fields.contains_key("interest"));
        assert_eq!(out.findings.len(), 1);
        assert!(out.problem.unwrap().contains("interest"));
    }
}
