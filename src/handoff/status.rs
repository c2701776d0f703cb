//! The status pipe between children and the master: fixed-size messages, each written with one
//! write(2) of less than PIPE_BUF bytes, so messages from many children never interleave.
//! Pure encoding and decoding, plus the master's once-per-streak bookkeeping of failing logs.
//!
//! The pipe is shared by every child, so the master treats what it reads as claims, not facts:
//! an unknown kind is dropped, a pid it did not fork changes nothing, and a failing or
//! recovering log is logged only on a change of state. Each message starts with a magic pair of
//! bytes, so a stray write of another length cannot shift the framing of every later message:
//! the decoder skips bytes until a message decodes again.
#![forbid(unsafe_code)]
#![deny(
    clippy::indexing_slicing,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic
)]

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

/// Size of one message on the pipe.
pub const MSG_LEN: usize = 16;
const MAGIC: [u8; 2] = *b"OS";

/// Which log a failure or a recovery is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum LogId {
    /// The ErrorLog file.
    Error,
    /// The Nth CustomLog, in configuration order.
    Access(u16),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Event {
    /// The child accepted its connection: it is no longer a spare.
    Accepted,
    /// The child has a complete request head: from now on the master never reclaims it.
    HeadComplete,
    /// A write to a log failed with this errno.
    LogFailed { log: LogId, errno: i32 },
    /// A write to a log the master announced as failing succeeded.
    LogRecovered { log: LogId },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Message {
    pub pid: i32,
    pub event: Event,
}

const ACCEPTED: u8 = 1;
const HEAD_COMPLETE: u8 = 2;
const LOG_FAILED: u8 = 3;
const LOG_RECOVERED: u8 = 4;
/// Log index meaning "the error log" (access logs are 0..).
const ERROR_LOG: u16 = u16::MAX;

impl Message {
    /// Layout (native byte order, the pipe never leaves the host): magic `OS`, kind u8, zero
    /// u8, pid i32, log u16, zero u16, errno i32.
    pub fn encode(&self) -> [u8; MSG_LEN] {
        let (kind, log, errno) = match self.event {
            Event::Accepted => (ACCEPTED, 0, 0),
            Event::HeadComplete => (HEAD_COMPLETE, 0, 0),
            Event::LogFailed { log, errno } => (LOG_FAILED, log_index(log), errno),
            Event::LogRecovered { log } => (LOG_RECOVERED, log_index(log), 0),
        };
        let mut b = [0u8; MSG_LEN];
        b[0..2].copy_from_slice(&MAGIC);
        b[2] = kind;
        b[4..8].copy_from_slice(&self.pid.to_ne_bytes());
        b[8..10].copy_from_slice(&log.to_ne_bytes());
        b[12..16].copy_from_slice(&errno.to_ne_bytes());
        b
    }

    /// `None` for anything a child of ours would not have written.
    pub fn decode(b: &[u8; MSG_LEN]) -> Option<Message> {
        let pid = i32::from_ne_bytes([b[4], b[5], b[6], b[7]]);
        let log = u16::from_ne_bytes([b[8], b[9]]);
        let errno = i32::from_ne_bytes([b[12], b[13], b[14], b[15]]);
        if b[0..2] != MAGIC || b[3] != 0 || b[10..12] != [0, 0] || pid <= 0 {
            return None;
        }
        let log = if log == ERROR_LOG {
            LogId::Error
        } else {
            LogId::Access(log)
        };
        let event = match b[2] {
            ACCEPTED => Event::Accepted,
            HEAD_COMPLETE => Event::HeadComplete,
            LOG_FAILED => Event::LogFailed { log, errno },
            LOG_RECOVERED => Event::LogRecovered { log },
            _ => return None,
        };
        Some(Message { pid, event })
    }
}

fn log_index(l: LogId) -> u16 {
    match l {
        LogId::Error => ERROR_LOG,
        LogId::Access(i) => i,
    }
}

/// Splits what was read from the pipe into messages, keeping an incomplete tail for the next
/// read (reads of a multiple of MSG_LEN never split a message, but nothing relies on that).
/// Bytes that do not start a valid message are skipped one at a time.
#[derive(Debug, Default)]
pub struct Decoder {
    pending: Vec<u8>,
}

impl Decoder {
    pub fn feed(&mut self, bytes: &[u8]) -> Vec<Message> {
        self.pending.extend_from_slice(bytes);
        let mut out = Vec::new();
        let mut at = 0;
        while let Some(window) = self.pending.get(at..at + MSG_LEN) {
            match window.try_into().ok().and_then(Message::decode) {
                Some(m) => {
                    out.push(m);
                    at += MSG_LEN;
                }
                None => at += 1,
            }
        }
        self.pending.drain(..at);
        out
    }
}

/// A log that fails, works, fails again within this long is not announced again until it has
/// kept failing this long after the last announcement: a nearly full disk, where some writes
/// fit and some do not, costs one pair of lines a minute, not one per request.
pub const QUIET: Duration = Duration::from_secs(60);

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct LogState {
    failing: bool,
    /// The current failure streak was logged (so its end will be too).
    announced: bool,
    last_announced: Option<Instant>,
}

/// The logs the master currently knows to be failing. Children forked while a log is failing
/// inherit this and report their first successful write to it, which ends the streak.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FailingLogs {
    logs: BTreeMap<LogId, LogState>,
}

