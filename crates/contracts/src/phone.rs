//! `E164Number`: a phone number already normalised to E.164 (`+` and 8 to 15 digits).
//!
//! Normalising a local number with a default region is the importer's job (the Backend); this
//! type only accepts what is already E.164, so every stored number is dialable as it stands.

use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde::{Deserialize, Serialize};
use std::borrow::Cow;
use std::fmt;

/// A validated E.164 number such as `+14155550123`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct E164Number(String);

/// What [`E164Number::parse`] accepts, as a JSON Schema pattern.
pub const E164_PATTERN: &str = "^\\+[1-9][0-9]{7,14}$";

impl JsonSchema for E164Number {
    fn schema_name() -> Cow<'static, str> {
        "E164Number".into()
    }

    fn inline_schema() -> bool {
        true
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "type": "string",
            "pattern": E164_PATTERN,
            "description": "An E.164 number: '+', a country code that does not start with 0, 8 to 15 digits in all."
        })
    }
}

/// Why a text is not an E.164 number.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PhoneError {
    #[error("must start with '+' followed by the country code")]
    MissingPlus,
    #[error("must contain only digits after '+'")]
    NotDigits,
    #[error("must have 8 to 15 digits after '+', found {0}")]
    BadLength(usize),
    #[error("country code cannot start with 0")]
    LeadingZero,
}

impl E164Number {
    /// Accepts exactly the E.164 form: `+`, a country code that does not start with 0, and a
    /// total of 8 to 15 digits.
    pub fn parse(text: &str) -> Result<Self, PhoneError> {
        let digits = text.strip_prefix('+').ok_or(PhoneError::MissingPlus)?;
        if !digits.bytes().all(|b| b.is_ascii_digit()) {
            return Err(PhoneError::NotDigits);
        }
        if !(8..=15).contains(&digits.len()) {
            return Err(PhoneError::BadLength(digits.len()));
        }
        if digits.starts_with('0') {
            return Err(PhoneError::LeadingZero);
        }
        Ok(Self(text.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for E164Number {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl TryFrom<String> for E164Number {
    type Error = PhoneError;

    fn try_from(text: String) -> Result<Self, Self::Error> {
        E164Number::parse(&text)
    }
}

impl From<E164Number> for String {
    fn from(number: E164Number) -> Self {
        number.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_e164_numbers() {
        for ok in [
            "+14155550123",
            "+442071838750",
            "+919876543210",
            "+12345678",
        ] {
            assert_eq!(E164Number::parse(ok).unwrap().as_str(), ok);
        }
    }

    #[test]
    fn rejects_numbers_that_are_not_e164() {
        assert_eq!(
            E164Number::parse("4155550123"),
            Err(PhoneError::MissingPlus)
        );
        assert_eq!(E164Number::parse("+1 415 555"), Err(PhoneError::NotDigits));
        assert_eq!(E164Number::parse("+1234567"), Err(PhoneError::BadLength(7)));
        assert_eq!(
            E164Number::parse("+1234567890123456"),
            Err(PhoneError::BadLength(16))
        );
        assert_eq!(
            E164Number::parse("+0123456789"),
            Err(PhoneError::LeadingZero)
        );
        assert!(serde_json::from_str::<E164Number>("\"+1-415\"").is_err());
    }
}
