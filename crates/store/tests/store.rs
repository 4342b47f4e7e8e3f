//! The shared store suite: every test here runs against both SQLite and PostgreSQL.

#[path = "store/support.rs"]
mod support;

#[path = "store/calls.rs"]
mod calls;
#[path = "store/catalog.rs"]
mod catalog;
#[path = "store/identity.rs"]
mod identity;
#[path = "store/knowledge.rs"]
mod knowledge;
#[path = "store/leader.rs"]
mod leader;
#[path = "store/leases.rs"]
mod leases;
#[path = "store/ops.rs"]
mod ops;
#[path = "store/reports.rs"]
mod reports;
