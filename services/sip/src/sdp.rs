//! SDP offer/answer for one audio stream (RFC 3264, RFC 4566): G.711 and telephone-events.
//!
//! What a trunk or a PBX offers is read leniently (unknown lines are skipped) but checked where it
//! matters: an audio `m=` line on RTP/AVP (or RTP/SAVP, refused: SRTP is not built), a connection
//! address (per media or for the session), payload types with their `a=rtpmap`s (the static ones,
//! PCMU 0 and PCMA 8, need none), `a=ptime`, and the direction (`sendrecv`, `sendonly`,
//! `recvonly`, `inactive`: a hold is one of the last three). The answer takes the first codec of
//! the offer that vox speaks (PCMU or PCMA) and the offer's 8 kHz `telephone-event` (RFC 4733),
//! mirrors the direction, and keeps the offer's ptime when it is 10–60 ms.

use std::fmt::Write as _;
use std::net::IpAddr;

/// A voice codec vox speaks on a phone line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Codec {
    /// G.711 μ-law, static payload type 0.
    Pcmu,
    /// G.711 A-law, static payload type 8.
    Pcma,
}

impl Codec {
    pub fn name(self) -> &'static str {
        match self {
            Codec::Pcmu => "PCMU",
            Codec::Pcma => "PCMA",
        }
    }

    /// The static payload type.
    pub fn payload_type(self) -> u8 {
        match self {
            Codec::Pcmu => 0,
            Codec::Pcma => 8,
        }
    }

    /// 16-bit samples from one RTP payload.
    pub fn decode(self, payload: &[u8]) -> Vec<i16> {
        match self {
            Codec::Pcmu => audio::g711::decode_ulaw(payload),
            Codec::Pcma => audio::g711::decode_alaw(payload),
        }
    }

    /// One RTP payload from 16-bit samples.
    pub fn encode(self, samples: &[i16]) -> Vec<u8> {
        match self {
            Codec::Pcmu => audio::g711::encode_ulaw(samples),
            Codec::Pcma => audio::g711::encode_alaw(samples),
        }
    }

    fn from_rtpmap(encoding: &str, rate: u32) -> Option<Self> {
        match (encoding.to_ascii_uppercase().as_str(), rate) {
            ("PCMU", 8000) => Some(Codec::Pcmu),
            ("PCMA", 8000) => Some(Codec::Pcma),
            _ => None,
        }
    }
}

/// Which way media flows, from the describing side's point of view.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    SendRecv,
    SendOnly,
    RecvOnly,
    Inactive,
}

impl Direction {
    fn attribute(self) -> &'static str {
        match self {
            Direction::SendRecv => "sendrecv",
            Direction::SendOnly => "sendonly",
            Direction::RecvOnly => "recvonly",
            Direction::Inactive => "inactive",
        }
    }

    /// The answer's direction for an offer's (RFC 3264 §6.1).
    pub fn answer(self) -> Self {
        match self {
            Direction::SendRecv => Direction::SendRecv,
            Direction::SendOnly => Direction::RecvOnly,
            Direction::RecvOnly => Direction::SendOnly,
            Direction::Inactive => Direction::Inactive,
        }
    }

    /// Whether the describing side sends audio.
    pub fn sends(self) -> bool {
        matches!(self, Direction::SendRecv | Direction::SendOnly)
    }

    /// Whether the describing side receives audio.
    pub fn receives(self) -> bool {
        matches!(self, Direction::SendRecv | Direction::RecvOnly)
    }
}

/// One side's audio stream, as its SDP describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Audio {
    /// Where this side receives RTP.
    pub address: IpAddr,
    pub port: u16,
    /// The payload types offered, in the offer's order of preference.
    pub formats: Vec<u8>,
    /// The codecs among them vox speaks, with their payload types, in that order.
    pub codecs: Vec<(Codec, u8)>,
    /// The 8 kHz `telephone-event` payload type, when offered.
    pub telephone_event: Option<u8>,
    pub ptime_ms: Option<u32>,
    pub direction: Direction,
}

