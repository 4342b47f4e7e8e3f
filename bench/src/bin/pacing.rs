//! Benchmark: the production pacer against progressive, fixed-ratio and VICIdial-like dialling.
//!
//! All run in the deterministic discrete-event simulation of `pacing.md`, on the same random
//! streams.
//!
//! For each workload (W1, W2, W3 non-stationary, W5 three campaigns sharing a pool) and pool size
//! (10, 50, 200 slots) every policy runs the same seeds (10 for 10 slots, 3 above: the same dial
//! meets the same callee under every policy), 8 simulated hours each. Printed per policy: slot
//! utilisation (human talk), abandon rate over the run and in the worst clock hour, means over
//! seeds, with the progressive baseline's utilisation as the ratio's denominator. Then the detail
//! of the predictive pacer (observed vs true abandon, AMD false-negative waste, customer wait,
//! connects and dials per hour) and the goal check against `pacing.md`'s "very good" anchors.

use bench::pacing_sim::workload::{self, Workload};
use bench::pacing_sim::{Outcome, Policy, Vicidial, run};
use clap::Parser;
use dialler::pacing::{Mode, PacingConfig};
use std::time::Instant;

/// The production pacer against progressive, fixed-ratio and VICIdial-like dialling.
#[derive(Debug, Parser)]
struct Args {
    /// Workloads to run.
    #[arg(long, default_value = "W1,W2,W3,W5")]
    workloads: String,
    /// Pool sizes.
    #[arg(long, default_value = "10,50,200")]
    slots: String,
    /// Simulated hours per run.
    #[arg(long, default_value_t = 8.0)]
    hours: f64,
    /// Seeds for pools of 20 slots or fewer (abandon rates are noisy there), and for the rest.
    #[arg(long, default_value_t = 10)]
    small_seeds: u64,
    #[arg(long, default_value_t = 3)]
    seeds: u64,
}

fn predictive(target: f64) -> Policy {
    Policy::Pacer(PacingConfig {
        abandon_target: target,
        ..PacingConfig::default()
    })
}

fn mode(mode: Mode) -> Policy {
    Policy::Pacer(PacingConfig {
        mode,
        ..PacingConfig::default()
    })
}

fn policies(workload: &str) -> Vec<(String, Policy)> {
    let mut list = vec![("progressive (tick 2 s)".to_owned(), mode(Mode::Progressive))];
    let ratios: &[f64] = match workload {
        "W2" => &[2.0, 2.5, 3.0, 4.0],
        "W5" => &[1.5],
        _ => &[1.2, 1.3, 1.4, 1.5, 1.6, 1.7],
    };
    for &level in ratios {
        list.push((format!("ratio {level}"), mode(Mode::FixedRatio { level })));
    }
    let vici: &[f64] = match workload {
        "W1" => &[1.5, 3.0],
        "W5" => &[],
        _ => &[3.0],
    };
    for &max in vici {
        list.push((
            format!("VICIdial-like HARD, max {max}"),
            Policy::Vicidial(Vicidial::new(max)),
        ));
    }
    let targets: &[f64] = if workload == "W1" {
        &[0.015, 0.02, 0.025]
    } else {
        &[0.02]
    };
    for &t in targets {
        list.push((
            format!("**vox predictive, target {}**", percent(t)),
            predictive(t),
        ));
    }
    list
}

fn percent(x: f64) -> String {
    let p = x * 100.0;
    if p == 0.0 {
        "0".to_owned()
    } else if p < 0.1 {
        format!("{p:.2} %")
    } else {
        format!("{p:.1} %")
    }
}

/// Runs every seed on both cores and averages.
fn averaged(w: &Workload, policy: &Policy, slots: usize, hours: f64, seeds: u64) -> Mean {
    let outcomes: Vec<Outcome> = std::thread::scope(|scope| {
        let handles: Vec<_> = (1..=seeds)
            .map(|seed| scope.spawn(move || run(w, policy, slots, hours, seed)))
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("a simulation panicked"))
            .collect()
    });
    Mean::of(&outcomes)
}

#[derive(Debug, Clone, Default)]
struct Mean {
    runs: usize,
    util: f64,
    util_ci: f64,
    abandon: f64,
    worst: f64,
    observed: f64,
    fn_waste: f64,
    connects: f64,
    dials: f64,
    wait_p99: f64,
    jain: f64,
    per_campaign: Vec<(f64, f64)>,
}

