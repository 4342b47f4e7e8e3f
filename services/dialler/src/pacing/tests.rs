//! Tests of the pacer's decisions on hand-built snapshots and histories.

use super::*;

/// A pacer aiming at 2 % that has seen `humans` human answers out of four times as many dials
/// (25 % human, answered 9 s after the dial; the rest unanswered at 30 s) and conversations of
/// about 120 s, and believes its model unbiased (`k` = 1).
fn seasoned(humans: usize) -> Pacer {
    let mut p = Pacer::new(PacingConfig {
        abandon_target: 0.02,
        bias_prior_k: 1.0,
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
        lent: 0.0,
        shared: false,
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
fn the_legal_window_is_dialled_progressively_once_it_can_afford_no_more_abandons() {
    let mut p = seasoned(200);
    // 20 abandons in 220 people (9 %): even the 440 people the next hour brings at the recent
    // rate, none of them abandoned, would leave the window at the 3 % cap.
    for _ in 0..20 {
        p.history.record_human(500.0, true);
    }
    let d = p.decide(1_000.0, &snapshot(50.0, 10.0, &[30.0; 40], &[]));
    assert_eq!((d.dials, d.applied), (10, Applied::LegalGuard));
}

#[test]
fn the_aim_shrinks_as_the_legal_window_spends_its_allowance() {
    let mut p = seasoned(200);
    // 5 abandons in 205 people is 2.4 %. The next hour brings 410 more (the recent rate), and the
    // window may then hold 3 % of 615, 13.45 more abandons, 6 clumps of two; at α the clumps
    // are about Poisson with mean 410 α / 2, and more than 6 must have under a 0.5 % chance:
    // α = 2 · 2.2 / 410, 1.1 %, under the 2 % target.
    for _ in 0..5 {
        p.history.record_human(500.0, true);
    }
    let d = p.decide(1_000.0, &snapshot(50.0, 10.0, &[30.0; 40], &[]));
    assert_eq!(d.applied, Applied::Predictive);
    let expected = 2.0 * poisson_mean_within(6, 0.005) / 410.0;
    assert!((d.alpha - expected).abs() < 1e-9, "{d:?} vs {expected}");
    assert!(expected < 0.02, "{expected}");
    // Without those abandons the window affords more, though a young window of 600 people
    // cannot afford the whole target either (18 abandons, 9 clumps).
    let calm = seasoned(200).decide(1_000.0, &snapshot(50.0, 10.0, &[30.0; 40], &[]));
    let young = 2.0 * poisson_mean_within(9, 0.005) / 400.0;
    assert!((calm.alpha - young).abs() < 1e-9, "{calm:?} vs {young}");
    assert!(d.alpha < calm.alpha && calm.alpha < 0.02, "{d:?} {calm:?}");
}

#[test]
fn k_is_the_abandons_the_aims_expected_against_those_that_happened() {
    // Only `k` is under test here, not the windows' caps.
    let uncapped = |mut p: Pacer| {
        p.config.legal_cap = 1.0;
        p.config.hour_cap = 1.0;
        p
    };
    let s = snapshot(50.0, 10.0, &[30.0; 40], &[]);
    let mut hot = uncapped(seasoned(200));
    hot.decide(1_000.0, &s);
    // 100 people aimed at 2 % were expected to bring 2 abandons; they brought 10. With the prior
    // of 5 abandons at k = 1: k = (2 + 5) / (10 + 5).
    for i in 0..100 {
        hot.history
            .record_human(1_010.0 + f64::from(i) * 0.1, i < 10);
    }
    hot.decide(1_061.0, &s);
    assert!((hot.k() - 7.0 / 15.0).abs() < 1e-9, "{}", hot.k());

    let mut cool = uncapped(seasoned(200));
    cool.decide(1_000.0, &s);
    for i in 0..100 {
        cool.history
            .record_human(1_010.0 + f64::from(i) * 0.1, false);
    }
    cool.decide(1_061.0, &s);
    assert!((cool.k() - 7.0 / 5.0).abs() < 1e-9, "{}", cool.k());
    // The next aim is corrected by it.
    let d = cool.decide(1_062.0, &s);
    assert!((d.alpha - 0.02 * 7.0 / 5.0).abs() < 1e-9, "{d:?}");
}

#[test]
fn a_new_pacer_starts_cautious_until_its_abandons_say_otherwise() {
    let p = Pacer::new(PacingConfig::default());
    assert_eq!(p.k(), 0.5);
}

#[test]
fn small_pools_aim_below_the_target() {
    let mut small = seasoned(200);
    // Only the target is under test here, not what the windows can afford.
    small.config.legal_cap = 1.0;
    small.config.hour_cap = 1.0;
    let d = small.decide(1_000.0, &snapshot(10.0, 2.0, &[30.0; 8], &[]));
    assert!((d.alpha - 0.015).abs() < 1e-12, "{d:?}");
    let d = small.decide(1_000.0, &snapshot(50.0, 2.0, &[30.0; 48], &[]));
    assert!((d.alpha - 0.02).abs() < 1e-12, "{d:?}");
}

/// What a `seasoned(200)` pacer has learnt of arrivals and holds.
fn learnt() -> (Arrivals, Holds) {
    let p = seasoned(200);
    let prior = LogNormal::from_mean_cv(120.0, 0.8);
    (
        p.history.arrivals(1_000.0),
        p.history.holds(1_000.0, prior, 0),
    )
}

#[test]
fn a_small_pool_counts_its_people_exactly() {
    let (arrivals, holds) = learnt();
    // Four slots, one free, three calls on slots, two dials ringing, and one more dial.
    let busy = [30.0, 60.0, 150.0];
    let ringing = [2.0, 6.0];
    let s = snapshot(4.0, 1.0, &busy, &ringing);
    let (h, grace) = (10.0, 2.0);
    let balance = Balance::at(h, grace, &s, &arrivals, &holds, 0.3);
    assert!(balance.exact.is_some());
    // Every outcome of the six chances, weighed: the people beyond the slots.
    let frees: Vec<f64> = busy
        .iter()
        .map(|&a| holds.ends_within(a, h + grace))
        .collect();
    let mut people: Vec<f64> = ringing
        .iter()
        .map(|&a| arrivals.human_within(a, h))
        .collect();
    people.push(arrivals.human_within(0.0, h));
    let mut want = 0.0;
    for outcome in 0u32..64 {
        let happens = |i: usize| outcome >> i & 1 == 1;
        let chance = |i: usize, p: f64| if happens(i) { p } else { 1.0 - p };
        let weight: f64 = frees
            .iter()
            .chain(&people)
            .enumerate()
            .map(|(i, &p)| chance(i, p))
            .product();
        // Each slot serves `1 + reuse` people: calls of one to three minutes rarely end within
        // the 12 s, but the chance is counted.
        let slots =
            (1 + (0..3).filter(|&i| happens(i)).count()) as f64 * (1.0 + balance.reuse.share);
        let arrived = (3..6).filter(|&i| happens(i)).count() as f64;
        want += weight * (arrived - slots).max(0.0);
    }
    let (got, _) = balance.overflow(1);
    assert!((got - want).abs() < 1e-12, "{got} vs {want}");
    // The normal approximation of the same balance is another number.
    let normal = Balance {
        exact: None,
        ..balance.clone()
    };
    assert!((normal.overflow(1).0 - want).abs() > 1e-4);
}

#[test]
fn a_slot_whose_person_frees_it_again_within_the_look_ahead_serves_another() {
    let (arrivals, _) = learnt();
    let calls = |mean: f64| Holds {
        conversation: LogNormal::from_mean_cv(mean, 0.5),
        machine: None,
    };
    let (short, long) = (calls(10.0), calls(300.0));
    let (h, grace) = (10.0, 2.0);
    // The chance is a mean of the chances of ending within `grace` to `h + grace`, weighed by
    // when the people land: late landers have less time left.
    let landing = |t: f64| arrivals.human_within(0.0, t);
    let reuse = short.freed_again_within(h, grace, landing);
    assert!(short.conversation.cdf(grace) < reuse, "{reuse}");
    assert!(reuse < short.conversation.cdf(h + grace), "{reuse}");
    let early = short.freed_again_within(h, grace, |t| if t > 0.0 { 1.0 } else { 0.0 });
    let late = short.freed_again_within(h, grace, |t| if t >= h { 1.0 } else { 0.0 });
    assert!(late < reuse && reuse < early, "{late} {reuse} {early}");
    assert!(long.freed_again_within(h, grace, landing) < 1e-4);
    // A large pool of short calls overflows less with it than it would without.
    let s = snapshot(200.0, 10.0, &[60.0; 190], &[2.0; 100]);
    let balance = Balance::at(h, grace, &s, &arrivals, &short, 0.3);
    assert!((balance.reuse.share - reuse).abs() < 1e-12);
    let once = Balance {
        reuse: Reuse::default(),
        ..balance.clone()
    };
    let n = 300;
    assert!(balance.overflow(n).0 < 0.9 * once.overflow(n).0);
    // Slots lent by other campaigns serve one person each: all of them lent, no reuse.
    let lent = Balance {
        reuse: Reuse {
            lent: balance.supply,
            ..balance.reuse
        },
        ..balance.clone()
    };
    assert_eq!(lent.overflow(n).0, once.overflow(n).0);
}

#[test]
fn a_large_pool_is_counted_by_the_normal_approximation() {
    let (arrivals, holds) = learnt();
    let s = snapshot(200.0, 10.0, &[60.0; 190], &[2.0; 100]);
    assert!(
        Balance::at(10.0, 2.0, &s, &arrivals, &holds, 0.3)
            .exact
            .is_none()
    );
}

#[test]
fn until_its_conversations_end_a_campaign_counts_on_the_time_its_slots_have_been_held() {
    let mut p = Pacer::new(PacingConfig::default());
    // Nothing on slots: the prior's two minutes.
    assert!((p.handle_prior(&[]).mean() - 120.0).abs() < 1e-6);
    // Fifty calls a hundred seconds old and none ended: 5,000 s held without an end seen, the
    // mean taken as that (as if one had just ended), far longer than the prior's.
    assert!((p.handle_prior(&[100.0; 50]).mean() - 5_000.0).abs() < 1e-6);
    // Thirty 30-second conversations ended: from twenty ended, what they say alone.
    for _ in 0..30 {
        p.history.record_conversation(30.0);
    }
    assert!((p.handle_prior(&[10.0; 10]).mean() - 1_000.0 / 30.0).abs() < 1e-6);
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

#[test]
fn an_hour_of_few_people_allows_next_to_no_abandon_once_it_has_had_one() {
    // A fresh hour of 34 people may have one abandon (5 % of 34 is 1.7): the chance of a
    // second must stay under 0.5 %, so the mean is 0.1035 (e^−m (1 + m) = 0.995).
    let m = poisson_mean_within(1, 0.005);
    assert!((m - 0.1035).abs() < 1e-3, "{m}");
    assert!((allowance(0.05, 0, 0, 34.0, 1.0) - m / 34.0).abs() < 1e-12);
    // Once it has had it, the rest may have none: 1 − e^−m ≤ 0.5 %.
    let after = allowance(0.05, 10, 1, 24.0, 1.0);
    assert!((after - 0.005_012_5 / 24.0).abs() < 1e-6, "{after}");
    // Abandons in clumps of two: an hour of 80 may have 4, two clumps.
    let clumped = allowance(0.05, 0, 0, 80.0, 2.0);
    assert!((clumped - 2.0 * poisson_mean_within(2, 0.005) / 80.0).abs() < 1e-12);
    assert!(clumped < allowance(0.05, 0, 0, 80.0, 1.0));
    // A period over its cap affords nothing, one with no one more to come is unbounded.
    assert_eq!(allowance(0.05, 10, 2, 0.0, 1.0), 0.0);
    assert_eq!(allowance(0.05, 10, 0, 0.0, 1.0), f64::INFINITY);
    // Large periods: the normal approximation takes over where the exact sum stops, and they
    // agree there.
    let (exact, normal) = (
        poisson_mean_within(200, 0.005),
        normal_mean_within(200, 0.005),
    );
    assert!((normal - exact).abs() / exact < 0.01, "{exact} vs {normal}");
    assert_eq!(
        poisson_mean_within(201, 0.005),
        normal_mean_within(201, 0.005)
    );
}

#[test]
fn a_surge_of_people_among_the_newest_dials_is_seen_before_the_cohort_sees_it() {
    // The cohort: a quarter of dials become people 9 s after the dial.
    let newest = |people: usize| {
        let mut p = seasoned(200);
        for i in 0..40 {
            let placed = 860.0 + f64::from(i) * 3.0;
            let (elapsed, resolution) = if (i as usize) < people {
                (9.0, Resolution::Human)
            } else {
                (30.0, Resolution::Unanswered)
            };
            p.history.record_dial(placed, elapsed, resolution);
        }
        p
    };
    let s = snapshot(50.0, 10.0, &[30.0; 40], &[]);
    // 20 of the 40 newest dials reached a person within 15 s, where 10 were expected.
    let hot = newest(20);
    let arrivals = hot.history.arrivals(1_000.0);
    let surge = hot.surge(1_000.0, &s, &arrivals);
    // (The cohort holds most of the 40 too, so its quarter is a little more than a quarter.)
    assert!((1.8..2.0).contains(&surge), "{surge}");
    assert!(
        arrivals.clone().surged(surge).human_within(0.0, 15.0)
            > arrivals.human_within(0.0, 15.0) * 1.8
    );
    // 12 where 10 were expected is noise.
    let calm = newest(12);
    assert_eq!(
        calm.surge(1_000.0, &s, &calm.history.arrivals(1_000.0)),
        1.0
    );
    // Calls of that age still ringing count too: 20 of 80 is the cohort's quarter.
    let ringing = [60.0; 40];
    let s = snapshot(50.0, 10.0, &[30.0; 40], &ringing);
    assert_eq!(hot.surge(1_000.0, &s, &arrivals), 1.0);
}

#[test]
fn a_list_that_turns_warm_is_seen_as_the_first_people_of_its_newest_dials_answer() {
    // The cohort: a quarter of dials become people 9 s after the dial. The list turned warm 15 s
    // ago: of the 13 dials placed since, old enough (9 s or more) to have reached a person, `people`
    // did, where the cohort says 3.25; the 17 younger ones still ring.
    let warm = |people: usize| {
        let mut p = seasoned(200);
        let mut ringing = vec![];
        for i in 0..30 {
            let placed = 985.0 + f64::from(i) * 0.5;
            if (i as usize) < people {
                p.history.record_dial(placed, 9.0, Resolution::Human);
            } else {
                ringing.push(1_000.0 - placed);
            }
        }
        (p, ringing)
    };
    let (hot, ringing) = warm(12);
    let s = snapshot(50.0, 10.0, &[30.0; 40], &ringing);
    let arrivals = hot.history.arrivals(1_000.0);
    // Too young for the look at the dials of the last 150 s, whose people are counted at 15 s.
    assert_eq!(hot.settled_surge(1_000.0, &s, &arrivals), 1.0);
    let surge = hot.surge(1_000.0, &s, &arrivals);
    assert!((surge - 12.0 / 3.25).abs() < 1e-9, "{surge}");
    // Five where 3.25 were expected is noise.
    let (calm, ringing) = warm(5);
    let s = snapshot(50.0, 10.0, &[30.0; 40], &ringing);
    assert_eq!(
        calm.surge(1_000.0, &s, &calm.history.arrivals(1_000.0)),
        1.0
    );
}

#[test]
fn a_campaign_over_its_share_does_not_count_on_the_slots_it_holds_beyond_it() {
    let mut p = seasoned(200);
    // 40 calls near their end: within its share of 40 slots the slots they free take its new
    // people; with a share of 36, four of them are another campaign's; with a share of 5 it holds
    // eight times its share and dials nothing.
    let busy = [170.0; 40];
    let within = p.decide(1_000.0, &snapshot(40.0, 0.0, &busy, &[])).dials;
    let over = p.decide(1_000.0, &snapshot(36.0, 0.0, &busy, &[])).dials;
    let far_over = p.decide(1_000.0, &snapshot(5.0, 0.0, &busy, &[])).dials;
    assert!(within > 0 && over < within, "{over} vs {within}");
    assert_eq!(far_over, 0);
}

#[test]
fn a_campaign_alone_dials_an_hour_one_clump_would_break_progressively_to_its_end() {
    // Twenty people in the last half hour, none yet in this clock hour: the rest of it expects
    // about thirty-six, and 5 % of them is under one clump of two abandons.
    let mut p = seasoned(200);
    for i in 0..20 {
        p.history.record_human(3_000.0 + f64::from(i), false);
    }
    let busy = [30.0; 4];
    let alone = snapshot(10.0, 6.0, &busy, &[]);
    let shared = Snapshot {
        shared: true,
        ..alone
    };
    // It has decided every 30 s for the last half hour.
    for t in (2_200..4_000).step_by(30) {
        p.decide(f64::from(t), &alone);
    }
    let d = p.decide(4_000.0, &alone);
    assert_eq!((d.dials, d.applied), (6, Applied::HourGuard));
    // A campaign sharing its pool is kept by its holds instead.
    assert_eq!(
        p.clone().decide(4_000.0, &shared).applied,
        Applied::Predictive
    );
    // Two hundred more people: the hour could now take clumps, but it stays progressive.
    for i in 0..200 {
        p.history.record_human(3_100.0 + f64::from(i), false);
    }
    assert_eq!(p.decide(5_000.0, &alone).applied, Applied::HourGuard);
    // A pacer that has just started (or resumed) does not judge the hour on a window it was
    // not dialling in.
    let mut fresh = seasoned(200);
    for i in 0..20 {
        fresh.history.record_human(3_000.0 + f64::from(i), false);
    }
    assert_eq!(fresh.decide(4_000.0, &alone).applied, Applied::Predictive);
    // The next clock hour, with as many people to come, is dialled predictively again.
    for i in 0..200 {
        p.history.record_human(6_000.0 + f64::from(i), false);
    }
    for t in (5_000..7_300).step_by(30) {
        p.decide(f64::from(t), &alone);
    }
    assert_eq!(p.decide(7_300.0, &alone).applied, Applied::Predictive);
}

#[test]
fn an_hour_two_clumps_of_abandons_would_break_is_dialled_as_if_a_cold_list_turned_warm_again() {
    // A list whose fourth became people, then a twentieth (the kept dials brought 3.5 times the
    // cohort's people).
    let with_people = |people: usize| {
        let mut p = Pacer::new(PacingConfig::default());
        for i in 0..3_200 {
            let (every, placed) = if i < 2_000 {
                (4, f64::from(i) * 0.5)
            } else {
                (20, 1_000.0 + f64::from(i - 2_000) * 0.5)
            };
            let resolution = if i % every == 0 {
                Resolution::Human
            } else {
                Resolution::Unanswered
            };
            p.history.record_dial(placed, 5.0, resolution);
        }
        // `people` answered in the last half hour: the next hour expects twice as many.
        for i in 0..people {
            p.history.record_human(2_000.0 + i as f64, false);
        }
        p
    };
    let now = 3_600.0;
    // Thirty people in the next hour: 5 % of them is 1.5 abandons, less than two clumps of two.
    let few = with_people(15);
    let arrivals = few.history.arrivals(now);
    assert!((few.cold_spell(now, &arrivals) - 3.5).abs() < 1e-9);
    // Two hundred: the hour can take five clumps, and the cohort is trusted.
    let many = with_people(100);
    assert_eq!(many.cold_spell(now, &many.history.arrivals(now)), 1.0);
}

fn lender(spare: f64, weight: f64, borrows: bool) -> Lender {
    Lender {
        spare,
        weight,
        borrows,
        holds: false,
    }
}

#[test]
fn half_of_a_campaigns_spare_slots_is_lent_to_the_others_by_weight() {
    let lent = lent(&[
        lender(4.0, 1.0, true),
        lender(0.0, 1.0, true),
        lender(0.0, 3.0, true),
    ]);
    // Half of the first one's 4 spare slots, a quarter of it to the second and three to the third.
    assert_eq!(lent, vec![0.0, 0.5, 1.5]);
}

#[test]
fn a_campaign_that_does_not_borrow_is_lent_nothing_and_its_part_is_not_lent_to_others() {
    let lent = lent(&[
        lender(4.0, 1.0, true),
        lender(0.0, 1.0, false),
        lender(2.0, 1.0, true),
    ]);
    // The first is lent a half of the third's half; the third a half of the first's half.
    assert_eq!(lent, vec![0.5, 0.0, 1.0]);
}

#[test]
fn a_campaign_alone_is_lent_nothing() {
    assert_eq!(lent(&[lender(5.0, 1.0, true)]), vec![0.0]);
}

#[test]
fn a_campaign_still_learning_its_list_neither_lends_nor_borrows() {
    let p = seasoned(10);
    let s = snapshot(10.0, 6.0, &[30.0; 4], &[]);
    let offered = p.lender(100.0, &s, 2.0);
    assert!(!offered.borrows && offered.spare == 0.0, "{offered:?}");
}

#[test]
fn a_learnt_campaign_offers_the_free_slots_its_people_to_come_will_not_take() {
    let p = seasoned(200);
    // Six free slots, nothing ringing, and no progressive dial allowed: all six are spare, and
    // its calls that end within the look-ahead add a little.
    let s = Snapshot {
        headroom: 0,
        ..snapshot(10.0, 6.0, &[30.0; 4], &[])
    };
    let offered = p.lender(1_000.0, &s, 1.0);
    assert!(offered.borrows);
    assert!(offered.spare >= 6.0 && offered.spare < 7.0, "{offered:?}");
    // With ten calls ringing, some of its free slots are its own people's.
    let ringing = [2.0; 10];
    let busier = p.lender(
        1_000.0,
        &Snapshot {
            ringing: &ringing,
            ..s
        },
        1.0,
    );
    assert!(busier.spare < offered.spare, "{busier:?}");
}

#[test]
fn a_campaign_whose_hour_two_clumps_of_abandons_would_break_holds_and_neither_lends_nor_borrows() {
    // Twenty people in the last half hour, none yet in this clock hour: the rest of it expects
    // about thirty-six, and 5 % of them is under two abandons.
    let mut p = seasoned(200);
    let now = 4_000.0;
    for i in 0..20 {
        p.history.record_human(3_000.0 + f64::from(i), false);
    }
    let s = snapshot(10.0, 6.0, &[30.0; 4], &[]);
    let offered = p.lender(now, &s, 1.0);
    assert_eq!(
        offered,
        Lender {
            holds: true,
            ..Lender::apart(1.0)
        }
    );
    // Forty more (about a hundred and seven to come): two clumps would not break the hour, five
    // would, and it lends and borrows without holding.
    for i in 0..40 {
        p.history.record_human(3_100.0 + f64::from(i), false);
    }
    let offered = p.lender(now, &s, 1.0);
    assert!(p.thin_hour(now, 5.0), "{offered:?}");
    assert!(offered.borrows && !offered.holds, "{offered:?}");
}

#[test]
fn a_thin_campaign_holds_the_unused_slots_of_its_share_for_its_calls_on_the_way() {
    // A share of 3 with one conversation: two unused, held for at most its calls on the way.
    assert_eq!(held(true, 3.0, 1, 5), 2);
    assert_eq!(held(true, 3.0, 1, 1), 1);
    // A part of a slot unused is a slot a person of its may need.
    assert_eq!(held(true, 2.5, 2, 4), 1);
    // Beyond its share it holds nothing, and a campaign that does not hold holds nothing.
    assert_eq!(held(true, 2.0, 3, 4), 0);
    assert_eq!(held(false, 3.0, 0, 5), 0);
}

#[test]
fn a_person_beyond_her_campaigns_share_may_not_take_a_slot_another_campaign_holds() {
    // One free slot, held by another campaign: not for a person whose campaign has its share...
    assert!(!may_take(1, 3, 3.0, 1));
    // ...but for one within her campaign's share, and for anyone when more are free.
    assert!(may_take(1, 2, 3.0, 1));
    assert!(may_take(2, 3, 3.0, 1));
    // No free slot is no slot.
    assert!(!may_take(0, 0, 3.0, 0));
}

#[test]
fn slots_lent_to_a_campaign_let_it_dial_more() {
    let mut p = seasoned(200);
    let busy = [60.0; 10];
    let alone = p.decide(1_000.0, &snapshot(10.0, 0.0, &busy, &[])).dials;
    let lent = p
        .decide(
            1_000.0,
            &Snapshot {
                lent: 3.0,
                ..snapshot(10.0, 0.0, &busy, &[])
            },
        )
        .dials;
    assert!(lent > alone, "{lent} vs {alone}");
}
