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

use std::net::IpAddr;

use ipnet::IpNet;

/// mod_selinux reads map lines into an 8192-byte buffer (`MAX_STRING_LEN`, NUL included).
pub const MAX_MAP_LINE: usize = 8191;

/// Who a rule applies to.
#[derive(Debug, Clone, PartialEq, Eq)]
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
#[derive(Debug, Clone, PartialEq, Eq)]
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
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Keep<T> {
    Current,
    Set(T),
}

/// `domain[:range]` as in mod_selinux `do_set_domain`.
#[derive(Debug, Clone, PartialEq, Eq)]
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
/// refused, because a confined child cannot rely on the translation daemon.
pub fn parse_selinux_target(s: &str) -> Result<SelinuxTarget, String> {
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
        Some(range) => {
            check_mls_range(range)?;
            Keep::Set(range.to_owned())
        }
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
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnixTarget {
    pub user: String,
    pub group: Option<String>,
}

/// Longest name `useradd` accepts on Linux.
const MAX_UNIX_NAME: usize = 32;

pub fn parse_unix_target(s: &str) -> Result<UnixTarget, String> {
    let (user, group) = match s.split_once(':') {
        Some((user, group)) => (user, Some(group)),
        None => (s, None),
    };
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
/// all-digit names are allowed so numeric ids can be given.
fn check_unix_name(name: &str) -> Result<(), String> {
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
