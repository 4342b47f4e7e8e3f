//! The demo `vox up` seeds on first run.
//!
//! A scripted clinic bot answering a demo number, and a running campaign of simulated contacts that
//! calls through the PSTN simulator with it as caller ID.

use contracts::calling_window::CallingWindows;
use contracts::runtime_config::{
    BotSpec, Flow, FlowBranch, FlowStep, ProviderSettings, VoicemailBehaviour,
};
use std::collections::BTreeMap;
use store::{CampaignState, NewBot, NewCampaign, NewContact, Store};

/// The demo line: a fictional number (555-01xx) routed to the demo bot, the campaign's caller ID.
pub const DEMO_NUMBER: &str = "+15555550100";
pub const DEMO_CAMPAIGN: &str = "Demo: clinic appointments";
/// How many simulated people the demo campaign calls.
const DEMO_CONTACTS: u32 = 60;

/// The demo bot: a deterministic flow (no language model), the local speech providers: the Piper
/// voice when the worker has it, espeak-ng otherwise (and if Piper fails mid-call).
pub fn clinic_bot() -> BotSpec {
    let mut steps = BTreeMap::new();
    steps.insert(
        "ask".to_owned(),
        FlowStep::Ask {
            prompt: "Hello, this is the dental clinic. Would you like to book your check-up?"
                .to_owned(),
            field: Some("request".to_owned()),
            branches: vec![FlowBranch {
                keywords: ["yes", "book", "appointment", "sure"]
                    .map(str::to_owned)
                    .to_vec(),
                dtmf: Some("1".to_owned()),
                next: "booked".to_owned(),
            }],
            otherwise: "later".to_owned(),
        },
    );
    steps.insert(
        "booked".to_owned(),
        FlowStep::End {
            text: Some("Lovely, you are booked for Tuesday at ten. Goodbye.".to_owned()),
            disposition: Some("booked".to_owned()),
        },
    );
    steps.insert(
        "later".to_owned(),
        FlowStep::End {
            text: Some("No problem, we will call again another time. Goodbye.".to_owned()),
            disposition: Some("not_now".to_owned()),
        },
    );
    let mut spec = BotSpec::new(
        "en-US",
        "A scripted clinic line that books check-ups.",
        ProviderSettings::named("whisper"),
        ProviderSettings::named("openai"),
        ProviderSettings {
            fallback: Some(Box::new(ProviderSettings::named("espeak"))),
            ..ProviderSettings::named("piper")
        },
    );
    spec.flow = Some(Flow {
        start: "ask".to_owned(),
        steps,
    });
    spec.limits.max_duration_secs = 90;
    spec.voicemail = VoicemailBehaviour::LeaveMessage {
        message: "Hello, this is the dental clinic. Please call us back to book your check-up."
            .to_owned(),
    };
    spec
}

/// Seeds the demo when the database has no bot yet; returns the campaign's name when it did.
pub async fn seed(store: &dyn Store, slots: u32) -> anyhow::Result<Option<String>> {
    if !store
        .list_bots(store::Page::first(1), true)
        .await?
        .items
        .is_empty()
    {
        return Ok(None);
    }
    let (bot, _) = store
        .create_bot(NewBot {
            name: "Demo: dental clinic".into(),
            spec: clinic_bot(),
            created_by: None,
        })
        .await?;
    let number = DEMO_NUMBER.trim_start_matches('+');
    store
        .put_setting(
            &format!("inbound.number.{number}"),
            serde_json::json!(bot.id.0),
            None,
        )
        .await?;
    let campaign = store
        .create_campaign(NewCampaign {
            name: DEMO_CAMPAIGN.into(),
            bot_id: bot.id,
            calling_windows: CallingWindows::default(),
            max_attempts: 2,
            concurrency_cap: i64::from(slots.max(1)),
            weight: 1,
            abandon_target: 0.03,
            caller_id: Some(contracts::E164Number::parse(DEMO_NUMBER)?),
            settings: serde_json::json!({}),
        })
        .await?;
    let contacts = (0..DEMO_CONTACTS)
        .map(|i| NewContact {
            phone: format!("+1555555{:04}", 1000 + i),
            timezone: "America/New_York".into(),
            variables: serde_json::Map::new(),
        })
        .collect();
    store.add_contacts(campaign.id, contacts).await?;
    store
        .set_campaign_state(campaign.id, CampaignState::Draft, CampaignState::Running)
        .await?;
    Ok(Some(DEMO_CAMPAIGN.to_owned()))
}

