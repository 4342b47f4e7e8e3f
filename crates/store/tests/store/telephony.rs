//! Carrier accounts (secrets write-only) and carrier events kept once with the call's move.

use crate::support::*;
use contracts::telephony::{CarrierAccountId, CarrierKind, SipTransport, SipTrunk};
use contracts::{CallOutcomeCode, CallState, E164Number};
use serde_json::json;
use std::sync::Arc;
use store::{NewCarrierAccount, NewTelephonyEvent, Store, StoreError, Transition};

fn account(name: &str) -> NewCarrierAccount {
    NewCarrierAccount {
        carrier: CarrierKind::Twilio,
        name: name.into(),
        account_sid: "AC0123456789abcdef0123456789abcdef".into(),
        secret: Some("token-1".into()),
        api_url: Some("http://127.0.0.1:9/".into()),
        numbers: vec![E164Number::parse("+14155550100").unwrap()],
        webhook_key: None,
        trunk: None,
    }
}

async fn carrier_accounts_keep_their_secret_write_only_and_refuse_bad_fields(
    store: Arc<dyn Store>,
) {
    let saved = store.create_carrier_account(account("main")).await.unwrap();
    assert_eq!(saved.carrier, CarrierKind::Twilio);
    assert_eq!(saved.numbers.len(), 1);
    assert!(!format!("{saved:?}").contains("token-1"));
    assert!(!format!("{:?}", account("x")).contains("token-1"));
    assert_eq!(
        store.carrier_account_secret(saved.id).await.unwrap(),
        "token-1"
    );
    // An update without a secret keeps the saved one; with one, replaces it.
    let mut update = account("main");
    update.secret = None;
    update.numbers.clear();
    let updated = store
        .update_carrier_account(saved.id, update.clone())
        .await
        .unwrap();
    assert!(updated.numbers.is_empty());
    assert_eq!(
        store.carrier_account_secret(saved.id).await.unwrap(),
        "token-1"
    );
    update.secret = Some("token-2".into());
    store
        .update_carrier_account(saved.id, update)
        .await
        .unwrap();
    assert_eq!(
        store.carrier_account_secret(saved.id).await.unwrap(),
        "token-2"
    );
    let field = |error: StoreError| match error {
        StoreError::Invalid { field, .. } => field,
        other => panic!("{other}"),
    };
    let mut bad = account("other");
    bad.secret = None;
    assert_eq!(
        field(store.create_carrier_account(bad).await.unwrap_err()),
        "secret"
    );
    let mut bad = account("other");
    bad.api_url = Some("ftp://x".into());
    assert_eq!(
        field(store.create_carrier_account(bad).await.unwrap_err()),
        "api_url"
    );
    let mut bad = account("other");
    bad.numbers.push(bad.numbers[0].clone());
    assert_eq!(
        field(store.create_carrier_account(bad).await.unwrap_err()),
        "numbers"
    );
    let mut bad = account("main");
    bad.carrier = CarrierKind::Telnyx;
    assert!(matches!(
        store.update_carrier_account(saved.id, bad).await,
        Err(StoreError::WrongState { .. })
    ));
    assert!(matches!(
        store.create_carrier_account(account("main")).await,
        Err(StoreError::Conflict { .. })
    ));
    assert!(matches!(
        store.carrier_account(CarrierAccountId(999)).await,
        Err(StoreError::NotFound { .. })
    ));
    assert_eq!(store.list_carrier_accounts().await.unwrap().len(), 1);
}

