/*
 * keyattack: a CGI program, served over TLS, that tries to reach the key holder's signing
 * service after the handshake (tests/tls.rs, attack_cgi_cannot_reach_the_key_holder).
 * Static, so Landlock or a private mount view cannot keep it from loading.
 *
 * QUERY_STRING: kh=PID&master=PID&key=PATH&inodes=N,N,...
 *   kh, master: global pids of the key holder and the master (in our own PID namespace they
 *   name nothing, or someone else: both are reported);
 *   key: the SSLCertificateKeyFile path; inodes: the key holder's socket inodes, seen from
 *   outside by the test.
 *
 * Output (text/plain), in the style of tests/probe/probe.c:
 *   ATTEMPT name: denied (errno NAME: text)      the action failed
 *   ATTEMPT name: unreachable (errno ESRCH ...)  the target pid does not exist here
 *   ATTEMPT name: SUCCEEDED ...                  an escape: the test fails
 *   FACT name: ...                               context for the reader
 *   SUMMARY denied=N unreachable=N succeeded=N
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#ifndef SYS_pidfd_open
#define SYS_pidfd_open 434
#endif
#ifndef SYS_pidfd_getfd
#define SYS_pidfd_getfd 438
#endif

static int n_denied, n_unreachable, n_succeeded;

static const char *errname(int e)
{
	const char *n = strerrorname_np(e);
	return n ? n : "E?";
}

static void denied(const char *name, int e)
{
	if (e == ESRCH) {
		n_unreachable++;
		printf("ATTEMPT %s: unreachable (errno ESRCH: %s; pid namespace %s)\n", name,
		       strerror(e), getppid() == 0 ? "own" : "shared");
		return;
	}
	n_denied++;
	printf("ATTEMPT %s: denied (errno %s: %s)\n", name, errname(e), strerror(e));
}

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

static const char *param(const char *qs, const char *key)
{
	static char buf[4096];
	size_t kl = strlen(key);
	const char *p = qs;
	while (p && *p) {
		if (!strncmp(p, key, kl) && p[kl] == '=') {
			const char *v = p + kl + 1;
			size_t n = strcspn(v, "&");
			if (n >= sizeof buf)
				n = sizeof buf - 1;
			memcpy(buf, v, n);
			buf[n] = 0;
			return buf;
		}
		p = strchr(p, '&');
		if (p)
			p++;
	}
	return "";
}

/* Every fd above 2 that is open: none may be (the key holder channel above all). */
static void inherited_fds(void)
{
	int found = 0;
	for (int fd = 3; fd < 65536; fd++) {
		if (fcntl(fd, F_GETFD) == -1)
			continue;
		char link[64], target[256] = "?";
		snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
		ssize_t n = readlink(link, target, sizeof target - 1);
		if (n > 0)
			target[n] = 0;
		char name[64];
		snprintf(name, sizeof name, "inherited-fd-%d", fd);
		succeeded(name, "(open: %s)", target);
		found++;
	}
	if (!found)
		denied_plain("inherited-fds", "no fd above 2 is open");
}

/* /proc/PID/fd, pidfd_getfd on fds 0..63, /proc/PID/mem, ptrace: all on one process. */
static void attack_pid(const char *who, pid_t pid)
{
	char name[128], path[64];

	snprintf(name, sizeof name, "proc-fd-%s", who);
	snprintf(path, sizeof path, "/proc/%d/fd", pid);
	DIR *d = opendir(path);
	if (!d) {
		denied(name, errno);
	} else {
		int n = 0;
		struct dirent *e;
		while ((e = readdir(d))) {
			if (e->d_name[0] == '.')
				continue;
			char l[400], t[256] = "?";
			snprintf(l, sizeof l, "%s/%s", path, e->d_name);
			ssize_t r = readlink(l, t, sizeof t - 1);
			if (r > 0) {
				t[r] = 0;
				printf("FACT %s: fd %s -> %s\n", name, e->d_name, t);
				n++;
			}
		}
		closedir(d);
		if (n)
			succeeded(name, "(%d fd links of pid %d readable)", n, pid);
		else
			denied_plain(name, "directory listed but no link readable");
	}

	snprintf(name, sizeof name, "pidfd-getfd-%s", who);
	int pfd = (int)syscall(SYS_pidfd_open, pid, 0);
	if (pfd < 0) {
		denied(name, errno);
	} else {
		int got = 0, last = 0;
		for (int fd = 0; fd < 64; fd++) {
			int g = (int)syscall(SYS_pidfd_getfd, pfd, fd, 0);
			if (g >= 0) {
				succeeded(name, "(fd %d of pid %d copied)", fd, pid);
				close(g);
				got++;
			} else if (errno != EBADF) {
				last = errno;
			}
		}
		close(pfd);
		if (!got)
			denied(name, last ? last : EBADF);
	}

	snprintf(name, sizeof name, "proc-mem-%s", who);
	snprintf(path, sizeof path, "/proc/%d/mem", pid);
	int m = open(path, O_RDONLY);
	if (m < 0) {
		denied(name, errno);
	} else {
		succeeded(name, "(%s opened)", path);
		close(m);
	}

	snprintf(name, sizeof name, "ptrace-%s", who);
	if (ptrace(PTRACE_ATTACH, pid, 0, 0) == -1) {
		denied(name, errno);
	} else {
		succeeded(name, "(attached to pid %d)", pid);
		waitpid(pid, NULL, __WALL);
		ptrace(PTRACE_DETACH, pid, 0, 0);
	}
}

