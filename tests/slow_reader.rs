//! A client that asks for a large file and then stops reading. Apache's `Timeout` is "the
//! amount of time the server waits ... for acknowledgements of transmissions": once that much
//! time passes without the client taking more bytes, the process serving it gives up, logs
//! the request and exits. Oracle: the access log line and the process table, with a file far
//! larger than what the socket buffers of both ends can hold.

mod common;
use common::*;
use std::io::Write;
use std::time::{Duration, Instant};

#[test]
fn a_client_that_stops_reading_is_dropped_after_timeout() {
    let dir = site("slow_reader");
    // Sparse: 256 MiB of zeros that take no disk.
    let big = std::fs::File::create(dir.join("www/alice/big.bin")).unwrap();
    big.set_len(256 << 20).unwrap();
    let conf = BASE_CONF.replace("\nTimeout 3\n", "\nTimeout 1\n");
    assert!(conf.contains("\nTimeout 1\n"), "BASE_CONF sets Timeout 3");
    let server = Server::start(&dir, &conf);
    let sock = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
    // A small receive window so the server's sends block soon.
    sock.set_recv_buffer_size(4096).unwrap();
    let addr: std::net::SocketAddr = format!("127.0.0.1:{}", server.port).parse().unwrap();
    sock.connect(&addr.into()).unwrap();
    let mut s: std::net::TcpStream = sock.into();
    s.write_all(b"GET /big.bin HTTP/1.1\r\nHost: alice.test\r\nConnection: close\r\n\r\n")
        .unwrap();
    let started = Instant::now();
    // Never read. The line is written when the child gives up on the send.
    let lines = server.wait_log_lines(1);
    let waited = started.elapsed();
    let line = lines.last().expect("an access log line");
    assert!(line.contains("GET /big.bin"), "{line}");
    assert!(
        waited < Duration::from_secs(15),
        "logged only after {waited:?}"
    );
    let pid = log_pid(line);
    let until = Instant::now() + Duration::from_secs(10);
    while alive(pid) && Instant::now() < until {
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(
        !alive(pid),
        "child {pid} still alive after giving up: {line}"
    );
    drop(s);
}
