//! The processors a call's pipeline is built from, in the order they usually stand.

mod aggregators;
mod ahead;
mod barge_in;
mod draft;
mod flow;
mod idle;
mod llm;
mod output;
mod stt;
mod tts;
mod turn;
mod vad;

pub use aggregators::{EndOfTurn, PunctuationEndOfTurn, TurnPolicy, UserAggregator};
pub use barge_in::{BargeInPolicy, BargeInProcessor, Pause, PauseSwitch, backchannels_for, words};
pub use flow::FlowProcessor;
pub use idle::{IdlePolicy, IdleProcessor};
pub use llm::LlmProcessor;
pub use output::{AudioOutput, heard_part};
pub use stt::SttProcessor;
pub use tts::{TtsProcessor, take_sentence};
pub use turn::{TurnModel, TurnProcessor};
pub use vad::{VadProcessor, VoiceModel};