/// Why an SDP cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SdpError {
    /// Not an SDP vox can read (a SIP 400).
    #[error("malformed SDP: {0}")]
    Malformed(String),
    /// Readable, but nothing vox can answer (a SIP 488 Not Acceptable Here).
    #[error("not acceptable: {0}")]
    NotAcceptable(String),
}

fn malformed(what: impl Into<String>) -> SdpError {
    SdpError::Malformed(what.into())
}

/// `IN IP4 <address>` / `IN IP6 <address>` of a `c=` line.
fn connection(value: &str) -> Result<IpAddr, SdpError> {
    let mut parts = value.split_whitespace();
    match (parts.next(), parts.next(), parts.next()) {
        (Some("IN"), Some("IP4" | "IP6"), Some(address)) => {
            // A multicast address may carry a TTL (`/127`): not for a phone call.
            address
                .parse()
                .map_err(|_| malformed(format!("c= address {address:?}")))
        }
        _ => Err(malformed(format!("c= line {value:?}"))),
    }
}

/// The first audio stream of an SDP body.
pub fn parse(body: &str) -> Result<Audio, SdpError> {
    if body.len() > 16 * 1024 {
        return Err(malformed("the body is over 16 KiB"));
    }
    let mut session_address = None;
    let mut session_direction = Direction::SendRecv;
    let mut audio: Option<(u16, Vec<u8>, String)> = None;
    let mut media_address = None;
    let mut direction = None;
    let mut rtpmaps: Vec<(u8, String, u32)> = Vec::new();
    let mut ptime = None;
    let mut in_audio = false;
    // Inside another stream's section (video, a second audio stream): its lines are not ours.
    let mut in_other = false;
    let mut seen_version = false;
    for line in body.lines() {
        let line = line.trim_end_matches('\r');
        if line.is_empty() {
            continue;
        }
        let Some((kind, value)) = line.split_once('=') else {
            return Err(malformed(format!("line {line:?}")));
        };
        match kind {
            "v" => {
                if value != "0" {
                    return Err(malformed(format!("version {value:?}")));
                }
                seen_version = true;
            }
            _ if in_other && kind != "m" => {}
            "c" if in_audio => media_address = Some(connection(value)?),
            "c" => session_address = Some(connection(value)?),
            "m" => {
                if audio.is_some() {
                    // Only the first audio stream is taken.
                    in_audio = false;
                    in_other = true;
                    continue;
                }
                let mut parts = value.split_whitespace();
                let media = parts.next().unwrap_or_default();
                let port = parts.next().unwrap_or_default();
                let proto = parts.next().unwrap_or_default().to_owned();
                if media != "audio" {
                    in_other = true;
                    continue;
                }
                in_other = false;
                let port: u16 = port
                    .split('/')
                    .next()
                    .unwrap_or_default()
                    .parse()
                    .map_err(|_| malformed(format!("m= port {port:?}")))?;
                let formats = parts
                    .map(|f| {
                        f.parse::<u8>()
                            .ok()
                            .filter(|pt| *pt < 128)
                            .ok_or_else(|| malformed(format!("payload type {f:?}")))
                    })
                    .collect::<Result<Vec<_>, _>>()?;
                if formats.is_empty() {
                    return Err(malformed("an m=audio line without formats"));
                }
                audio = Some((port, formats, proto));
                in_audio = true;
            }
            "a" => {
                let (name, rest) = value.split_once(':').unwrap_or((value, ""));
                let dir = match name {
                    "sendrecv" => Some(Direction::SendRecv),
                    "sendonly" => Some(Direction::SendOnly),
                    "recvonly" => Some(Direction::RecvOnly),
                    "inactive" => Some(Direction::Inactive),
                    _ => None,
                };
                if let Some(dir) = dir {
                    if in_audio {
                        direction = Some(dir);
                    } else {
                        session_direction = dir;
                    }
                    continue;
                }
                match name {
                    "rtpmap" if in_audio => {
                        let (pt, encoding) = rest
                            .split_once(' ')
                            .ok_or_else(|| malformed(format!("a=rtpmap:{rest}")))?;
                        let pt: u8 = pt
                            .parse()
                            .map_err(|_| malformed(format!("a=rtpmap:{rest}")))?;
                        let mut encoding = encoding.trim().split('/');
                        let name = encoding.next().unwrap_or_default().to_owned();
                        let rate = encoding
                            .next()
                            .and_then(|r| r.parse::<u32>().ok())
                            .ok_or_else(|| malformed(format!("a=rtpmap:{rest}")))?;
                        rtpmaps.push((pt, name, rate));
                    }
                    "ptime" if in_audio => {
                        ptime = rest.trim().parse::<u32>().ok();
                    }
                    _ => {}
                }
            }
            _ => {}
        }
    }
    if !seen_version {
        return Err(malformed("no v=0 line"));
    }
    let (port, formats, proto) =
        audio.ok_or_else(|| SdpError::NotAcceptable("no audio stream".into()))?;
    if proto != "RTP/AVP" {
        return Err(SdpError::NotAcceptable(format!(
            "{proto} (vox takes RTP/AVP; SRTP is not built)"
        )));
    }
    let address = media_address
        .or(session_address)
        .ok_or_else(|| malformed("no c= line for the audio stream"))?;
    let mut codecs = Vec::new();
    let mut telephone_event = None;
    for pt in &formats {
        let mapped = rtpmaps.iter().find(|(p, _, _)| p == pt);
        let codec = match (pt, mapped) {
            (_, Some((_, name, rate))) => {
                if name.eq_ignore_ascii_case("telephone-event") && *rate == 8000 {
                    telephone_event.get_or_insert(*pt);
                }
                Codec::from_rtpmap(name, *rate)
            }
            (0, None) => Some(Codec::Pcmu),
            (8, None) => Some(Codec::Pcma),
            _ => None,
        };
        if let Some(codec) = codec {
            codecs.push((codec, *pt));
        }
    }
    Ok(Audio {
        address,
        port,
        formats,
        codecs,
        telephone_event,
        ptime_ms: ptime,
        direction: direction.unwrap_or(session_direction),
    })
}

