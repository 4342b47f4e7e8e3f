//! What vox puts in Telnyx's `client_state`: which call a webhook is about, or what to say last.
//!
//! Reference: <https://developers.telnyx.com/api-reference/call-commands/dial> (`client_state`:
//! "Use this field to add state to every subsequent webhook. It must be a valid Base-64 encoded
//! string."). Telnyx echoes the state of the last command that set one on every later webhook of
//! the call, so the edge needs no table of its own to know a call or finish a refusal. The
//! webhook is signed, so the state cannot be forged by someone without the account's key.

use base64::Engine as _;
use contracts::CallId;

/// A message the edge says before it hangs up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Farewell {
    /// An answered outbound call no worker could take.
    Abandoned,
    /// An inbound call to a number that routes nowhere.
    Unrouted,
    /// An inbound call while every line is busy.
    Busy,
}

impl Farewell {
    fn as_str(self) -> &'static str {
        match self {
            Farewell::Abandoned => "abandoned",
            Farewell::Unrouted => "unrouted",
            Farewell::Busy => "busy",
        }
    }
}

/// The decoded `client_state`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientState {
    /// The call is vox's call `0`.
    Call(CallId),
    /// The edge is saying a farewell (to call `1`, when there is one) and hangs up after it.
    Farewell(Farewell, Option<CallId>),
}

impl ClientState {
    /// The base64 form Telnyx carries.
    pub fn encode(self) -> String {
        let plain = match self {
            ClientState::Call(id) => format!("vox:call:{id}"),
            ClientState::Farewell(farewell, call) => format!(
                "vox:farewell:{}:{}",
                farewell.as_str(),
                call.map_or("-".to_owned(), |c| c.to_string())
            ),
        };
        base64::engine::general_purpose::STANDARD.encode(plain)
    }

    /// Reads a state this module wrote; `None` for anything else (another app's state).
    pub fn decode(encoded: &str) -> Option<Self> {
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(encoded.trim())
            .ok()?;
        let plain = String::from_utf8(bytes).ok()?;
        let mut parts = plain.split(':');
        if parts.next()? != "vox" {
            return None;
        }
        let call = |text: &str| text.parse::<i64>().ok().map(CallId);
        let state = match parts.next()? {
            "call" => ClientState::Call(call(parts.next()?)?),
            "farewell" => {
                let farewell = match parts.next()? {
                    "abandoned" => Farewell::Abandoned,
                    "unrouted" => Farewell::Unrouted,
                    "busy" => Farewell::Busy,
                    _ => return None,
                };
                let id = match parts.next()? {
                    "-" => None,
                    id => Some(call(id)?),
                };
                ClientState::Farewell(farewell, id)
            }
            _ => return None,
        };
        parts.next().is_none().then_some(state)
    }

    /// The vox call the state names, when it names one.
    pub fn call(self) -> Option<CallId> {
        match self {
            ClientState::Call(id) => Some(id),
            ClientState::Farewell(_, id) => id,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_state_reads_back_as_itself() {
        for state in [
            ClientState::Call(CallId(42)),
            ClientState::Farewell(Farewell::Abandoned, Some(CallId(7))),
            ClientState::Farewell(Farewell::Unrouted, None),
            ClientState::Farewell(Farewell::Busy, Some(CallId(1))),
        ] {
            assert_eq!(ClientState::decode(&state.encode()), Some(state));
        }
    }

    #[test]
    fn another_app_state_or_garbage_is_not_ours() {
        // The reference's own example: "have a nice day =]".
        assert_eq!(ClientState::decode("aGF2ZSBhIG5pY2UgZGF5ID1d"), None);
        assert_eq!(ClientState::decode("!!"), None);
        let extra = base64::engine::general_purpose::STANDARD.encode("vox:call:1:2");
        assert_eq!(ClientState::decode(&extra), None);
        let bad_id = base64::engine::general_purpose::STANDARD.encode("vox:call:x");
        assert_eq!(ClientState::decode(&bad_id), None);
    }
}
