//! Prometheus metrics, rendered by hand in the text exposition format (0.0.4). Labels take only
//! known values (services, operations, AWS error codes), so no client can grow them without bound.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::Mutex;
use std::time::Duration;

const BUCKETS: &[f64] = &[0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5];

#[derive(Default)]
struct Histogram {
    counts: [u64; 12],
    sum: f64,
    count: u64,
}

#[derive(Default)]
pub struct Metrics {
    requests: Mutex<BTreeMap<(&'static str, &'static str, &'static str), u64>>,
    latency: Mutex<BTreeMap<(&'static str, &'static str), Histogram>>,
    started: StartTime,
    /// The last hour, per minute and service: (requests, errors, throttled). For the console's
    /// Overview.
    recent: Mutex<std::collections::VecDeque<(u64, Minute)>>,
}

/// One minute's (requests, errors, throttled) per service.
type Minute = BTreeMap<&'static str, [u64; 3]>;

/// Minutes of per-minute counts kept for [`Metrics::last_hour`].
const RECENT_MINUTES: u64 = 60;

/// When this process's metrics began (Unix seconds), for `trent_start_time_seconds`.
struct StartTime(f64);

impl Default for StartTime {
    fn default() -> Self {
        StartTime(
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_secs_f64())
                .unwrap_or_default(),
        )
    }
}

impl Metrics {
    /// Counts one request. `code` is "OK" or the AWS error code.
    pub fn record(&self, service: &'static str, operation: &'static str, code: &'static str, elapsed: Duration) {
        self.record_recent(service, code, unix_minute());
        if let Ok(mut r) = self.requests.lock() {
            *r.entry((service, operation, code)).or_default() += 1;
        }
        if let Ok(mut l) = self.latency.lock() {
            let h = l.entry((service, operation)).or_default();
            let secs = elapsed.as_secs_f64();
            for (i, bound) in BUCKETS.iter().enumerate() {
                if secs <= *bound {
                    h.counts[i] += 1;
                }
            }
            h.sum += secs;
            h.count += 1;
        }
    }

    fn record_recent(&self, service: &'static str, code: &'static str, minute: u64) {
        let Ok(mut r) = self.recent.lock() else { return };
        if r.back().is_none_or(|(m, _)| *m != minute) {
            r.push_back((minute, BTreeMap::new()));
        }
        while r.front().is_some_and(|(m, _)| m + RECENT_MINUTES <= minute) {
            r.pop_front();
        }
        if let Some((_, counts)) = r.back_mut() {
            let c = counts.entry(service).or_default();
            c[0] += 1;
            if code != "OK" {
                c[1] += 1;
            }
            if code == "ThrottlingException" {
                c[2] += 1;
            }
        }
    }

    /// Per-minute (requests, errors, throttled) of each service over the last hour: for each
    /// service, 60 entries, oldest first, ending with the current minute.
    pub fn last_hour(&self) -> BTreeMap<&'static str, Vec<[u64; 3]>> {
        self.last_hour_at(unix_minute())
    }

    fn last_hour_at(&self, now: u64) -> BTreeMap<&'static str, Vec<[u64; 3]>> {
        let mut out: BTreeMap<&'static str, Vec<[u64; 3]>> = BTreeMap::new();
        let Ok(r) = self.recent.lock() else { return out };
        for (minute, counts) in r.iter() {
            let Some(age) = now.checked_sub(*minute).filter(|a| *a < RECENT_MINUTES) else { continue };
            for (service, c) in counts {
                let v = out.entry(service).or_insert_with(|| vec![[0; 3]; RECENT_MINUTES as usize]);
                v[(RECENT_MINUTES - 1 - age) as usize] = *c;
            }
        }
        out
    }

    /// The exposition text; `audit_queue_depth` is the number of audit records waiting to be
    /// written, `key_cache` the (hits, misses) of KMS's unwrapped-material cache.
    pub fn render(&self, audit_queue_depth: usize, key_cache: (u64, u64)) -> String {
        let mut out = String::new();
        out.push_str("# HELP trent_build_info The running trentd's version and git commit (value always 1).\n");
        out.push_str("# TYPE trent_build_info gauge\n");
        let _ = writeln!(
            out,
            "trent_build_info{{version=\"{}\",commit=\"{}\"}} 1",
            env!("CARGO_PKG_VERSION"),
            crate::config::GIT_COMMIT
        );
        out.push_str("# HELP trent_start_time_seconds When trentd started, in seconds since the Unix epoch.\n");
        out.push_str("# TYPE trent_start_time_seconds gauge\n");
        let _ = writeln!(out, "trent_start_time_seconds {:.3}", self.started.0);
        out.push_str(
            "# HELP trent_requests_total Requests by service, operation and outcome (OK or the AWS error code).\n",
        );
        out.push_str("# TYPE trent_requests_total counter\n");
        let mut auth_failures = 0;
        let mut throttled = 0;
        if let Ok(r) = self.requests.lock() {
            for ((s, o, c), n) in r.iter() {
                let _ = writeln!(out, "trent_requests_total{{service=\"{s}\",operation=\"{o}\",code=\"{c}\"}} {n}");
                if matches!(
                    *c,
                    "MissingAuthenticationTokenException"
                        | "IncompleteSignatureException"
                        | "InvalidSignatureException"
                        | "UnrecognizedClientException"
                        | "AccessDeniedException"
                ) {
                    auth_failures += n;
                }
                if *c == "ThrottlingException" {
                    throttled += n;
                }
            }
        }
        out.push_str("# HELP trent_denied_requests_total Requests refused for authentication or authorization.\n");
        out.push_str("# TYPE trent_denied_requests_total counter\n");
        let _ = writeln!(out, "trent_denied_requests_total {auth_failures}");
        out.push_str("# HELP trent_throttled_requests_total Requests refused with ThrottlingException (over quota).\n");
        out.push_str("# TYPE trent_throttled_requests_total counter\n");
        let _ = writeln!(out, "trent_throttled_requests_total {throttled}");
        out.push_str("# HELP trent_audit_queue_depth Audit records waiting to be written durably.\n");
        out.push_str("# TYPE trent_audit_queue_depth gauge\n");
        let _ = writeln!(out, "trent_audit_queue_depth {audit_queue_depth}");
        out.push_str("# HELP trent_key_cache_requests_total Lookups of unwrapped KMS key material, by result.\n");
        out.push_str("# TYPE trent_key_cache_requests_total counter\n");
        let _ = writeln!(out, "trent_key_cache_requests_total{{result=\"hit\"}} {}", key_cache.0);
        let _ = writeln!(out, "trent_key_cache_requests_total{{result=\"miss\"}} {}", key_cache.1);
        out.push_str("# HELP trent_request_duration_seconds Time from request to response.\n");
        out.push_str("# TYPE trent_request_duration_seconds histogram\n");
        if let Ok(l) = self.latency.lock() {
            for ((s, o), h) in l.iter() {
                for (i, bound) in BUCKETS.iter().enumerate() {
                    let _ = writeln!(
                        out,
                        "trent_request_duration_seconds_bucket{{service=\"{s}\",operation=\"{o}\",le=\"{bound}\"}} {}",
                        h.counts[i]
                    );
                }
                let _ = writeln!(
                    out,
                    "trent_request_duration_seconds_bucket{{service=\"{s}\",operation=\"{o}\",le=\"+Inf\"}} {}",
                    h.count
                );
                let _ =
                    writeln!(out, "trent_request_duration_seconds_sum{{service=\"{s}\",operation=\"{o}\"}} {}", h.sum);
                let _ = writeln!(
                    out,
                    "trent_request_duration_seconds_count{{service=\"{s}\",operation=\"{o}\"}} {}",
                    h.count
                );
            }
        }
        out
    }
}

