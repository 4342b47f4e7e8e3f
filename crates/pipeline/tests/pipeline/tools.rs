//! Function calling: fillers, schema-checked arguments, timeouts and the built-in tools.

use crate::support::*;
use async_trait::async_trait;
use contracts::runtime_config::{Retrieval, ToolSpec};
use pipeline::assemble::Assembly;
use pipeline::assemble::session_config;
use pipeline::testing::{ScriptedLlm, ScriptedStt, TestInput, ToneTts, run_test_with, words};
use pipeline::tools::WebhookClient;
use pipeline::{
    CallEvent, EndReason, Frame, LlmEvent, Message, StartParams, SystemFrame, ToolCall,
    TransportMessage,
};
use serde_json::{Value, json};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

/// A webhook receiver in memory: answers after `delay`, counting calls.
#[derive(Debug, Default)]
struct Webhooks {
    delay: Duration,
    calls: AtomicUsize,
}

#[async_trait]
impl WebhookClient for Webhooks {
    async fn call(&self, url: &str, body: &Value) -> Result<Value, String> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        tokio::time::sleep(self.delay).await;
        Ok(json!({ "url": url, "slots": ["9am", "11am"], "asked": body["arguments"] }))
    }
}

fn lookup_tool(timeout_ms: u64) -> ToolSpec {
    ToolSpec::Webhook {
        name: "find_slots".to_owned(),
        description: "Finds free appointment slots".to_owned(),
        url: "http://crm.test/slots".to_owned(),
        parameters: json!({
            "type": "object",
            "properties": { "day": { "type": "string", "enum": ["monday", "tuesday"] } },
            "required": ["day"],
        }),
        timeout_ms,
        filler: Some("One moment while I check.".to_owned()),
    }
}

fn call(name: &str, arguments: Value) -> LlmEvent {
    LlmEvent::ToolCall(ToolCall {
        id: format!("call_{name}"),
        name: name.to_owned(),
        arguments,
    })
}

async fn run_with_tools(
    tools: Vec<ToolSpec>,
    replies: Vec<Vec<LlmEvent>>,
    webhooks: Arc<Webhooks>,
) -> (pipeline::testing::TestOutput, Vec<pipeline::LlmRequest>) {
    run_bot(tools, "Anything on Tuesday?", replies, |assembly| {
        assembly.webhooks = Some(webhooks);
    })
    .await
}

/// A bot with `tools` hears `said`, answers with the scripted `replies` (one per LLM request),
/// and runs for 8 s; `tweak` gives the assembly its tool clients. Returns the output and every
/// request the LLM got.
async fn run_bot(
    tools: Vec<ToolSpec>,
    said: &str,
    replies: Vec<Vec<LlmEvent>>,
    tweak: impl FnOnce(&mut Assembly),
) -> (pipeline::testing::TestOutput, Vec<pipeline::LlmRequest>) {
    run_bot_on(tools, said, replies, tweak, StartParams::default()).await
}

/// `run_bot` on a transport described by `start`.
async fn run_bot_on(
    tools: Vec<ToolSpec>,
    said: &str,
    replies: Vec<Vec<LlmEvent>>,
    tweak: impl FnOnce(&mut Assembly),
    start: StartParams,
) -> (pipeline::testing::TestOutput, Vec<pipeline::LlmRequest>) {
    let mut bot = spec();
    bot.tools = tools;
    let llm = ScriptedLlm::new("llm", replies);
    let mut requests = llm.record_requests();
    let mut assembly = chains(
        vec![Arc::new(ScriptedStt::new("stt", &[said]))],
        vec![Arc::new(llm)],
        vec![Arc::new(ToneTts::new("tts"))],
    );
    tweak(&mut assembly);
    let mut inputs = utterance();
    inputs.push(TestInput::Wait(Duration::from_secs(8)));
    let config = session_config(&bot, start);
    let out = run_test_with(build(&bot, assembly), inputs, config).await;
    let mut all = Vec::new();
    while let Ok(request) = requests.try_recv() {
        all.push(request);
    }
    (out, all)
}

fn tool_results(request: &pipeline::LlmRequest) -> Vec<Value> {
    request
        .messages
        .iter()
        .filter_map(|m| match m {
            Message::ToolResult { content, .. } => Some(serde_json::from_str(content).unwrap()),
            _ => None,
        })
        .collect()
}

