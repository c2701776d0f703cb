//! `ReexecChildren On`: every pre-forked child executes the server binary anew before it
//! accepts, so each connection is served by a process with its own address-space layout (ASLR)
//! and stack canary, as sshd does for each connection. A plain fork shares both with the
//! master and with every sibling: one leaked pointer or canary would hold for all connections.
//!
//! How the re-executed child gets its state without trusting anything new on disk:
//! - The binary is the one the master started from: the master opens `/proc/self/exe` at
//!   start-up and children `fexecve` that descriptor, so a binary replaced on disk later (a
//!   package upgrade) is not picked up silently by half of the children.
//! - The configuration is the master's *validated* one, not the file re-read: the master
//!   serialises its `Config` (and the worker identity it resolved) once per (re)load into a
//!   memfd and seals it (no write, grow, shrink, or further sealing). A child refuses an image
//!   that is not fully sealed. Re-parsing the file instead would race with edits made without a
//!   reload, and would repeat name-service lookups the master already did; a digest check would
//!   turn such an edit into a refusal of every new child.
//! - Descriptors arrive at fixed numbers: 3 = the image, 4 = the status pipe, then the access
//!   logs, the error log, the listeners, the verifier channel if this child has one
//!   (said by the argument after [`CHILD_FLAG`]), and last the `MaxClientsVHost` claim channel
//!   when the configuration limits some vhost (`master::vhost_slots`). The listeners are checked against the
//!   addresses the configuration names.
#![forbid(unsafe_code)]

use crate::config::Config;
use crate::handoff::status::FailingLogs;
use crate::handoff::Inherited;
use crate::sandbox::UnixIdentity;
use nix::fcntl::{fcntl, FcntlArg, SealFlag};
use std::ffi::CString;
use std::fs::File;
use std::io;
use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::os::unix::ffi::OsStringExt;
use std::os::unix::fs::FileExt;

/// Exit status of a child that could not exec or could not load its image: the master then
/// slows down forking instead of replacing it at once, which would spin (a policy forbidding
/// the exec, an image the binary cannot read).
pub const EXIT_START_FAILED: i32 = 71;

/// Whether a child's exit status says it never got to serve: [`EXIT_START_FAILED`] from our code,
/// or 127 from the dynamic loader of the new image (a library it could not map, for instance).
/// Children that were only forked never exit with either.
pub fn start_failed(code: i32) -> bool {
    code == EXIT_START_FAILED || code == 127
}

/// First argument of a re-executed child; followed by [`WITH_VERIFIER`] or [`NO_VERIFIER`].
pub const CHILD_FLAG: &str = "--reexec-child";
const WITH_VERIFIER: &str = "verifier";
const NO_VERIFIER: &str = "no-verifier";
/// The last argument when the child has no connection category (else `cN`).
const NO_CATEGORY: &str = "-";
/// Where the child finds its image.
const IMAGE_FD: RawFd = 3;
/// A configuration image larger than this is refused rather than allocated.
const MAX_IMAGE: u64 = 64 << 20;

fn required_seals() -> SealFlag {
    SealFlag::F_SEAL_SEAL | SealFlag::F_SEAL_SHRINK | SealFlag::F_SEAL_GROW | SealFlag::F_SEAL_WRITE
}

#[derive(Debug, thiserror::Error)]
pub enum ReexecError {
    #[error("cannot open /proc/self/exe to re-execute children: {0}")]
    Exe(io::Error),
    #[error("cannot serialise the configuration for re-executed children: {0}")]
    Serialize(serde_json::Error),
    #[error("configuration image (memfd): {0}")]
    Memfd(io::Error),
    #[error("cannot move descriptors into place for exec: {0}")]
    Descriptors(io::Error),
    #[error("fexecve of the server binary failed: {0}")]
    Exec(io::Error),
    #[error("re-executed child: usage: oneshot-httpd {CHILD_FLAG} {WITH_VERIFIER}|{NO_VERIFIER} FAILING-LOGS [cN|-]")]
    Usage,
    #[error("re-executed child: configuration image on fd {IMAGE_FD}: {0}")]
    Image(String),
    #[error("re-executed child: inherited descriptors: {0}")]
    Inherit(io::Error),
    #[error("re-executed child: cannot install the error log: {0}")]
    Log(io::Error),
}

/// What the master hands to a re-executed child, besides descriptors.
#[derive(Debug, PartialEq, serde::Serialize, serde::Deserialize)]
struct Manifest {
    config: Config,
    worker: Option<UnixIdentity>,
    layout: Layout,
}

