//! Directives of the per-connection isolation (docs/security-model.md, "Isolation"): `AllowConnect`,
//! `SeccompAllow`, `RLimitCPU`, `RLimitMEM`, `RLimitNPROC` (server and vhost; a vhost's own
//! line replaces the server's) and `Namespaces` (server). Pure: arguments in, values out.
#![forbid(unsafe_code)]

use crate::sandbox::{SeccompPolicy, SeccompRelax};

/// One Apache `RLimit*` value: a number, or `max` (the hard limit the server was started with).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Limit {
    Value(u64),
    Max,
}

/// `RLimitX soft [hard]`, as Apache: without `hard`, the hard limit stays what it was.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct RLimit {
    pub soft: Limit,
    pub hard: Option<Limit>,
}

/// The limits a vhost's CGI programs get (set in the forked program before exec).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct CgiLimits {
    /// RLIMIT_CPU, seconds.
    pub cpu: Option<RLimit>,
    /// RLIMIT_AS, bytes (Apache's RLimitMEM uses RLIMIT_AS where the system has it).
    pub mem: Option<RLimit>,
    /// RLIMIT_NPROC. `None` = the default, which depends on whether the connection has its own
    /// user namespace (see [`DEFAULT_NPROC_IN_USERNS`]).
    pub nproc: Option<RLimit>,
}

/// Default `RLimitCPU 60 120`: SIGXCPU after a minute of CPU, SIGKILL after two. An idle
/// program is bounded by CGIScriptTimeout; this bounds a busy one.
pub const DEFAULT_CPU: RLimit = RLimit {
    soft: Limit::Value(60),
    hard: Some(Limit::Value(120)),
};
/// Default `RLimitMEM 1073741824` (1 GiB of address space, soft and hard).
pub const DEFAULT_MEM: RLimit = RLimit {
    soft: Limit::Value(1 << 30),
    hard: Some(Limit::Value(1 << 30)),
};
/// Default RLIMIT_NPROC when the connection has its own user namespace (unprivileged master):
/// the kernel then counts that namespace's processes only, so this bounds one connection.
/// Without one (root master), RLIMIT_NPROC counts every process of the uid across all its
/// connections; no default is set there (per-connection bounds need cgroups' pids.max).
pub const DEFAULT_NPROC_IN_USERNS: u64 = 64;

impl Default for CgiLimits {
    fn default() -> Self {
        CgiLimits {
            cpu: Some(DEFAULT_CPU),
            mem: Some(DEFAULT_MEM),
            nproc: None,
        }
    }
}

/// A vhost's effective isolation settings.
#[derive(Debug, Clone, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
pub struct Harden {
    /// `AllowConnect PORT...`: TCP ports programs may connect to (default none).
    pub connect_tcp: Vec<u16>,
    /// `AllowConnect udp`.
    pub udp: bool,
    /// `SeccompAllow NAME...`.
    pub seccomp_allow: Vec<SeccompRelax>,
    pub limits: CgiLimits,
    /// mpm-itk's `MaxClientsVHost N` (`config::itk`): at most N connections of this vhost at
    /// once, counted by the master; None = no limit.
    #[serde(default)]
    pub max_clients: Option<u32>,
    /// `CGIReadPath` (`config::cgiread`): read-only trees for CGI programs, the server's lines
    /// then the vhost's, with where each was written.
    #[serde(default)]
    pub cgi_read: Vec<(std::path::PathBuf, super::Origin)>,
}

impl Harden {
    pub fn seccomp(&self) -> SeccompPolicy {
        SeccompPolicy::new(self.seccomp_allow.clone(), self.udp)
    }
}

/// While reading: `None` = not set at this level.
#[derive(Debug, Clone, Default)]
pub struct HardenDraft {
    connect: Option<(Vec<u16>, bool)>,
    seccomp_allow: Option<Vec<SeccompRelax>>,
    cpu: Option<Option<RLimit>>,
    mem: Option<Option<RLimit>>,
    nproc: Option<Option<RLimit>>,
    /// `MaxClientsVHost`: `Some(None)` = 0, no limit (overrides the server's).
    max_clients: Option<Option<u32>>,
    pub(super) cgi_read: Vec<(std::path::PathBuf, super::Origin)>,
}