/// What the master should say about a report, at most once per change of state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transition {
    StartedFailing { log: LogId, errno: i32 },
    Recovered { log: LogId },
}

impl FailingLogs {
    pub fn is_failing(&self, log: LogId) -> bool {
        self.logs.get(&log).is_some_and(|s| s.failing)
    }

    /// The failing logs as one argument for a re-executed child, which cannot inherit this
    /// memory: `-` for none, else `E` (ErrorLog) and `A<n>` (CustomLog n) joined by commas.
    pub fn to_arg(&self) -> String {
        let ids: Vec<String> = self
            .logs
            .iter()
            .filter(|(_, st)| st.failing)
            .map(|(log, _)| match log {
                LogId::Error => "E".to_string(),
                LogId::Access(n) => format!("A{n}"),
            })
            .collect();
        if ids.is_empty() {
            "-".to_string()
        } else {
            ids.join(",")
        }
    }

    /// Parses [`FailingLogs::to_arg`]; only what a child needs (which logs fail) survives.
    pub fn from_arg(arg: &str) -> Option<FailingLogs> {
        let mut out = FailingLogs::default();
        if arg == "-" {
            return Some(out);
        }
        for id in arg.split(',') {
            let log = match id.strip_prefix('A') {
                Some(n) => LogId::Access(n.parse().ok()?),
                None if id == "E" => LogId::Error,
                None => return None,
            };
            let st = out.logs.entry(log).or_default();
            st.failing = true;
        }
        Some(out)
    }