/// Descriptor numbers in the re-executed child (the verifier channel, when present, follows).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
struct Layout {
    status: RawFd,
    access_logs: Vec<RawFd>,
    error_log: Option<RawFd>,
    /// `ErrorLog` files of virtual hosts, in `Config::vhost_error_logs` order.
    #[serde(default)]
    vhost_error_logs: Vec<RawFd>,
    listeners: Vec<RawFd>,
}

impl Layout {
    fn new(cfg: &Config, has_error_log: bool) -> Layout {
        let mut next = IMAGE_FD + 1;
        let mut take = || {
            next += 1;
            next - 1
        };
        let status = take();
        let access_logs = cfg.custom_logs.iter().map(|_| take()).collect();
        let error_log = has_error_log.then(&mut take);
        let vhost_error_logs = cfg.vhost_error_logs.iter().map(|_| take()).collect();
        let listeners = cfg.listen.iter().map(|_| take()).collect();
        Layout {
            status,
            access_logs,
            error_log,
            vhost_error_logs,
            listeners,
        }
    }

    /// The number the verifier channel gets, when the child has one.
    fn verifier(&self) -> RawFd {
        self.listeners
            .last()
            .copied()
            .or(self.vhost_error_logs.last().copied())
            .or(self.error_log)
            .or(self.access_logs.last().copied())
            .unwrap_or(self.status)
            + 1
    }
}

/// The sealed configuration image for the current configuration.
#[derive(Debug)]
pub struct Image {
    memfd: OwnedFd,
    layout: Layout,
}

/// The master's handle on re-execution: the binary it started from and, while
/// `ReexecChildren On`, the image of the current configuration.
#[derive(Debug)]
pub struct Reexec {
    /// `None` when /proc/self/exe could not be opened at start-up; re-execution then stays
    /// unavailable for the master's lifetime rather than opening a later binary.
    exe: Option<File>,
    image: Option<Image>,
    /// After children failed to start: no new re-executed child before this instant.
    pause_until: Option<std::time::Instant>,
    pause: std::time::Duration,
    last_failure: Option<std::time::Instant>,
}

impl Reexec {
    /// Opens the running binary. Done at start-up whether or not re-execution is on, so a
    /// reload that turns it on still uses the binary the master runs. Fails only when `cfg`
    /// wants re-execution; otherwise the failure is remembered and refuses such a reload.
    pub fn open(cfg: &Config) -> Result<Reexec, ReexecError> {
        match File::open("/proc/self/exe") {
            Ok(exe) => Ok(Reexec {
                exe: Some(exe),
                image: None,
                pause_until: None,
                pause: std::time::Duration::ZERO,
                last_failure: None,
            }),
            Err(e) if cfg.reexec_children => Err(ReexecError::Exe(e)),
            Err(e) => {
                log::warn!("cannot open /proc/self/exe ({e}): ReexecChildren On will be refused");
                Ok(Reexec {
                    exe: None,
                    image: None,
                    pause_until: None,
                    pause: std::time::Duration::ZERO,
                    last_failure: None,
                })
            }
        }
    }

    /// The image children of `cfg` need, or `None` when `cfg` does not re-execute them.
    pub fn image_for(
        &self,
        cfg: &Config,
        inh: &Inherited,
        has_error_log: bool,
    ) -> Result<Option<Image>, ReexecError> {
        if !cfg.reexec_children {
            return Ok(None);
        }
        if self.exe.is_none() {
            return Err(ReexecError::Exe(io::Error::other(
                "the binary was not opened at start-up",
            )));
        }
        let layout = Layout::new(cfg, has_error_log);
        let manifest = Manifest {
            config: cfg.clone(),
            worker: inh.worker.clone(),
            layout,
        };
        let bytes = serde_json::to_vec(&manifest).map_err(ReexecError::Serialize)?;
        let memfd = sealed_memfd(&bytes).map_err(ReexecError::Memfd)?;
        Ok(Some(Image {
            memfd,
            layout: manifest.layout,
        }))
    }

    pub fn set_image(&mut self, image: Option<Image>) {
        self.image = image;
    }

    pub fn image(&self) -> Option<&Image> {
        self.image.as_ref()
    }

    /// Whether the master may fork a child now: always without re-execution; with it, not
    /// during a pause after children failed to start.
    pub fn ready(&self) -> bool {
        self.image.is_none()
            || self
                .pause_until
                .is_none_or(|u| std::time::Instant::now() >= u)
    }

