//! Reports and the CSV export, over calls finished through the fleet contract.

use crate::fleet::{finish, leased_call, result_body};
use crate::helpers::*;
use serde_json::{Value, json};

async fn a_report_shows_rates_and_dispositions_and_the_export_lists_every_call(app: TestApp) {
    let call_id = leased_call(&app).await;
    let mut body = result_body(call_id, "call.completed");
    body["disposition"] = json!("booked");
    finish(&app, call_id, &body).await;
    let call = app.store.call(contracts::CallId(call_id)).await.unwrap();
    let campaign = call.campaign_id.unwrap().0;

    let since = (chrono::Utc::now() - chrono::Duration::days(1)).to_rfc3339();
    let until = (chrono::Utc::now() + chrono::Duration::days(1)).to_rfc3339();
    let url = format!(
        "/api/v1/reports/calls?since={}&until={}&campaign_id={campaign}&bucket=hour",
        urlencode(&since),
        urlencode(&until)
    );
    let report: Value = app.get(&url, Some(&app.admin)).await.json().await.unwrap();
    assert_eq!(report["totals"]["calls"], 1);
    assert_eq!(report["totals"]["answered"], 1);
    assert_eq!(report["totals"]["answer_rate"], 1.0);
    assert_eq!(report["totals"]["completed"], 1);
    assert_eq!(
        report["dispositions"],
        json!([{"disposition": "booked", "count": 1}])
    );
    assert_eq!(report["buckets"].as_array().unwrap().len(), 1);
    let (status, _, field) = error_of(
        app.get(
            &format!(
                "/api/v1/reports/calls?since={}&until={}",
                urlencode(&until),
                urlencode(&since)
            ),
            Some(&app.admin),
        )
        .await,
    )
    .await;
    assert_eq!((status, field.as_deref()), (422, Some("until")));
    let (status, _, field) =
        error_of(app.get("/api/v1/reports/calls", Some(&app.admin)).await).await;
    assert_eq!((status, field.as_deref()), (422, Some("since")));

    let export = app.get("/api/v1/calls/export.csv", Some(&app.admin)).await;
    assert_eq!(export.status(), 200);
    assert!(
        export.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/csv")
    );
    let text = export.text().await.unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 2, "{text}");
    assert!(lines[0].starts_with("id,created_at,direction,state,outcome,disposition"));
    assert!(lines[1].starts_with(&format!("{call_id},")));
    assert!(
        lines[1].contains(",completed,call.completed,booked,"),
        "{}",
        lines[1]
    );
    // L8: a disposition that reads as a formula is exported as text.
    let formula = crate::fleet::leased_call_in_new_campaign(&app).await;
    let mut body = result_body(formula, "call.completed");
    body["disposition"] = json!("=HYPERLINK(\"http://x\")");
    finish(&app, formula, &body).await;
    let text = app
        .get("/api/v1/calls/export.csv", Some(&app.admin))
        .await
        .text()
        .await
        .unwrap();
    assert!(text.contains("'=HYPERLINK(\"\"http://x\"\")"), "{text}");
}

async fn the_machine_report_counts_verdicts_and_the_evidence_that_some_were_wrong(app: TestApp) {
    use contracts::runtime_config::CallDirection;
    use contracts::{CallOutcomeCode, CallState, E164Number};
    use store::{NewCall, Transition};
    // A conversation whose first words were a voicemail greeting the carrier took for a person.
    let call_id = leased_call(&app).await;
    let mut body = result_body(call_id, "call.completed");
    body["amd"] = json!({"carrier": "human", "evidence": "machine_taken_for_person"});
    finish(&app, call_id, &body).await;
    let first = app.store.call(contracts::CallId(call_id)).await.unwrap();
    let now = chrono::Utc::now();
    let machine = |to: &'static str, worker: Option<&'static str>| {
        let app = &app;
        let first = &first;
        async move {
            let call = app
                .store
                .create_call(NewCall {
                    direction: CallDirection::Outbound,
                    bot_id: first.bot_id,
                    campaign_id: first.campaign_id,
                    contact_id: None,
                    from: None,
                    to: Some(E164Number::parse(to).unwrap()),
                    state: CallState::Answered,
                    variables: Default::default(),
                    carrier_call_id: None,
                    now,
                })
                .await
                .unwrap();
            let mut from = CallState::Answered;
            if let Some(worker) = worker {
                let mut attach = Transition::new(call.id, from, CallState::Attaching, now);
                attach.worker_id = Some(worker.to_owned());
                app.store.transition(attach).await.unwrap();
                from = CallState::Attaching;
            }
            let mut end = Transition::new(call.id, from, CallState::Machine, now);
            end.outcome = Some(CallOutcomeCode::DialMachine);
            app.store.transition(end).await.unwrap();
        }
    };
    // The carrier caught one machine; the bot caught another, whose number then called back.
    machine("+442071838751", None).await;
    machine("+442071838752", Some("worker-1")).await;
    app.store
        .create_call(NewCall {
            direction: CallDirection::Inbound,
            bot_id: first.bot_id,
            campaign_id: None,
            contact_id: None,
            from: Some(E164Number::parse("+442071838752").unwrap()),
            to: None,
            state: CallState::Answered,
            variables: Default::default(),
            carrier_call_id: None,
            now: now + chrono::Duration::minutes(5),
        })
        .await
        .unwrap();

    let since = (now - chrono::Duration::days(1)).to_rfc3339();
    let until = (now + chrono::Duration::days(1)).to_rfc3339();
    let url = format!(
        "/api/v1/reports/amd?since={}&until={}&campaign_id={}",
        urlencode(&since),
        urlencode(&until),
        first.campaign_id.unwrap().0
    );
    let report: Value = app.get(&url, Some(&app.admin)).await.json().await.unwrap();
    assert_eq!(report["people"], 1, "{report}");
    assert_eq!(report["carrier_machines"], 1, "{report}");
    assert_eq!(report["bot_machines"], 1, "{report}");
    assert_eq!(report["machine_taken_for_person"], 1, "{report}");
    assert_eq!(report["callbacks_after_machine"], 1, "{report}");
    assert_eq!(report["false_negative_evidence_rate"], 1.0);
    assert_eq!(report["false_positive_evidence_rate"], 0.5);
    let (status, _, field) = error_of(app.get("/api/v1/reports/amd", Some(&app.admin)).await).await;
    assert_eq!((status, field.as_deref()), (422, Some("since")));
}

fn urlencode(text: &str) -> String {
    text.replace('+', "%2B").replace(':', "%3A")
}

api_tests!(
    a_report_shows_rates_and_dispositions_and_the_export_lists_every_call,
    the_machine_report_counts_verdicts_and_the_evidence_that_some_were_wrong,
);

#[tokio::test]
async fn the_export_streams_more_calls_than_one_page() {
    let app = spawn_app(Backend::Sqlite).await;
    let bot = app.create_bot(bot_spec()).await;
    for _ in 0..2100 {
        app.store
            .create_call(store::NewCall {
                direction: contracts::runtime_config::CallDirection::Web,
                bot_id: contracts::BotId(bot["id"].as_i64().unwrap()),
                campaign_id: None,
                contact_id: None,
                from: None,
                to: None,
                state: contracts::CallState::Queued,
                variables: Default::default(),
                carrier_call_id: None,
                now: chrono::Utc::now(),
            })
            .await
            .unwrap();
    }
    let text = app
        .get("/api/v1/calls/export.csv", Some(&app.admin))
        .await
        .text()
        .await
        .unwrap();
    assert_eq!(text.lines().count(), 2101);
}
