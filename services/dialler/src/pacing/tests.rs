//! Tests of the pacer's decisions on hand-built snapshots and histories.

use super::*;

/// A pacer aiming at 2 % that has seen `humans` human answers out of four times as many dials
/// (25 % human, answered 9 s after the dial; the rest unanswered at 30 s) and conversations of
/// about 120 s.
fn seasoned(humans: usize) -> Pacer {
    let mut p = Pacer::new(PacingConfig {
        abandon_target: 0.02,
        ..PacingConfig::default()
    });
    for i in 0..humans {
        p.history.record_dial(i as f64, 9.0, Resolution::Human);
        p.history.record_dial(i as f64, 25.0, Resolution::Machine);
        p.history
            .record_dial(i as f64, 30.0, Resolution::Unanswered);
        p.history.record_dial(i as f64, 4.0, Resolution::Unanswered);
        p.history.record_human(i as f64, false);
        p.history.record_conversation(60.0 + (i % 5) as f64 * 30.0);
    }
    p
}

fn snapshot<'a>(slots: f64, free: f64, busy: &'a [f64], ringing: &'a [f64]) -> Snapshot<'a> {
    Snapshot {
        slots,
        free,
        busy,
        ringing,
        screening: 0,
        waiting: 0,
        headroom: 1_000,
    }
}

#[test]
fn progressive_dials_one_per_free_slot_less_calls_already_on_their_way() {
    let mut p = Pacer::new(PacingConfig {
        mode: Mode::Progressive,
        ..PacingConfig::default()
    });
    let mut s = snapshot(10.0, 5.0, &[1.0; 5], &[2.0, 3.0]);
    s.waiting = 1;
    let d = p.decide(0.0, &s);
    assert_eq!((d.dials, d.applied), (2, Applied::Progressive));
}

#[test]
fn predictive_dials_progressively_until_it_has_seen_enough_human_answers() {
    let mut p = seasoned(10);
    let d = p.decide(100.0, &snapshot(10.0, 4.0, &[30.0; 6], &[]));
    assert_eq!((d.dials, d.applied), (4, Applied::WarmingUp));
}

#[test]
fn predictive_dials_several_calls_per_free_slot_once_it_knows_the_answer_rate() {
    let mut p = seasoned(200);
    let d = p.decide(1_000.0, &snapshot(50.0, 10.0, &[30.0; 40], &[]));
    assert_eq!(d.applied, Applied::Predictive);
    // A quarter of dials become humans: ten free slots take more than ten dials, up to the
    // dials expected to bring 3 % of 50 slots' worth of humans (1.5 humans: 6 dials) more.
    assert_eq!(d.dials, 16, "{d:?}");
    assert!(d.expected_overflow <= d.alpha * d.dials as f64, "{d:?}");
}

#[test]
fn a_decision_dials_at_most_a_step_of_humans_beyond_progressive() {
    let mut p = seasoned(200);
    p.config.max_step = 0.02;
    let d = p.decide(1_000.0, &snapshot(50.0, 10.0, &[30.0; 40], &[]));
    // One human's worth (4 dials at a quarter human) beyond the 10 progressive dials.
    assert_eq!(d.dials, 14, "{d:?}");
}

#[test]
fn predictive_counts_ringing_calls_as_demand_to_come() {
    let mut p = seasoned(200);
    let idle = p
        .decide(1_000.0, &snapshot(50.0, 10.0, &[30.0; 40], &[]))
        .dials;
    let ringing = [1.0; 20];
    let busy_line = p
        .decide(1_000.0, &snapshot(50.0, 10.0, &[30.0; 40], &ringing))
        .dials;
    assert!(busy_line < idle, "{busy_line} vs {idle}");
}

#[test]
fn predictive_places_nothing_while_answered_calls_wait_and_no_slot_is_about_to_free() {
    let mut p = seasoned(200);
    let mut s = snapshot(50.0, 0.0, &[5.0; 50], &[]);
    s.waiting = 3;
    let d = p.decide(1_000.0, &s);
    assert_eq!(d.dials, 0, "{d:?}");
}

#[test]
fn every_mode_respects_the_headroom() {
    let mut p = seasoned(200);
    let mut s = snapshot(50.0, 50.0, &[], &[]);
    s.headroom = 3;
    assert_eq!(p.decide(1_000.0, &s).dials, 3);
    p.config.mode = Mode::FixedRatio { level: 2.0 };
    assert_eq!(p.decide(1_000.0, &s).dials, 3);
    p.config.mode = Mode::Progressive;
    assert_eq!(p.decide(1_000.0, &s).dials, 3);
}

