//! Apache's `LogFormat` language (mod_log_config, mod_logio): parsing a format string into
//! items, and rendering one access line from a [`Record`]. Pure: no I/O, no clock, no
//! process state; the child fills a `Record` and writes the line itself.
//!
//! What a line looks like follows Apache 2.4 item by item: `-` for a value that is absent,
//! `ap_escape_logitem` escaping of anything that came from the request or the response
//! (`\"`, `\\`, `\b \n \r \t \v`, other non-printable bytes as `\xhh`), literal text copied
//! with only `\n`, `\r`, `\t` and `\\` interpreted, status conditions (`%400,501{User-Agent}i`,
//! `%!200,304{Referer}i`) replacing the item by `-`. Times are UTC (a confined child has no
//! timezone database), so `%t` ends in `+0000`. Items Apache has and this server cannot fill
//! (`%L`, `%R`, `%^ti`...) are refused when the configuration is read, never logged as `-`.
#![forbid(unsafe_code)]

use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

mod render;

pub use render::escape;
use render::value;

/// A parsed format: render it with [`Format::render`].
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Format {
    items: Vec<Item>,
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
enum Item {
    Literal(String),
    Field {
        /// Statuses the item is logged for (or, negated, not logged for); `-` otherwise.
        cond: Option<(bool, Vec<u16>)>,
        field: Field,
    },
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
enum Field {
    /// `%%`
    Percent,
    /// `%a` (the client, after PROXY/RemoteIP) or `%{c}a` (the connection's peer).
    RemoteAddr { connection: bool },
    /// `%A`
    LocalAddr,
    /// `%B`
    Bytes,
    /// `%b`: `-` for no body bytes.
    BytesClf,
    /// `%{NAME}C`
    Cookie(String),
    /// `%D`
    Micros,
    /// `%{VAR}e`
    Env(String),
    /// `%f`
    Filename,
    /// `%h` (HostnameLookups is off: the address)
    RemoteHost,
    /// `%H`
    Protocol,
    /// `%{Field}i`
    HeaderIn(String),
    /// `%{VAR}x`: one of mod_ssl's variables ([`SSL_VARS`]); `-` on a plain connection.
    Ssl(String),
    /// `%k`
    KeepAlives,
    /// `%l`: identd is never asked.
    Logname,
    /// `%m`
    Method,
    /// `%{note}n`: `ctx` and `rule`.
    Note(String),
    /// `%{Field}o`
    HeaderOut(String),
    /// `%p`, `%{canonical}p`, `%{local}p`, `%{remote}p`
    Port(PortKind),
    /// `%P`, `%{pid}P`, `%{tid}P`, `%{hextid}P`
    Pid { hex: bool },
    /// `%q`
    Query,
    /// `%r`
    RequestLine,
    /// `%s` / `%>s` / `%<s` (no internal redirect changes the status here)
    Status,
    /// `%t`, `%{...}t`
    Time(TimeFormat),
    /// `%T`, `%{s|ms|us}T`
    Duration(Unit),
    /// `%u`
    User,
    /// `%U`
    UrlPath,
    /// `%v`
    ServerName,
    /// `%V`
    HostName,
    /// `%X`
    ConnStatus,
    /// `%I` (mod_logio)
    BytesIn,
    /// `%O`
    BytesOut,
    /// `%S`
    BytesInOut,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
enum PortKind {
    Canonical,
    Local,
    Remote,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
enum Unit {
    Seconds,
    Millis,
    Micros,
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
enum TimeFormat {
    /// `[10/Oct/2000:13:55:36 +0000]`
    Clf,
    /// `%{sec}t` and friends; `end` for the `end:` prefix.
    Epoch { unit: EpochUnit, end: bool },
    /// A strftime string (the conversions in [`STRFTIME`]).
    Strftime { fmt: String, end: bool },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
enum EpochUnit {
    Sec,
    Msec,
    Usec,
    MsecFrac,
    UsecFrac,
}

/// strftime conversions `%{...}t` may use.
pub const STRFTIME: &str = "aAbBdeFHjmMpSTuwyYzZ%";

/// Why a format string is refused (Apache's wording where it has one).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FormatError {
    #[error("Unrecognized LogFormat directive %{0}")]
    Unknown(char),
    #[error("%{0} is Apache's but this server cannot fill it ({1})")]
    Unsupported(char, &'static str),
    #[error("%{{{arg}}}{letter}: '{arg}' is not an argument %{letter} takes")]
    BadArgument { letter: char, arg: String },
    #[error("Ran off end of LogFormat parsing args to some directive")]
    RanOff,
    #[error("status condition {0} is not an HTTP status")]
    BadStatus(u64),
    #[error("%{{...}}t: strftime conversion %{0} is not supported (use {STRFTIME:?})")]
    Strftime(char),
}

/// Everything one access line may show; the child fills it.
#[derive(Debug, Clone)]
pub struct Record<'a> {
    /// The client (after a PROXY header); `%h`, `%a`.
    pub client: IpAddr,
    /// The TCP peer; `%{c}a`, `%{remote}p`.
    pub peer: SocketAddr,
    /// The local end; `%A`, `%{local}p`.
    pub local: Option<SocketAddr>,
    pub user: Option<&'a str>,
    /// The request line as sent (`-` for none).
    pub request_line: &'a str,
    pub method: &'a str,
    pub protocol: &'a str,
    /// The path as sent, still percent-encoded, without the query.
    pub path: &'a str,
    pub query: Option<&'a str>,
    pub filename: Option<&'a str>,
    /// 0 when nothing was sent.
    pub status: u16,
    pub body_bytes: u64,
    pub bytes_in: u64,
    pub bytes_out: u64,
    pub headers_in: &'a [(String, Vec<u8>)],
    pub headers_out: &'a [(String, String)],
    pub notes: &'a [(&'a str, &'a str)],
    pub env: &'a [(&'a str, &'a str)],
    /// mod_ssl's variables of the connection (`%{VAR}x`), empty on a plain one.
    pub ssl: &'a [(&'a str, &'a str)],
    /// The vhost's ServerName (`%v`).
    pub server_name: &'a str,
    /// The Host the client asked for (`%V`); the ServerName without one.
    pub host: Option<&'a str>,
    /// The port of the listener the request came in on (`%p`).
    pub server_port: u16,
    pub pid: u32,
    /// Requests served on this connection before this one (`%k`).
    pub keepalives: usize,
    pub keep_alive: bool,
    pub aborted: bool,
    /// When the request's first byte was read, and how long serving it took.
    pub started: SystemTime,
    pub elapsed: Duration,
}

impl Format {
    /// Parses `s` as `LogFormat` does.
    pub fn parse(s: &str) -> Result<Format, FormatError> {
        let mut items = Vec::new();
        let mut rest = s;
        while !rest.is_empty() {
            match rest.strip_prefix('%') {
                Some(after) => {
                    let (item, r) = parse_item(after)?;
                    items.push(item);
                    rest = r;
                }
                None => {
                    let end = rest.find('%').unwrap_or(rest.len());
                    items.push(Item::Literal(unescape_literal(&rest[..end])));
                    rest = &rest[end..];
                }
            }
        }
        Ok(Format { items })
    }

    /// The line for `r`, ending in `\n`.
    pub fn render(&self, r: &Record<'_>) -> String {
        let mut line = String::new();
        for it in &self.items {
            match it {
                Item::Literal(s) => line.push_str(s),
                Item::Field { cond, field } => match cond {
                    Some((negate, list)) if list.contains(&r.status) == *negate => line.push('-'),
                    _ => line.push_str(&value(field, r)),
                },
            }
        }
        line.push('\n');
        line
    }

    /// `%{VAR}e` names this format uses, for a warning about variables this server never sets.
    pub fn env_names(&self) -> impl Iterator<Item = &str> {
        self.items.iter().filter_map(|i| match i {
            Item::Field {
                field: Field::Env(v),
                ..
            } => Some(v.as_str()),
            _ => None,
        })
    }

    /// Whether the format uses `%f`, which this server cannot fill yet (always `-`).
    pub fn uses_filename(&self) -> bool {
        self.items.iter().any(|i| {
            matches!(
                i,
                Item::Field {
                    field: Field::Filename,
                    ..
                }
            )
        })
    }

    /// `%{NAME}n` names this format uses.
    pub fn note_names(&self) -> impl Iterator<Item = &str> {
        self.items.iter().filter_map(|i| match i {
            Item::Field {
                field: Field::Note(v),
                ..
            } => Some(v.as_str()),
            _ => None,
        })
    }
}

/// Literal text: `\n`, `\r`, `\t`, `\\` interpreted, any other backslash kept.
fn unescape_literal(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.peek() {
            Some('n') => out.push('\n'),
            Some('r') => out.push('\r'),
            Some('t') => out.push('\t'),
            Some('\\') => out.push('\\'),
            _ => {
                out.push('\\');
                continue;
            }
        }
        chars.next();
    }
    out
}

/// One `%...X` item (after the `%`); returns it and what follows.
fn parse_item(mut s: &str) -> Result<(Item, &str), FormatError> {
    let mut negate = false;
    let mut statuses: Vec<u16> = Vec::new();
    let mut arg = String::new();
    loop {
        let c = s.chars().next().ok_or(FormatError::RanOff)?;
        match c {
            '!' => negate = !negate,
            '<' | '>' | ',' => {}
            '{' => {
                let body = &s[1..];
                let end = body.find('}').unwrap_or(body.len());
                arg = body[..end].to_string();
                s = body.get(end + 1..).unwrap_or("");
                continue;
            }
            '0'..='9' => {
                let end = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
                let n: u64 = s[..end].parse().unwrap_or(u64::MAX);
                let st = u16::try_from(n)
                    .ok()
                    .filter(|st| (100..=999).contains(st))
                    .ok_or(FormatError::BadStatus(n))?;
                statuses.push(st);
                s = &s[end..];
                continue;
            }
            letter => {
                let field = field(letter, &arg)?;
                let cond = (!statuses.is_empty()).then_some((negate, statuses));
                return Ok((Item::Field { cond, field }, &s[letter.len_utf8()..]));
            }
        }
        s = &s[1..];
    }
}

fn field(letter: char, arg: &str) -> Result<Field, FormatError> {
    let bad = || FormatError::BadArgument {
        letter,
        arg: arg.to_string(),
    };
    let plain = |f: Field| if arg.is_empty() { Ok(f) } else { Err(bad()) };
    let named = |f: fn(String) -> Field| {
        if arg.is_empty() {
            Err(bad())
        } else {
            Ok(f(arg.to_string()))
        }
    };
    match letter {
        '%' => plain(Field::Percent),
        'a' => match arg {
            "" => Ok(Field::RemoteAddr { connection: false }),
            "c" => Ok(Field::RemoteAddr { connection: true }),
            _ => Err(bad()),
        },
        'A' => plain(Field::LocalAddr),
        'B' => plain(Field::Bytes),
        'b' => plain(Field::BytesClf),
        'C' => named(Field::Cookie),
        'D' => plain(Field::Micros),
        'e' => named(Field::Env),
        'f' => plain(Field::Filename),
        'h' => plain(Field::RemoteHost),
        'H' => plain(Field::Protocol),
        'i' => named(Field::HeaderIn),
        'k' => plain(Field::KeepAlives),
        'l' => plain(Field::Logname),
        'm' => plain(Field::Method),
        'n' => named(Field::Note),
        'o' => named(Field::HeaderOut),
        'p' => match arg.to_ascii_lowercase().as_str() {
            "" | "canonical" => Ok(Field::Port(PortKind::Canonical)),
            "local" => Ok(Field::Port(PortKind::Local)),
            "remote" => Ok(Field::Port(PortKind::Remote)),
            _ => Err(bad()),
        },
        'P' => match arg.to_ascii_lowercase().as_str() {
            // One thread per process: the thread id is the pid.
            "" | "pid" | "tid" => Ok(Field::Pid { hex: false }),
            "hextid" => Ok(Field::Pid { hex: true }),
            _ => Err(bad()),
        },
        'q' => plain(Field::Query),
        'r' => plain(Field::RequestLine),
        's' => plain(Field::Status),
        't' => time_format(arg).map(Field::Time),
        'T' => match arg.to_ascii_lowercase().as_str() {
            "" | "s" => Ok(Field::Duration(Unit::Seconds)),
            "ms" => Ok(Field::Duration(Unit::Millis)),
            "us" => Ok(Field::Duration(Unit::Micros)),
            _ => Err(bad()),
        },
        'u' => plain(Field::User),
        'U' => plain(Field::UrlPath),
        'v' => plain(Field::ServerName),
        'V' => plain(Field::HostName),
        'X' => plain(Field::ConnStatus),
        'I' => plain(Field::BytesIn),
        'O' => plain(Field::BytesOut),
        'S' => plain(Field::BytesInOut),
        'L' => Err(FormatError::Unsupported('L', "there are no error log IDs")),
        'R' => Err(FormatError::Unsupported('R', "there are no named handlers")),
        '^' => Err(FormatError::Unsupported('^', "trailers are not logged")),
        'c' => Err(FormatError::Unsupported(
            'c',
            "mod_ssl's %{var}c is not implemented",
        )),
        'x' if SSL_VARS.contains(&arg) => Ok(Field::Ssl(arg.to_string())),
        'x' => Err(bad()),
        other => Err(FormatError::Unknown(other)),
    }
}

fn time_format(arg: &str) -> Result<TimeFormat, FormatError> {
    if arg.is_empty() {
        return Ok(TimeFormat::Clf);
    }
    let (end, a) = match (arg.strip_prefix("begin:"), arg.strip_prefix("end:")) {
        (Some(a), _) => (false, a),
        (_, Some(a)) => (true, a),
        _ => (false, arg),
    };
    let unit = match a {
        "sec" => Some(EpochUnit::Sec),
        "msec" => Some(EpochUnit::Msec),
        "usec" => Some(EpochUnit::Usec),
        "msec_frac" => Some(EpochUnit::MsecFrac),
        "usec_frac" => Some(EpochUnit::UsecFrac),
        _ => None,
    };
    if let Some(unit) = unit {
        return Ok(TimeFormat::Epoch { unit, end });
    }
    let mut chars = a.chars();
    while let Some(c) = chars.next() {
        if c == '%' {
            match chars.next() {
                Some(k) if STRFTIME.contains(k) => {}
                Some(k) => return Err(FormatError::Strftime(k)),
                None => return Err(FormatError::Strftime(' ')),
            }
        }
    }
    Ok(TimeFormat::Strftime {
        fmt: a.to_string(),
        end,
    })
}

/// The `%{VAR}e` variables the child sets for its access line ("on" / the client / the user).
pub const ENV: &[&str] = &["HTTPS", "REMOTE_ADDR", "REMOTE_USER"];
/// The `%{VAR}x` variables (mod_ssl's names) this server fills on a TLS connection; any other
/// name is refused when the configuration is read, never logged as `-`.
pub const SSL_VARS: &[&str] = &[
    "HTTPS",
    "SSL_PROTOCOL",
    "SSL_CIPHER",
    "SSL_CIPHER_USEKEYSIZE",
    "SSL_CIPHER_ALGKEYSIZE",
    "SSL_SESSION_RESUMED",
    "SSL_TLS_SNI",
];
/// The `%{NOTE}n` notes: the identity the request was served in, and the rule that chose it.
pub const NOTES: &[&str] = &["ctx", "rule"];

/// Apache's `common` format.
pub const COMMON: &str = "%h %l %u %t \"%r\" %>s %b";
/// Apache's `combined` format.
pub const COMBINED: &str = "%h %l %u %t \"%r\" %>s %b \"%{Referer}i\" \"%{User-Agent}i\"";
/// What this server adds to its built-in `common` and `combined` (when no `LogFormat` redefines
/// them): the child's pid, the identity it served in and the rule that chose it.
pub const SUFFIX: &str = " pid=%P ctx=%{ctx}n rule=%{rule}n";

#[cfg(test)]
mod tests {
    use super::*;

    fn record<'a>(headers_in: &'a [(String, Vec<u8>)]) -> Record<'a> {
        Record {
            client: "192.0.2.7".parse().unwrap(),
            peer: "127.0.0.1:40000".parse().unwrap(),
            local: Some("127.0.0.1:8080".parse().unwrap()),
            user: Some("alice"),
            request_line: "GET /a%20b?x=1 HTTP/1.1",
            method: "GET",
            protocol: "HTTP/1.1",
            path: "/a%20b",
            query: Some("x=1"),
            filename: Some("/srv/www/a b"),
            status: 200,
            body_bytes: 12,
            bytes_in: 80,
            bytes_out: 200,
            headers_in,
            headers_out: &[],
            notes: &[("ctx", "u:r:t:s0"), ("rule", "map:3")],
            env: &[("HTTPS", "on")],
            ssl: &[
                ("SSL_PROTOCOL", "TLSv1.3"),
                ("SSL_CIPHER", "TLS_AES_128_GCM_SHA256"),
            ],
            server_name: "www.example",
            host: Some("alias.example"),
            server_port: 8080,
            pid: 4242,
            keepalives: 1,
            keep_alive: true,
            aborted: false,
            started: UNIX_EPOCH + Duration::from_micros(971_186_136_123_456),
            elapsed: Duration::from_micros(2_345_678),
        }
    }

    /// Each row: format, expected line (without the newline). The expectations are written
    /// from Apache's mod_log_config documentation, not from this code.
    #[test]
    fn items_table() {
        let hin = vec![
            ("Referer".to_string(), b"http://r/".to_vec()),
            ("User-Agent".to_string(), b"ua \"q\"\t\x01\\".to_vec()),
            ("Accept".to_string(), b"a".to_vec()),
            ("accept".to_string(), b"b".to_vec()),
            ("Cookie".to_string(), b"s=1; id=abc; t=2".to_vec()),
        ];
        let r = record(&hin);
        let rows: &[(&str, &str)] = &[
            (COMMON, "192.0.2.7 - alice [10/Oct/2000:13:55:36 +0000] \"GET /a%20b?x=1 HTTP/1.1\" 200 12"),
            (COMBINED, "192.0.2.7 - alice [10/Oct/2000:13:55:36 +0000] \"GET /a%20b?x=1 HTTP/1.1\" 200 12 \"http://r/\" \"ua \\\"q\\\"\\t\\x01\\\\\""),
            ("%a %{c}a %A %p %{local}p %{remote}p", "192.0.2.7 127.0.0.1 127.0.0.1 8080 8080 40000"),
            ("%D %T %{ms}T %{us}T", "2345678 2 2345 2345678"),
            ("%U|%q|%m|%H|%f", "/a b|?x=1|GET|HTTP/1.1|/srv/www/a b"),
            ("%v %V %P %{hextid}P %k %X", "www.example alias.example 4242 1092 1 +"),
            ("%{ctx}n %{rule}n %{none}n", "u:r:t:s0 map:3 -"),
            ("%{HTTPS}e %{NOPE}e", "on -"),
            // mod_ssl: `-` for a variable without a value on this connection.
            ("%{SSL_PROTOCOL}x %{SSL_CIPHER}x %{SSL_TLS_SNI}x", "TLSv1.3 TLS_AES_128_GCM_SHA256 -"),
            ("%{Accept}i %{X-None}i %{id}C %{zz}C", "a, b - abc -"),
            ("%I %O %S %B %b", "80 200 280 12 12"),
            ("%404{Referer}i %!404{Referer}i %200,304{Referer}i", "- http://r/ http://r/"),
            ("%%s %>s %<s", "%s 200 200"),
            ("%{sec}t %{msec}t %{usec_frac}t %{end:sec}t", "971186136 971186136123 123456 971186138"),
            ("%{%Y-%m-%d %H:%M:%S %z}t %{%a %b %e %j}t", "2000-10-10 13:55:36 +0000 Tue Oct 10 284"),
            ("tab\\there\\\\ \\q", "tab\there\\ \\q"),
            (" pid=%P ctx=%{ctx}n rule=%{rule}n", " pid=4242 ctx=u:r:t:s0 rule=map:3"),
        ];
        for (fmt, want) in rows {
            let f = Format::parse(fmt).unwrap_or_else(|e| panic!("{fmt}: {e}"));
            assert_eq!(f.render(&r), format!("{want}\n"), "{fmt}");
        }
    }

    #[test]
    fn absent_values() {
        let mut r = record(&[]);
        r.user = None;
        r.body_bytes = 0;
        r.status = 0;
        r.query = None;
        r.local = None;
        let f = Format::parse("%u %b %B %s %q| %A %{Referer}i").unwrap();
        assert_eq!(f.render(&r), "- - 0 - | - -\n");
        r.user = Some("");
        assert_eq!(Format::parse("%u").unwrap().render(&r), "\"\"\n");
    }

    #[test]
    fn refused_formats() {
        let rows: &[(&str, FormatError)] = &[
            ("%Z", FormatError::Unknown('Z')),
            ("%h %", FormatError::RanOff),
            ("%{Referer", FormatError::RanOff),
            (
                "%L",
                FormatError::Unsupported('L', "there are no error log IDs"),
            ),
            (
                "%{x}a",
                FormatError::BadArgument {
                    letter: 'a',
                    arg: "x".into(),
                },
            ),
            (
                "%i",
                FormatError::BadArgument {
                    letter: 'i',
                    arg: "".into(),
                },
            ),
            (
                "%{X}h",
                FormatError::BadArgument {
                    letter: 'h',
                    arg: "X".into(),
                },
            ),
            ("%99s", FormatError::BadStatus(99)),
            (
                "%{SSL_CLIENT_S_DN}x",
                FormatError::BadArgument {
                    letter: 'x',
                    arg: "SSL_CLIENT_S_DN".into(),
                },
            ),
            ("%{%Q}t", FormatError::Strftime('Q')),
            (
                "%{fortnight}T",
                FormatError::BadArgument {
                    letter: 'T',
                    arg: "fortnight".into(),
                },
            ),
        ];
        for (fmt, want) in rows {
            assert_eq!(Format::parse(fmt).as_ref(), Err(want), "{fmt}");
        }
    }

    #[test]
    fn escape_is_apaches() {
        assert_eq!(
            escape(b"a\"b\\c\x08\n\r\t\x0b\x7f\xff d"),
            "a\\\"b\\\\c\\b\\n\\r\\t\\v\\x7f\\xff d"
        );
    }
}
