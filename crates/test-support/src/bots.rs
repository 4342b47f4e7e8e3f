//! The bots the end-to-end suites call, their calls, and the caller's audio.
//!
//! The bots are flows spoken by espeak-ng and heard by the local STT sidecar.

use crate::whisper::sidecar_url;
use audio::{Resampler, SampleRate, wav};
use chrono::Utc;
use contracts::runtime_config::{
    BotSpec, CallDirection, Flow, FlowBranch, FlowStep, ProviderSettings, VoicemailBehaviour,
};
use contracts::{BotId, CallId, CallState};
use serde_json::json;
use std::collections::BTreeMap;
use std::sync::Arc;
use store::{NewBot, NewCall, Store};

/// A flow bot heard by the local STT sidecar and spoken by espeak-ng, starting at `start`.
fn scripted_line(start: &str, steps: BTreeMap<String, FlowStep>) -> BotSpec {
    let mut stt = ProviderSettings::named("whisper");
    stt.options
        .insert("base_url".to_owned(), json!(sidecar_url()));
    // One sidecar thread serves every call of every test in the process: under the whole suite a
    // transcription can queue behind several others for longer than the 10 s default.
    stt.options.insert("timeout_ms".to_owned(), json!(60_000));
    let mut spec = BotSpec::new(
        "en-US",
        "A scripted booking line.",
        stt,
        ProviderSettings::named("openai"),
        ProviderSettings::named("espeak"),
    );
    // The same queue can hold a caller's words past the default 1.5 s a paused bot waits for
    // them after the caller stops; the bot would go on, and a real interruption come too late.
    spec.interruptions.resume_after_secs = 5.0;
    spec.flow = Some(Flow {
        start: start.to_owned(),
        steps,
    });
    spec
}

/// The appointment flow: greet, ask, branch on "appointment"/"book" or DTMF 1.
pub fn flow_bot(greeting: &str) -> BotSpec {
    let step = |s: FlowStep| s;
    let mut steps = BTreeMap::new();
    steps.insert(
        "greet".to_owned(),
        step(FlowStep::Say {
            text: greeting.to_owned(),
            next: "ask".to_owned(),
        }),
    );
    steps.insert(
        "ask".to_owned(),
        FlowStep::Ask {
            prompt: "How can I help?".to_owned(),
            field: Some("request".to_owned()),
            branches: vec![FlowBranch {
                keywords: vec!["appointment".to_owned(), "book".to_owned()],
                dtmf: Some("1".to_owned()),
                next: "booked".to_owned(),
            }],
            otherwise: "fallback".to_owned(),
        },
    );
    steps.insert(
        "booked".to_owned(),
        FlowStep::SetField {
            field: "booked".to_owned(),
            value: json!(true),
            next: "bye".to_owned(),
        },
    );
    steps.insert(
        "bye".to_owned(),
        FlowStep::End {
            text: Some("Booked. Goodbye.".to_owned()),
            disposition: Some("booked".to_owned()),
        },
    );
    steps.insert(
        "fallback".to_owned(),
        FlowStep::End {
            text: Some("Sorry. Goodbye.".to_owned()),
            disposition: Some("unknown".to_owned()),
        },
    );
    let mut spec = scripted_line("greet", steps);
    spec.limits.max_duration_secs = 90;
    spec.qc_rules.push(contracts::runtime_config::QcRule {
        name: "greeting".to_owned(),
        description: "must_say: test line".to_owned(),
        severity: Default::default(),
    });
    spec
}

/// A bot whose calls are only attached in the test, never spoken to.
pub fn silent_bot() -> BotSpec {
    let mut stt = ProviderSettings::named("whisper");
    stt.options
        .insert("base_url".to_owned(), json!("http://127.0.0.1:9/v1"));
    BotSpec::new(
        "en-US",
        "Unused.",
        stt,
        ProviderSettings::named("openai"),
        ProviderSettings::named("espeak"),
    )
}