    /// `failed` children could not start: forking pauses, 100 ms doubling to 5 s while failures
    /// keep coming, back to 100 ms (and one more log line) after 10 s without any. Children that
    /// exit normally say nothing here: older ones from before a failure look just the same.
    pub fn note_start_failures(&mut self, failed: usize) {
        use std::time::{Duration, Instant};
        if failed == 0 {
            return;
        }
        let now = Instant::now();
        let fresh = self
            .last_failure
            .is_none_or(|t| now.duration_since(t) > Duration::from_secs(10));
        if fresh {
            log::error!(
                "{failed} re-executed child(ren) could not start (see the lines above); \
                 pausing before forking more"
            );
            self.pause = Duration::from_millis(100);
        } else {
            self.pause = (self.pause * 2).clamp(Duration::from_millis(100), Duration::from_secs(5));
        }
        self.last_failure = Some(now);
        self.pause_until = Some(now + self.pause);
    }

    /// In a freshly forked child: puts the inherited descriptors at their agreed numbers,
    /// closes everything else and executes the server binary. Never returns; on failure the
    /// child exits [`EXIT_START_FAILED`] and the master pauses before forking more.
    /// `category`: the child's connection category, passed as the last argument.
    pub fn exec_child(
        &self,
        image: &Image,
        inh: &Inherited,
        verifier: Option<OwnedFd>,
        slot: Option<OwnedFd>,
        category: Option<u16>,
    ) -> ! {
        let (err, stage) = match self.exec(image, inh, verifier.as_ref(), slot.as_ref(), category) {
            Err(e) => e,
            Ok(never) => match never {},
        };
        // Not through `log`: once descriptors were moved, the logger's number may name the
        // image, the status pipe or a listener. The error log is at its own number before the
        // move and at its layout slot after it; halfway, only stderr (never moved) is sure.
        let line = format!(
            "[{}] [reexec:error] [pid {}] {err}\n",
            crate::http::date::error_log(std::time::SystemTime::now()),
            std::process::id()
        );
        let fd = match stage {
            Stage::Before => inh.error_log_fd.unwrap_or(2),
            Stage::Moving => 2,
            Stage::Moved => image.layout.error_log.unwrap_or(2),
        };
        let _ = crate::sys::inherit::write_to_number(fd, line.as_bytes());
        crate::sys::child_exit(EXIT_START_FAILED)
    }

    fn exec(
        &self,
        image: &Image,
        inh: &Inherited,
        verifier: Option<&OwnedFd>,
        slot: Option<&OwnedFd>,
        category: Option<u16>,
    ) -> Result<std::convert::Infallible, (ReexecError, Stage)> {
        let before = |e| (e, Stage::Before);
        let moving = |e| (e, Stage::Moving);
        let after = |e| (e, Stage::Moved);
        let mut sources = vec![image.memfd.as_raw_fd(), inh.status.as_raw_fd()];
        sources.extend(inh.access_logs.iter().map(|(f, _)| f.as_raw_fd()));
        sources.extend(inh.error_log_fd);
        sources.extend(inh.vhost_error_logs.iter().map(|f| f.as_raw_fd()));
        sources.extend(inh.listeners.iter().map(|l| l.as_raw_fd()));
        sources.extend(verifier.map(|v| v.as_raw_fd()));
        sources.extend(slot.map(|v| v.as_raw_fd()));
        let expected = image.layout.verifier() - IMAGE_FD
            + RawFd::from(verifier.is_some())
            + RawFd::from(slot.is_some());
        if sources.len() != expected as usize {
            return Err(before(ReexecError::Descriptors(io::Error::other(format!(
                "{} descriptors to pass but the image's layout has {expected} \
                 (a reload changed what the master holds without a new image)",
                sources.len()
            )))));
        }
        let end = IMAGE_FD + sources.len() as RawFd;
        let fail = |e: nix::errno::Errno| ReexecError::Descriptors(e.into());
        // Copies above the target range first, so moving one into place never overwrites
        // another still to be moved (nor the binary's descriptor).
        let high = sources
            .iter()
            .map(|&fd| fcntl(fd, FcntlArg::F_DUPFD_CLOEXEC(end)).map_err(fail))
            .collect::<Result<Vec<_>, _>>()
            .map_err(before)?;
        let exe = self.exe.as_ref().ok_or_else(|| {
            before(ReexecError::Exe(io::Error::other(
                "the binary was not opened at start-up",
            )))
        })?;
        let exe = fcntl(exe.as_raw_fd(), FcntlArg::F_DUPFD_CLOEXEC(end))
            .map_err(fail)
            .map_err(before)?;
        for (target, &fd) in (IMAGE_FD..).zip(&high) {
            // dup2 clears close-on-exec on the target: exactly these numbers survive exec.
            nix::unistd::dup2(fd, target)
                .map_err(fail)
                .map_err(moving)?;
        }
        let mut keep: Vec<RawFd> = (0..end).collect();
        keep.push(exe);
        // Every slot holds its file now, whatever close_fds_except leaves behind.
        crate::sys::Sys::close_fds_except(&crate::sys::Linux, &keep)
            .map_err(ReexecError::Descriptors)
            .map_err(after)?;
        let which = if verifier.is_some() {
            WITH_VERIFIER
        } else {
            NO_VERIFIER
        };
        let failing = cstring(&inh.failing_logs.to_arg());
        let category = cstring(&category.map_or(NO_CATEGORY.to_string(), |c| format!("c{c}")));
        let args = [
            c"oneshot-httpd",
            &cstring(CHILD_FLAG),
            &cstring(which),
            &failing,
            &category,
        ];
        // The master's own environment: RUST_LOG and the like keep meaning the same in children.
        let env: Vec<CString> = std::env::vars_os()
            .filter_map(|(k, v)| {
                let mut kv = k.into_vec();
                kv.push(b'=');
                kv.extend(v.into_vec());
                CString::new(kv).ok()
            })
            .collect();
        let err = nix::unistd::fexecve(exe, &args, &env).unwrap_err();
        Err(after(ReexecError::Exec(err.into())))
    }
}

