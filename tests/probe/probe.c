/* probe: the attack probe CGI of oneshot-httpd's test suite.
 *
 * It runs as an ordinary CGI inside a confined child and reports what it is,
 * then tries to break out in every way the threat model names. Each try is a
 * real system call against a real target; the probe never decides in advance
 * that something "cannot work" and skips it.
 *
 * Output (text/plain, one record per line):
 *   FACT name: value
 *   ATTEMPT name: denied (errno NAME: text)     the action failed
 *   ATTEMPT name: SUCCEEDED ...                  the action worked: an escape
 *   ATTEMPT name: same-identity (...)            only setresuid/setresgid to the
 *                                                master's ids when the probe
 *                                                already holds exactly those
 *                                                non-root ids (Landlock-only
 *                                                servers): nothing to gain
 *   ATTEMPT name: NOT RUN (why)                  a target was missing
 * Signals: 0 and SIGTERM to the verifier, every sibling and the master, then
 * SIGKILL to the verifier and the master (not to siblings: see try_processes).
 *   ATTEMPT name: unreachable (errno ESRCH ...; pid namespace own|shared)
 *                                                the target pid does not exist in the
 *                                                probe's PID namespace (the test checks it
 *                                                was alive; acceptable only with "own")
 *   VERDICT: contained | ESCAPED (n) | INCOMPLETE (n not run, or unreachable without
 *            a PID namespace of its own)
 * ESCAPED wins over INCOMPLETE: any success is reported as an escape.
 *
 * Modes (QUERY_STRING): sleep=SECS (a sibling CGI that leaves its traces, prints "ready" and
 * sleeps); only=traces (look=/report_daemon= only: the follow-up connection); otherwise the
 * full run. Issue 12's keys: parent=PID (this connection's child, as seen from outside),
 * siblingcgi=PID (another connection's program), tag=T / look=T (traces left and looked
 * for: SysV shm/sem/msg, POSIX mq, keyring, /tmp /var/tmp /dev/shm files), chmod_NAME=PATH,
 * daemon=SECS (leave a process behind), report_daemon=1, spin=SECS (runaway CPU loop, run
 * only if RLIMIT_CPU's hard limit is at most SECS).
 *
 * Targets come from QUERY_STRING (the test knows them; the probe must not
 * need privileges to learn them), '&'-separated key=value, %XX-decoded:
 *   master=PID  master_uid=UID  master_gid=GID  verifier=PID
 *   sibling=PID                 (repeatable) another connection's child
 *   setcon_NAME=CONTEXT         setcon and setexeccon to CONTEXT
 *   read_NAME=PATH              open and read one byte of PATH
 *   writedir_NAME=DIR           create a file in DIR
 *   writefile_NAME=FILE         open FILE for appending and write one byte
 * master, master_uid, master_gid, verifier and one sibling are required: the
 * attempts that need them are reported NOT RUN without them.
 *
 * Built statically (no loader, no libc to read: a CGI confined by Landlock to
 * its own directories can still exec it; the SELinux VM has no libc at all).
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <sched.h>
#include <linux/capability.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <netinet/in.h>
#include <sys/ipc.h>
#include <sys/mman.h>
#include <time.h>
#include <sys/msg.h>
#include <sys/prctl.h>
#include <sys/sem.h>
#include <sys/shm.h>
#include <sys/ptrace.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <linux/netlink.h>
#include <unistd.h>

#ifndef SYS_pidfd_open
#define SYS_pidfd_open 434
#endif
#ifndef SYS_pidfd_getfd
#define SYS_pidfd_getfd 438
#endif
#ifndef SYS_landlock_create_ruleset
#define SYS_landlock_create_ruleset 444
#endif
#define LANDLOCK_CREATE_RULESET_VERSION 1U

#define MAX_PARAMS 64
#define MAX_FD_SCAN 1024
/* pidfd_getfd tries this many descriptor numbers in the master/verifier */
#define MAX_REMOTE_FD 256

struct param {
	char *key;
	char *value;
};

static struct param params[MAX_PARAMS];
static int nparams;
static int n_denied, n_succeeded, n_not_run, n_same, n_unreachable;
/* the probe's parent (the server child) is outside its PID namespace */
static int own_pid_ns;

/* ---------------------------------------------------------------- output */

