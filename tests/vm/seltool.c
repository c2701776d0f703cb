/* seltool: SELinux helper for the oneshot-httpd test VM.
 *
 * The initramfs has busybox only, and busybox-static has no SELinux applets,
 * so loading the policy, labelling files and probing what a domain may do are
 * done here, statically linked, through the same kernel interfaces libselinux
 * uses (selinuxfs, /proc/thread-self/attr/current, security.selinux xattr).
 *
 *   seltool load FILE            load a binary policy (one write(), see load())
 *   seltool label CTX PATH...    set security.selinux on each PATH
 *   seltool getfilecon PATH...   print PATH <tab> label
 *   seltool getcon               print the current context
 *   seltool do STEP...           run steps in order in ONE process; every step
 *                                but the last must succeed; the last prints
 *                                "OK", "OK <value>" or "ERR <ERRNO-NAME>"
 *
 * Steps (arguments follow the step name):
 *   setcon CTX      switch context like setcon(3)
 *   con             value: current context
 *   read PATH       value: the first line of PATH
 *   append PATH     open O_WRONLY|O_APPEND and write one line
 *   writefd FD      write one line to an inherited descriptor
 *   try-setcon CTX  attempt setcon and ignore the outcome (to check that a
 *                   refused switch leaves the context as it was)
 *   socket          create an AF_INET stream socket
 *   udpsocket       create an AF_INET datagram socket
 *   connect PATH    connect an AF_UNIX stream socket to PATH (a FastCGI pool)
 *   uid N           become uid and gid N with no supplementary group, as a
 *                   child of the server does (every capability goes with it)
 *   exec PATH       fork; the child execs PATH (argument "true") in this
 *                   context; its errno comes back over a close-on-exec pipe
 *   pair            create an AF_UNIX socketpair (like the verifier channel)
 *   sendpair        write one byte into the socketpair made by "pair"
 *   spawn CTX|-     fork a helper child that setcons to CTX ("-": stays) and
 *                   then idles until this process exits; later steps target it
 *   kill SIGNUM     kill(helper, SIGNUM); 0 probes with signull
 *   ptrace          PTRACE_ATTACH to the helper
 *
 *
 *   seltool runcon CTX PROG ARG...   exec PROG in CTX (what runcon(1) does:
 *                                 the exec context, then execv)
 *
 * The same binary is installed twice in the VM: /bin/seltool stays in the
 * init domain, /bin/selprobe is labelled oneshot_exec_t so that running it
 * enters oneshot_master_t exactly as the server binary does.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <grp.h>
#include <sys/ptrace.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <sys/un.h>
#include <sys/xattr.h>
#include <netinet/in.h>
#include <unistd.h>

static const char *errname(int e)
{
	static char buf[16];
	switch (e) {
	case EACCES: return "EACCES";
	case EPERM: return "EPERM";
	case EINVAL: return "EINVAL";
	case ENOENT: return "ENOENT";
	case ESRCH: return "ESRCH";
	case EBADF: return "EBADF";
	}
	snprintf(buf, sizeof buf, "E%d", e);
	return buf;
}

/* The kernel only accepts a policy in a single write() at offset 0; busybox
 * cat writes in chunks and fails for anything but tiny policies. */
static int load(const char *path)
{
	int fd = open(path, O_RDONLY);
	struct stat st;
	if (fd < 0 || fstat(fd, &st) < 0) { perror(path); return 1; }
	char *buf = malloc(st.st_size);
	if (!buf) { perror("malloc"); return 1; }
	for (off_t got = 0; got < st.st_size;) {
		ssize_t n = read(fd, buf + got, st.st_size - got);
		if (n <= 0) { perror("read"); return 1; }
		got += n;
	}
	close(fd);
	int lfd = open("/sys/fs/selinux/load", O_WRONLY);
	if (lfd < 0) { perror("/sys/fs/selinux/load"); return 1; }
	if (write(lfd, buf, st.st_size) != st.st_size) {
		fprintf(stderr, "seltool: policy load failed: %s\n", strerror(errno));
		return 1;
	}
	close(lfd);
	free(buf);
	return 0;
}

static int getcon(char *buf, size_t len)
{
	memset(buf, 0, len);
	int fd = open("/proc/thread-self/attr/current", O_RDONLY);
	if (fd < 0) return -1;
	ssize_t n = read(fd, buf, len - 1);
	int e = errno;
	close(fd);
	errno = e;
	if (n < 0) return -1;
	buf[strcspn(buf, "\n")] = 0;
	return 0;
}

/* What libselinux's setcon() does. The trailing NUL is part of the write
 * because the kernel accepts either form and libselinux sends it. */
static int setcon(const char *ctx)
{
	int fd = open("/proc/thread-self/attr/current", O_WRONLY | O_CLOEXEC);
	if (fd < 0) return -1;
	ssize_t n = write(fd, ctx, strlen(ctx) + 1);
	int e = errno;
	close(fd);
	errno = e;
	return n < 0 ? -1 : 0;
}

