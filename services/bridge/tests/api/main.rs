//! Black-box HTTP tests of the Backend API; every test runs against SQLite and PostgreSQL.

mod helpers;

mod access;
mod auth;
mod bots;
mod campaigns;
mod capacity;
mod crm;
mod crm_lookup;
mod exotel;
mod fleet;
mod health;
mod knowledge;
mod live;
mod ops;
mod plivo;
mod recordings;
mod reports;
mod settings;
mod sip;
mod telephony;
mod telnyx;
mod vonage;
mod widget;
