//! The verifier's single-threaded poll loop.
//!
//! Stage: runs inside the forked verifier process for its whole life.
//!
//! Invariants:
//! - One thread multiplexes the control socket and every channel with poll(2); it
//!   never sleeps: a request that must be slowed down is parked with a due time and
//!   the poll timeout wakes the loop for it.
//! - A channel has at most one request in flight: while one is parked the channel is
//!   not read, so a child cannot queue unbounded work. Channels are capped at
//!   [`MAX_CHANNELS`].
//! - Password files are stat()ed on every request and reloaded when their identity
//!   changes; a file that cannot be loaded answers `Unavailable` (fail closed) and
//!   its cache entries are dropped.
//! - Request buffers that held a password are wiped when dropped.
#![deny(unsafe_code)]

use std::io;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::path::PathBuf;
use std::time::Instant;

use log::{error, info, warn};
use nix::errno::Errno;
use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use nix::sys::socket::{getsockopt, recv, send, sockopt, MsgFlags, SockType};
use thiserror::Error;
use zeroize::Zeroizing;

use super::cache::{FailurePolicy, FailureTable, FileIdentity, SuccessCache};
use super::protocol::{self, Request, Verdict, MAX_REQUEST};
use super::{recv_fd, Config, ControlMsg, Loader, PasswordDb};

/// More simultaneous channels than any sane child pool; beyond it new ones are closed.
pub const MAX_CHANNELS: usize = 4096;

/// Why the verifier stopped other than by the master closing the control socket.
#[derive(Debug, Error)]
pub enum ServeError {
    #[error("verifier: drawing the cache key from the OS failed: {0}")]
    Random(getrandom::Error),
    #[error("verifier: poll(2) over control and channels failed: {0}")]
    Poll(Errno),
    #[error("verifier: receiving from the control socket failed: {0}")]
    Control(io::Error),
}

/// Why a password file cannot be used right now.
#[derive(Debug, Error)]
enum FileError {
    #[error("password file {path:?}: stat failed: {source}")]
    Stat { path: PathBuf, source: io::Error },
    #[error("password file {path:?}: path is not UTF-8, the loader cannot take it")]
    NotUtf8 { path: PathBuf },
    #[error("password file {path:?}: loading failed: {why}")]
    Load { path: PathBuf, why: String },
}

enum SlotState {
    Empty,
    Loaded {
        ident: FileIdentity,
        db: Box<dyn PasswordDb>,
    },
    // Remembered so an unchanged broken file is not re-parsed on every request.
    Broken {
        ident: FileIdentity,
    },
}

struct FileSlot {
    path: PathBuf,
    state: SlotState,
    reported: bool,
}

/// The outcome of bringing a file slot up to date.
struct Refreshed {
    ident: Option<FileIdentity>,
    changed: bool,
}

impl FileSlot {
    fn loaded_ident(&self) -> Option<FileIdentity> {
        match &self.state {
            SlotState::Loaded { ident, .. } | SlotState::Broken { ident } => Some(*ident),
            SlotState::Empty => None,
        }
    }

    /// Stats the file and reloads it if its identity changed.
    fn refresh(&mut self, loader: Loader) -> Refreshed {
        let before = self.loaded_ident();
        let ident = match self
            .stat()
            .and_then(|ident| self.load_if_changed(ident, loader))
        {
            Ok(ident) => {
                self.reported = false;
                Some(ident)
            }
            Err(e) => {
                // One log line per breakage, not one per request while it lasts.
                if !self.reported {
                    error!("verifier: {e}");
                    self.reported = true;
                }
                if let FileError::Stat { .. } = e {
                    self.state = SlotState::Empty;
                }
                None
            }
        };
        Refreshed {
            ident,
            changed: self.loaded_ident() != before,
        }
    }

    fn stat(&self) -> Result<FileIdentity, FileError> {
        std::fs::metadata(&self.path)
            .map(|m| FileIdentity::of(&m))
            .map_err(|source| FileError::Stat {
                path: self.path.clone(),
                source,
            })
    }

    // The identity recorded is the one seen *before* loading: if the file changes
    // while it is read, the next stat differs and triggers another reload.
    fn load_if_changed(
        &mut self,
        ident: FileIdentity,
        loader: Loader,
    ) -> Result<FileIdentity, FileError> {
        match &self.state {
            SlotState::Loaded { ident: old, .. } if *old == ident => return Ok(ident),
            SlotState::Broken { ident: old } if *old == ident => {
                return Err(FileError::Load {
                    path: self.path.clone(),
                    why: "unchanged since it failed".into(),
                })
            }
            _ => {}
        }
        let path = self.path.to_str().ok_or_else(|| FileError::NotUtf8 {
            path: self.path.clone(),
        })?;
        match loader(path) {
            Ok(db) => {
                info!("password file {:?} (re)loaded", self.path);
                self.state = SlotState::Loaded { ident, db };
                Ok(ident)
            }
            Err(why) => {
                self.state = SlotState::Broken { ident };
                Err(FileError::Load {
                    path: self.path.clone(),
                    why,
                })
            }
        }
    }