/* ---- the step interpreter used by `seltool do` ---- */

struct state {
	pid_t helper;     /* child from "spawn", 0 if none */
	int pair[2];      /* from "pair", -1 if none */
	char value[512];  /* what the step produced, printed after OK */
};

static int step_read(struct state *s, const char *path)
{
	int fd = open(path, O_RDONLY);
	if (fd < 0) return -1;
	ssize_t n = read(fd, s->value, sizeof s->value - 1);
	int e = errno;
	close(fd);
	errno = e;
	if (n < 0) return -1;
	s->value[n] = 0;
	s->value[strcspn(s->value, "\n")] = 0;
	return 0;
}

static int step_append(const char *path)
{
	int fd = open(path, O_WRONLY | O_APPEND);
	if (fd < 0) return -1;
	static const char line[] = "seltool append probe\n";
	ssize_t n = write(fd, line, sizeof line - 1);
	int e = errno;
	close(fd);
	errno = e;
	return n < 0 ? -1 : 0;
}

static int step_writefd(const char *fd)
{
	static const char line[] = "seltool writefd probe\n";
	return write(atoi(fd), line, sizeof line - 1) < 0 ? -1 : 0;
}

static int step_pair(struct state *s)
{
	return socketpair(AF_UNIX, SOCK_STREAM, 0, s->pair);
}

static int step_sendpair(struct state *s)
{
	if (s->pair[0] < 0) { errno = EBADF; return -1; }
	return write(s->pair[0], "x", 1) < 0 ? -1 : 0;
}

static int step_socket(void)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	if (fd < 0) return -1;
	close(fd);
	return 0;
}

static int step_udpsocket(void)
{
	int fd = socket(AF_INET, SOCK_DGRAM, 0);
	if (fd < 0) return -1;
	close(fd);
	return 0;
}

static int step_connect(const char *path)
{
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	if (strlen(path) >= sizeof a.sun_path) { errno = EINVAL; return -1; }
	strcpy(a.sun_path, path);
	int fd = socket(AF_UNIX, SOCK_STREAM, 0);
	if (fd < 0) return -1;
	int rc = connect(fd, (struct sockaddr *)&a, sizeof a);
	int e = errno;
	close(fd);
	errno = e;
	return rc;
}

static int step_uid(const char *n)
{
	unsigned id = (unsigned)atoi(n);
	if (setgroups(0, NULL) < 0 || setresgid(id, id, id) < 0) return -1;
	return setresuid(id, id, id);
}

/* runcon(1): the next exec enters CTX (the kernel checks transition and
 * entrypoint), then PROG replaces this process. */
static int runcon(const char *ctx, char **argv)
{
	int fd = open("/proc/thread-self/attr/exec", O_WRONLY | O_CLOEXEC);
	if (fd < 0 || write(fd, ctx, strlen(ctx) + 1) < 0) {
		fprintf(stderr, "seltool: setexeccon %s: %s\n", ctx, strerror(errno));
		return 1;
	}
	close(fd);
	execv(argv[0], argv);
	fprintf(stderr, "seltool: exec %s in %s: %s\n", argv[0], ctx, strerror(errno));
	return 1;
}

static int step_exec(const char *path)
{
	int p[2];
	if (pipe2(p, O_CLOEXEC) < 0) return -1;
	pid_t pid = fork();
	if (pid < 0) return -1;
	if (pid == 0) {
		close(p[0]);
		char *const argv[] = { (char *)path, "true", NULL };
		execv(path, argv);
		int e = errno;
		if (write(p[1], &e, sizeof e) != sizeof e) _exit(126);
		_exit(127);
	}
	close(p[1]);
	int e = 0;
	ssize_t n = read(p[0], &e, sizeof e);
	close(p[0]);
	waitpid(pid, NULL, 0);
	if (n == sizeof e) { errno = e; return -1; }
	return 0;
}

/* The helper must outlive the steps that target it but must not outlive
 * this process: it blocks on a pipe whose write end only we hold, so it
 * exits by itself when we exit, even if we are no longer allowed to signal
 * it. A second pipe reports whether its own setcon worked. */
static int step_spawn(struct state *s, const char *ctx)
{
	int life[2], report[2];
	if (pipe(life) < 0 || pipe(report) < 0) return -1;
	pid_t pid = fork();
	if (pid < 0) return -1;
	if (pid == 0) {
		close(life[1]);
		close(report[0]);
		int err = 0;
		if (strcmp(ctx, "-") && setcon(ctx) < 0) err = errno;
		if (write(report[1], &err, sizeof err) != sizeof err) _exit(3);
		char c;
		while (read(life[0], &c, 1) > 0)
			;
		_exit(0);
	}
	close(life[0]);
	close(report[1]);
	int err = 0;
	if (read(report[0], &err, sizeof err) != sizeof err) err = EIO;
	close(report[0]);
	/* life[1] stays open on purpose until exit; keep it out of execs */
	fcntl(life[1], F_SETFD, FD_CLOEXEC);
	s->helper = pid;
	errno = err;
	return err ? -1 : 0;
}