#[test]
fn fixed_ratio_keeps_level_times_slots_dialling_or_talking() {
    let mut p = Pacer::new(PacingConfig {
        mode: Mode::FixedRatio { level: 1.5 },
        ..PacingConfig::default()
    });
    let d = p.decide(0.0, &snapshot(10.0, 2.0, &[10.0; 8], &[1.0, 2.0, 3.0]));
    // 15 engaged wanted, 11 engaged now.
    assert_eq!((d.dials, d.applied), (4, Applied::FixedRatio));
}

#[test]
fn the_legal_guard_falls_back_to_progressive_as_the_window_nears_its_cap() {
    let mut p = seasoned(200);
    // 200 humans so far, none abandoned: add abandons up to 2.8 % of the window (cap 3 %).
    for _ in 0..6 {
        p.history.record_human(500.0, true);
    }
    let d = p.decide(1_000.0, &snapshot(50.0, 10.0, &[30.0; 40], &[]));
    assert_eq!((d.dials, d.applied), (10, Applied::LegalGuard));
}

#[test]
fn the_aim_tapers_as_the_legal_window_climbs_toward_the_guard() {
    let mut p = seasoned(200);
    // 5 abandons in 205 humans is 2.44 %: between the taper's start (70 % of 3 %) and the guard
    // (95 %), so the pacer aims at (2.85 − 2.44) / (2.85 − 2.1) of its target.
    for _ in 0..5 {
        p.history.record_human(500.0, true);
    }
    let d = p.decide(1_000.0, &snapshot(50.0, 10.0, &[30.0; 40], &[]));
    assert_eq!(d.applied, Applied::Predictive);
    let rate = 5.0 / 205.0;
    let expected = 0.02 * (0.0285 - rate) / (0.0285 - 0.021);
    assert!((d.alpha - expected).abs() < 1e-9, "{d:?} vs {expected}");
    let calm = seasoned(200).decide(1_000.0, &snapshot(50.0, 10.0, &[30.0; 40], &[]));
    assert!((calm.alpha - 0.02).abs() < 1e-12, "{calm:?}");
}

#[test]
fn feedback_lowers_the_target_when_abandons_run_above_it_and_raises_it_when_below() {
    let mut hot = seasoned(200);
    let s = snapshot(50.0, 10.0, &[30.0; 40], &[]);
    hot.decide(1_000.0, &s);
    for i in 0..5 {
        hot.history.record_human(1_010.0 + f64::from(i), true);
    }
    // 5 of 205 recent answers abandoned is 2.4 %: above the 2 % target, under the legal guard.
    hot.decide(1_061.0, &s);
    assert!(hot.k() < 1.0, "{}", hot.k());

    let mut cool = seasoned(200);
    cool.decide(1_000.0, &s);
    cool.decide(1_061.0, &s);
    assert!(cool.k() > 1.0, "{}", cool.k());
}

#[test]
fn small_pools_aim_below_the_target() {
    let mut small = seasoned(200);
    let d = small.decide(1_000.0, &snapshot(10.0, 2.0, &[30.0; 8], &[]));
    assert!((d.alpha - 0.015).abs() < 1e-12, "{d:?}");
    let d = small.decide(1_000.0, &snapshot(50.0, 2.0, &[30.0; 48], &[]));
    assert!((d.alpha - 0.02).abs() < 1e-12, "{d:?}");
}

#[test]
fn an_hour_that_has_spent_its_abandons_is_dialled_progressively_until_the_next_clock_hour() {
    let mut p = seasoned(200);
    // Only the hour's rule is under test here, not the legal window's.
    p.config.legal_cap = 1.0;
    for _ in 0..30 {
        p.history.record_human(900.0, true);
    }
    let busy = [30.0; 40];
    let d = p.decide(1_000.0, &snapshot(50.0, 10.0, &busy, &[]));
    assert_eq!((d.dials, d.applied), (10, Applied::HourGuard));
    // A new clock hour starts with its whole allowance.
    let d = p.decide(3_700.0, &snapshot(50.0, 10.0, &busy, &[]));
    assert_eq!(d.applied, Applied::Predictive, "{d:?}");
}

#[test]
fn a_pool_of_calls_about_to_end_may_dial_more_than_a_step_in_one_decision() {
    let mut p = seasoned(200);
    // Every slot busy with a call 170 s old, when conversations last 60–180 s: most free within
    // H, many more than the 3 % step's 1.5 humans (6 dials).
    let d = p.decide(1_000.0, &snapshot(50.0, 0.0, &[170.0; 50], &[]));
    assert_eq!(d.applied, Applied::Predictive);
    assert!(d.dials > 6, "{d:?}");
}
