//! The PSTN simulator end to end: campaigns through the dialler, inbound load, and LLM personas.

mod campaign;
mod load;
mod persona;
mod twilio;