#[tokio::test(start_paused = true)]
async fn a_tool_call_speaks_its_filler_and_gives_the_result_back_to_the_model() {
    let webhooks = Arc::new(Webhooks {
        delay: Duration::from_secs(2),
        ..Default::default()
    });
    let replies = vec![
        vec![call("find_slots", json!({ "day": "tuesday" }))],
        words("Nine or eleven on Tuesday."),
    ];
    let (out, requests) = run_with_tools(vec![lookup_tool(5_000)], replies, webhooks.clone()).await;
    assert_eq!(webhooks.calls.load(Ordering::SeqCst), 1);
    assert_eq!(requests[0].tools[0].name, "find_slots");
    let results = tool_results(&requests[1]);
    assert_eq!(results[0]["slots"], json!(["9am", "11am"]));
    assert_eq!(results[0]["asked"], json!({ "day": "tuesday" }));
    let spoken = heard(&out.up);
    assert_eq!(spoken.len(), 1, "{spoken:?}");
    assert_eq!(
        spoken[0].0,
        "One moment while I check. Nine or eleven on Tuesday."
    );
    let recorded = call_events(&out.up).into_iter().find_map(|e| match e {
        CallEvent::ToolCalled(record) => Some(record),
        _ => None,
    });
    assert_eq!(recorded.unwrap().duration, Duration::from_secs(2));
}