static void fact(const char *name, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void fact(const char *name, const char *fmt, ...)
{
	va_list ap;
	printf("FACT %s: ", name);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
}

static const char *errname(int e)
{
	const char *n = strerrorname_np(e);
	return n ? n : "E?";
}

static void denied(const char *name, int e, const char *how)
{
	if (e == ESRCH) {
		/* The target pid does not exist here: refused by the PID namespace, not by a
		 * permission check. Reported apart; the test checks the target was alive. */
		n_unreachable++;
		printf("ATTEMPT %s: unreachable (errno ESRCH: %s%s%s; pid namespace %s)\n", name,
		       strerror(e), how ? "; " : "", how ? how : "", own_pid_ns ? "own" : "shared");
		return;
	}
	n_denied++;
	printf("ATTEMPT %s: denied (errno %s: %s%s%s)\n", name, errname(e), strerror(e),
	       how ? "; " : "", how ? how : "");
}

/* A refusal without an errno of its own (nothing there to use). */
static void denied_plain(const char *name, const char *why)
{
	n_denied++;
	printf("ATTEMPT %s: denied (%s)\n", name, why);
}

static void succeeded(const char *name, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void succeeded(const char *name, const char *fmt, ...)
{
	va_list ap;
	n_succeeded++;
	printf("ATTEMPT %s: SUCCEEDED ", name);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
}

static void not_run(const char *name, const char *why)
{
	n_not_run++;
	printf("ATTEMPT %s: NOT RUN (%s)\n", name, why);
}

/* ---------------------------------------------------------------- QUERY_STRING */

static int hexval(char c)
{
	if (c >= '0' && c <= '9') return c - '0';
	if (c >= 'a' && c <= 'f') return c - 'a' + 10;
	if (c >= 'A' && c <= 'F') return c - 'A' + 10;
	return -1;
}

/* In place; '+' is a space as in forms. A bad escape is kept literally. */
static void urldecode(char *s)
{
	char *out = s;
	for (; *s; s++) {
		if (*s == '%' && hexval(s[1]) >= 0 && hexval(s[2]) >= 0) {
			*out++ = (char)(hexval(s[1]) * 16 + hexval(s[2]));
			s += 2;
		} else if (*s == '+') {
			*out++ = ' ';
		} else {
			*out++ = *s;
		}
	}
	*out = '\0';
}

static void parse_query(const char *qs)
{
	char *copy = strdup(qs ? qs : "");
	char *save = NULL;
	for (char *tok = strtok_r(copy, "&", &save); tok && nparams < MAX_PARAMS;
	     tok = strtok_r(NULL, "&", &save)) {
		char *eq = strchr(tok, '=');
		if (!eq) continue;
		*eq = '\0';
		urldecode(tok);
		urldecode(eq + 1);
		params[nparams].key = tok;
		params[nparams].value = eq + 1;
		nparams++;
	}
}

static const char *param(const char *key)
{
	for (int i = 0; i < nparams; i++)
		if (strcmp(params[i].key, key) == 0) return params[i].value;
	return NULL;
}

/* A positive decimal number, or -1. */
static long number(const char *s)
{
	if (!s || !*s) return -1;
	char *end;
	errno = 0;
	long v = strtol(s, &end, 10);
	if (errno || *end || v < 0) return -1;
	return v;
}

/* ---------------------------------------------------------------- facts */

/* Every open descriptor, found without /proc (Landlock may hide it). Runs
 * first, before the probe opens anything itself. */
static int fds[MAX_FD_SCAN];
static int nfds;

static void scan_fds(void)
{
	struct rlimit rl;
	long max = MAX_FD_SCAN;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < (rlim_t)max) max = (long)rl.rlim_cur;
	for (int fd = 0; fd < max; fd++)
		if (fcntl(fd, F_GETFD) >= 0) fds[nfds++] = fd;
}

static const char *fd_kind(int fd)
{
	struct stat st;
	if (fstat(fd, &st) < 0) return "unknown";
	switch (st.st_mode & S_IFMT) {
	case S_IFREG: return "file";
	case S_IFDIR: return "dir";
	case S_IFCHR: return "chr";
	case S_IFIFO: return "pipe";
	case S_IFSOCK: return "socket";
	default: return "other";
	}
}

static void report_ids(void)
{
	uid_t ru, eu, su;
	gid_t rg, eg, sg;
	getresuid(&ru, &eu, &su);
	getresgid(&rg, &eg, &sg);
	fact("uid", "%u %u %u", ru, eu, su);
	fact("gid", "%u %u %u", rg, eg, sg);
	gid_t groups[NGROUPS_MAX];
	int n = getgroups(NGROUPS_MAX, groups);
	printf("FACT groups:");
	for (int i = 0; i < n; i++) printf(" %u", groups[i]);
	putchar('\n');
	fact("pid", "%d ppid %d pgid %d sid %d", getpid(), getppid(), getpgid(0), getsid(0));
}

static void report_context(void)
{
	char buf[512];
	int fd = open("/proc/self/attr/current", O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		fact("context", "unreadable (errno %s)", errname(errno));
		return;
	}
	ssize_t n = read(fd, buf, sizeof buf - 1);
	int e = errno;
	close(fd);
	if (n < 0) {
		fact("context", "unreadable (errno %s)", errname(e));
		return;
	}
	/* the kernel may include a trailing NUL and/or newline */
	while (n > 0 && (buf[n - 1] == '\0' || buf[n - 1] == '\n')) n--;
	buf[n] = '\0';
	fact("context", "%s", buf);
}

static void report_caps(void)
{
	struct __user_cap_header_struct h = { .version = _LINUX_CAPABILITY_VERSION_3, .pid = 0 };
	struct __user_cap_data_struct d[2];
	if (syscall(SYS_capget, &h, d) < 0) {
		fact("cap_eff", "capget failed (errno %s)", errname(errno));
		return;
	}
	unsigned long long eff = ((unsigned long long)d[1].effective << 32) | d[0].effective;
	unsigned long long prm = ((unsigned long long)d[1].permitted << 32) | d[0].permitted;
	unsigned long long inh = ((unsigned long long)d[1].inheritable << 32) | d[0].inheritable;
	fact("cap_eff", "%016llx", eff);
	fact("cap_prm", "%016llx", prm);
	fact("cap_inh", "%016llx", inh);
	int amb = prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_IS_SET, CAP_SETUID, 0, 0);
	fact("cap_amb_setuid", "%d", amb);
}

static void report_nnp(void)
{
	int v = prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0);
	if (v < 0)
		fact("no_new_privs", "unknown (errno %s)", errname(errno));
	else
		fact("no_new_privs", "%d", v);
}

/* Landlock has no "am I restricted" query; the root directory is world-
 * readable on every system this runs on, so refusing to open it is the
 * observable sign of a ruleset that does not grant it. */
static void report_landlock(void)
{
	long abi = syscall(SYS_landlock_create_ruleset, NULL, 0, LANDLOCK_CREATE_RULESET_VERSION);
	int abi_errno = errno;
	int fd = open("/", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	int open_errno = errno;
	if (fd >= 0) close(fd);
	char abibuf[48];
	if (abi < 0)
		snprintf(abibuf, sizeof abibuf, "none (errno %s)", errname(abi_errno));
	else
		snprintf(abibuf, sizeof abibuf, "%ld", abi);
	fact("landlock", "abi=%s root_dir=%s", abibuf,
	     fd >= 0 ? "readable" : (open_errno == EACCES ? "EACCES (restricted)" : errname(open_errno)));
}

static void report_fds(void)
{
	printf("FACT fds:");
	for (int i = 0; i < nfds; i++) printf(" %d(%s)", fds[i], fd_kind(fds[i]));
	putchar('\n');
}

static void report_env(void)
{
	const char *names[] = { "REMOTE_USER", "AUTH_TYPE", "SCRIPT_NAME", "SERVER_NAME", NULL };
	for (int i = 0; names[i]; i++) {
		const char *v = getenv(names[i]);
		fact(names[i], "%s", v ? v : "(unset)");
	}
}

/* ---------------------------------------------------------------- identity */

static void try_setuid0(void)
{
	if (setuid(0) == 0) {
		succeeded("setuid-0", "(now uid %u euid %u)", getuid(), geteuid());
		return;
	}
	denied("setuid-0", errno, NULL);
}

static void try_setgid0(void)
{
	if (setgid(0) == 0) {
		succeeded("setgid-0", "(now gid %u egid %u)", getgid(), getegid());
		return;
	}
	denied("setgid-0", errno, NULL);
}

static void try_setgroups0(void)
{
	gid_t zero = 0;
	if (setgroups(1, &zero) == 0) {
		succeeded("setgroups-0", "(supplementary group 0 added)");
		return;
	}
	denied("setgroups-0", errno, NULL);
}

static void try_setresuid_master(void)
{
	long m = number(param("master_uid"));
	if (m < 0) { not_run("setresuid-master", "no master_uid= in QUERY_STRING"); return; }
	uid_t ru, eu, su;
	getresuid(&ru, &eu, &su);
	/* Already those non-root ids: the call "succeeds" but changes nothing. */
	if (m != 0 && ru == (uid_t)m && eu == (uid_t)m && su == (uid_t)m) {
		n_same++;
		printf("ATTEMPT setresuid-master: same-identity (already uid %ld, the master's; "
		       "this backend does not separate by uid)\n", m);
		return;
	}
	if (setresuid((uid_t)m, (uid_t)m, (uid_t)m) == 0) {
		succeeded("setresuid-master", "(now uid %u)", getuid());
		return;
	}
	denied("setresuid-master", errno, NULL);
}

static void try_setresgid_master(void)
{
	long m = number(param("master_gid"));
	if (m < 0) { not_run("setresgid-master", "no master_gid= in QUERY_STRING"); return; }
	gid_t rg, eg, sg;
	getresgid(&rg, &eg, &sg);
	if (m != 0 && rg == (gid_t)m && eg == (gid_t)m && sg == (gid_t)m) {
		n_same++;
		printf("ATTEMPT setresgid-master: same-identity (already gid %ld, the master's; "
		       "this backend does not separate by gid)\n", m);
		return;
	}
	if (setresgid((gid_t)m, (gid_t)m, (gid_t)m) == 0) {
		succeeded("setresgid-master", "(now gid %u)", getgid());
		return;
	}
	denied("setresgid-master", errno, NULL);
}

/* What setcon(3) and setexeccon(3) do: one write of the context. */
static void try_attr_write(const char *attempt, const char *attr, const char *ctx)
{
	char path[64];
	snprintf(path, sizeof path, "/proc/thread-self/attr/%s", attr);
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0) { denied(attempt, errno, "open"); return; }
	ssize_t n = write(fd, ctx, strlen(ctx));
	int e = errno;
	close(fd);
	if (n < 0) { denied(attempt, e, "write"); return; }
	succeeded(attempt, "(wrote %s to %s)", ctx, path);
}

