//! Rendering: one item's value from a [`Record`] (request and response fields, headers and
//! cookies, times through a UTC `strftime`), and Apache's `ap_escape_logitem` escaping.
//! Separate from the parser because it is what runs for every request, after confinement.

#![forbid(unsafe_code)]

use super::*;

fn dash_or(s: Option<String>) -> String {
    s.unwrap_or_else(|| "-".into())
}

pub(super) fn value(f: &Field, r: &Record<'_>) -> String {
    let esc = |s: &str| escape(s.as_bytes());
    match f {
        Field::Percent => "%".into(),
        Field::RemoteAddr { connection: false } | Field::RemoteHost => r.client.to_string(),
        Field::RemoteAddr { connection: true } => r.peer.ip().to_string(),
        Field::LocalAddr => dash_or(r.local.map(|a| a.ip().to_string())),
        Field::Bytes => r.body_bytes.to_string(),
        Field::BytesClf if r.body_bytes == 0 => "-".into(),
        Field::BytesClf => r.body_bytes.to_string(),
        Field::Cookie(name) => dash_or(cookie(r.headers_in, name).map(|v| escape(&v))),
        Field::Micros => r.elapsed.as_micros().to_string(),
        Field::Env(var) => dash_or(r.env.iter().find(|(k, _)| k == var).map(|(_, v)| esc(v))),
        Field::Ssl(var) => dash_or(r.ssl.iter().find(|(k, _)| k == var).map(|(_, v)| esc(v))),
        Field::Filename => dash_or(r.filename.map(esc)),
        Field::Protocol => esc(r.protocol),
        Field::HeaderIn(name) => dash_or(header_in(r.headers_in, name).map(|v| escape(&v))),
        Field::KeepAlives => r.keepalives.to_string(),
        Field::Logname => "-".into(),
        Field::Method => esc(r.method),
        Field::Note(n) => dash_or(r.notes.iter().find(|(k, _)| k == n).map(|(_, v)| esc(v))),
        Field::HeaderOut(name) => dash_or(
            r.headers_out
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(name))
                .map(|(_, v)| esc(v)),
        ),
        Field::Port(PortKind::Canonical) => r.server_port.to_string(),
        Field::Port(PortKind::Local) => dash_or(r.local.map(|a| a.port().to_string())),
        Field::Port(PortKind::Remote) => r.peer.port().to_string(),
        Field::Pid { hex: false } => r.pid.to_string(),
        Field::Pid { hex: true } => format!("{:x}", r.pid),
        Field::Query => r.query.map(|q| format!("?{}", esc(q))).unwrap_or_default(),
        Field::RequestLine => esc(r.request_line),
        Field::Status if r.status == 0 => "-".into(),
        Field::Status => r.status.to_string(),
        Field::Time(t) => time(t, r),
        Field::Duration(Unit::Seconds) => r.elapsed.as_secs().to_string(),
        Field::Duration(Unit::Millis) => r.elapsed.as_millis().to_string(),
        Field::Duration(Unit::Micros) => r.elapsed.as_micros().to_string(),
        Field::User => match r.user {
            None => "-".into(),
            Some("") => "\"\"".into(),
            Some(u) => esc(u),
        },
        Field::UrlPath => escape(&percent_decode(r.path)),
        Field::ServerName => esc(r.server_name),
        Field::HostName => esc(r.host.unwrap_or(r.server_name)),
        Field::ConnStatus if r.aborted => "X".into(),
        Field::ConnStatus if r.keep_alive => "+".into(),
        Field::ConnStatus => "-".into(),
        Field::BytesIn => r.bytes_in.to_string(),
        Field::BytesOut => r.bytes_out.to_string(),
        Field::BytesInOut => (r.bytes_in + r.bytes_out).to_string(),
    }
}

/// Every value of a request field, joined by `, ` as Apache merges them.
fn header_in(headers: &[(String, Vec<u8>)], name: &str) -> Option<Vec<u8>> {
    let mut out: Option<Vec<u8>> = None;
    for (_, v) in headers.iter().filter(|(k, _)| k.eq_ignore_ascii_case(name)) {
        match &mut out {
            None => out = Some(v.clone()),
            Some(o) => {
                o.extend_from_slice(b", ");
                o.extend_from_slice(v);
            }
        }
    }
    out
}

