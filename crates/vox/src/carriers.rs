//! The dialler's carrier accounts: a saved account becomes its carrier's REST client.

use contracts::telephony::CarrierKind;
use dialler::carrier::Carrier;
use std::sync::Arc;
use store::CarrierAccount;

/// Builds a campaign's carrier from its account and `VOX_PUBLIC_URL`.
#[derive(Debug)]
pub(crate) struct Carriers {
    /// Where carriers reach the Backend's telephony edge.
    pub(crate) public_url: Option<String>,
}

/// Calls per second an account places when nothing else is known (Twilio's default CPS).
const DEFAULT_CPS: f64 = 1.0;

impl dialler::engine::CarrierFactory for Carriers {
    fn build(&self, account: &CarrierAccount, secret: String) -> Result<Arc<dyn Carrier>, String> {
        let public_url = self.public_url.clone().ok_or_else(|| {
            format!(
                "VOX_PUBLIC_URL is not set, so {} cannot reach the telephony edge's webhooks",
                account.carrier
            )
        })?;
        match account.carrier {
            CarrierKind::Twilio => Ok(Arc::new(telephony::twilio::TwilioCarrier::new(
                telephony::twilio::TwilioConfig {
                    account: account.id,
                    account_sid: account.account_sid.clone(),
                    auth_token: secret,
                    api_url: account.api_url.clone(),
                    public_url,
                    calls_per_second: DEFAULT_CPS,
                    numbers: account
                        .numbers
                        .iter()
                        .map(|n| n.as_str().to_owned())
                        .collect(),
                },
            ))),
            other => Err(format!("dialling through {other} is not built yet")),
        }
    }
}