static void try_setcon_all(void)
{
	int any = 0;
	for (int i = 0; i < nparams; i++) {
		if (strncmp(params[i].key, "setcon_", 7) != 0) continue;
		any = 1;
		char name[96];
		snprintf(name, sizeof name, "setcon-%s", params[i].key + 7);
		try_attr_write(name, "current", params[i].value);
		snprintf(name, sizeof name, "setexeccon-%s", params[i].key + 7);
		try_attr_write(name, "exec", params[i].value);
	}
	if (!any) not_run("setcon", "no setcon_NAME= in QUERY_STRING");
}

/* ---------------------------------------------------------------- files */

static void try_read(const char *attempt, const char *path)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0) { denied(attempt, errno, "open"); return; }
	char c;
	ssize_t n = read(fd, &c, 1);
	int e = errno;
	close(fd);
	if (n < 0) { denied(attempt, e, "read"); return; }
	succeeded(attempt, "(opened and read %zd byte(s) of %s)", n, path);
}

static void try_create_in(const char *attempt, const char *dir)
{
	char path[PATH_MAX];
	snprintf(path, sizeof path, "%s/.probe-write-%d", dir, getpid());
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	if (fd < 0) { denied(attempt, errno, "create"); return; }
	close(fd);
	/* leave the tree as it was; the success is reported either way */
	unlink(path);
	succeeded(attempt, "(created %s)", path);
}

static void try_append(const char *attempt, const char *path)
{
	int fd = open(path, O_WRONLY | O_APPEND | O_CLOEXEC | O_NOCTTY);
	if (fd < 0) { denied(attempt, errno, "open"); return; }
	/* zero bytes would prove nothing; one newline is the smallest real write */
	static const char forged[] = "oneshot-probe forged line\n";
	ssize_t n = write(fd, forged, sizeof forged - 1);
	int e = errno;
	close(fd);
	if (n < 0) { denied(attempt, e, "write"); return; }
	succeeded(attempt, "(appended to %s)", path);
}

static void try_files(void)
{
	for (int i = 0; i < nparams; i++) {
		char name[96];
		const char *k = params[i].key;
		if (strncmp(k, "read_", 5) == 0) {
			snprintf(name, sizeof name, "read-%s", k + 5);
			try_read(name, params[i].value);
		} else if (strncmp(k, "writedir_", 9) == 0) {
			snprintf(name, sizeof name, "create-in-%s", k + 9);
			try_create_in(name, params[i].value);
		} else if (strncmp(k, "writefile_", 10) == 0) {
			snprintf(name, sizeof name, "write-%s", k + 10);
			try_append(name, params[i].value);
		}
	}
}

/* ---------------------------------------------------------------- processes */

static void try_kill(const char *who, long pid, int sig)
{
	char name[96];
	snprintf(name, sizeof name, "kill-%s-%s", sig == SIGKILL ? "KILL" : sig ? "TERM" : "0", who);
	if (kill((pid_t)pid, sig) == 0) {
		succeeded(name, "(signal %d delivered to pid %ld)", sig, pid);
		return;
	}
	denied(name, errno, NULL);
}

/* A tracee that was attached is let go at once, so a failing run does not
 * leave a stopped server process behind. */
static void release_tracee(long pid, int seized)
{
	int st;
	if (seized) ptrace(PTRACE_INTERRUPT, (pid_t)pid, 0, 0);
	waitpid((pid_t)pid, &st, __WALL);
	ptrace(PTRACE_DETACH, (pid_t)pid, 0, 0);
}

static void try_ptrace(const char *who, long pid)
{
	char name[96];
	snprintf(name, sizeof name, "ptrace-attach-%s", who);
	if (ptrace(PTRACE_ATTACH, (pid_t)pid, 0, 0) == 0) {
		release_tracee(pid, 0);
		succeeded(name, "(attached to pid %ld)", pid);
	} else {
		denied(name, errno, NULL);
	}
	snprintf(name, sizeof name, "ptrace-seize-%s", who);
	if (ptrace(PTRACE_SEIZE, (pid_t)pid, 0, 0) == 0) {
		release_tracee(pid, 1);
		succeeded(name, "(seized pid %ld)", pid);
	} else {
		denied(name, errno, NULL);
	}
}

/* Another process's memory: a read of /proc/PID/mem needs ptrace rights. */
static void try_mem(const char *who, long pid)
{
	char name[96], path[64];
	snprintf(name, sizeof name, "read-mem-%s", who);
	snprintf(path, sizeof path, "/proc/%ld/mem", pid);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) { denied(name, errno, "open"); return; }
	close(fd);
	succeeded(name, "(opened %s)", path);
}

/* The verifier's channel is an unnamed socketpair: the only ways to it are a
 * descriptor inherited by mistake, the owner's /proc/PID/fd links, and
 * pidfd_getfd. Each is tried against every descriptor it can name. */
