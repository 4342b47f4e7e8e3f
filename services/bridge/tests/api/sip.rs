//! The telephony edge with `vox sip`: INVITEs routed and attached, behind the fleet secret; trunks
//! saved as carrier accounts with their settings.

use crate::helpers::*;
use crate::live::{fake_fleet, save_fleets};
use contracts::telephony::{CarrierAccountId, CarrierKind};
use contracts::{CallOutcomeCode, CallState, E164Number};
use reqwest::Response;
use serde_json::{Value, json};
use store::NewCarrierAccount;

const NUMBER: &str = "+14155550199";

async fn trunk(app: &TestApp) -> CarrierAccountId {
    app.store
        .create_carrier_account(NewCarrierAccount {
            carrier: CarrierKind::Sip,
            name: "trunk".into(),
            account_sid: "sip.example.com".into(),
            secret: Some("-".into()),
            api_url: None,
            numbers: vec![E164Number::parse(NUMBER).unwrap()],
            webhook_key: None,
            trunk: None,
        })
        .await
        .unwrap()
        .id
}

async fn gateway(app: &TestApp, path: &str, body: &Value, secret: Option<&str>) -> Response {
    let mut request = app
        .client
        .post(format!("{}/api/v1/telephony/sip/{path}", app.address))
        .json(body);
    if let Some(secret) = secret {
        request = request.bearer_auth(secret);
    }
    request.send().await.unwrap()
}

async fn route(app: &TestApp) {
    let bot = app.create_bot(bot_spec()).await;
    let routed = app
        .put(
            &format!("/api/v1/inbound-numbers/{NUMBER}"),
            Some(&app.admin),
            &json!({"bot_id": bot["id"]}),
        )
        .await;
    assert_eq!(routed.status(), 200);
}

async fn an_invite_from_vox_sip_is_routed_attached_and_answered_with_the_workers_url(app: TestApp) {
    let (fleet, attached) = fake_fleet(202, 0).await;
    save_fleets(&app, &[&fleet]).await;
    let trunk = trunk(&app).await;
    route(&app).await;
    let invite =
        json!({"sip_call_id": "abc@10.0.0.1", "from": "442071838750", "to": "14155550199"});
    // Without the fleet secret, or with another: 401 and nothing kept.
    for secret in [None, Some("not-the-secret")] {
        let (status, _, _) =
            error_of(gateway(&app, &format!("{trunk}/invite"), &invite, secret).await).await;
        assert_eq!(status, 401);
    }
    assert!(
        app.store
            .call_by_carrier_call_id("abc@10.0.0.1")
            .await
            .unwrap()
            .is_none()
    );
    let answered = gateway(
        &app,
        &format!("{trunk}/invite"),
        &invite,
        Some(FLEET_SECRET),
    )
    .await;
    assert_eq!(answered.status(), 200);
    let answer: Value = answered.json().await.unwrap();
    assert!(
        answer["media_url"]
            .as_str()
            .unwrap()
            .starts_with("ws://127.0.0.1:")
    );
    let call = app
        .store
        .call_by_carrier_call_id("abc@10.0.0.1")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(answer["call_id"], call.id.0);
    assert_eq!(call.state, CallState::Attaching);
    assert_eq!(
        call.from.as_ref().map(|n| n.as_str()),
        Some("+442071838750")
    );
    let attach = attached.lock()[0].1.clone();
    assert_eq!(
        (
            attach["media_protocol"].as_str(),
            attach["carrier"].as_str()
        ),
        (Some("vox"), Some("sip"))
    );
    // The same INVITE again is refused, with no second attach.
    let again = gateway(
        &app,
        &format!("{trunk}/invite"),
        &invite,
        Some(FLEET_SECRET),
    )
    .await;
    assert_eq!(again.status(), 409);
    assert_eq!(attached.lock().len(), 1);
    // How the media ended is kept with the call.
    let ended = json!({"sip_call_id": "abc@10.0.0.1", "reason": "hung_up"});
    let kept = gateway(&app, &format!("{trunk}/ended"), &ended, Some(FLEET_SECRET)).await;
    assert_eq!(kept.status(), 204);
    let events: Vec<String> = app
        .store
        .telephony_events(call.id)
        .await
        .unwrap()
        .into_iter()
        .map(|(event, _)| event)
        .collect();
    assert_eq!(events, ["invite", "ended.hung_up"]);
}

