//! The capacity registry's one suite, run against the in-process registry and against a real Redis.

#[path = "registry/support.rs"]
mod support;

#[path = "registry/slots.rs"]
mod slots;
