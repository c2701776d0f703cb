//! End-to-end tests of the verifier: `Endpoint::serve` runs on a thread (standing in
//! for the forked verifier process) and the client talks to it over real channels.

use std::collections::HashMap;
use std::net::IpAddr;
use std::os::fd::{AsRawFd, OwnedFd};
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use oneshot_httpd::verifier::{
    self, pair, protocol, Answer, Config, Handle, PasswordDb, ServeError, Unavailable,
    VerifierError,
};

const T: Duration = Duration::from_secs(5);
static SLOW_CALLS: AtomicUsize = AtomicUsize::new(0);

/// Test-only plain-text "user:password" file; users named `slow*` cost 50 ms like bcrypt.
struct PlainDb(HashMap<String, Vec<u8>>);

impl PasswordDb for PlainDb {
    fn verify(&self, user: &str, password: &[u8]) -> bool {
        if user.starts_with("slow") {
            SLOW_CALLS.fetch_add(1, Ordering::SeqCst);
            thread::sleep(Duration::from_millis(50));
        }
        self.0.get(user).is_some_and(|p| p == password)
    }
    fn contains(&self, user: &str) -> bool {
        self.0.contains_key(user)
    }
}

fn load(path: &str) -> Result<Box<dyn PasswordDb>, String> {
    let text = std::fs::read_to_string(path).map_err(|e| e.to_string())?;
    let mut map = HashMap::new();
    for line in text.lines() {
        let (user, pass) = line.split_once(':').ok_or("line without ':'")?;
        map.insert(user.to_owned(), pass.as_bytes().to_vec());
    }
    Ok(Box::new(PlainDb(map)))
}

