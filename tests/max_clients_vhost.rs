//! mpm-itk's `MaxClientsVHost N` through the binary: at most N connections in a vhost at once,
//! the next one answered 503, other vhosts unaffected; slots counted by the master and freed
//! when the child that held one is gone, however it ended (closed, killed).
//!
//! The oracle is mpm-itk's documented rule, written here as expected statuses: with
//! `MaxClientsVHost 2`, two open connections of the vhost are served and a third gets 503
//! ("MaxClientsVhost reached for NAME:PORT, refusing client").

mod common;
use common::*;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

fn conf() -> String {
    BASE_CONF
        .replace("KeepAliveTimeout 2", "KeepAliveTimeout 30")
        .replace(
            "  ServerName alice.test\n  DocumentRoot www/alice\n",
            "  ServerName alice.test\n  DocumentRoot www/alice\n  MaxClientsVHost 2\n",
        )
}

/// One response off a kept-alive connection (the index pages have a Content-Length); status 0
/// when the server closed without answering.
fn ask(c: &mut TcpStream, host: &str) -> u16 {
    let req = format!("GET / HTTP/1.1\r\nHost: {host}\r\n\r\n");
    if c.write_all(req.as_bytes()).is_err() {
        return 0;
    }
    let mut raw = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        if let Some(end) = raw.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = parse_resp(&raw[..end + 4]);
            let len: usize = head
                .header("Content-Length")
                .and_then(|v| v.parse().ok())
                .unwrap_or(0);
            if raw.len() >= end + 4 + len {
                return head.status;
            }
        }
        match c.read(&mut buf) {
            Ok(0) | Err(_) => return parse_resp(&raw).status,
            Ok(n) => raw.extend_from_slice(&buf[..n]),
        }
    }
}

/// A connection that was served once and stays open (keep-alive): it holds its vhost's slot.
fn hold(s: &Server, host: &str) -> TcpStream {
    let mut c = s.connect();
    assert_eq!(ask(&mut c, host), 200, "{host}");
    c
}

/// Retries a fresh connection until it is served 200 (the master frees a slot when it reaps the
/// child, a moment after the connection closed); the statuses seen, last one 200 or not, and
/// the last connection, open (it holds the slot it got).
fn until_served(s: &Server, host: &str) -> (Vec<u16>, TcpStream) {
    let until = Instant::now() + Duration::from_secs(10);
    let mut seen = Vec::new();
    loop {
        let mut c = s.connect();
        let st = ask(&mut c, host);
        seen.push(st);
        if st == 200 || Instant::now() > until {
            return (seen, c);
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn the_connection_over_the_limit_gets_503_and_other_vhosts_are_unaffected() {
    let dir = site("maxclientsvhost");
    let mut s = Server::start(&dir, &conf());
    let held = [hold(&s, "alice.test"), hold(&s, "alice.test")];
    // The third connection of alice.test: 503, and the connection closes.
    let mut third = s.connect();
    assert_eq!(ask(&mut third, "alice.test"), 503);
    assert_eq!(ask(&mut third, "alice.test"), 0, "closed after the 503");
    // Exactly one refused: bob.test and default.test have no limit, even several at once.
    let others = [
        hold(&s, "bob.test"),
        hold(&s, "bob.test"),
        hold(&s, "bob.test"),
    ];
    assert_eq!(ask(&mut s.connect(), "default.test"), 200);
    // The held connections go on being served on their own slot.
    let mut held = held;
    assert_eq!(ask(&mut held[0], "alice.test"), 200);
    let log = wait_error_log(&s, |l| {
        l.contains("MaxClientsVhost reached for alice.test:")
    });
    assert!(log.contains("refusing client"), "{log}");
    // Closing one connection frees its slot (once its child is reaped), and only one.
    let [a, mut b] = held;
    drop(a);
    let (seen, mut again) = until_served(&s, "alice.test");
    assert_eq!(seen.last(), Some(&200), "{seen:?}");
    drop(others);
    assert_eq!(
        ask(&mut s.connect(), "alice.test"),
        503,
        "b and again hold both"
    );
    assert_eq!(ask(&mut b, "alice.test"), 200);
    assert_eq!(ask(&mut again, "alice.test"), 200);
    drop((b, again));
    let (seen, _) = until_served(&s, "alice.test");
    assert_eq!(seen.last(), Some(&200), "{seen:?}");
    s.stop();
}

/// A slot is the process's: a child killed while it holds one (SIGKILL, no chance to say
/// anything) gives it back when the master reaps it. A keep-alive request of another vhost on
/// a connection that holds a slot is not served there: the connection closes, and the request
/// is served on a fresh one.
#[test]
fn a_killed_child_frees_its_slot_and_a_moved_request_gets_a_fresh_process() {
    let dir = site("maxclientsvhost-kill");
    let mut s = Server::start(&dir, &conf());
    let mut a = hold(&s, "alice.test");
    let mut b = hold(&s, "alice.test");
    assert_eq!(ask(&mut s.connect(), "alice.test"), 503);
    // Which child serves `a`: the one pid on two lines after one more request on it (the
    // refused connection's line may be written after it, so not simply the last line).
    assert_eq!(ask(&mut a, "alice.test"), 200);
    let lines = s.wait_log_lines(4);
    let pids: Vec<u32> = lines.iter().map(|l| log_pid(l)).collect();
    let pid = *pids
        .iter()
        .find(|p| pids.iter().filter(|q| q == p).count() == 2)
        .unwrap_or_else(|| panic!("one child served two lines: {lines:?}"));
    nix_kill(pid as i32, 9).expect("kill the child");
    let (seen, _c) = until_served(&s, "alice.test");
    assert_eq!(seen.last(), Some(&200), "{seen:?}");
    // Now _c and b hold both slots again.
    assert_eq!(ask(&mut s.connect(), "alice.test"), 503);
    let mut moved = hold(&s, "bob.test");
    // `moved` is bob's: its next request for alice would need a slot after confinement.
    assert_eq!(ask(&mut moved, "alice.test"), 0, "closed without an answer");
    // `b` holds alice's slot: a request for bob is not served in that process either.
    assert_eq!(ask(&mut b, "bob.test"), 0, "closed without an answer");
    assert_eq!(ask(&mut s.connect(), "bob.test"), 200);
    s.stop();
}

/// The same rule when every child executes the binary anew (`ReexecChildren On`): the claim
/// channel is passed across exec at its agreed descriptor number.
#[test]
fn re_executed_children_claim_too() {
    let dir = site("maxclientsvhost-reexec");
    let mut s = Server::start(&dir, &format!("{}ReexecChildren On\n", conf()));
    let _held = [hold(&s, "alice.test"), hold(&s, "alice.test")];
    assert_eq!(ask(&mut s.connect(), "alice.test"), 503);
    assert_eq!(ask(&mut s.connect(), "bob.test"), 200);
    s.stop();
}
