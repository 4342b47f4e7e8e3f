//! The LLM stage: owns the context, streams replies, runs tools, keeps what the caller heard.
//!
//! The context is trimmed on barge-in: a reply is "unconfirmed" until the output reports it was
//! heard in full; when the output reports an interrupted turn, the reply's text is replaced by what
//! was actually played. A provider that fails before any output is retried on the next provider of
//! the chain at once; one that fails mid-reply ends that reply, and the next turn uses the next
//! provider. With no provider left the error is fatal and names the provider.

use crate::frame::{
    CallEvent, ControlFrame, DataFrame, Direction, EndReason, Frame, SystemFrame, ToolCallRecord,
};
use crate::metrics::{MarkKind, TurnMark};
use crate::processor::{Outbox, Processor, ProcessorError};
use crate::services::{LanguageModel, LlmEvent, LlmRequest, Message, ProviderError, ToolCall};
use crate::tools::{SEARCH_KNOWLEDGE, ToolAction, ToolSet};
use async_trait::async_trait;
use futures_util::StreamExt;
use serde_json::json;
use std::sync::Arc;
use std::time::Duration;
use tokio::time::Instant;

/// Most model round trips in one reply (each tool round is one).
const MAX_TOOL_ROUNDS: usize = 5;

/// What the model is told when the caller has gone quiet.
const IDLE_NOTE: &str = "\n\nThe caller has said nothing for a while. Reply with one short \
                         sentence, in the conversation's language, checking whether they are \
                         still there and inviting them to go on. Say nothing else.";

/// The LLM stage.
pub struct LlmProcessor {
    chain: Vec<Arc<dyn LanguageModel>>,
    active: usize,
    system: String,
    messages: Vec<Message>,
    tools: ToolSet,
    first_message: Option<String>,
    /// Longest wait for the first event, and between events, of a reply.
    stall_timeout: Duration,
    /// Index of the first message of the reply the caller has not been confirmed to hear.
    unconfirmed: Option<usize>,
    /// What the knowledge search found for the caller's last words, for this reply only.
    retrieved: Option<String>,
    /// How this call's keys are pressed (from the start).
    keypad: crate::tools::Keypad,
    /// A reply started on a draft of the caller's turn.
    draft: Option<super::draft::Draft>,
    /// A draft's first sentence goes to the TTS at once (`turn.speak_drafts`).
    speak_drafts: bool,
}

impl std::fmt::Debug for LlmProcessor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LlmProcessor")
            .field("messages", &self.messages.len())
            .field("tools", &self.tools)
            .finish_non_exhaustive()
    }
}

impl LlmProcessor {
    pub fn new(
        chain: Vec<Arc<dyn LanguageModel>>,
        system: String,
        first_message: Option<String>,
        tools: ToolSet,
    ) -> Self {
        Self {
            chain,
            active: 0,
            system,
            messages: Vec::new(),
            tools,
            first_message,
            stall_timeout: Duration::from_secs(10),
            unconfirmed: None,
            retrieved: None,
            keypad: crate::tools::Keypad::default(),
            draft: None,
            speak_drafts: false,
        }
    }

    /// A draft's first sentence goes to the TTS as soon as the model has said it, so its audio
    /// is ready when the turn is final (a dropped draft's audio is thrown away).
    pub fn with_draft_speech(mut self, on: bool) -> Self {
        self.speak_drafts = on;
        self
    }

    /// Changes how long a provider may stay silent before it counts as failed.
    pub fn with_stall_timeout(mut self, timeout: Duration) -> Self {
        self.stall_timeout = timeout;
        self
    }

    /// The conversation so far (for tests and the post-call record).
    pub fn messages(&self) -> &[Message] {
        &self.messages
    }

    fn add_user(&mut self, text: String) {
        with_user(&mut self.messages, text);
    }

    /// The request of the next model round.
    fn request(&self, messages: Vec<Message>) -> LlmRequest {
        let system = match &self.retrieved {
            Some(passages) => format!(
                "{}\n\nThe knowledge base's passages for the caller's last words (answer from \
                 them when they fit; say so when none does):\n{passages}",
                self.system
            ),
            None => self.system.clone(),
        };
        LlmRequest {
            system,
            messages,
            tools: self.tools.definitions(),
        }
    }

    /// Starts a reply on `text`, the caller's turn so far, dropping an earlier draft. A bot that
    /// searches its knowledge base before every reply does not draft (the search needs the final
    /// words).
    fn start_draft(&mut self, text: String, out: &Outbox) {
        self.drop_draft(out);
        let Some(model) = self.chain.get(self.active).cloned() else {
            return;
        };
        if self.tools.retrieves_every_turn() {
            return;
        }
        let mut messages = self.messages.clone();
        with_user(&mut messages, text);
        let request = self.request(messages);
        self.draft = Some(super::draft::Draft::start(
            self.active,
            model,
            request,
            self.stall_timeout,
            self.speak_drafts.then(|| out.clone()),
        ));
    }

