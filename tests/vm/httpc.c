/* httpc: raw HTTP client for the oneshot-httpd test VM.
 *
 *   httpc HOST PORT < request
 *
 * Sends stdin byte for byte (so checks can send malformed or hand-built
 * requests, including ones busybox wget refuses to produce), then prints the
 * whole response as received. The server closes every connection after one
 * response, so reading to EOF is the end of the message.
 *
 * Exit status: 0 when a response was read, 1 on connect/IO errors or timeout
 * (10 s: a hung server must fail the check, not the whole VM run).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

static int write_all(int fd, const char *buf, size_t len)
{
	while (len > 0) {
		ssize_t n = write(fd, buf, len);
		if (n < 0) {
			if (errno == EINTR) continue;
			return -1;
		}
		buf += n;
		len -= (size_t)n;
	}
	return 0;
}

static int send_stdin(int sock)
{
	char buf[4096];
	for (;;) {
		ssize_t n = read(0, buf, sizeof buf);
		if (n == 0) return 0;
		if (n < 0) {
			if (errno == EINTR) continue;
			return -1;
		}
		if (write_all(sock, buf, (size_t)n) < 0) return -1;
	}
}

static int copy_response(int sock)
{
	char buf[4096];
	size_t total = 0;
	for (;;) {
		ssize_t n = read(sock, buf, sizeof buf);
		if (n == 0) break;
		if (n < 0) {
			if (errno == EINTR) continue;
			/* ECONNRESET after a complete response still counts as a response */
			if (errno == ECONNRESET && total > 0) break;
			perror("httpc: read");
			return -1;
		}
		total += (size_t)n;
		if (write_all(1, buf, (size_t)n) < 0) return -1;
	}
	return total > 0 ? 0 : -1;
}

int main(int argc, char **argv)
{
	if (argc != 3) {
		fprintf(stderr, "usage: httpc HOST PORT < request\n");
		return 2;
	}
	struct sockaddr_in sa = {0};
	sa.sin_family = AF_INET;
	sa.sin_port = htons((unsigned short)atoi(argv[2]));
	if (inet_pton(AF_INET, argv[1], &sa.sin_addr) != 1) {
		fprintf(stderr, "httpc: bad IPv4 address %s\n", argv[1]);
		return 2;
	}
	int sock = socket(AF_INET, SOCK_STREAM, 0);
	if (sock < 0) { perror("httpc: socket"); return 1; }
	struct timeval tv = { .tv_sec = 10 };
	setsockopt(sock, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
	setsockopt(sock, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
	if (connect(sock, (struct sockaddr *)&sa, sizeof sa) < 0) { perror("httpc: connect"); return 1; }
	if (send_stdin(sock) < 0) { perror("httpc: send"); return 1; }
	int rc = copy_response(sock);
	close(sock);
	return rc < 0 ? 1 : 0;
}
