//! Which carrier places a campaign's calls: the default one or the campaign's carrier account.
//!
//! A campaign names its account in `settings.dialler.carrier_account`; the account's carrier is
//! built by the `CarrierFactory` the dialler was given (`AccountCarriers`: the carriers' REST
//! clients from `telephony`, with `VOX_PUBLIC_URL`) and rebuilt when the account is saved again.

use super::Engine;
use carrier::Carrier;
use chrono::{DateTime, Utc};
use contracts::telephony::CarrierAccountId;
use std::sync::Arc;
use store::{Campaign, CarrierAccount, dialler_settings};

/// The carriers of saved accounts: each carrier's REST client, reaching the edge at `public_url`.
#[derive(Debug, Clone)]
pub struct AccountCarriers {
    /// `VOX_PUBLIC_URL`: where carriers reach the Backend's telephony edge.
    pub public_url: Option<String>,
}

/// Calls per second an account places when nothing else is known (Twilio's default CPS).
const DEFAULT_CPS: f64 = 1.0;

impl CarrierFactory for AccountCarriers {
    fn build(&self, account: &CarrierAccount, secret: String) -> Result<Arc<dyn Carrier>, String> {
        // A SIP trunk's gateway reaches the edge by VOXBRIDGE_URL, not a public URL.
        let public_url = match (&self.public_url, account.carrier) {
            (Some(url), _) => url.clone(),
            (None, contracts::telephony::CarrierKind::Sip) => String::new(),
            (None, carrier) => {
                return Err(format!(
                    "VOX_PUBLIC_URL is not set, so {carrier} cannot reach the telephony edge's webhooks"
                ));
            }
        };
        let client = telephony::client(telephony::AccountConfig {
            account: account.id,
            carrier: account.carrier,
            account_sid: account.account_sid.clone(),
            secret,
            api_url: account.api_url.clone(),
            public_url,
            numbers: account
                .numbers
                .iter()
                .map(|n| n.as_str().to_owned())
                .collect(),
            calls_per_second: DEFAULT_CPS,
        })?;
        Ok(client)
    }
}

/// Builds the carrier for a saved account.
pub trait CarrierFactory: Send + Sync + std::fmt::Debug {
    /// The carrier for `account`, signing with `secret`; an error says why it cannot be used.
    fn build(&self, account: &CarrierAccount, secret: String) -> Result<Arc<dyn Carrier>, String>;
}

/// A built account carrier and the account version it was built from.
#[derive(Debug, Clone)]
pub(super) struct Built {
    updated_at: DateTime<Utc>,
    carrier: Arc<dyn Carrier>,
}

impl Engine {
    /// Dials through carrier accounts built by `factory` (campaigns without one use the default).
    pub fn with_accounts(mut self, factory: Arc<dyn CarrierFactory>) -> Self {
        self.factory = Some(factory);
        self
    }

    /// The carrier for `campaign`'s calls, or why there is none.
    pub(super) async fn carrier_for(
        &mut self,
        campaign: &Campaign,
    ) -> Result<Arc<dyn Carrier>, String> {
        let Some(id) = dialler_settings::carrier_account(&campaign.config.settings) else {
            return Ok(self.carrier.clone());
        };
        self.account_carrier(id).await
    }

    async fn account_carrier(&mut self, id: CarrierAccountId) -> Result<Arc<dyn Carrier>, String> {
        let account = self
            .store
            .carrier_account(id)
            .await
            .map_err(|e| format!("carrier account {id}: {e}"))?;
        if let Some(built) = self.accounts.get(&id)
            && built.updated_at == account.updated_at
        {
            return Ok(built.carrier.clone());
        }
        let factory = self.factory.clone().ok_or_else(|| {
            format!("this dialler cannot use carrier account {id}: no carriers are configured")
        })?;
        let secret = self
            .store
            .carrier_account_secret(id)
            .await
            .map_err(|e| format!("carrier account {id}: {e}"))?;
        let carrier = factory.build(&account, secret)?;
        self.accounts.insert(
            id,
            Built {
                updated_at: account.updated_at,
                carrier: carrier.clone(),
            },
        );
        Ok(carrier)
    }
}
