//! Stage: configuration load (pure, no I/O). Parses mod_selinux `selinuxDomainMap`
//! files and the two kinds of target this server can transition into.
//!
//! Compatibility with kaigai/mod_selinux (`selinux_lookup_mapfile`):
//! * everything from the first `#` on a line is a comment (whole-line and trailing);
//! * fields are separated by any run of space, tab or CR;
//! * a line holds exactly `IDENT TARGET`; mod_selinux logs and skips a malformed line,
//!   we reject the whole file instead (fail closed, every bad line is reported);
//! * `*` matches everyone, `__anonymous__` only unauthenticated requests, anything
//!   else is a case-sensitive user name.
//!
//! Extensions (not in mod_selinux, where such a token would be a user name that can
//! never authenticate): an IP address or CIDR network matches the peer address, and
//! a leading `!` negates a network. `!` is refused in front of anything that is not a
//! network, so `!alice` is an error rather than a silently dead rule. A token that
//! looks like an address (contains `:` or `/`, or is only digits and dots) must parse
//! as one; a typo therefore fails loudly instead of becoming an unmatchable user.
//!
//! Invariants: a successfully parsed map contains only well-formed identities and
//! targets; rules keep file order and their 1-based line number.
#![forbid(unsafe_code)]
#![deny(
    clippy::indexing_slicing,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic
)]

use std::net::IpAddr;

use ipnet::IpNet;

/// mod_selinux reads map lines into an 8192-byte buffer (`MAX_STRING_LEN`, NUL included).
pub const MAX_MAP_LINE: usize = 8191;

/// Who a rule applies to.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Ident {
    /// An authenticated user with exactly this name.
    User(String),
    /// `*`: every request, authenticated or not.
    Anyone,
    /// `__anonymous__`: requests without an authenticated user.
    Anonymous,
    /// A peer address range; with `negated`, every peer outside it.
    Net { net: IpNet, negated: bool },
}

impl Ident {
    /// Whether a request from `peer`, authenticated as `user` (None = anonymous),
    /// falls under this identity.
    pub fn matches(&self, user: Option<&str>, peer: IpAddr) -> bool {
        match self {
            Ident::Anyone => true,
            Ident::Anonymous => user.is_none(),
            Ident::User(name) => user == Some(name.as_str()),
            Ident::Net { net, negated } => net_contains(net, peer) != *negated,
        }
    }
}

/// One `IDENT TARGET` line.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Rule<T> {
    pub line: usize,
    pub ident: Ident,
    pub target: T,
}

/// A malformed map line; the caller prefixes the file name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: {message}")]
pub struct MapError {
    pub line: usize,
    pub message: String,
}

/// Parses a whole map file, reporting every bad line rather than the first.
pub fn parse_map<T>(
    text: &str,
    parse_target: impl Fn(&str) -> Result<T, String>,
) -> Result<Vec<Rule<T>>, Vec<MapError>> {
    let mut rules = Vec::new();
    let mut errors = Vec::new();
    for (index, raw) in text.split('\n').enumerate() {
        let line = index + 1;
        match parse_line(raw, &parse_target) {
            Ok(Some((ident, target))) => rules.push(Rule {
                line,
                ident,
                target,
            }),
            Ok(None) => {}
            Err(message) => errors.push(MapError { line, message }),
        }
    }
    if errors.is_empty() {
        Ok(rules)
    } else {
        Err(errors)
    }
}

fn parse_line<T>(
    raw: &str,
    parse_target: &impl Fn(&str) -> Result<T, String>,
) -> Result<Option<(Ident, T)>, String> {
    if raw.len() > MAX_MAP_LINE {
        return Err(format!(
            "line is {} bytes, longer than {MAX_MAP_LINE}",
            raw.len()
        ));
    }
    let content = raw.split('#').next().unwrap_or_default();
    let mut fields = content
        .split([' ', '\t', '\r'])
        .filter(|field| !field.is_empty());
    let Some(ident) = fields.next() else {
        return Ok(None);
    };
    let Some(target) = fields.next() else {
        return Err(format!("'{ident}' has no target (expected `IDENT TARGET`)"));
    };
    if fields.next().is_some() {
        return Err("more than two fields (expected `IDENT TARGET`)".to_owned());
    }
    let ident = parse_ident(ident)?;
    let target = parse_target(target).map_err(|why| format!("target '{target}': {why}"))?;
    Ok(Some((ident, target)))
}