impl Mean {
    fn of(o: &[Outcome]) -> Self {
        let n = o.len() as f64;
        let mean = |f: &dyn Fn(&Outcome) -> f64| o.iter().map(f).sum::<f64>() / n;
        let util = mean(&|x| x.utilisation);
        let sd = (o
            .iter()
            .map(|x| (x.utilisation - util).powi(2))
            .sum::<f64>()
            / (n - 1.0).max(1.0))
        .sqrt();
        let campaigns = o[0].per_campaign.len();
        Self {
            runs: o.len(),
            util,
            util_ci: 1.96 * sd / n.sqrt(),
            abandon: mean(&|x| x.abandon),
            worst: mean(&|x| x.worst_hour),
            observed: mean(&|x| x.observed_abandon),
            fn_waste: mean(&|x| x.fn_waste),
            connects: mean(&|x| x.connects_per_hour),
            dials: mean(&|x| x.dials_per_hour),
            wait_p99: mean(&|x| x.wait[2]),
            jain: mean(&|x| x.jain),
            per_campaign: (0..campaigns)
                .map(|c| {
                    (
                        mean(&|x| x.per_campaign[c].0),
                        mean(&|x| x.per_campaign[c].1),
                    )
                })
                .collect(),
        }
    }

    fn cell(&self) -> String {
        format!(
            "{:.3} / {} / {}",
            self.util,
            percent(self.abandon),
            percent(self.worst)
        )
    }
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let slots: Vec<usize> = args
        .slots
        .split(',')
        .map(|s| s.trim().parse())
        .collect::<Result<_, _>>()?;
    let started = Instant::now();
    for name in args.workloads.split(',').map(str::trim) {
        let w = match name {
            "W1" => workload::w1(),
            "W2" => workload::w2(),
            "W3" => workload::w3(),
            "W5" => workload::w5(),
            other => anyhow::bail!("unknown workload {other:?} (W1, W2, W3, W5)"),
        };
        println!(
            "\n### {name} ({} h per run; util / abandon / worst hour, means over seeds)\n",
            args.hours
        );
        let header: Vec<String> = slots.iter().map(|n| format!("N={n}")).collect();
        println!("| policy | {} | util ÷ progressive |", header.join(" | "));
        println!("|---|{}---|", "---|".repeat(slots.len()));
        let mut baseline: Vec<f64> = Vec::new();
        let mut details = Vec::new();
        for (label, policy) in policies(name) {
            let means: Vec<Mean> = slots
                .iter()
                .map(|&n| {
                    let seeds = if n <= 20 {
                        args.small_seeds
                    } else {
                        args.seeds
                    };
                    averaged(&w, &policy, n, args.hours, seeds)
                })
                .collect();
            if baseline.is_empty() {
                baseline = means.iter().map(|m| m.util).collect();
            }
            let ratios: Vec<String> = means
                .iter()
                .zip(&baseline)
                .map(|(m, b)| format!("×{:.2}", m.util / b))
                .collect();
            let cells: Vec<String> = means.iter().map(Mean::cell).collect();
            println!(
                "| {label} | {} | {} |",
                cells.join(" | "),
                ratios.join(" / ")
            );
            if label.contains("predictive, target 2.0 %") {
                details = means;
            }
        }
        println!("\nvox predictive, target 2 %, in detail:\n");
        println!(
            "| slots | runs | util (95 % CI) | true abandon | observed abandon | FN waste | connects/h | dials/h | wait p99 | Jain | per campaign: talk share / abandon |"
        );
        println!("|---|---|---|---|---|---|---|---|---|---|---|");
        for (n, m) in slots.iter().zip(&details) {
            let total: f64 = m.per_campaign.iter().map(|c| c.0).sum();
            let per: Vec<String> = m
                .per_campaign
                .iter()
                .map(|c| format!("{:.2} / {}", c.0 / total.max(1e-9), percent(c.1)))
                .collect();
            println!(
                "| {n} | {} | {:.3} ± {:.3} | {} | {} | {} | {:.0} | {:.0} | {:.2} s | {:.3} | {} |",
                m.runs,
                m.util,
                m.util_ci,
                percent(m.abandon),
                percent(m.observed),
                percent(m.fn_waste),
                m.connects,
                m.dials,
                m.wait_p99,
                m.jain,
                per.join("; ")
            );
        }
        if name == "W1" {
            println!();
            for (n, m) in slots.iter().zip(&details) {
                let anchor = match n {
                    10 => 0.78,
                    50 => 0.90,
                    200 => 0.95,
                    _ => continue,
                };
                let met = m.util >= anchor && m.abandon <= 0.03 && m.worst <= 0.05;
                println!(
                    "goal N={n}: util {:.3} vs ≥ {anchor}, abandon {} ≤ 3 %, worst hour {} ≤ 5 %: {}",
                    m.util,
                    percent(m.abandon),
                    percent(m.worst),
                    if met { "met" } else { "NOT met" }
                );
            }
        }
    }
    eprintln!("\n(ran in {:.0} s)", started.elapsed().as_secs_f64());
    Ok(())
}