fn unix_minute() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs() / 60).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_last_hour_is_counted_per_minute_and_service() {
        let m = super::Metrics::default();
        m.record_recent("kms", "OK", 1000);
        m.record_recent("kms", "ThrottlingException", 1000);
        m.record_recent("kms", "AccessDeniedException", 1030);
        m.record_recent("ssm", "OK", 1059);
        let h = m.last_hour_at(1059);
        assert_eq!(h["kms"][0], [2, 1, 1]);
        assert_eq!(h["kms"][30], [1, 1, 0]);
        assert_eq!(h["ssm"][59], [1, 0, 0]);
        assert_eq!(h["kms"].iter().map(|c| c[0]).sum::<u64>(), 3);
        // An hour on, minute 1000 has gone.
        m.record_recent("ssm", "OK", 1060);
        let h = m.last_hour_at(1060);
        assert_eq!(h["kms"].iter().map(|c| c[0]).sum::<u64>(), 1);
        assert_eq!(m.recent.lock().unwrap().len(), 3);
    }

    use super::*;

    #[test]
    fn renders_counters_and_cumulative_buckets() {
        let m = Metrics::default();
        m.record("kms", "Encrypt", "OK", Duration::from_micros(800));
        m.record("kms", "Encrypt", "OK", Duration::from_millis(30));
        m.record("kms", "Encrypt", "InvalidSignatureException", Duration::from_micros(100));
        m.record("kms", "Encrypt", "ThrottlingException", Duration::from_micros(100));
        let text = m.render(3, (7, 2));
        assert!(text.contains("trent_key_cache_requests_total{result=\"hit\"} 7"));
        assert!(text.contains("trent_key_cache_requests_total{result=\"miss\"} 2"));
        assert!(text.contains("trent_throttled_requests_total 1"));
        assert!(text.contains("trent_audit_queue_depth 3"));
        assert!(text.contains("trent_requests_total{service=\"kms\",operation=\"Encrypt\",code=\"OK\"} 2"));
        assert!(text.contains("trent_denied_requests_total 1"));
        assert!(text
            .contains("trent_request_duration_seconds_bucket{service=\"kms\",operation=\"Encrypt\",le=\"0.001\"} 3"));
        assert!(
            text.contains("trent_request_duration_seconds_bucket{service=\"kms\",operation=\"Encrypt\",le=\"+Inf\"} 4")
        );
        assert!(text.contains("trent_request_duration_seconds_count{service=\"kms\",operation=\"Encrypt\"} 4"));
    }

    #[test]
    fn renders_build_info_and_a_plausible_start_time() {
        let text = Metrics::default().render(0, (0, 0));
        let build = format!(
            "trent_build_info{{version=\"{}\",commit=\"{}\"}} 1",
            env!("CARGO_PKG_VERSION"),
            crate::config::GIT_COMMIT
        );
        assert!(text.contains(&build), "{text}");
        let start: f64 = text
            .lines()
            .find_map(|l| l.strip_prefix("trent_start_time_seconds "))
            .expect("trent_start_time_seconds")
            .parse()
            .unwrap();
        let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs_f64();
        assert!(start > 1.7e9 && start <= now + 1.0, "{start} vs {now}");
    }
}
