/* cgipeer: a CGI for the VM's per-connection category checks (checks.sh,
 * peer_checks). Two of them run at once as the same user, each in its own
 * connection; each attacks the other.
 *
 * QUERY_STRING: order=PATH&content=PATH
 *   1. prints "pid=N" and "context=CTX" (its own), and the result of reading
 *      PATH given as content= (the user's content: it must stay readable);
 *   2. waits (at most 20 s) until the file order= holds two pids, written by
 *      the harness once both peers have printed theirs;
 *   3. makes every attempt against the pid that is not its own, one line each:
 *        ATTEMPT <name>: denied (<ERRNO>)   or   ATTEMPT <name>: ALLOWED <what>
 *      and the same reads against itself as CONTROL lines, which must work
 *      (so a denial is about the target, not about the attempt's code);
 *   4. prints DONE and waits until the harness (kernel_t) kills it, so that
 *      its peer still finds it alive.
 * The harness sends a header X-Canary, so each peer's environment holds a
 * secret (HTTP_X_CANARY) the other must not see.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <dirent.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static void out(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void out(const char *fmt, ...)
{
	char buf[1024];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(buf, sizeof buf, fmt, ap);
	va_end(ap);
	if (n < 0) return;
	if ((size_t)n >= sizeof buf) n = sizeof buf - 1;
	buf[n++] = '\n';
	for (int off = 0; off < n;) {
		ssize_t w = write(1, buf + off, (size_t)(n - off));
		if (w <= 0) return;
		off += (int)w;
	}
}

static const char *ename(int e)
{
	static char b[16];
	switch (e) {
	case EACCES: return "EACCES";
	case EPERM: return "EPERM";
	case ESRCH: return "ESRCH";
	case ENOENT: return "ENOENT";
	}
	snprintf(b, sizeof b, "E%d", e);
	return b;
}

/* QUERY_STRING value of key, or NULL (no decoding: the harness sends plain paths). */
static char *param(const char *key)
{
	const char *q = getenv("QUERY_STRING");
	if (!q) return NULL;
	size_t kl = strlen(key);
	for (const char *p = q; p && *p; p = strchr(p, '&') ? strchr(p, '&') + 1 : NULL) {
		if (!strncmp(p, key, kl) && p[kl] == '=') {
			const char *v = p + kl + 1;
			size_t n = strcspn(v, "&");
			char *r = malloc(n + 1);
			if (!r) return NULL;
			memcpy(r, v, n);
			r[n] = 0;
			return r;
		}
	}
	return NULL;
}

/* Reads up to len-1 bytes of path into buf; returns bytes or -1 with errno. */
static ssize_t slurp(const char *path, char *buf, size_t len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) return -1;
	ssize_t n = read(fd, buf, len - 1);
	int e = errno;
	close(fd);
	errno = e;
	if (n >= 0) buf[n] = 0;
	return n;
}

static int contains(const char *buf, ssize_t n, const char *needle)
{
	size_t l = strlen(needle);
	for (ssize_t i = 0; i + (ssize_t)l <= n; i++)
		if (!memcmp(buf + i, needle, l)) return 1;
	return 0;
}

/* One /proc read: ATTEMPT against the peer, CONTROL against itself. */
/* This process's pid as /proc names it (outside its PID namespace, if it has one). */
static pid_t host_pid(void)
{
	char b[32];
	ssize_t n = readlink("/proc/self", b, sizeof b - 1);
	if (n <= 0) return getpid();
	b[n] = 0;
	return (pid_t)atoi(b);
}

static void proc_read(const char *kind, pid_t pid, const char *file, const char *secret)
{
	char path[64], buf[8192];
	snprintf(path, sizeof path, "/proc/%d/%s", (int)pid, file);
	ssize_t n = slurp(path, buf, sizeof buf);
	if (n < 0) {
		out("%s %s: denied (%s)", kind, file, ename(errno));
		return;
	}
	out("%s %s: ALLOWED %zd bytes%s", kind, file, n,
	    secret && contains(buf, n, secret) ? ", secret seen" : "");
}