    /// A short line for a caller who has gone quiet, worded by the model for the conversation so
    /// far (not kept in it, as a fixed prompt is not); `None` when the model fails or says nothing.
    async fn idle_prompt(&mut self) -> Option<String> {
        let model = self.chain.get(self.active)?.clone();
        let mut request = self.request(self.messages.clone());
        request.system.push_str(IDLE_NOTE);
        request.tools.clear();
        let collect = async {
            let mut stream = model.stream(&request).await.ok()?;
            let mut line = String::new();
            while let Some(event) = stream.next().await {
                if let LlmEvent::Text(text) = event.ok()? {
                    line.push_str(&text);
                }
            }
            Some(line)
        };
        let line = tokio::time::timeout(self.stall_timeout, collect)
            .await
            .ok()
            .flatten()?;
        let line = line.trim();
        (!line.is_empty()).then(|| line.to_owned())
    }

    /// Throws the draft away, counted in the call's record.
    fn drop_draft(&mut self, out: &Outbox) {
        if self.draft.take().is_some() {
            out.up(SystemFrame::Call(CallEvent::DraftDropped));
        }
    }

    /// Gives every tool call left without a result (its reply was cancelled) an error result,
    /// so the context stays valid for every vendor.
    fn repair_tool_results(&mut self) {
        let Some(Message::Assistant { tool_calls, .. }) = self
            .messages
            .iter()
            .rev()
            .find(|m| matches!(m, Message::Assistant { .. }))
        else {
            return;
        };
        let missing: Vec<ToolCall> = tool_calls
            .iter()
            .filter(|call| {
                !self.messages.iter().any(
                    |m| matches!(m, Message::ToolResult { call_id, .. } if *call_id == call.id),
                )
            })
            .cloned()
            .collect();
        for call in missing {
            self.messages.push(Message::ToolResult {
                call_id: call.id,
                name: call.name,
                content: r#"{"error":"interrupted"}"#.to_owned(),
            });
        }
    }

    /// Applies what the output says the caller heard of the unconfirmed reply.
    fn apply_heard(&mut self, heard: &str, interrupted: bool) {
        let Some(start) = self.unconfirmed.take() else {
            return;
        };
        if !interrupted {
            return;
        }
        let mut heard = Some(heard.trim().to_owned());
        for message in self.messages.iter_mut().skip(start) {
            if let Message::Assistant { text, .. } = message {
                *text = heard.take().unwrap_or_default();
            }
        }
        let mut index = start;
        while index < self.messages.len() {
            if matches!(&self.messages[index], Message::Assistant { text, tool_calls } if text.is_empty() && tool_calls.is_empty())
            {
                self.messages.remove(index);
            } else {
                index += 1;
            }
        }
    }

    /// Streams one model round into the last (assistant) message; returns the tool calls.
    async fn stream_round(
        &mut self,
        out: &Outbox,
        first_token: &mut bool,
    ) -> Option<Vec<ToolCall>> {
        let request = self.request(self.messages.clone());
        // A draft of this very request has been answering since before the turn was final.
        let mut drafted = match self.draft.take() {
            Some(draft) => {
                let stream = draft.into_stream(self.active, &request);
                if stream.is_none() {
                    out.up(SystemFrame::Call(CallEvent::DraftDropped));
                }
                stream
            }
            None => None,
        };
        self.messages.push(Message::Assistant {
            text: String::new(),
            tool_calls: Vec::new(),
        });
        loop {
            let provider = self.chain.get(self.active)?.clone();
            let has_fallback = self.active + 1 < self.chain.len();
            let mut produced = false;
            let mut calls = Vec::new();
            let opened = match drafted.take() {
                Some(stream) => Ok(Ok(stream)),
                None => tokio::time::timeout(self.stall_timeout, provider.stream(&request)).await,
            };
            let failure = match opened {
                Err(_) => Some(ProviderError::Timeout {
                    provider: provider.name().to_owned(),
                    after: self.stall_timeout,
                }),
                Ok(Err(error)) => Some(error),
                Ok(Ok(mut stream)) => loop {
                    match tokio::time::timeout(self.stall_timeout, stream.next()).await {
                        Err(_) => {
                            break Some(ProviderError::Timeout {
                                provider: provider.name().to_owned(),
                                after: self.stall_timeout,
                            });
                        }
                        Ok(None) => break None,
                        Ok(Some(Err(error))) => break Some(error),
                        Ok(Some(Ok(LlmEvent::Text(text)))) => {
                            produced = true;
                            if *first_token {
                                *first_token = false;
                                out.down(SystemFrame::Metric(TurnMark::now(
                                    MarkKind::LlmFirstToken,
                                )));
                            }
                            if let Some(Message::Assistant { text: reply, .. }) =
                                self.messages.last_mut()
                            {
                                reply.push_str(&text);
                            }
                            out.down(DataFrame::LlmText(text));
                        }
                        Ok(Some(Ok(LlmEvent::ToolCall(call)))) => {
                            produced = true;
                            calls.push(call);
                        }
                    }
                },
            };
            match failure {
                None => {
                    if let Some(Message::Assistant { tool_calls, .. }) = self.messages.last_mut() {
                        tool_calls.clone_from(&calls);
                    }
                    return Some(calls);
                }
                Some(error) => {
                    tracing::warn!(%error, "language model failed");
                    out.error(
                        error.provider().to_owned(),
                        error.to_string(),
                        !has_fallback,
                    );
                    self.active += 1;
                    if !has_fallback {
                        return None;
                    }
                    if produced {
                        // What was said stays said; the next turn uses the next provider.
                        return Some(Vec::new());
                    }
                }
            }
        }
    }

