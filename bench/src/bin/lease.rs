//! Lease benchmark: contacts leased per second by 1, 4 and 8 concurrent leasers.
//!
//! Leasers take batches, on SQLite and PostgreSQL, and the run checks that no contact is leased
//! twice.
//!
//! Each configuration gets a fresh database seeded with the same contacts; leasers loop until the
//! campaign is drained. Ratios are against the 1-leaser run of the same backend in this process.

use anyhow::Context;
use clap::Parser;
use std::collections::HashSet;
use std::time::{Duration, Instant};
use store::LeaseRequest;

/// Contacts leased per second by concurrent leasers, on SQLite and PostgreSQL.
#[derive(Debug, Parser)]
struct Args {
    /// Contacts in the campaign.
    #[arg(long, default_value_t = 100_000)]
    contacts: usize,
    /// Contacts per lease call.
    #[arg(long, default_value_t = 50)]
    batch: u32,
    /// Concurrent leaser counts to run; the first is the baseline.
    #[arg(long, value_delimiter = ',', default_value = "1,4,8")]
    leasers: Vec<usize>,
    /// Admin URL of a PostgreSQL server to benchmark (a database `vox_bench` is created on it).
    #[arg(long, env = "VOX_TEST_DATABASE_URL")]
    postgres: Option<String>,
    /// Skip SQLite.
    #[arg(long)]
    no_sqlite: bool,
}

struct Run {
    leases: usize,
    doubles: usize,
    elapsed: Duration,
}

async fn run(
    db: &bench::BenchDb,
    contacts: usize,
    batch: u32,
    leasers: usize,
) -> anyhow::Result<Run> {
    let campaign = bench::seeded_campaign(&*db.store, contacts).await?;
    let now = chrono::Utc::now();
    let started = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for leaser in 0..leasers {
        let store = db.store.clone();
        tasks.spawn(async move {
            let mut mine = Vec::new();
            loop {
                let leases = store
                    .lease_contacts(LeaseRequest {
                        campaign_id: campaign,
                        owner: format!("bench-{leaser}"),
                        limit: batch,
                        ttl: Duration::from_secs(600),
                        now,
                        fence: None,
                    })
                    .await?;
                if leases.is_empty() {
                    return anyhow::Ok(mine);
                }
                mine.extend(leases.into_iter().map(|lease| lease.contact_id));
            }
        });
    }
    let mut seen = HashSet::with_capacity(contacts);
    let mut leases = 0;
    while let Some(result) = tasks.join_next().await {
        for contact in result.context("leaser task")?? {
            leases += 1;
            seen.insert(contact);
        }
    }
    Ok(Run {
        leases,
        doubles: leases - seen.len(),
        elapsed: started.elapsed(),
    })
}

async fn backend(
    name: &str,
    args: &Args,
    open: impl AsyncFn() -> anyhow::Result<bench::BenchDb>,
) -> anyhow::Result<bool> {
    let mut baseline = None;
    let mut clean = true;
    for &leasers in &args.leasers {
        let db = open().await?;
        let result = run(&db, args.contacts, args.batch, leasers).await?;
        let rate = result.leases as f64 / result.elapsed.as_secs_f64();
        let base = *baseline.get_or_insert(rate);
        clean &= result.doubles == 0 && result.leases == args.contacts;
        println!(
            "{name:<10} leasers={leasers:<2} batch={} leased={:<7} doubles={} elapsed={:>6.2}s  {rate:>9.0} leases/s  x{:.2} vs {} leaser(s)",
            args.batch,
            result.leases,
            result.doubles,
            result.elapsed.as_secs_f64(),
            rate / base,
            args.leasers[0],
        );
    }
    Ok(clean)
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    println!(
        "lease benchmark: {} contacts, batches of {}",
        args.contacts, args.batch
    );
    let mut clean = true;
    if !args.no_sqlite {
        clean &= backend("sqlite", &args, async || bench::sqlite_db().await).await?;
    }
    if let Some(url) = &args.postgres {
        clean &= backend("postgres", &args, async || {
            bench::postgres_db(url, "vox_bench").await
        })
        .await?;
    }
    anyhow::ensure!(clean, "a contact was leased twice or left unleased");
    Ok(())
}