static void try_proc_fds(const char *who, long pid)
{
	char name[96], dir[64];
	snprintf(name, sizeof name, "proc-fd-%s", who);
	snprintf(dir, sizeof dir, "/proc/%ld/fd", pid);
	DIR *d = opendir(dir);
	if (!d) { denied(name, errno, "opendir"); return; }
	int listed = 0, last_errno = 0;
	struct dirent *e;
	while ((e = readdir(d))) {
		if (e->d_name[0] == '.') continue;
		listed++;
		char path[384];
		snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
		int fd = open(path, O_RDWR | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
		if (fd < 0) fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
		if (fd >= 0) {
			close(fd);
			closedir(d);
			succeeded(name, "(opened %s)", path);
			return;
		}
		last_errno = errno;
	}
	closedir(d);
	if (listed == 0) { denied_plain(name, "the directory listed no descriptor"); return; }
	char how[96];
	snprintf(how, sizeof how, "listed %d descriptor(s), opened none", listed);
	denied(name, last_errno, how);
}

static void try_pidfd_getfd(const char *who, long pid)
{
	char name[96];
	snprintf(name, sizeof name, "pidfd-getfd-%s", who);
	int pidfd = (int)syscall(SYS_pidfd_open, (pid_t)pid, 0);
	if (pidfd < 0) { denied(name, errno, "pidfd_open"); return; }
	int last_errno = 0;
	for (int target = 0; target < MAX_REMOTE_FD; target++) {
		int fd = (int)syscall(SYS_pidfd_getfd, pidfd, target, 0);
		if (fd >= 0) {
			close(fd);
			close(pidfd);
			succeeded(name, "(copied descriptor %d of pid %ld)", target, pid);
			return;
		}
		/* EBADF only says that number is not open there; keep the real refusal */
		if (errno != EBADF || last_errno == 0) last_errno = errno;
	}
	close(pidfd);
	denied(name, last_errno, "pidfd_getfd on descriptors 0-255");
}

/* Any descriptor above 2 is a leak; each one is used, not just observed. */
static void try_inherited_fds(void)
{
	int leaked = 0;
	for (int i = 0; i < nfds; i++) {
		int fd = fds[i];
		if (fd <= 2) continue;
		leaked++;
		char name[64];
		snprintf(name, sizeof name, "use-fd-%d", fd);
		const char *kind = fd_kind(fd);
		ssize_t n = strcmp(kind, "socket") == 0 ? send(fd, "\n", 1, MSG_DONTWAIT | MSG_NOSIGNAL)
		                                         : write(fd, "\n", 1);
		int e = errno;
		/* inheriting it is the escape, whether or not this write got through */
		if (n >= 0)
			succeeded(name, "(inherited %s, wrote 1 byte)", kind);
		else
			succeeded(name, "(inherited %s; write failed with %s)", kind, errname(e));
	}
	if (leaked == 0) denied_plain("inherited-fds", "no descriptor above 2 is open");
}

static void try_processes(void)
{
	long master = number(param("master"));
	long verifier = number(param("verifier"));
	int siblings = 0;

	if (verifier > 0) {
		try_kill("verifier", verifier, 0);
		try_ptrace("verifier", verifier);
		try_mem("verifier", verifier);
		try_proc_fds("verifier", verifier);
		try_pidfd_getfd("verifier", verifier);
	} else {
		not_run("verifier", "no verifier= in QUERY_STRING");
	}
	for (int i = 0; i < nparams; i++) {
		if (strcmp(params[i].key, "sibling") != 0) continue;
		long pid = number(params[i].value);
		if (pid <= 0) continue;
		if (pid == getppid()) {
			/* the child serving this request is the probe's parent, not a sibling */
			fact("sibling_is_parent", "%ld", pid);
			continue;
		}
		siblings++;
		char who[48];
		snprintf(who, sizeof who, "sibling-%ld", pid);
		try_kill(who, pid, 0);
		try_ptrace(who, pid);
		try_mem(who, pid);
		try_proc_fds(who, pid);
		try_pidfd_getfd(who, pid);
	}
	if (siblings == 0) not_run("sibling", "no sibling= other than the parent in QUERY_STRING");
	if (master > 0) {
		try_kill("master", master, 0);
		try_ptrace("master", master);
		try_mem("master", master);
		try_proc_fds("master", master);
		try_pidfd_getfd("master", master);
	} else {
		not_run("master", "no master= in QUERY_STRING");
	}
	/* SIGTERM last: if one gets through, everything above was still tried */
	if (verifier > 0) try_kill("verifier", verifier, SIGTERM);
	for (int i = 0; i < nparams; i++) {
		long pid = number(params[i].value);
		if (strcmp(params[i].key, "sibling") != 0 || pid <= 0 || pid == getppid()) continue;
		char who[48];
		snprintf(who, sizeof who, "sibling-%ld", pid);
		try_kill(who, pid, SIGTERM);
	}
	if (master > 0) try_kill("master", master, SIGTERM);
	/* SIGKILL is a permission of its own under SELinux (the policy lets a web
	 * domain SIGKILL its own CGI group, so same-domain siblings are the one
	 * accepted residual and are not SIGKILLed here); the master and the
	 * verifier must refuse it everywhere. */
	if (verifier > 0) try_kill("verifier", verifier, SIGKILL);
	if (master > 0) try_kill("master", master, SIGKILL);
}

/* ---- Isolation between connections (issue 12) ---------------------------
 * One attempt per protection: the probe's own server child (parent), state
 * an earlier connection left (SysV IPC, tmp files: the test runs the probe
 * more than once per server, so a later run sees what an earlier one left),
 * kernel interfaces the seccomp filter refuses, the network (Landlock ABI 4
 * and seccomp), and the master's limits. ESRCH from a pid outside the
 * program's PID namespace is a refusal too. */
#define PROBE_IPC_KEY 0x0e512
#define PROBE_MARK "oneshot-probe-mark"

/* a call that returns -1/errno: denied, else SUCCEEDED */
static void expect_fail(const char *name, long rc, const char *what)
{
	if (rc < 0) denied(name, errno, what);
	else succeeded(name, "(%s returned %ld)", what, rc);
}

/* The server child of this very connection (the probe's parent): the test passes its pid as
 * seen from outside (parent=PID), since inside the programs' PID namespace getppid() is 0. */
static void try_parent(void)
{
	long parent = number(param("parent"));
	fact("ppid", "%ld", (long)getppid());
	if (parent <= 0) parent = getppid();
	if (parent <= 0 && own_pid_ns) {
		/* Nothing names the connection's process from here (the host test passes its
		 * outside pid as parent= and makes the attacks; the VM does not). */
		denied("parent", ESRCH, "its connection's process has no pid in the programs' PID namespace (no parent= given)");
		return;
	}
	if (parent <= 0) {
		not_run("parent", "no parent= in QUERY_STRING and getppid() is 0");
		return;
	}
	if (ptrace(PTRACE_ATTACH, (pid_t)parent, 0, 0) == 0) {
		release_tracee(parent, 0);
		succeeded("ptrace-parent", "(attached to pid %ld)", parent);
	} else {
		denied("ptrace-parent", errno, "PTRACE_ATTACH");
	}
	char buf[16];
	struct iovec local = { buf, sizeof buf }, remote = { (void *)buf, sizeof buf };
	/* the permission check comes first: EFAULT would mean it passed */
	ssize_t n = process_vm_readv((pid_t)parent, &local, 1, &remote, 1, 0);
	if (n < 0 && errno != EFAULT && errno != EIO) denied("vm-read-parent", errno, "process_vm_readv");
	else succeeded("vm-read-parent", "(process_vm_readv returned %zd, errno %s)", n, n < 0 ? errname(errno) : "-");
	/* its heap (the password of a Basic request), its client socket and log descriptors */
	try_mem("parent", parent);
	try_proc_fds("parent", parent);
	try_pidfd_getfd("parent", parent);
}

static void try_left_state(void)
{
	int shm = shmget(PROBE_IPC_KEY, 0, 0), sem = semget(PROBE_IPC_KEY, 0, 0), msg = msgget(PROBE_IPC_KEY, 0);
	if (shm >= 0 || sem >= 0 || msg >= 0)
		succeeded("sysv-ipc-from-earlier", "(shm %d sem %d msg %d of an earlier connection)", shm, sem, msg);
	else
		denied("sysv-ipc-from-earlier", errno, "shmget/semget/msgget of the key an earlier run created");
	/* leave them for the next connection; failing to is no escape */
	shmget(PROBE_IPC_KEY, 4096, IPC_CREAT | 0666);
	semget(PROBE_IPC_KEY, 1, IPC_CREAT | 0666);
	msgget(PROBE_IPC_KEY, IPC_CREAT | 0666);
	const char *dirs[] = { "/tmp", "/var/tmp", "/dev/shm" };
	for (unsigned i = 0; i < sizeof dirs / sizeof *dirs; i++) {
		char name[64], path[128];
		snprintf(name, sizeof name, "file-from-earlier-%s", dirs[i]);
		snprintf(path, sizeof path, "%s/%s", dirs[i], PROBE_MARK);
		if (access(path, F_OK) == 0) succeeded(name, "(%s exists)", path);
		else denied(name, errno, "access of the file an earlier run created");
		int fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0666);
		snprintf(name, sizeof name, "left_mark_in_%s", dirs[i]);
		fact(name, "%s", fd >= 0 ? "yes" : errname(errno));
		if (fd >= 0) close(fd);
	}
}