/* Every process this one can see, and the pids the test names. */
static void processes(const char *qs)
{
	pid_t self = getpid(), ppid = getppid();
	printf("FACT pids: self %d parent %d (0: the parent is outside our PID namespace)\n", self,
	       ppid);
	if (ppid > 0)
		attack_pid("parent", ppid);
	else
		denied_plain("parent", "getppid() is 0: the serving process is outside our PID namespace");
	DIR *d = opendir("/proc");
	if (!d) {
		denied("list-proc", errno);
	} else {
		struct dirent *e;
		while ((e = readdir(d))) {
			pid_t p = atoi(e->d_name);
			if (p <= 0 || p == self || p == ppid)
				continue;
			char who[32];
			snprintf(who, sizeof who, "visible-pid-%d", p);
			printf("FACT %s: visible in /proc\n", who);
			attack_pid(who, p);
		}
		closedir(d);
	}
	pid_t kh = atoi(param(qs, "kh")), master = atoi(param(qs, "master"));
	if (kh > 0 && kh != self)
		attack_pid("key-holder", kh);
	if (master > 0 && master != self)
		attack_pid("master", master);
}

/* Named unix sockets: the key holder's (the test passes their inodes) must have no name; any
 * name that belongs to one of them is tried. */
static void unix_sockets(const char *qs)
{
	char inodes[4096];
	snprintf(inodes, sizeof inodes, ",%s,", param(qs, "inodes"));
	FILE *f = fopen("/proc/net/unix", "r");
	if (!f) {
		denied("proc-net-unix", errno);
		return;
	}
	char line[1024];
	int named = 0, of_holder = 0;
	if (!fgets(line, sizeof line, f))
		line[0] = 0;
	while (fgets(line, sizeof line, f)) {
		unsigned long inode;
		char path[512] = "";
		/* Num RefCount Protocol Flags Type St Inode Path */
		if (sscanf(line, "%*s %*s %*s %*s %*s %*s %lu %511[^\n]", &inode, path) < 1 || !path[0])
			continue;
		named++;
		char key[32];
		snprintf(key, sizeof key, ",%lu,", inode);
		if (!strstr(inodes, key))
			continue;
		of_holder++;
		struct sockaddr_un a = {.sun_family = AF_UNIX};
		socklen_t len;
		if (path[0] == '@') {
			size_t n = strlen(path + 1);
			memcpy(a.sun_path + 1, path + 1, n < 106 ? n : 106);
			len = offsetof(struct sockaddr_un, sun_path) + 1 + (n < 106 ? n : 106);
		} else {
			snprintf(a.sun_path, sizeof a.sun_path, "%.107s", path);
			len = sizeof a;
		}
		char name[600];
		snprintf(name, sizeof name, "connect-key-holder-socket-%s", path);
		int types[] = {SOCK_SEQPACKET, SOCK_STREAM, SOCK_DGRAM};
		int ok = 0, err = 0;
		for (int i = 0; i < 3 && !ok; i++) {
			int s = socket(AF_UNIX, types[i], 0);
			if (s < 0) {
				err = errno;
				continue;
			}
			if (connect(s, (struct sockaddr *)&a, len) == 0)
				ok = 1;
			else
				err = errno;
			close(s);
		}
		if (ok)
			succeeded(name, "(connected)");
		else
			denied(name, err);
	}
	fclose(f);
	printf("FACT unix-sockets: %d named sockets in /proc/net/unix, %d of the key holder\n", named,
	       of_holder);
	if (!of_holder)
		denied_plain("key-holder-named-socket", "none of the key holder's sockets has a name");
}

static void key_file(const char *qs)
{
	const char *key = param(qs, "key");
	int fd = open(key, O_RDONLY);
	if (fd < 0) {
		denied("read-key-file", errno);
		return;
	}
	char b[16];
	ssize_t n = read(fd, b, sizeof b);
	close(fd);
	succeeded("read-key-file", "(%s opened, read %zd bytes)", key, n);
}

int main(void)
{
	const char *qs = getenv("QUERY_STRING");
	if (!qs)
		qs = "";
	const char *q = qs; /* paths are passed unencoded: no & or = in them */
	setvbuf(stdout, NULL, _IOFBF, 1 << 16);
	printf("Content-Type: text/plain\r\n\r\n");
	printf("FACT https: %s protocol %s\n", getenv("HTTPS") ? getenv("HTTPS") : "-",
	       getenv("SSL_PROTOCOL") ? getenv("SSL_PROTOCOL") : "-");
	printf("FACT ids: uid %d euid %d\n", (int)getuid(), (int)geteuid());
	inherited_fds();
	processes(q);
	unix_sockets(q);
	key_file(q);
	printf("SUMMARY denied=%d unreachable=%d succeeded=%d\n", n_denied, n_unreachable,
	       n_succeeded);
	return 0;
}
