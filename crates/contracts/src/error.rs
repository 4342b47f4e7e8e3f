//! The one JSON error body every vox HTTP endpoint answers with.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// `{"code": "validation.invalid", "message": "...", "field": "phone"}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct ErrorBody {
    /// A stable machine-readable code, `"<area>.<snake>"`.
    pub code: String,
    /// A human-readable explanation that is safe to show.
    pub message: String,
    /// The input field at fault, for validation errors.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
}
