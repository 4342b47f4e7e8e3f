//! Who answers a simulated dial, when, and what they do: the population a campaign's numbers reach.

use crate::persona::PersonaConfig;
use rand::Rng;
use serde::{Deserialize, Serialize};

/// The callees behind a campaign's (or a contact list's) numbers. Shares are of dials; what is
/// left after answer, voicemail, busy and failed rings out unanswered.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Population {
    /// A person answers.
    pub answer: f64,
    /// Voicemail picks up (a machine with a greeting).
    pub voicemail: f64,
    pub busy: f64,
    /// The network fails the call (SIT tone, congestion).
    pub failed: f64,
    /// A person answers after a lognormal ring time with this median and σ (seconds).
    pub ring_median_secs: f64,
    pub ring_sigma: f64,
    /// Voicemail picks up after this many seconds.
    pub voicemail_after_secs: f64,
    pub voicemail_greeting: String,
    /// The carrier reports its machine detection (otherwise the bot must tell).
    pub carrier_amd: bool,
    /// What the person says on picking up, before the bot speaks ("" for nothing).
    pub answer_with: String,
    /// What the person says, one line per turn, after the bot has spoken.
    pub script: Vec<String>,
    /// The person hangs up this long after the call connects, if the bot has not ended it.
    pub hang_up_after_secs: f64,
    /// The person hangs up if no worker is connected this long after answering.
    pub patience_secs: f64,
    /// When the script runs out, an LLM plays the person (who they are, the model to use).
    pub persona: Option<PersonaConfig>,
    /// The share of people who speak over the bot once it has talked `barge_in_after_secs` in
    /// one go, saying `barge_in_line`.
    pub barge_in: f64,
    pub barge_in_after_secs: f64,
    pub barge_in_line: String,
}

impl Default for Population {
    fn default() -> Self {
        Self {
            answer: 0.25,
            voicemail: 0.25,
            busy: 0.08,
            failed: 0.12,
            ring_median_secs: 9.0,
            ring_sigma: 0.5,
            voicemail_after_secs: 22.0,
            voicemail_greeting: "Hi, you have reached Sam. Please leave a message after the tone."
                .to_owned(),
            carrier_amd: true,
            answer_with: "Hello?".to_owned(),
            script: vec![
                "Yes, I would like to book an appointment.".to_owned(),
                "Thank you, goodbye.".to_owned(),
            ],
            hang_up_after_secs: 90.0,
            patience_secs: 10.0,
            persona: None,
            barge_in: 0.0,
            barge_in_after_secs: 1.0,
            barge_in_line: "Sorry, can I just ask something?".to_owned(),
        }
    }
}

/// The populations a simulated carrier reaches: one per campaign, and the default for the rest
/// (a `SIM_POPULATION` file).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Populations {
    pub default: Population,
    /// By campaign id.
    pub campaigns: std::collections::BTreeMap<i64, Population>,
}

impl Populations {
    /// From a JSON file's text (unknown keys refused), each population validated; the error
    /// names the part that is wrong.
    pub fn from_json(text: &str) -> Result<Self, String> {
        let populations: Self = serde_json::from_str(text).map_err(|e| e.to_string())?;
        populations
            .default
            .validate()
            .map_err(|e| format!("default: {e}"))?;
        for (id, population) in &populations.campaigns {
            population
                .validate()
                .map_err(|e| format!("campaigns.{id}: {e}"))?;
        }
        Ok(populations)
    }
}

/// Why a population is unusable.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum PopulationError {
    #[error("{field} must be between 0 and 1, not {value}")]
    Share { field: &'static str, value: f64 },
    #[error("answer + voicemail + busy + failed is {0}, over 1")]
    Total(f64),
    #[error("{field} must be positive, not {value}")]
    Positive { field: &'static str, value: f64 },
}

fn uniform<R: Rng + ?Sized>(rng: &mut R, lo: f64, hi: f64) -> f64 {
    lo + (hi - lo) * rng.random::<f64>()
}

/// What happens to one dial.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Fate {
    /// A person answers after `after` seconds of ringing.
    Person {
        after: f64,
    },
    Voicemail {
        after: f64,
    },
    Busy {
        after: f64,
    },
    Failed {
        after: f64,
    },
    /// Rings until the ring timeout.
    NoAnswer,
}

impl Population {
    /// What a person who answered does on the line: say hello (when they do), the script, then
    /// the persona; speak over the bot once if the draw `u` (uniform in `[0, 1)`) says so.
    /// What an answering machine does: its greeting at once, the beep, then silence until it
    /// hangs up (at most 30 s).
    pub fn voicemail_part(&self) -> crate::callee::Part {
        crate::callee::Part {
            lines: vec![self.voicemail_greeting.clone()],
            speak_first: true,
            beep: true,
            hang_up_after: std::time::Duration::from_secs_f64(self.hang_up_after_secs.min(30.0)),
            persona: None,
            barge_in: None,
        }
    }

    pub fn person_part(
        &self,
        persona: Option<std::sync::Arc<crate::Persona>>,
        u: f64,
    ) -> crate::callee::Part {
        let answer = self.answer_with.trim();
        let mut lines = Vec::new();
        if !answer.is_empty() {
            lines.push(self.answer_with.clone());
        }
        lines.extend(self.script.iter().cloned());
        crate::callee::Part {
            speak_first: !answer.is_empty(),
            lines,
            beep: false,
            hang_up_after: std::time::Duration::from_secs_f64(self.hang_up_after_secs),
            persona,
            barge_in: (u < self.barge_in).then(|| {
                (
                    std::time::Duration::from_secs_f64(self.barge_in_after_secs),
                    self.barge_in_line.clone(),
                )
            }),
        }
    }