static void try_kernel_interfaces(void)
{
	expect_fail("keyctl-join", syscall(SYS_keyctl, 1 /* KEYCTL_JOIN_SESSION_KEYRING */, "oneshot-probe"), "keyctl(JOIN_SESSION_KEYRING)");
	char params[120] = { 0 };
	expect_fail("io-uring-setup", syscall(SYS_io_uring_setup, 1, params), "io_uring_setup");
	expect_fail("userfaultfd", syscall(SYS_userfaultfd, 0), "userfaultfd");
	expect_fail("unshare-user", unshare(CLONE_NEWUSER), "unshare(CLONE_NEWUSER)");
	expect_fail("memfd-create", syscall(SYS_memfd_create, "probe", 0), "memfd_create");
	expect_fail("af-packet", socket(AF_PACKET, SOCK_RAW, 0), "socket(AF_PACKET)");
	expect_fail("sock-diag", socket(AF_NETLINK, SOCK_RAW, NETLINK_SOCK_DIAG), "socket(AF_NETLINK, NETLINK_SOCK_DIAG)");
	expect_fail("udp-socket", socket(AF_INET, SOCK_DGRAM, 0), "socket(AF_INET, SOCK_DGRAM)");
	int s = socket(AF_INET, SOCK_STREAM, 0);
	if (s < 0) { denied("bind-any", errno, "socket"); denied("listen-unbound", errno, "socket"); return; }
	struct sockaddr_in any = { .sin_family = AF_INET, .sin_port = 0, .sin_addr = { htonl(INADDR_ANY) } };
	expect_fail("bind-any", bind(s, (struct sockaddr *)&any, sizeof any), "bind(0.0.0.0:0)");
	close(s);
	s = socket(AF_INET, SOCK_STREAM, 0);
	expect_fail("listen-unbound", s < 0 ? -1 : listen(s, 1), "listen without bind (ephemeral port on 0.0.0.0)");
	if (s >= 0) close(s);
}

/* prlimit, setpriority and sched_setaffinity on another process. The prlimit is the real
 * attack (RLIMIT_NPROC = 1 stops a master from forking); if it ever gets through, the old
 * value it returned is put back at once so a failing run does not break the server. */
static void try_limits_on(const char *who, long pid)
{
	char name[96];
	snprintf(name, sizeof name, "prlimit-%s", who);
	struct rlimit one = { 1, 1 }, old;
	if (syscall(SYS_prlimit64, (pid_t)pid, RLIMIT_NPROC, &one, &old) == 0) {
		syscall(SYS_prlimit64, (pid_t)pid, RLIMIT_NPROC, &old, NULL);
		succeeded(name, "(set RLIMIT_NPROC=1 on pid %ld, then restored %ld)", pid, (long)old.rlim_cur);
	} else {
		denied(name, errno, "prlimit64(pid, RLIMIT_NPROC, {1,1})");
	}
	snprintf(name, sizeof name, "setpriority-%s", who);
	errno = 0;
	int prio = getpriority(PRIO_PROCESS, (id_t)pid);
	if (errno) prio = 0;
	/* its own value: the permission check is the same as for any other */
	if (setpriority(PRIO_PROCESS, (id_t)pid, prio) == 0)
		succeeded(name, "(setpriority(PRIO_PROCESS, %ld, %d))", pid, prio);
	else
		denied(name, errno, "setpriority(PRIO_PROCESS, pid, its value)");
	snprintf(name, sizeof name, "setaffinity-%s", who);
	cpu_set_t set;
	CPU_ZERO(&set);
	if (sched_getaffinity(0, sizeof set, &set) < 0) CPU_SET(0, &set);
	if (sched_setaffinity((pid_t)pid, sizeof set, &set) == 0)
		succeeded(name, "(sched_setaffinity on pid %ld)", pid);
	else
		denied(name, errno, "sched_setaffinity(pid, this process's mask)");
}

static void try_limits(void)
{
	long master = number(param("master"));
	long verifier = number(param("verifier"));
	long parent = number(param("parent"));
	if (master > 0) try_limits_on("master", master);
	else not_run("prlimit-master", "no master= in QUERY_STRING");
	if (verifier > 0) try_limits_on("verifier", verifier);
	if (parent > 0) try_limits_on("parent", parent);
	for (int i = 0; i < nparams; i++) {
		long pid = number(params[i].value);
		int cgi = strcmp(params[i].key, "siblingcgi") == 0;
		if ((!cgi && strcmp(params[i].key, "sibling") != 0) || pid <= 0) continue;
		char who[48];
		snprintf(who, sizeof who, "%s-%ld", cgi ? "siblingcgi" : "sibling", pid);
		try_limits_on(who, pid);
	}
	struct rlimit own;
	getrlimit(RLIMIT_CPU, &own);
	fact("rlimit_cpu", "%ld %ld", (long)own.rlim_cur, (long)own.rlim_max);
	getrlimit(RLIMIT_AS, &own);
	fact("rlimit_as", "%ld %ld", (long)own.rlim_cur, (long)own.rlim_max);
	getrlimit(RLIMIT_NPROC, &own);
	fact("rlimit_nproc", "%ld %ld", (long)own.rlim_cur, (long)own.rlim_max);
}

/* A sibling's CGI program (another connection's, found by the test from outside): the same
 * process attacks as against a sibling child. */
