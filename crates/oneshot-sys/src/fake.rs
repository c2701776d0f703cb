//! Recording fake of [`Sys`] for unit tests of the transition order.
//!
//! It records every call in order, simulates the kernel's credential rules closely enough that
//! verification code has something real to check (privilege = euid 0 or the matching
//! capability; leaving uid 0 clears capabilities), and can
//! - fail the Nth call with an errno (`fail_at`),
//! - make named "set" calls return Ok without taking effect (`ignore`),
//! - pretend a way back to root still works (`root_returns`).
//!
//! No method panics: every call has a simulated effect.
use std::cell::RefCell;
use std::io;
use std::os::fd::RawFd;

use std::path::{Path, PathBuf};

use super::{
    sock_filter, LandlockEnforcement, LandlockOutcome, LandlockRules, MountId, Namespace, Resource,
    SelinuxState, Sys, TMPFS_MAGIC,
};

const CAP_SETGID: u64 = 1 << 6;
const CAP_SETUID: u64 = 1 << 7;
const CAP_SYS_ADMIN: u64 = 1 << 21;
/// All 41 capabilities of Linux 6.x.
pub const ALL_CAPS: u64 = (1 << 41) - 1;

#[derive(Debug, Clone, PartialEq)]
pub enum Call {
    CloseFdsExcept(Vec<RawFd>),
    OpenFds,
    SetNoNewPrivs,
    NoNewPrivs,
    SetGroups(Vec<u32>),
    GetGroups,
    SetResGid(u32, u32, u32),
    GetResGid,
    SetResUid(u32, u32, u32),
    GetResUid,
    SetCon(String),
    GetCon,
    SelinuxState,
    LandlockRestrict(LandlockRules),
    LandlockAbi,
    CapEffective,
    KeepOnlySetidCaps,
    DropAllCaps,
    SetPriority(i32),
    GetPriority,
    SetRlimit(Resource, u64),
    GetRlimit(Resource),
    SetDumpable(bool),
    Dumpable,
    JoinSessionKeyring,
    SessionKeyring,
    Unshare(Vec<Namespace>),
    NamespaceId(Namespace),
    WriteIdMaps(u32, u32),
    MakeMountsPrivate,
    AnyMountShared,
    MountTmpfs(PathBuf, u64),
    MountId(PathBuf),
    SeccompInstall(usize),
    SeccompMode,
}

impl Call {
    /// Method name, as used in `Recording::ignore`.
    pub fn name(&self) -> &'static str {
        match self {
            Call::CloseFdsExcept(_) => "close_fds_except",
            Call::OpenFds => "open_fds",
            Call::SetNoNewPrivs => "set_no_new_privs",
            Call::NoNewPrivs => "no_new_privs",
            Call::SetGroups(_) => "setgroups",
            Call::GetGroups => "getgroups",
            Call::SetResGid(..) => "setresgid",
            Call::GetResGid => "getresgid",
            Call::SetResUid(..) => "setresuid",
            Call::GetResUid => "getresuid",
            Call::SetCon(_) => "selinux_setcon",
            Call::GetCon => "selinux_getcon",
            Call::SelinuxState => "selinux_state",
            Call::LandlockRestrict(_) => "landlock_restrict",
            Call::LandlockAbi => "landlock_abi",
            Call::CapEffective => "cap_effective",
            Call::KeepOnlySetidCaps => "keep_only_setid_caps",
            Call::DropAllCaps => "drop_all_caps",
            Call::SetPriority(_) => "setpriority",
            Call::GetPriority => "getpriority",
            Call::SetRlimit(..) => "setrlimit",
            Call::GetRlimit(_) => "getrlimit",
            Call::SetDumpable(_) => "set_dumpable",
            Call::Dumpable => "dumpable",
            Call::JoinSessionKeyring => "join_session_keyring",
            Call::SessionKeyring => "session_keyring",
            Call::Unshare(_) => "unshare",
            Call::NamespaceId(_) => "namespace_id",
            Call::WriteIdMaps(..) => "write_id_maps",
            Call::MakeMountsPrivate => "make_mounts_private",
            Call::AnyMountShared => "any_mount_shared",
            Call::MountTmpfs(..) => "mount_tmpfs",
            Call::MountId(_) => "mount_id",
            Call::SeccompInstall(_) => "seccomp_install",
            Call::SeccompMode => "seccomp_mode",
        }
    }
}

