//! `vox sip`: the native SIP trunk gateway; so far inbound calls answered and bridged to a worker.
//!
//! Issue 23 builds it in slices. This one is what every call's media needs whatever the
//! signalling: the SDP offer/answer for one G.711 audio stream with telephone-events (`sdp`), RTP
//! packets and RFC 4733 payloads (`rtp`), the keys a caller presses, read once and sent as a
//! phone sends them (`dtmf`), and the playout buffer that puts a phone network's packets back in
//! order (`jitter`). Each is pure: no sockets, no clock, so each is tested on its own. `media`
//! runs one call's RTP leg against a worker's `vox` media socket with them, and `gateway` is the
//! SIP endpoint (rsipstack) that answers INVITEs where a `Router` says and bridges them; `edge`
//! is the `Router` over the Backend's telephony edge and `metrics` what `vox sip` serves on
//! `/health` and `/metrics`; `register` keeps the gateway registered with a trunk that wants it,
//! and `keepalive` asks one that does not whether it is there. `outbound` places calls through
//! a trunk; `control` hangs up and transfers live calls, and `api` serves both over HTTP to the
//! dialler and the edge.

pub mod api;
mod challenge;
pub mod control;
pub mod dtmf;
pub mod edge;
pub mod gateway;
pub mod jitter;
mod keepalive;
pub mod media;
pub mod metrics;
pub mod outbound;
pub mod ports;
pub mod register;
mod reoffer;
pub mod rtcp;
pub mod rtp;
pub mod sdp;
#[cfg(feature = "test-util")]
pub mod testing;
pub mod timer;
