//! Fuzz the CGI output header parser and the meta-variable builder: no panic; a complete head
//! never claims more bytes than it was given nor more than the block limit; any prefix of an
//! accepted block is `Partial` or the same verdict; the environment only holds the listed
//! variables and `HTTP_*`, never `HTTP_PROXY` or `HTTP_AUTHORIZATION`, and no NUL.
#![no_main]

use libfuzzer_sys::fuzz_target;
use oneshot_httpd::handler::cgi::{env, header};

fuzz_target!(|data: &[u8]| {
    match header::parse(data, false) {
        Ok(header::Parsed::Complete(h, used)) => {
            assert!(used <= data.len() && used <= header::MAX_BLOCK);
            assert!((200..=599).contains(&h.status));
            // The head is decided by its own bytes: trailing data changes nothing.
            assert_eq!(
                header::parse(&data[..used], true),
                Ok(header::Parsed::Complete(h.clone(), used))
            );
            for (k, v) in &h.headers {
                assert!(!k.is_empty() && !v.contains(&b'\n') && !v.contains(&b'\r'));
            }
        }
        Ok(header::Parsed::Partial) => assert!(data.len() <= header::MAX_BLOCK),
        Err(_) => {}
    }

    // The same bytes as request header fields.
    let headers: Vec<(String, Vec<u8>)> = data
        .split(|&b| b == b'\n')
        .filter_map(|l| {
            let i = l.iter().position(|&b| b == b':')?;
            Some((
                String::from_utf8_lossy(&l[..i]).into_owned(),
                l[i + 1..].to_vec(),
            ))
        })
        .collect();
    let r = env::CgiRequest {
        method: "POST",
        request_uri: "/x",
        headers: &headers,
        remote_addr: "127.0.0.1".into(),
        content_length: Some(1),
        ..Default::default()
    };
    for e in env::build(&r) {
        assert!(!e.contains(&0));
        let name =
            String::from_utf8_lossy(&e[..e.iter().position(|&b| b == b'=').unwrap()]).into_owned();
        assert!(
            env::STANDARD.contains(&name.as_str()) || name.starts_with("HTTP_"),
            "{name}"
        );
        assert!(
            name != "HTTP_PROXY" && name != "HTTP_AUTHORIZATION",
            "{name}"
        );
    }
});
