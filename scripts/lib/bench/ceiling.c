/* ceiling: the least work an HTTP server can do per connection, used as the
 * reference ("ceiling") for oneshot-httpd in scripts/bench.
 *
 *   ceiling PORT fork|nofork|reexec
 *
 * Binds 127.0.0.1:PORT only. Every connection gets the same answer: 200, a
 * 1024-byte body, Connection: close. In "fork" mode the listening process
 * forks one child per accepted connection (the child reads the request head,
 * writes, exits): no server built on a process per connection can beat it on
 * this machine. "nofork" serves inline and shows what the fork itself costs.
 * "reexec" makes each child execve() this program again to serve the
 * connection (fresh ASLR layout and stack canary per connection, as sshd
 * does): the lower bound of what a re-exec-per-child option costs.
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
#include <sys/socket.h>
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
    if (argc != 3 || (strcmp(argv[2], "fork") && strcmp(argv[2], "nofork") && strcmp(argv[2], "reexec"))) {
        fprintf(stderr, "usage: %s PORT fork|nofork|reexec\n", argv[0]);
        return 2;
    }
    int forking = strcmp(argv[2], "nofork") != 0, reexec = strcmp(argv[2], "reexec") == 0, one = 1;
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
            serve(fd);
            _exit(0);
        }
        if (p < 0) perror("ceiling: fork");
        close(fd);
        while (waitpid(-1, NULL, WNOHANG) > 0) {}
    }
}
