//! Report shapes: what a call report is asked for and what it answers.

use chrono::{DateTime, Utc};
use contracts::{BotId, CampaignId};

/// The width of a report bucket.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Bucket {
    Hour,
    Day,
}

impl Bucket {
    pub fn millis(self) -> i64 {
        match self {
            Bucket::Hour => 3_600_000,
            Bucket::Day => 86_400_000,
        }
    }
}

/// Calls created in `[since, until)`, optionally of one campaign or bot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReportFilter {
    pub since: DateTime<Utc>,
    pub until: DateTime<Utc>,
    pub campaign_id: Option<CampaignId>,
    pub bot_id: Option<BotId>,
    pub bucket: Bucket,
}

/// Answering-machine figures over the calls of a range, with the evidence of wrong verdicts.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct AmdCounts {
    /// Answered calls that were not machines (people, as far as any check knew).
    pub people: i64,
    /// Machines the carrier's check caught (never given to a worker).
    pub carrier_machines: i64,
    /// Machines the bot's own check caught.
    pub bot_machines: i64,
    /// False-negative evidence: passed on as a person, and a voicemail greeting was heard.
    pub machine_taken_for_person: i64,
    /// False-positive evidence: a machine verdict with no message left, and the number called
    /// back within 24 hours.
    pub callbacks_after_machine: i64,
}

/// Counts over a set of calls; rates are derived from them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ReportCounts {
    /// Call attempts (dials and inbound calls).
    pub calls: i64,
    /// Answered by a human or a machine.
    pub answered: i64,
    pub machine: i64,
    /// Answered but dropped before a worker took it.
    pub abandoned: i64,
    /// Conversations that ran to an end.
    pub completed: i64,
    /// Total talk time of completed conversations, in milliseconds.
    pub talk_ms: i64,
}

impl std::ops::Add<&ReportCounts> for ReportCounts {
    type Output = ReportCounts;

    fn add(self, other: &ReportCounts) -> ReportCounts {
        ReportCounts {
            calls: self.calls + other.calls,
            answered: self.answered + other.answered,
            machine: self.machine + other.machine,
            abandoned: self.abandoned + other.abandoned,
            completed: self.completed + other.completed,
            talk_ms: self.talk_ms + other.talk_ms,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReportBucket {
    pub start: DateTime<Utc>,
    pub counts: ReportCounts,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallReport {
    pub totals: ReportCounts,
    pub buckets: Vec<ReportBucket>,
    /// Dispositions by count, most frequent first.
    pub dispositions: Vec<(String, i64)>,
}