    /// A population from a JSON file's text (unknown keys refused), validated.
    pub fn from_json(text: &str) -> Result<Self, String> {
        let population: Self = serde_json::from_str(text).map_err(|e| e.to_string())?;
        population.validate().map_err(|e| e.to_string())?;
        Ok(population)
    }

    pub fn validate(&self) -> Result<(), PopulationError> {
        for (field, value) in [
            ("answer", self.answer),
            ("voicemail", self.voicemail),
            ("busy", self.busy),
            ("failed", self.failed),
            ("barge_in", self.barge_in),
        ] {
            if !(0.0..=1.0).contains(&value) {
                return Err(PopulationError::Share { field, value });
            }
        }
        let total = self.answer + self.voicemail + self.busy + self.failed;
        if total > 1.0 + 1e-9 {
            return Err(PopulationError::Total(total));
        }
        for (field, value) in [
            ("ring_median_secs", self.ring_median_secs),
            ("voicemail_after_secs", self.voicemail_after_secs),
            ("hang_up_after_secs", self.hang_up_after_secs),
            ("patience_secs", self.patience_secs),
            ("barge_in_after_secs", self.barge_in_after_secs),
        ] {
            if value.is_nan() || value <= 0.0 {
                return Err(PopulationError::Positive { field, value });
            }
        }
        Ok(())
    }

    /// Draws one dial's fate; a person or voicemail later than `ring_timeout` never answers.
    pub fn draw(&self, rng: &mut impl Rng, ring_timeout: f64) -> Fate {
        let u: f64 = rng.random();
        let fate = if u < self.answer {
            // Box–Muller for the lognormal ring time.
            let (u1, u2): (f64, f64) = (rng.random::<f64>().max(f64::MIN_POSITIVE), rng.random());
            let z = (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos();
            Fate::Person {
                after: self.ring_median_secs * (self.ring_sigma * z).exp(),
            }
        } else if u < self.answer + self.voicemail {
            Fate::Voicemail {
                after: self.voicemail_after_secs * uniform(rng, 0.8, 1.2),
            }
        } else if u < self.answer + self.voicemail + self.busy {
            Fate::Busy {
                after: uniform(rng, 2.0, 6.0),
            }
        } else if u < self.answer + self.voicemail + self.busy + self.failed {
            Fate::Failed {
                after: uniform(rng, 1.0, 4.0),
            }
        } else {
            Fate::NoAnswer
        };
        match fate {
            Fate::Person { after } | Fate::Voicemail { after } if after >= ring_timeout => {
                Fate::NoAnswer
            }
            other => other,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand::rngs::StdRng;

    #[test]
    fn draws_follow_the_population_shares() {
        let p = Population::default();
        let mut rng = StdRng::seed_from_u64(7);
        let n = 20_000;
        let (mut people, mut busy, mut none) = (0, 0, 0);
        for _ in 0..n {
            match p.draw(&mut rng, 30.0) {
                Fate::Person { after } => {
                    assert!(after < 30.0);
                    people += 1;
                }
                Fate::Busy { .. } => busy += 1,
                Fate::NoAnswer => none += 1,
                _ => {}
            }
        }
        let share = |k: i32| f64::from(k) / f64::from(n);
        assert!((share(people) - 0.25).abs() < 0.015, "{}", share(people));
        assert!((share(busy) - 0.08).abs() < 0.01, "{}", share(busy));
        assert!((share(none) - 0.30).abs() < 0.015, "{}", share(none));
    }

    #[test]
    fn a_late_answer_is_no_answer() {
        let p = Population {
            answer: 1.0,
            voicemail: 0.0,
            busy: 0.0,
            failed: 0.0,
            ring_median_secs: 60.0,
            ring_sigma: 0.01,
            ..Population::default()
        };
        let mut rng = StdRng::seed_from_u64(1);
        assert_eq!(p.draw(&mut rng, 30.0), Fate::NoAnswer);
    }

    #[test]
    fn a_populations_file_names_the_campaign_whose_population_is_wrong() {
        let ok = Populations::from_json(
            r#"{"default": {"answer": 0.3}, "campaigns": {"7": {"answer": 0.5, "carrier_amd": false}}}"#,
        )
        .unwrap();
        assert_eq!(ok.default.answer, 0.3);
        assert!(!ok.campaigns[&7].carrier_amd);
        let bad = Populations::from_json(r#"{"campaigns": {"7": {"answer": 0.9, "busy": 0.5}}}"#)
            .unwrap_err();
        assert!(bad.starts_with("campaigns.7:"), "{bad}");
        let unknown = Populations::from_json(r#"{"defaults": {}}"#).unwrap_err();
        assert!(unknown.contains("defaults"), "{unknown}");
    }

    #[test]
    fn shares_over_one_are_refused_with_the_total() {
        let p = Population {
            answer: 0.9,
            busy: 0.5,
            ..Population::default()
        };
        assert!(matches!(p.validate(), Err(PopulationError::Total(t)) if t > 1.0));
        let p = Population {
            patience_secs: 0.0,
            ..Population::default()
        };
        assert_eq!(
            p.validate(),
            Err(PopulationError::Positive {
                field: "patience_secs",
                value: 0.0
            })
        );
    }
}
