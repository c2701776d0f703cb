//! Server-wide settings: where to listen, the process pool, timeouts, request limits, CGI's
//! time, and the core words whose only accepted behaviour is Apache's safest one. Separate
//! because none of these is per virtual host or per directory.

#![forbid(unsafe_code)]

use super::*;

/// `RequestReadTimeout [handshake=...] [header=T[-MAX][,MinRate=R]] [body=T[-MAX][,MinRate=R]]`, as Apache's
/// mod_reqtimeout parses it; a phase not named keeps its current setting, `0` turns it off.
pub fn parse_request_read_timeout(
    args: &[String],
    mut cur: RequestReadTimeout,
) -> Result<RequestReadTimeout, String> {
    for arg in args {
        let (key, spec) = arg
            .split_once('=')
            .ok_or_else(|| format!("RequestReadTimeout: '{arg}' is not header=... or body=..."))?;
        let phase = parse_read_timeout(spec)
            .map_err(|m| format!("RequestReadTimeout: {key}={spec}: {m}"))?;
        match key.to_ascii_lowercase().as_str() {
            "header" => cur.header = phase,
            "body" => cur.body = phase,
            "handshake" => cur.handshake = phase,
            _ => {
                return Err(format!(
                    "RequestReadTimeout: unknown phase '{key}' (handshake, header or body)"
                ))
            }
        }
    }
    Ok(cur)
}

/// `T[-MAX][,MinRate=R]`; `None` for a disabled phase (`0`).
fn parse_read_timeout(spec: &str) -> Result<Option<ReadTimeout>, String> {
    let (times, rate) = match spec.split_once(',') {
        Some((t, r)) => {
            let (_, v) = r
                .split_once('=')
                .filter(|(k, _)| k.eq_ignore_ascii_case("minrate"))
                .ok_or_else(|| format!("'{r}' is not MinRate=BYTES_PER_SECOND"))?;
            let rate: u64 = v
                .parse()
                .ok()
                .filter(|r| *r > 0)
                .ok_or_else(|| format!("MinRate '{v}' is not a positive number"))?;
            (t, Some(rate))
        }
        None => (spec, None),
    };
    let secs = |s: &str| {
        s.parse::<u64>()
            .ok()
            .filter(|n| *n <= 24 * 3600)
            .map(Duration::from_secs)
            .ok_or_else(|| format!("'{s}' is not a number of seconds (0 to 86400)"))
    };
    let (initial, max) = match times.split_once('-') {
        Some((a, b)) => (secs(a)?, Some(secs(b)?)),
        None => (secs(times)?, None),
    };
    if let Some(m) = max {
        if rate.is_none() {
            return Err("a timeout range needs MinRate".into());
        }
        if m <= initial {
            return Err("the maximum must be larger than the initial timeout".into());
        }
    }
    if initial.is_zero() {
        return match (max, rate) {
            (None, None) => Ok(None),
            _ => Err("0 turns the phase off and takes no range or MinRate".into()),
        };
    }
    Ok(Some(ReadTimeout {
        initial,
        max,
        min_rate: rate,
    }))
}

/// `Listen [addr:]port`. A bare port listens on every IPv4 address, as Apache does.
pub fn parse_listen(s: &str) -> Result<SocketAddr, String> {
    if let Ok(port) = s.parse::<u16>() {
        return Ok(SocketAddr::new(IpAddr::V4(Ipv4Addr::UNSPECIFIED), port));
    }
    s.parse::<SocketAddr>()
        .map_err(|_| format!("Listen: '{s}' is not PORT, IPv4:PORT or [IPv6]:PORT"))
}

pub fn listen(b: &mut Builder, n: &Node, cfg: &mut Config) {
    b.saw_listen = true;
    if let Some([a0, ..]) = b.args(n, 1, 2) {
        match parse_listen(a0) {
            Ok(a) if cfg.listen.contains(&a) => b.error(n, format!("Listen {a} is given twice")),
            Ok(a) => cfg.listen.push(a),
            Err(m) => b.error(n, m),
        }
    }
}

/// Read before everything else (see [`build`]); here only checked.
pub fn server_root(_: &mut Builder, _: &Node, _: &mut Config) {}

/// The cgroup and verifier directives, parsed by `config::cgroup` and `config::verifier`.
pub fn cgroup_or_verifier(b: &mut Builder, n: &Node, cfg: &mut Config) {
    let name = n.name.to_ascii_lowercase();
    let at = origin(n);
    match super::super::cgroup::server_directive(&name, &n.args, &at, cfg)
        .or_else(|| super::super::verifier::server_directive(&name, &n.args, &at, cfg))
    {
        Some(Ok(())) => {}
        Some(Err(m)) => b.error(n, m),
        None => b.error(n, format!("unknown directive '{}'", n.name)),
    }
}

/// TLS and PROXY directives: `config::tls` and `config::proxy` read them in their own
/// passes after the vhosts are built (the main pass skips them, see `is_second_pass`).
pub fn second_pass(_: &mut Builder, _: &Node) {}

pub fn pid_file(b: &mut Builder, n: &Node, cfg: &mut Config) {
    if let Some([a0]) = b.args(n, 1, 1) {
        cfg.pid_file = Some(b.path(a0));
    }
}

pub fn user(b: &mut Builder, n: &Node, cfg: &mut Config) {
    if let Some([a0]) = b.args(n, 1, 1) {
        cfg.user = Some(a0.clone());
    }
}