static void try_sibling_cgis(void)
{
	for (int i = 0; i < nparams; i++) {
		if (strcmp(params[i].key, "siblingcgi") != 0) continue;
		long pid = number(params[i].value);
		if (pid <= 0) continue;
		char who[48];
		snprintf(who, sizeof who, "siblingcgi-%ld", pid);
		try_kill(who, pid, 0);
		try_ptrace(who, pid);
		try_mem(who, pid);
		try_proc_fds(who, pid);
		try_pidfd_getfd(who, pid);
		char name[96];
		snprintf(name, sizeof name, "vm-read-%s", who);
		char buf[16];
		struct iovec local = { buf, sizeof buf }, remote = { (void *)buf, sizeof buf };
		ssize_t n = process_vm_readv((pid_t)pid, &local, 1, &remote, 1, 0);
		if (n < 0 && errno != EFAULT && errno != EIO) denied(name, errno, "process_vm_readv");
		else succeeded(name, "(process_vm_readv returned %zd)", n);
	}
}

/* ---- traces: what one connection leaves and another looks for -------------
 * tag=T leaves SysV shm/sem/msg under a key derived from T, a POSIX queue /oneshot-probe-T,
 * a key in the session keyring and a file in /tmp, /var/tmp and /dev/shm; look=T (repeatable)
 * tries to reach each of those of T. The test gives the same user's earlier connection, the
 * other vhost's and two live siblings' tags. Looking comes before leaving. */
static key_t tag_key(const char *tag)
{
	unsigned h = 5381;
	for (const char *c = tag; *c; c++) h = h * 33 + (unsigned char)*c;
	return (key_t)(0x0e510000 | (h & 0xffff));
}

static void look_for(const char *tag)
{
	char name[128], path[160];
	key_t k = tag_key(tag);
	int id;
	snprintf(name, sizeof name, "sysv-shm-of-%s", tag);
	if ((id = shmget(k, 0, 0)) >= 0) {
		void *m = shmat(id, NULL, SHM_RDONLY);
		succeeded(name, "(shmget found id %d, shmat %s)", id, m == (void *)-1 ? "refused" : "attached");
		if (m != (void *)-1) shmdt(m);
	} else {
		denied(name, errno, "shmget");
	}
	snprintf(name, sizeof name, "sysv-sem-of-%s", tag);
	expect_fail(name, semget(k, 0, 0), "semget");
	snprintf(name, sizeof name, "sysv-msg-of-%s", tag);
	if ((id = msgget(k, 0)) >= 0) {
		char m[64];
		long got = msgrcv(id, m, sizeof m - sizeof(long), 0, IPC_NOWAIT);
		succeeded(name, "(msgget found id %d, msgrcv %ld)", id, got);
	} else {
		denied(name, errno, "msgget");
	}
	snprintf(name, sizeof name, "posix-mq-of-%s", tag);
	snprintf(path, sizeof path, "/oneshot-probe-%s", tag);
	expect_fail(name, syscall(SYS_mq_open, path + 1, O_RDONLY | O_NONBLOCK, 0, NULL), "mq_open");
	snprintf(name, sizeof name, "keyring-of-%s", tag);
	snprintf(path, sizeof path, "oneshot-probe-%s", tag);
	expect_fail(name, syscall(SYS_keyctl, 10 /* KEYCTL_SEARCH */, -3 /* session */, "user", path, 0), "keyctl(SEARCH, session keyring)");
	const char *dirs[] = { "/tmp", "/var/tmp", "/dev/shm" };
	for (unsigned i = 0; i < sizeof dirs / sizeof *dirs; i++) {
		snprintf(name, sizeof name, "file-of-%s-%s", tag, dirs[i]);
		snprintf(path, sizeof path, "%s/oneshot-probe-%s", dirs[i], tag);
		if (access(path, F_OK) == 0) succeeded(name, "(%s exists)", path);
		else denied(name, errno, "access");
	}
}

static void leave_traces(const char *tag)
{
	char path[160];
	key_t k = tag_key(tag);
	int shm = shmget(k, 4096, IPC_CREAT | 0666), sem = semget(k, 1, IPC_CREAT | 0666);
	int msg = msgget(k, IPC_CREAT | 0666);
	if (msg >= 0) {
		struct { long type; char text[16]; } m = { 1, "probe" };
		msgsnd(msg, &m, sizeof m.text, IPC_NOWAIT);
	}
	fact("left_sysv", "shm %s sem %s msg %s", shm >= 0 ? "yes" : "no", sem >= 0 ? "yes" : "no", msg >= 0 ? "yes" : "no");
	snprintf(path, sizeof path, "oneshot-probe-%s", tag);
	long q = syscall(SYS_mq_open, path, O_RDWR | O_CREAT, 0666, NULL);
	fact("left_mq", "%s", q >= 0 ? "yes" : errname(errno));
	/* a keyring entry for the next connection: refused by seccomp (keyctl, add_key) */
	expect_fail("add-key-session", syscall(SYS_add_key, "user", path, "probe", 5, -3), "add_key(user, session keyring)");
	const char *dirs[] = { "/tmp", "/var/tmp", "/dev/shm" };
	for (unsigned i = 0; i < sizeof dirs / sizeof *dirs; i++) {
		char name[64];
		snprintf(path, sizeof path, "%s/oneshot-probe-%s", dirs[i], tag);
		int fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0666);
		snprintf(name, sizeof name, "left_file_%s", dirs[i]);
		fact(name, "%s", fd >= 0 ? "yes" : errname(errno));
		if (fd >= 0) close(fd);
	}
}

static void try_traces(void)
{
	for (int i = 0; i < nparams; i++)
		if (strcmp(params[i].key, "look") == 0) look_for(params[i].value);
	const char *tag = param("tag");
	if (tag) leave_traces(tag);
}

/* The master's own session keyring (the test gives the master one, as systemd does). */
static void try_master_keyring(void)
{
	expect_fail("keyctl-join-master", syscall(SYS_keyctl, 1, "oneshot-probe-master"), "keyctl(JOIN_SESSION_KEYRING, the master's name)");
	expect_fail("keyctl-search-master", syscall(SYS_keyctl, 10, -3, "user", "oneshot-probe-master-key", 0), "keyctl(SEARCH, session keyring, the master's key)");
	expect_fail("request-key-master", syscall(SYS_request_key, "user", "oneshot-probe-master-key", NULL, 0), "request_key");
	expect_fail("keyctl-session-id", syscall(SYS_keyctl, 0 /* GET_KEYRING_ID */, -3, 0), "keyctl(GET_KEYRING_ID, session)");
}

/* chmod_NAME=PATH: add o+w to another vhost's directory or file (what breaks its suEXEC-style
 * check); put back at once if it worked. */
static void try_chmods(void)
{
	for (int i = 0; i < nparams; i++) {
		if (strncmp(params[i].key, "chmod_", 6) != 0) continue;
		char name[96];
		snprintf(name, sizeof name, "chmod-%s", params[i].key + 6);
		const char *path = params[i].value;
		struct stat st;
		mode_t mode = stat(path, &st) == 0 ? (st.st_mode & 07777) : 0755;
		if (chmod(path, mode | S_IWOTH) == 0) {
			chmod(path, mode);
			succeeded(name, "(chmod o+w %s, then put back %04o)", path, (unsigned)mode);
		} else {
			denied(name, errno, "chmod o+w");
		}
	}
}