async fn sip_invites_nobody_can_take_or_that_make_no_sense_are_refused(app: TestApp) {
    let (fleet, _) = fake_fleet(429, 4).await;
    save_fleets(&app, &[&fleet]).await;
    let trunk = trunk(&app).await;
    route(&app).await;
    let invite = |id: &str, to: &str| json!({"sip_call_id": id, "from": "anonymous", "to": to});
    let path = format!("{trunk}/invite");
    // A number that routes nowhere, then a full fleet (the call ends as capacity exhausted).
    let (status, code, _) =
        error_of(gateway(&app, &path, &invite("a", "14155550100"), Some(FLEET_SECRET)).await).await;
    assert_eq!((status, code.as_str()), (404, "not_found.number"));
    let (status, code, _) = error_of(
        gateway(
            &app,
            &path,
            &invite("b", "0014155550199"),
            Some(FLEET_SECRET),
        )
        .await,
    )
    .await;
    assert_eq!((status, code.as_str()), (503, "fleet.capacity_exhausted"));
    let busy = app
        .store
        .call_by_carrier_call_id("b")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(busy.outcome, Some(CallOutcomeCode::FleetCapacityExhausted));
    // An anonymous caller is no number: the call has none.
    assert_eq!(busy.from, None);
    // Malformed bodies name their field.
    for (body, field) in [
        (invite("c", "not a number"), "to"),
        (invite("", "14155550199"), "sip_call_id"),
        (
            json!({"sip_call_id": "d", "to": "1", "from": "2", "extra": 1}),
            "extra",
        ),
    ] {
        let (status, _, named) =
            error_of(gateway(&app, &path, &body, Some(FLEET_SECRET)).await).await;
        assert_eq!((status, named.as_deref()), (422, Some(field)), "{body}");
    }
    let ended = format!("{trunk}/ended");
    let (status, _, named) = error_of(
        gateway(
            &app,
            &ended,
            &json!({"sip_call_id": "b", "reason": "tired"}),
            Some(FLEET_SECRET),
        )
        .await,
    )
    .await;
    assert_eq!((status, named.as_deref()), (422, Some("reason")));
    // A session timer that ran out (RFC 4028) is a reason of its own.
    let lapsed = json!({"sip_call_id": "b", "reason": "session_expired"});
    let kept = gateway(&app, &ended, &lapsed, Some(FLEET_SECRET)).await;
    assert_eq!(kept.status(), 204);
    let unknown = json!({"sip_call_id": "zzz", "reason": "worker"});
    assert_eq!(
        gateway(&app, &ended, &unknown, Some(FLEET_SECRET))
            .await
            .status(),
        404
    );
}

