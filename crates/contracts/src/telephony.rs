//! The telephony edge's closed sets: the carriers vox speaks, a carrier account's id, a SIP trunk.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// A telephony carrier whose API and webhooks the Backend's edge speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum CarrierKind {
    Twilio,
    Telnyx,
    Plivo,
    Vonage,
    Exotel,
    /// A SIP trunk or PBX, through `vox sip`.
    Sip,
}

impl CarrierKind {
    pub const ALL: [CarrierKind; 6] = [
        CarrierKind::Twilio,
        CarrierKind::Telnyx,
        CarrierKind::Plivo,
        CarrierKind::Vonage,
        CarrierKind::Exotel,
        CarrierKind::Sip,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            CarrierKind::Twilio => "twilio",
            CarrierKind::Telnyx => "telnyx",
            CarrierKind::Plivo => "plivo",
            CarrierKind::Vonage => "vonage",
            CarrierKind::Exotel => "exotel",
            CarrierKind::Sip => "sip",
        }
    }
}

impl fmt::Display for CarrierKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A carrier name vox does not speak.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown carrier {0:?} (one of twilio, telnyx, plivo, vonage, exotel, sip)")]
pub struct UnknownCarrier(pub String);

impl FromStr for CarrierKind {
    type Err = UnknownCarrier;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        CarrierKind::ALL
            .into_iter()
            .find(|kind| kind.as_str() == text)
            .ok_or_else(|| UnknownCarrier(text.to_owned()))
    }
}

/// The transport `vox sip` speaks to a trunk on.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum SipTransport {
    #[default]
    Udp,
    Tcp,
}

/// How `vox sip` reaches a SIP trunk, beyond its address (the account's `account_sid`,
/// `host[:port]`) and its password (the account's secret, write-only).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
// Registering and challenging callers both need the username (the Backend refuses them without).
#[schemars(extend("allOf" = [
    {
        "if": {"properties": {"register": {"const": true}}, "required": ["register"]},
        "then": {"required": ["username"], "properties": {"username": {"type": "string"}}}
    },
    {
        "if": {"properties": {"authenticate_callers": {"const": true}}, "required": ["authenticate_callers"]},
        "then": {"required": ["username"], "properties": {"username": {"type": "string"}}}
    }
]))]
pub struct SipTrunk {
    /// The digest username the trunk challenges for (401/407), and the user of the address it
    /// registers; absent for a trunk that authenticates vox by its IP address.
    #[serde(default)]
    #[schemars(schema_with = "crate::shape::optional_non_blank")]
    pub username: Option<String>,
    /// Register with the trunk (REGISTER with digest auth, refreshed before it expires, retried
    /// after a failure) so it sends inbound calls here; false for a trunk that sends them to a
    /// fixed address.
    #[serde(default)]
    pub register: bool,
    /// Every request to the trunk goes through this proxy first (`host[:port]`).
    #[serde(default)]
    #[schemars(schema_with = "crate::shape::optional_non_blank")]
    pub outbound_proxy: Option<String>,
    #[serde(default)]
    pub transport: SipTransport,
    /// Challenge the trunk's INVITEs (401, digest of `username` and the password): a PBX that
    /// authenticates to vox rather than being let in by its address.
    #[serde(default)]
    pub authenticate_callers: bool,
}

crate::ids::id_type!(
    /// One carrier account in settings (several per carrier).
    CarrierAccountId
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_carrier_name_reads_back_as_itself_and_others_are_refused() {
        for kind in CarrierKind::ALL {
            assert_eq!(kind.as_str().parse::<CarrierKind>(), Ok(kind));
            assert_eq!(
                serde_json::to_value(kind).unwrap(),
                serde_json::json!(kind.as_str())
            );
        }
        assert!("Twilio".parse::<CarrierKind>().is_err());
        assert!("signalwire".parse::<CarrierKind>().is_err());
    }
}
