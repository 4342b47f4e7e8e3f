//! Calling windows: when a contact may be called, judged in the contact's own time zone.

use crate::TimeZoneName;
use chrono::{DateTime, Datelike, NaiveDateTime, NaiveTime, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// A day of the week as stored and sent (`"mon"` … `"sun"`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Weekday {
    Mon,
    Tue,
    Wed,
    Thu,
    Fri,
    Sat,
    Sun,
}

impl From<chrono::Weekday> for Weekday {
    fn from(day: chrono::Weekday) -> Self {
        match day {
            chrono::Weekday::Mon => Weekday::Mon,
            chrono::Weekday::Tue => Weekday::Tue,
            chrono::Weekday::Wed => Weekday::Wed,
            chrono::Weekday::Thu => Weekday::Thu,
            chrono::Weekday::Fri => Weekday::Fri,
            chrono::Weekday::Sat => Weekday::Sat,
            chrono::Weekday::Sun => Weekday::Sun,
        }
    }
}

/// One daily window of local wall-clock time. `start > end` means it runs past midnight (the
/// days name the day it starts on).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct CallingWindow {
    pub days: Vec<Weekday>,
    /// Local start time, inclusive (`"09:00:00"`).
    pub start: NaiveTime,
    /// Local end time, exclusive (`"20:00:00"`).
    pub end: NaiveTime,
}

impl CallingWindow {
    /// Whether the local wall-clock moment falls inside this window.
    pub fn contains(&self, local: NaiveDateTime) -> bool {
        let day = Weekday::from(local.weekday());
        let time = local.time();
        if self.start <= self.end {
            self.days.contains(&day) && self.start <= time && time < self.end
        } else {
            let yesterday = Weekday::from(local.weekday().pred());
            (self.days.contains(&day) && time >= self.start)
                || (self.days.contains(&yesterday) && time < self.end)
        }
    }
}

/// A campaign's windows; empty means "any time" (inbound-style campaigns, tests).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(transparent)]
pub struct CallingWindows(pub Vec<CallingWindow>);

impl CallingWindows {
    /// Whether a contact in `zone` may be called at the instant `at`.
    pub fn allows(&self, zone: TimeZoneName, at: DateTime<Utc>) -> bool {
        if self.0.is_empty() {
            return true;
        }
        let local = zone.local_time(at);
        self.0.iter().any(|window| window.contains(local))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn weekdays_nine_to_eight() -> CallingWindows {
        CallingWindows(vec![CallingWindow {
            days: vec![
                Weekday::Mon,
                Weekday::Tue,
                Weekday::Wed,
                Weekday::Thu,
                Weekday::Fri,
            ],
            start: NaiveTime::from_hms_opt(9, 0, 0).unwrap(),
            end: NaiveTime::from_hms_opt(20, 0, 0).unwrap(),
        }])
    }

    #[test]
    fn window_is_judged_in_the_contacts_zone_across_dst() {
        let windows = weekdays_nine_to_eight();
        let new_york = TimeZoneName::parse("America/New_York").unwrap();
        // Friday 6 March 2026, 13:30 UTC = 08:30 EST: too early.
        let friday = Utc.with_ymd_and_hms(2026, 3, 6, 13, 30, 0).unwrap();
        // Monday 9 March 2026, 13:30 UTC = 09:30 EDT: inside.
        let monday = Utc.with_ymd_and_hms(2026, 3, 9, 13, 30, 0).unwrap();
        assert!(!windows.allows(new_york, friday));
        assert!(windows.allows(new_york, monday));
        let london = TimeZoneName::parse("Europe/London").unwrap();
        assert!(windows.allows(london, friday));
    }

    #[test]
    fn overnight_windows_wrap_past_midnight() {
        let windows = CallingWindows(vec![CallingWindow {
            days: vec![Weekday::Fri],
            start: NaiveTime::from_hms_opt(22, 0, 0).unwrap(),
            end: NaiveTime::from_hms_opt(2, 0, 0).unwrap(),
        }]);
        let utc = TimeZoneName::parse("UTC").unwrap();
        assert!(windows.allows(utc, Utc.with_ymd_and_hms(2026, 3, 6, 23, 0, 0).unwrap()));
        assert!(windows.allows(utc, Utc.with_ymd_and_hms(2026, 3, 7, 1, 0, 0).unwrap()));
        assert!(!windows.allows(utc, Utc.with_ymd_and_hms(2026, 3, 7, 23, 0, 0).unwrap()));
    }

    #[test]
    fn no_windows_means_any_time() {
        let utc = TimeZoneName::parse("UTC").unwrap();
        assert!(CallingWindows::default().allows(utc, Utc::now()));
    }
}
