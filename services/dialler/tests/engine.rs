//! The dialler's engine against a real store (SQLite and PostgreSQL), a scripted carrier and fake fleet workers on loopback.

#[path = "engine/support.rs"]
mod support;

#[path = "engine/calls.rs"]
mod calls;
#[path = "engine/ticks.rs"]
mod ticks;
