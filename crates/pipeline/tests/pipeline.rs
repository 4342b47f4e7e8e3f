//! The pipeline's suite: one binary, one module per area, every pipeline built through `run_test`.

#[path = "pipeline/support.rs"]
mod support;

#[path = "pipeline/conversation.rs"]
mod conversation;
#[path = "pipeline/fallback.rs"]
mod fallback;
#[path = "pipeline/flow.rs"]
mod flow;
#[path = "pipeline/runner.rs"]
mod runner;
#[path = "pipeline/tools.rs"]
mod tools;