/// How far a failed exec got in moving descriptors, to know where the error log is.
#[derive(Debug, Clone, Copy)]
enum Stage {
    Before,
    Moving,
    Moved,
}

fn cstring(s: &str) -> CString {
    CString::new(s).unwrap_or_default()
}

fn sealed_memfd(bytes: &[u8]) -> io::Result<OwnedFd> {
    use nix::sys::memfd::{memfd_create, MemFdCreateFlag};
    let fd = memfd_create(
        c"oneshot-httpd-config",
        MemFdCreateFlag::MFD_CLOEXEC | MemFdCreateFlag::MFD_ALLOW_SEALING,
    )?;
    let f = File::from(fd);
    f.write_all_at(bytes, 0)?;
    fcntl(f.as_raw_fd(), FcntlArg::F_ADD_SEALS(required_seals()))?;
    Ok(f.into())
}

/// Reads and checks the image a re-executed child was given.
fn read_image(memfd: OwnedFd) -> Result<Manifest, ReexecError> {
    let bad = |m: String| ReexecError::Image(m);
    let seals = fcntl(memfd.as_raw_fd(), FcntlArg::F_GET_SEALS)
        .map_err(|e| bad(format!("not a sealable memfd: {e}")))?;
    let seals = SealFlag::from_bits_truncate(seals);
    if !seals.contains(required_seals()) {
        return Err(bad(format!(
            "seals {seals:?} do not include {:?}: the image could still change",
            required_seals()
        )));
    }
    let f = File::from(memfd);
    let len = f.metadata().map_err(|e| bad(e.to_string()))?.len();
    if len > MAX_IMAGE {
        return Err(bad(format!("{len} bytes, more than {MAX_IMAGE}")));
    }
    let mut buf = vec![0; len as usize];
    // pread: the file offset is shared with the master and every sibling.
    f.read_exact_at(&mut buf, 0)
        .map_err(|e| bad(e.to_string()))?;
    serde_json::from_slice(&buf).map_err(|e| bad(format!("cannot decode: {e}")))
}

/// Entry point of a re-executed child (`oneshot-httpd --reexec-child ...`). Never returns.
pub fn child_main(args: &[String]) -> ! {
    match load(args) {
        Ok((cfg, inh, verifier, slot, category)) => {
            // The filters are compiled once per re-exec'd child (its memory is fresh).
            if let Err(e) =
                crate::sandbox::seccomp::precompile(cfg.vhosts.iter().map(|v| v.harden.seccomp()))
            {
                eprintln!("oneshot-httpd: seccomp filter: {e}");
                crate::sys::child_exit(EXIT_START_FAILED)
            }
            super::warm_up_before_fork();
            crate::handoff::vhost_slots::install(slot);
            crate::child::run(&cfg, &inh, verifier, category)
        }
        Err(e) => {
            // The error log is not installed yet (or could not be): stderr is the master's.
            eprintln!("oneshot-httpd: {e}");
            crate::sys::child_exit(EXIT_START_FAILED)
        }
    }
}