    /// `Some` only when the master should say something: the first failure of a streak (held
    /// back while within [`QUIET`] of the last announcement, and said by a later report once
    /// that has passed), or the first success after an announced streak.
    pub fn observe(&mut self, event: Event, now: Instant) -> Option<Transition> {
        match event {
            Event::LogFailed { log, errno } => {
                let st = self.logs.entry(log).or_default();
                st.failing = true;
                let quiet = st
                    .last_announced
                    .is_some_and(|t| now.saturating_duration_since(t) < QUIET);
                if st.announced || quiet {
                    return None;
                }
                st.announced = true;
                st.last_announced = Some(now);
                Some(Transition::StartedFailing { log, errno })
            }
            Event::LogRecovered { log } => {
                let st = self.logs.get_mut(&log)?;
                let said = st.failing && st.announced;
                st.failing = false;
                st.announced = false;
                said.then_some(Transition::Recovered { log })
            }
            Event::Accepted | Event::HeadComplete => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failing_logs_cross_an_exec_as_one_argument() {
        let mut f = FailingLogs::default();
        assert_eq!(f.to_arg(), "-");
        let now = Instant::now();
        for log in [LogId::Error, LogId::Access(2)] {
            f.observe(Event::LogFailed { log, errno: 28 }, now);
        }
        f.observe(
            Event::LogFailed {
                log: LogId::Access(0),
                errno: 28,
            },
            now,
        );
        f.observe(
            Event::LogRecovered {
                log: LogId::Access(0),
            },
            now,
        );
        assert_eq!(f.to_arg(), "E,A2");
        let back = FailingLogs::from_arg(&f.to_arg()).unwrap();
        assert!(back.is_failing(LogId::Error) && back.is_failing(LogId::Access(2)));
        assert!(!back.is_failing(LogId::Access(0)));
        assert_eq!(FailingLogs::from_arg("-"), Some(FailingLogs::default()));
        for bad in ["", "X", "A", "A-1", "E,,A1", "A70000"] {
            assert_eq!(FailingLogs::from_arg(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn round_trip_table() {
        let events = [
            Event::Accepted,
            Event::HeadComplete,
            Event::LogFailed {
                log: LogId::Error,
                errno: 28,
            },
            Event::LogFailed {
                log: LogId::Access(3),
                errno: 13,
            },
            Event::LogRecovered {
                log: LogId::Access(0),
            },
            Event::LogRecovered { log: LogId::Error },
        ];
        for event in events {
            let m = Message { pid: 4242, event };
            assert_eq!(Message::decode(&m.encode()), Some(m), "{event:?}");
        }
    }

    #[test]
    fn garbage_is_dropped() {
        let good = Message {
            pid: 7,
            event: Event::Accepted,
        }
        .encode();
        let mut unknown_kind = good;
        unknown_kind[2] = 99;
        let mut nonzero_pad = good;
        nonzero_pad[3] = 1;
        let mut nonzero_pad2 = good;
        nonzero_pad2[11] = 1;
        let mut bad_magic = good;
        bad_magic[0] = b'X';
        let mut zero_pid = good;
        zero_pid[4..8].copy_from_slice(&0i32.to_ne_bytes());
        let mut negative_pid = good;
        negative_pid[4..8].copy_from_slice(&(-1i32).to_ne_bytes());
        for (name, b) in [
            ("unknown kind", unknown_kind),
            ("padding", nonzero_pad),
            ("padding 2", nonzero_pad2),
            ("magic", bad_magic),
            ("pid 0", zero_pid),
            ("pid -1", negative_pid),
        ] {
            assert_eq!(Message::decode(&b), None, "{name}");
        }
    }

    #[test]
    fn decoder_keeps_a_split_message_for_the_next_read() {
        let a = Message {
            pid: 1,
            event: Event::Accepted,
        };
        let b = Message {
            pid: 2,
            event: Event::HeadComplete,
        };
        let mut bytes = a.encode().to_vec();
        bytes.extend_from_slice(&b.encode());
        let mut d = Decoder::default();
        assert_eq!(d.feed(&bytes[..MSG_LEN + 5]), vec![a]);
        assert_eq!(d.feed(&bytes[MSG_LEN + 5..]), vec![b]);
        assert_eq!(d.feed(&[]), vec![]);
    }

    #[test]
    fn a_stray_write_does_not_shift_the_framing_of_later_messages() {
        let msgs: Vec<Message> = (1..=3)
            .map(|pid| Message {
                pid,
                event: Event::HeadComplete,
            })
            .collect();
        let mut bytes = msgs[0].encode().to_vec();
        bytes.extend_from_slice(b"OSxx\x00garbage"); // 12 bytes, starting like a message
        bytes.extend_from_slice(&msgs[1].encode());
        bytes.extend_from_slice(&[0u8; 5]);
        bytes.extend_from_slice(&msgs[2].encode());
        let mut d = Decoder::default();
        let mut got = Vec::new();
        for piece in bytes.chunks(7) {
            got.extend(d.feed(piece));
        }
        assert_eq!(got, msgs);
    }

    #[test]
    fn failures_are_reported_once_per_streak() {
        let access = LogId::Access(0);
        let fail = |errno| Event::LogFailed { log: access, errno };
        let ok = Event::LogRecovered { log: access };
        let other = Event::LogFailed {
            log: LogId::Error,
            errno: 5,
        };
        let started = |errno| Some(Transition::StartedFailing { log: access, errno });
        let recovered = Some(Transition::Recovered { log: access });
        let t0 = Instant::now();
        let at = |s: u64| t0 + Duration::from_secs(s);
        #[rustfmt::skip]
        let rows: Vec<(u64, Event, Option<Transition>)> = vec![
            (0, ok, None),                  // nothing was failing
            (1, fail(28), started(28)),     // a streak starts: said once
            (2, fail(28), None),
            (3, fail(5), None),
            (4, other, Some(Transition::StartedFailing { log: LogId::Error, errno: 5 })),
            (5, ok, recovered),             // the streak ends: said once
            (6, ok, None),
            (7, fail(28), None),            // flapping within QUIET of the last announcement
            (8, ok, None),                  // its end unannounced too
            (9, fail(28), None),
            (61, fail(28), started(28)),    // still failing after QUIET: said now
            (62, Event::Accepted, None),
            (63, ok, recovered),
        ];
        let mut f = FailingLogs::default();
        for (t, event, want) in rows {
            assert_eq!(f.observe(event, at(t)), want, "at {t}s: {event:?}");
        }
        assert!(f.is_failing(LogId::Error) && !f.is_failing(access));
    }
}
