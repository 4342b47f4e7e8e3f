//! The pipeline's suite: one binary, one module per area, every pipeline built through `run_test`.

mod support;

mod barge_in;
mod conversation;
mod draft;
mod fallback;
mod flow;
mod idle;
mod ivr;
mod runner;
mod tools;
mod turn;
