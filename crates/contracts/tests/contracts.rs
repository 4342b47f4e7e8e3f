//! Serde round trips of every contract payload, and the freshness of the exported JSON Schemas.

use chrono::{TimeZone, Utc};
use contracts::attach::{AmdVerdict, AttachAccepted, AttachRequest, MediaProtocol};
use contracts::call_result::{
    AmdCheck, AmdEvidence, CallResult, CallTimings, QcFinding, RecordingRef, Speaker,
    TranscriptEntry, TurnTiming,
};
use contracts::health::{DiallerHealth, FleetHealth, FleetWorker, HealthStatus, WorkerHealth};
use contracts::runtime_config::*;
use contracts::*;
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::json;
use std::fmt::Debug;

fn round_trip<T: Serialize + DeserializeOwned + PartialEq + Debug>(value: &T) -> serde_json::Value {
    let json = serde_json::to_value(value).unwrap();
    let back: T = serde_json::from_value(json.clone()).unwrap();
    assert_eq!(&back, value);
    json
}

fn provider(name: &str) -> ProviderSettings {
    ProviderSettings {
        provider: name.into(),
        model: Some("model-1".into()),
        voice: None,
        options: serde_json::Map::new(),
        fallback: None,
    }
}

fn sample_spec() -> BotSpec {
    BotSpec {
        language: "en-US".into(),
        system_prompt: "You remind {{name}} of an appointment.".into(),
        first_message: Some("Hello {{name}}!".into()),
        stt: provider("deepgram"),
        llm: ProviderSettings {
            fallback: Some(Box::new(provider("groq"))),
            ..provider("openai")
        },
        tts: ProviderSettings {
            voice: Some("joe".into()),
            ..provider("piper")
        },
        tools: vec![
            ToolSpec::Webhook {
                name: "book".into(),
                description: "Book a slot".into(),
                url: "https://crm.example/book".into(),
                parameters: json!({"type": "object", "properties": {"slot": {"type": "string"}}}),
                timeout_ms: 3000,
                filler: Some("One moment.".into()),
            },
            ToolSpec::EndCall,
            ToolSpec::Transfer {
                destination: "+14155550100".into(),
            },
            ToolSpec::SetDisposition {
                allowed: vec!["booked".into(), "declined".into()],
            },
        ],
        analysis: vec![AnalysisField {
            name: "interest".into(),
            description: "How interested".into(),
            kind: AnalysisFieldKind::Enum,
            options: vec!["low".into(), "high".into()],
        }],
        qc_rules: vec![QcRule {
            name: "greeting".into(),
            description: "Greets by name".into(),
            severity: Severity::Critical,
        }],
        limits: CallLimits::default(),
        voicemail: VoicemailBehaviour::LeaveMessage {
            message: "Please call back.".into(),
        },
        flow: Some(Flow {
            start: "hello".into(),
            steps: [
                (
                    "hello".to_string(),
                    FlowStep::Ask {
                        prompt: "Can you come tomorrow?".into(),
                        field: Some("confirmed".into()),
                        branches: vec![FlowBranch {
                            keywords: vec!["yes".into()],
                            dtmf: Some("1".into()),
                            next: "bye".into(),
                        }],
                        otherwise: "bye".into(),
                    },
                ),
                (
                    "bye".to_string(),
                    FlowStep::End {
                        text: Some("Goodbye".into()),
                        disposition: None,
                    },
                ),
            ]
            .into_iter()
            .collect(),
        }),
        turn: TurnSettings {
            vad: VadEngine::Silero,
            mode: TurnMode::Smart,
            stop_secs: Some(0.3),
            threshold: 0.6,
            incomplete_wait_secs: 2.5,
            preemptive: true,
            speak_drafts: true,
        },
        idle: IdleSettings {
            after_secs: 8,
            prompts: vec!["Hello?".into(), "Are you there?".into()],
            max_prompts: 3,
            goodbye: "Goodbye for now.".into(),
            generate: true,
        },
        interruptions: InterruptionSettings {
            min_duration_secs: 0.4,
            min_words: 2,
            backchannels: vec!["no worries".into()],
            resume_after_secs: 1.0,
        },
        ivr: IvrSettings {
            enabled: true,
            menu_quiet_secs: 3.5,
        },
        variables: vec!["name".into()],
    }
}