async fn a_sip_trunk_is_saved_with_its_settings_and_its_password_is_never_shown(app: TestApp) {
    let good = json!({
        "carrier": "sip",
        "name": "Telnyx trunk",
        "account_sid": "sip.telnyx.com:5060",
        "secret": "digest-password",
        "numbers": ["+14155550199"],
        "trunk": {"username": "vox-user", "register": true,
                  "outbound_proxy": "[2001:db8::1]:5080", "transport": "tcp",
                  "authenticate_callers": true},
    });
    let created = app
        .post("/api/v1/carrier-accounts", Some(&app.admin), &good)
        .await;
    assert_eq!(created.status(), 201);
    let created: Value = created.json().await.unwrap();
    assert_eq!(created["trunk"], good["trunk"]);
    assert_eq!(created["carrier"], "sip");
    // vox sip takes the trunk's calls: the Backend gives the trunk no webhook URL.
    assert_eq!(created["inbound_voice_url"], Value::Null);
    assert!(!created.to_string().contains("digest-password"));
    let id = created["id"].as_i64().unwrap();
    let saved = app
        .store
        .carrier_account(CarrierAccountId(id))
        .await
        .unwrap();
    assert_eq!(
        saved.trunk.as_ref().map(|t| t.username.as_deref()),
        Some(Some("vox-user"))
    );
    // vox sip reads its trunk's settings, the password with them, behind the fleet secret.
    let path = format!("{id}/trunk");
    let read = gateway(&app, &path, &json!({}), Some(FLEET_SECRET)).await;
    assert_eq!(read.status(), 200);
    let read: Value = read.json().await.unwrap();
    assert_eq!(read["address"], "sip.telnyx.com:5060");
    assert_eq!(read["username"], "vox-user");
    assert_eq!(read["password"], "digest-password");
    assert_eq!(read["register"], true);
    assert_eq!(read["transport"], "tcp");
    assert_eq!(read["authenticate_callers"], true);
    assert_eq!(read["numbers"], json!(["+14155550199"]));
    let (status, _, _) = error_of(gateway(&app, &path, &json!({}), None).await).await;
    assert_eq!(status, 401);
    // An update that leaves the settings out makes an IP-authenticated trunk; the password stays.
    let ip_trunk = json!({"carrier": "sip", "name": "PBX", "account_sid": "203.0.113.5"});
    let updated = app
        .put(
            &format!("/api/v1/carrier-accounts/{id}"),
            Some(&app.admin),
            &ip_trunk,
        )
        .await;
    assert_eq!(updated.status(), 200);
    let updated: Value = updated.json().await.unwrap();
    assert_eq!(updated["trunk"], Value::Null);
    assert_eq!(
        app.store
            .carrier_account_secret(CarrierAccountId(id))
            .await
            .unwrap(),
        "digest-password"
    );
    // What cannot be a trunk is refused naming the field, and nothing is saved.
    let with = |patch: Value| {
        let mut body = good.clone();
        for (key, value) in patch.as_object().unwrap() {
            body[key] = value.clone();
        }
        body
    };
    let cases = [
        (with(json!({"account_sid": "sip:user@host"})), "account_sid"),
        (with(json!({"account_sid": "host:70000"})), "account_sid"),
        (with(json!({"account_sid": "-host"})), "account_sid"),
        (with(json!({"webhook_key": "key"})), "webhook_key"),
        (with(json!({"trunk": {"register": true}})), "trunk.username"),
        (
            with(json!({"trunk": {"authenticate_callers": true}})),
            "trunk.username",
        ),
        (
            with(json!({"trunk": {"outbound_proxy": "proxy.example.com:0"}})),
            "trunk.outbound_proxy",
        ),
        (
            with(json!({"trunk": {"transport": "sctp"}})),
            "trunk.transport",
        ),
        (with(json!({"trunk": {"realm": "x"}})), "trunk.realm"),
        (
            json!({"carrier": "twilio", "name": "t", "secret": "s",
                   "account_sid": format!("AC{}", "0".repeat(32)), "trunk": {}}),
            "trunk",
        ),
    ];
    for (body, field) in cases {
        let (status, _, named) = error_of(
            app.post("/api/v1/carrier-accounts", Some(&app.admin), &body)
                .await,
        )
        .await;
        assert_eq!((status, named.as_deref()), (422, Some(field)), "{body}");
    }
    assert_eq!(app.store.list_carrier_accounts().await.unwrap().len(), 1);
}

