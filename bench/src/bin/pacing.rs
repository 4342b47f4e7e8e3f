//! Benchmark: the production pacer against the best compliant fixed ratio, on a workload family.
//!
//! Every workload of `bench/workloads/*.toml` (`pacing.md`'s W1, W2, W3, W5 and the populations
//! that found the pacer's faults) and a seeded random sweep of new ones (`pacing_sim::family`)
//! run, at each of their pool sizes, in the deterministic discrete-event simulation of
//! `pacing.md`, on the same random streams for every policy:
//!
//! - **vox**: `dialler::pacing::Pacer`, the production code, in its predictive mode at its
//!   default: a campaign's 3 % target, aimed at no more than 85 % of the 3 % cap;
//! - **progressive**: the same pacer dialling one call per free slot, the baseline of the ratios;
//! - **the best compliant fixed ratio**: the highest VICIdial RATIO level that keeps the rule on
//!   every seed, found per workload and pool (`judge::best_ratio`);
//! - **VICIdial-like**: a model of `AST_VDadapt.pl`'s adaptive level, max 3, HARD_LIMIT 3 %.
//!
//! The rule: every run ≤ 3 % abandon and every clock hour ≤ 5 %, for each campaign, and no
//! compliant fixed ratio beats vox's utilisation by more than 0.01. A last line counts the workloads where vox is
//! beaten and where it broke a limit; then W1's "very good" anchors.

use anyhow::Context;
use bench::pacing_sim::judge::{self, HOUR_CAP, Judged, RUN_CAP};
use bench::pacing_sim::workload::Workload;
use bench::pacing_sim::{Policy, Vicidial, family};
use clap::Parser;
use dialler::pacing::{Mode, PacingConfig};
use std::path::PathBuf;
use std::time::Instant;

/// The production pacer against the best compliant fixed ratio, on a family of workloads.
#[derive(Debug, Parser)]
struct Args {
    /// The directory of workload files.
    #[arg(long, default_value = concat!(env!("CARGO_MANIFEST_DIR"), "/workloads"))]
    workloads: PathBuf,
    /// Only the named workloads (comma-separated; empty: all).
    #[arg(long, default_value = "")]
    only: String,
    /// Random workloads drawn for the sweep.
    #[arg(long, default_value_t = 12)]
    sweep: usize,
    /// The sweep's seed; a new one every run unless given.
    #[arg(long)]
    sweep_seed: Option<u64>,
    /// Seeds per pool of 20 slots or fewer (their abandon rates are noisy), and per larger pool.
    #[arg(long, default_value_t = 6)]
    small_seeds: u64,
    #[arg(long, default_value_t = 2)]
    seeds: u64,
    /// Simulated hours per run instead of each workload's own (a quicker look).
    #[arg(long)]
    hours: Option<f64>,
    /// Only these pool sizes of the named workloads (comma-separated; empty: each one's own).
    #[arg(long, default_value = "")]
    pools: String,
    /// Run vox alone, without progressive, the ratio search or VICIdial-like (a quicker look
    /// while changing the pacer; nothing is judged against a ratio).
    #[arg(long)]
    vox_only: bool,
    /// Print each drawn workload as TOML (to keep one in `bench/workloads/`).
    #[arg(long)]
    print_draws: bool,
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

fn cell(j: &Judged) -> String {
    let (run, hour) = j.worst();
    format!("{:.3} / {} / {}", j.util(), percent(run), percent(hour))
}

/// One workload at one pool size, every policy.
struct Row {
    workload: String,
    slots: usize,
    vox: Judged,
    progressive: Judged,
    level: f64,
    ratio: Judged,
    vicidial: Judged,
}

impl Row {
    fn run(w: &Workload, slots: usize, seeds: &[u64], vox_only: bool) -> Self {
        let vox = judge::judge(
            w,
            &Policy::Pacer(PacingConfig::default()),
            slots,
            seeds,
            false,
        );
        if vox_only {
            return Self {
                workload: w.name.clone(),
                slots,
                vox,
                progressive: Judged::default(),
                level: 0.0,
                ratio: Judged::default(),
                vicidial: Judged::default(),
            };
        }
        let progressive = judge::judge(
            w,
            &Policy::Pacer(PacingConfig {
                mode: Mode::Progressive,
                ..PacingConfig::default()
            }),
            slots,
            seeds,
            false,
        );
        let (level, ratio) = judge::best_ratio(w, slots, seeds);
        let vicidial = judge::judge(
            w,
            &Policy::Vicidial(Vicidial::new(3.0)),
            slots,
            seeds,
            false,
        );
        Self {
            workload: w.name.clone(),
            slots,
            vox,
            progressive,
            level,
            ratio,
            vicidial,
        }
    }