/// A bot and an answered call for it; returns the call id.
pub async fn answered_call(store: &Arc<dyn Store>, spec: BotSpec) -> CallId {
    let (bot, _) = store
        .create_bot(NewBot {
            name: "Test line".to_owned(),
            spec,
            created_by: None,
        })
        .await
        .unwrap();
    new_call(store, bot.id).await
}

pub async fn new_call(store: &Arc<dyn Store>, bot_id: BotId) -> CallId {
    store
        .create_call(NewCall {
            direction: CallDirection::Outbound,
            bot_id,
            campaign_id: None,
            contact_id: None,
            from: None,
            to: None,
            state: CallState::Answered,
            variables: Default::default(),
            carrier_call_id: None,
            now: Utc::now(),
        })
        .await
        .unwrap()
        .id
}

/// The clinic's booking flow: ask, book on "appointment", leave a message on a voicemail.
pub fn booking_bot() -> BotSpec {
    let mut steps = BTreeMap::new();
    steps.insert(
        "ask".to_owned(),
        FlowStep::Ask {
            prompt: "Hello, this is the clinic. How can I help?".to_owned(),
            field: Some("request".to_owned()),
            branches: vec![FlowBranch {
                keywords: vec!["appointment".to_owned(), "book".to_owned()],
                dtmf: None,
                next: "bye".to_owned(),
            }],
            otherwise: "bye".to_owned(),
        },
    );
    steps.insert(
        "bye".to_owned(),
        FlowStep::End {
            text: Some("Booked. Goodbye.".to_owned()),
            disposition: Some("booked".to_owned()),
        },
    );
    let mut spec = scripted_line("ask", steps);
    spec.limits.max_duration_secs = 60;
    spec.voicemail = VoicemailBehaviour::LeaveMessage {
        message: "Hello, this is the clinic. Please call us back to book.".to_owned(),
    };
    spec
}

/// The keys [`transfer_bot`] presses first.
pub const TRANSFER_KEYS: &str = "12#";

/// A line that presses [`TRANSFER_KEYS`] (as it would to pass another system's menu), greets,
/// then moves the caller to `destination` through the carrier.
pub fn transfer_bot(destination: &str) -> BotSpec {
    let mut steps = BTreeMap::new();
    steps.insert(
        "press".to_owned(),
        FlowStep::SendDigits {
            digits: TRANSFER_KEYS.to_owned(),
            next: "hand_over".to_owned(),
        },
    );
    steps.insert(
        "hand_over".to_owned(),
        FlowStep::Transfer {
            text: Some("Hello, I am putting you through to the clinic now.".to_owned()),
            destination: destination.to_owned(),
        },
    );
    let mut spec = scripted_line("press", steps);
    spec.limits.max_duration_secs = 60;
    spec
}

/// The booking bot, answering calls to `number` (E.164).
pub async fn route_booking_bot(store: &dyn Store, number: &str) {
    let (bot, _) = store
        .create_bot(NewBot {
            name: "Clinic".into(),
            spec: booking_bot(),
            created_by: None,
        })
        .await
        .unwrap();
    let key = format!("inbound.number.{}", number.trim_start_matches('+'));
    store
        .put_setting(&key, json!(bot.id.0), None)
        .await
        .unwrap();
}

/// The spoken request at `rate`: "Hello, I would like to book an appointment for tomorrow
/// morning, please.", made once with `espeak-ng -v en-us -s 150` and resampled to 16 kHz
/// (`data/request_16k.wav`). Whisper tiny.en hears "appointment" in it through a carrier's 8 kHz
/// μ-law at any alignment of the speech detector's start, which the audio crate's sentence does
/// not give it.
pub fn speech(rate: SampleRate) -> Vec<i16> {
    let bytes =
        std::fs::read(concat!(env!("CARGO_MANIFEST_DIR"), "/data/request_16k.wav")).unwrap();
    let samples = wav::decode(&bytes).unwrap().samples;
    if rate == SampleRate::Hz16000 {
        return samples;
    }
    let mut resampler = Resampler::new(SampleRate::Hz16000, rate).unwrap();
    let mut out = resampler.process(&samples);
    out.extend(resampler.flush());
    out
}