async fn a_carrier_event_is_kept_once_and_a_late_one_does_not_move_the_call_back(
    store: Arc<dyn Store>,
) {
    let now = at(2026, 12, 3, 9, 0);
    let account = store.create_carrier_account(account("main")).await.unwrap();
    let bot_id = bot(&*store).await;
    let call = web_call(&*store, bot_id, now).await;
    let event = |name: &str, sequence: i64| NewTelephonyEvent {
        carrier: CarrierKind::Twilio,
        account_id: account.id,
        call_id: Some(call.id),
        carrier_call_id: "CA1".into(),
        event: name.into(),
        sequence,
        payload: json!({"CallStatus": name}),
        received_at: now,
    };
    let mut end = Transition::new(call.id, CallState::Queued, CallState::Failed, now);
    end.outcome = Some(CallOutcomeCode::DialFailed);
    end.carrier_call_id = Some("CA1".into());
    let first = store
        .record_telephony_event(event("status.failed", 3), Some(end.clone()))
        .await
        .unwrap();
    assert!(first.new);
    assert_eq!(first.moved.unwrap().state, CallState::Failed);
    // The same delivery again: kept once, nothing moves.
    let again = store
        .record_telephony_event(event("status.failed", 3), Some(end))
        .await
        .unwrap();
    assert!(!again.new);
    assert!(again.moved.is_none());
    // A late ringing: kept for the history, the call stays where it is.
    let ringing = Transition::new(call.id, CallState::Queued, CallState::Leased, now);
    let late = store
        .record_telephony_event(event("status.ringing", 1), Some(ringing))
        .await
        .unwrap();
    assert!(late.new);
    assert!(late.moved.is_none());
    assert_eq!(store.call(call.id).await.unwrap().state, CallState::Failed);
    assert_eq!(
        store.telephony_events(call.id).await.unwrap(),
        vec![
            ("status.failed".to_owned(), 3),
            ("status.ringing".to_owned(), 1)
        ]
    );
    assert_eq!(
        store.carrier_account_of_call(call.id).await.unwrap(),
        Some(account.id)
    );
    let found = store.call_by_carrier_call_id("CA1").await.unwrap().unwrap();
    assert_eq!(found.id, call.id);
    assert!(
        store
            .call_by_carrier_call_id("CA2")
            .await
            .unwrap()
            .is_none()
    );
    // The dialler reads every call's moves in order after a cursor.
    let all = store.call_events_after(0, 100).await.unwrap();
    assert!(all.windows(2).all(|w| w[0].id < w[1].id));
    assert_eq!(all.last().unwrap().to_state, CallState::Failed);
    let after = store
        .call_events_after(all.last().unwrap().id, 100)
        .await
        .unwrap();
    assert!(after.is_empty());
    assert_eq!(
        store.last_call_event_id().await.unwrap(),
        all.last().unwrap().id
    );
}

async fn an_inbound_leg_is_noted_on_its_call_in_any_state_and_links_its_kept_events(
    store: Arc<dyn Store>,
) {
    let now = at(2026, 12, 3, 9, 0);
    let account = store.create_carrier_account(account("main")).await.unwrap();
    let bot_id = bot(&*store).await;
    // The voice webhook is kept before the call exists (the edge's idempotency gate).
    let voice = NewTelephonyEvent {
        carrier: CarrierKind::Twilio,
        account_id: account.id,
        call_id: None,
        carrier_call_id: "CA9".into(),
        event: "voice".into(),
        sequence: 0,
        payload: json!({"Direction": "inbound"}),
        received_at: now,
    };
    store.record_telephony_event(voice, None).await.unwrap();
    assert!(
        store
            .carrier_call_known(CarrierKind::Twilio, "CA9")
            .await
            .unwrap()
    );
    assert!(
        !store
            .carrier_call_known(CarrierKind::Twilio, "CA10")
            .await
            .unwrap()
    );
    // The worker has taken the call before the edge notes its leg: the leg is noted anyway.
    let call = web_call(&*store, bot_id, now).await;
    let path = [
        CallState::Queued,
        CallState::Dialing,
        CallState::Answered,
        CallState::InProgress,
    ];
    for step in path.windows(2) {
        let moved = Transition::new(call.id, step[0], step[1], now);
        store.transition(moved).await.unwrap();
    }
    store
        .note_call_leg(call.id, CarrierKind::Twilio, "CA9", Some("worker-1"))
        .await
        .unwrap();
    let noted = store.call(call.id).await.unwrap();
    assert_eq!(noted.state, CallState::InProgress);
    assert_eq!(noted.carrier_call_id.as_deref(), Some("CA9"));
    assert_eq!(noted.worker_id.as_deref(), Some("worker-1"));
    assert_eq!(
        store.telephony_events(call.id).await.unwrap(),
        vec![("voice".to_owned(), 0)]
    );
    // Noted again: what was kept stays.
    store
        .note_call_leg(call.id, CarrierKind::Twilio, "CA10", Some("worker-2"))
        .await
        .unwrap();
    let again = store.call(call.id).await.unwrap();
    assert_eq!(again.carrier_call_id.as_deref(), Some("CA9"));
    assert_eq!(again.worker_id.as_deref(), Some("worker-1"));
    assert!(matches!(
        store
            .note_call_leg(
                contracts::CallId(999_999),
                CarrierKind::Twilio,
                "CA11",
                None
            )
            .await,
        Err(StoreError::NotFound { .. })
    ));
}

