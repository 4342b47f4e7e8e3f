//! The fleet worker end to end.
//!
//! A real Backend, real speech (espeak-ng in, whisper.cpp STT, espeak-ng and Piper TTS), each
//! carrier's media protocol, attach, durable delivery and drain.

mod support;

mod caller;

mod attach;
mod calls;
mod delivery;
mod knowledge;
mod voice;