/// This side's RTP address, and the SDP session it writes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Local {
    /// The address written in `c=` and `o=` (the external address behind NAT).
    pub address: IpAddr,
    pub port: u16,
    /// `o=`'s session id and version (the version goes up with each new offer or answer).
    pub session_id: u64,
    pub version: u64,
}

/// What the answer chose.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Negotiated {
    pub codec: Codec,
    /// The payload type the codec goes with on this call.
    pub payload_type: u8,
    pub telephone_event: Option<u8>,
    pub ptime_ms: u32,
    /// This side's direction.
    pub direction: Direction,
    /// Where to send RTP (the offerer's address; symmetric RTP may correct it).
    pub remote: std::net::SocketAddr,
}

/// The answer to `offer`, and what it chose; `NotAcceptable` when no codec is shared.
pub fn answer(offer: &Audio, local: &Local) -> Result<(String, Negotiated), SdpError> {
    let (codec, payload_type) = *offer.codecs.first().ok_or_else(|| {
        SdpError::NotAcceptable(format!(
            "no codec in common (offered payload types {:?}; vox takes PCMU and PCMA)",
            offer.formats
        ))
    })?;
    let ptime_ms = offer
        .ptime_ms
        .filter(|p| (10..=60).contains(p))
        .unwrap_or(20);
    let direction = offer.direction.answer();
    let negotiated = Negotiated {
        codec,
        payload_type,
        telephone_event: offer.telephone_event,
        ptime_ms,
        direction,
        remote: std::net::SocketAddr::new(offer.address, offer.port),
    };
    Ok((describe(local, &negotiated), negotiated))
}