/// The carrier emulator the demo dials through, kept running as long as `vox up` runs.
#[derive(Debug)]
pub enum Emulator {
    Twilio(sim::TwilioEmulator),
    Telnyx(sim::TelnyxEmulator),
    Plivo(sim::PlivoEmulator),
    Vonage(sim::VonageEmulator),
    Exotel(sim::ExotelEmulator),
}

impl std::fmt::Display for Emulator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Emulator::Twilio(e) => write!(f, "the Twilio emulator at {}", e.api_url()),
            Emulator::Telnyx(e) => write!(f, "the Telnyx emulator at {}", e.api_url()),
            Emulator::Plivo(e) => write!(f, "the Plivo emulator at {}", e.api_url()),
            Emulator::Vonage(e) => write!(f, "the Vonage emulator at {}", e.api_url()),
            Emulator::Exotel(e) => write!(f, "the Exotel emulator at {}", e.api_url()),
        }
    }
}

/// The demo's Twilio account in the emulator (an Account SID is `AC` and 32 hex digits).
const DEMO_TWILIO_SID: &str = "AC00000000000000000000000000d3e770";
const DEMO_TWILIO_ACCOUNT: &str = "Demo: Twilio emulator";

/// Starts the Twilio emulator with a fresh auth token, saves the demo's carrier account pointing
/// at it, and has the demo campaign dial through that account.
pub async fn through_twilio(store: &dyn Store) -> anyhow::Result<sim::TwilioEmulator> {
    let token = format!("{:032x}", rand::random::<u128>());
    let emulator = sim::TwilioEmulator::start(
        sim::EmulatorConfig {
            account_sid: DEMO_TWILIO_SID.to_owned(),
            auth_token: token.clone(),
            population: sim::Populations::default().default,
            seed: rand::random(),
        },
        0,
    )
    .await?;
    let account = store::NewCarrierAccount {
        carrier: contracts::telephony::CarrierKind::Twilio,
        name: DEMO_TWILIO_ACCOUNT.to_owned(),
        account_sid: DEMO_TWILIO_SID.to_owned(),
        secret: Some(token),
        api_url: Some(emulator.api_url().to_owned()),
        numbers: vec![contracts::E164Number::parse(DEMO_NUMBER)?],
        webhook_key: None,
        trunk: None,
    };
    let saved = save_account(store, account).await?;
    demo_carrier(store, Some(saved.id.0)).await?;
    Ok(emulator)
}

/// Saves a demo carrier account, over the one saved under its name before.
async fn save_account(
    store: &dyn Store,
    account: store::NewCarrierAccount,
) -> anyhow::Result<store::CarrierAccount> {
    let existing = store
        .list_carrier_accounts()
        .await?
        .into_iter()
        .find(|a| a.name == account.name);
    Ok(match existing {
        Some(existing) => store.update_carrier_account(existing.id, account).await?,
        None => store.create_carrier_account(account).await?,
    })
}

/// The demo's Plivo account in the emulator (an Auth ID is `MA` and 18 capitals or digits).
const DEMO_PLIVO_AUTH_ID: &str = "MADEMOPLIVO000000000";
const DEMO_PLIVO_ACCOUNT: &str = "Demo: Plivo emulator";

/// Starts the Plivo emulator with a fresh Auth Token, saves the demo's carrier account pointing
/// at it, and has the demo campaign dial through that account.
pub async fn through_plivo(store: &dyn Store) -> anyhow::Result<sim::PlivoEmulator> {
    let token = format!("{:032x}", rand::random::<u128>());
    let emulator = sim::PlivoEmulator::start(
        sim::PlivoConfig {
            auth_id: DEMO_PLIVO_AUTH_ID.to_owned(),
            auth_token: token.clone(),
            population: sim::Populations::default().default,
            seed: rand::random(),
        },
        0,
    )
    .await?;
    let account = store::NewCarrierAccount {
        carrier: contracts::telephony::CarrierKind::Plivo,
        name: DEMO_PLIVO_ACCOUNT.to_owned(),
        account_sid: DEMO_PLIVO_AUTH_ID.to_owned(),
        secret: Some(token),
        api_url: Some(emulator.api_url().to_owned()),
        numbers: vec![contracts::E164Number::parse(DEMO_NUMBER)?],
        webhook_key: None,
        trunk: None,
    };
    let saved = save_account(store, account).await?;
    demo_carrier(store, Some(saved.id.0)).await?;
    Ok(emulator)
}