impl HardenDraft {
    /// Applies directive `name` (lowercase) if it is one of this module's. `None` = not ours.
    pub fn directive(&mut self, name: &str, args: &[String]) -> Option<Result<(), String>> {
        let r = match name {
            "allowconnect" => parse_allow_connect(args).map(|c| self.connect = Some(c)),
            "seccompallow" => parse_seccomp_allow(args).map(|s| self.seccomp_allow = Some(s)),
            "rlimitcpu" => parse_rlimit("RLimitCPU", args).map(|l| self.cpu = Some(Some(l))),
            "rlimitmem" => parse_rlimit("RLimitMEM", args).map(|l| self.mem = Some(Some(l))),
            "rlimitnproc" => parse_rlimit("RLimitNPROC", args).map(|l| self.nproc = Some(Some(l))),
            _ => return None,
        };
        Some(r)
    }

    /// `MaxClientsVHost N` at this level (0: no limit).
    pub fn set_max_clients(&mut self, n: u32) {
        self.max_clients = Some((n > 0).then_some(n));
    }

    /// The vhost's settings over the server's, over the defaults.
    pub fn resolve(server: &HardenDraft, vhost: &HardenDraft) -> Harden {
        fn pick<T: Clone>(v: &Option<T>, s: &Option<T>) -> Option<T> {
            v.clone().or_else(|| s.clone())
        }
        let (connect_tcp, udp) = pick(&vhost.connect, &server.connect).unwrap_or_default();
        let d = CgiLimits::default();
        Harden {
            connect_tcp,
            udp,
            seccomp_allow: pick(&vhost.seccomp_allow, &server.seccomp_allow).unwrap_or_default(),
            limits: CgiLimits {
                cpu: pick(&vhost.cpu, &server.cpu).unwrap_or(d.cpu),
                mem: pick(&vhost.mem, &server.mem).unwrap_or(d.mem),
                nproc: pick(&vhost.nproc, &server.nproc).unwrap_or(d.nproc),
            },
            max_clients: pick(&vhost.max_clients, &server.max_clients).flatten(),
            cgi_read: server
                .cgi_read
                .iter()
                .chain(&vhost.cgi_read)
                .cloned()
                .collect(),
        }
    }
}

/// The handler of the rows `AllowConnect`, `SeccompAllow` and `RLimit*` in
/// [`super::directives::TABLE`].
pub(super) fn row(
    b: &mut super::build::Builder,
    n: &super::parse::Node,
    v: &mut super::build::VHostDraft,
) {
    if let Some(Err(m)) = v.harden.directive(&n.name.to_ascii_lowercase(), &n.args) {
        b.error(n, m);
    }
}

/// `AllowConnect PORT...|udp|none`.
pub fn parse_allow_connect(args: &[String]) -> Result<(Vec<u16>, bool), String> {
    if args.is_empty() {
        return Err("AllowConnect needs TCP port numbers, `udp` or `none`".into());
    }
    let (mut ports, mut udp) = (Vec::new(), false);
    for a in args {
        match a.to_ascii_lowercase().as_str() {
            "udp" => udp = true,
            "none" if args.len() == 1 => {}
            other => match other.parse::<u16>() {
                Ok(p) if p > 0 => ports.push(p),
                _ => {
                    return Err(format!(
                        "AllowConnect: '{a}' is not a TCP port (1-65535), `udp` or `none`"
                    ))
                }
            },
        }
    }
    ports.sort_unstable();
    ports.dedup();
    Ok((ports, udp))
}

/// `SeccompAllow NAME...`: only the names of [`SeccompRelax`].
pub fn parse_seccomp_allow(args: &[String]) -> Result<Vec<SeccompRelax>, String> {
    if args.is_empty() {
        return Err("SeccompAllow needs at least one rule name".into());
    }
    let names: Vec<&str> = SeccompRelax::ALL.iter().map(|r| r.name()).collect();
    args.iter()
        .map(|a| {
            SeccompRelax::parse(&a.to_ascii_lowercase()).ok_or_else(|| {
                format!(
                    "SeccompAllow: '{a}' cannot be lifted (only: {})",
                    names.join(", ")
                )
            })
        })
        .collect()
}

fn parse_limit(what: &str, s: &str) -> Result<Limit, String> {
    if s.eq_ignore_ascii_case("max") {
        return Ok(Limit::Max);
    }
    s.parse::<u64>()
        .map(Limit::Value)
        .map_err(|_| format!("{what}: '{s}' is not a number or 'max'"))
}

