//! Running one load: closed loop (fixed concurrency, as fast as the server answers) or paced
//! (a fixed target rate, open loop, latency measured from each request's intended send time,
//! so a stalled server cannot hide its queueing: no coordinated omission).

use crate::client::Client;
use crate::loads::Template;
use crate::procstat;
use hdrhistogram::Histogram;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::Semaphore;

/// What one worker saw inside the measured window.
struct WorkerStats {
    hist: Histogram<u64>,
    ok: u64,
    errors: u64,
    codes: BTreeMap<String, u64>,
}

impl WorkerStats {
    fn new() -> Self {
        WorkerStats {
            // 1 µs .. 60 s, 3 significant digits; values in nanoseconds.
            hist: Histogram::new_with_bounds(1_000, 60_000_000_000, 3).expect("histogram bounds"),
            ok: 0,
            errors: 0,
            codes: BTreeMap::new(),
        }
    }
    fn error(&mut self, code: String) {
        self.errors += 1;
        if self.codes.len() < 16 || self.codes.contains_key(&code) {
            *self.codes.entry(code).or_default() += 1;
        }
    }
    fn merge(&mut self, o: WorkerStats) {
        let _ = self.hist.add(&o.hist);
        self.ok += o.ok;
        self.errors += o.errors;
        for (k, v) in o.codes {
            *self.codes.entry(k).or_default() += v;
        }
    }
}

/// Measurements of one load in one mode.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct Measured {
    pub requests: u64,
    pub errors: u64,
    pub error_codes: BTreeMap<String, u64>,
    pub seconds: f64,
    pub rps: f64,
    pub p50_ms: f64,
    pub p90_ms: f64,
    pub p99_ms: f64,
    pub p999_ms: f64,
    pub max_ms: f64,
    pub server_cpu_s: Option<f64>,
    /// Server CPU per successful request, in microseconds.
    pub server_cpu_us_per_req: Option<f64>,
    pub server_peak_rss_kib: Option<u64>,
    /// The server's resident set (`VmRSS`) when the measured window began and when it ended.
    #[serde(default)]
    pub server_rss_start_kib: Option<u64>,
    #[serde(default)]
    pub server_rss_end_kib: Option<u64>,
    pub client_cpu_s: Option<f64>,
    /// CPU seconds used during the window by everything else on the machine (all CPUs busy
    /// time minus this server and the load generator): how much the run was disturbed.
    #[serde(default)]
    pub other_cpu_s: Option<f64>,
}

#[derive(Clone)]
pub struct Plan {
    pub concurrency: usize,
    pub warmup: Duration,
    pub duration: Duration,
    /// `Some(r)`: paced at `r` requests per second. `None`: closed loop.
    pub rate: Option<f64>,
    pub server_pid: Option<u32>,
}

fn snapshot(pid: Option<u32>) -> (Option<f64>, Option<f64>, Option<f64>) {
    (pid.and_then(procstat::cpu_seconds), procstat::self_cpu_seconds(), procstat::machine_busy_seconds())
}

