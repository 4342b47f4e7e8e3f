//! `vox sim --carrier NAME`: the carrier emulators the simulated callers ring through.
//!
//! Each emulator plays the carrier account that owns the called number: it signs its webhooks
//! with the account's secret, read from the store, and rings the telephony edge's URLs. Where
//! the edge calls the carrier's API back (Telnyx's commands, Plivo's transfers), the account
//! points at the emulator for the run and is given back after it. Exotel signs nothing: its
//! emulator rings the account's keyed URLs.

use crate::commands::open_store;
use crate::config::{CarrierChoice, Settings};
use anyhow::Context as _;
use contracts::telephony::CarrierKind;
use std::sync::Arc;

/// A carrier emulator the callers ring through.
pub(crate) enum Emulator {
    Twilio(Arc<sim::TwilioEmulator>),
    Telnyx(Arc<sim::TelnyxEmulator>),
    Plivo(Arc<sim::PlivoEmulator>),
    Vonage(Arc<sim::VonageEmulator>),
    Exotel(Arc<sim::ExotelEmulator>),
}

impl Emulator {
    /// One line of what the emulator did.
    pub(crate) fn summary(&self) -> String {
        match self {
            Emulator::Twilio(emulator) => {
                let stats = emulator.stats();
                format!(
                    "twilio emulator: {} webhooks sent, {} failed · {} streams · {} hung up through the REST API · {} transferred",
                    stats.webhooks,
                    stats.webhook_failures,
                    stats.streamed,
                    stats.hung_up,
                    stats.transferred_to.len()
                )
            }
            Emulator::Telnyx(emulator) => {
                let stats = emulator.stats();
                format!(
                    "telnyx emulator: {} webhooks sent, {} failed · {} streams · {} hung up through Call Control · {} left in silence · {} transferred",
                    stats.webhooks,
                    stats.webhook_failures,
                    stats.streamed,
                    stats.hung_up,
                    stats.left_in_silence,
                    stats.transferred_to.len()
                )
            }
            Emulator::Vonage(emulator) => {
                let stats = emulator.stats();
                format!(
                    "vonage emulator: {} webhooks sent, {} failed · {} sockets · {} hung up through the REST API · {} transferred",
                    stats.webhooks,
                    stats.webhook_failures,
                    stats.streamed,
                    stats.hung_up,
                    stats.transferred_to.len()
                )
            }
            Emulator::Exotel(emulator) => {
                let stats = emulator.stats();
                format!(
                    "exotel emulator: {} requests sent, {} failed · {} streams · {} refused in words",
                    stats.webhooks,
                    stats.webhook_failures,
                    stats.streamed,
                    stats.greetings.len()
                )
            }
            Emulator::Plivo(emulator) => {
                let stats = emulator.stats();
                format!(
                    "plivo emulator: {} callbacks sent, {} failed · {} streams · {} hung up through the REST API · {} transferred",
                    stats.webhooks,
                    stats.webhook_failures,
                    stats.streamed,
                    stats.hung_up,
                    stats.transferred_to.len()
                )
            }
        }
    }
}

/// The route through `carrier`'s emulator, the emulator, and the account it borrowed for the
/// run (to give back after it).
pub(crate) async fn emulator(
    settings: &Settings,
    carrier: CarrierChoice,
    number: &contracts::E164Number,
    population: &sim::Population,
) -> anyhow::Result<(sim::load::Route, Option<Emulator>, Option<Borrowed>)> {
    Ok(match carrier {
        CarrierChoice::Sim => anyhow::bail!("the PSTN simulator has no carrier emulator"),
        CarrierChoice::Twilio => {
            let (route, emulator) = through_twilio(settings, number, population).await?;
            (route, Some(Emulator::Twilio(emulator)), None)
        }
        CarrierChoice::Telnyx => {
            let (route, emulator, borrowed) = through_telnyx(settings, number, population).await?;
            (route, Some(Emulator::Telnyx(emulator)), Some(borrowed))
        }
        CarrierChoice::Plivo => {
            let (route, emulator, borrowed) = through_plivo(settings, number, population).await?;
            (route, Some(Emulator::Plivo(emulator)), Some(borrowed))
        }
        CarrierChoice::Vonage => {
            let (route, emulator, borrowed) = through_vonage(settings, number, population).await?;
            (route, Some(Emulator::Vonage(emulator)), Some(borrowed))
        }
        CarrierChoice::Exotel => {
            let (route, emulator) = through_exotel(settings, number, population).await?;
            (route, Some(Emulator::Exotel(emulator)), None)
        }
    })
}

