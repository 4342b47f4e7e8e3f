//! The shared store suite: every test here runs against both SQLite and PostgreSQL.

mod support;

mod calls;
mod catalog;
mod identity;
mod knowledge;
mod leader;
mod leases;
mod ops;
mod reports;
mod telephony;
