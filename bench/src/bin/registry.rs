//! Capacity registry benchmark.
//!
//! Reservations per second and reserve latency (p50, p99) with 1,000 registered slots and 8
//! concurrent reservers, on Redis and in-process (the baseline), plus a bare Redis round trip for
//! scale.
//!
//! Each reserver loops reserve → release for `--seconds`, timing the reserve; a ledger checks that
//! no worker ever holds more grants than slots. Redis is Debian's `redis-server`, started here on
//! a free loopback port (or `--redis URL`). Ratios are against the in-process run in this process.

use clap::Parser;
use registry::{Claimant, InProcess, RedisRegistry, Registry, WorkerInfo};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Capacity registry reservations per second and latency, on Redis and in-process.
#[derive(Debug, Parser)]
struct Args {
    /// Workers to register (each with `--slots`).
    #[arg(long, default_value_t = 250)]
    workers: u32,
    #[arg(long, default_value_t = 4)]
    slots: u32,
    /// Concurrent reservers.
    #[arg(long, default_value_t = 8)]
    reservers: usize,
    /// Seconds each run lasts.
    #[arg(long, default_value_t = 5.0)]
    seconds: f64,
    /// A Redis to use instead of starting one (`redis://127.0.0.1:6379/`).
    #[arg(long)]
    redis: Option<String>,
}

const T0: u64 = 1_800_000_000_000;

struct Run {
    reservations: usize,
    refusals: usize,
    latencies: Vec<Duration>,
    elapsed: Duration,
}

impl Run {
    fn per_second(&self) -> f64 {
        self.reservations as f64 / self.elapsed.as_secs_f64()
    }
}

/// Where each reserver gets its registry: all share one, or each has its own connection.
type Connect = Arc<
    dyn Fn() -> futures_util::future::BoxFuture<'static, anyhow::Result<Arc<dyn Registry>>>
        + Send
        + Sync,
>;

async fn run(
    registry: Arc<dyn Registry>,
    own: Option<Connect>,
    args: &Args,
) -> anyhow::Result<Run> {
    for i in 0..args.workers {
        let worker = WorkerInfo {
            worker_id: format!("w{i:04}"),
            url: format!("http://fleet-{}/w/{i}", i % 8),
            host: format!("fleet-{}", i % 8),
            slots: args.slots,
            busy: 0,
        };
        registry.heartbeat(&worker, 3_600_000, T0).await?;
    }
    let ledger: Arc<parking_lot::Mutex<HashMap<String, u32>>> = Arc::default();
    let deadline = Instant::now() + Duration::from_secs_f64(args.seconds);
    let started = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for task in 0..args.reservers {
        let registry = match &own {
            Some(connect) => connect().await?,
            None => registry.clone(),
        };
        let ledger = ledger.clone();
        let slots = args.slots;
        tasks.spawn(async move {
            let mut latencies = Vec::new();
            let mut refusals = 0;
            let claimant = Claimant {
                campaign: Some(format!("c{}", task % 4)),
                client: Some("bench".into()),
            };
            let mut n = 0u64;
            while Instant::now() < deadline {
                n += 1;
                let id = format!("r{task}-{n}");
                let at = Instant::now();
                let answer = registry.reserve(&id, &claimant, 10_000, T0 + n).await?;
                latencies.push(at.elapsed());
                match answer {
                    Ok(slot) => {
                        {
                            let mut ledger = ledger.lock();
                            let held = ledger.entry(slot.worker_id.clone()).or_default();
                            *held += 1;
                            anyhow::ensure!(*held <= slots, "{} double-booked", slot.worker_id);
                            *held -= 1;
                        }
                        registry.release(&id).await?;
                    }
                    Err(_) => refusals += 1,
                }
            }
            anyhow::Ok((latencies, refusals))
        });
    }
    let mut all = Run {
        reservations: 0,
        refusals: 0,
        latencies: Vec::new(),
        elapsed: Duration::ZERO,
    };
    while let Some(done) = tasks.join_next().await {
        let (latencies, refusals) = done??;
        all.reservations += latencies.len() - refusals;
        all.refusals += refusals;
        all.latencies.extend(latencies);
    }
    all.elapsed = started.elapsed();
    all.latencies.sort();
    Ok(all)
}

fn report(name: &str, run: &Run, baseline: Option<&Run>) {
    let p = |q: f64| bench::speech::ms(bench::speech::percentile(&run.latencies, q));
    let ratio = baseline.map_or(String::new(), |b| {
        format!(
            " · {:.2}× the in-process rate",
            run.per_second() / b.per_second()
        )
    });
    println!(
        "{name:<21} {:>9.0} reservations/s · reserve p50 {:.3} ms, p99 {:.3} ms · {} refused{ratio}",
        run.per_second(),
        p(0.5),
        p(0.99),
        run.refusals
    );
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    println!(
        "{} workers × {} slots = {} slots, {} reservers, {} s per run",
        args.workers,
        args.slots,
        args.workers * args.slots,
        args.reservers,
        args.seconds
    );
    let (url, _server) = match &args.redis {
        Some(url) => (url.clone(), None),
        None => {
            let server = registry::testing::RedisServer::start();
            (server.url(), Some(server))
        }
    };
    let baseline = run(Arc::new(InProcess::new()), None, &args).await?;
    report("in-process", &baseline, None);
    let redis = RedisRegistry::connect(&url, "bench:reg:").await?;
    let shared = run(Arc::new(redis), None, &args).await?;
    report("redis", &shared, Some(&baseline));
    // The same with a connection per reserver (as separate diallers or routers would have).
    let own_url = url.clone();
    let connect: Connect = Arc::new(move || {
        let url = own_url.clone();
        Box::pin(async move {
            let registry: Arc<dyn Registry> =
                Arc::new(RedisRegistry::connect(&url, "bench:reg2:").await?);
            Ok(registry)
        })
    });
    let first = connect().await?;
    let separate = run(first, Some(connect), &args).await?;
    report("redis, 8 connections", &separate, Some(&baseline));
    // A bare round trip on the same kind of connection, for scale.
    let client = redis::Client::open(url.as_str())?;
    let mut connection = redis::aio::ConnectionManager::new(client).await?;
    let mut pings = Vec::new();
    for _ in 0..2_000 {
        let at = Instant::now();
        let _: String = redis::cmd("PING").query_async(&mut connection).await?;
        pings.push(at.elapsed());
    }
    pings.sort();
    println!(
        "redis PING  p50 {:.3} ms, p99 {:.3} ms (one client, one at a time)",
        bench::speech::ms(bench::speech::percentile(&pings, 0.5)),
        bench::speech::ms(bench::speech::percentile(&pings, 0.99))
    );
    Ok(())
}