/// The demo's Vonage application in the emulator (its id is a UUID).
const DEMO_VONAGE_APPLICATION: &str = "00000000-0000-4000-8000-00000000d3e7";
const DEMO_VONAGE_ACCOUNT: &str = "Demo: Vonage emulator";

/// Starts the Vonage emulator with a fresh signature secret, saves the demo's carrier account
/// pointing at it, and has the demo campaign dial through that account. The application's key
/// pair is the published test pair (`sim::vonage::DEMO_PRIVATE_KEY`): it only ever signs for the
/// emulator.
pub async fn through_vonage(store: &dyn Store) -> anyhow::Result<sim::VonageEmulator> {
    let secret = format!("{:032x}", rand::random::<u128>());
    let private_key = sim::vonage::DEMO_PRIVATE_KEY.to_owned();
    let emulator = sim::VonageEmulator::start(
        sim::VonageConfig {
            application_id: DEMO_VONAGE_APPLICATION.to_owned(),
            private_key: private_key.clone(),
            signature_secret: secret.clone(),
            population: sim::Populations::default().default,
            seed: rand::random(),
        },
        0,
    )
    .await?;
    let account = store::NewCarrierAccount {
        carrier: contracts::telephony::CarrierKind::Vonage,
        name: DEMO_VONAGE_ACCOUNT.to_owned(),
        account_sid: DEMO_VONAGE_APPLICATION.to_owned(),
        secret: Some(private_key),
        api_url: Some(emulator.api_url().to_owned()),
        numbers: vec![contracts::E164Number::parse(DEMO_NUMBER)?],
        webhook_key: Some(secret),
        trunk: None,
    };
    let saved = save_account(store, account).await?;
    demo_carrier(store, Some(saved.id.0)).await?;
    Ok(emulator)
}

/// The demo's Exotel account in the emulator: its Account SID and the Voicebot flow's app id.
const DEMO_EXOTEL_SID: &str = "voxdemo";
const DEMO_EXOTEL_APP: &str = "424242";
const DEMO_EXOTEL_ACCOUNT: &str = "Demo: Exotel emulator";

/// Starts the Exotel emulator with a fresh API key and token, saves the demo's carrier account
/// pointing at it, builds its flow (Voicebot → Greeting → Hangup) on `public_url`'s telephony
/// edge with the account's key, and has the demo campaign dial through that account.
pub async fn through_exotel(
    store: &dyn Store,
    public_url: &str,
) -> anyhow::Result<sim::ExotelEmulator> {
    let (api_key, api_token) = (
        format!("{:024x}", rand::random::<u128>()),
        format!("{:032x}", rand::random::<u128>()),
    );
    let emulator = sim::ExotelEmulator::start(
        sim::ExotelConfig {
            sid: DEMO_EXOTEL_SID.to_owned(),
            api_key: api_key.clone(),
            api_token: api_token.clone(),
            population: sim::Populations::default().default,
            seed: rand::random(),
        },
        0,
    )
    .await?;
    let secret = format!("{api_key}:{api_token}");
    let account = store::NewCarrierAccount {
        carrier: contracts::telephony::CarrierKind::Exotel,
        name: DEMO_EXOTEL_ACCOUNT.to_owned(),
        account_sid: format!("{DEMO_EXOTEL_SID}/{DEMO_EXOTEL_APP}"),
        secret: Some(secret.clone()),
        api_url: Some(emulator.api_url().to_owned()),
        numbers: vec![contracts::E164Number::parse(DEMO_NUMBER)?],
        webhook_key: None,
        trunk: None,
    };
    let saved = save_account(store, account).await?;
    emulator.set_flow(sim::ExotelFlow::at_edge(
        public_url,
        saved.id,
        &secret,
        DEMO_EXOTEL_APP,
    ));
    demo_carrier(store, Some(saved.id.0)).await?;
    Ok(emulator)
}

