//! Controlling live calls from outside: place one, hang one up, transfer one by REFER.
//!
//! `Control` is a handle on a running gateway for the dialler's and the edge's requests (served
//! over HTTP by `api`). Each call the gateway carries is kept by its SIP Call-ID in `Calls`: what
//! ends it and why. A transfer is a cold one (RFC 3515, RFC 5589 §6): vox sends REFER with the
//! target in Refer-To and itself in Referred-By; the trunk answers 202 and reports how its call to
//! the target goes in NOTIFYs (`message/sipfrag`), each answered 200 and reported to the
//! `Transfers` listener; a final 2xx means the caller is with the target, and vox hangs up its
//! own leg with a BYE. A failed transfer leaves the caller with the bot.

use crate::gateway::Shared;
use crate::media::Ended;
use crate::outbound::{Dial, DialError, Outbound, OutboundTrunk};
use parking_lot::Mutex;
use rsipstack::dialog::DialogId;
use rsipstack::dialog::dialog::Dialog;
use rsipstack::sip::{Header, StatusCode};
use std::collections::HashMap;
use std::sync::Arc;
use tokio_util::sync::CancellationToken;

/// A live call as the gateway keeps it.
struct Live {
    /// Cancelled to end the call: a CANCEL while it rings, a BYE once it is bridged.
    end: CancellationToken,
    /// Why it was ended from here, reported as the call's end.
    why: Option<Ended>,
    /// Its dialog, once bridged.
    dialog: Option<DialogId>,
    /// Told how a transfer of it goes.
    transfer: Option<Arc<dyn Transfers>>,
}

/// The gateway's live calls by SIP Call-ID.
#[derive(Default)]
pub(crate) struct Calls {
    live: Mutex<HashMap<String, Live>>,
}

impl Calls {
    /// Keeps the call (once; a second open returns the same token); its end token.
    pub(crate) fn open(&self, sip_call_id: &str) -> CancellationToken {
        self.live
            .lock()
            .entry(sip_call_id.to_owned())
            .or_insert_with(|| Live {
                end: CancellationToken::new(),
                why: None,
                dialog: None,
                transfer: None,
            })
            .end
            .clone()
    }

    /// The call is bridged on `dialog`: its end token.
    pub(crate) fn bridged(&self, dialog: &DialogId) -> CancellationToken {
        let end = self.open(&dialog.call_id);
        if let Some(live) = self.live.lock().get_mut(&dialog.call_id) {
            live.dialog = Some(dialog.clone());
        }
        end
    }

    /// Forgets the call; why it was ended from here, if it was.
    pub(crate) fn close(&self, sip_call_id: &str) -> Option<Ended> {
        self.live.lock().remove(sip_call_id).and_then(|l| l.why)
    }

    /// Ends the call for `why`; false when no such call is live.
    fn end(&self, sip_call_id: &str, why: Ended) -> bool {
        let mut live = self.live.lock();
        let Some(call) = live.get_mut(sip_call_id) else {
            return false;
        };
        call.why.get_or_insert(why);
        call.end.cancel();
        true
    }

    fn dialog(&self, sip_call_id: &str) -> Option<DialogId> {
        self.live.lock().get(sip_call_id)?.dialog.clone()
    }

    fn listen(&self, sip_call_id: &str, transfer: Arc<dyn Transfers>) {
        if let Some(call) = self.live.lock().get_mut(sip_call_id) {
            call.transfer = Some(transfer);
        }
    }

    fn listener(&self, sip_call_id: &str) -> Option<Arc<dyn Transfers>> {
        self.live.lock().get(sip_call_id)?.transfer.clone()
    }
}

/// How a transfer goes: each NOTIFY's status, `last` when the trunk says it is the final one.
#[async_trait::async_trait]
pub trait Transfers: Send + Sync + 'static {
    async fn progress(&self, sip_call_id: &str, code: u16, reason: &str, last: bool);
}

/// Why a call could not be ended or transferred.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum ControlError {
    #[error("no call {0} is live on this gateway")]
    UnknownCall(String),
    #[error("call {0} is not answered yet: only an answered call can be transferred")]
    NotAnswered(String),
    #[error("the trunk refused the transfer: {code} {reason}")]
    Refused { code: u16, reason: String },
    #[error("the REFER was not answered: {0}")]
    NoAnswer(String),
}

/// A handle on a running gateway's calls.
#[derive(Clone)]
pub struct Control {
    pub(crate) shared: Arc<Shared>,
}

impl std::fmt::Debug for Control {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Control").finish_non_exhaustive()
    }
}

impl Control {
    /// Places `dial` through `trunk` (see `Gateway::dial`): its SIP Call-ID.
    pub async fn dial(
        &self,
        trunk: &OutboundTrunk,
        dial: Dial,
        outbound: Arc<dyn Outbound>,
    ) -> Result<String, DialError> {
        crate::outbound::dial(self.shared.clone(), trunk, dial, outbound).await
    }

    /// True while the gateway drains (no new calls).
    pub fn draining(&self) -> bool {
        self.shared.metrics.draining()
    }

    /// Ends a live call: a CANCEL while it rings, a BYE once answered (its end is reported as
    /// `Ended::Requested`).
    pub fn hang_up(&self, sip_call_id: &str) -> Result<(), ControlError> {
        if self.shared.calls.end(sip_call_id, Ended::Requested) {
            Ok(())
        } else {
            Err(ControlError::UnknownCall(sip_call_id.to_owned()))
        }
    }