    fn beaten_by(&self) -> f64 {
        self.ratio.util() - self.vox.util()
    }

    fn verdict(&self) -> String {
        let mut v = Vec::new();
        if !self.vox.complies() {
            let (run, hour) = self.vox.worst();
            v.push(format!(
                "**limit broken** (run {} > {} or hour {} > {})",
                percent(run),
                percent(RUN_CAP),
                percent(hour),
                percent(HOUR_CAP)
            ));
        }
        if self.beaten_by() > 0.01 {
            v.push(format!("**beaten by {:.3}**", self.beaten_by()));
        }
        if v.is_empty() {
            "ok".into()
        } else {
            v.join(", ")
        }
    }

    fn print(&self) {
        // `--vox-only` runs none of the others: their columns say so rather than compare with
        // nothing.
        if self.progressive.outcomes.is_empty() {
            let verdict = if self.vox.complies() {
                "(vox only)".to_owned()
            } else {
                self.verdict()
            };
            println!(
                "| {} | {} | {} | — | — | — | — | {verdict} |",
                self.workload,
                self.slots,
                cell(&self.vox)
            );
            return;
        }
        let base = self.progressive.util().max(1e-9);
        println!(
            "| {} | {} | {} | ×{:.2} | {:.3}: {} | {} | {:+.3} | {} |",
            self.workload,
            self.slots,
            cell(&self.vox),
            self.vox.util() / base,
            self.level,
            cell(&self.ratio),
            cell(&self.vicidial),
            self.vox.util() - self.ratio.util(),
            self.verdict()
        );
    }
}

fn header() {
    println!(
        "| workload | N | vox: util / worst run / worst hour | vox ÷ progressive | best compliant ratio: level: util / run / hour | VICIdial-like max 3 | vox − ratio | verdict |"
    );
    println!("|---|---|---|---|---|---|---|---|");
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let started = Instant::now();
    let mut named = Workload::load_dir(&args.workloads).map_err(anyhow::Error::msg)?;
    if !args.only.is_empty() {
        let only: Vec<&str> = args.only.split(',').map(str::trim).collect();
        for name in &only {
            anyhow::ensure!(
                named.iter().any(|w| w.name == *name),
                "no workload is named {name:?} in {}",
                args.workloads.display()
            );
        }
        named.retain(|w| only.contains(&w.name.as_str()));
    }
    let pools: Vec<usize> = args
        .pools
        .split(',')
        .filter(|p| !p.trim().is_empty())
        .map(|p| p.trim().parse().context("--pools lists pool sizes"))
        .collect::<anyhow::Result<_>>()?;
    for w in &mut named {
        if !pools.is_empty() {
            w.pools.retain(|p| pools.contains(p));
        }
        if let Some(h) = args.hours {
            w.hours = h;
        }
    }
    let sweep_seed = args.sweep_seed.unwrap_or_else(|| {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(1, |d| d.as_secs())
    });
    let drawn: Vec<Workload> = (0..args.sweep)
        .map(|i| {
            let mut w = family::draw(sweep_seed, i);
            if let Some(h) = args.hours {
                w.hours = h;
            }
            w
        })
        .collect();
    let seeds_for = |slots: usize| -> Vec<u64> {
        let n = if slots <= 20 {
            args.small_seeds
        } else {
            args.seeds
        };
        (1..=n).collect()
    };
    println!(
        "Rule: every run ≤ {} abandon, every clock hour ≤ {}, no compliant fixed ratio more than 0.010 above vox's utilisation. util is the mean over seeds; run and hour are the worst seed's, of its worst campaign. Seeds: {} for pools of 20 or fewer, {} above.\n",
        percent(RUN_CAP),
        percent(HOUR_CAP),
        args.small_seeds,
        args.seeds
    );
    let mut rows = Vec::new();
    println!("### Named workloads (`bench/workloads/`)\n");
    header();
    for w in &named {
        for &slots in &w.pools {
            let row = Row::run(w, slots, &seeds_for(slots), args.vox_only);
            row.print();
            rows.push(row);
        }
    }
    println!(
        "\n### Sweep: {} workloads drawn with seed {sweep_seed}\n",
        drawn.len()
    );
    header();
    for w in &drawn {
        let row = Row::run(w, w.pools[0], &seeds_for(w.pools[0]), args.vox_only);
        row.print();
        rows.push(row);
    }
    println!("\nThe drawn workloads (reproduce with `--sweep-seed {sweep_seed}`):\n");
    for w in &drawn {
        let shapes: Vec<String> = w
            .campaigns
            .iter()
            .map(|c| {
                format!(
                    "{:.0} % human, {:.0} s (CV {}), {:?}",
                    c.human * 100.0,
                    c.handle_mean,
                    c.handle_cv,
                    c.trend
                )
            })
            .collect();
        println!("- {}: {} slots; {}", w.name, w.pools[0], shapes.join(" + "));
        if args.print_draws {
            println!(
                "\n```toml\n{}```\n",
                toml::to_string(w).context("a draw as TOML")?
            );
        }
    }
    let beaten = rows.iter().filter(|r| r.beaten_by() > 0.01).count();
    let broken = rows.iter().filter(|r| !r.vox.complies()).count();
    println!(
        "\nSummary: {} workload × pool cells; vox beaten by a compliant fixed ratio in {beaten}, a limit broken in {broken} (goal: 0 and 0).",
        rows.len()
    );
    let anchors = [(10, 0.78), (50, 0.90), (200, 0.95)];
    for row in rows.iter().filter(|r| r.workload == "W1") {
        let Some((_, anchor)) = anchors.iter().find(|a| a.0 == row.slots) else {
            continue;
        };
        let (run, hour) = row.vox.worst();
        println!(
            "W1 anchor N={}: util {:.3} vs ≥ {anchor} with every run ≤ 3 % ({}) and hour ≤ 5 % ({}): {}",
            row.slots,
            row.vox.util(),
            percent(run),
            percent(hour),
            if row.vox.util() >= *anchor && row.vox.complies() {
                "met"
            } else {
                "NOT met"
            }
        );
    }
    println!("\nvox in detail (means over seeds):\n");
    println!(
        "| workload | N | true abandon | observed abandon | AMD false-negative waste | connects/h | dials/h | wait p99 | Jain |"
    );
    println!("|---|---|---|---|---|---|---|---|---|");
    for r in &rows {
        let v = &r.vox;
        println!(
            "| {} | {} | {} | {} | {} | {:.0} | {:.0} | {:.2} s | {:.3} |",
            r.workload,
            r.slots,
            percent(v.mean(|o| o.abandon)),
            percent(v.mean(|o| o.observed_abandon)),
            percent(v.mean(|o| o.fn_waste)),
            v.mean(|o| o.connects_per_hour),
            v.mean(|o| o.dials_per_hour),
            v.mean(|o| o.wait[2]),
            v.mean(|o| o.jain)
        );
    }
    eprintln!("\n(ran in {:.0} s)", started.elapsed().as_secs_f64());
    Ok(())
}
