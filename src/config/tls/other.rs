//! mod_ssl's directives about things this server does differently; each keeps Apache's meaning
//! where the server already behaves that way, and otherwise gets a `-t` warning saying what is
//! lost (I3: never accepted in silence).

#![forbid(unsafe_code)]

use super::super::build::Builder;
use super::super::model::DirConf;
use super::super::parse::Node;

fn arg(n: &Node) -> &str {
    n.args.first().map_or("", String::as_str)
}

/// `SSLSessionCache none|nonenotnull|TYPE:ARGS`.
pub fn session_cache(b: &mut Builder, n: &Node) {
    let a = arg(n);
    if !(a.eq_ignore_ascii_case("none") || a.eq_ignore_ascii_case("nonenotnull")) {
        b.warn(n, format!("SSLSessionCache {a}: accepted without effect: there is no session cache, resumption is off (each child serves one connection; see docs/tls.md), as SSLSessionCache none"));
    }
}

pub fn session_cache_timeout(b: &mut Builder, n: &Node) {
    if arg(n).parse::<u64>().is_err() {
        return b.error(n, "SSLSessionCacheTimeout takes a number of seconds");
    }
    b.warn(n, "SSLSessionCacheTimeout: accepted without effect: there is no session cache, resumption is off (docs/tls.md)");
}

/// On/Off; Off is what the server does.
fn off_or_warn(b: &mut Builder, n: &Node, why: &str) {
    let a = arg(n);
    if a.eq_ignore_ascii_case("on") {
        b.warn(n, format!("{} On: accepted without effect: {why}", n.name));
    } else if !a.eq_ignore_ascii_case("off") {
        b.error(n, format!("{} takes On or Off", n.name));
    }
}

pub fn session_tickets(b: &mut Builder, n: &Node) {
    off_or_warn(b, n, "session tickets are never issued (resumption is off; docs/tls.md), as SSLSessionTickets Off");
}

pub fn compression(b: &mut Builder, n: &Node) {
    off_or_warn(
        b,
        n,
        "TLS compression (CRIME) is never offered, as SSLCompression Off",
    );
}

/// `SSLOptions [+|-]OPTION...`: `StdEnvVars` gives CGI programs mod_ssl's `SSL_*`
/// variables; the options about client certificates have nothing to act on.
pub fn options(b: &mut Builder, n: &Node, d: &mut DirConf) {
    let relative = n.args.iter().any(|a| a.starts_with(['+', '-']));
    let absolute = n.args.iter().any(|a| !a.starts_with(['+', '-']));
    if relative && absolute {
        return b.error(
            n,
            "SSLOptions: either all options with + or -, or none (Apache refuses the mix)",
        );
    }
    let mut std_env = (!relative).then_some(false);
    for a in &n.args {
        let (plus, word) = match a.strip_prefix('+') {
            Some(w) => (true, w),
            None => a
                .strip_prefix('-')
                .map_or((true, a.as_str()), |w| (false, w)),
        };
        match word.to_ascii_lowercase().as_str() {
            "stdenvvars" => std_env = Some(plus),
            "exportcertdata" | "fakebasicauth" | "strictrequire" | "optrenegotiate" | "legacydnstringformat" => {
                if plus {
                    b.warn(n, format!("SSLOptions {word}: accepted without effect: no client certificates are requested, so there is nothing for it to act on"));
                }
            }
            "compatenvvars" => return b.error(n, "SSLOptions CompatEnvVars was removed in Apache 2.2; use StdEnvVars"),
            _ => return b.error(n, format!("SSLOptions: unknown option '{word}' (StdEnvVars, ExportCertData, FakeBasicAuth, StrictRequire, OptRenegotiate, LegacyDNStringFormat)")),
        }
    }
    if std_env.is_some() {
        d.ssl_std_env_vars = std_env;
    }
}
