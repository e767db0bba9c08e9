//! The node's own resource use (resident memory, CPU time) from /proc, for `/metrics` under
//! the standard Prometheus process metric names: how an operator (or the image benchmark)
//! sees what the node costs on the box.

use std::path::Path;

/// Clock ticks per second in /proc/<pid>/stat times: USER_HZ, fixed at 100 in the Linux ABI
/// on every architecture the box runs on (x86-64, arm64).
const USER_HZ: f64 = 100.0;

#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct Usage {
    pub resident_bytes: u64,
    pub cpu_seconds: f64,
}

/// This process's usage; None where /proc is missing or unreadable (not Linux, or hidden).
pub fn usage() -> Option<Usage> {
    let proc = Path::new("/proc/self");
    let status = std::fs::read_to_string(proc.join("status")).ok()?;
    let stat = std::fs::read_to_string(proc.join("stat")).ok()?;
    Some(Usage {
        resident_bytes: resident_kib(&status)? * 1024,
        cpu_seconds: cpu_ticks(&stat)? as f64 / USER_HZ,
    })
}

/// `VmRSS:` of /proc/<pid>/status, in KiB.
fn resident_kib(status: &str) -> Option<u64> {
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// utime + stime of /proc/<pid>/stat. The command name (field 2) is in parentheses and may
/// hold spaces or ')', so fields are counted from the last ')'.
fn cpu_ticks(stat: &str) -> Option<u64> {
    let rest = &stat[stat.rfind(')')? + 1..];
    // After the name: state is field 3, utime field 14, stime field 15.
    let mut fields = rest.split_whitespace().skip(11);
    let utime: u64 = fields.next()?.parse().ok()?;
    let stime: u64 = fields.next()?.parse().ok()?;
    Some(utime + stime)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_proc_files() {
        let stat = "4242 (odd) name) S 1 4242 4242 0 -1 4194560 2181 0 0 0 150 25 0 0 20 0 9 0 \
                    1234 2000000 5000";
        assert_eq!(cpu_ticks(stat), Some(175));
        assert_eq!(cpu_ticks("garbage"), None);
        assert_eq!(cpu_ticks("1 (x) S 1"), None);
        let status = "Name:\tstreamp2p\nVmPeak:\t  9000 kB\nVmRSS:\t   20480 kB\n";
        assert_eq!(resident_kib(status), Some(20480));
        assert_eq!(resident_kib("Name: x\n"), None);
    }

    #[test]
    fn reads_own_usage() {
        let u = usage().expect("/proc/self readable in tests");
        assert!(u.resident_bytes > 1024 * 1024, "{u:?}");
        assert!(u.cpu_seconds >= 0.0, "{u:?}");
    }
}
