//! CPU time and peak memory of a process, from `/proc/<pid>/stat` and `/proc/<pid>/status`.

/// utime + stime of the whole process (every thread), in seconds.
pub fn cpu_seconds(pid: u32) -> Option<f64> {
    parse_cpu(&std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?)
}

/// This process's own CPU seconds (the load generator).
pub fn self_cpu_seconds() -> Option<f64> {
    parse_cpu(&std::fs::read_to_string("/proc/self/stat").ok()?)
}

fn parse_cpu(stat: &str) -> Option<f64> {
    // The command name (field 2) may hold spaces and parentheses: fields restart after the last ')'.
    let rest = &stat[stat.rfind(')')? + 1..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    // After ')': f[0] is field 3 (state), so utime (field 14) is f[11] and stime (15) is f[12].
    let utime: u64 = f.get(11)?.parse().ok()?;
    let stime: u64 = f.get(12)?.parse().ok()?;
    // SAFETY: sysconf has no preconditions.
    let tck = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    let tck = if tck > 0 { tck as f64 } else { 100.0 };
    Some((utime + stime) as f64 / tck)
}

/// CPU seconds the whole machine has spent busy since boot (all CPUs: user, nice, system,
/// irq, softirq, steal; not idle or iowait), from the first line of `/proc/stat`.
pub fn machine_busy_seconds() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/stat").ok()?;
    let line = stat.lines().next()?.strip_prefix("cpu ")?;
    let v: Vec<u64> = line.split_whitespace().filter_map(|x| x.parse().ok()).collect();
    if v.len() < 8 {
        return None;
    }
    // user nice system idle iowait irq softirq steal [guest guest_nice: already in user/nice]
    let busy = v[0] + v[1] + v[2] + v[5] + v[6] + v[7];
    // SAFETY: sysconf has no preconditions.
    let tck = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    Some(busy as f64 / if tck > 0 { tck as f64 } else { 100.0 })
}

/// Peak resident set size (`VmHWM`) in KiB.
pub fn peak_rss_kib(pid: u32) -> Option<u64> {
    status_kib(pid, "VmHWM:")
}

/// Resident set size now (`VmRSS`) in KiB.
pub fn rss_kib(pid: u32) -> Option<u64> {
    status_kib(pid, "VmRSS:")
}

fn status_kib(pid: u32, field: &str) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status.lines().find_map(|l| l.strip_prefix(field)).and_then(|v| v.split_whitespace().next()?.parse().ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_a_name_with_spaces_and_parens() {
        let s = "1234 (a (weird) name) S 1 1 1 0 -1 4194304 100 0 0 0 250 50 0 0 20 0 3 0 100 0 0";
        let tck = unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as f64;
        assert_eq!(parse_cpu(s), Some(300.0 / tck));
    }

    #[test]
    fn reads_itself() {
        assert!(self_cpu_seconds().is_some());
        assert!(machine_busy_seconds().is_some());
        let (peak, now) = (peak_rss_kib(std::process::id()).unwrap(), rss_kib(std::process::id()).unwrap());
        assert!(now > 0 && peak >= now, "peak {peak} now {now}");
    }
}
