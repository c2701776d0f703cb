//! The request-target (RFC 9112 §3.2: origin, absolute, authority and asterisk forms, RFC
//! 3986's characters) and the Host field (§3.2.2, §7.2): the path, query and validated host
//! the rest of the server uses. Separate from the head's line and field checks because it is
//! URI syntax, with its own table of what is 400.

#![forbid(unsafe_code)]

use super::*;
use std::net::Ipv6Addr;

/// The parts of a request-target that the rest of the server uses.
pub(super) struct Target {
    pub(super) path: String,
    pub(super) query: Option<String>,
    /// Validated host from absolute-form or authority-form.
    pub(super) authority: Option<String>,
}

pub(super) fn parse_target(method: Method, target: &str) -> Result<Target, HeadError> {
    if method == Method::Connect {
        return parse_authority_form(target);
    }
    if target == "*" {
        if method != Method::Options {
            return Err(HeadError::AsteriskNotOptions {
                method: method.as_str(),
            });
        }
        return Ok(Target {
            path: "*".to_owned(),
            query: None,
            authority: None,
        });
    }
    if target.starts_with('/') {
        let (path, query) = split_path_query(target)?;
        return Ok(Target {
            path,
            query,
            authority: None,
        });
    }
    if let Some(target) = parse_absolute_form(target)? {
        return Ok(target);
    }
    if parse_host(target.as_bytes(), true, "target").is_ok() {
        return Err(HeadError::AuthorityFormNotConnect {
            method: method.as_str(),
        });
    }
    Err(HeadError::BadTarget {
        why: "neither origin-form, absolute-form nor asterisk",
    })
}

fn parse_authority_form(target: &str) -> Result<Target, HeadError> {
    let host = parse_host(target.as_bytes(), true, "target")
        .map_err(|_| HeadError::ConnectWithoutAuthority)?;
    Ok(Target {
        path: String::new(),
        query: None,
        authority: Some(host),
    })
}

/// `http[s]://authority[/path][?query]`; `Ok(None)` when `target` has no scheme at all.
fn parse_absolute_form(target: &str) -> Result<Option<Target>, HeadError> {
    let Some((scheme, rest)) = target.split_once("://") else {
        return Ok(None);
    };
    let scheme_ok = scheme.starts_with(|c: char| c.is_ascii_alphabetic())
        && scheme
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"+-.".contains(&b));
    if !scheme_ok {
        return Ok(None);
    }
    if !scheme.eq_ignore_ascii_case("http") && !scheme.eq_ignore_ascii_case("https") {
        return Err(HeadError::BadTarget {
            why: "absolute-form scheme is not http or https",
        });
    }
    let split = rest.find(['/', '?']).unwrap_or(rest.len());
    let (authority, path_query) = rest.split_at(split);
    let host = parse_host(authority.as_bytes(), false, "target")?;
    let (path, query) = match path_query {
        "" => ("/".to_owned(), None),
        pq if pq.starts_with('?') => ("/".to_owned(), split_path_query(pq)?.1),
        pq => split_path_query(pq)?,
    };
    Ok(Some(Target {
        path,
        query,
        authority: Some(host),
    }))
}

/// Split `path[?query]`, checking both hold only RFC 3986 characters and valid escapes.
fn split_path_query(target: &str) -> Result<(String, Option<String>), HeadError> {
    let (path, query) = match target.split_once('?') {
        Some((p, q)) => (p, Some(q)),
        None => (target, None),
    };
    check_uri_chars(path, false)?;
    if let Some(q) = query {
        check_uri_chars(q, true)?;
    }
    Ok((path.to_owned(), query.map(str::to_owned)))
}

fn check_uri_chars(part: &str, is_query: bool) -> Result<(), HeadError> {
    let bytes = part.as_bytes();
    for (i, &b) in bytes.iter().enumerate() {
        match b {
            b'#' => return Err(HeadError::BadTarget { why: "fragment" }),
            b'%' => {
                let escape_ok = bytes
                    .get(i + 1..i + 3)
                    .is_some_and(|h| h.iter().all(u8::is_ascii_hexdigit));
                if !escape_ok {
                    return Err(HeadError::BadTarget {
                        why: "malformed percent escape",
                    });
                }
            }
            b'?' if is_query => {}
            _ if is_pchar(b) || b == b'/' => {}
            _ => {
                return Err(HeadError::BadTarget {
                    why: "character not allowed in a URI",
                })
            }
        }
    }
    Ok(())
}

/// RFC 3986 pchar without pct-encoded (handled by the caller).
fn is_pchar(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"-._~!$&'()*+,;=:@".contains(&b)
}

/// Validate the Host field(s); returns the host to use when the target carries none.
pub(super) fn host_field(
    headers: &[(String, Vec<u8>)],
    minor: u8,
) -> Result<Option<String>, HeadError> {
    let mut hosts = values(headers, "host");
    let Some(first) = hosts.next() else {
        return match minor {
            0 => Ok(None),
            _ => Err(HeadError::MissingHost),
        };
    };
    if hosts.next().is_some() {
        return Err(HeadError::DuplicateHost);
    }
    parse_host(first, false, "Host field").map(Some)
}

/// Validate `host[:port]` and return the lowercased host without its port.
fn parse_host(value: &[u8], require_port: bool, place: &'static str) -> Result<String, HeadError> {
    let bad = |why| HeadError::InvalidHost { place, why };
    let text = std::str::from_utf8(value)
        .ok()
        .filter(|t| t.is_ascii())
        .ok_or(bad("non-ASCII byte"))?;
    let (host, port) = if text.starts_with('[') {
        let close = text.find(']').ok_or(bad("unterminated IPv6 literal"))?;
        let (literal, rest) = text.split_at(close + 1);
        check_ipv6_literal(literal).map_err(bad)?;
        (literal, rest)
    } else {
        let split = text.find(':').unwrap_or(text.len());
        let (name, rest) = text.split_at(split);
        (check_reg_name(name).map_err(bad)?, rest)
    };
    match port.strip_prefix(':') {
        Some(digits) => check_port(digits).map_err(bad)?,
        None if !port.is_empty() => return Err(bad("garbage after the host")),
        None if require_port => return Err(bad("port required")),
        None => {}
    }
    Ok(host.to_ascii_lowercase())
}

fn check_ipv6_literal(literal: &str) -> Result<(), &'static str> {
    let inner = &literal[1..literal.len() - 1];
    if inner.starts_with(['v', 'V']) {
        return Err("IPvFuture literal");
    }
    inner
        .parse::<Ipv6Addr>()
        .map(|_| ())
        .map_err(|_| "invalid IPv6 literal")
}

/// Accept DNS-style names and IPv4 addresses; returns the name without one trailing dot.
fn check_reg_name(name: &str) -> Result<&str, &'static str> {
    if name.contains('@') {
        return Err("userinfo");
    }
    let name = name.strip_suffix('.').unwrap_or(name);
    if name.is_empty() {
        return Err("empty host");
    }
    if name.len() > 253 {
        return Err("name longer than 253 bytes");
    }
    for label in name.split('.') {
        if label.is_empty() || label.len() > 63 {
            return Err("empty label or label longer than 63 bytes");
        }
        if !label
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        {
            return Err("character not allowed in a host name");
        }
    }
    Ok(name)
}

fn check_port(digits: &str) -> Result<(), &'static str> {
    let valid = !digits.is_empty()
        && digits.len() <= 5
        && digits.bytes().all(|b| b.is_ascii_digit())
        && digits.parse::<u32>().is_ok_and(|p| p <= 65535);
    if valid {
        Ok(())
    } else {
        Err("port is not a number 0-65535")
    }
}