static void syscall_result(const char *name, long rc)
{
	if (rc < 0) out("ATTEMPT %s: denied (%s)", name, ename(errno));
	else out("ATTEMPT %s: ALLOWED (%ld)", name, rc);
}

static void sleep_ms(long ms)
{
	struct timespec t = { ms / 1000, (ms % 1000) * 1000000L };
	nanosleep(&t, NULL);
}

int main(void)
{
	char *order = param("order"), *content = param("content");
	const char *canary = getenv("HTTP_X_CANARY");
	char ctx[256] = "?", buf[512];
	if (slurp("/proc/self/attr/current", ctx, sizeof ctx) < 0) snprintf(ctx, sizeof ctx, "? (%s)", ename(errno));
	ctx[strcspn(ctx, "\n")] = 0;
	out("Content-Type: text/plain\r\n\r");
	/* In its own PID namespace getpid() is small; /proc (not remounted) names processes by
	 * their pid outside, which is what the harness and the peer need. */
	pid_t me = host_pid();
	out("pid=%d", (int)me);
	if (me != getpid()) out("pidns=own");
	out("context=%s", ctx);
	if (content && slurp(content, buf, sizeof buf) >= 0) {
		buf[strcspn(buf, "\n")] = 0;
		out("CONTENT: OK %s", buf);
	} else {
		out("CONTENT: ERR %s", ename(errno));
	}
	pid_t peer = 0;
	for (int i = 0; i < 400 && order && !peer; i++) {
		int a = 0, b = 0;
		if (slurp(order, buf, sizeof buf) > 0 && sscanf(buf, "%d %d", &a, &b) == 2)
			peer = a == me ? b : a;
		else
			sleep_ms(50);
	}
	if (!peer) {
		out("NO-ORDER");
		return 0;
	}
	out("peer=%d", (int)peer);
	/* Its own /proc first: these work, or the attempts below prove nothing. */
	proc_read("CONTROL", me, "environ", canary);
	proc_read("CONTROL", me, "status", NULL);
	proc_read("CONTROL", me, "attr/current", NULL);
	/* The peer's secret is its canary; ours must not count, so look for "peer-". */
	proc_read("ATTEMPT", peer, "environ", "X_CANARY=peer-");
	proc_read("ATTEMPT", peer, "cmdline", NULL);
	proc_read("ATTEMPT", peer, "status", NULL);
	proc_read("ATTEMPT", peer, "attr/current", NULL);
	proc_read("ATTEMPT", peer, "stat", NULL);
	char fd_dir[64];
	snprintf(fd_dir, sizeof fd_dir, "/proc/%d/fd", (int)peer);
	DIR *d = opendir(fd_dir);
	if (d) {
		int n = 0;
		while (readdir(d)) n++;
		closedir(d);
		out("ATTEMPT fd: ALLOWED %d entries", n);
	} else {
		out("ATTEMPT fd: denied (%s)", ename(errno));
	}
	long rc = ptrace(PTRACE_ATTACH, peer, 0, 0);
	int e = errno;
	if (rc == 0) {
		waitpid(peer, NULL, __WALL);
		ptrace(PTRACE_DETACH, peer, 0, 0);
	}
	errno = e;
	syscall_result("ptrace", rc);
	syscall_result("signull", kill(peer, 0));
	syscall_result("getpgid", getpgid(peer));
	syscall_result("getsid", getsid(peer));
	syscall_result("getscheduler", sched_getscheduler(peer));
	struct rlimit old;
	syscall_result("prlimit-read", prlimit(peer, RLIMIT_NOFILE, NULL, &old));
	/* Last: if it works, the peer is gone. */
	syscall_result("sigkill", kill(peer, SIGKILL));
	out("DONE");
	for (int i = 0; i < 400; i++) sleep_ms(50);
	return 0;
}
