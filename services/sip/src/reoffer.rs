//! New offers in an answered call (re-INVITE, UPDATE): hold and unhold answered, codecs changed.
//!
//! RFC 3264 §8: an offer inside a dialog may change the direction (a phone holding the call sends
//! `sendonly` or `inactive`, answered `recvonly` or `inactive`), the address or the codecs. vox
//! answers on the same RTP port with the codec the call already speaks when the offer keeps it (its
//! payload type as the new offer numbers it), else with the first of the offer's codecs vox speaks
//! (PCMU to PCMA, or back), and its `o=` version one up; the bridge switches to what was agreed.
//! An offer with no codec vox speaks is refused 488 and the call goes on as it was (RFC 3261
//! §14.2); a re-INVITE without an offer gets vox's current description as its offer. On hold the
//! bridge sends nothing where it agreed to receive only, and a phone held `inactive` is not ended
//! as silent; the call is never dropped for a new offer.

use crate::sdp::{self, Direction, Local, Negotiated};

/// An answered call's media as both sides last agreed it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Session {
    pub local: Local,
    pub negotiated: Negotiated,
}

/// vox's answer to a new offer (`body`, empty for an offerless re-INVITE), or the status and
/// reason refusing it; `session` moves on when it is answered.
pub(crate) fn reanswer(session: &mut Session, body: &[u8]) -> Result<String, (u16, String)> {
    let mut local = session.local.clone();
    local.version += 1;
    if body.is_empty() {
        let mut offered = session.negotiated.clone();
        offered.direction = Direction::SendRecv;
        session.local = local.clone();
        return Ok(sdp::describe(&local, &offered));
    }
    let offer = std::str::from_utf8(body)
        .map_err(|_| (488, "the offer is not text".to_owned()))
        .and_then(|text| sdp::parse(text).map_err(|e| (488, e.to_string())))?;
    let current = session.negotiated.codec;
    let Some(&(codec, payload_type)) = offer
        .codecs
        .iter()
        .find(|(c, _)| *c == current)
        .or_else(|| offer.codecs.first())
    else {
        return Err((
            488,
            format!(
                "the call speaks {} and the new offer names no codec vox speaks",
                current.name()
            ),
        ));
    };
    let negotiated = Negotiated {
        codec,
        payload_type,
        telephone_event: offer.telephone_event,
        ptime_ms: offer
            .ptime_ms
            .filter(|p| (10..=60).contains(p))
            .unwrap_or(session.negotiated.ptime_ms),
        direction: offer.direction.answer(),
        remote: std::net::SocketAddr::new(offer.address, offer.port),
    };
    let answer = sdp::describe(&local, &negotiated);
    *session = Session { local, negotiated };
    Ok(answer)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sdp::Codec;

    fn session() -> Session {
        let local = Local {
            address: "192.0.2.1".parse().unwrap(),
            port: 10_000,
            session_id: 7,
            version: 1,
        };
        let offer = sdp::parse(&offer("sendrecv", "0 101", "a=rtpmap:0 PCMU/8000\r\n")).unwrap();
        let (_, negotiated) = sdp::answer(&offer, &local).unwrap();
        Session { local, negotiated }
    }

    fn offer(direction: &str, formats: &str, maps: &str) -> String {
        format!(
            "v=0\r\no=- 1 2 IN IP4 198.51.100.9\r\ns=-\r\nc=IN IP4 198.51.100.9\r\nt=0 0\r\n\
             m=audio 4000 RTP/AVP {formats}\r\n{maps}a=rtpmap:101 telephone-event/8000\r\na={direction}\r\n"
        )
    }

    #[test]
    fn hold_is_answered_recvonly_and_unhold_sendrecv_on_the_same_port_and_codec() {
        let mut call = session();
        let held = reanswer(
            &mut call,
            offer(
                "sendonly",
                "8 0 101",
                "a=rtpmap:8 PCMA/8000\r\na=rtpmap:0 PCMU/8000\r\n",
            )
            .as_bytes(),
        )
        .unwrap();
        assert!(held.contains("a=recvonly"), "{held}");
        assert!(held.contains("m=audio 10000 RTP/AVP 0 101"), "{held}");
        assert!(held.contains("o=vox 7 2 IN IP4"), "{held}");
        assert_eq!(call.negotiated.codec, Codec::Pcmu);
        assert_eq!(call.negotiated.direction, Direction::RecvOnly);
        let resumed = reanswer(
            &mut call,
            offer("sendrecv", "0 101", "a=rtpmap:0 PCMU/8000\r\n").as_bytes(),
        )
        .unwrap();
        assert!(resumed.contains("a=sendrecv"), "{resumed}");
        assert!(resumed.contains("o=vox 7 3 IN IP4"), "{resumed}");
        let inactive = reanswer(
            &mut call,
            offer("inactive", "0 101", "a=rtpmap:0 PCMU/8000\r\n").as_bytes(),
        )
        .unwrap();
        assert!(inactive.contains("a=inactive"), "{inactive}");
    }

    #[test]
    fn an_offer_of_another_codec_vox_speaks_switches_the_call_to_it() {
        let mut call = session();
        let switched = reanswer(
            &mut call,
            offer("sendrecv", "8 101", "a=rtpmap:8 PCMA/8000\r\n").as_bytes(),
        )
        .unwrap();
        assert!(
            switched.contains("m=audio 10000 RTP/AVP 8 101"),
            "{switched}"
        );
        assert_eq!(call.negotiated.codec, Codec::Pcma);
        assert_eq!(call.negotiated.payload_type, 8);
    }

    #[test]
    fn an_offer_with_no_codec_vox_speaks_is_refused_488_and_changes_nothing() {
        let mut call = session();
        let before = call.clone();
        let refused = reanswer(
            &mut call,
            offer("sendrecv", "18 101", "a=rtpmap:18 G729/8000\r\n").as_bytes(),
        );
        assert_eq!(refused.map_err(|(code, _)| code), Err(488));
        assert_eq!(call, before);
        assert_eq!(
            reanswer(&mut call, b"not sdp").map_err(|(c, _)| c),
            Err(488)
        );
        assert_eq!(call, before);
    }

    #[test]
    fn an_offerless_reinvite_gets_the_calls_description_as_an_offer() {
        let mut call = session();
        let offered = reanswer(&mut call, b"").unwrap();
        assert!(offered.contains("m=audio 10000 RTP/AVP 0 101"), "{offered}");
        assert!(offered.contains("a=sendrecv"), "{offered}");
        assert_eq!(call.local.version, 2);
    }
}