    /// Sends the answered call's other side a REFER to `target` (a SIP URI), vox as `referred_by`
    /// (its user part); how it goes is told to `transfers`. Ok once the trunk accepted it (202).
    pub async fn transfer(
        &self,
        sip_call_id: &str,
        target: &str,
        referred_by: &str,
        transfers: Arc<dyn Transfers>,
    ) -> Result<(), ControlError> {
        let calls = &self.shared.calls;
        if !calls.live.lock().contains_key(sip_call_id) {
            return Err(ControlError::UnknownCall(sip_call_id.to_owned()));
        }
        let Some(id) = calls.dialog(sip_call_id) else {
            return Err(ControlError::NotAnswered(sip_call_id.to_owned()));
        };
        let Some(Dialog::Invite(dialog)) = self.shared.dialogs.get_dialog(&id) else {
            return Err(ControlError::UnknownCall(sip_call_id.to_owned()));
        };
        calls.listen(sip_call_id, transfers);
        let by = Header::ReferredBy(
            format!("<sip:{referred_by}@{}>", self.shared.contact.host_with_port).into(),
        );
        let answer = dialog
            .refer(format!("<{target}>").as_str(), Some(vec![by]), None)
            .await
            .map_err(|e| ControlError::NoAnswer(e.to_string()))?;
        match answer {
            Some(response) if (200..300).contains(&response.status_code.code()) => Ok(()),
            Some(response) => Err(ControlError::Refused {
                code: response.status_code.code(),
                reason: response.status_code.to_string(),
            }),
            None => Err(ControlError::NoAnswer("no final response".into())),
        }
    }
}

/// The status a REFER's NOTIFY reports (its `message/sipfrag` body's status line) and whether its
/// subscription is over (`Subscription-State: terminated`).
pub(crate) fn refer_status(request: &rsipstack::sip::Request) -> Option<(u16, String, bool)> {
    let mut event = None;
    let mut state = None;
    for header in request.headers.iter() {
        let name = header.name().to_ascii_lowercase();
        let value = header.value().trim().to_ascii_lowercase();
        match name.as_str() {
            "event" | "o" => event = Some(value),
            "subscription-state" => state = Some(value),
            _ => {}
        }
    }
    if !event?.starts_with("refer") {
        return None;
    }
    let body = std::str::from_utf8(&request.body).ok()?;
    let line = body.lines().find(|l| l.starts_with("SIP/2.0"))?;
    let mut parts = line.splitn(3, ' ');
    let code: u16 = parts.nth(1)?.parse().ok()?;
    let reason = parts.next().unwrap_or("").trim().to_owned();
    Some((code, reason, state?.starts_with("terminated")))
}

/// A NOTIFY in a call: answered 200; a REFER's progress told to the call's listener, and a
/// final success ends vox's leg (the caller is with the transfer's target).
pub(crate) async fn notified(
    shared: Arc<Shared>,
    id: DialogId,
    request: rsipstack::sip::Request,
    handle: rsipstack::dialog::dialog::TransactionHandle,
) {
    let status = refer_status(&request);
    let reply = if status.is_some() {
        StatusCode::OK
    } else {
        // RFC 6665 §4.1.3: a NOTIFY for no subscription of ours.
        StatusCode::from(489)
    };
    if handle.reply(reply).await.is_err() {
        tracing::debug!(%id, "the NOTIFY's transaction was gone before its answer");
    }
    let Some((code, reason, last)) = status else {
        return;
    };
    tracing::info!(%id, code, %reason, last, "transfer progress");
    if let Some(listener) = shared.calls.listener(&id.call_id) {
        listener.progress(&id.call_id, code, &reason, last).await;
    }
    if last && (200..300).contains(&code) {
        shared.calls.end(&id.call_id, Ended::Transferred);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn notify(event: &str, state: &str, body: &str) -> rsipstack::sip::Request {
        let text = format!(
            "NOTIFY sip:vox@127.0.0.1:5060 SIP/2.0\r\n\
             Via: SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bK1\r\n\
             From: <sip:trunk@127.0.0.1>;tag=a\r\nTo: <sip:vox@127.0.0.1>;tag=b\r\n\
             Call-ID: c1\r\nCSeq: 2 NOTIFY\r\nEvent: {event}\r\n\
             Subscription-State: {state}\r\nContent-Type: message/sipfrag\r\n\
             Content-Length: {}\r\n\r\n{body}",
            body.len()
        );
        rsipstack::sip::Request::try_from(text.as_str()).unwrap()
    }

    #[test]
    fn a_refers_notify_tells_its_sipfrag_status_and_whether_it_is_the_last() {
        let trying = notify("refer", "active;expires=60", "SIP/2.0 100 Trying\r\n");
        assert_eq!(refer_status(&trying), Some((100, "Trying".into(), false)));
        let done = notify(
            "refer;id=2",
            "terminated;reason=noresource",
            "SIP/2.0 200 OK",
        );
        assert_eq!(refer_status(&done), Some((200, "OK".into(), true)));
        let busy = notify("refer", "terminated", "SIP/2.0 486 Busy Here\r\n");
        assert_eq!(refer_status(&busy), Some((486, "Busy Here".into(), true)));
        assert_eq!(
            refer_status(&notify("presence", "active", "SIP/2.0 200 OK")),
            None
        );
        assert_eq!(refer_status(&notify("refer", "active", "hello")), None);
    }
}