/// `RLimitX soft|max [hard|max]`.
pub fn parse_rlimit(what: &str, args: &[String]) -> Result<RLimit, String> {
    let (Some(first), true) = (args.first(), args.len() <= 2) else {
        return Err(format!(
            "{what} takes a soft limit and an optional hard limit"
        ));
    };
    let soft = parse_limit(what, first)?;
    let hard = args.get(1).map(|h| parse_limit(what, h)).transpose()?;
    if let (Limit::Value(s), Some(Limit::Value(h))) = (soft, hard) {
        if s > h {
            return Err(format!(
                "{what}: soft limit {s} is above the hard limit {h}"
            ));
        }
    }
    Ok(RLimit { soft, hard })
}

/// serde default of `Config::namespaces`.
pub fn on() -> bool {
    true
}

/// `Namespaces On|Off`.
pub fn parse_namespaces(args: &[String]) -> Result<bool, String> {
    match args {
        [a] if a.eq_ignore_ascii_case("on") => Ok(true),
        [a] if a.eq_ignore_ascii_case("off") => Ok(false),
        _ => Err("Namespaces takes On or Off".into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(s: &str) -> Vec<String> {
        s.split_whitespace().map(String::from).collect()
    }

    #[test]
    fn allow_connect_table() {
        let ok: &[(&str, (Vec<u16>, bool))] = &[
            ("443", (vec![443], false)),
            ("5432 443 443", (vec![443, 5432], false)),
            ("udp 53", (vec![53], true)),
            ("UDP", (vec![], true)),
            ("none", (vec![], false)),
        ];
        for (a, want) in ok {
            assert_eq!(parse_allow_connect(&args(a)).as_ref(), Ok(want), "{a}");
        }
        for a in ["", "0", "65536", "http", "none 80", "-1"] {
            assert!(parse_allow_connect(&args(a)).is_err(), "{a}");
        }
    }

    #[test]
    fn seccomp_allow_takes_only_liftable_rules() {
        assert_eq!(
            parse_seccomp_allow(&args("memfd_create listen")),
            Ok(vec![SeccompRelax::MemfdCreate, SeccompRelax::Listen])
        );
        for a in ["", "ptrace", "io_uring_setup", "keyctl"] {
            let e = parse_seccomp_allow(&args(a)).expect_err(a);
            assert!(
                a.is_empty() || e.contains("only: memfd_create, listen, chmod"),
                "{e}"
            );
        }
    }

    #[test]
    fn rlimit_table_follows_apache() {
        let v = Limit::Value;
        let ok: &[(&str, RLimit)] = &[
            (
                "30",
                RLimit {
                    soft: v(30),
                    hard: None,
                },
            ),
            (
                "30 60",
                RLimit {
                    soft: v(30),
                    hard: Some(v(60)),
                },
            ),
            (
                "max",
                RLimit {
                    soft: Limit::Max,
                    hard: None,
                },
            ),
            (
                "10 max",
                RLimit {
                    soft: v(10),
                    hard: Some(Limit::Max),
                },
            ),
            (
                "MAX Max",
                RLimit {
                    soft: Limit::Max,
                    hard: Some(Limit::Max),
                },
            ),
        ];
        for (a, want) in ok {
            assert_eq!(parse_rlimit("RLimitCPU", &args(a)), Ok(*want), "{a}");
        }
        for a in ["", "1 2 3", "60 30", "lots", "-1"] {
            assert!(parse_rlimit("RLimitCPU", &args(a)).is_err(), "{a}");
        }
    }

    #[test]
    fn vhost_replaces_server_which_replaces_defaults() {
        let mut server = HardenDraft::default();
        server
            .directive("rlimitcpu", &args("10 20"))
            .unwrap()
            .unwrap();
        server
            .directive("allowconnect", &args("443"))
            .unwrap()
            .unwrap();
        let mut vhost = HardenDraft::default();
        vhost
            .directive("allowconnect", &args("udp"))
            .unwrap()
            .unwrap();
        vhost
            .directive("seccompallow", &args("listen"))
            .unwrap()
            .unwrap();
        let h = HardenDraft::resolve(&server, &vhost);
        assert_eq!((h.connect_tcp.clone(), h.udp), (vec![], true));
        assert_eq!(h.seccomp_allow, vec![SeccompRelax::Listen]);
        assert_eq!(h.limits.cpu.unwrap().soft, Limit::Value(10));
        assert_eq!(h.limits.mem, Some(DEFAULT_MEM));
        assert_eq!(h.limits.nproc, None);
        let plain = HardenDraft::resolve(&HardenDraft::default(), &HardenDraft::default());
        assert_eq!(
            plain,
            Harden {
                limits: CgiLimits::default(),
                ..Harden::default()
            }
        );
        assert!(HardenDraft::default()
            .directive("listen", &args("80"))
            .is_none());
    }
}