async fn a_webhook_key_is_write_only_and_kept_by_an_update_that_leaves_it_out(
    store: Arc<dyn Store>,
) {
    let plain = store
        .create_carrier_account(account("twilio"))
        .await
        .unwrap();
    assert!(!plain.webhook_key_set);
    assert_eq!(
        store.carrier_account_webhook_key(plain.id).await.unwrap(),
        None
    );
    let mut telnyx = account("telnyx");
    telnyx.carrier = CarrierKind::Telnyx;
    telnyx.webhook_key = Some(" public-key-1 ".into());
    let saved = store.create_carrier_account(telnyx.clone()).await.unwrap();
    assert!(saved.webhook_key_set);
    assert!(!format!("{telnyx:?}").contains("public-key-1"));
    assert_eq!(
        store.carrier_account_webhook_key(saved.id).await.unwrap(),
        Some("public-key-1".into())
    );
    telnyx.webhook_key = None;
    let kept = store
        .update_carrier_account(saved.id, telnyx.clone())
        .await
        .unwrap();
    assert!(kept.webhook_key_set);
    telnyx.webhook_key = Some("public-key-2".into());
    store
        .update_carrier_account(saved.id, telnyx.clone())
        .await
        .unwrap();
    assert_eq!(
        store.carrier_account_webhook_key(saved.id).await.unwrap(),
        Some("public-key-2".into())
    );
    telnyx.webhook_key = Some("  ".into());
    assert!(matches!(
        store.update_carrier_account(saved.id, telnyx).await,
        Err(StoreError::Invalid { field, .. }) if field == "webhook_key"
    ));
    assert!(matches!(
        store
            .carrier_account_webhook_key(CarrierAccountId(999))
            .await,
        Err(StoreError::NotFound { .. })
    ));
}

async fn a_sip_trunk_keeps_its_settings_and_only_a_sip_account_has_them(store: Arc<dyn Store>) {
    let trunk = SipTrunk {
        username: Some("vox-user".into()),
        register: true,
        outbound_proxy: Some("proxy.example.com:5080".into()),
        transport: SipTransport::Tcp,
        authenticate_callers: true,
    };
    let mut sip = account("trunk");
    sip.carrier = CarrierKind::Sip;
    sip.account_sid = "sip.example.com".into();
    sip.trunk = Some(trunk.clone());
    let saved = store.create_carrier_account(sip.clone()).await.unwrap();
    assert_eq!(saved.trunk.as_ref(), Some(&trunk));
    assert_eq!(
        store.carrier_account(saved.id).await.unwrap().trunk,
        Some(trunk)
    );
    // An update that leaves them out clears them (an IP-authenticated trunk).
    sip.trunk = None;
    let updated = store.update_carrier_account(saved.id, sip).await.unwrap();
    assert_eq!(updated.trunk, None);
    let field = |error: StoreError| match error {
        StoreError::Invalid { field, .. } => field,
        other => panic!("{other}"),
    };
    let mut twilio = account("not a trunk");
    twilio.trunk = Some(SipTrunk::default());
    let refused = store.create_carrier_account(twilio).await.unwrap_err();
    assert_eq!(field(refused), "trunk");
    let mut unnamed = account("registers as nobody");
    unnamed.carrier = CarrierKind::Sip;
    unnamed.trunk = Some(SipTrunk {
        register: true,
        ..SipTrunk::default()
    });
    let refused = store.create_carrier_account(unnamed).await.unwrap_err();
    assert_eq!(field(refused), "trunk.username");
    assert_eq!(store.list_carrier_accounts().await.unwrap().len(), 1);
}

both_backends!(
    carrier_accounts_keep_their_secret_write_only_and_refuse_bad_fields,
    a_sip_trunk_keeps_its_settings_and_only_a_sip_account_has_them,
    a_webhook_key_is_write_only_and_kept_by_an_update_that_leaves_it_out,
    a_carrier_event_is_kept_once_and_a_late_one_does_not_move_the_call_back,
    an_inbound_leg_is_noted_on_its_call_in_any_state_and_links_its_kept_events,
);