static int step_kill(struct state *s, const char *signum)
{
	if (!s->helper) { errno = ESRCH; return -1; }
	return kill(s->helper, atoi(signum));
}

static int step_ptrace(struct state *s)
{
	if (!s->helper) { errno = ESRCH; return -1; }
	if (ptrace(PTRACE_ATTACH, s->helper, 0, 0) < 0) return -1;
	waitpid(s->helper, NULL, __WALL);
	ptrace(PTRACE_DETACH, s->helper, 0, 0);
	return 0;
}

/* Runs one step; returns how many argv entries it consumed, or 0 for an
 * unknown step or missing argument. *rc receives the step's result. */
static int run_step(struct state *s, char **argv, int argc, int *rc)
{
	const char *op = argv[0];
	const char *arg = argc > 1 ? argv[1] : NULL;
	s->value[0] = 0;
	errno = 0;
	if (!strcmp(op, "con")) { *rc = getcon(s->value, sizeof s->value); return 1; }
	if (!strcmp(op, "socket")) { *rc = step_socket(); return 1; }
	if (!strcmp(op, "udpsocket")) { *rc = step_udpsocket(); return 1; }
	if (!strcmp(op, "udp")) { *rc = step_udpsocket(); return 1; }
	if (!strcmp(op, "ptrace")) { *rc = step_ptrace(s); return 1; }
	if (!strcmp(op, "pair")) { *rc = step_pair(s); return 1; }
	if (!strcmp(op, "sendpair")) { *rc = step_sendpair(s); return 1; }
	if (!arg) return 0;
	if (!strcmp(op, "setcon")) *rc = setcon(arg);
	else if (!strcmp(op, "read")) *rc = step_read(s, arg);
	else if (!strcmp(op, "append")) *rc = step_append(arg);
	else if (!strcmp(op, "writefd")) *rc = step_writefd(arg);
	else if (!strcmp(op, "try-setcon")) { setcon(arg); *rc = 0; }
	else if (!strcmp(op, "spawn")) *rc = step_spawn(s, arg);
	else if (!strcmp(op, "kill")) *rc = step_kill(s, arg);
	else if (!strcmp(op, "connect")) *rc = step_connect(arg);
	else if (!strcmp(op, "uid")) *rc = step_uid(arg);
	else if (!strcmp(op, "exec")) *rc = step_exec(arg);
	else return 0;
	return 2;
}

static int do_steps(int argc, char **argv)
{
	struct state s = { .pair = { -1, -1 } };
	int i = 0;
	while (i < argc) {
		int rc = 0;
		int used = run_step(&s, argv + i, argc - i, &rc);
		if (!used) { fprintf(stderr, "seltool: bad step '%s'\n", argv[i]); return 2; }
		int e = errno;
		int last = i + used >= argc;
		if (!last && rc < 0) {
			char con[256];
			getcon(con, sizeof con);
			printf("SETUP-ERR %s %s: %s (running as %s)\n", argv[i],
			       used > 1 ? argv[i + 1] : "", errname(e), con);
			return 2;
		}
		if (last) {
			if (rc < 0) printf("ERR %s\n", errname(e));
			else if (s.value[0]) printf("OK %s\n", s.value);
			else printf("OK\n");
		}
		i += used;
	}
	return 0;
}

int main(int argc, char **argv)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc == 3 && !strcmp(argv[1], "load"))
		return load(argv[2]);
	if (argc >= 4 && !strcmp(argv[1], "label")) {
		int rc = 0;
		for (int i = 3; i < argc; i++) {
			if (lsetxattr(argv[i], "security.selinux", argv[2], strlen(argv[2]) + 1, 0) < 0) {
				fprintf(stderr, "seltool: label %s %s: %s\n", argv[2], argv[i], strerror(errno));
				rc = 1;
			}
		}
		return rc;
	}
	if (argc >= 3 && !strcmp(argv[1], "getfilecon")) {
		int rc = 0;
		for (int i = 2; i < argc; i++) {
			char buf[512] = {0};
			if (lgetxattr(argv[i], "security.selinux", buf, sizeof buf - 1) < 0) {
				printf("%s\t<%s>\n", argv[i], strerror(errno));
				rc = 1;
			} else {
				printf("%s\t%s\n", argv[i], buf);
			}
		}
		return rc;
	}
	if (argc == 2 && !strcmp(argv[1], "getcon")) {
		char buf[512];
		if (getcon(buf, sizeof buf) < 0) { perror("getcon"); return 1; }
		printf("%s\n", buf);
		return 0;
	}
	if (argc >= 3 && !strcmp(argv[1], "do"))
		return do_steps(argc - 2, argv + 2);
	if (argc >= 4 && !strcmp(argv[1], "runcon"))
		return runcon(argv[2], argv + 3);
	fprintf(stderr, "usage: seltool load FILE | label CTX PATH... | getfilecon PATH... | getcon | do STEP... | runcon CTX PROG ARG...\n");
	return 2;
}