/// The simulated process.
#[derive(Debug, Clone, PartialEq)]
pub struct State {
    pub fds: Vec<RawFd>,
    pub uid: (u32, u32, u32),
    pub gid: (u32, u32, u32),
    pub groups: Vec<u32>,
    pub context: String,
    pub nnp: bool,
    /// Effective capabilities.
    pub caps: u64,
    pub permitted: u64,
    /// PR_SET_KEEPCAPS.
    pub keepcaps: bool,
    pub nice: i32,
    pub rlimits: Vec<(Resource, (u64, u64))>,
    pub selinux: SelinuxState,
    pub landlock_abi: u32,
    pub landlock: Option<LandlockRules>,
    pub dumpable: bool,
    pub session_keyring: i32,
    /// Namespace identities; unshare gives each listed one a new id.
    pub namespaces: Vec<(Namespace, u64)>,
    /// Mount propagation of the namespace is shared (as on systemd hosts).
    pub mounts_shared: bool,
    /// Paths with a tmpfs of this mount namespace, and their size.
    pub tmpfs: Vec<(PathBuf, u64)>,
    /// 0 none, 2 filter; the length of the filter installed.
    pub seccomp: (u32, usize),
    /// uid/gid maps written in a new user namespace.
    pub id_maps: Option<(u32, u32)>,
}

impl State {
    /// A root master on an SELinux-enforcing, Landlock-v6 kernel.
    pub fn root() -> Self {
        State {
            fds: vec![0, 1, 2, 3, 4, 7],
            uid: (0, 0, 0),
            gid: (0, 0, 0),
            groups: vec![0],
            context: "system_u:system_r:worker_t:s0-s0:c0.c7".into(),
            nnp: false,
            caps: ALL_CAPS,
            permitted: ALL_CAPS,
            keepcaps: false,
            nice: 0,
            rlimits: Vec::new(),
            selinux: SelinuxState::Enforcing,
            landlock_abi: 6,
            landlock: None,
            dumpable: true,
            session_keyring: 100,
            namespaces: vec![
                (Namespace::User, 1),
                (Namespace::Ipc, 2),
                (Namespace::Mount, 3),
                (Namespace::PidForChildren, 4),
            ],
            mounts_shared: true,
            tmpfs: Vec::new(),
            seccomp: (0, 0),
            id_maps: None,
        }
    }
}

#[derive(Debug)]
pub struct Recording {
    pub calls: RefCell<Vec<Call>>,
    pub state: RefCell<State>,
    /// Fail the call with this 0-based index with this errno.
    pub fail_at: Option<(usize, i32)>,
    /// Names of methods that report success but change nothing.
    pub ignore: Vec<&'static str>,
    /// Every setresuid succeeds, even back to 0 from an unprivileged uid.
    pub root_returns: bool,
    pub enforcement: LandlockEnforcement,
}

impl Recording {
    pub fn new(state: State) -> Self {
        Recording {
            calls: RefCell::new(Vec::new()),
            state: RefCell::new(state),
            fail_at: None,
            ignore: Vec::new(),
            root_returns: false,
            enforcement: LandlockEnforcement::Full,
        }
    }

    pub fn calls(&self) -> Vec<Call> {
        self.calls.borrow().clone()
    }