/// `%{NAME}C`: the value of cookie NAME in the Cookie field(s).
fn cookie(headers: &[(String, Vec<u8>)], name: &str) -> Option<Vec<u8>> {
    let all = header_in(headers, "Cookie")?;
    all.split(|&b| b == b';').find_map(|pair| {
        let pair = pair.strip_prefix(b" ").unwrap_or(pair);
        let eq = pair.iter().position(|&b| b == b'=')?;
        let (k, v) = (&pair[..eq], &pair[eq + 1..]);
        (k.trim_ascii() == name.as_bytes()).then(|| v.trim_ascii().to_vec())
    })
}

fn percent_decode(s: &str) -> Vec<u8> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let hex = |c: u8| (c as char).to_digit(16);
        match (b[i], b.get(i + 1).copied(), b.get(i + 2).copied()) {
            (b'%', Some(h), Some(l)) if hex(h).is_some() && hex(l).is_some() => {
                out.push((hex(h).unwrap_or(0) * 16 + hex(l).unwrap_or(0)) as u8);
                i += 3;
            }
            (c, _, _) => {
                out.push(c);
                i += 1;
            }
        }
    }
    out
}

fn time(t: &TimeFormat, r: &Record<'_>) -> String {
    let at = |end: bool| {
        if end {
            r.started + r.elapsed
        } else {
            r.started
        }
    };
    match t {
        TimeFormat::Clf => format!("[{}]", crate::http::date::clf(r.started)),
        TimeFormat::Epoch { unit, end } => {
            let d = at(*end).duration_since(UNIX_EPOCH).unwrap_or_default();
            match unit {
                EpochUnit::Sec => d.as_secs().to_string(),
                EpochUnit::Msec => d.as_millis().to_string(),
                EpochUnit::Usec => d.as_micros().to_string(),
                EpochUnit::MsecFrac => format!("{:03}", d.subsec_millis()),
                EpochUnit::UsecFrac => format!("{:06}", d.subsec_micros()),
            }
        }
        TimeFormat::Strftime { fmt, end } => strftime(fmt, at(*end)),
    }
}

/// The conversions of [`STRFTIME`] in the C locale, UTC.
fn strftime(fmt: &str, t: SystemTime) -> String {
    let c = crate::http::date::Civil::of(t);
    let mut out = String::new();
    let mut chars = fmt.chars();
    while let Some(ch) = chars.next() {
        if ch != '%' {
            out.push(ch);
            continue;
        }
        let Some(k) = chars.next() else { break };
        let s = match k {
            'a' => c.weekday_name()[..3].to_string(),
            'A' => c.weekday_name().to_string(),
            'b' => c.month_name()[..3].to_string(),
            'B' => c.month_name().to_string(),
            'd' => format!("{:02}", c.day),
            'e' => format!("{:2}", c.day),
            'F' => format!("{}-{:02}-{:02}", c.year, c.month, c.day),
            'H' => format!("{:02}", c.hour),
            'j' => format!("{:03}", c.yday),
            'm' => format!("{:02}", c.month),
            'M' => format!("{:02}", c.minute),
            'p' => (if c.hour < 12 { "AM" } else { "PM" }).to_string(),
            'S' => format!("{:02}", c.second),
            'T' => format!("{:02}:{:02}:{:02}", c.hour, c.minute, c.second),
            'u' => (if c.wday == 0 { 7 } else { c.wday }).to_string(),
            'w' => c.wday.to_string(),
            'y' => format!("{:02}", c.year.rem_euclid(100)),
            'Y' => c.year.to_string(),
            'z' => "+0000".to_string(),
            'Z' => "UTC".to_string(),
            '%' => "%".to_string(),
            other => format!("%{other}"),
        };
        out.push_str(&s);
    }
    out
}

/// Apache's `ap_escape_logitem`: `"` and `\` backslashed, `\b \n \r \t \v` as such, any other
/// byte outside printable ASCII as `\xhh`.
pub fn escape(v: &[u8]) -> String {
    let mut s = String::with_capacity(v.len());
    for &b in v {
        match b {
            b'"' => s.push_str("\\\""),
            b'\\' => s.push_str("\\\\"),
            0x08 => s.push_str("\\b"),
            b'\n' => s.push_str("\\n"),
            b'\r' => s.push_str("\\r"),
            b'\t' => s.push_str("\\t"),
            0x0b => s.push_str("\\v"),
            0x20..=0x7e => s.push(b as char),
            _ => s.push_str(&format!("\\x{b:02x}")),
        }
    }
    s
}
