//! Parses arbitrary text as a LogFormat string and, when it parses, renders a line with
//! request data taken from the rest of the input. Besides not panicking, a line must end in
//! exactly one newline of its own: request data never adds a line break (log injection), so
//! the same format rendered with harmless data has as many newlines.
#![no_main]

use libfuzzer_sys::fuzz_target;
use oneshot_httpd::logformat::{Format, Record};
use std::time::{Duration, UNIX_EPOCH};

fn record<'a>(data: &'a str, headers: &'a [(String, Vec<u8>)], notes: &'a [(&'a str, &'a str)]) -> Record<'a> {
    Record {
        client: "192.0.2.1".parse().unwrap(),
        peer: "127.0.0.1:5000".parse().unwrap(),
        local: Some("127.0.0.1:80".parse().unwrap()),
        user: Some(data),
        request_line: data,
        method: data,
        protocol: data,
        path: data,
        query: Some(data),
        filename: Some(data),
        status: 200,
        body_bytes: 1,
        bytes_in: 2,
        bytes_out: 3,
        headers_in: headers,
        headers_out: &[],
        notes,
        env: notes,
        ssl: notes,
        server_name: data,
        host: Some(data),
        server_port: 80,
        pid: 1,
        keepalives: 0,
        keep_alive: false,
        aborted: false,
        started: UNIX_EPOCH + Duration::from_secs(u64::from(data.len() as u32) * 86_400 * 30),
        elapsed: Duration::from_millis(5),
    }
}

fuzz_target!(|data: &[u8]| {
    let (fmt, rest) = match data.iter().position(|&b| b == 0) {
        Some(i) => (&data[..i], &data[i + 1..]),
        None => (data, &b""[..]),
    };
    let Ok(fmt) = std::str::from_utf8(fmt) else {
        return;
    };
    let Ok(format) = Format::parse(fmt) else {
        return;
    };
    let text = String::from_utf8_lossy(rest).into_owned();
    let hostile = [("Referer".to_string(), rest.to_vec()), ("Cookie".to_string(), rest.to_vec())];
    let notes = [("ctx", text.as_str()), ("rule", text.as_str())];
    let line = format.render(&record(&text, &hostile, &notes));
    assert!(line.ends_with('\n'));
    let benign = [("Referer".to_string(), b"x".to_vec()), ("Cookie".to_string(), b"x".to_vec())];
    let plain_notes = [("ctx", "x"), ("rule", "x")];
    let plain = format.render(&record("x", &benign, &plain_notes));
    assert_eq!(line.matches('\n').count(), plain.matches('\n').count());
});
