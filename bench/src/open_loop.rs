//! An open-loop HTTP load generator: requests start on schedule, so queueing shows in latencies.

use std::time::{Duration, Instant};

/// The latencies of the requests that succeeded, sorted, and how many did not.
#[derive(Debug)]
pub struct Latencies {
    pub sorted: Vec<Duration>,
    pub errors: usize,
    pub achieved_rate: f64,
}

impl Latencies {
    pub fn percentile(&self, p: f64) -> Duration {
        if self.sorted.is_empty() {
            return Duration::ZERO;
        }
        self.sorted[((self.sorted.len() as f64 - 1.0) * p).round() as usize]
    }
}

/// Offers `rate` requests per second for `seconds`; `request(i)` builds the i-th, and it counts
/// as a success when it answers 2xx and `good` accepts its body.
pub async fn load(
    rate: u32,
    seconds: u64,
    request: impl Fn(usize) -> reqwest::RequestBuilder,
    good: fn(&str) -> bool,
) -> Latencies {
    let total = rate as usize * seconds as usize;
    let interval = Duration::from_secs_f64(1.0 / f64::from(rate));
    let started = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..total {
        let due = started + interval * u32::try_from(i).unwrap_or(u32::MAX);
        tokio::time::sleep_until(due.into()).await;
        let request = request(i);
        tasks.spawn(async move {
            let sent = Instant::now();
            let ok = match request.send().await {
                Ok(response) if response.status().is_success() => {
                    response.text().await.is_ok_and(|body| good(&body))
                }
                _ => false,
            };
            (sent.elapsed(), ok)
        });
    }
    let mut sorted = Vec::with_capacity(total);
    let mut errors = 0;
    while let Some(result) = tasks.join_next().await {
        match result {
            Ok((latency, true)) => sorted.push(latency),
            _ => errors += 1,
        }
    }
    let achieved_rate = total as f64 / started.elapsed().as_secs_f64();
    sorted.sort();
    Latencies {
        sorted,
        errors,
        achieved_rate,
    }
}

/// One line: the rate achieved, p50, p99, errors, and the ratios to `baseline` when given.
pub fn report(name: &str, result: &Latencies, baseline: Option<&Latencies>) {
    let (p50, p99) = (result.percentile(0.50), result.percentile(0.99));
    let ratio = baseline
        .map(|b| {
            format!(
                "  p50 x{:.2}, p99 x{:.2} of /health",
                p50.as_secs_f64() / b.percentile(0.50).as_secs_f64().max(1e-9),
                p99.as_secs_f64() / b.percentile(0.99).as_secs_f64().max(1e-9)
            )
        })
        .unwrap_or_default();
    println!(
        "{name:<34} {:>6.0} req/s  p50 {:>7.3} ms  p99 {:>7.3} ms  errors {}{ratio}",
        result.achieved_rate,
        p50.as_secs_f64() * 1000.0,
        p99.as_secs_f64() * 1000.0,
        result.errors,
    );
}