pub fn group(b: &mut Builder, n: &Node, cfg: &mut Config) {
    if let Some([a0]) = b.args(n, 1, 1) {
        cfg.group = Some(a0.clone());
    }
}

pub fn start_servers(b: &mut Builder, n: &Node, cfg: &mut Config) {
    set(&mut cfg.start_servers, b.number(n));
}

pub fn min_spare(b: &mut Builder, n: &Node, cfg: &mut Config) {
    set(&mut cfg.min_spare, b.number(n));
}

pub fn max_spare(b: &mut Builder, n: &Node, cfg: &mut Config) {
    set(&mut cfg.max_spare, b.number(n));
}

pub fn max_workers(b: &mut Builder, n: &Node, cfg: &mut Config) {
    set(&mut cfg.max_workers, b.number(n));
}

/// Any value: each child serves exactly one connection.
pub fn connections_per_child(b: &mut Builder, n: &Node, _: &mut Config) {
    let _: Option<u64> = b.number(n);
}

pub fn timeout(b: &mut Builder, n: &Node, cfg: &mut Config) {
    set(
        &mut cfg.timeout,
        b.number::<u64>(n).map(Duration::from_secs),
    );
}

pub fn keep_alive(b: &mut Builder, n: &Node, cfg: &mut Config) {
    set(&mut cfg.keep_alive, b.on_off(n));
}

pub fn keep_alive_timeout(b: &mut Builder, n: &Node, cfg: &mut Config) {
    set(
        &mut cfg.keep_alive_timeout,
        b.number::<u64>(n).map(Duration::from_secs),
    );
}

pub fn max_keep_alive_requests(b: &mut Builder, n: &Node, cfg: &mut Config) {
    set(&mut cfg.max_keep_alive_requests, b.number(n));
}

pub fn request_read_timeout(b: &mut Builder, n: &Node, cfg: &mut Config) {
    match parse_request_read_timeout(&n.args, cfg.request_read_timeout) {
        Ok(t) => cfg.request_read_timeout = t,
        Err(m) => b.error(n, m),
    }
}

pub fn reexec_children(b: &mut Builder, n: &Node, cfg: &mut Config) {
    set(&mut cfg.reexec_children, b.on_off(n));
}

pub fn limit_request_line(b: &mut Builder, n: &Node, cfg: &mut Config) {
    set(&mut cfg.limits.head.request_line, b.number(n));
}

pub fn limit_request_field_size(b: &mut Builder, n: &Node, cfg: &mut Config) {
    set(&mut cfg.limits.head.field_size, b.number(n));
}

pub fn limit_request_fields(b: &mut Builder, n: &Node, cfg: &mut Config) {
    set(&mut cfg.limits.head.fields, b.number(n));
}

pub fn limit_request_body(b: &mut Builder, n: &Node, cfg: &mut Config) {
    set(&mut cfg.limits.body, b.number(n));
}

pub fn cgi_script_timeout(b: &mut Builder, n: &Node, _: &mut Config) {
    if let Some(t) = b.number::<u64>(n) {
        if t == 0 {
            b.error(n, "CGIScriptTimeout must be at least 1 second");
        } else {
            b.cgi_timeout = Some(Duration::from_secs(t));
        }
    }
}

pub fn cgi_owner_check(b: &mut Builder, n: &Node, cfg: &mut Config) {
    set(&mut cfg.cgi_owner_check, b.on_off(n));
}

/// One word out of `allowed` (lowercase), or an error listing them.
fn word<'a>(b: &mut Builder, n: &Node, allowed: &[&'a str]) -> Option<&'a str> {
    let a = n.args.first()?.to_ascii_lowercase();
    let found = allowed.iter().copied().find(|w| *w == a);
    if found.is_none() {
        b.error(
            n,
            format!(
                "{}: '{}' is not one of {}",
                n.name,
                n.args.first().map(String::as_str).unwrap_or_default(),
                allowed.join(", ")
            ),
        );
    }
    found
}

pub fn server_tokens(b: &mut Builder, n: &Node) {
    let words = [
        "prod",
        "productonly",
        "major",
        "minor",
        "min",
        "minimal",
        "os",
        "full",
    ];
    match word(b, n, &words) {
        Some("prod" | "productonly") | None => {}
        Some(_) => b.warn(n, format!("ServerTokens {}: the Server header is always 'oneshot-httpd' (as ServerTokens Prod)", n.args.first().map(String::as_str).unwrap_or_default())),
    }
}

pub fn trace_enable(b: &mut Builder, n: &Node) {
    match word(b, n, &["off", "on", "extended"]) {
        Some("off") | None => {}
        Some(_) => b.warn(n, "TraceEnable: accepted without effect: TRACE is always answered 405 (as TraceEnable Off)"),
    }
}

pub fn hostname_lookups(b: &mut Builder, n: &Node) {
    match word(b, n, &["off", "on", "double"]) {
        Some("off") | None => {}
        Some(_) => b.warn(n, "HostnameLookups: accepted without effect: client addresses are never looked up (logs show addresses, as HostnameLookups Off)"),
    }
}

pub fn server_signature(b: &mut Builder, n: &Node) {
    match word(b, n, &["off", "on", "email"]) {
        Some("off") | None => {}
        Some(_) => b.warn(n, "ServerSignature: accepted without effect: generated pages carry no signature line (as ServerSignature Off)"),
    }
}