    /// Records `call`; returns Err if this call is the one to fail, Ok(true) if its effect
    /// should be applied, Ok(false) if it is to be silently ignored.
    fn record(&self, call: Call) -> io::Result<bool> {
        let name = call.name();
        let mut calls = self.calls.borrow_mut();
        let index = calls.len();
        calls.push(call);
        match self.fail_at {
            Some((at, errno)) if at == index => Err(io::Error::from_raw_os_error(errno)),
            _ => Ok(!self.ignore.contains(&name)),
        }
    }

    /// Privilege is capability-based, as in the kernel: uid 0 is privileged only while it
    /// still holds the capability.
    fn privileged(&self, cap: u64) -> bool {
        self.state.borrow().caps & cap != 0
    }
}

fn eperm() -> io::Error {
    io::Error::from_raw_os_error(libc::EPERM)
}

/// Unprivileged set*id rule: each new id must be one of the current real/effective/saved ids.
fn within(cur: (u32, u32, u32), new: [u32; 3]) -> bool {
    new.iter().all(|&n| n == cur.0 || n == cur.1 || n == cur.2)
}

impl Sys for Recording {
    fn close_fds_except(&self, keep: &[RawFd]) -> io::Result<()> {
        if self.record(Call::CloseFdsExcept(keep.to_vec()))? {
            let mut s = self.state.borrow_mut();
            s.fds.retain(|fd| keep.contains(fd));
            for fd in 0..=2 {
                if !s.fds.contains(&fd) {
                    s.fds.push(fd);
                }
            }
        }
        Ok(())
    }

    fn open_fds(&self) -> io::Result<Vec<RawFd>> {
        self.record(Call::OpenFds)?;
        Ok(self.state.borrow().fds.clone())
    }

    fn set_no_new_privs(&self) -> io::Result<()> {
        if self.record(Call::SetNoNewPrivs)? {
            self.state.borrow_mut().nnp = true;
        }
        Ok(())
    }

    fn no_new_privs(&self) -> io::Result<bool> {
        self.record(Call::NoNewPrivs)?;
        Ok(self.state.borrow().nnp)
    }

    fn setgroups(&self, gids: &[u32]) -> io::Result<()> {
        let apply = self.record(Call::SetGroups(gids.to_vec()))?;
        if !self.privileged(CAP_SETGID) {
            return Err(eperm());
        }
        if apply {
            self.state.borrow_mut().groups = gids.to_vec();
        }
        Ok(())
    }

    fn getgroups(&self) -> io::Result<Vec<u32>> {
        self.record(Call::GetGroups)?;
        Ok(self.state.borrow().groups.clone())
    }

    fn setresgid(&self, r: u32, e: u32, s: u32) -> io::Result<()> {
        let apply = self.record(Call::SetResGid(r, e, s))?;
        let cur = self.state.borrow().gid;
        if !self.privileged(CAP_SETGID) && !within(cur, [r, e, s]) {
            return Err(eperm());
        }
        if apply {
            let mut st = self.state.borrow_mut();
            st.gid = (r, e, s);
            // commit_creds: a changed egid resets dumpable.
            st.dumpable = true;
        }
        Ok(())
    }

    fn getresgid(&self) -> io::Result<(u32, u32, u32)> {
        self.record(Call::GetResGid)?;
        Ok(self.state.borrow().gid)
    }

    fn setresuid(&self, r: u32, e: u32, s: u32) -> io::Result<()> {
        let apply = self.record(Call::SetResUid(r, e, s))?;
        let cur = self.state.borrow().uid;
        let allowed = self.root_returns || self.privileged(CAP_SETUID) || within(cur, [r, e, s]);
        if !allowed {
            return Err(eperm());
        }
        if apply {
            let mut st = self.state.borrow_mut();
            // capabilities(7): when no id stays 0, permitted and effective sets are cleared,
            // unless PR_SET_KEEPCAPS is set, which keeps the permitted set only.
            let had_root = [cur.0, cur.1, cur.2].contains(&0);
            if had_root && r != 0 && e != 0 && s != 0 {
                st.caps = 0;
                if !st.keepcaps {
                    st.permitted = 0;
                }
            }
            st.uid = (r, e, s);
            st.dumpable = true;
        }
        Ok(())
    }