type Loaded = (
    Config,
    Inherited,
    Option<OwnedFd>,
    Option<OwnedFd>,
    Option<u16>,
);

fn load(args: &[String]) -> Result<Loaded, ReexecError> {
    // The category argument may be left out when there is none.
    let (with_verifier, failing, category) = match args {
        [flag, v, f, rest @ ..] if flag == CHILD_FLAG && rest.len() <= 1 => {
            let with = match v.as_str() {
                WITH_VERIFIER => true,
                NO_VERIFIER => false,
                _ => return Err(ReexecError::Usage),
            };
            (with, f, rest.first().map_or(NO_CATEGORY, String::as_str))
        }
        _ => return Err(ReexecError::Usage),
    };
    let failing_logs = FailingLogs::from_arg(failing).ok_or(ReexecError::Usage)?;
    let mut image = crate::sys::inherit::adopt(&[IMAGE_FD]).map_err(ReexecError::Inherit)?;
    let manifest = read_image(image.remove(0))?;
    let Manifest {
        config,
        worker,
        layout,
    } = manifest;
    let category = category_arg(&config, category)?;
    let mut numbers = vec![layout.status];
    numbers.extend(&layout.access_logs);
    numbers.extend(layout.error_log);
    numbers.extend(&layout.vhost_error_logs);
    numbers.extend(&layout.listeners);
    if with_verifier {
        numbers.push(layout.verifier());
    }
    // The claim channel follows, whenever the configuration limits a vhost.
    let with_slot = super::vhost_slots::VHostSlots::wanted(&config);
    if with_slot {
        numbers.push(layout.verifier() + RawFd::from(with_verifier));
    }
    let expected = Layout::new(&config, layout.error_log.is_some());
    if layout != expected || layout.access_logs.len() != config.custom_logs.len() {
        return Err(ReexecError::Image(format!(
            "descriptor layout {layout:?} does not match the configuration's {expected:?}"
        )));
    }
    let mut fds = adopt_rest(&numbers)?.into_iter();
    let mut next = || fds.next().ok_or(ReexecError::Usage);
    let status = next()?;
    let mut access_logs = Vec::new();
    for l in &config.custom_logs {
        access_logs.push((File::from(next()?), l.format.clone()));
    }
    let error_log = match layout.error_log {
        Some(_) => Some(File::from(next()?)),
        None => None,
    };
    let mut vhost_error_logs = Vec::new();
    for _ in &config.vhost_error_logs {
        vhost_error_logs.push(std::sync::Arc::new(File::from(next()?)));
    }
    let error_log_fd = crate::logging::install(&config, error_log).map_err(ReexecError::Log)?;
    let mut listeners = Vec::new();
    for want in &config.listen {
        let l = socket2::Socket::from(next()?);
        let is = l.local_addr().ok().and_then(|a| a.as_socket());
        if is != Some(*want) || !l.is_listener().unwrap_or(false) {
            return Err(ReexecError::Image(format!(
                "descriptor {} is not a socket listening on {want} (found {is:?})",
                l.as_raw_fd()
            )));
        }
        listeners.push(l);
    }
    let verifier = if with_verifier { Some(next()?) } else { None };
    let slot = if with_slot { Some(next()?) } else { None };
    let inh = Inherited {
        listeners,
        status,
        access_logs,
        error_log_fd,
        vhost_error_logs,
        worker,
        failing_logs,
    };
    Ok((config, inh, verifier, slot, category))
}

/// The child's connection category: given exactly when the configuration reserves categories,
/// and one of them.
fn category_arg(cfg: &Config, arg: &str) -> Result<Option<u16>, ReexecError> {
    let given = match arg {
        NO_CATEGORY => None,
        c => Some(
            crate::policy::mcs::parse_category_range(c)
                .ok()
                .filter(|r| r.first == r.last)
                .ok_or(ReexecError::Usage)?
                .first,
        ),
    };
    match (&cfg.selinux_connection_categories, given) {
        (None, None) => Ok(None),
        (Some(cc), Some(c)) if cc.range.contains(c) => Ok(Some(c)),
        (reserved, given) => Err(ReexecError::Image(format!(
            "connection category {given:?} does not fit selinuxConnectionCategories {:?}",
            reserved.as_ref().map(|r| r.range.to_string())
        ))),
    }
}