    fn db(&self) -> Option<&dyn PasswordDb> {
        match &self.state {
            SlotState::Loaded { db, .. } => Some(db.as_ref()),
            _ => None,
        }
    }
}

struct Parked {
    due: Instant,
    request: Zeroizing<Vec<u8>>,
}

struct Channel {
    fd: OwnedFd,
    parked: Option<Parked>,
    dead: bool,
}

struct Server {
    control: OwnedFd,
    loader: Loader,
    files: Vec<FileSlot>,
    /// PAM services, sources `files.len()..`, with the identity last seen for each.
    pam: Vec<(String, Option<FileIdentity>)>,
    cache: SuccessCache,
    failures: FailureTable,
    channels: Vec<Channel>,
}

/// What one poll round saw.
struct Readiness {
    control: PollFlags,
    channels: Vec<PollFlags>,
}

pub(super) fn run(control: OwnedFd, cfg: Config, loader: Loader) -> Result<(), ServeError> {
    let cache = SuccessCache::new(cfg.cache_ttl, cfg.cache_entries).map_err(ServeError::Random)?;
    let files = cfg
        .files
        .into_iter()
        .map(|path| FileSlot {
            path,
            state: SlotState::Empty,
            reported: false,
        })
        .collect();
    let pam = cfg.pam_services.into_iter().map(|s| (s, None)).collect();
    let mut server = Server {
        control,
        loader,
        files,
        pam,
        cache,
        failures: FailureTable::new(FailurePolicy::default()),
        channels: Vec::new(),
    };
    server.run()
}

fn hung_up(ev: PollFlags) -> bool {
    ev.intersects(PollFlags::POLLHUP | PollFlags::POLLERR | PollFlags::POLLNVAL)
}

/// Milliseconds until `due`, rounded up so the loop does not wake early and spin.
fn poll_timeout(due: Option<Instant>, now: Instant) -> PollTimeout {
    let Some(due) = due else {
        return PollTimeout::NONE;
    };
    let micros = due.saturating_duration_since(now).as_micros();
    let millis = micros.div_ceil(1000).min(i32::MAX as u128) as i32;
    PollTimeout::try_from(millis).unwrap_or(PollTimeout::MAX)
}

impl Server {
    fn run(&mut self) -> Result<(), ServeError> {
        loop {
            let ready = match self.wait() {
                Ok(ready) => ready,
                Err(Errno::EINTR) => continue,
                Err(e) => return Err(ServeError::Poll(e)),
            };
            if ready.control.contains(PollFlags::POLLIN) {
                if !self.accept_control()? {
                    return Ok(());
                }
            } else if hung_up(ready.control) {
                return Ok(());
            }
            self.serve_channels(&ready.channels);
            self.serve_parked(Instant::now());
            self.channels.retain(|c| !c.dead);
        }
    }

    fn wait(&self) -> Result<Readiness, Errno> {
        let due = self
            .channels
            .iter()
            .filter_map(|c| c.parked.as_ref().map(|p| p.due))
            .min();
        let mut fds = Vec::with_capacity(1 + self.channels.len());
        fds.push(PollFd::new(self.control.as_fd(), PollFlags::POLLIN));
        for c in &self.channels {
            // A channel with a parked request is not read, but hang-ups still show.
            let events = if c.parked.is_some() {
                PollFlags::empty()
            } else {
                PollFlags::POLLIN
            };
            fds.push(PollFd::new(c.fd.as_fd(), events));
        }
        poll(&mut fds, poll_timeout(due, Instant::now()))?;
        let mut revents = fds
            .iter()
            .map(|f| f.revents().unwrap_or(PollFlags::POLLNVAL));
        let control = revents.next().unwrap_or(PollFlags::POLLNVAL);
        Ok(Readiness {
            control,
            channels: revents.collect(),
        })
    }