/* Code that is not on disk, or is on the private tmpfs: memfd_create + execveat, and a copy
 * of this program in /tmp and /dev/shm. The copy execs with argv[1] = --exec-check and exits 42. */
static void try_exec_from(const char *name, const char *dir)
{
	const char *self = getenv("SCRIPT_FILENAME");
	char path[160];
	snprintf(path, sizeof path, "%s/oneshot-probe-exec", dir);
	int in = self ? open(self, O_RDONLY | O_CLOEXEC) : -1;
	if (in < 0) { denied(name, errno, "open SCRIPT_FILENAME to copy it"); return; }
	int out = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0755);
	if (out < 0) { denied(name, errno, "create the copy"); close(in); return; }
	char buf[65536];
	ssize_t n;
	while ((n = read(in, buf, sizeof buf)) > 0)
		if (write(out, buf, (size_t)n) != n) break;
	close(in);
	close(out);
	pid_t c = fork();
	if (c == 0) {
		char *argv[] = { path, "--exec-check", NULL };
		execve(path, argv, environ);
		_exit(errno & 0x7f);
	}
	int st = 0;
	if (c < 0 || waitpid(c, &st, 0) < 0) { denied(name, errno, "fork"); unlink(path); return; }
	unlink(path);
	if (WIFEXITED(st) && WEXITSTATUS(st) == 42) succeeded(name, "(exec'd a copy in %s)", dir);
	else if (WIFEXITED(st)) denied(name, WEXITSTATUS(st), "execve of the copy");
	else denied_plain(name, "the copy's child was killed");
}

static void try_code_injection(void)
{
	long fd = syscall(SYS_memfd_create, "probe", 0);
	if (fd < 0) {
		denied("memfd-execveat", errno, "memfd_create");
	} else {
		char *argv[] = { "probe", "--exec-check", NULL };
		pid_t c = fork();
		if (c == 0) {
			syscall(SYS_execveat, (int)fd, "", argv, environ, AT_EMPTY_PATH);
			_exit(errno & 0x7f);
		}
		int st = 0;
		waitpid(c, &st, 0);
		close((int)fd);
		/* an empty memfd cannot exec (ENOEXEC): getting this far is the hole */
		succeeded("memfd-execveat", "(memfd_create returned %ld; execveat %d)", fd, WEXITSTATUS(st));
	}
	try_exec_from("exec-from-tmp", "/tmp");
	try_exec_from("exec-from-dev-shm", "/dev/shm");
}

/* RLIMIT_NPROC: fork until refused, at most FORK_CAP children, all killed afterwards. */
#define FORK_CAP 256
static void try_fork_bomb(void)
{
	pid_t kids[FORK_CAP];
	int n = 0, e = 0;
	for (; n < FORK_CAP; n++) {
		pid_t c = fork();
		if (c == 0) { for (;;) pause(); }
		if (c < 0) { e = errno; break; }
		kids[n] = c;
	}
	for (int i = 0; i < n; i++) kill(kids[i], SIGKILL);
	for (int i = 0; i < n; i++) waitpid(kids[i], NULL, 0);
	fact("fork_bomb", "%d forks", n);
	if (n == FORK_CAP) succeeded("fork-bomb", "(%d processes, no limit reached)", n);
	else denied("fork-bomb", e, "fork refused by RLIMIT_NPROC");
}

/* RLIMIT_AS: a mapping beyond the limit. */
static void try_rlimit_as(void)
{
	struct rlimit rl;
	getrlimit(RLIMIT_AS, &rl);
	size_t len = rl.rlim_cur == RLIM_INFINITY ? ((size_t)2 << 30) : (size_t)rl.rlim_cur + (64 << 20);
	void *m = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (m == MAP_FAILED) {
		denied("rlimit-as", errno, "mmap beyond RLIMIT_AS");
		return;
	}
	munmap(m, len);
	succeeded("rlimit-as", "(mapped %zu bytes)", len);
}

/* RLIMIT_CPU: a runaway loop that ignores SIGXCPU, started first and collected last; spin=N
 * is the most CPU seconds the probe may spend (no run when the hard limit is above it). */
static pid_t spinner;
static int spin_budget;
static void start_spinner(void)
{
	spin_budget = (int)number(param("spin"));
	if (spin_budget <= 0) return;
	struct rlimit rl;
	getrlimit(RLIMIT_CPU, &rl);
	if (rl.rlim_max == RLIM_INFINITY || (long)rl.rlim_max > spin_budget) return;
	spinner = fork();
	if (spinner != 0) return;
	signal(SIGXCPU, SIG_IGN);
	struct timespec t0, t;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (volatile unsigned long i = 0;; i++) {
		if ((i & 0xfffff) != 0) continue;
		clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
		if (t.tv_sec > (time_t)rl.rlim_max + 1) _exit(0); /* past the hard limit */
		clock_gettime(CLOCK_MONOTONIC, &t);
		if (t.tv_sec - t0.tv_sec > 60) _exit(3); /* starved: no verdict */
	}
}

static void finish_spinner(void)
{
	if (spin_budget <= 0) return;
	struct rlimit rl;
	getrlimit(RLIMIT_CPU, &rl);
	if (spinner <= 0) {
		char why[96];
		snprintf(why, sizeof why, "RLIMIT_CPU hard %ld s is above the budget spin=%d", (long)rl.rlim_max, spin_budget);
		not_run("cpu-runaway", why);
		return;
	}
	int st = 0;
	waitpid(spinner, &st, 0);
	if (WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL)
		denied_plain("cpu-runaway", "killed by SIGKILL at the RLIMIT_CPU hard limit");
	else if (WIFEXITED(st) && WEXITSTATUS(st) == 0)
		succeeded("cpu-runaway", "(ran past the %ld s hard limit)", (long)rl.rlim_max);
	else
		not_run("cpu-runaway", "the loop got no CPU for 60 s");
}

/* ---- a process left behind -----------------------------------------------
 * daemon=SECS: a double-forked, setsid'd process (comm "probe-daemon") outlives this request
 * and for SECS seconds keeps trying to reach the connection's child (parent=PID): its client
 * socket (next keep-alive request), memory, descriptors. It records the outcome of each try
 * in /dev/shm/oneshot-probe-daemon (the connection's private tmpfs); report_daemon=1 in a later
 * request of the same connection prints those records as attempts. */