/// Parses the left-hand side of a map line.
pub fn parse_ident(token: &str) -> Result<Ident, String> {
    match token {
        "*" => return Ok(Ident::Anyone),
        "__anonymous__" => return Ok(Ident::Anonymous),
        _ => {}
    }
    if let Some(rest) = token.strip_prefix('!') {
        let net = parse_net(rest)
            .map_err(|why| format!("'{token}': '!' negates only addresses/networks ({why})"))?;
        return Ok(Ident::Net { net, negated: true });
    }
    if looks_like_address(token) {
        let net = parse_net(token).map_err(|why| format!("'{token}': {why}"))?;
        return Ok(Ident::Net {
            net,
            negated: false,
        });
    }
    check_user_name(token).map_err(|why| format!("user '{token}': {why}"))?;
    Ok(Ident::User(token.to_owned()))
}

fn looks_like_address(token: &str) -> bool {
    token.contains([':', '/'])
        || (token.contains('.') && token.bytes().all(|b| b.is_ascii_digit() || b == b'.'))
}

/// A user name that Basic authentication can actually produce.
pub fn check_user_name(name: &str) -> Result<(), String> {
    if name.is_empty() {
        return Err("empty user name".to_owned());
    }
    if name.contains(':') {
        return Err("user names cannot contain ':'".to_owned());
    }
    if name.chars().any(char::is_control) {
        return Err("user name contains a control character".to_owned());
    }
    Ok(())
}

/// Parses `ADDR` (a single host) or `ADDR/PREFIX`. Host bits below the prefix are an
/// error because `10.1.2.3/8` usually means the author expected something else.
pub fn parse_net(text: &str) -> Result<IpNet, String> {
    if text.contains('/') {
        let net: IpNet = text
            .parse()
            .map_err(|_| format!("'{text}' is not an address/prefix network"))?;
        if net.trunc() != net {
            return Err(format!(
                "'{text}' has host bits set below the prefix (network is {})",
                net.trunc()
            ));
        }
        Ok(net)
    } else {
        let addr: IpAddr = text
            .parse()
            .map_err(|_| format!("'{text}' is not an IPv4 or IPv6 address"))?;
        Ok(IpNet::from(addr))
    }
}

/// Containment that treats an IPv4 peer and its IPv4-mapped IPv6 form
/// (`::ffff:a.b.c.d`, what a dual-stack listener reports) as the same host.
pub fn net_contains(net: &IpNet, peer: IpAddr) -> bool {
    net.contains(&peer) || other_form(peer).is_some_and(|alt| net.contains(&alt))
}

fn other_form(peer: IpAddr) -> Option<IpAddr> {
    match peer {
        IpAddr::V4(v4) => Some(IpAddr::V6(v4.to_ipv6_mapped())),
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map(IpAddr::V4),
    }
}

/// A part of the current context to keep (`*`) or replace.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Keep<T> {
    Current,
    Set(T),
}

/// `domain[:range]` as in mod_selinux `do_set_domain`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct SelinuxTarget {
    pub domain: Keep<String>,
    pub range: Keep<String>,
}

impl SelinuxTarget {
    /// `*` or `*:*` changes nothing: the handler would run in the server's own
    /// context. mod_selinux allows it; the caller decides whether to refuse it.
    pub fn is_noop(&self) -> bool {
        self.domain == Keep::Current && self.range == Keep::Current
    }
}