#[tokio::test(start_paused = true)]
async fn tool_arguments_that_break_the_schema_are_refused_without_calling_the_webhook() {
    let webhooks = Arc::new(Webhooks::default());
    let replies = vec![
        vec![call("find_slots", json!({ "day": "someday" }))],
        words("Sorry, which day?"),
    ];
    let (_, requests) = run_with_tools(vec![lookup_tool(5_000)], replies, webhooks.clone()).await;
    assert_eq!(webhooks.calls.load(Ordering::SeqCst), 0);
    let error = tool_results(&requests[1])[0]["error"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(
        error.starts_with("invalid arguments") && error.contains("/day"),
        "{error}"
    );
}

#[tokio::test(start_paused = true)]
async fn a_webhook_that_outlives_its_timeout_gives_the_model_an_error() {
    let webhooks = Arc::new(Webhooks {
        delay: Duration::from_secs(30),
        ..Default::default()
    });
    let replies = vec![
        vec![call("find_slots", json!({ "day": "monday" }))],
        words("The system is slow."),
    ];
    let (_, requests) = run_with_tools(vec![lookup_tool(1_500)], replies, webhooks).await;
    assert_eq!(
        tool_results(&requests[1])[0]["error"],
        "timed out after 1500 ms"
    );
}

#[tokio::test(start_paused = true)]
async fn the_end_call_tool_ends_the_call_after_the_goodbye_is_played() {
    let replies = vec![{
        let mut reply = words("Thanks for calling, goodbye.");
        reply.push(call("end_call", json!({})));
        reply
    }];
    let (out, _) = run_with_tools(
        vec![ToolSpec::EndCall],
        replies,
        Arc::new(Webhooks::default()),
    )
    .await;
    assert_eq!(out.report.end_reason, EndReason::BotEnded);
    assert_eq!(
        heard(&out.up),
        vec![("Thanks for calling, goodbye.".to_owned(), false)]
    );
    assert!(audio_out(&out.down) > Duration::from_secs(1));
}

#[tokio::test(start_paused = true)]
async fn set_disposition_records_an_allowed_value_and_refuses_others() {
    let replies = vec![
        vec![call("set_disposition", json!({ "disposition": "maybe" }))],
        vec![call(
            "set_disposition",
            json!({ "disposition": "interested" }),
        )],
        words("Noted."),
    ];
    let tools = vec![ToolSpec::SetDisposition {
        allowed: vec!["interested".to_owned(), "not_interested".to_owned()],
    }];
    let (out, requests) = run_with_tools(tools, replies, Arc::new(Webhooks::default())).await;
    assert!(
        tool_results(&requests[1])[0]["error"]
            .as_str()
            .unwrap()
            .contains("must be one of")
    );
    let dispositions: Vec<_> = call_events(&out.up)
        .into_iter()
        .filter_map(|e| match e {
            CallEvent::Disposition(d) => Some(d),
            _ => None,
        })
        .collect();
    assert_eq!(dispositions, vec!["interested".to_owned()]);
}

#[tokio::test(start_paused = true)]
async fn the_transfer_tool_ends_the_call_with_its_destination() {
    let replies = vec![{
        let mut reply = words("Connecting you now.");
        reply.push(call("transfer_call", json!({})));
        reply
    }];
    let tools = vec![ToolSpec::Transfer {
        destination: "+14155550100".to_owned(),
    }];
    let (out, _) = run_with_tools(tools, replies, Arc::new(Webhooks::default())).await;
    assert_eq!(
        out.report.end_reason,
        EndReason::Transferred {
            destination: "+14155550100".to_owned()
        }
    );
}

#[tokio::test(start_paused = true)]
async fn send_digits_presses_keys_as_events_where_the_transport_can_and_as_tones_in_the_audio_elsewhere()
 {
    let replies = || {
        vec![
            vec![call("send_digits", json!({ "digits": "1#" }))],
            vec![call("send_digits", json!({ "digits": "9 then 1" }))],
            words("Done."),
        ]
    };
    let pressed = |out: &pipeline::testing::TestOutput| -> Vec<String> {
        out.down
            .iter()
            .filter_map(|f| match f {
                Frame::System(SystemFrame::Transport(TransportMessage::Dtmf(d))) => Some(d.clone()),
                _ => None,
            })
            .collect()
    };
    let keys = StartParams {
        sends_digits: true,
        ..StartParams::default()
    };
    let (out, requests) = run_bot_on(
        vec![ToolSpec::SendDigits],
        "Press one.",
        replies(),
        |_| {},
        keys,
    )
    .await;
    assert_eq!(pressed(&out), ["1#"]);
    assert_eq!(tool_results(&requests[1])[0]["pressed"], "1#");
    assert!(
        tool_results(&requests[2])[1]["error"]
            .as_str()
            .unwrap()
            .contains("digits must be")
    );
    // A carrier's media stream has no key events: the keys are in-band tones in the bot's audio,
    // and a DTMF detector listening to that audio hears them.
    let start = StartParams::default();
    let (out, requests) = run_bot_on(
        vec![ToolSpec::SendDigits],
        "Press one.",
        replies(),
        |_| {},
        start,
    )
    .await;
    assert!(pressed(&out).is_empty());
    assert_eq!(tool_results(&requests[1])[0]["pressed"], "1#");
    assert_eq!(keys_heard(&out.down, start.output_rate), "1#");
}

/// A knowledge base in memory: one passage per search after `delay`, recording the queries.
#[derive(Debug, Default)]
struct Knowledge {
    delay: Duration,
    asked: tokio::sync::Mutex<Vec<(String, Vec<i64>, u32)>>,
}

#[async_trait]
impl pipeline::tools::KnowledgeClient for Knowledge {
    async fn search(&self, query: &str, bases: &[i64], top_k: u32) -> Result<Value, String> {
        self.asked
            .lock()
            .await
            .push((query.to_owned(), bases.to_vec(), top_k));
        tokio::time::sleep(self.delay).await;
        Ok(json!({ "passages": [{ "text": "Open 8 to 6 on weekdays.", "source": "hours.md" }] }))
    }
}

async fn run_with_knowledge(
    knowledge: Arc<Knowledge>,
    retrieval: Retrieval,
    replies: Vec<Vec<LlmEvent>>,
) -> (pipeline::testing::TestOutput, Vec<pipeline::LlmRequest>) {
    let tool = ToolSpec::SearchKnowledge {
        knowledge_base_ids: vec![4, 7],
        top_k: 2,
        timeout_ms: 1_500,
        filler: Some("Let me look that up.".to_owned()),
        retrieval,
    };
    run_bot(vec![tool], "When are you open?", replies, |assembly| {
        assembly.knowledge = Some(knowledge);
    })
    .await
}

#[tokio::test(start_paused = true)]
async fn search_knowledge_gives_the_model_passages_with_their_sources_and_records_them() {
    let knowledge = Arc::new(Knowledge {
        delay: Duration::from_millis(300),
        ..Default::default()
    });
    let replies = vec![
        vec![call(
            "search_knowledge",
            json!({ "query": "opening hours" }),
        )],
        words("We are open eight to six on weekdays."),
    ];
    let (out, requests) = run_with_knowledge(knowledge.clone(), Retrieval::Tool, replies).await;
    assert_eq!(requests[0].tools[0].name, "search_knowledge");
    assert_eq!(
        knowledge.asked.lock().await.clone(),
        vec![("opening hours".to_owned(), vec![4, 7], 2)]
    );
    let results = tool_results(&requests[1]);
    assert_eq!(results[0]["passages"][0]["source"], "hours.md");
    let spoken = heard(&out.up);
    assert_eq!(
        spoken[0].0,
        "Let me look that up. We are open eight to six on weekdays."
    );
    // The passages and their sources are in the call's events, so the transcript keeps them.
    let recorded = tool_records(&out.up).remove(0);
    assert_eq!(
        recorded.result["passages"][0]["text"],
        "Open 8 to 6 on weekdays."
    );
    assert_eq!(recorded.duration, Duration::from_millis(300));
}

#[tokio::test(start_paused = true)]
async fn a_knowledge_search_over_its_budget_or_without_a_query_gives_the_model_an_error() {
    let slow = Arc::new(Knowledge {
        delay: Duration::from_secs(3),
        ..Default::default()
    });
    let replies = vec![
        vec![call("search_knowledge", json!({ "query": "parking" }))],
        vec![call("search_knowledge", json!({ "query": "  " }))],
        words("I could not find that."),
    ];
    let (_, requests) = run_with_knowledge(slow.clone(), Retrieval::Tool, replies).await;
    let late = tool_results(&requests[1]);
    assert!(
        late[0]["error"].as_str().unwrap().contains("1500 ms"),
        "{late:?}"
    );
    let empty = tool_results(&requests[2]);
    assert!(
        empty[1]["error"].as_str().unwrap().contains("query"),
        "{empty:?}"
    );
    assert_eq!(slow.asked.lock().await.len(), 1);
}

fn tool_records(up: &[pipeline::Frame]) -> Vec<pipeline::frame::ToolCallRecord> {
    call_events(up)
        .into_iter()
        .filter_map(|e| match e {
            CallEvent::ToolCalled(record) => Some(record),
            _ => None,
        })
        .collect()
}

#[tokio::test(start_paused = true)]
async fn retrieval_before_every_reply_puts_passages_for_the_callers_words_in_front_of_the_model() {
    let knowledge = Arc::new(Knowledge {
        delay: Duration::from_millis(200),
        ..Default::default()
    });
    let replies = vec![words("We are open eight to six on weekdays.")];
    let (out, requests) =
        run_with_knowledge(knowledge.clone(), Retrieval::EveryTurn, replies).await;
    // The caller's own words were searched, before the model was asked; no tool is offered.
    assert_eq!(
        knowledge.asked.lock().await.clone(),
        vec![("When are you open?".to_owned(), vec![4, 7], 2)]
    );
    assert!(requests[0].tools.is_empty(), "{:?}", requests[0].tools);
    assert!(
        requests[0].system.contains("Open 8 to 6 on weekdays.")
            && requests[0].system.contains("hours.md"),
        "{}",
        requests[0].system
    );
    // No filler: nothing is said while a search that runs every turn works.
    assert_eq!(heard(&out.up)[0].0, "We are open eight to six on weekdays.");
    // The search is in the call's events like a tool call, passages and sources included.
    let records = tool_records(&out.up);
    assert_eq!(records.len(), 1);
    assert_eq!(records[0].name, "search_knowledge");
    assert_eq!(records[0].arguments["every_turn"], true);
    assert_eq!(records[0].result["passages"][0]["source"], "hours.md");
    assert_eq!(records[0].duration, Duration::from_millis(200));
}

#[tokio::test(start_paused = true)]
async fn a_retrieval_over_its_budget_lets_the_reply_go_on_without_passages() {
    let slow = Arc::new(Knowledge {
        delay: Duration::from_secs(3),
        ..Default::default()
    });
    let replies = vec![words("Let me find out for you.")];
    let (out, requests) = run_with_knowledge(slow, Retrieval::EveryTurn, replies).await;
    assert!(
        !requests[0].system.contains("passages"),
        "{}",
        requests[0].system
    );
    assert_eq!(heard(&out.up)[0].0, "Let me find out for you.");
    let records = tool_records(&out.up);
    assert!(
        records[0].result["error"]
            .as_str()
            .unwrap()
            .contains("1500 ms"),
        "{:?}",
        records[0].result
    );
    assert_eq!(records[0].duration, Duration::from_millis(1_500));
}

/// M3: a tool's huge reply is kept in the call's record only as a preview with its size.
#[test]
fn a_huge_tool_result_is_recorded_as_a_preview_with_its_size() {
    let small = serde_json::json!({ "slots": ["9am"] });
    assert_eq!(pipeline::tools::recorded(&small), small);
    let huge = serde_json::json!({ "rows": "é".repeat(3 << 20) });
    let kept = pipeline::tools::recorded(&huge);
    assert_eq!(kept["truncated"], true);
    assert_eq!(kept["bytes"], huge.to_string().len());
    let preview = kept["preview"].as_str().unwrap();
    assert!(preview.len() <= pipeline::tools::RECORDED_RESULT_BYTES);
    assert!(preview.starts_with("{\"rows\":\"é"));
}
