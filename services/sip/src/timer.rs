//! Session timers (RFC 4028): a call whose trunk asks for them is refreshed, or ended if it is not.
//!
//! An INVITE that says `Supported: timer` with `Session-Expires: N` (or `x: N`) gets a 200 with
//! `Session-Expires: N;refresher=uac` and `Require: timer`: the trunk refreshes the session with a
//! re-INVITE or UPDATE before N seconds pass (vox answers each with the same headers), and a
//! session not refreshed in time is ended with vox's BYE, so a trunk that lost the call never
//! leaves a worker's slot taken. An interval below the gateway's minimum is refused 422 with
//! `Min-SE` (§6). A trunk that does not support timers gets none.
//!
//! A call vox places offers them (`Supported: timer`, `Session-Expires: 1800`, RFC 4028's
//! recommended half hour). When the trunk's 200 agrees and names vox the refresher
//! (`refresher=uac`), vox refreshes the session with a re-INVITE carrying its unchanged
//! description every half interval (§10); when the trunk refreshes, its re-INVITEs are answered
//! as above. Either way a session left unrefreshed for the interval is ended with vox's BYE.

use rsipstack::sip::{Header, Headers, Request, Response};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Notify;

/// RFC 4028's floor for `Session-Expires` (and the default `Min-SE`).
pub const MIN_SESSION_EXPIRES: Duration = Duration::from_secs(90);

/// What an INVITE asks of session timers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Asked {
    /// No timer: no `Session-Expires`, or a trunk that does not support them.
    None,
    /// Shorter than the gateway's minimum: 422 with `Min-SE`.
    TooSmall,
    /// Refresh within this interval.
    Every(Duration),
}

/// What vox asks for in the INVITEs it sends (§7.1).
pub(crate) const OFFERED: Duration = Duration::from_secs(1800);

/// A header's value by its name or compact form, case-insensitively.
fn header<'a>(headers: &'a Headers, names: &[&str]) -> impl Iterator<Item = String> + 'a {
    let names: Vec<String> = names.iter().map(|n| n.to_ascii_lowercase()).collect();
    headers.iter().filter_map(move |h| {
        let name = h.name().to_ascii_lowercase();
        names.contains(&name).then(|| h.value().to_string())
    })
}

/// What `request` asks, against the gateway's minimum interval.
pub(crate) fn asked(request: &Request, minimum: Duration) -> Asked {
    let supported = header(&request.headers, &["Supported", "k"]).any(|value| {
        value
            .split(',')
            .any(|option| option.trim().eq_ignore_ascii_case("timer"))
    });
    let seconds = header(&request.headers, &["Session-Expires", "x"])
        .next()
        .and_then(|value| value.split(';').next()?.trim().parse::<u64>().ok());
    match seconds {
        Some(_) if !supported => Asked::None,
        Some(seconds) if Duration::from_secs(seconds) < minimum => Asked::TooSmall,
        Some(seconds) => Asked::Every(Duration::from_secs(seconds)),
        None => Asked::None,
    }
}

/// The 422's `Min-SE`.
pub(crate) fn min_se(minimum: Duration) -> Header {
    Header::Other("Min-SE".into(), minimum.as_secs().to_string())
}

/// The headers of a 2xx that agrees to `interval`, the trunk refreshing.
pub(crate) fn agreed(interval: Duration) -> Vec<Header> {
    vec![
        Header::Other(
            "Session-Expires".into(),
            format!("{};refresher=uac", interval.as_secs()),
        ),
        Header::Other("Require".into(), "timer".into()),
    ]
}

/// The headers of an INVITE vox sends: it supports timers and asks for [`OFFERED`].
pub(crate) fn offered(minimum: Duration) -> Vec<Header> {
    vec![
        Header::Other("Supported".into(), "timer".into()),
        Header::Other("Session-Expires".into(), OFFERED.as_secs().to_string()),
        Header::Other("Min-SE".into(), minimum.as_secs().to_string()),
    ]
}

/// Who refreshes a session.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Refresher {
    Vox,
    Trunk,
}

/// What a trunk's 2xx to vox's INVITE agreed: the interval and who refreshes (vox unless it says
/// `refresher=uas`); `None` when it agreed to no timer.
pub(crate) fn agreed_by(response: &Response) -> Option<(Duration, Refresher)> {
    let value = header(&response.headers, &["Session-Expires", "x"]).next()?;
    let mut parts = value.split(';');
    let seconds: u64 = parts.next()?.trim().parse().ok()?;
    let trunk = parts.any(|p| p.trim().eq_ignore_ascii_case("refresher=uas"));
    let refresher = if trunk {
        Refresher::Trunk
    } else {
        Refresher::Vox
    };
    Some((Duration::from_secs(seconds.max(1)), refresher))
}

/// The headers of vox's refreshing re-INVITE.
pub(crate) fn refreshing(interval: Duration) -> Vec<Header> {
    vec![
        Header::Other("Supported".into(), "timer".into()),
        Header::Other(
            "Session-Expires".into(),
            format!("{};refresher=uac", interval.as_secs()),
        ),
        Header::ContentType("application/sdp".into()),
    ]
}