/// Splits at the FIRST `:` (an MLS range may itself contain `:`). `*` keeps that part
/// of the current context; without `:` only the domain changes. Ranges must be raw
/// MLS syntax (`s0`, `s0:c1,c3`, `s0-s0:c0.c1023`); translated (mcstrans) names are
/// refused here, because a confined child cannot rely on the translation daemon: the
/// configuration and map files are translated when they are loaded
/// ([`parse_selinux_target_with`]).
pub fn parse_selinux_target(s: &str) -> Result<SelinuxTarget, String> {
    parse_selinux_target_with(s, &|_| {
        Err("translated (mcstrans) names are translated only where the configuration and map files are loaded: write the raw range".into())
    })
}

/// As [`parse_selinux_target`], but a range that is not raw MLS syntax is given to
/// `translate` (mcstrans names such as `SystemLow`, `s0-SystemHigh`, names from setrans.conf),
/// whose answer must be raw syntax. `translate` says why it cannot translate.
pub fn parse_selinux_target_with(
    s: &str,
    translate: &dyn Fn(&str) -> Result<String, String>,
) -> Result<SelinuxTarget, String> {
    let (domain, range) = match s.split_once(':') {
        Some((domain, range)) => (domain, Some(range)),
        None => (s, None),
    };
    let domain = match domain {
        "*" => Keep::Current,
        _ => {
            check_type(domain)?;
            Keep::Set(domain.to_owned())
        }
    };
    let range = match range {
        None | Some("*") => Keep::Current,
        Some(range) => match check_mls_range(range) {
            Ok(()) => Keep::Set(range.to_owned()),
            Err(why) => {
                let raw = translate(range).map_err(|t| format!("{why}; {t}"))?;
                check_mls_range(&raw).map_err(|w| {
                    format!("'{range}' is not a raw range and mcstrans did not translate it (it came back as '{raw}': {w}); is the name in setrans.conf and mcstransd running?")
                })?;
                Keep::Set(raw)
            }
        },
    };
    Ok(SelinuxTarget { domain, range })
}

/// checkpolicy identifier syntax: a letter, then letters, digits, `_`, `-`, and
/// single dots that are not last.
fn check_type(domain: &str) -> Result<(), String> {
    let bad = || format!("'{domain}' is not an SELinux type name");
    let mut bytes = domain.bytes();
    if !bytes.next().is_some_and(|b| b.is_ascii_alphabetic()) {
        return Err(bad());
    }
    if !bytes.all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.')) {
        return Err(bad());
    }
    if domain.ends_with('.') || domain.contains("..") {
        return Err(bad());
    }
    Ok(())
}

/// `LEVEL[-LEVEL]`, LEVEL = `sN[:CATS]`, CATS = `cN[.cM]` joined by `,`.
fn check_mls_range(range: &str) -> Result<(), String> {
    let mut levels = range.split('-');
    let (low, high) = (levels.next(), levels.next());
    if levels.next().is_some() {
        return Err(format!("'{range}' has more than two levels"));
    }
    for level in [low, high].into_iter().flatten() {
        check_mls_level(level).map_err(|why| format!("MLS range '{range}': {why}"))?;
    }
    Ok(())
}

fn check_mls_level(level: &str) -> Result<(), String> {
    let (sensitivity, categories) = match level.split_once(':') {
        Some((s, c)) => (s, Some(c)),
        None => (level, None),
    };
    numbered(sensitivity, 's').map_err(|why| format!("sensitivity {why}"))?;
    let Some(categories) = categories else {
        return Ok(());
    };
    for item in categories.split(',') {
        check_category_item(item).map_err(|why| format!("category {why}"))?;
    }
    Ok(())
}

fn check_category_item(item: &str) -> Result<(), String> {
    match item.split_once('.') {
        None => numbered(item, 'c').map(drop),
        Some((low, high)) => {
            let (low_n, high_n) = (numbered(low, 'c')?, numbered(high, 'c')?);
            if low_n < high_n {
                Ok(())
            } else {
                Err(format!("range '{item}' is not increasing"))
            }
        }
    }
}

/// `PREFIX` followed by a decimal without leading zeros, e.g. `s0`, `c1023`.
fn numbered(token: &str, prefix: char) -> Result<u16, String> {
    let bad = || format!("'{token}' is not {prefix}<number>");
    let digits = token.strip_prefix(prefix).ok_or_else(bad)?;
    let canonical = !digits.is_empty()
        && digits.bytes().all(|b| b.is_ascii_digit())
        && (digits == "0" || !digits.starts_with('0'));
    if !canonical {
        return Err(bad());
    }
    digits.parse().map_err(|_| bad())
}

