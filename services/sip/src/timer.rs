//! Session timers (RFC 4028): a call whose trunk asks for them is refreshed, or ended if it is not.
//!
//! An INVITE that says `Supported: timer` with `Session-Expires: N` (or `x: N`) gets a 200 with
//! `Session-Expires: N;refresher=uac` and `Require: timer`: the trunk refreshes the session with a
//! re-INVITE or UPDATE before N seconds pass (vox answers each with the same headers), and a
//! session not refreshed in time is ended with vox's BYE, so a trunk that lost the call never
//! leaves a worker's slot taken. An interval below the gateway's minimum is refused 422 with
//! `Min-SE` (§6). A trunk that does not support timers gets none.

use rsipstack::sip::{Header, Request};
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

/// A header's value by its name or compact form, case-insensitively.
fn header<'a>(request: &'a Request, names: &[&str]) -> impl Iterator<Item = String> + 'a {
    let names: Vec<String> = names.iter().map(|n| n.to_ascii_lowercase()).collect();
    request.headers.iter().filter_map(move |h| {
        let name = h.name().to_ascii_lowercase();
        names.contains(&name).then(|| h.value().to_string())
    })
}

/// What `request` asks, against the gateway's minimum interval.
pub(crate) fn asked(request: &Request, minimum: Duration) -> Asked {
    let supported = header(request, &["Supported", "k"]).any(|value| {
        value
            .split(',')
            .any(|option| option.trim().eq_ignore_ascii_case("timer"))
    });
    let seconds = header(request, &["Session-Expires", "x"])
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
