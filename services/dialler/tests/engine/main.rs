//! The dialler's engine against a real store (SQLite and PostgreSQL).
//!
//! A scripted carrier and fake fleet workers on loopback.

mod support;

mod calls;
mod ticks;