/// `unixuser[:group]` for user-ID maps; the names are resolved later, by the loader.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct UnixTarget {
    pub user: String,
    pub group: Option<String>,
}

/// Longest name `useradd` accepts on Linux.
const MAX_UNIX_NAME: usize = 32;

/// The map target `=`: "the unix account whose name is the authenticated user's", resolved
/// per request (`child::decide`), never for anonymous requests, never to a system account
/// (docs/pam.md).
pub const SAME_NAME: &str = "=";

impl UnixTarget {
    /// Whether this is the `=` target.
    pub fn is_same_name(&self) -> bool {
        self.user == SAME_NAME
    }
}

/// mpm-itk's numeric form `#N`: Some(N) for `#` and decimal digits that fit a uid (not
/// 4294967295, which is -1 to set*id), None for anything else (a name).
pub fn numeric_id(name: &str) -> Option<u32> {
    let digits = name.strip_prefix('#')?;
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse::<u32>().ok().filter(|&n| n != u32::MAX)
}

pub fn parse_unix_target(s: &str) -> Result<UnixTarget, String> {
    if s == SAME_NAME {
        return Ok(UnixTarget {
            user: SAME_NAME.to_owned(),
            group: None,
        });
    }
    let (user, group) = match s.split_once(':') {
        Some((user, group)) => (user, Some(group)),
        None => (s, None),
    };
    if user == SAME_NAME {
        return Err(format!(
            "'{s}': the target {SAME_NAME} (the account of the user's own name) takes no group"
        ));
    }
    check_unix_name(user).map_err(|why| format!("user {why}"))?;
    if let Some(group) = group {
        check_unix_name(group).map_err(|why| format!("group {why}"))?;
    }
    Ok(UnixTarget {
        user: user.to_owned(),
        group: group.map(str::to_owned),
    })
}

