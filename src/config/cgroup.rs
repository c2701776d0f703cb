//! Directives of the per-connection cgroup (docs/security-model.md, "Isolation between connections"):
//! `CgroupPerConnection On|Off`, `ConnectionPidsMax N`, `ConnectionMemoryMax BYTES[K|M|G]`,
//! `ConnectionCPUMax QUOTA|max [PERIOD]` (all server level). Pure: arguments in, values out;
//! `master::cgroup` turns them into a cgroup per child.
#![forbid(unsafe_code)]

use super::model::{Config, Origin};
use super::ConfigError;

/// The fewest processes a connection needs: its child, the init of its programs' PID
/// namespace and one program.
pub const MIN_PIDS: u64 = 3;
/// Below this a connection's child (a few MiB resident) would be killed before serving.
pub const MIN_MEMORY: u64 = 4 << 20;
/// The kernel's bounds of a cpu.max period, in microseconds.
pub const CPU_PERIOD_RANGE: (u64, u64) = (1_000, 1_000_000);
/// The kernel's smallest cpu.max quota, in microseconds.
pub const MIN_CPU_QUOTA: u64 = 1_000;
/// cpu.max's default period (100 ms).
pub const DEFAULT_CPU_PERIOD: u64 = 100_000;

/// `ConnectionCPUMax`: cpu.max of each connection's cgroup.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct CpuMax {
    /// Microseconds of CPU per period; `None` = `max` (no bound).
    pub quota: Option<u64>,
    pub period: u64,
}

impl CpuMax {
    /// The line written to (and read back from) cpu.max.
    pub fn file_value(&self) -> String {
        match self.quota {
            Some(q) => format!("{q} {}", self.period),
            None => format!("max {}", self.period),
        }
    }
}

/// What the cgroup directives ask for.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct CgroupSettings {
    /// `CgroupPerConnection On`: each child gets a cgroup of its own (default Off).
    pub per_connection: bool,
    pub pids_max: Option<u64>,
    /// Bytes; swap is bounded to 0 with it, so a hog is killed rather than swapped out.
    pub memory_max: Option<u64>,
    pub cpu_max: Option<CpuMax>,
    /// Where each limit was given, for the errors of [`check`].
    pub limits_at: Vec<(String, Origin)>,
}

impl CgroupSettings {
    /// The controllers the limits need enabled in the master's cgroup, in cgroup order.
    pub fn controllers(&self) -> Vec<&'static str> {
        let mut c = Vec::new();
        if self.cpu_max.is_some() {
            c.push("cpu");
        }
        if self.memory_max.is_some() {
            c.push("memory");
        }
        if self.pids_max.is_some() {
            c.push("pids");
        }
        c
    }
}

/// Parses one server-level directive of this file into `cfg`; `None` when `name` (lower
/// case) is not one of them.
pub fn server_directive(
    name: &str,
    args: &[String],
    at: &Origin,
    cfg: &mut Config,
) -> Option<Result<(), String>> {
    let c = &mut cfg.cgroup;
    let result = match name {
        "cgroupperconnection" => on_off("CgroupPerConnection", args).map(|on| {
            c.per_connection = on;
        }),
        "connectionpidsmax" => one("ConnectionPidsMax", args)
            .and_then(parse_pids)
            .map(|n| c.pids_max = Some(n)),
        "connectionmemorymax" => one("ConnectionMemoryMax", args)
            .and_then(parse_bytes)
            .map(|n| c.memory_max = Some(n)),
        "connectioncpumax" => parse_cpu_max(args).map(|v| c.cpu_max = Some(v)),
        _ => return None,
    };
    if result.is_ok() && name != "cgroupperconnection" {
        c.limits_at
            .push((directive_name(name).to_string(), at.clone()));
    }
    Some(result)
}

fn directive_name(lower: &str) -> &'static str {
    match lower {
        "connectionpidsmax" => "ConnectionPidsMax",
        "connectionmemorymax" => "ConnectionMemoryMax",
        _ => "ConnectionCPUMax",
    }
}

/// After the whole file is read: a limit without `CgroupPerConnection On` would be accepted
/// and not enforced, which is an error (invariant I3).
pub fn check(cfg: &Config) -> Vec<ConfigError> {
    if cfg.cgroup.per_connection {
        return Vec::new();
    }
    cfg.cgroup
        .limits_at
        .iter()
        .map(|(directive, origin)| ConfigError {
            origin: origin.clone(),
            message: format!(
                "{directive} needs `CgroupPerConnection On` (the limit is enforced by each connection's cgroup)"
            ),
        })
        .collect()
}

fn one<'a>(directive: &str, args: &'a [String]) -> Result<&'a str, String> {
    match args {
        [a] => Ok(a.as_str()),
        _ => Err(format!(
            "{directive} takes exactly one argument, not {}",
            args.len()
        )),
    }
}

fn on_off(directive: &str, args: &[String]) -> Result<bool, String> {
    let a = one(directive, args)?;
    if a.eq_ignore_ascii_case("on") {
        Ok(true)
    } else if a.eq_ignore_ascii_case("off") {
        Ok(false)
    } else {
        Err(format!("{directive} must be On or Off, not '{a}'"))
    }
}