    fn getresuid(&self) -> io::Result<(u32, u32, u32)> {
        self.record(Call::GetResUid)?;
        Ok(self.state.borrow().uid)
    }

    fn selinux_setcon(&self, context: &str) -> io::Result<()> {
        if self.record(Call::SetCon(context.to_string()))? {
            self.state.borrow_mut().context = context.to_string();
        }
        Ok(())
    }

    fn selinux_getcon(&self) -> io::Result<String> {
        self.record(Call::GetCon)?;
        Ok(self.state.borrow().context.clone())
    }

    fn selinux_state(&self) -> io::Result<SelinuxState> {
        self.record(Call::SelinuxState)?;
        Ok(self.state.borrow().selinux)
    }

    fn landlock_restrict(&self, rules: &LandlockRules) -> io::Result<LandlockOutcome> {
        let apply = self.record(Call::LandlockRestrict(rules.clone()))?;
        let abi = self.state.borrow().landlock_abi;
        if apply {
            self.state.borrow_mut().landlock = Some(rules.clone());
        }
        Ok(LandlockOutcome {
            enforcement: self.enforcement,
            abi,
        })
    }

    fn landlock_abi(&self) -> io::Result<u32> {
        self.record(Call::LandlockAbi)?;
        Ok(self.state.borrow().landlock_abi)
    }

    fn cap_effective(&self) -> io::Result<u64> {
        self.record(Call::CapEffective)?;
        Ok(self.state.borrow().caps)
    }

    fn keep_only_setid_caps(&self) -> io::Result<()> {
        let apply = self.record(Call::KeepOnlySetidCaps)?;
        let setid = CAP_SETUID | CAP_SETGID;
        let mut s = self.state.borrow_mut();
        // capset(2) may only shrink the permitted set.
        if s.permitted & setid != setid {
            return Err(eperm());
        }
        if apply {
            s.permitted = setid;
            s.caps = setid;
            s.keepcaps = true;
        }
        Ok(())
    }

    fn drop_all_caps(&self) -> io::Result<()> {
        if self.record(Call::DropAllCaps)? {
            let mut s = self.state.borrow_mut();
            s.caps = 0;
            s.permitted = 0;
        }
        Ok(())
    }

    fn setpriority(&self, nice: i32) -> io::Result<()> {
        if self.record(Call::SetPriority(nice))? {
            self.state.borrow_mut().nice = nice;
        }
        Ok(())
    }

    fn getpriority(&self) -> io::Result<i32> {
        self.record(Call::GetPriority)?;
        Ok(self.state.borrow().nice)
    }

    fn setrlimit(&self, resource: Resource, limit: u64) -> io::Result<()> {
        if self.record(Call::SetRlimit(resource, limit))? {
            let mut s = self.state.borrow_mut();
            s.rlimits.retain(|(r, _)| *r != resource);
            s.rlimits.push((resource, (limit, limit)));
        }
        Ok(())
    }

    fn getrlimit(&self, resource: Resource) -> io::Result<(u64, u64)> {
        self.record(Call::GetRlimit(resource))?;
        let s = self.state.borrow();
        let found = s.rlimits.iter().find(|(r, _)| *r == resource);
        Ok(found.map_or((u64::MAX, u64::MAX), |(_, l)| *l))
    }

    fn set_dumpable(&self, on: bool) -> io::Result<()> {
        if self.record(Call::SetDumpable(on))? {
            self.state.borrow_mut().dumpable = on;
        }
        Ok(())
    }

    fn dumpable(&self) -> io::Result<bool> {
        self.record(Call::Dumpable)?;
        Ok(self.state.borrow().dumpable)
    }