/// The demo's Telnyx Call Control application in the emulator (its id is digits).
const DEMO_TELNYX_CONNECTION: &str = "1494404757140276705";
const DEMO_TELNYX_ACCOUNT: &str = "Demo: Telnyx emulator";

/// Starts the Telnyx emulator with a fresh API key and signing key, saves the demo's carrier
/// account pointing at it (its public key the emulator's), and has the demo campaign dial
/// through that account. Webhooks go to `public_url`'s telephony edge.
pub async fn through_telnyx(
    store: &dyn Store,
    public_url: &str,
) -> anyhow::Result<sim::TelnyxEmulator> {
    let api_key = format!("KEY{:032X}", rand::random::<u128>());
    let emulator = sim::TelnyxEmulator::start(
        sim::TelnyxConfig {
            connection_id: DEMO_TELNYX_CONNECTION.to_owned(),
            api_key: api_key.clone(),
            webhook_url: String::new(),
            population: sim::Populations::default().default,
            seed: rand::random(),
            channel_limit: usize::MAX,
        },
        0,
    )
    .await?;
    let account = store::NewCarrierAccount {
        carrier: contracts::telephony::CarrierKind::Telnyx,
        name: DEMO_TELNYX_ACCOUNT.to_owned(),
        account_sid: DEMO_TELNYX_CONNECTION.to_owned(),
        secret: Some(api_key),
        api_url: Some(emulator.api_url().to_owned()),
        numbers: vec![contracts::E164Number::parse(DEMO_NUMBER)?],
        webhook_key: Some(emulator.public_key()),
        trunk: None,
    };
    let saved = save_account(store, account).await?;
    emulator.set_webhook_url(&format!(
        "{}/api/v1/telephony/telnyx/{}/call",
        public_url.trim_end_matches('/'),
        saved.id
    ));
    demo_carrier(store, Some(saved.id.0)).await?;
    Ok(emulator)
}

const DEMO_SIP_ACCOUNT: &str = "Demo: vox sip on loopback";

/// Saves the trunk `vox up`'s SIP gateway serves (a `sip` account owning the demo number, its
/// trunk on loopback, its gateway's call control at `control_url`) and returns its id.
pub async fn sip_trunk(store: &dyn Store, control_url: Option<String>) -> anyhow::Result<i64> {
    let account = store::NewCarrierAccount {
        carrier: contracts::telephony::CarrierKind::Sip,
        name: DEMO_SIP_ACCOUNT.to_owned(),
        account_sid: "127.0.0.1".to_owned(),
        secret: Some("-".to_owned()),
        api_url: control_url,
        numbers: vec![contracts::E164Number::parse(DEMO_NUMBER)?],
        webhook_key: None,
        trunk: None,
    };
    Ok(save_account(store, account).await?.id.0)
}

/// Has the demo campaign dial through the PSTN simulator again (no carrier account).
pub async fn through_simulator(store: &dyn Store) -> anyhow::Result<()> {
    demo_carrier(store, None).await
}

/// Sets (or clears) the demo campaign's `dialler.carrier_account`.
async fn demo_carrier(store: &dyn Store, account: Option<i64>) -> anyhow::Result<()> {
    let campaigns = store
        .list_campaigns(store::Page::first(store::Page::MAX_LIMIT), None)
        .await?;
    let Some(campaign) = campaigns
        .items
        .into_iter()
        .find(|c| c.config.name == DEMO_CAMPAIGN)
    else {
        return Ok(());
    };
    let mut config = campaign.config;
    if !config.settings.is_object() {
        config.settings = serde_json::json!({});
    }
    let mut dialler = config.settings["dialler"].take();
    if !dialler.is_object() {
        dialler = serde_json::json!({});
    }
    let before = dialler.get("carrier_account").cloned();
    match account {
        Some(id) => dialler["carrier_account"] = serde_json::json!(id),
        None => {
            if let Some(map) = dialler.as_object_mut() {
                map.remove("carrier_account");
            }
        }
    }
    let changed = dialler.get("carrier_account").cloned() != before;
    config.settings["dialler"] = dialler;
    if changed {
        store.update_campaign(campaign.id, config).await?;
    }
    Ok(())
}
