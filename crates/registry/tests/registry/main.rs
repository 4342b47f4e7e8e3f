//! The capacity registry's one suite, run against the in-process registry and against a real Redis.

mod support;

mod slots;
