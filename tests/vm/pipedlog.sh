#!/bin/busybox sh
# Piped logs under Confinement selinux (CIL boot; sourced by tests/vm/init after
# checks.sh). A second server on 127.0.0.9:8080 (the first one may still be
# running) whose CustomLog is "|/bin/sh $PIPE_PROGRAM": the master starts
# the program, which must run in oneshot_logpipe_t (not the master's domain),
# receive the access lines, be refused the password file and the master's
# powers, and be started again after it dies.

# the Debian-policy boot (tests/vm/debian/checks.sh) sets its own paths and context
PIPE_LOG=${PIPE_LOG:-$TOP/log/piped.log}
PIPE_CONF=${PIPE_CONF:-$TOP/conf/pipedlog.conf}
PIPE_PROGRAM=${PIPE_PROGRAM:-/vm/pipelog-program}
CTX_LOGPIPE=${CTX_LOGPIPE:-system_u:system_r:oneshot_logpipe_t:s0-s0:c0.c15}
PIPE_PID=""

# pipe_label TYPE FILE: label FILE unless it carries TYPE already (in the
# Debian-policy boot setfiles did, and relabelling on the rootfs is refused)
pipe_label() {
    case "$($L getfilecon "$2" 2>&1)" in *":$1:"*) return 0 ;; esac
    $L label "$O:$1:s0" "$2"
}

pipedlog_setup() {
    cat > "$PIPE_PROGRAM" <<PROG || { why="cannot write $PIPE_PROGRAM"; return 1; }
#!/bin/sh
# reports its context and what it may do, then appends its stdin to the log
{
    ctx="\$(tr -d '\\0' < /proc/self/attr/current)"
    # the pid stays the program's through "exec cat"
    echo "pipe-pid: \$\$"
    echo "pipe-context: \$ctx"
    if cat $F_PASSWD > /dev/null 2>&1; then echo "pipe-htpasswd: read"; else echo "pipe-htpasswd: denied"; fi
    # its own context again: allowed for any process that holds setcurrent
    if printf %s "\$ctx" > /proc/self/attr/current 2>/dev/null; then echo "pipe-setcon: allowed"; else echo "pipe-setcon: denied"; fi
    exec cat
} >> $PIPE_LOG
PROG
    # printf, not ":": a failed redirection of a special builtin ends the shell (PID 1)
    printf '' > "$PIPE_LOG" || { why="cannot empty $PIPE_LOG"; return 1; }
    pipe_label oneshot_log_t "$PIPE_LOG" || { why="cannot label $PIPE_LOG"; return 1; }
    sed -e 's/^Listen 127.0.0.1:8080/Listen 127.0.0.9:8080/' \
        -e "s|^CustomLog .*|CustomLog \"\\|/bin/sh $PIPE_PROGRAM\" combined|" "$CONF" > "$PIPE_CONF"
    grep -qF "CustomLog \"|/bin/sh $PIPE_PROGRAM\" combined" "$PIPE_CONF" || { why="no piped CustomLog in $PIPE_CONF"; return 1; }
    pipe_label oneshot_conf_t "$PIPE_CONF" || { why="cannot label $PIPE_CONF"; return 1; }
    "$SERVER" -f "$PIPE_CONF" >> /tmp/server.out 2>&1 &
    PIPE_PID=$!
    i=0
    while [ $i -lt 50 ]; do
        printf 'GET / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n' | /bin/httpc 127.0.0.9 8080 >/dev/null 2>&1 && return 0
        kill -0 "$PIPE_PID" 2>/dev/null || { why="server exited: $(tail -n 3 /tmp/server.out | tr '\n' ' ')"; return 1; }
        sleep 0.2
        i=$((i + 1))
    done
    why="not listening on 127.0.0.9:8080 after 10 s"
    return 1
}

# pipe_get TAG: one anonymous GET whose request line carries TAG
pipe_get() {
    printf 'GET /index.html?%s HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n' "$1" \
        | /bin/httpc 127.0.0.9 8080 >/dev/null 2>&1
}

# pipe_log_has TEXT: the piped log gets a line with TEXT within 10 s
pipe_log_has() {
    i=0
    while [ $i -lt 50 ]; do
        grep -qF -- "$1" "$PIPE_LOG" && return 0
        sleep 0.2
        i=$((i + 1))
    done
    why="no '$1' in the piped log after 10 s: $(tail -n 3 "$PIPE_LOG" | tr '\n' ' ')"
    return 1
}

# the running log program: the pid it wrote last (its "exec cat" keeps it)
pipe_program_pid() {
    p="$(sed -n 's/^pipe-pid: //p' "$PIPE_LOG" | tail -n 1)"
    [ -n "$p" ] && kill -0 "$p" 2>/dev/null && echo "$p"
}

pipe_program_context() {
    p="$(pipe_program_pid)" || { why="no running log program (no live pid on a pipe-pid: line)"; return 1; }
    got="$(tr -d '\0' < "/proc/$p/attr/current")"
    [ "$got" = "$CTX_LOGPIPE" ] || { why="log program $p runs as '$got', want $CTX_LOGPIPE"; return 1; }
}

pipe_restarted() {
    old="$(pipe_program_pid)" || { why="no log program to kill"; return 1; }
    kill -KILL "$old"
    i=0
    while [ $i -lt 50 ]; do
        new="$(pipe_program_pid)" && [ "$new" != "$old" ] && break
        sleep 0.2
        i=$((i + 1))
    done
    [ -n "$new" ] && [ "$new" != "$old" ] || { why="not started again within 10 s of SIGKILL"; return 1; }
    pipe_get piped-after-restart
    pipe_log_has "GET /index.html?piped-after-restart "
}

pipedlog_checks() {
    if ! pipedlog_setup; then
        fail "piped log: a server with CustomLog \"|/bin/sh $PIPE_PROGRAM\" starts" "$why"
        kill "$PIPE_PID" 2>/dev/null
        return
    fi
    pass "piped log: a server with CustomLog \"|/bin/sh $PIPE_PROGRAM\" starts"
    pipe_get piped-first
    check "piped log: the program receives the access line" pipe_log_has "GET /index.html?piped-first "
    check "piped log: the program runs in oneshot_logpipe_t, not the master's domain" pipe_program_context
    check "piped log: the program reports that context itself" pipe_log_has "pipe-context: $CTX_LOGPIPE"
    check "piped log: the program cannot read the password file" pipe_log_has "pipe-htpasswd: denied"
    check "piped log: the program cannot change its context" pipe_log_has "pipe-setcon: denied"
    check "piped log: the program is started again after SIGKILL and receives lines" pipe_restarted
    kill "$PIPE_PID" 2>/dev/null
    wait "$PIPE_PID" 2>/dev/null
}
