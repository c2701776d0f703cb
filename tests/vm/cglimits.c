/* cglimits: a CGI for the VM's cgroup checks (checks.sh, cgroup_checks). It
 * runs in a connection's cgroup (CgroupPerConnection On) and pushes one limit
 * until the kernel stops it. QUERY_STRING selects what:
 *
 *   fork      forks until fork(2) fails, each child sleeping 20 s without
 *             exec'ing anything (the VM's web domains may not exec busybox:
 *             a shell fork bomb's `sleep` died at once and never filled
 *             pids.max). After the failure it waits 2 s, so that the harness
 *             sees the connection's pids.events, then prints, after the header,
 *               cgroup=<its /proc/self/cgroup line>
 *               forked=<N> errno=<ERRNO>
 *             and returns; the sleepers are left for the server to end (the
 *             process group kill, then cgroup.kill when the connection ends).
 *   hog=MB    allocates MB MiB and writes every page, printing NOTHING before
 *             it is done: killed by the OOM killer on the way, it leaves the
 *             server child with no header (the CGI-died answer, 500). If it
 *             gets through it prints "survived MB".
 *
 * Static C, so what it reports is errno itself, not a shell's message.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

static const char *ename(int e)
{
	switch (e) {
	case EAGAIN: return "EAGAIN";
	case ENOMEM: return "ENOMEM";
	case EPERM: return "EPERM";
	case EACCES: return "EACCES";
	default: return "other";
	}
}

static void cgroup_line(char *buf, size_t n)
{
	buf[0] = 0;
	int fd = open("/proc/self/cgroup", O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		snprintf(buf, n, "unreadable (%s)", strerror(errno));
		return;
	}
	ssize_t r = read(fd, buf, n - 1);
	close(fd);
	if (r < 0) r = 0;
	buf[r] = 0;
	char *nl = strchr(buf, '\n');
	if (nl) *nl = 0;
}

static int forks(void)
{
	char cg[256];
	cgroup_line(cg, sizeof cg);
	int n = 0, err = 0;
	for (;;) {
		pid_t pid = fork();
		if (pid < 0) {
			err = errno;
			break;
		}
		if (pid == 0) {
			/* nothing of the response: only the server may end it */
			close(0);
			close(1);
			close(2);
			sleep(20);
			_exit(0);
		}
		if (++n >= 10000) break;
	}
	sleep(2);
	printf("Content-Type: text/plain\r\n\r\ncgroup=%s\nforked=%d errno=%s\n", cg, n, err ? ename(err) : "none");
	return 0;
}

static int hog(long mb)
{
	size_t len = (size_t)mb << 20;
	char *m = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (m == MAP_FAILED) {
		printf("Content-Type: text/plain\r\n\r\nmmap %ld MiB: %s\n", mb, ename(errno));
		return 0;
	}
	long page = sysconf(_SC_PAGESIZE);
	for (size_t off = 0; off < len; off += (size_t)page) m[off] = 1;
	printf("Content-Type: text/plain\r\n\r\nsurvived %ld\n", mb);
	return 0;
}

int main(void)
{
	const char *q = getenv("QUERY_STRING");
	if (q && strcmp(q, "fork") == 0) return forks();
	if (q && strncmp(q, "hog=", 4) == 0) return hog(atol(q + 4));
	printf("Status: 400 Bad Request\r\nContent-Type: text/plain\r\n\r\nquery: fork | hog=MB\n");
	return 0;
}
