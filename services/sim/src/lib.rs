//! The PSTN simulator (`vox sim`).
//!
//! A `Carrier` whose simulated population answers, rings out, is busy, fails or is voicemail, and
//! whose callees talk to the bot over the worker's `vox` media protocol with espeak-ng voices.
//!
//! It is a product feature, not a test double: operators try a campaign end to end with no
//! carrier account, and the load generator drives a fleet at a chosen call rate. `twilio`,
//! `telnyx`, `plivo`, `vonage` and `exotel` emulate those carriers' APIs, webhooks and media
//! streams from their reference pages.

pub mod callee;
pub mod carrier;
pub mod exotel;
pub mod load;
pub mod persona;
pub mod plivo;
pub mod population;
pub mod telnyx;
pub mod twilio;
pub mod vonage;
pub mod wire;
mod xml;

pub use self::carrier::{SimCarrier, SimStats};
pub use exotel::{ExotelConfig, ExotelEmulator, ExotelFlow, ExotelInbound, ExotelStats};
pub use load::{LoadConfig, LoadError, LoadReport};
pub use persona::{Persona, PersonaConfig};
pub use plivo::{PlivoConfig, PlivoEmulator, PlivoInbound, PlivoStats};
pub use population::{Fate, Population, PopulationError, Populations};
pub use telnyx::{TelnyxConfig, TelnyxEmulator, TelnyxInbound, TelnyxStats};
pub use twilio::{EmulatorConfig, Faults, Inbound, TwilioEmulator, TwilioStats};
pub use vonage::{VonageConfig, VonageEmulator, VonageInbound, VonageStats};