async fn a_call_vox_sip_places_moves_with_its_progress_and_is_attached_when_answered(app: TestApp) {
    let (fleet, attached) = fake_fleet(202, 0).await;
    save_fleets(&app, &[&fleet]).await;
    let trunk = trunk(&app).await;
    let path = format!("{trunk}/progress");
    let post = |body: Value| {
        let (app, path) = (&app, &path);
        async move { gateway(app, path, &body, Some(FLEET_SECRET)).await }
    };
    let call = crate::telnyx::placed(&app).await;
    let progress =
        |event: &str| json!({"sip_call_id": "out-1@vox", "call_id": call.0, "event": event});
    // Without the fleet secret: 401, nothing moves.
    let (status, _, _) = error_of(gateway(&app, &path, &progress("ringing"), None).await).await;
    assert_eq!(status, 401);
    let mut ringing = progress("ringing");
    ringing["early_media"] = json!(true);
    assert_eq!(post(ringing).await.status(), 204);
    assert_eq!(
        app.store.call(call).await.unwrap().state,
        CallState::Ringing
    );
    let answered = post(progress("answered")).await;
    assert_eq!(answered.status(), 200);
    let answer: Value = answered.json().await.unwrap();
    assert!(answer["media_url"].as_str().unwrap().starts_with("ws://"));
    let attaching = app.store.call(call).await.unwrap();
    assert_eq!(attaching.state, CallState::Attaching);
    assert_eq!(attaching.carrier_call_id.as_deref(), Some("out-1@vox"));
    let attach = attached.lock()[0].1.clone();
    assert_eq!(
        (
            attach["direction"].as_str(),
            attach["media_protocol"].as_str()
        ),
        (Some("outbound"), Some("vox"))
    );
    // The answer again (a retry) attaches nobody twice.
    let (status, _, _) = error_of(post(progress("answered")).await).await;
    assert_eq!(status, 409);
    assert_eq!(attached.lock().len(), 1);
    // A transfer's NOTIFYs are kept with the call.
    let notify =
        json!({"sip_call_id": "out-1@vox", "event": "transfer", "code": 200, "last": true});
    assert_eq!(post(notify).await.status(), 204);
    let events: Vec<String> = app
        .store
        .telephony_events(call)
        .await
        .unwrap()
        .into_iter()
        .map(|(e, _)| e)
        .collect();
    assert_eq!(events, ["early_media", "answered", "transfer.200"]);

    // A final failure ends an unanswered call with its status's outcome.
    for (code, outcome) in [
        (486, CallOutcomeCode::DialBusy),
        (487, CallOutcomeCode::DialNoAnswer),
        (404, CallOutcomeCode::DialInvalidNumber),
        (503, CallOutcomeCode::DialFailed),
    ] {
        let call = crate::telnyx::placed(&app).await;
        let leg = format!("out-{code}@vox");
        let failed = json!({"sip_call_id": leg, "call_id": call.0, "event": "failed",
            "code": code, "reason": "from the trunk"});
        assert_eq!(post(failed).await.status(), 204);
        let ended = app.store.call(call).await.unwrap();
        assert_eq!(ended.outcome, Some(outcome), "{code}");
        assert!(ended.state.is_terminal());
    }
    // Bad progress names its field and moves nothing.
    let other = crate::telnyx::placed(&app).await;
    for (body, field) in [
        (
            json!({"sip_call_id": "x@vox", "event": "ringing"}),
            "call_id",
        ),
        (
            json!({"sip_call_id": "x@vox", "call_id": other.0, "event": "failed"}),
            "code",
        ),
        (
            json!({"sip_call_id": "x@vox", "call_id": other.0, "event": "failed", "code": 180}),
            "code",
        ),
        (
            json!({"sip_call_id": "x@vox", "call_id": other.0, "event": "rang"}),
            "event",
        ),
    ] {
        let (status, _, named) = error_of(post(body.clone()).await).await;
        assert_eq!((status, named.as_deref()), (422, Some(field)), "{body}");
    }
    assert_eq!(
        app.store.call(other).await.unwrap().state,
        CallState::Dialing
    );
    // Progress naming a call with another leg (not placed as this one) is refused.
    let stray = json!({"sip_call_id": "stray@vox", "call_id": call.0, "event": "ringing"});
    let (status, _, _) = error_of(post(stray).await).await;
    assert_eq!(status, 409);
    // The trunk's settings carry the token the dialler presents to the gateway.
    let read: Value = gateway(
        &app,
        &format!("{trunk}/trunk"),
        &json!({}),
        Some(FLEET_SECRET),
    )
    .await
    .json()
    .await
    .unwrap();
    assert_eq!(read["control_token"], telephony::sip::control_token("-"));
}

api_tests!(
    a_call_vox_sip_places_moves_with_its_progress_and_is_attached_when_answered,
    an_invite_from_vox_sip_is_routed_attached_and_answered_with_the_workers_url,
    sip_invites_nobody_can_take_or_that_make_no_sense_are_refused,
    a_sip_trunk_is_saved_with_its_settings_and_its_password_is_never_shown,
);
