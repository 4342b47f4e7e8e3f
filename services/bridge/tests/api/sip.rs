//! The telephony edge with `vox sip`: INVITEs routed and attached, behind the fleet secret.

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
    let unknown = json!({"sip_call_id": "zzz", "reason": "worker"});
    assert_eq!(
        gateway(&app, &ended, &unknown, Some(FLEET_SECRET))
            .await
            .status(),
        404
    );
}

api_tests!(
    an_invite_from_vox_sip_is_routed_attached_and_answered_with_the_workers_url,
    sip_invites_nobody_can_take_or_that_make_no_sense_are_refused,
);
