/* ceiling: the least work an HTTP server can do per connection, used as the
 * reference ("ceiling") for oneshot-httpd in scripts/bench.
 *
 *   ceiling PORT fork|nofork|reexec|confined
 *
 * Binds 127.0.0.1:PORT only. Every connection gets the same answer: 200, a
 * 1024-byte body, Connection: close. In "fork" mode the listening process
 * forks one child per accepted connection (the child reads the request head,
 * writes, exits): no server built on a process per connection can beat it on
 * this machine. "nofork" serves inline and shows what the fork itself costs.
 * "reexec" makes each child execve() this program again to serve the
 * connection (fresh ASLR layout and stack canary per connection, as sshd
 * does): the lower bound of what a re-exec-per-child option costs.
 * "confined" makes each forked child, before it reads a byte, make the kernel
 * calls oneshot-httpd's confinement makes (`Confinement unix landlock`, a vhost
 * where programs may run), with none of its checks: its own session keyring;
 * unshare IPC + mount + PID; mounts private; a tmpfs on /tmp, /var/tmp and
 * /dev/shm; not dumpable; setgroups/setresgid/setresuid to CONFINED_UID
 * (default 65534); a Landlock ruleset allowing reads under CONFINED_ROOT
 * (default /var/tmp; no tmpfs is mounted over a directory it is beneath) and
 * nothing else; no_new_privs; a seccomp filter denying
 * the same 45 system calls oneshot-httpd's denies whatever the arguments. Any
 * failing step exits the child (the client sees a reset). Run as root. It is
 * the floor of what that confinement costs in the kernel per connection.
 * Children are reaped between accepts with WNOHANG, so no signal handler runs.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/landlock.h>
#include <linux/seccomp.h>
#include <grp.h>
#include <sched.h>
#include <stddef.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#define BODY_LEN 1024

static char response[BODY_LEN + 256];
static size_t response_len;

static void build_response(void) {
    int n = snprintf(response, sizeof response,
                     "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n"
                     "Content-Length: %d\r\nConnection: close\r\n\r\n", BODY_LEN);
    for (int i = 0; i < BODY_LEN; i++) response[n + i] = (char)('a' + i % 26);
    response_len = (size_t)n + BODY_LEN;
}

/* Reads until the end of the request head (or error / 8 KiB), then answers. */
static void serve(int fd) {
    char buf[8193];
    size_t have = 0;
    while (have < sizeof buf - 1) {
        ssize_t r = read(fd, buf + have, sizeof buf - 1 - have);
        if (r <= 0) return;
        have += (size_t)r;
        buf[have] = '\0';
        if (strstr(buf, "\r\n\r\n")) break;
    }
    for (size_t off = 0; off < response_len;) {
        ssize_t w = write(fd, response + off, response_len - off);
        if (w <= 0) return;
        off += (size_t)w;
    }
}

/* The confined mode's child: see the top of this file. Returns 0 when confined. */
static const int denied[] = {
    SYS_io_uring_setup, SYS_io_uring_enter, SYS_io_uring_register, SYS_userfaultfd, SYS_keyctl,
    SYS_add_key, SYS_request_key, SYS_unshare, SYS_setns, SYS_mount, SYS_umount2, SYS_pivot_root,
    SYS_chroot, SYS_open_tree, SYS_move_mount, SYS_fsopen, SYS_fsconfig, SYS_fsmount, SYS_fspick,
    SYS_mount_setattr, SYS_bpf, SYS_perf_event_open, SYS_ptrace, SYS_process_vm_readv,
    SYS_process_vm_writev, SYS_process_madvise, SYS_kcmp, SYS_pidfd_getfd, SYS_kexec_load,
    SYS_kexec_file_load, SYS_init_module, SYS_finit_module, SYS_delete_module, SYS_swapon,
    SYS_swapoff, SYS_reboot, SYS_acct, SYS_quotactl, SYS_quotactl_fd, SYS_clock_settime,
    SYS_settimeofday, SYS_adjtimex, SYS_clock_adjtime, SYS_prlimit64, SYS_sched_setaffinity,
};
#define NDENIED ((int)(sizeof denied / sizeof denied[0]))