#[test]
fn runtime_config_round_trips_with_every_tool_kind() {
    let config = RuntimeConfig {
        call_id: CallId(42),
        bot: BotRef {
            bot_id: BotId(7),
            version: 3,
            name: "Reminders".into(),
        },
        spec: sample_spec(),
        call: CallInfo {
            direction: CallDirection::Outbound,
            campaign_id: Some(CampaignId(5)),
            from: Some(E164Number::parse("+14155550100").unwrap()),
            to: Some(E164Number::parse("+14155550123").unwrap()),
            attempt: 2,
            created_at: Utc.with_ymd_and_hms(2026, 11, 23, 9, 0, 0).unwrap(),
        },
        contact: Some(ContactInfo {
            contact_id: ContactId(9),
            phone: E164Number::parse("+14155550123").unwrap(),
            variables: json!({"name": "Ada"}).as_object().unwrap().clone(),
            crm: Some(json!({"account": 123})),
        }),
    };
    let json = round_trip(&config);
    assert_eq!(json["spec"]["tools"][1], json!({"type": "end_call"}));
    assert_eq!(json["call"]["direction"], "outbound");
    assert_eq!(json["spec"]["voicemail"]["action"], "leave_message");
}

#[test]
fn bot_spec_fills_defaults_for_optional_sections() {
    let minimal = json!({
        "language": "en-US",
        "system_prompt": "Be brief.",
        "stt": {"provider": "whisper"},
        "llm": {"provider": "llama"},
        "tts": {"provider": "piper"}
    });
    let spec: BotSpec = serde_json::from_value(minimal).unwrap();
    assert!(spec.tools.is_empty());
    assert_eq!(spec.limits, CallLimits::default());
    assert_eq!(spec.voicemail, VoicemailBehaviour::Hangup);
}

#[test]
fn call_result_round_trips_and_names_outcome_by_code() {
    let result = CallResult {
        call_id: CallId(42),
        outcome: CallOutcomeCode::CallBotHangup,
        disposition: Some("booked".into()),
        transcript: vec![
            TranscriptEntry {
                speaker: Speaker::Assistant,
                text: "Hello Ada".into(),
                at_ms: 0,
                interrupted: true,
                detail: None,
            },
            TranscriptEntry {
                speaker: Speaker::User,
                text: "Hi".into(),
                at_ms: 900,
                interrupted: false,
                detail: None,
            },
        ],
        analysis: json!({"interest": "high"}).as_object().unwrap().clone(),
        qc_findings: vec![QcFinding {
            rule: "greeting".into(),
            passed: true,
            note: None,
        }],
        recording: Some(RecordingRef {
            uri: "file://./data/recordings/42.wav".into(),
            format: "wav".into(),
            duration_ms: 61_000,
            sample_rate: 16_000,
            channels: 2,
        }),
        timings: CallTimings {
            answered_at: Some(Utc.with_ymd_and_hms(2026, 11, 23, 9, 0, 5).unwrap()),
            started_at: Utc.with_ymd_and_hms(2026, 11, 23, 9, 0, 6).unwrap(),
            ended_at: Utc.with_ymd_and_hms(2026, 11, 23, 9, 1, 7).unwrap(),
            turns: vec![TurnTiming {
                stt_final_ms: Some(120),
                llm_first_token_ms: Some(300),
                tts_first_audio_ms: Some(450),
                first_audio_sent_ms: Some(470),
            }],
            drafts_dropped: 1,
        },
        machine_detected: false,
        amd: Some(AmdCheck {
            carrier: Some(AmdVerdict::Human),
            bot: None,
            reason: None,
            evidence: Some(AmdEvidence::MachineTakenForPerson),
        }),
    };
    let json = round_trip(&result);
    assert_eq!(json["amd"]["evidence"], "machine_taken_for_person");
    assert_eq!(json["outcome"], "call.bot_hangup");
}