fn temp_file(name: &str, content: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("oneshot-verifier-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(name);
    std::fs::write(&path, content).unwrap();
    path
}

struct Running {
    handle: Handle,
    thread: JoinHandle<Result<(), ServeError>>,
}

fn start(files: Vec<PathBuf>) -> Running {
    let (handle, endpoint) = pair().unwrap();
    let cfg = Config::new(files);
    let thread = thread::spawn(move || endpoint.serve(cfg, load));
    Running { handle, thread }
}

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

fn ask(chan: &OwnedFd, file: u16, user: &str, pw: &str) -> Result<bool, VerifierError> {
    verifier::verify(chan, file, ip("192.0.2.1"), user, pw.as_bytes(), T)
}

#[test]
fn answers_yes_and_no() {
    let f = temp_file("yesno", "alice:wonderland\nbob:builder\n");
    let v = start(vec![f]);
    let chan = v.handle.new_channel().unwrap();
    assert!(ask(&chan, 0, "alice", "wonderland").unwrap());
    assert!(!ask(&chan, 0, "alice", "builder").unwrap());
    assert!(!ask(&chan, 0, "mallory", "x").unwrap());
    assert!(ask(&chan, 0, "bob", "builder").unwrap());
    // Why it said no, for the child's log line (AH01617 vs AH01618).
    let why = |user: &str, pw: &str| {
        verifier::ask(&chan, 0, ip("192.0.2.1"), user, pw.as_bytes(), T).unwrap()
    };
    assert_eq!(why("alice", "builder"), Answer::Mismatch);
    assert_eq!(why("mallory", "x"), Answer::UnknownUser);
    assert_eq!(why("alice", "wonderland"), Answer::Yes);
}

#[test]
fn unknown_file_index_is_bad_request() {
    let f = temp_file("unknown-index", "alice:pw\n");
    let v = start(vec![f]);
    let chan = v.handle.new_channel().unwrap();
    assert!(matches!(
        ask(&chan, 1, "alice", "pw"),
        Err(VerifierError::BadRequest)
    ));
    assert!(
        ask(&chan, 0, "alice", "pw").unwrap(),
        "channel stays usable"
    );
}

#[test]
fn malformed_datagram_is_bad_request() {
    let f = temp_file("malformed", "alice:pw\n");
    let v = start(vec![f]);
    let chan = v.handle.new_channel().unwrap();
    let flags = nix::sys::socket::MsgFlags::empty();
    nix::sys::socket::send(chan.as_raw_fd(), &[protocol::VERSION, 0, 0], flags).unwrap();
    let mut buf = [0u8; 4];
    let n = nix::sys::socket::recv(chan.as_raw_fd(), &mut buf, flags).unwrap();
    assert_eq!(
        protocol::decode_response(&buf[..n]),
        Ok(protocol::Verdict::BadRequest)
    );
}

#[test]
fn cache_makes_repeated_slow_verification_fast() {
    let f = temp_file("cache", "slow-cache:hunter2\n");
    let v = start(vec![f]);
    let chan = v.handle.new_channel().unwrap();
    let before = SLOW_CALLS.load(Ordering::SeqCst);
    let t0 = Instant::now();
    assert!(ask(&chan, 0, "slow-cache", "hunter2").unwrap());
    let first = t0.elapsed();
    let t1 = Instant::now();
    assert!(ask(&chan, 0, "slow-cache", "hunter2").unwrap());
    let second = t1.elapsed();
    assert_eq!(
        SLOW_CALLS.load(Ordering::SeqCst) - before,
        1,
        "second answer came from the cache"
    );
    assert!(first >= Duration::from_millis(50), "first took {first:?}");
    assert!(second < Duration::from_millis(40), "second took {second:?}");
    // A wrong password is never served from the cache entry of the right one.
    assert!(!ask(&chan, 0, "slow-cache", "hunter3").unwrap());
}

#[test]
fn changed_file_is_reloaded_and_old_successes_forgotten() {
    let f = temp_file("reload", "carol:old\n");
    let v = start(vec![f.clone()]);
    let chan = v.handle.new_channel().unwrap();
    assert!(ask(&chan, 0, "carol", "old").unwrap());
    std::fs::write(&f, "carol:new-password\n").unwrap();
    assert!(!ask(&chan, 0, "carol", "old").unwrap());
    assert!(ask(&chan, 0, "carol", "new-password").unwrap());
}

#[test]
fn missing_or_broken_file_is_unavailable() {
    let missing = std::env::temp_dir().join("oneshot-verifier-does-not-exist");
    let broken = temp_file("broken", "no colon here\n");
    let v = start(vec![missing, broken]);
    let chan = v.handle.new_channel().unwrap();
    for file in [0, 1] {
        let got = ask(&chan, file, "alice", "pw");
        assert!(
            matches!(got, Err(VerifierError::Unavailable(Unavailable::Refused))),
            "{got:?}"
        );
    }
}

#[test]
fn repeated_failures_delay_that_source_only() {
    let f = temp_file("ratelimit", "dave:right\n");
    let v = start(vec![f]);
    let chan = v.handle.new_channel().unwrap();
    let attacker = ip("203.0.113.9");
    let wrong = |chan: &OwnedFd, peer| verifier::verify(chan, 0, peer, "dave", b"wrong", T);
    assert!(!wrong(&chan, attacker).unwrap());
    assert!(!wrong(&chan, attacker).unwrap());
    let t0 = Instant::now();
    assert!(!wrong(&chan, attacker).unwrap());
    assert!(
        t0.elapsed() >= Duration::from_millis(250),
        "third failure took {:?}",
        t0.elapsed()
    );
    let t1 = Instant::now();
    let other = verifier::verify(&chan, 0, ip("198.51.100.1"), "dave", b"right", T);
    assert!(other.unwrap());
    assert!(
        t1.elapsed() < Duration::from_millis(200),
        "innocent source was delayed"
    );
}

#[test]
fn timeout_is_unavailable_and_poisons_the_channel() {
    let f = temp_file("timeout", "slow-timeout:pw\n");
    let v = start(vec![f]);
    let chan = v.handle.new_channel().unwrap();
    let short = Duration::from_millis(10);
    let got = verifier::verify(&chan, 0, ip("192.0.2.1"), "slow-timeout", b"pw", short);
    assert!(
        matches!(
            got,
            Err(VerifierError::Unavailable(Unavailable::Timeout(_)))
        ),
        "{got:?}"
    );
    // The late "Yes" must never be read as the answer to this next question.
    let again = verifier::verify(&chan, 0, ip("192.0.2.1"), "slow-timeout", b"wrong", T);
    assert!(
        matches!(again, Err(VerifierError::Unavailable(_))),
        "{again:?}"
    );
}

#[test]
fn closing_the_control_socket_stops_the_verifier_and_fails_channels() {
    let f = temp_file("close", "erin:pw\n");
    let v = start(vec![f]);
    let chan = v.handle.new_channel().unwrap();
    assert!(ask(&chan, 0, "erin", "pw").unwrap());
    drop(v.handle);
    assert!(v.thread.join().unwrap().is_ok(), "verifier exits cleanly");
    let t0 = Instant::now();
    let got = ask(&chan, 0, "erin", "pw");
    assert!(matches!(got, Err(VerifierError::Unavailable(_))), "{got:?}");
    assert!(t0.elapsed() < T);
}

#[test]
fn oversized_credentials_are_refused_before_sending() {
    let f = temp_file("oversize", "frank:pw\n");
    let v = start(vec![f]);
    let chan = v.handle.new_channel().unwrap();
    let long = "x".repeat(protocol::MAX_PASSWORD + 1);
    assert!(matches!(
        ask(&chan, 0, "frank", &long),
        Err(VerifierError::Encode(_))
    ));
    assert!(ask(&chan, 0, "frank", "pw").unwrap());
}
