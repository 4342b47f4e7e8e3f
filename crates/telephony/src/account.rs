//! A saved carrier account's REST client, whatever its carrier: one place builds it.
//!
//! The dialler dials through it (`carrier::Carrier`); the edge hangs up and transfers with it
//! ([`AccountCarrier`]). Both build it here from the account's saved fields, so a carrier added
//! is added once.

use carrier::{Carrier, CarrierError};
use contracts::CallId;
use contracts::telephony::{CarrierAccountId, CarrierKind};
use std::sync::Arc;

/// A carrier account's fields, its secrets included.
#[derive(Clone)]
pub struct AccountConfig {
    pub account: CarrierAccountId,
    pub carrier: CarrierKind,
    /// The carrier's account id (Twilio's Account SID, Telnyx's Call Control connection id,
    /// Plivo's Auth ID, Vonage's application id, Exotel's `SID/APP_ID`).
    pub account_sid: String,
    /// What signs requests (Twilio's and Plivo's Auth Token, Telnyx's API key, the Vonage
    /// application's private key, Exotel's `API_KEY:API_TOKEN`).
    pub secret: String,
    /// The REST API's base (the carrier's own unless an emulator's); a SIP trunk's `vox sip`
    /// call control.
    pub api_url: Option<String>,
    /// `VOX_PUBLIC_URL`: the base the carrier reaches the edge's webhooks at.
    pub public_url: String,
    /// Numbers the account owns: the caller ID when a campaign names none.
    pub numbers: Vec<String>,
    /// Calls placed per second at most, where the carrier meters them (Twilio's CPS).
    pub calls_per_second: f64,
}

impl std::fmt::Debug for AccountConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AccountConfig")
            .field("account", &self.account)
            .field("carrier", &self.carrier)
            .field("account_sid", &self.account_sid)
            .field("api_url", &self.api_url)
            .field("public_url", &self.public_url)
            .finish_non_exhaustive()
    }
}

/// A carrier behind the telephony edge: the dialler's `Carrier` and the edge's own verbs.
#[async_trait::async_trait]
pub trait AccountCarrier: Carrier {
    /// Ends the call at the carrier whatever its state.
    async fn hang_up(&self, call_id: CallId) -> Result<(), CarrierError>;
    /// Moves the caller to `number`, presenting `caller_id` when given.
    async fn transfer(
        &self,
        call_id: CallId,
        number: &str,
        caller_id: Option<&str>,
    ) -> Result<(), CarrierError>;
    /// Presses `digits` (keypad keys, checked) on the call with the carrier's own verb: the
    /// carrier plays the tones into the call. A carrier without one answers `Unsupported`, and
    /// the worker plays the tones in the bot's audio instead.
    async fn send_digits(&self, call_id: CallId, digits: &str) -> Result<(), CarrierError> {
        let _ = (call_id, digits);
        Err(CarrierError::Unsupported(format!(
            "{} has no verb to press keys on a call",
            self.name()
        )))
    }
}

/// The REST client of `config`'s account; an error says why its carrier cannot be used yet.
pub fn client(config: AccountConfig) -> Result<Arc<dyn AccountCarrier>, String> {
    match config.carrier {
        CarrierKind::Twilio => Ok(Arc::new(crate::twilio::TwilioCarrier::new(
            crate::twilio::TwilioConfig {
                account: config.account,
                account_sid: config.account_sid,
                auth_token: config.secret,
                api_url: config.api_url,
                public_url: config.public_url,
                calls_per_second: config.calls_per_second,
                numbers: config.numbers,
            },
        ))),
        CarrierKind::Telnyx => Ok(Arc::new(crate::telnyx::TelnyxCarrier::new(
            crate::telnyx::TelnyxConfig {
                account: config.account,
                connection_id: config.account_sid,
                api_key: config.secret,
                api_url: config.api_url,
                public_url: config.public_url,
                numbers: config.numbers,
            },
        ))),
        CarrierKind::Plivo => Ok(Arc::new(crate::plivo::PlivoCarrier::new(
            crate::plivo::PlivoConfig {
                account: config.account,
                auth_id: config.account_sid,
                auth_token: config.secret,
                api_url: config.api_url,
                public_url: config.public_url,
                calls_per_second: config.calls_per_second,
                numbers: config.numbers,
            },
        ))),
        CarrierKind::Vonage => Ok(Arc::new(crate::vonage::VonageCarrier::new(
            crate::vonage::VonageConfig {
                account: config.account,
                application_id: config.account_sid,
                private_key: config.secret,
                api_url: config.api_url,
                public_url: config.public_url,
                calls_per_second: config.calls_per_second,
                numbers: config.numbers,
            },
        ))),
        CarrierKind::Exotel => Ok(Arc::new(crate::exotel::ExotelCarrier::new(
            crate::exotel::ExotelConfig {
                account: config.account,
                account_sid: config.account_sid,
                secret: config.secret,
                api_url: config.api_url,
                public_url: config.public_url,
                calls_per_second: config.calls_per_second,
                numbers: config.numbers,
            },
        ))),
        // The trunk is reached through its `vox sip` gateway, whose call control is `api_url`.
        CarrierKind::Sip => Ok(Arc::new(crate::sip::SipCarrier::new(
            crate::sip::SipConfig {
                account: config.account,
                secret: config.secret,
                control_url: config.api_url,
                numbers: config.numbers,
            },
        ))),
    }
}
