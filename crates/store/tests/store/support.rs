//! Test fixtures: a fresh migrated database per test on each backend, and `both_backends!`.
//!
//! The databases come from `store::testing` (PostgreSQL needs `VOX_TEST_DATABASE_URL`).

use chrono::{DateTime, NaiveTime, TimeZone, Utc};
use contracts::CallState;
use contracts::calling_window::CallingWindows;
use contracts::runtime_config::CallDirection;
use contracts::runtime_config::{BotSpec, ProviderSettings};
use contracts::{BotId, CampaignId};
use store::{Call, CampaignState, NewBot, NewCall, NewCampaign, NewContact, Store};

pub(crate) use store::both_backends;

pub fn at(y: i32, mo: u32, d: u32, h: u32, mi: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(y, mo, d, h, mi, 0).unwrap()
}

pub fn provider(name: &str) -> ProviderSettings {
    ProviderSettings {
        provider: name.into(),
        model: None,
        voice: None,
        options: Default::default(),
        fallback: None,
    }
}

pub fn spec(prompt: &str) -> BotSpec {
    BotSpec {
        language: "en-US".into(),
        system_prompt: prompt.into(),
        first_message: None,
        stt: provider("whisper"),
        llm: provider("llama"),
        tts: provider("piper"),
        tools: vec![],
        analysis: vec![],
        qc_rules: vec![],
        limits: Default::default(),
        voicemail: Default::default(),
        flow: None,
        turn: Default::default(),
        idle: Default::default(),
        interruptions: Default::default(),
        ivr: Default::default(),
        variables: vec![],
    }
}

pub async fn bot(store: &dyn Store) -> BotId {
    let (bot, _) = store
        .create_bot(NewBot {
            name: "Reminders".into(),
            spec: spec("You remind people."),
            created_by: None,
        })
        .await
        .unwrap();
    bot.id
}

pub fn campaign_config(bot_id: BotId, name: &str) -> NewCampaign {
    NewCampaign {
        name: name.into(),
        bot_id,
        calling_windows: CallingWindows::default(),
        max_attempts: 3,
        concurrency_cap: 10,
        weight: 1,
        abandon_target: 0.03,
        caller_id: None,
        settings: serde_json::json!({}),
    }
}

/// Weekdays 09:00–20:00 local.
pub fn weekday_windows() -> CallingWindows {
    use contracts::calling_window::{CallingWindow, Weekday::*};
    CallingWindows(vec![CallingWindow {
        days: vec![Mon, Tue, Wed, Thu, Fri],
        start: NaiveTime::from_hms_opt(9, 0, 0).unwrap(),
        end: NaiveTime::from_hms_opt(20, 0, 0).unwrap(),
    }])
}

/// A running campaign with the given config tweaks.
pub async fn running_campaign(
    store: &dyn Store,
    tweak: impl FnOnce(&mut NewCampaign),
) -> CampaignId {
    let bot_id = bot(store).await;
    let mut config = campaign_config(bot_id, "Spring reminders");
    tweak(&mut config);
    let campaign = store.create_campaign(config).await.unwrap();
    store
        .set_campaign_state(campaign.id, CampaignState::Draft, CampaignState::Running)
        .await
        .unwrap();
    campaign.id
}

pub fn contact(phone: &str, timezone: &str) -> NewContact {
    NewContact {
        phone: phone.into(),
        timezone: timezone.into(),
        variables: serde_json::json!({"name": "Ada"})
            .as_object()
            .unwrap()
            .clone(),
    }
}

/// `n` contacts with distinct US numbers in New York.
pub fn many_contacts(n: usize) -> Vec<NewContact> {
    (0..n)
        .map(|i| contact(&format!("+1415{:07}", i), "America/New_York"))
        .collect()
}

/// A queued browser test call of `bot_id`.
pub async fn web_call(store: &dyn Store, bot_id: BotId, now: DateTime<Utc>) -> Call {
    store
        .create_call(NewCall {
            direction: CallDirection::Web,
            bot_id,
            campaign_id: None,
            contact_id: None,
            from: None,
            to: None,
            state: CallState::Queued,
            variables: Default::default(),
            carrier_call_id: None,
            now,
        })
        .await
        .unwrap()
}

/// Ends a call as the dialler does when its attempt is over (`dial.canceled`), from whatever
/// state it is in: a contact is not leased again while a call of its is live.
pub async fn end_call(store: &dyn Store, call_id: contracts::CallId, at: DateTime<Utc>) {
    let from = store.call(call_id).await.unwrap().state;
    let end = store::Transition::new(call_id, from, CallState::Canceled, at)
        .with_outcome(contracts::CallOutcomeCode::DialCanceled);
    store.transition(end).await.unwrap();
}