fn adopt_rest(numbers: &[RawFd]) -> Result<Vec<OwnedFd>, ReexecError> {
    crate::sys::inherit::adopt(numbers).map_err(ReexecError::Inherit)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(text: &str) -> Config {
        // One directory per call: tests run in parallel.
        static N: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let n = N.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        let dir = std::env::temp_dir().join(format!("oneshot-reexec-{}-{n}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let f = dir.join("t.conf");
        std::fs::write(&f, text).unwrap();
        crate::config::load(&f, &[]).unwrap()
    }

    #[test]
    fn layout_is_dense_from_the_image_up() {
        let c = cfg("Listen 127.0.0.1:1\nListen 127.0.0.1:2\nDocumentRoot /\nCustomLog /dev/null common\nReexecChildren On\n");
        let l = Layout::new(&c, true);
        assert_eq!(l.status, 4);
        assert_eq!(l.access_logs, vec![5]);
        assert_eq!(l.error_log, Some(6));
        assert_eq!(l.listeners, vec![7, 8]);
        assert_eq!(l.verifier(), 9);
        let l = Layout::new(&c, false);
        assert_eq!(
            (l.error_log, l.listeners.clone(), l.verifier()),
            (None, vec![6, 7], 8)
        );
    }

    #[test]
    fn image_round_trips_and_is_sealed() {
        let c = cfg("Listen 127.0.0.1:1\nDocumentRoot /\nReexecChildren On\n");
        let m = Manifest {
            config: c.clone(),
            worker: Some(UnixIdentity {
                uid: 33,
                gid: 33,
                groups: vec![33],
            }),
            layout: Layout::new(&c, false),
        };
        let fd = sealed_memfd(&serde_json::to_vec(&m).unwrap()).unwrap();
        let f = File::from(fd.try_clone().unwrap());
        assert!(
            f.write_all_at(b"x", 0).is_err(),
            "a sealed image must not be writable"
        );
        assert_eq!(read_image(fd).unwrap(), m);
    }

    #[test]
    fn an_unsealed_image_is_refused() {
        use nix::sys::memfd::{memfd_create, MemFdCreateFlag};
        let fd = memfd_create(c"t", MemFdCreateFlag::MFD_ALLOW_SEALING).unwrap();
        File::from(fd.try_clone().unwrap())
            .write_all_at(b"{}", 0)
            .unwrap();
        let e = read_image(fd).unwrap_err().to_string();
        assert!(e.contains("could still change"), "{e}");
    }

    #[test]
    fn the_directive_is_on_or_off() {
        let dir = std::env::temp_dir().join(format!("oneshot-reexec-bad-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let f = dir.join("t.conf");
        std::fs::write(
            &f,
            "Listen 127.0.0.1:1\nDocumentRoot /\nReexecChildren maybe\n",
        )
        .unwrap();
        let errors = crate::config::load(&f, &[]).unwrap_err();
        let text = format!("{}", errors[0]);
        assert!(
            text.contains("t.conf:3") && text.contains("On or Off"),
            "{text}"
        );
    }

    /// What a master without listeners, logs or workers hands its children.
    fn bare_inherited() -> Inherited {
        let (status, _) = nix::unistd::pipe().unwrap();
        Inherited {
            listeners: Vec::new(),
            status,
            access_logs: Vec::new(),
            error_log_fd: None,
            vhost_error_logs: Vec::new(),
            worker: None,
            failing_logs: FailingLogs::default(),
        }
    }

    #[test]
    fn failures_to_start_pause_forking() {
        let c = cfg("Listen 127.0.0.1:1\nDocumentRoot /\nReexecChildren On\n");
        let inh = bare_inherited();
        let mut r = Reexec::open(&c).unwrap();
        let image = r.image_for(&c, &inh, false).unwrap();
        r.set_image(image);
        assert!(r.ready());
        r.note_start_failures(0);
        assert!(r.ready());
        r.note_start_failures(3);
        assert!(!r.ready(), "no fork right after children failed to start");
        let first = r.pause;
        r.note_start_failures(1);
        assert_eq!(r.pause, first * 2, "failures in a row pause longer");
        r.set_image(None);
        assert!(r.ready(), "without re-execution nothing pauses");
    }

    #[test]
    fn off_means_no_image() {
        let c = cfg("Listen 127.0.0.1:1\nDocumentRoot /\n");
        assert!(!c.reexec_children);
        let inh = bare_inherited();
        let r = Reexec::open(&c).unwrap();
        assert!(r.image_for(&c, &inh, false).unwrap().is_none());
    }
}