    /// Takes one message off the control socket; false once the master is gone.
    fn accept_control(&mut self) -> Result<bool, ServeError> {
        let fd = match recv_fd(self.control.as_fd()) {
            Ok(ControlMsg::Channel(fd)) => fd,
            Ok(ControlMsg::Closed) => return Ok(false),
            Ok(ControlMsg::Garbage) => {
                warn!("verifier: dropped a malformed control message");
                return Ok(true);
            }
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::Interrupted
                ) =>
            {
                return Ok(true)
            }
            Err(e) => return Err(ServeError::Control(e)),
        };
        if getsockopt(&fd, sockopt::SockType).ok() != Some(SockType::SeqPacket) {
            warn!("verifier: control passed a descriptor that is not a seqpacket socket");
        } else if self.channels.len() >= MAX_CHANNELS {
            warn!("verifier: {MAX_CHANNELS} channels open, refusing a new one");
        } else {
            self.channels.push(Channel {
                fd,
                parked: None,
                dead: false,
            });
        }
        Ok(true)
    }

    fn serve_channels(&mut self, events: &[PollFlags]) {
        // Channels accepted this round were not polled and have no entry in `events`.
        for (idx, ev) in events.iter().enumerate() {
            if ev.contains(PollFlags::POLLIN) {
                self.read_request(idx);
            } else if hung_up(*ev) {
                self.channels[idx].dead = true;
            }
        }
    }

    fn read_request(&mut self, idx: usize) {
        let mut buf = Zeroizing::new([0u8; MAX_REQUEST + 1]);
        let flags = MsgFlags::MSG_DONTWAIT;
        match recv(self.channels[idx].fd.as_raw_fd(), buf.as_mut_slice(), flags) {
            Ok(0) => self.channels[idx].dead = true,
            // One byte beyond the largest request means it was oversized (and cut).
            Ok(n) if n > MAX_REQUEST => self.reply(idx, Verdict::BadRequest),
            Ok(n) => self.handle(idx, &buf[..n], Instant::now()),
            Err(Errno::EAGAIN | Errno::EINTR) => {}
            Err(_) => self.channels[idx].dead = true,
        }
    }

    fn handle(&mut self, idx: usize, bytes: &[u8], now: Instant) {
        let req = match protocol::decode_request(bytes) {
            Ok(req) if usize::from(req.file) < self.files.len() + self.pam.len() => req,
            Ok(_) | Err(_) => return self.reply(idx, Verdict::BadRequest),
        };
        match self.failures.schedule(req.peer, now) {
            None => self.reply(idx, Verdict::Unavailable),
            Some(due) if due <= now => {
                let verdict = self.verify(&req, now);
                self.reply(idx, verdict);
            }
            Some(due) => {
                let request = Zeroizing::new(bytes.to_vec());
                self.channels[idx].parked = Some(Parked { due, request });
            }
        }
    }

    fn serve_parked(&mut self, now: Instant) {
        for idx in 0..self.channels.len() {
            let is_due = self.channels[idx]
                .parked
                .as_ref()
                .is_some_and(|p| p.due <= now);
            if !is_due || self.channels[idx].dead {
                continue;
            }
            let Some(parked) = self.channels[idx].parked.take() else {
                continue;
            };
            let verdict = match protocol::decode_request(&parked.request) {
                Ok(req) => self.verify(&req, now),
                Err(_) => Verdict::BadRequest,
            };
            self.reply(idx, verdict);
        }
    }

    fn verify(&mut self, req: &Request<'_>, now: Instant) -> Verdict {
        let file = usize::from(req.file);
        if file >= self.files.len() {
            return self.verify_pam(req, file - self.files.len(), now);
        }
        let refreshed = self.files[file].refresh(self.loader);
        if refreshed.changed {
            self.cache.invalidate_file(req.file);
        }
        let (Some(ident), Some(db)) = (refreshed.ident, self.files[file].db()) else {
            return Verdict::Unavailable;
        };
        let key = self.cache.key_for(req.file, &ident, req.user, req.password);
        if self.cache.hit(&key, now) {
            return Verdict::Yes;
        }
        if db.verify(req.user, req.password) {
            self.cache.insert(key, req.file, now);
            Verdict::Yes
        } else {
            self.failures.record_failure(req.peer, now);
            if db.contains(req.user) {
                Verdict::No
            } else {
                Verdict::UnknownUser
            }
        }
    }

    /// Source `files.len() + idx`: a PAM transaction, behind the same success cache and
    /// per-source slowdown as a file.
    fn verify_pam(&mut self, req: &Request<'_>, idx: usize, now: Instant) -> Verdict {
        let Some((service, seen)) = self.pam.get_mut(idx) else {
            return Verdict::BadRequest;
        };
        let ident = super::pam::identity(service);
        if seen.replace(ident) != Some(ident) {
            self.cache.invalidate_file(req.file);
        }
        let key = self.cache.key_for(req.file, &ident, req.user, req.password);
        if self.cache.hit(&key, now) {
            return Verdict::Yes;
        }
        let verdict = super::pam::check(service, req.user, req.password, req.peer);
        match verdict {
            Verdict::Yes => self.cache.insert(key, req.file, now),
            Verdict::No | Verdict::UnknownUser => self.failures.record_failure(req.peer, now),
            Verdict::BadRequest | Verdict::Unavailable => {}
        }
        verdict
    }

    fn reply(&mut self, idx: usize, verdict: Verdict) {
        let chan = &mut self.channels[idx];
        let flags = MsgFlags::MSG_DONTWAIT | MsgFlags::MSG_NOSIGNAL;
        let msg = protocol::encode_response(verdict);
        if send(chan.fd.as_raw_fd(), &msg, flags) != Ok(msg.len()) {
            // The child gave up or died; its channel is of no further use.
            chan.dead = true;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn poll_timeout_rounds_up_and_waits_forever_without_due() {
        let now = Instant::now();
        assert_eq!(poll_timeout(None, now), PollTimeout::NONE);
        let t = poll_timeout(Some(now + Duration::from_micros(1500)), now);
        assert_eq!(i32::from(t), 2);
        assert_eq!(
            i32::from(poll_timeout(Some(now), now + Duration::from_secs(1))),
            0
        );
    }
}