fn number(what: &str, s: &str) -> Result<u64, String> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!("{what}: '{s}' is not a valid number"));
    }
    s.parse::<u64>()
        .map_err(|_| format!("{what}: '{s}' is too large"))
}

fn parse_pids(s: &str) -> Result<u64, String> {
    let n = number("ConnectionPidsMax", s)?;
    if n < MIN_PIDS {
        return Err(format!("ConnectionPidsMax {n} is below {MIN_PIDS}: a connection needs its child, its programs' PID-namespace init and one program"));
    }
    Ok(n)
}

/// `BYTES` with an optional binary suffix K, M, G or T (systemd's `MemoryMax=` spelling).
pub fn parse_bytes(s: &str) -> Result<u64, String> {
    let what = "ConnectionMemoryMax";
    let (digits, shift) = match s.char_indices().last() {
        Some((i, c)) if c.is_ascii_alphabetic() => {
            let shift = match c.to_ascii_uppercase() {
                'K' => 10,
                'M' => 20,
                'G' => 30,
                'T' => 40,
                _ => {
                    return Err(format!(
                        "{what}: unknown unit '{c}' in '{s}' (use K, M, G or T)"
                    ))
                }
            };
            (s.get(..i).unwrap_or(""), shift)
        }
        _ => (s, 0),
    };
    let n = number(what, digits)?;
    let bytes = n
        .checked_mul(1u64 << shift)
        .ok_or_else(|| format!("{what}: '{s}' is too large"))?;
    if bytes < MIN_MEMORY {
        return Err(format!(
            "{what} {s} is below 4M: a connection's own process would be killed before it serves"
        ));
    }
    Ok(bytes)
}

/// `QUOTA|max [PERIOD]`, microseconds, as cgroup v2's cpu.max (`50000 100000` = half a CPU).
pub fn parse_cpu_max(args: &[String]) -> Result<CpuMax, String> {
    let what = "ConnectionCPUMax";
    let (quota, period) = match args {
        [q] => (q.as_str(), None),
        [q, p] => (q.as_str(), Some(p.as_str())),
        _ => {
            return Err(format!(
                "{what} takes QUOTA|max [PERIOD] (microseconds, as cpu.max), not {} arguments",
                args.len()
            ))
        }
    };
    let period = match period {
        Some(p) => number(what, p)?,
        None => DEFAULT_CPU_PERIOD,
    };
    let (lo, hi) = CPU_PERIOD_RANGE;
    if !(lo..=hi).contains(&period) {
        return Err(format!(
            "{what}: period {period} is outside {lo}..{hi} microseconds"
        ));
    }
    let quota = if quota.eq_ignore_ascii_case("max") {
        None
    } else {
        let q = number(what, quota)?;
        if q < MIN_CPU_QUOTA {
            return Err(format!(
                "{what}: quota {q} is below the kernel's minimum of {MIN_CPU_QUOTA} microseconds"
            ));
        }
        Some(q)
    };
    Ok(CpuMax { quota, period })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(s: &str) -> Vec<String> {
        s.split_whitespace().map(String::from).collect()
    }

    #[test]
    fn byte_sizes() {
        assert_eq!(parse_bytes("64M"), Ok(64 << 20));
        assert_eq!(parse_bytes("1g"), Ok(1 << 30));
        assert_eq!(parse_bytes("8388608"), Ok(8 << 20));
        assert!(parse_bytes("1M").unwrap_err().contains("below 4M"));
        assert!(parse_bytes("12X").unwrap_err().contains("unknown unit 'X'"));
        assert!(parse_bytes("M").unwrap_err().contains("not a valid number"));
        assert!(parse_bytes("99999999999T")
            .unwrap_err()
            .contains("too large"));
        assert!(parse_bytes("-5M").is_err());
    }

    #[test]
    fn cpu_max() {
        let v = parse_cpu_max(&args("50000 100000")).unwrap();
        assert_eq!(v.file_value(), "50000 100000");
        let v = parse_cpu_max(&args("max")).unwrap();
        assert_eq!(v.file_value(), "max 100000");
        assert_eq!(
            parse_cpu_max(&args("20000")).unwrap().file_value(),
            "20000 100000"
        );
        assert!(parse_cpu_max(&args("500 100000"))
            .unwrap_err()
            .contains("below the kernel's minimum"));
        assert!(parse_cpu_max(&args("5000 10"))
            .unwrap_err()
            .contains("outside 1000..1000000"));
        assert!(parse_cpu_max(&args("1 2 3")).is_err());
        assert!(parse_cpu_max(&[]).is_err());
    }

    #[test]
    fn pids() {
        assert_eq!(parse_pids("16"), Ok(16));
        assert!(parse_pids("2").unwrap_err().contains("below 3"));
        assert!(parse_pids("x").is_err());
    }

    #[test]
    fn controllers_follow_the_limits() {
        let mut s = CgroupSettings::default();
        assert!(s.controllers().is_empty());
        s.pids_max = Some(16);
        s.memory_max = Some(64 << 20);
        assert_eq!(s.controllers(), ["memory", "pids"]);
        s.cpu_max = Some(CpuMax {
            quota: None,
            period: DEFAULT_CPU_PERIOD,
        });
        assert_eq!(s.controllers(), ["cpu", "memory", "pids"]);
    }
}