/// The saved account of `carrier` that owns `number`, and the edge's base URL.
async fn owning_account(
    settings: &Settings,
    carrier: CarrierKind,
    number: &contracts::E164Number,
) -> anyhow::Result<(Arc<dyn store::Store>, store::CarrierAccount, String)> {
    let store = open_store(settings).await?;
    let accounts = store
        .list_carrier_accounts()
        .await
        .context("list the carrier accounts")?;
    let account = accounts
        .into_iter()
        .find(|a| a.carrier == carrier && a.numbers.contains(number))
        .with_context(|| {
            let name = carrier.as_str();
            let name = name[..1].to_uppercase() + &name[1..];
            format!(
                "no {name} carrier account owns {number}: add it to an account's numbers \
                 (console: Settings → Carriers)"
            )
        })?;
    let base = settings
        .vox_public_url
        .as_deref()
        .or(settings.voxbridge_url.as_deref())
        .context("checked by require")?
        .trim_end_matches('/')
        .to_owned();
    Ok((store, account, base))
}

/// A carrier account pointed at an emulator for a run, and how it was before.
pub(crate) struct Borrowed {
    store: Arc<dyn store::Store>,
    id: contracts::telephony::CarrierAccountId,
    before: store::NewCarrierAccount,
}

impl Borrowed {
    /// Points `account` at an emulator's `api_url` for a run, and at `key_during` where the
    /// emulator signs with a key of its own; `saved_key` is the account's webhook key, put back
    /// with the rest by [`Borrowed::give_back`].
    async fn lend(
        store: Arc<dyn store::Store>,
        account: &store::CarrierAccount,
        saved_key: Option<String>,
        api_url: &str,
        key_during: Option<String>,
    ) -> anyhow::Result<Self> {
        let before = store::NewCarrierAccount {
            carrier: account.carrier,
            name: account.name.clone(),
            account_sid: account.account_sid.clone(),
            secret: None,
            api_url: account.api_url.clone(),
            numbers: account.numbers.clone(),
            webhook_key: saved_key,
            trunk: None,
        };
        let mut update = before.clone();
        update.api_url = Some(api_url.to_owned());
        if key_during.is_some() {
            update.webhook_key = key_during;
        }
        store
            .update_carrier_account(account.id, update)
            .await
            .context("point the account at the emulator")?;
        Ok(Self {
            store,
            id: account.id,
            before,
        })
    }

    /// Points the account back where it was.
    pub(crate) async fn give_back(self) -> anyhow::Result<()> {
        self.store
            .update_carrier_account(self.id, self.before)
            .await
            .context("point the account back at its carrier")?;
        Ok(())
    }
}

/// The Telnyx emulator as the application that owns `number`, its webhook URL the telephony
/// edge's. The edge commands the account's API and checks signatures with its public key, so for
/// the run the account points at the emulator (its API URL and public key); `Borrowed` points it
/// back.
async fn through_telnyx(
    settings: &Settings,
    number: &contracts::E164Number,
    population: &sim::Population,
) -> anyhow::Result<(sim::load::Route, Arc<sim::TelnyxEmulator>, Borrowed)> {
    let (store, account, base) = owning_account(settings, CarrierKind::Telnyx, number).await?;
    let api_key = store
        .carrier_account_secret(account.id)
        .await
        .context("read the account's API key")?;
    let emulator = sim::TelnyxEmulator::start(
        sim::TelnyxConfig {
            connection_id: account.account_sid.clone(),
            api_key,
            webhook_url: format!("{base}/api/v1/telephony/telnyx/{}/call", account.id),
            population: population.clone(),
            seed: rand::random(),
            channel_limit: usize::MAX,
        },
        0,
    )
    .await
    .context("start the Telnyx emulator")?;
    let saved_key = store
        .carrier_account_webhook_key(account.id)
        .await
        .context("read the account's public key")?;
    let borrowed = Borrowed::lend(
        store,
        &account,
        saved_key,
        emulator.api_url(),
        Some(emulator.public_key()),
    )
    .await?;
    let emulator = Arc::new(emulator);
    Ok((
        sim::load::Route::Telnyx(emulator.clone()),
        emulator,
        borrowed,
    ))
}

/// The Twilio emulator as the account that owns `number`, ringing it at the telephony edge's
/// webhooks (`VOX_PUBLIC_URL`, else `VOXBRIDGE_URL`): the account's Auth Token is read from the
/// store so the webhooks are signed as Twilio would sign them.
async fn through_twilio(
    settings: &Settings,
    number: &contracts::E164Number,
    population: &sim::Population,
) -> anyhow::Result<(sim::load::Route, Arc<sim::TwilioEmulator>)> {
    let (store, account, base) = owning_account(settings, CarrierKind::Twilio, number).await?;
    let token = store
        .carrier_account_secret(account.id)
        .await
        .context("read the account's Auth Token")?;
    let emulator = sim::TwilioEmulator::start(
        sim::EmulatorConfig {
            account_sid: account.account_sid.clone(),
            auth_token: token,
            population: population.clone(),
            seed: rand::random(),
        },
        0,
    )
    .await
    .context("start the Twilio emulator")?;
    let hooks = format!("{base}/api/v1/telephony/twilio/{}", account.id);
    let emulator = Arc::new(emulator);
    let route = sim::load::Route::Twilio {
        emulator: emulator.clone(),
        voice_url: format!("{hooks}/voice"),
        status_callback: format!("{hooks}/status"),
    };
    Ok((route, emulator))
}

