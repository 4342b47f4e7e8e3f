//! The fleet worker end to end: a real Backend, real speech (espeak-ng in, whisper.cpp STT, espeak-ng TTS), each carrier's media protocol, attach, durable delivery and drain.

#[path = "worker/support.rs"]
mod support;

#[path = "worker/caller.rs"]
mod caller;

#[path = "worker/attach.rs"]
mod attach;
#[path = "worker/calls.rs"]
mod calls;
#[path = "worker/delivery.rs"]
mod delivery;
#[path = "worker/knowledge.rs"]
mod knowledge;