/// POSIX portable names (letters, digits, `.`, `_`, `-`, not starting with `-`);
/// all-digit names are allowed so numeric ids can be given. mpm-itk's `#N` (a numeric uid or
/// gid, as `AssignUserID "#1001" "#1001"`) is accepted too: [`numeric_id`] reads it.
fn check_unix_name(name: &str) -> Result<(), String> {
    if let Some(digits) = name.strip_prefix('#') {
        return numeric_id(name)
            .map(|_| ())
            .ok_or_else(|| format!("'#{digits}' is not a numeric id (#0..#4294967294)"));
    }
    let portable = name
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'));
    if name.is_empty() || name.len() > MAX_UNIX_NAME || !portable || name.starts_with('-') {
        return Err(format!(
            "'{name}' is not a portable name of 1..={MAX_UNIX_NAME} characters"
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// mcstrans names: a range that is not raw syntax goes to the translator, whose answer
    /// must be raw; the translator's table is written from mcstrans's default setrans.conf
    /// for MCS (`s0=SystemLow`, `s0-s0:c0.c1023=SystemLow-SystemHigh`, `s0:c0.c1023=SystemHigh`).
    #[test]
    fn translated_ranges_table() {
        let mcstrans = |r: &str| -> Result<String, String> {
            Ok(match r {
                "SystemLow" => "s0".into(),
                "SystemLow-SystemHigh" => "s0-s0:c0.c1023".into(),
                "s0-SystemHigh" => "s0-s0:c0.c1023".into(),
                other => other.into(), // what libselinux gives back when it cannot translate
            })
        };
        let set = |d: &str, r: &str| SelinuxTarget {
            domain: Keep::Set(d.into()),
            range: Keep::Set(r.into()),
        };
        let ok = [
            ("anon_webapp_t:SystemLow", set("anon_webapp_t", "s0")),
            (
                "anon_webapp_t:s0-SystemHigh",
                set("anon_webapp_t", "s0-s0:c0.c1023"),
            ),
            ("web_t:SystemLow-SystemHigh", set("web_t", "s0-s0:c0.c1023")),
            ("web_t:s0:c1,c3", set("web_t", "s0:c1,c3")), // raw: never sent to the translator
        ];
        for (text, want) in ok {
            assert_eq!(
                parse_selinux_target_with(text, &mcstrans),
                Ok(want),
                "{text}"
            );
        }
        let e = parse_selinux_target_with("web_t:Secret", &mcstrans).expect_err("untranslated");
        assert!(e.contains("mcstrans did not translate it"), "{e}");
        let none = |_: &str| -> Result<String, String> { Err("needs SELinux".into()) };
        let e = parse_selinux_target_with("web_t:SystemLow", &none).expect_err("no translator");
        assert!(e.contains("needs SELinux"), "{e}");
        // Without a translator (request-time values), names are refused.
        assert!(parse_selinux_target("web_t:SystemLow").is_err());
        assert!(parse_selinux_target_with("web_t:s0", &none).is_ok());
    }

    #[test]
    fn same_name_target() {
        let t = parse_unix_target("=").expect("=");
        assert!(t.is_same_name() && t.group.is_none());
        for bad in ["=:www-data", "=x", "x=", "==", "= "] {
            assert!(parse_unix_target(bad).is_err(), "{bad}");
        }
        assert!(!parse_unix_target("alice").unwrap().is_same_name());
    }

    fn net(text: &str) -> IpNet {
        text.parse().unwrap()
    }

    #[test]
    fn ident_forms() {
        let user = |n: &str| Ident::User(n.to_owned());
        let pos = |n: &str| Ident::Net {
            net: net(n),
            negated: false,
        };
        let neg = |n: &str| Ident::Net {
            net: net(n),
            negated: true,
        };
        let cases: &[(&str, Ident)] = &[
            ("alice", user("alice")),
            ("Alice.Smith-2", user("Alice.Smith-2")),
            ("1234", user("1234")),
            ("caf\u{e9}", user("caf\u{e9}")),
            ("*", Ident::Anyone),
            ("__anonymous__", Ident::Anonymous),
            ("192.168.1.0/24", pos("192.168.1.0/24")),
            ("10.0.0.1", pos("10.0.0.1/32")),
            ("2001:db8::/32", pos("2001:db8::/32")),
            ("::1", pos("::1/128")),
            ("::ffff:10.0.0.0/104", pos("::ffff:10.0.0.0/104")),
            ("0.0.0.0/0", pos("0.0.0.0/0")),
            ("!10.0.0.0/8", neg("10.0.0.0/8")),
            ("!::1", neg("::1/128")),
        ];
        for (token, expected) in cases {
            assert_eq!(&parse_ident(token).unwrap(), expected, "{token}");
        }
    }

    #[test]
    fn ident_errors() {
        let cases: &[(&str, &str)] = &[
            ("!alice", "negates only"),
            ("!*", "negates only"),
            ("!", "negates only"),
            ("10.0.0", "not an IPv4 or IPv6"),
            ("10.0.0.1/33", "not an address/prefix"),
            ("10.0.0.1/24", "host bits"),
            ("fe80::1%eth0", "not an IPv4 or IPv6"),
            ("alice:x", "not an IPv4 or IPv6"),
            ("al\u{1}ice", "control character"),
        ];
        for (token, expected) in cases {
            let err = parse_ident(token).expect_err(token);
            assert!(
                err.contains(expected),
                "{token}: '{err}' lacks '{expected}'"
            );
        }
    }

    #[test]
    fn matching_with_negation_and_mapped_addresses() {
        let ip = |s: &str| s.parse::<IpAddr>().unwrap();
        let cases: &[(&str, Option<&str>, &str, bool)] = &[
            ("*", None, "192.0.2.1", true),
            ("*", Some("alice"), "192.0.2.1", true),
            ("__anonymous__", None, "192.0.2.1", true),
            ("__anonymous__", Some("alice"), "192.0.2.1", false),
            ("alice", Some("alice"), "192.0.2.1", true),
            ("alice", Some("Alice"), "192.0.2.1", false),
            ("alice", None, "192.0.2.1", false),
            ("192.0.2.0/24", None, "192.0.2.1", true),
            ("192.0.2.0/24", Some("bob"), "192.0.2.1", true),
            ("192.0.2.0/24", None, "::ffff:192.0.2.1", true),
            ("192.0.2.0/24", None, "192.0.3.1", false),
            ("192.0.2.0/24", None, "::ffff:192.0.3.1", false),
            ("::ffff:192.0.2.0/120", None, "192.0.2.9", true),
            ("!192.0.2.0/24", None, "192.0.2.1", false),
            ("!192.0.2.0/24", None, "::ffff:192.0.2.1", false),
            ("!192.0.2.0/24", None, "192.0.3.1", true),
            ("!192.0.2.0/24", None, "2001:db8::1", true),
            ("2001:db8::/32", None, "2001:db8:1::1", true),
            ("2001:db8::/32", None, "2001:db9::1", false),
            ("::1", None, "::1", true),
            ("::1", None, "127.0.0.1", false),
        ];
        for (token, user, peer, expected) in cases {
            let ident = parse_ident(token).unwrap();
            assert_eq!(
                ident.matches(*user, ip(peer)),
                *expected,
                "{token} user={user:?} peer={peer}"
            );
        }
    }

    #[test]
    fn selinux_targets() {
        let set = |s: &str| Keep::Set(s.to_owned());
        let cases: &[(&str, Keep<String>, Keep<String>)] = &[
            ("user_webapp_t:s0:c0", set("user_webapp_t"), set("s0:c0")),
            ("*:s0:c0", Keep::Current, set("s0:c0")),
            ("anon_webapp_t", set("anon_webapp_t"), Keep::Current),
            ("staff_t:*", set("staff_t"), Keep::Current),
            ("*", Keep::Current, Keep::Current),
            ("*:*", Keep::Current, Keep::Current),
            ("*:s0-s0:c0.c15", Keep::Current, set("s0-s0:c0.c15")),
            ("x_t:s0:c0,c2,c5.c9", set("x_t"), set("s0:c0,c2,c5.c9")),
            (
                "x.y-z_t:s1-s2:c0.c1023",
                set("x.y-z_t"),
                set("s1-s2:c0.c1023"),
            ),
        ];
        for (text, domain, range) in cases {
            let target = parse_selinux_target(text).unwrap_or_else(|e| panic!("{text}: {e}"));
            assert_eq!(&target.domain, domain, "{text}");
            assert_eq!(&target.range, range, "{text}");
            assert_eq!(target.is_noop(), text.starts_with("*") && text.len() <= 3);
        }
    }

    #[test]
    fn selinux_target_errors() {
        let cases: &[(&str, &str)] = &[
            ("*::s0:c1", "sensitivity"),
            (":s0", "type name"),
            ("x_t:", "sensitivity"),
            ("user_u:role_r:type_t:s0", "sensitivity"),
            ("x_t:s0:c3.c1", "not increasing"),
            ("x_t:s0:c2.c2", "not increasing"),
            ("x_t:s0:c01", "category"),
            ("x_t:s0:c0.", "category"),
            ("x_t:s0:", "category"),
            ("x_t:SystemLow", "sensitivity"),
            ("x_t:s0-s1-s2", "more than two"),
            ("x_t:s99999999", "sensitivity"),
            ("1abc_t", "type name"),
            ("a..b_t", "type name"),
            ("abc_t.", "type name"),
            ("ab$c", "type name"),
        ];
        for (text, expected) in cases {
            let err = parse_selinux_target(text).expect_err(text);
            assert!(err.contains(expected), "{text}: '{err}' lacks '{expected}'");
        }
    }

    #[test]
    fn unix_targets() {
        let ok: &[(&str, &str, Option<&str>)] = &[
            ("www-data", "www-data", None),
            ("alice:staff", "alice", Some("staff")),
            ("1001:1001", "1001", Some("1001")),
            ("_svc.web", "_svc.web", None),
        ];
        for (text, user, group) in ok {
            let target = parse_unix_target(text).unwrap_or_else(|e| panic!("{text}: {e}"));
            assert_eq!(target.user, *user);
            assert_eq!(target.group.as_deref(), *group);
        }
        let long = "a".repeat(MAX_UNIX_NAME + 1);
        let bad: &[(&str, &str)] = &[
            ("", "user"),
            ("alice:", "group"),
            (":staff", "user"),
            ("-x", "user"),
            ("alice:-g", "group"),
            ("a:b:c", "group"),
            ("caf\u{e9}", "user"),
            ("*", "user"),
            (&long, "user"),
        ];
        for (text, expected) in bad {
            let err = parse_unix_target(text).expect_err(text);
            assert!(err.starts_with(expected), "{text}: '{err}'");
        }
    }

    /// Written in the layout of mod_selinux's shipped `mod_selinux.map` and of the
    /// example in its README: `#` header block, tab-separated fields, `*` keeping the
    /// domain, `__anonymous__`, trailing comments, CRLF line ends.
    const MOD_SELINUX_STYLE: &str = "#\n\
        # user <--> domain/range mapping\n\
        # (Format)\n\
        # <http user>\t\t<domain>:<range>\n\
        #\n\
        \n\
        kenji\t\t*:s0:c0\n\
        hana\t\t\tstaff_webapp_t:s0:c2   # trailing comment\r\n\
        __anonymous__\t\tanon_webapp_t:s0\n\
        *\t\t\tuser_webapp_t:s0-s0:c0.c15\n\
        \t  \r\n";

    #[test]
    fn mod_selinux_layout_loads_unchanged() {
        let rules = parse_map(MOD_SELINUX_STYLE, parse_selinux_target).unwrap();
        let summary: Vec<(usize, &Ident)> = rules.iter().map(|r| (r.line, &r.ident)).collect();
        assert_eq!(
            summary,
            [
                (7, &Ident::User("kenji".into())),
                (8, &Ident::User("hana".into())),
                (9, &Ident::Anonymous),
                (10, &Ident::Anyone),
            ]
        );
        assert_eq!(rules[0].target.domain, Keep::Current);
        assert_eq!(rules[1].target.range, Keep::Set("s0:c2".into()));
    }

    #[test]
    fn comment_only_map_is_empty() {
        let rules = parse_map("#\n# only comments\n#\n", parse_selinux_target).unwrap();
        assert!(rules.is_empty());
    }

    #[test]
    fn every_bad_line_is_reported() {
        let text = format!(
            "alice\n\
             bob x_t:s0 extra\n\
             carol#x_t:s0\n\
             !dave x_t:s0\n\
             erin x_t:s0:c9.c1\n\
             ok_user x_t\n\
             {} x_t\n",
            "a".repeat(MAX_MAP_LINE)
        );
        let errors = parse_map(&text, parse_selinux_target).unwrap_err();
        let rendered: Vec<String> = errors.iter().map(ToString::to_string).collect();
        assert_eq!(
            errors.iter().map(|e| e.line).collect::<Vec<_>>(),
            [1, 2, 3, 4, 5, 7]
        );
        assert!(
            rendered[0].starts_with("line 1: 'alice' has no target"),
            "{rendered:?}"
        );
        assert!(rendered[1].contains("more than two fields"), "{rendered:?}");
        assert!(
            rendered[2].contains("'carol' has no target"),
            "{rendered:?}"
        );
        assert!(rendered[3].contains("negates only"), "{rendered:?}");
        assert!(
            rendered[4].starts_with("line 5: target 'x_t:s0:c9.c1'"),
            "{rendered:?}"
        );
        assert!(rendered[5].contains("longer than"), "{rendered:?}");
    }

    #[test]
    fn unix_maps_use_the_same_line_syntax() {
        let rules = parse_map("alice www-data:web\n* nobody\n", parse_unix_target).unwrap();
        assert_eq!(rules.len(), 2);
        assert_eq!(rules[0].target.group.as_deref(), Some("web"));
        assert_eq!(rules[1].ident, Ident::Anyone);
    }
}