/// Runs one load. `calls[schedule[i % len]]` is the i-th request of each worker.
pub async fn run(client: Arc<Client>, calls: Arc<Vec<Template>>, schedule: Arc<Vec<usize>>, plan: &Plan) -> Measured {
    let t0 = Instant::now() + Duration::from_millis(20);
    let measure_from = t0 + plan.warmup;
    let end = measure_from + plan.duration;
    // Hard stop for stragglers: a request still out 10 s after the end is abandoned.
    let hard_stop = end + Duration::from_secs(10);

    let pacing = plan.rate.map(|rate| {
        let sem = Arc::new(Semaphore::new(0));
        let interval = Duration::from_secs_f64(1.0 / rate.max(1.0));
        let stop = Arc::new(AtomicBool::new(false));
        let pacer = {
            let (sem, stop) = (sem.clone(), stop.clone());
            // A plain thread: std's sleep has ~50 µs slack, tokio's timer has 1 ms.
            std::thread::spawn(move || pace(&sem, &stop, t0, end, interval))
        };
        (sem, interval, stop, pacer)
    });
    let issued = Arc::new(AtomicU64::new(0));

    let mut workers = Vec::with_capacity(plan.concurrency);
    for w in 0..plan.concurrency {
        let (client, calls, schedule, issued) = (client.clone(), calls.clone(), schedule.clone(), issued.clone());
        let pace = pacing.as_ref().map(|(s, i, _, _)| (s.clone(), *i));
        let offset = w * schedule.len() / plan.concurrency;
        workers.push(tokio::spawn(async move {
            let mut st = WorkerStats::new();
            // Workers start at different points of the mix, so the mix holds at every instant.
            let mut i = offset;
            loop {
                let start = match &pace {
                    None => {
                        let now = Instant::now();
                        if now < t0 {
                            tokio::time::sleep_until(t0.into()).await;
                        }
                        Instant::now()
                    }
                    Some((sem, interval)) => {
                        match sem.acquire().await {
                            Ok(p) => p.forget(),
                            Err(_) => break, // pacing is over
                        }
                        let n = issued.fetch_add(1, Ordering::Relaxed);
                        t0 + interval.mul_f64(n as f64)
                    }
                };
                if start >= end {
                    break;
                }
                let tpl = &calls[schedule[i % schedule.len()]];
                i += 1;
                let result =
                    tokio::time::timeout_at(hard_stop.into(), client.call(tpl.target, tpl.service, tpl.body.clone()))
                        .await;
                let done = Instant::now();
                let counted = start >= measure_from && done <= end;
                match result {
                    Ok(Ok(reply)) if reply.status == 200 => {
                        if counted {
                            st.ok += 1;
                            let ns = done.duration_since(start).as_nanos() as u64;
                            let _ = st.hist.record(ns.clamp(1_000, 60_000_000_000));
                        }
                    }
                    Ok(Ok(reply)) => {
                        if counted {
                            st.error(reply.error_code());
                        }
                    }
                    Ok(Err(e)) => {
                        if counted {
                            st.error(format!("transport: {}", short(&e)));
                        }
                        // Never spin on a dead server.
                        tokio::time::sleep(Duration::from_millis(5)).await;
                    }
                    Err(_) => {
                        st.error("timeout".into());
                        break;
                    }
                }
                if done >= hard_stop {
                    break;
                }
            }
            st
        }));
    }

    tokio::time::sleep_until(measure_from.into()).await;
    let (srv0, cli0, all0) = snapshot(plan.server_pid);
    let rss0 = plan.server_pid.and_then(procstat::rss_kib);
    tokio::time::sleep_until(end.into()).await;
    let (srv1, cli1, all1) = snapshot(plan.server_pid);
    let rss1 = plan.server_pid.and_then(procstat::rss_kib);
    let rss = plan.server_pid.and_then(procstat::peak_rss_kib);

    if let Some((sem, _, stop, pacer)) = pacing {
        stop.store(true, Ordering::Relaxed);
        let _ = pacer.join();
        sem.close();
    }
    let mut all = WorkerStats::new();
    for w in workers {
        if let Ok(st) = w.await {
            all.merge(st);
        }
    }
    let secs = plan.duration.as_secs_f64();
    let q = |p: f64| {
        if all.hist.is_empty() {
            0.0
        } else {
            all.hist.value_at_quantile(p) as f64 / 1e6
        }
    };
    let server_cpu_s = match (srv0, srv1) {
        (Some(a), Some(b)) => Some(b - a),
        _ => None,
    };
    Measured {
        requests: all.ok,
        errors: all.errors,
        error_codes: all.codes.clone(),
        seconds: secs,
        rps: all.ok as f64 / secs,
        p50_ms: q(0.50),
        p90_ms: q(0.90),
        p99_ms: q(0.99),
        p999_ms: q(0.999),
        max_ms: if all.hist.is_empty() { 0.0 } else { all.hist.max() as f64 / 1e6 },
        server_cpu_s,
        server_cpu_us_per_req: server_cpu_s.filter(|_| all.ok > 0).map(|c| c * 1e6 / all.ok as f64),
        server_peak_rss_kib: rss,
        server_rss_start_kib: rss0,
        server_rss_end_kib: rss1,
        client_cpu_s: match (cli0, cli1) {
            (Some(a), Some(b)) => Some(b - a),
            _ => None,
        },
        other_cpu_s: match (all0, all1, cli0, cli1) {
            (Some(a0), Some(a1), Some(c0), Some(c1)) => {
                Some(((a1 - a0) - (c1 - c0) - server_cpu_s.unwrap_or(0.0)).max(0.0))
            }
            _ => None,
        },
    }
}

/// Releases one permit per tick of `interval` from `t0` until `end` (late ticks are released
/// at once, so the rate holds on average and the lateness counts as latency).
fn pace(sem: &Semaphore, stop: &AtomicBool, t0: Instant, end: Instant, interval: Duration) {
    realtime_priority();
    let mut released: u64 = 0;
    loop {
        let now = Instant::now();
        if now >= end || stop.load(Ordering::Relaxed) {
            break;
        }
        if now >= t0 {
            let due = (now.duration_since(t0).as_secs_f64() / interval.as_secs_f64()) as u64 + 1;
            if due > released {
                sem.add_permits((due - released) as usize);
                released = due;
            }
        }
        let next = t0 + interval.mul_f64(released as f64);
        let wait = next.saturating_duration_since(Instant::now());
        // Bounded sleeps, so a stop is seen within 50 ms.
        std::thread::sleep(wait.min(Duration::from_millis(50)));
    }
}

/// Asks for SCHED_FIFO (priority 1) for the calling thread, so the pacer is not kept off a
/// CPU for a scheduler time slice by busy server and client threads (its lateness would be
/// charged as latency). Works as root or with CAP_SYS_NICE; otherwise the pacer runs as is.
/// The pacer sleeps between ticks and stops by itself at the end of the run.
fn realtime_priority() {
    let param = libc::sched_param { sched_priority: 1 };
    // SAFETY: plain syscall on the current thread (pid 0) with a valid parameter.
    let _ = unsafe { libc::sched_setscheduler(0, libc::SCHED_FIFO, &param) };
}

fn short(e: &str) -> String {
    e.chars().take(80).collect()
}
