//! The access log line: Combined (or Common) Log Format, then ` pid=` the child's pid,
//! ` ctx=` the identity it served in and ` rule=` the rule that chose it. One write(2) per
//! line on a descriptor the master opened with O_APPEND, so lines never interleave.

use crate::config::LogFormat;
use crate::http::date;
use std::fs::File;
use std::io::Write;
use std::net::IpAddr;
use std::time::SystemTime;

pub struct Entry<'a> {
    pub peer: IpAddr,
    pub user: Option<&'a str>,
    pub request_line: &'a str,
    pub status: u16,
    pub bytes: u64,
    pub referer: Option<&'a [u8]>,
    pub user_agent: Option<&'a [u8]>,
    pub ctx: &'a str,
    pub rule: &'a str,
}

pub fn format(e: &Entry<'_>, fmt: LogFormat, now: SystemTime) -> String {
    let bytes = if e.bytes == 0 {
        "-".to_string()
    } else {
        e.bytes.to_string()
    };
    let mut line = format!(
        "{} - {} [{}] \"{}\" {} {}",
        e.peer,
        e.user.map(escape_str).unwrap_or_else(|| "-".into()),
        date::clf(now),
        escape_str(e.request_line),
        e.status,
        bytes
    );
    if fmt == LogFormat::Combined {
        let q = |v: Option<&[u8]>| v.map(escape).unwrap_or_else(|| "-".into());
        line.push_str(&format!(" \"{}\" \"{}\"", q(e.referer), q(e.user_agent)));
    }
    line.push_str(&format!(
        " pid={} ctx={} rule={}\n",
        std::process::id(),
        escape_str(e.ctx),
        escape_str(e.rule)
    ));
    line
}

pub fn write(files: &[(File, LogFormat)], e: &Entry<'_>) {
    let now = SystemTime::now();
    for (i, (f, fmt)) in files.iter().enumerate() {
        let line = format(e, *fmt, now);
        // A full disk must not cost one error-log line per request: the master hears of it
        // and says it once per failure streak.
        let log = crate::master::status::LogId::Access(i.try_into().unwrap_or(u16::MAX - 1));
        super::report::log_write(log, &(&*f).write_all(line.as_bytes()));
    }
}

/// Apache's escaping of logged request data: quotes, backslashes and non-printable bytes.
pub fn escape(v: &[u8]) -> String {
    let mut s = String::with_capacity(v.len());
    for &b in v {
        match b {
            b'"' => s.push_str("\\\""),
            b'\\' => s.push_str("\\\\"),
            0x20..=0x7e => s.push(b as char),
            _ => s.push_str(&format!("\\x{b:02x}")),
        }
    }
    s
}

fn escape_str(v: &str) -> String {
    escape(v.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, UNIX_EPOCH};

    #[test]
    fn combined_line() {
        let e = Entry {
            peer: "127.0.0.1".parse().unwrap(),
            user: Some("alice"),
            request_line: "GET /a\"b HTTP/1.1",
            status: 200,
            bytes: 12,
            referer: None,
            user_agent: Some(b"curl/8\x01"),
            ctx: "-",
            rule: "-",
        };
        let t = UNIX_EPOCH + Duration::from_secs(971_186_136);
        let want = format!(
            "127.0.0.1 - alice [10/Oct/2000:13:55:36 +0000] \"GET /a\\\"b HTTP/1.1\" 200 12 \"-\" \"curl/8\\x01\" pid={} ctx=- rule=-\n",
            std::process::id()
        );
        assert_eq!(format(&e, LogFormat::Combined, t), want);
    }
}