static int confine(void) {
    const char *u = getenv("CONFINED_UID"), *root = getenv("CONFINED_ROOT");
    uid_t uid = u ? (uid_t)atoi(u) : 65534;
    if (syscall(SYS_keyctl, 1 /* KEYCTL_JOIN_SESSION_KEYRING */, NULL) < 0) return -1;
    if (unshare(CLONE_NEWIPC | CLONE_NEWNS | CLONE_NEWPID) < 0) return -1;
    if (mount("none", "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0) return -1;
    const char *tmps[] = {"/tmp", "/var/tmp", "/dev/shm"};
    if (!root) root = "/var/tmp";
    for (int i = 0; i < 3; i++)
        /* as oneshot-httpd, no tmpfs over a mount point the served tree is beneath */
        if (strncmp(root, tmps[i], strlen(tmps[i])) != 0 &&
            mount("tmpfs", tmps[i], "tmpfs", MS_NOSUID | MS_NODEV, "size=16m,mode=1777") < 0) return -1;
    if (prctl(PR_SET_DUMPABLE, 0) < 0) return -1;
    if (setgroups(0, NULL) < 0 || setresgid(uid, uid, uid) < 0 || setresuid(uid, uid, uid) < 0) return -1;
    struct landlock_ruleset_attr ra = {.handled_access_fs = (1ULL << 16) - 1};
    int rs = (int)syscall(SYS_landlock_create_ruleset, &ra, sizeof ra, 0);
    if (rs < 0) return -1;
    struct landlock_path_beneath_attr pb = {
        .allowed_access = LANDLOCK_ACCESS_FS_READ_FILE | LANDLOCK_ACCESS_FS_READ_DIR,
        .parent_fd = open(root, O_PATH | O_CLOEXEC)};
    if (pb.parent_fd < 0 || syscall(SYS_landlock_add_rule, rs, LANDLOCK_RULE_PATH_BENEATH, &pb, 0) < 0)
        return -1;
    close(pb.parent_fd);
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0 || syscall(SYS_landlock_restrict_self, rs, 0) < 0)
        return -1;
    close(rs);
    struct sock_filter f[NDENIED + 6];
    int n = 0;
    f[n++] = (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch));
    f[n++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, AUDIT_ARCH_X86_64, 1, 0);
    f[n++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_KILL_PROCESS);
    f[n++] = (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr));
    for (int i = 0; i < NDENIED; i++)
        f[n++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, (unsigned)denied[i], (unsigned char)(NDENIED - i), 0);
    f[n++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW);
    f[n++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | EPERM);
    struct sock_fprog prog = {.len = (unsigned short)n, .filter = f};
    return (int)syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &prog) < 0 ? -1 : 0;
}

static int listen_loopback(int port) {
    int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), one = 1;
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((unsigned short)port),
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    if (s < 0 || setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) < 0 ||
        bind(s, (struct sockaddr *)&a, sizeof a) < 0 || listen(s, 4096) < 0) {
        perror("ceiling: listen");
        exit(1);
    }
    return s;
}

/* The re-executed child: argv = { ceiling, --serve-fd, FD }. */
static int serve_inherited(const char *fdstr) {
    build_response();
    signal(SIGPIPE, SIG_IGN);
    serve(atoi(fdstr));
    return 0;
}

int main(int argc, char **argv) {
    if (argc == 3 && strcmp(argv[1], "--serve-fd") == 0) return serve_inherited(argv[2]);
    if (argc != 3 || (strcmp(argv[2], "fork") && strcmp(argv[2], "nofork") && strcmp(argv[2], "reexec") &&
                      strcmp(argv[2], "confined"))) {
        fprintf(stderr, "usage: %s PORT fork|nofork|reexec|confined\n", argv[0]);
        return 2;
    }
    int forking = strcmp(argv[2], "nofork") != 0, reexec = strcmp(argv[2], "reexec") == 0, one = 1;
    int confined = strcmp(argv[2], "confined") == 0;
    build_response();
    signal(SIGPIPE, SIG_IGN);
    int ls = listen_loopback(atoi(argv[1]));
    for (;;) {
        int fd = accept4(ls, NULL, NULL, SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno != EINTR && errno != ECONNABORTED) perror("ceiling: accept");
            continue;
        }
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        if (!forking) {
            serve(fd);
            close(fd);
            continue;
        }
        pid_t p = fork();
        if (p == 0) {
            close(ls);
            if (reexec) {
                char fdstr[16];
                snprintf(fdstr, sizeof fdstr, "%d", fd);
                fcntl(fd, F_SETFD, 0); /* keep the connection across execve */
                char *const args[] = {"ceiling", "--serve-fd", fdstr, NULL};
                char *const env[] = {NULL};
                execve("/proc/self/exe", args, env);
                _exit(127);
            }
            if (confined && confine() < 0) _exit(1);
            serve(fd);
            _exit(0);
        }
        if (p < 0) perror("ceiling: fork");
        close(fd);
        while (waitpid(-1, NULL, WNOHANG) > 0) {}
    }
}
