//! The guarded client against real servers on loopback: refusals, redirects and oversize replies.
//!
//! Loopback is a private address, so the servers here are reachable only where a test allows
//! 127.0.0.0/8; the refusals are checked by counting what the servers received.

use axum::Router;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::post;
use egress::{Allowed, Egress, EgressError, Policy};
use serde_json::json;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

/// A server counting its requests; `reply` answers each.
async fn server<F, Fut, R>(reply: F) -> (SocketAddr, Arc<AtomicUsize>)
where
    F: Fn() -> Fut + Clone + Send + Sync + 'static,
    Fut: std::future::Future<Output = R> + Send + 'static,
    R: IntoResponse + 'static,
{
    let hits = Arc::new(AtomicUsize::new(0));
    let counter = hits.clone();
    let app = Router::new().route(
        "/{*path}",
        post(move || {
            counter.fetch_add(1, Ordering::SeqCst);
            let reply = reply.clone();
            async move { reply().await }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    (address, hits)
}

fn loopback_allowed() -> Policy {
    Policy {
        allowed: Allowed::parse("127.0.0.0/8").unwrap(),
        ..Policy::default()
    }
}

#[tokio::test]
async fn a_private_address_is_refused_by_literal_and_by_name_before_any_request() {
    let (address, hits) = server(|| async { "hello" }).await;
    let guarded = Egress::new(Policy::default());
    let literal = format!("http://{address}/hook");
    let refused = guarded.post_json(&literal, &[], &json!({})).await;
    assert!(
        matches!(refused, Err(EgressError::Forbidden { .. })),
        "{refused:?}"
    );
    // A name that resolves to loopback is refused after resolution (the DNS-rebinding case).
    let named = format!("http://localhost:{}/hook", address.port());
    let refused = guarded.post_json(&named, &[], &json!({})).await;
    assert!(
        matches!(refused, Err(EgressError::Forbidden { .. })),
        "{refused:?}"
    );
    assert_eq!(hits.load(Ordering::SeqCst), 0, "a refused request was sent");
    // Allowed, the same server answers.
    let allowed = Egress::new(loopback_allowed());
    let reply = allowed.post_json(&named, &[], &json!({})).await.unwrap();
    assert_eq!((reply.status, &reply.body[..]), (200, &b"hello"[..]));
}

#[tokio::test]
async fn a_redirect_is_not_followed_and_names_where_it_pointed() {
    let (target, target_hits) = server(|| async { "secret" }).await;
    let location = format!("http://{target}/latest/meta-data");
    let (redirector, _) = server(move || {
        let location = location.clone();
        async move {
            (
                StatusCode::FOUND,
                [(axum::http::header::LOCATION, location)],
            )
        }
    })
    .await;
    let guarded = Egress::new(loopback_allowed());
    let refused = guarded
        .post_json(&format!("http://{redirector}/r"), &[], &json!({}))
        .await;
    match refused {
        Err(EgressError::Redirect { status, location }) => {
            assert_eq!(status, 302);
            assert!(location.contains("meta-data"), "{location}");
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(target_hits.load(Ordering::SeqCst), 0);
}

#[tokio::test]
async fn a_reply_over_the_limit_is_refused_without_being_held() {
    let (address, _) = server(|| async { "x".repeat(3 << 20) }).await;
    let guarded = Egress::new(Policy {
        max_reply_bytes: 1 << 20,
        ..loopback_allowed()
    });
    let refused = guarded
        .post_json(&format!("http://{address}/big"), &[], &json!({}))
        .await;
    assert_eq!(
        refused.unwrap_err(),
        EgressError::TooLarge { limit: 1 << 20 }
    );
}

#[tokio::test]
async fn a_slow_reply_ends_at_the_policys_time() {
    let (address, _) = server(|| async {
        tokio::time::sleep(Duration::from_secs(5)).await;
        "late"
    })
    .await;
    let guarded = Egress::new(Policy {
        timeout: Duration::from_millis(300),
        ..loopback_allowed()
    });
    let refused = guarded
        .post_json(&format!("http://{address}/slow"), &[], &json!({}))
        .await;
    assert!(
        matches!(refused, Err(EgressError::Timeout(_))),
        "{refused:?}"
    );
}

#[test]
fn only_public_addresses_pass_unless_their_network_is_allowed() {
    let none = Allowed::default();
    for private in [
        "127.0.0.1",
        "10.1.2.3",
        "172.16.0.1",
        "192.168.1.1",
        "169.254.169.254",
        "100.64.0.1",
        "0.0.0.0",
        "::1",
        "fe80::1",
        "fd00::1",
        "::ffff:127.0.0.1",
    ] {
        let ip: IpAddr = private.parse().unwrap();
        assert!(!none.permits(ip), "{private} passed");
    }
    for public in ["93.184.216.34", "2606:2800:220:1::1"] {
        assert!(none.permits(public.parse().unwrap()), "{public} refused");
    }
    let some = Allowed::parse("10.0.0.0/8, 192.168.1.7").unwrap();
    assert!(some.permits("10.9.9.9".parse().unwrap()));
    assert!(some.permits("192.168.1.7".parse().unwrap()));
    assert!(!some.permits("192.168.1.8".parse().unwrap()));
    assert_eq!(
        Allowed::parse("10.0.0.0/8, nonsense"),
        Err(EgressError::BadNetwork("nonsense".into()))
    );
    let guarded = Egress::new(Policy::default());
    assert!(matches!(
        guarded.check_url("file:///etc/passwd"),
        Err(EgressError::BadUrl(_))
    ));
}

#[tokio::test]
async fn a_url_within_networks_must_resolve_only_inside_them_public_or_not() {
    let loopback = Allowed::parse("127.0.0.0/8, ::1").unwrap();
    for inside in [
        "http://127.0.0.1:9000",
        "http://localhost:9000/f",
        "https://[::1]/",
    ] {
        assert_eq!(
            egress::check_within(inside, &loopback).await,
            Ok(()),
            "{inside}"
        );
    }
    // A public address is outside too: this list is the only place the URL may reach.
    for outside in ["http://93.184.216.34:8080", "http://10.0.0.1"] {
        assert!(
            matches!(
                egress::check_within(outside, &loopback).await,
                Err(EgressError::Outside { .. })
            ),
            "{outside}"
        );
    }
    assert!(matches!(
        egress::check_within("http://127.0.0.1", &Allowed::default()).await,
        Err(EgressError::Outside { .. })
    ));
    assert!(matches!(
        egress::check_within("ftp://127.0.0.1", &loopback).await,
        Err(EgressError::BadUrl(_))
    ));
}