/// An offer for an outbound call: PCMU, PCMA and telephone-events on 101.
pub fn offer(local: &Local, direction: Direction) -> String {
    let mut sdp = header(local);
    let _ = write!(
        sdp,
        "m=audio {} RTP/AVP 0 8 101\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:8 PCMA/8000\r\n\
         a=rtpmap:101 telephone-event/8000\r\na=fmtp:101 0-16\r\na=ptime:20\r\na={}\r\n",
        local.port,
        direction.attribute()
    );
    sdp
}

fn header(local: &Local) -> String {
    let family = if local.address.is_ipv4() {
        "IP4"
    } else {
        "IP6"
    };
    format!(
        "v=0\r\no=vox {} {} IN {family} {}\r\ns=vox\r\nc=IN {family} {}\r\nt=0 0\r\n",
        local.session_id, local.version, local.address, local.address
    )
}

/// This side's description of a negotiated stream.
pub fn describe(local: &Local, negotiated: &Negotiated) -> String {
    let mut sdp = header(local);
    let mut formats = negotiated.payload_type.to_string();
    if let Some(pt) = negotiated.telephone_event {
        let _ = write!(formats, " {pt}");
    }
    let _ = write!(
        sdp,
        "m=audio {} RTP/AVP {formats}\r\na=rtpmap:{} {}/8000\r\n",
        local.port,
        negotiated.payload_type,
        negotiated.codec.name()
    );
    if let Some(pt) = negotiated.telephone_event {
        let _ = write!(
            sdp,
            "a=rtpmap:{pt} telephone-event/8000\r\na=fmtp:{pt} 0-16\r\n"
        );
    }
    let _ = write!(
        sdp,
        "a=ptime:{}\r\na={}\r\n",
        negotiated.ptime_ms,
        negotiated.direction.attribute()
    );
    sdp
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What SIPp's and most trunks' offers look like.
    const OFFER: &str = "v=0\r\no=- 1 1 IN IP4 192.0.2.10\r\ns=-\r\nc=IN IP4 192.0.2.10\r\nt=0 0\r\n\
        m=audio 40000 RTP/AVP 18 8 0 101\r\na=rtpmap:18 G729/8000\r\na=rtpmap:8 PCMA/8000\r\n\
        a=rtpmap:101 telephone-event/8000\r\na=fmtp:101 0-15\r\na=ptime:30\r\n";

    fn local() -> Local {
        Local {
            address: "198.51.100.7".parse().unwrap(),
            port: 20_000,
            session_id: 7,
            version: 1,
        }
    }

    #[test]
    fn the_answer_takes_the_first_g711_codec_offered_and_its_telephone_events() {
        let offer = parse(OFFER).unwrap();
        assert_eq!(offer.codecs, vec![(Codec::Pcma, 8), (Codec::Pcmu, 0)]);
        assert_eq!(offer.telephone_event, Some(101));
        let (sdp, chosen) = answer(&offer, &local()).unwrap();
        assert_eq!(chosen.codec, Codec::Pcma);
        assert_eq!(chosen.ptime_ms, 30);
        assert_eq!(chosen.remote, "192.0.2.10:40000".parse().unwrap());
        assert!(sdp.contains("c=IN IP4 198.51.100.7\r\n"), "{sdp}");
        assert!(sdp.contains("m=audio 20000 RTP/AVP 8 101\r\n"), "{sdp}");
        assert!(
            sdp.contains("a=rtpmap:101 telephone-event/8000\r\n"),
            "{sdp}"
        );
        assert!(sdp.contains("a=sendrecv\r\n"), "{sdp}");
        // Our own answer reads back as what it says.
        let back = parse(&sdp).unwrap();
        assert_eq!(back.codecs, vec![(Codec::Pcma, 8)]);
        assert_eq!(back.port, 20_000);
    }

    #[test]
    fn a_hold_is_answered_in_the_mirrored_direction_and_media_lines_win_over_the_session() {
        let hold = OFFER.replace("a=ptime:30\r\n", "c=IN IP4 192.0.2.99\r\na=sendonly\r\n");
        let offer = parse(&hold).unwrap();
        assert_eq!(offer.address, "192.0.2.99".parse::<IpAddr>().unwrap());
        assert_eq!(offer.direction, Direction::SendOnly);
        let (sdp, chosen) = answer(&offer, &local()).unwrap();
        assert_eq!(chosen.direction, Direction::RecvOnly);
        assert!(!chosen.direction.sends());
        assert!(sdp.contains("a=recvonly\r\n"), "{sdp}");
        let silent = OFFER.replace("s=-\r\n", "s=-\r\na=inactive\r\n");
        assert_eq!(parse(&silent).unwrap().direction, Direction::Inactive);
    }

    #[test]
    fn static_payload_types_need_no_rtpmap_and_unknown_lines_are_skipped() {
        let bare = "v=0\r\no=- 1 1 IN IP6 ::1\r\ns=-\r\nc=IN IP6 ::1\r\nt=0 0\r\nb=AS:64\r\n\
            m=video 0 RTP/AVP 96\r\na=sendonly\r\nm=audio 5004 RTP/AVP 0\r\na=x-custom:yes\r\n";
        let offer = parse(bare).unwrap();
        assert_eq!(offer.codecs, vec![(Codec::Pcmu, 0)]);
        // The video section's direction is the video's.
        assert_eq!(offer.direction, Direction::SendRecv);
        assert_eq!(offer.telephone_event, None);
        let (sdp, chosen) = answer(&offer, &local()).unwrap();
        assert_eq!(chosen.ptime_ms, 20);
        assert!(sdp.contains("m=audio 20000 RTP/AVP 0\r\n"), "{sdp}");
    }

    #[test]
    fn what_cannot_be_answered_says_why() {
        let g729 = OFFER
            .replace("RTP/AVP 18 8 0 101", "RTP/AVP 18 101")
            .replace("a=rtpmap:8 PCMA/8000\r\n", "");
        let offer = parse(&g729).unwrap();
        let refused = answer(&offer, &local()).unwrap_err();
        assert!(
            matches!(&refused, SdpError::NotAcceptable(why) if why.contains("no codec in common")),
            "{refused}"
        );
        let srtp = OFFER.replace("RTP/AVP", "RTP/SAVP");
        assert!(matches!(parse(&srtp), Err(SdpError::NotAcceptable(_))));
        let video_only = "v=0\r\nc=IN IP4 192.0.2.1\r\nm=video 4000 RTP/AVP 96\r\n";
        assert!(matches!(parse(video_only), Err(SdpError::NotAcceptable(_))));
        for broken in [
            "",
            "v=1\r\n",
            "v=0\r\nm=audio 4000 RTP/AVP 0\r\n",
            "v=0\r\nc=IN IP4 nowhere\r\nm=audio 4000 RTP/AVP 0\r\n",
            "v=0\r\nc=IN IP4 192.0.2.1\r\nm=audio port RTP/AVP 0\r\n",
            "v=0\r\nc=IN IP4 192.0.2.1\r\nm=audio 4000 RTP/AVP 300\r\n",
            "v=0\r\nc=IN IP4 192.0.2.1\r\nm=audio 4000 RTP/AVP\r\n",
            "v=0\r\nc=IN IP4 192.0.2.1\r\nm=audio 4000 RTP/AVP 96\r\na=rtpmap:96\r\n",
            "garbage",
        ] {
            assert!(
                matches!(parse(broken), Err(SdpError::Malformed(_))),
                "{broken:?}: {:?}",
                parse(broken)
            );
        }
        assert!(matches!(
            parse(&"a".repeat(20_000)),
            Err(SdpError::Malformed(_))
        ));
    }

    #[test]
    fn an_outbound_offer_reads_back_as_pcmu_pcma_and_telephone_events() {
        let sdp = offer(&local(), Direction::SendRecv);
        let back = parse(&sdp).unwrap();
        assert_eq!(back.codecs, vec![(Codec::Pcmu, 0), (Codec::Pcma, 8)]);
        assert_eq!(back.telephone_event, Some(101));
        assert_eq!(back.ptime_ms, Some(20));
    }
}
