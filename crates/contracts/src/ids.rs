//! Typed identifiers: a call id can never be passed where a campaign id is expected.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use std::fmt;

/// Declares a typed id (also used by `telephony`).
macro_rules! id_type {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(
            Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema,
        )]
        #[serde(transparent)]
        pub struct $name(pub i64);

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.fmt(f)
            }
        }

        impl From<i64> for $name {
            fn from(raw: i64) -> Self {
                Self(raw)
            }
        }
    };
}
pub(crate) use id_type;

id_type!(
    /// One call attempt (one row of `calls`).
    CallId
);
id_type!(
    /// A bot; its versions are numbered separately (see `BotVersion` in the runtime config).
    BotId
);
id_type!(
    /// An outbound campaign.
    CampaignId
);
id_type!(
    /// One contact of a campaign.
    ContactId
);
id_type!(
    /// An operator account.
    UserId
);
