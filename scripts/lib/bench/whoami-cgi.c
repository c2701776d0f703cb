/* whoami-cgi: the per-user CGI of scripts/bench. Small and compiled, so the
 * measurement is the server's fork/exec/confinement path, not an interpreter.
 * It prints its real and effective ids, which the harness checks once to see
 * that each vhost's CGI really runs as that vhost's owner. */
#include <stdio.h>
#include <unistd.h>

int main(void) {
    printf("Content-Type: text/plain\r\n\r\nuid=%d euid=%d gid=%d egid=%d\n",
           (int)getuid(), (int)geteuid(), (int)getgid(), (int)getegid());
    return 0;
}