#[test]
fn attach_request_and_reply_round_trip() {
    let request = AttachRequest {
        call_id: CallId(1),
        direction: CallDirection::Outbound,
        campaign_id: Some(CampaignId(2)),
        carrier: "sim".into(),
        carrier_call_id: "SIM-1".into(),
        media_protocol: MediaProtocol::Vox,
        from: None,
        to: Some(E164Number::parse("+442071838750").unwrap()),
        answered_at: Utc.with_ymd_and_hms(2026, 11, 23, 9, 0, 0).unwrap(),
        amd: Some(AmdVerdict::Human),
        client: None,
    };
    let json = round_trip(&request);
    assert_eq!(json["media_protocol"], "vox");
    round_trip(&AttachAccepted {
        call_id: CallId(1),
        worker_id: "host-a/3".into(),
        media_url: "ws://127.0.0.1:9000/ws/vox?token=abc".into(),
        expires_at: Utc.with_ymd_and_hms(2026, 11, 23, 9, 0, 5).unwrap(),
    });
}

#[test]
fn attach_request_with_a_malformed_number_is_refused() {
    let bad = json!({
        "call_id": 1, "direction": "outbound", "carrier": "sim", "carrier_call_id": "x",
        "media_protocol": "vox", "to": "0207 183 8750", "answered_at": "2026-11-23T09:00:00Z"
    });
    let error = serde_json::from_value::<AttachRequest>(bad).unwrap_err();
    assert!(error.to_string().contains('+'), "{error}");
}

#[test]
fn health_payloads_round_trip_with_seed_field_names() {
    let worker = WorkerHealth {
        status: HealthStatus::Ok,
        worker_id: "3".into(),
        version: "0.1.0".into(),
        worker_calls: 1,
        worker_max: 1,
        fleet_available: 0,
        draining: false,
    };
    let json = round_trip(&worker);
    for field in ["worker_calls", "worker_max", "fleet_available"] {
        assert!(json.get(field).is_some(), "{field} missing");
    }
    round_trip(&FleetHealth {
        workers: vec![
            FleetWorker {
                endpoint: "/tmp/voxcore_3.sock".into(),
                health: Some(worker),
                error: None,
            },
            FleetWorker {
                endpoint: "/tmp/voxcore_4.sock".into(),
                health: None,
                error: Some("connection refused".into()),
            },
        ],
        workers_up: 1,
        workers_down: 1,
        worker_calls: 1,
        worker_max: 1,
        fleet_available: 0,
    });
    round_trip(&DiallerHealth {
        status: HealthStatus::Standby,
        version: "0.1.0".into(),
        leader: false,
        fencing_token: None,
        last_tick_at: Some(Utc.with_ymd_and_hms(2026, 11, 23, 9, 0, 0).unwrap()),
        stale_after_seconds: 30,
        campaigns_running: 0,
        active_dials: 0,
    });
}

#[test]
fn exported_schemas_match_the_committed_files() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("schema");
    let update = std::env::var_os("VOX_UPDATE_SCHEMAS").is_some();
    let exported = contracts::schema::export_all();
    assert!(exported.len() >= 10);
    for (name, schema) in exported {
        let path = dir.join(format!("{name}.json"));
        let text = contracts::schema::render(&schema);
        if update {
            std::fs::write(&path, &text).unwrap();
            continue;
        }
        let committed = std::fs::read_to_string(&path).unwrap_or_default();
        assert!(
            committed == text,
            "{} is out of date: run `VOX_UPDATE_SCHEMAS=1 cargo test -p contracts` and commit it",
            path.display()
        );
    }
}