#define DAEMON_FILE "/dev/shm/oneshot-probe-daemon"
static void daemon_round(FILE *f, long parent)
{
	char buf[16];
	struct iovec local = { buf, sizeof buf }, remote = { (void *)buf, sizeof buf };
	int e;
	if (ptrace(PTRACE_ATTACH, (pid_t)parent, 0, 0) == 0) {
		release_tracee(parent, 0);
		fprintf(f, "daemon-ptrace-parent SUCCEEDED\n");
	} else fprintf(f, "daemon-ptrace-parent %d\n", errno);
	ssize_t n = process_vm_readv((pid_t)parent, &local, 1, &remote, 1, 0);
	e = errno;
	if (n < 0 && e != EFAULT && e != EIO) fprintf(f, "daemon-vm-read-parent %d\n", e);
	else fprintf(f, "daemon-vm-read-parent SUCCEEDED\n");
	int pidfd = (int)syscall(SYS_pidfd_open, (pid_t)parent, 0);
	if (pidfd < 0) {
		fprintf(f, "daemon-pidfd-getfd-parent %d\n", errno);
	} else {
		int got = -1, last = 0;
		for (int t = 0; t < 64 && got < 0; t++) {
			got = (int)syscall(SYS_pidfd_getfd, pidfd, t, 0);
			if (got < 0 && (errno != EBADF || !last)) last = errno;
		}
		if (got >= 0) { close(got); fprintf(f, "daemon-pidfd-getfd-parent SUCCEEDED\n"); }
		else fprintf(f, "daemon-pidfd-getfd-parent %d\n", last);
		close(pidfd);
	}
	char path[64];
	snprintf(path, sizeof path, "/proc/%ld/fd/0", parent);
	int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	if (fd >= 0) { close(fd); fprintf(f, "daemon-proc-fd-parent SUCCEEDED\n"); }
	else fprintf(f, "daemon-proc-fd-parent %d\n", errno);
	snprintf(path, sizeof path, "/proc/%ld/mem", parent);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd >= 0) { close(fd); fprintf(f, "daemon-read-mem-parent SUCCEEDED\n"); }
	else fprintf(f, "daemon-read-mem-parent %d\n", errno);
}

static void leave_daemon(void)
{
	long secs = number(param("daemon"));
	long parent = number(param("parent"));
	if (secs <= 0) return;
	if (parent <= 0) { not_run("daemon", "no parent= in QUERY_STRING"); return; }
	fflush(stdout);
	pid_t c = fork();
	if (c == 0) {
		setsid();
		if (fork() != 0) _exit(0);
		prctl(PR_SET_NAME, "probe-daemon", 0, 0, 0);
		for (int fd = 0; fd < 3; fd++) close(fd);
		FILE *pf = fopen(DAEMON_FILE ".pid", "w");
		if (pf) { fprintf(pf, "%d\n", getpid()); fclose(pf); }
		struct timespec t0, t;
		clock_gettime(CLOCK_MONOTONIC, &t0);
		int rounds = 0;
		do {
			/* one file per round, renamed over the last: a reader sees whole rounds */
			FILE *f = fopen(DAEMON_FILE ".new", "w");
			if (!f) break;
			fprintf(f, "round %d\n", ++rounds);
			daemon_round(f, parent);
			fclose(f);
			rename(DAEMON_FILE ".new", DAEMON_FILE);
			usleep(200 * 1000);
			clock_gettime(CLOCK_MONOTONIC, &t);
		} while (t.tv_sec - t0.tv_sec < secs);
		_exit(0);
	}
	if (c > 0) waitpid(c, NULL, 0);
	/* its first round recorded, so the next request has something to report (2 s at most) */
	for (int i = 0; c > 0 && i < 40 && access(DAEMON_FILE, F_OK) != 0; i++) usleep(50 * 1000);
	fact("daemon", "%s", c > 0 ? "left" : errname(errno));
}

static void report_daemon(void)
{
	if (!param("report_daemon")) return;
	FILE *f = fopen(DAEMON_FILE, "r");
	if (!f) { not_run("daemon", "no record from the process left by the earlier request"); return; }
	char line[256];
	while (fgets(line, sizeof line, f)) {
		char name[128];
		int e;
		if (strncmp(line, "round ", 6) == 0) { fact("daemon_round", "%d", atoi(line + 6)); continue; }
		if (sscanf(line, "%127s %d", name, &e) == 2) denied(name, e, "by the process left behind, after the request that left it");
		else if (sscanf(line, "%127s", name) == 1) succeeded(name, "(by the process left behind)");
	}
	fclose(f);
	int pid = 0;
	f = fopen(DAEMON_FILE ".pid", "r");
	if (f) { if (fscanf(f, "%d", &pid) != 1) pid = 0; fclose(f); }
	fact("daemon_alive", "%s", pid > 0 && kill(pid, 0) == 0 ? "yes" : "no");
}

/* What the probe is in: a PID namespace of its own when its parent is outside it. */
static void report_pid_ns(void)
{
	own_pid_ns = getppid() == 0;
	fact("pid_namespace", "%s", own_pid_ns ? "own" : "shared");
}

/* sleep=SECS: a sibling CGI that stays running (after leaving traces under tag=) */
static int sleeper(void)
{
	long secs = number(param("sleep"));
	printf("Content-Type: text/plain\n\n");
	const char *tag = param("tag");
	if (tag) leave_traces(tag);
	printf("ready\n");
	fflush(stdout);
	for (long i = 0; i < secs * 10; i++) usleep(100 * 1000);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc > 1 && strcmp(argv[1], "--exec-check") == 0) return 42;
	scan_fds();
	parse_query(getenv("QUERY_STRING"));
	if (param("sleep")) return sleeper();
	/* a whole run takes well under a second of CPU; RLimitCPU may be that low */
	signal(SIGXCPU, SIG_IGN);
	printf("Content-Type: text/plain\n\n");

	report_ids();
	report_context();
	report_nnp();
	report_caps();
	report_landlock();
	report_fds();
	report_env();
	report_pid_ns();

	/* only=traces: the follow-up connection, which only looks for what others left */
	int only_traces = param("only") && strcmp(param("only"), "traces") == 0;
	report_daemon();
	if (only_traces) {
		try_traces();
	} else {
		start_spinner();
		try_inherited_fds();
		try_setuid0();
		try_setgid0();
		try_setgroups0();
		try_setresuid_master();
		try_setresgid_master();
		try_setcon_all();
		try_files();
		try_chmods();
		try_processes();
		try_sibling_cgis();
		try_parent();
		try_left_state();
		try_traces();
		try_master_keyring();
		try_kernel_interfaces();
		try_code_injection();
		try_limits();
		try_rlimit_as();
		try_fork_bomb();
		finish_spinner();
		leave_daemon();
	}

	printf("FACT tally: %d denied, %d succeeded, %d same-identity, %d unreachable, %d not run\n",
	       n_denied, n_succeeded, n_same, n_unreachable, n_not_run);
	if (n_succeeded > 0)
		printf("VERDICT: ESCAPED (%d)\n", n_succeeded);
	else if (n_not_run > 0)
		printf("VERDICT: INCOMPLETE (%d not run)\n", n_not_run);
	else if (n_unreachable > 0 && !own_pid_ns)
		printf("VERDICT: INCOMPLETE (%d unreachable targets outside a PID namespace)\n", n_unreachable);
	else
		printf("VERDICT: contained\n");
	return fflush(stdout) == 0 ? 0 : 1;
}
