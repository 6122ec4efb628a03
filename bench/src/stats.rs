//! Measurements: latency percentiles, our own CPU time, and the CPU time of
//! server processes read from /proc (Linux only; elsewhere it reads nothing).
//!
//! Server CPU of a process is utime + stime + cutime + cstime from
//! /proc/PID/stat (proc(5)). The children's part matters for Postfix: when
//! `master` reaps an `smtpd` or `cleanup` that exited during the run, that
//! child's time moves into master's cutime/cstime, so the difference of the
//! sums before and after still counts it once. A live child is counted by
//! its own line only, as its time reaches the parent only when reaped.

use std::collections::BTreeMap;
use std::fs;
use std::time::Duration;

/// The `p`-th percentile (0 < p ≤ 100) of sorted values, nearest-rank method:
/// the smallest value that at least p% of the values do not exceed.
pub fn percentile(sorted: &[u64], p: f64) -> Option<u64> {
    if sorted.is_empty() {
        return None;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    Some(sorted[rank.clamp(1, sorted.len()) - 1])
}

/// User + system CPU time of this process so far (getrusage RUSAGE_SELF).
pub fn self_cpu_time() -> Duration {
    // SAFETY: getrusage only writes into the zeroed struct we pass it.
    let usage = unsafe {
        let mut usage: libc::rusage = std::mem::zeroed();
        if libc::getrusage(libc::RUSAGE_SELF, &mut usage) != 0 {
            return Duration::ZERO;
        }
        usage
    };
    let tv = |t: libc::timeval| {
        Duration::from_secs(t.tv_sec.max(0) as u64) + Duration::from_micros(t.tv_usec.max(0) as u64)
    };
    tv(usage.ru_utime) + tv(usage.ru_stime)
}

/// Which server processes to measure.
#[derive(Debug, Clone, Default)]
pub struct ServerProcs {
    /// These processes and all their descendants.
    pub pids: Vec<u32>,
    /// Every process whose /proc/PID/comm equals one of these names.
    pub comms: Vec<String>,
}

/// CPU ticks per process at one moment.
#[derive(Debug, Clone, Default)]
pub struct CpuSnapshot {
    ticks: BTreeMap<u32, u64>,
}

impl ServerProcs {
    pub fn is_empty(&self) -> bool {
        self.pids.is_empty() && self.comms.is_empty()
    }

    /// Reads the CPU ticks of every selected process now.
    pub fn snapshot(&self) -> CpuSnapshot {
        let mut ticks = BTreeMap::new();
        for &pid in &self.pids {
            collect_tree(pid, &mut ticks, 0);
        }
        if !self.comms.is_empty() {
            for pid in all_pids() {
                let comm = fs::read_to_string(format!("/proc/{pid}/comm")).unwrap_or_default();
                if self.comms.iter().any(|c| c == comm.trim_end_matches('\n')) {
                    if let Some(t) = process_ticks(pid) {
                        ticks.insert(pid, t);
                    }
                }
            }
        }
        CpuSnapshot { ticks }
    }
}

impl ServerProcs {
    /// The CPU the processes used since `before` (a [`ServerProcs::snapshot`]).
    pub fn cpu_since(&self, before: &CpuSnapshot) -> super::report::ServerCpu {
        let after = self.snapshot();
        super::report::ServerCpu {
            total: before.elapsed_until(&after),
            processes: before.processes().max(after.processes()),
        }
    }
}

impl CpuSnapshot {
    /// Sum of VmRSS (resident memory) of the processes seen, in KiB; `None`
    /// when none could be read.
    pub fn resident_kb(&self) -> Option<u64> {
        let mut total = None;
        for &pid in self.ticks.keys() {
            let status = fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
            if let Some(kb) = parse_vm_rss_kb(&status) {
                total = Some(total.unwrap_or(0) + kb);
            }
        }
        total
    }

    /// Number of processes seen.
    pub fn processes(&self) -> usize {
        self.ticks.len()
    }

    /// CPU time spent between `self` (earlier) and `after`.
    pub fn elapsed_until(&self, after: &CpuSnapshot) -> Duration {
        let sum = |s: &CpuSnapshot| s.ticks.values().sum::<u64>();
        ticks_to_duration(sum(after).saturating_sub(sum(self)))
    }
}

/// Bounds the descent, so a /proc oddity cannot make it loop for long.
const MAX_DEPTH: usize = 32;
const MAX_PROCESSES: usize = 100_000;

/// Adds `pid` and its descendants (from /proc/PID/task/*/children).
fn collect_tree(pid: u32, out: &mut BTreeMap<u32, u64>, depth: usize) {
    if depth > MAX_DEPTH || out.len() >= MAX_PROCESSES || out.contains_key(&pid) {
        return;
    }
    let Some(t) = process_ticks(pid) else { return };
    out.insert(pid, t);
    let Ok(tasks) = fs::read_dir(format!("/proc/{pid}/task")) else {
        return;
    };
    for task in tasks.flatten() {
        let children = fs::read_to_string(task.path().join("children")).unwrap_or_default();
        for child in children.split_whitespace().filter_map(|c| c.parse().ok()) {
            collect_tree(child, out, depth + 1);
        }
    }
}

fn all_pids() -> Vec<u32> {
    let Ok(dir) = fs::read_dir("/proc") else {
        return Vec::new();
    };
    dir.flatten()
        .filter_map(|e| e.file_name().to_str()?.parse().ok())
        .take(MAX_PROCESSES)
        .collect()
}

/// utime + stime + cutime + cstime of `pid` in clock ticks.
fn process_ticks(pid: u32) -> Option<u64> {
    parse_stat_ticks(&fs::read_to_string(format!("/proc/{pid}/stat")).ok()?)
}

/// Parses a /proc/PID/stat line. The command name (field 2) is in
/// parentheses and may itself contain spaces and ")", so fields are counted
/// from the last ")". utime is field 14; stime, cutime, cstime follow.
pub fn parse_stat_ticks(stat: &str) -> Option<u64> {
    let rest = &stat[stat.rfind(')')? + 1..];
    // `rest` starts at field 3 (state), so field 14 is at index 11.
    let fields: Vec<&str> = rest.split_whitespace().skip(11).take(4).collect();
    if fields.len() < 4 {
        return None;
    }
    let mut total = 0u64;
    for f in fields {
        // cutime/cstime are signed in the kernel's format; never negative in practice.
        total += f.parse::<i64>().ok()?.max(0) as u64;
    }
    Some(total)
}

/// The `VmRSS:   1234 kB` line of /proc/PID/status, in KiB.
pub fn parse_vm_rss_kb(status: &str) -> Option<u64> {
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    line["VmRSS:".len()..]
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

fn ticks_to_duration(ticks: u64) -> Duration {
    // SAFETY: sysconf has no memory effects.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    let hz = if hz > 0 { hz as u64 } else { 100 };
    Duration::from_micros(ticks.saturating_mul(1_000_000) / hz)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_nearest_rank() {
        let v: Vec<u64> = (1..=100).collect();
        assert_eq!(percentile(&v, 50.0), Some(50));
        assert_eq!(percentile(&v, 90.0), Some(90));
        assert_eq!(percentile(&v, 99.0), Some(99));
        assert_eq!(percentile(&v, 100.0), Some(100));
        assert_eq!(percentile(&[7], 50.0), Some(7));
        assert_eq!(percentile(&[7], 99.0), Some(7));
        assert_eq!(percentile(&[1, 2, 3, 4], 50.0), Some(2));
        assert_eq!(percentile(&[1, 2, 3, 4], 51.0), Some(3));
        assert_eq!(percentile(&[10, 20, 30], 0.0), Some(10));
        assert_eq!(percentile(&[], 50.0), None);
    }

    #[test]
    fn stat_line_with_tricky_command_name() {
        // pid (comm) state ppid pgrp session tty tpgid flags minflt cminflt majflt cmajflt utime stime cutime cstime ...
        let line = "42 (my) proc (x)) S 1 42 42 0 -1 4194560 100 0 0 0 7 3 20 10 20 0 1 0 5";
        assert_eq!(parse_stat_ticks(line), Some(40));
        assert_eq!(parse_stat_ticks("42 (short) S 1 2"), None);
        assert_eq!(parse_stat_ticks("garbage"), None);
    }

    #[test]
    fn own_process_is_measurable() {
        let me = std::process::id();
        let procs = ServerProcs {
            pids: vec![me],
            comms: Vec::new(),
        };
        let before = procs.snapshot();
        assert_eq!(before.processes(), 1);
        // Spin until getrusage has seen 150 ms of CPU (not wall time: on a loaded machine
        // this thread may get little of it), within a generous bound.
        let (cpu_start, start) = (self_cpu_time(), std::time::Instant::now());
        let mut x = 0u64;
        while self_cpu_time().saturating_sub(cpu_start) < Duration::from_millis(150) {
            assert!(
                start.elapsed() < Duration::from_secs(120),
                "no CPU time in 120 s"
            );
            for _ in 0..10_000 {
                x = std::hint::black_box(x.wrapping_mul(31).wrapping_add(1));
            }
        }
        let spent = before.elapsed_until(&procs.snapshot());
        assert!(spent >= Duration::from_millis(50), "measured {spent:?}");
        assert!(self_cpu_time() >= spent / 2);
        assert!(before.resident_kb().is_some_and(|kb| kb > 100));
    }

    #[test]
    fn vm_rss_line() {
        let status = "Name:\tx\nVmPeak:\t  10 kB\nVmRSS:\t    4242 kB\nThreads: 1\n";
        assert_eq!(parse_vm_rss_kb(status), Some(4242));
        assert_eq!(parse_vm_rss_kb("Name: x\n"), None);
    }

    #[test]
    fn processes_found_by_command_name() {
        let comm = fs::read_to_string("/proc/self/comm").expect("procfs");
        let procs = ServerProcs {
            pids: Vec::new(),
            comms: vec![comm.trim_end().to_string()],
        };
        assert!(procs.snapshot().processes() >= 1);
        let none = ServerProcs {
            pids: Vec::new(),
            comms: vec!["no-such-proc-x".into()],
        };
        assert_eq!(none.snapshot().processes(), 0);
    }
}