/// The Plivo emulator as the account that owns `number`, ringing it at the telephony edge's
/// answer and hang-up URLs. The edge moves calls (transfers) and hangs up through the account's
/// API, so for the run the account points at the emulator; `Borrowed` points it back. Callbacks
/// are signed with the account's Auth Token, read from the store.
async fn through_plivo(
    settings: &Settings,
    number: &contracts::E164Number,
    population: &sim::Population,
) -> anyhow::Result<(sim::load::Route, Arc<sim::PlivoEmulator>, Borrowed)> {
    let (store, account, base) = owning_account(settings, CarrierKind::Plivo, number).await?;
    let token = store
        .carrier_account_secret(account.id)
        .await
        .context("read the account's Auth Token")?;
    let emulator = sim::PlivoEmulator::start(
        sim::PlivoConfig {
            auth_id: account.account_sid.clone(),
            auth_token: token,
            population: population.clone(),
            seed: rand::random(),
        },
        0,
    )
    .await
    .context("start the Plivo emulator")?;
    let borrowed = Borrowed::lend(store, &account, None, emulator.api_url(), None).await?;
    let hooks = format!("{base}/api/v1/telephony/plivo/{}", account.id);
    let emulator = Arc::new(emulator);
    let route = sim::load::Route::Plivo {
        emulator: emulator.clone(),
        answer_url: format!("{hooks}/answer"),
        hangup_url: format!("{hooks}/hangup"),
    };
    Ok((route, emulator, borrowed))
}

/// The Vonage emulator as the application that owns `number`, ringing it at the telephony edge's
/// answer and event URLs. It signs webhooks with the account's signature secret and checks the
/// edge's tokens with the application's key, both read from the store; the edge hangs up and
/// transfers through the account's API, so for the run the account points at the emulator.
async fn through_vonage(
    settings: &Settings,
    number: &contracts::E164Number,
    population: &sim::Population,
) -> anyhow::Result<(sim::load::Route, Arc<sim::VonageEmulator>, Borrowed)> {
    let (store, account, base) = owning_account(settings, CarrierKind::Vonage, number).await?;
    let private_key = store
        .carrier_account_secret(account.id)
        .await
        .context("read the application's private key")?;
    let signature_secret = store
        .carrier_account_webhook_key(account.id)
        .await
        .context("read the account's signature secret")?
        .context("the Vonage account has no signature secret")?;
    let emulator = sim::VonageEmulator::start(
        sim::VonageConfig {
            application_id: account.account_sid.clone(),
            private_key,
            signature_secret: signature_secret.clone(),
            population: population.clone(),
            seed: rand::random(),
        },
        0,
    )
    .await
    .context("start the Vonage emulator")?;
    let borrowed = Borrowed::lend(
        store,
        &account,
        Some(signature_secret),
        emulator.api_url(),
        None,
    )
    .await?;
    let hooks = format!("{base}/api/v1/telephony/vonage/{}", account.id);
    let emulator = Arc::new(emulator);
    let route = sim::load::Route::Vonage {
        emulator: emulator.clone(),
        answer_url: format!("{hooks}/answer"),
        event_url: format!("{hooks}/event"),
    };
    Ok((route, emulator, borrowed))
}

/// The Exotel emulator as the account that owns `number` (an ExoPhone), its flow the one
/// docs/telephony.md has operators build on the telephony edge (the account's keyed Voicebot and
/// Greeting URLs). The edge never calls Exotel's API for an inbound call, so nothing is borrowed.
async fn through_exotel(
    settings: &Settings,
    number: &contracts::E164Number,
    population: &sim::Population,
) -> anyhow::Result<(sim::load::Route, Arc<sim::ExotelEmulator>)> {
    let (store, account, base) = owning_account(settings, CarrierKind::Exotel, number).await?;
    let secret = store
        .carrier_account_secret(account.id)
        .await
        .context("read the account's API key and token")?;
    let (sid, app_id) = account
        .account_sid
        .split_once('/')
        .context("an Exotel account is saved as SID/APP_ID")?;
    let (api_key, api_token) = secret
        .split_once(':')
        .context("an Exotel secret is saved as API_KEY:API_TOKEN")?;
    let emulator = sim::ExotelEmulator::start(
        sim::ExotelConfig {
            sid: sid.to_owned(),
            api_key: api_key.to_owned(),
            api_token: api_token.to_owned(),
            population: population.clone(),
            seed: rand::random(),
        },
        0,
    )
    .await
    .context("start the Exotel emulator")?;
    let flow = sim::ExotelFlow::at_edge(&base, account.id, &secret, app_id);
    emulator.set_flow(flow.clone());
    let emulator = Arc::new(emulator);
    let route = sim::load::Route::Exotel {
        emulator: emulator.clone(),
        flow,
    };
    Ok((route, emulator))
}