/// Refreshes call `id`'s session every half `interval` with a re-INVITE carrying vox's
/// unchanged description, until the call is over; each refresh answered 2xx restarts its expiry.
pub(crate) async fn refresh(
    shared: Arc<crate::gateway::Shared>,
    id: rsipstack::dialog::DialogId,
    interval: Duration,
) {
    use rsipstack::dialog::dialog::Dialog;
    loop {
        tokio::time::sleep(interval / 2).await;
        let Some(Dialog::Invite(dialog)) = shared.dialogs.get_dialog(&id) else {
            return;
        };
        let description = {
            let sessions = shared.sessions.lock();
            let Some(session) = sessions.get(&id.to_string()) else {
                return;
            };
            crate::sdp::describe(&session.local, &session.negotiated)
        };
        let answer = dialog
            .reinvite(Some(refreshing(interval)), Some(description.into_bytes()))
            .await;
        match answer {
            Ok(Some(response)) if (200..300).contains(&response.status_code.code()) => {
                if let Some((_, refreshed)) = shared.timers.lock().get(&id.to_string()) {
                    refreshed.notify_one();
                }
            }
            // Unrefreshed, the session lapses at its interval and vox ends it.
            Ok(other) => {
                let code = other.map(|r| r.status_code.code());
                tracing::warn!(%id, ?code, "the trunk did not accept vox's session refresh");
            }
            Err(error) => tracing::warn!(%id, %error, "vox's session refresh failed"),
        }
    }
}

/// Resolves once `interval` passes without a refresh (each `notify_one` on `refreshed` restarts it).
pub(crate) async fn expired(interval: Duration, refreshed: Arc<Notify>) {
    loop {
        tokio::select! {
            () = refreshed.notified() => continue,
            () = tokio::time::sleep(interval) => return,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn invite(headers: &[(&str, &str)]) -> Request {
        let mut text = String::from(
            "INVITE sip:1@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bK1\r\n\
             From: <sip:2@127.0.0.1>;tag=1\r\nTo: <sip:1@127.0.0.1>\r\nCall-ID: c1\r\nCSeq: 1 INVITE\r\n",
        );
        for (name, value) in headers {
            text += &format!("{name}: {value}\r\n");
        }
        text += "Content-Length: 0\r\n\r\n";
        Request::try_from(text.as_bytes()).unwrap()
    }

    #[test]
    fn a_trunk_that_supports_timers_gets_its_interval_and_a_short_one_is_too_small() {
        let minimum = MIN_SESSION_EXPIRES;
        let asks = |headers: &[(&str, &str)]| asked(&invite(headers), minimum);
        assert_eq!(
            asks(&[
                ("Supported", "100rel, timer"),
                ("Session-Expires", "1800;refresher=uac")
            ]),
            Asked::Every(Duration::from_secs(1800))
        );
        assert_eq!(
            asks(&[("k", "timer"), ("x", "120")]),
            Asked::Every(Duration::from_secs(120))
        );
        assert_eq!(
            asks(&[("Supported", "timer"), ("Session-Expires", "30")]),
            Asked::TooSmall
        );
        assert_eq!(asks(&[("Session-Expires", "1800")]), Asked::None);
        assert_eq!(asks(&[("Supported", "timer")]), Asked::None);
    }

    fn ok(session_expires: Option<&str>) -> Response {
        let mut text = String::from(
            "SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bK1\r\n\
             From: <sip:2@127.0.0.1>;tag=1\r\nTo: <sip:1@127.0.0.1>;tag=2\r\nCall-ID: c1\r\n\
             CSeq: 1 INVITE\r\n",
        );
        if let Some(value) = session_expires {
            text += &format!("Session-Expires: {value}\r\nRequire: timer\r\n");
        }
        text += "Content-Length: 0\r\n\r\n";
        Response::try_from(text.as_bytes()).unwrap()
    }

    #[test]
    fn a_trunks_answer_says_the_interval_and_who_refreshes_vox_unless_it_takes_it_on() {
        let ninety = Duration::from_secs(90);
        assert_eq!(
            agreed_by(&ok(Some("90;refresher=uac"))),
            Some((ninety, Refresher::Vox))
        );
        assert_eq!(
            agreed_by(&ok(Some("90; refresher=uas"))),
            Some((ninety, Refresher::Trunk))
        );
        assert_eq!(agreed_by(&ok(Some("1800"))).unwrap().1, Refresher::Vox);
        assert_eq!(agreed_by(&ok(None)), None);
    }

    #[tokio::test(start_paused = true)]
    async fn a_session_expires_only_when_an_interval_passes_without_a_refresh() {
        let refreshed = Arc::new(Notify::new());
        let interval = Duration::from_secs(90);
        let started = tokio::time::Instant::now();
        let watching = tokio::spawn(expired(interval, refreshed.clone()));
        tokio::time::sleep(Duration::from_secs(60)).await;
        refreshed.notify_one();
        watching.await.unwrap();
        assert_eq!(started.elapsed(), Duration::from_secs(150));
    }
}