    fn join_session_keyring(&self) -> io::Result<i32> {
        let apply = self.record(Call::JoinSessionKeyring)?;
        let mut s = self.state.borrow_mut();
        let new = s.session_keyring + 1;
        if apply {
            s.session_keyring = new;
        }
        Ok(new)
    }

    fn session_keyring(&self) -> io::Result<i32> {
        self.record(Call::SessionKeyring)?;
        Ok(self.state.borrow().session_keyring)
    }

    fn unshare(&self, namespaces: &[Namespace]) -> io::Result<()> {
        let apply = self.record(Call::Unshare(namespaces.to_vec()))?;
        let user = namespaces.contains(&Namespace::User);
        // Without a new user namespace, the others need CAP_SYS_ADMIN.
        if !user && !self.privileged(CAP_SYS_ADMIN) {
            return Err(eperm());
        }
        if apply {
            let mut s = self.state.borrow_mut();
            for (ns, id) in s.namespaces.iter_mut() {
                if namespaces.contains(ns) {
                    *id += 1000;
                }
            }
            if namespaces.contains(&Namespace::Mount) {
                s.tmpfs.clear();
            }
            if user {
                // Full capabilities inside the new namespace; the kernel resets dumpable on
                // the credential change.
                s.caps = ALL_CAPS;
                s.permitted = ALL_CAPS;
                s.dumpable = true;
                // Unmapped until the maps are written: the overflow ids.
                s.uid = (65534, 65534, 65534);
                s.gid = (65534, 65534, 65534);
            }
        }
        Ok(())
    }

    fn namespace_id(&self, ns: Namespace) -> io::Result<u64> {
        self.record(Call::NamespaceId(ns))?;
        let s = self.state.borrow();
        Ok(s.namespaces
            .iter()
            .find(|(n, _)| *n == ns)
            .map_or(0, |(_, id)| *id))
    }

    fn write_id_maps(&self, uid: u32, gid: u32) -> io::Result<()> {
        if self.record(Call::WriteIdMaps(uid, gid))? {
            let mut s = self.state.borrow_mut();
            s.id_maps = Some((uid, gid));
            s.uid = (uid, uid, uid);
            s.gid = (gid, gid, gid);
        }
        Ok(())
    }

    fn make_mounts_private(&self) -> io::Result<()> {
        if self.record(Call::MakeMountsPrivate)? {
            self.state.borrow_mut().mounts_shared = false;
        }
        Ok(())
    }

    fn any_mount_shared(&self) -> io::Result<bool> {
        self.record(Call::AnyMountShared)?;
        Ok(self.state.borrow().mounts_shared)
    }

    fn mount_tmpfs(&self, path: &Path, size: u64) -> io::Result<()> {
        if self.record(Call::MountTmpfs(path.to_path_buf(), size))? {
            let mut s = self.state.borrow_mut();
            s.tmpfs.retain(|(p, _)| p != path);
            s.tmpfs.push((path.to_path_buf(), size));
        }
        Ok(())
    }

    fn mount_id(&self, path: &Path) -> io::Result<MountId> {
        self.record(Call::MountId(path.to_path_buf()))?;
        let s = self.state.borrow();
        Ok(match s.tmpfs.iter().position(|(p, _)| p == path) {
            Some(i) => MountId {
                dev: 500 + i as u64,
                fs_type: TMPFS_MAGIC,
            },
            None => MountId {
                dev: 1,
                fs_type: 0xEF53,
            },
        })
    }

    fn seccomp_install(&self, filter: &[sock_filter]) -> io::Result<()> {
        if self.record(Call::SeccompInstall(filter.len()))? {
            self.state.borrow_mut().seccomp = (2, filter.len());
        }
        Ok(())
    }

    fn seccomp_mode(&self) -> io::Result<u32> {
        self.record(Call::SeccompMode)?;
        Ok(self.state.borrow().seccomp.0)
    }
}
