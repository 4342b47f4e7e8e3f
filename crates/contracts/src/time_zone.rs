//! `TimeZoneName`: a validated IANA time zone name (`Europe/London`), DST-aware through chrono-tz.

use chrono::{DateTime, NaiveDateTime, Utc};
use chrono_tz::Tz;
use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde::{Deserialize, Serialize};
use std::borrow::Cow;
use std::fmt;

/// An IANA zone name known to the bundled time zone database.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct TimeZoneName(Tz);

impl JsonSchema for TimeZoneName {
    fn schema_name() -> Cow<'static, str> {
        "TimeZoneName".into()
    }

    /// Every name of the bundled database, which is what [`TimeZoneName::parse`] accepts.
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        let names: Vec<&str> = chrono_tz::TZ_VARIANTS.iter().map(|tz| tz.name()).collect();
        json_schema!({
            "type": "string",
            "enum": names,
            "description": "An IANA time zone name such as Europe/London"
        })
    }
}

/// The name is not an IANA time zone.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown IANA time zone {0:?}")]
pub struct UnknownTimeZone(pub String);

impl TimeZoneName {
    pub fn parse(name: &str) -> Result<Self, UnknownTimeZone> {
        name.parse::<Tz>()
            .map(Self)
            .map_err(|_| UnknownTimeZone(name.to_owned()))
    }

    pub fn as_str(&self) -> &'static str {
        self.0.name()
    }

    pub fn tz(&self) -> Tz {
        self.0
    }

    /// The wall-clock time in this zone at the instant `at` (DST applied).
    pub fn local_time(&self, at: DateTime<Utc>) -> NaiveDateTime {
        at.with_timezone(&self.0).naive_local()
    }
}

impl fmt::Display for TimeZoneName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl TryFrom<String> for TimeZoneName {
    type Error = UnknownTimeZone;

    fn try_from(name: String) -> Result<Self, Self::Error> {
        TimeZoneName::parse(&name)
    }
}

impl From<Tz> for TimeZoneName {
    fn from(tz: Tz) -> Self {
        Self(tz)
    }
}

impl From<TimeZoneName> for String {
    fn from(zone: TimeZoneName) -> Self {
        zone.as_str().to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn local_time_follows_daylight_saving() {
        let new_york = TimeZoneName::parse("America/New_York").unwrap();
        // 13:30 UTC is 08:30 EST before the March change and 09:30 EDT after it.
        let before = Utc.with_ymd_and_hms(2026, 3, 7, 13, 30, 0).unwrap();
        let after = Utc.with_ymd_and_hms(2026, 3, 9, 13, 30, 0).unwrap();
        assert_eq!(
            new_york.local_time(before).format("%H:%M").to_string(),
            "08:30"
        );
        assert_eq!(
            new_york.local_time(after).format("%H:%M").to_string(),
            "09:30"
        );
    }

    #[test]
    fn unknown_zones_are_rejected() {
        assert!(TimeZoneName::parse("Mars/Olympus_Mons").is_err());
        assert!(TimeZoneName::parse("").is_err());
        assert!(serde_json::from_str::<TimeZoneName>("\"Europe/Lodnon\"").is_err());
    }
}