    /// Searches the knowledge base with the caller's last words when the bot retrieves before
    /// every reply; the search is recorded like a tool call, and what it found goes with this
    /// reply only.
    async fn retrieve(&mut self, out: &Outbox) {
        self.retrieved = None;
        if !self.tools.retrieves_every_turn() {
            return;
        }
        let Some(Message::User(query)) = self.messages.last() else {
            return;
        };
        let query = query.clone();
        let started = Instant::now();
        let Some(outcome) = self.tools.retrieve(&query).await else {
            return;
        };
        out.up(SystemFrame::Call(CallEvent::ToolCalled(ToolCallRecord {
            name: SEARCH_KNOWLEDGE.to_owned(),
            arguments: json!({ "query": query, "every_turn": true }),
            result: crate::tools::recorded(&outcome.result),
            duration: started.elapsed(),
        })));
        if outcome.result.get("error").is_none() {
            self.retrieved = Some(outcome.result.to_string());
        }
    }

    async fn reply(&mut self, out: &Outbox) {
        out.down(ControlFrame::LlmResponseStart);
        self.unconfirmed = Some(self.messages.len());
        let mut first_token = true;
        let mut end = None;
        for _ in 0..MAX_TOOL_ROUNDS {
            let Some(calls) = self.stream_round(out, &mut first_token).await else {
                return;
            };
            if calls.is_empty() {
                break;
            }
            for call in calls {
                if let Some(filler) = self.tools.filler(&call.name) {
                    out.down(DataFrame::Speak(filler.to_owned()));
                }
                let started = Instant::now();
                let outcome = self.tools.execute(&call).await;
                out.up(SystemFrame::Call(CallEvent::ToolCalled(ToolCallRecord {
                    name: call.name.clone(),
                    arguments: call.arguments.clone(),
                    result: crate::tools::recorded(&outcome.result),
                    duration: started.elapsed(),
                })));
                self.messages.push(Message::ToolResult {
                    call_id: call.id.clone(),
                    name: call.name.clone(),
                    content: outcome.result.to_string(),
                });
                match outcome.action {
                    ToolAction::Continue => {}
                    ToolAction::Disposition(value) => {
                        out.up(SystemFrame::Call(CallEvent::Disposition(value)))
                    }
                    ToolAction::EndCall => end = Some(EndReason::BotEnded),
                    ToolAction::SendDigits(digits) => {
                        crate::tools::press_keys(&digits, self.keypad, out)
                    }
                    ToolAction::Transfer { destination } => {
                        end = Some(EndReason::Transferred { destination })
                    }
                }
            }
            if end.is_some() {
                break;
            }
        }
        out.down(ControlFrame::LlmResponseEnd);
        if let Some(reason) = end {
            out.down(ControlFrame::End(reason));
        }
    }
}

#[async_trait]
impl Processor for LlmProcessor {
    fn name(&self) -> &'static str {
        "llm"
    }

    async fn process(
        &mut self,
        frame: Frame,
        direction: Direction,
        out: &Outbox,
    ) -> Result<(), ProcessorError> {
        match frame {
            Frame::System(SystemFrame::Start(params)) => {
                self.keypad = crate::tools::Keypad::of(&params);
                out.forward(frame, direction);
                if let Some(first) = self.first_message.clone() {
                    self.unconfirmed = Some(self.messages.len());
                    self.messages.push(Message::Assistant {
                        text: first.clone(),
                        tool_calls: Vec::new(),
                    });
                    out.down(DataFrame::Speak(first));
                }
            }
            Frame::System(SystemFrame::UserTurn(text)) => {
                self.add_user(text);
                self.retrieve(out).await;
                self.reply(out).await;
            }
            Frame::System(SystemFrame::DraftTurn(text)) => self.start_draft(text, out),
            Frame::Data(DataFrame::IdlePrompt { fallback }) => {
                let line = self.idle_prompt().await.unwrap_or(fallback);
                out.down(DataFrame::Speak(line));
            }
            Frame::System(SystemFrame::Interruption) => {
                self.drop_draft(out);
                self.repair_tool_results();
                out.forward(frame, direction);
            }
            Frame::System(SystemFrame::AssistantHeard {
                ref text,
                interrupted,
            }) => {
                self.apply_heard(text, interrupted);
                out.forward(frame, direction);
            }
            other => out.forward(other, direction),
        }
        Ok(())
    }
}

/// `messages` with the caller's `text` added: to their last message when the conversation ends
/// with theirs.
fn with_user(messages: &mut Vec<Message>, text: String) {
    if let Some(Message::User(previous)) = messages.last_mut() {
        previous.push(' ');
        previous.push_str(&text);
    } else {
        messages.push(Message::User(text));
    }
}
