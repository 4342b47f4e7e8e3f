//! Digest challenges to callers (RFC 3261 §22.4, RFC 2617): a PBX that authenticates to vox.
//!
//! A trunk saved to challenge its callers has each INVITE answered `401 Unauthorized` with
//! `WWW-Authenticate: Digest realm="vox", nonce=…, algorithm=MD5, qop="auth"` until it carries an
//! `Authorization` for the trunk's username computed with its password on a nonce vox issued in
//! the last five minutes (each nonce used once per call). A wrong username or response is
//! `403 Forbidden`, so a misconfigured PBX does not loop. OPTIONS are never challenged.

use parking_lot::Mutex;
use rsipstack::dialog::authenticate::verify_digest;
use rsipstack::sip::typed::Authorization;
use rsipstack::sip::{Header, Method, Request};
use std::collections::HashMap;
use std::time::{Duration, Instant};

/// The realm vox challenges in.
pub const REALM: &str = "vox";
/// How long an issued nonce is accepted.
const NONCE_LIFE: Duration = Duration::from_secs(300);

/// The credentials callers must present, and the nonces vox issued.
pub(crate) struct Challenge {
    username: String,
    password: String,
    issued: Mutex<HashMap<String, Instant>>,
}

/// What an INVITE's credentials are worth.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Verdict {
    Accepted,
    /// None, or on a nonce vox does not know (any more): 401 with this fresh challenge.
    Challenge(Header),
    /// Presented and wrong: 403.
    Refused(String),
}

impl Challenge {
    pub(crate) fn new(username: String, password: String) -> Self {
        Self {
            username,
            password,
            issued: Mutex::new(HashMap::new()),
        }
    }

    /// A fresh `WWW-Authenticate` (its nonce kept for five minutes).
    fn challenge(&self) -> Header {
        let nonce = format!("{:032x}", rand::random::<u128>());
        let mut issued = self.issued.lock();
        issued.retain(|_, at| at.elapsed() < NONCE_LIFE);
        issued.insert(nonce.clone(), Instant::now());
        Header::WwwAuthenticate(
            format!(r#"Digest realm="{REALM}", nonce="{nonce}", algorithm=MD5, qop="auth""#).into(),
        )
    }

    /// Checks `request`'s `Authorization`.
    pub(crate) fn verify(&self, request: &Request) -> Verdict {
        let Some(raw) = request.headers.iter().find_map(|h| match h {
            Header::Authorization(value) => Some(value.value().to_owned()),
            _ => None,
        }) else {
            return Verdict::Challenge(self.challenge());
        };
        let Ok(auth) = Authorization::parse(&raw) else {
            return Verdict::Refused("the Authorization header cannot be read".into());
        };
        let fresh = self
            .issued
            .lock()
            .get(&auth.nonce)
            .is_some_and(|at| at.elapsed() < NONCE_LIFE);
        if !fresh || auth.realm != REALM {
            return Verdict::Challenge(self.challenge());
        }
        if auth.username != self.username
            || !verify_digest(&auth, &self.password, &Method::Invite, &raw)
        {
            return Verdict::Refused(format!("wrong credentials for {:?}", auth.username));
        }
        // A nonce authenticates one call.
        self.issued.lock().remove(&auth.nonce);
        Verdict::Accepted
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rsipstack::dialog::authenticate::compute_digest;
    use rsipstack::sip::headers::auth::{Algorithm, AuthQop};

    fn invite(authorization: Option<String>) -> Request {
        let mut text = String::from(
            "INVITE sip:14155550100@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bK1\r\n\
             From: <sip:2@127.0.0.1>;tag=1\r\nTo: <sip:14155550100@127.0.0.1>\r\nCall-ID: c1\r\nCSeq: 1 INVITE\r\n",
        );
        if let Some(value) = authorization {
            text += &format!("Authorization: {value}\r\n");
        }
        text += "Content-Length: 0\r\n\r\n";
        Request::try_from(text.as_bytes()).unwrap()
    }

    fn nonce_of(header: &Header) -> String {
        let value = header.value().to_owned();
        value
            .split("nonce=\"")
            .nth(1)
            .unwrap()
            .split('"')
            .next()
            .unwrap()
            .to_owned()
    }

    fn answer(user: &str, password: &str, nonce: &str) -> String {
        let uri = "sip:14155550100@127.0.0.1";
        let qop = AuthQop::Auth {
            cnonce: "abc".into(),
            nc: 1,
        };
        let response = compute_digest(
            user,
            password,
            REALM,
            nonce,
            &Method::Invite,
            uri,
            Algorithm::Md5,
            Some(&qop),
        );
        format!(
            r#"Digest username="{user}", realm="{REALM}", nonce="{nonce}", uri="{uri}", response="{response}", algorithm=MD5, qop=auth, cnonce="abc", nc=00000001"#
        )
    }

    #[test]
    fn a_caller_is_challenged_then_let_in_with_the_right_digest_and_refused_with_a_wrong_one() {
        let challenge = Challenge::new("pbx".into(), "secret".into());
        let Verdict::Challenge(header) = challenge.verify(&invite(None)) else {
            panic!("no challenge")
        };
        assert!(header.value().contains(r#"realm="vox""#), "{header}");
        let nonce = nonce_of(&header);
        let wrong = challenge.verify(&invite(Some(answer("pbx", "guess", &nonce))));
        assert!(matches!(wrong, Verdict::Refused(_)), "{wrong:?}");
        let stranger = challenge.verify(&invite(Some(answer("who", "secret", &nonce))));
        assert!(matches!(stranger, Verdict::Refused(_)), "{stranger:?}");
        let right = invite(Some(answer("pbx", "secret", &nonce)));
        assert_eq!(challenge.verify(&right), Verdict::Accepted);
        // The nonce is spent: the same answer again is challenged afresh.
        assert!(matches!(challenge.verify(&right), Verdict::Challenge(_)));
        // A nonce vox never issued is challenged, not refused.
        let made_up = invite(Some(answer("pbx", "secret", "0123")));
        assert!(matches!(challenge.verify(&made_up), Verdict::Challenge(_)));
    }
}
