#!/bin/busybox sh
# Checks of the Debian-policy boot (tests/vm/debian/init, phase 2, in init_t):
# Debian's selinux-policy-default + selinux-module/refpolicy/oneshot.pp + the
# site module tests/vm/debian/oneshot_site.te. Sourced after tests/vm/checks.sh,
# whose helpers it reuses (probe, check, http, expect_http, probe_checks, ...);
# the names, paths and the few helpers that name paths are redefined here.
# Every check line carries the policy it ran under: "PASS [debian-default+oneshot] ...".

pass() { CHECK_PASS=$((CHECK_PASS + 1)); echo "PASS [$CHECK_POLICY] $1"; }
fail() { CHECK_FAIL=$((CHECK_FAIL + 1)); echo "FAIL [$CHECK_POLICY] $1: $2"; }
skip() { CHECK_SKIP=$((CHECK_SKIP + 1)); echo "SKIP [$CHECK_POLICY] $1: $2"; }

# The master at s0, not MCS-constrained (selinux-module/refpolicy/oneshot.te)
CTX_MASTER=system_u:system_r:oneshot_master_t:s0
CTX_WORKER=system_u:system_r:oneshot_worker_t:s0
CTX_VERIFIER=system_u:system_r:oneshot_verifier_t:s0
CTX_ALICE=system_u:system_r:oneshot_web_alice_t:s0:c1
CTX_CAROL=system_u:system_r:site_carol_t:s0:c5
CTX_ANON=system_u:system_r:oneshot_web_t:s0:c3
CTX_ALICE_WIDE=system_u:system_r:oneshot_web_alice_t:s0-s0:c0.c1023
CTX_ALICE_C5=system_u:system_r:oneshot_web_alice_t:s0:c5
CTX_CAROL_C1=system_u:system_r:site_carol_t:s0:c1
CTX_INIT=system_u:system_r:init_t:s0
# probe_checks' "other" identity
CTX_BOB=$CTX_CAROL

L=/bin/seltool
SERVER=/usr/sbin/oneshot-httpd
CONF=/etc/oneshot-httpd/oneshot.conf
LOGDIR=/var/log/oneshot-httpd
F_ACCESS_LOG=$LOGDIR/access.log
F_ERROR_LOG=$LOGDIR/error.log
F_PASSWD=/etc/oneshot-httpd/htpasswd
F_MAP=/etc/oneshot-httpd/domain.map
F_ALICE=/srv/www/alice/index.html                   # oneshot_content_alice_t:s0:c1
F_CAROL_IN_ALICE=/srv/www/alice/carol-secret.html   # site_carol_content_t:s0:c5
F_CAROL=/srv/www/carol/index.html                   # site_carol_content_t:s0:c5
F_ALICE_TYPE_C5=/srv/www/carol/alicetype-c5.html    # oneshot_content_alice_t:s0:c5
F_APACHE=/var/www/html/index.html                   # httpd_sys_content_t:s0 (Debian's fc)
CGI_ONESHOT=/usr/lib/oneshot-httpd/cgi-bin          # oneshot_cgi_exec_t (the module's fc)
CGI_APACHE=/usr/lib/cgi-bin                         # httpd_sys_script_exec_t (Debian's fc)
# tests/vm/pipedlog.sh, sourced after this file
O=system_u:object_r
PIPE_LOG=$LOGDIR/piped.log
PIPE_CONF=/etc/oneshot-httpd/pipedlog.conf
PIPE_PROGRAM=/usr/lib/oneshot-httpd/pipelog-program
CTX_LOGPIPE=system_u:system_r:oneshot_logpipe_t:s0

# ------------------------------------------------------------ redefined helpers
verifier_pid() {
    sed -n 's/.*password verifier started as pid \([0-9]*\) .*/\1/p' "$F_ERROR_LOG" | tail -n 1
}

start_server() {
    $SERVER -f "$CONF" >> "$LOGDIR/server.out" 2>&1 &
    SERVER_PID=$!
    i=0
    while [ $i -lt 50 ]; do
        printf 'GET / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n' | /bin/httpc 127.0.0.1 8080 >/dev/null 2>&1 && return 0
        kill -0 "$SERVER_PID" 2>/dev/null || { why="server exited: $(tail -n 3 "$LOGDIR/server.out" | tr '\n' ' ')"; return 1; }
        sleep 0.2
        i=$((i + 1))
    done
    why="not listening on 127.0.0.1:8080 after 10 s"
    return 1
}

# probe_run HOST DOCROOT CREDS|-: the probe CGI with this VM's targets
probe_run() {
    cgi="$CGI_ONESHOT"
    [ "$1" = localhost ] && cgi="$CGI_APACHE"
    q="master=$SERVER_PID&master_uid=0&master_gid=0&verifier=$(verifier_pid)"
    for p in $SIB_PIDS; do q="$q&sibling=$p"; done
    q="$q&setcon_master=$CTX_MASTER&setcon_worker=$CTX_WORKER&setcon_other=$CTX_BOB"
    q="$q&read_othervhost=$F_CAROL&read_othersecret=$F_CAROL_IN_ALICE&read_htpasswd=$F_PASSWD"
    q="$q&read_map=$F_MAP&read_config=$CONF"
    q="$q&writedir_docroot=$2&writefile_index=$2/index.html&writedir_cgi=$cgi"
    if [ "$3" = - ]; then http "$1" "/cgi-bin/probe?$q"; else http "$1" "/cgi-bin/probe?$q" "$3"; fi
    probe_status="$status"
    probe_out="$body"
    printf '%s\n' "$probe_out" | sed "s/^/probe($1)| /"
}

# No per-connection categories in this boot: the probe and the access log's
# ctx= carry exactly the mapped context.
probe_context_is() {
    got="$(printf '%s\n' "$probe_out" | sed -n "s/^FACT context: //p" | head -n 1)"
    [ "$got" = "$1" ] || { why="context '$got', want $1"; return 1; }
}

log_has_ctx() {
    line="$(grep -F -- "$1" "$F_ACCESS_LOG" | grep 'ctx=' | tail -n 1)"
    [ -n "$line" ] || { why="no access log line with '$1'"; return 1; }
    ctx="$(printf '%s\n' "$line" | sed -n 's/.* ctx=\([^ ]*\).*/\1/p')"
    [ "$ctx" = "system_u:system_r:$2" ] || { why="ctx=$ctx, want system_u:system_r:$2"; return 1; }
    rule="$(printf '%s\n' "$line" | sed -n 's/.* rule=\([^ ]*\).*/\1/p')"
    [ "$rule" = "$3" ] || { why="rule=$rule, want $3"; return 1; }
}

checks_run_in_init_t() {
    # PID 1's own context: its children run bin_t programs, which Debian's
    # policy sends from init_t to initrc_t (sysvinit scripts)
    got="$(tr -d '\0' < /proc/1/attr/current)"
    [ "$got" = "$CTX_INIT" ] || { why="the checks run as '$got', want $CTX_INIT"; return 1; }
}

verifier_in_domain() {
    v="$(verifier_pid)"
    [ -n "$v" ] || { why="no verifier pid in the error log"; return 1; }
    got="$(tr -d '\0' < "/proc/$v/attr/current")"
    [ "$got" = "$CTX_VERIFIER" ] || { why="verifier $v runs as '$got', want $CTX_VERIFIER"; return 1; }
}

label_is() {
    got="$($L getfilecon "$1" 2>&1)"
    case "$got" in *"	$2") return 0 ;; esac
    why="label '$got', want $2"
    return 1
}

# ------------------------------------------------------------ the checks
debian_policy_checks() {
    check "kernel: SELinux is enforcing" enforcing
    check "the checks run in init_t (as systemd's services start)" checks_run_in_init_t
    # labels come from setfiles: the module's .fc, the site's .fc and Debian's own
    check "setfiles: the server binary is oneshot_exec_t (module .fc)" label_is $SERVER system_u:object_r:oneshot_exec_t:s0
    check "setfiles: the configuration is oneshot_conf_t (module .fc)" label_is $CONF system_u:object_r:oneshot_conf_t:s0
    check "setfiles: the password file is oneshot_passwd_t (module .fc)" label_is $F_PASSWD system_u:object_r:oneshot_passwd_t:s0
    check "setfiles: the access log is oneshot_log_t (module .fc)" label_is $F_ACCESS_LOG system_u:object_r:oneshot_log_t:s0
    check "setfiles: /usr/lib/oneshot-httpd/cgi-bin is oneshot_cgi_exec_t (module .fc)" label_is $CGI_ONESHOT/probe system_u:object_r:oneshot_cgi_exec_t:s0
    check "setfiles: /var/www/html is httpd_sys_content_t (Debian's apache .fc)" label_is $F_APACHE system_u:object_r:httpd_sys_content_t:s0
    check "setfiles: /usr/lib/cgi-bin is httpd_sys_script_exec_t (Debian's apache .fc)" label_is $CGI_APACHE/probe system_u:object_r:httpd_sys_script_exec_t:s0
    check "setfiles: carol's content is site_carol_content_t:s0:c5 (site .fc)" label_is $F_CAROL system_u:object_r:site_carol_content_t:s0:c5
    check "setfiles: alice's content is oneshot_content_alice_t:s0:c1 (site .fc)" label_is $F_ALICE system_u:object_r:oneshot_content_alice_t:s0:c1

    probe "exec of oneshot_exec_t from init_t enters the master domain at s0" "OK $CTX_MASTER" con
    # transitions into the mapped domains
    probe "master -> alice (single-domain model)" "OK $CTX_ALICE" setcon "$CTX_ALICE" con
    probe "master -> carol (site's template domain)" "OK $CTX_CAROL" setcon "$CTX_CAROL" con
    probe "master -> default web domain" "OK $CTX_ANON" setcon "$CTX_ANON" con
    probe "master -> worker" "OK $CTX_WORKER" setcon "$CTX_WORKER" con
    probe "worker -> alice" "OK $CTX_ALICE" setcon "$CTX_WORKER" setcon "$CTX_ALICE" con
    probe "worker -> carol (site's template domain)" "OK $CTX_CAROL" setcon "$CTX_WORKER" setcon "$CTX_CAROL" con
    probe "worker -> default web domain" "OK $CTX_ANON" setcon "$CTX_WORKER" setcon "$CTX_ANON" con
    # the one-way switch
    probe "alice cannot go back to master" "ERR EACCES" setcon "$CTX_ALICE" setcon "$CTX_MASTER"
    probe "alice cannot go back to worker" "ERR EACCES" setcon "$CTX_WORKER" setcon "$CTX_ALICE" setcon "$CTX_WORKER"
    probe "alice cannot widen its range" "ERR EACCES" setcon "$CTX_ALICE" setcon "$CTX_ALICE_WIDE"
    probe "alice cannot take carol's category" "ERR EACCES" setcon "$CTX_ALICE" setcon "$CTX_ALICE_C5"
    probe "carol cannot go back to master" "ERR EACCES" setcon "$CTX_CAROL" setcon "$CTX_MASTER"
    probe "carol cannot go to alice" "ERR EACCES" setcon "$CTX_CAROL" setcon "$CTX_ALICE"
    probe "carol cannot switch category" "ERR EACCES" setcon "$CTX_CAROL" setcon "$CTX_CAROL_C1"
    probe "default web domain cannot go back to worker" "ERR EACCES" setcon "$CTX_ANON" setcon "$CTX_WORKER"
    probe "worker cannot go back to master" "ERR EACCES" setcon "$CTX_WORKER" setcon "$CTX_MASTER"
    probe "worker cannot become init_t" "ERR EACCES" setcon "$CTX_WORKER" setcon "$CTX_INIT"
    # content: each domain its own; cross-user denial by type and by category
    probe "alice reads her own content" "OK alice-index" setcon "$CTX_ALICE" read "$F_ALICE"
    probe "carol reads her own content" "OK carol-index" setcon "$CTX_CAROL" read "$F_CAROL"
    probe "default web domain reads httpd_sys_content_t" "OK default-index" setcon "$CTX_ANON" read "$F_APACHE"
    probe "alice cannot read carol's content" "ERR EACCES" setcon "$CTX_ALICE" read "$F_CAROL"
    probe "alice cannot read a carol file in her docroot" "ERR EACCES" setcon "$CTX_ALICE" read "$F_CAROL_IN_ALICE"
    probe "carol cannot read alice's content" "ERR EACCES" setcon "$CTX_CAROL" read "$F_ALICE"
    probe "carol cannot read alice's type at her own category (type alone)" "ERR EACCES" setcon "$CTX_CAROL" read "$F_ALICE_TYPE_C5"
    probe "alice cannot read her type at carol's category (MCS alone)" "ERR EACCES" setcon "$CTX_ALICE" read "$F_ALICE_TYPE_C5"
    probe "default web domain cannot read alice's content" "ERR EACCES" setcon "$CTX_ANON" read "$F_ALICE"
    probe "alice (not the default domain) cannot read httpd_sys_content_t" "ERR EACCES" setcon "$CTX_ALICE" read "$F_APACHE"
    probe "master (pre-auth) cannot read content" "ERR EACCES" read "$F_ALICE"
    probe "worker (pre-auth) cannot read Apache's content" "ERR EACCES" setcon "$CTX_WORKER" read "$F_APACHE"
    # secrets and configuration
    probe "master reads password files (single-domain model)" "OK $(head -n 1 "$F_PASSWD")" read "$F_PASSWD"
    probe "alice cannot read password files" "ERR EACCES" setcon "$CTX_ALICE" read "$F_PASSWD"
    probe "carol cannot read password files" "ERR EACCES" setcon "$CTX_CAROL" read "$F_PASSWD"
    probe "carol cannot read the map file" "ERR EACCES" setcon "$CTX_CAROL" read "$F_MAP"
    probe "alice cannot open the log herself" "ERR EACCES" setcon "$CTX_ALICE" append "$F_ACCESS_LOG"
    # processes
    probe "carol cannot signal the master" "ERR EACCES" spawn - setcon "$CTX_CAROL" kill 15
    # (selprobe's spawn CTX cannot run here: its helper reports through a pipe the
    # master made, and refpolicy's MCS refuses a write from s0:cN to s0-s0:c0.c1023;
    # the attack probe below attacks kept-alive siblings of other users instead)
    probe "carol cannot create sockets" "ERR EACCES" setcon "$CTX_CAROL" socket
    probe "carol cannot set enforcing mode" "ERR EACCES" setcon "$CTX_CAROL" append /sys/fs/selinux/enforce
}

debian_server_checks() {
    if ! out="$($SERVER -f "$CONF" -t 2>&1)"; then
        fail "server: -t accepts the Debian-policy VM config" "$(echo "$out" | tail -n 3 | tr '\n' ' ')"
        return
    fi
    pass "server: -t accepts the Debian-policy VM config"
    if ! start_server; then
        fail "server: starts and listens" "$why"
        return
    fi
    pass "server: starts and listens"
    check "server: master runs in oneshot_master_t at s0" master_context
    check "server: the verifier runs in oneshot_verifier_t" verifier_in_domain
    check "server: a static page from /var/www/html (httpd_sys_content_t), anonymous" expect_http 200 default-index localhost "/index.html?anonymous"
    check "server: alice on alice.localhost" expect_http 200 alice-index alice.localhost /index.html alice:alicepw
    check "server: carol on carol.localhost (site's template domain)" expect_http 200 carol-index carol.localhost /index.html carol:carolpw
    check "server: no credentials on carol.localhost -> 401" expect_http 401 "" carol.localhost /index.html
    check "server: alice gets 403 for carol's file in her docroot" expect_http 403 "" alice.localhost /carol-secret.html alice:alicepw
    check "server: carol gets 403 for alice's type at her category" expect_http 403 "" carol.localhost /alicetype-c5.html carol:carolpw
    check "server: alice cannot read carol's vhost" expect_refused carol-index carol.localhost /index.html alice:alicepw
    check "server: carol cannot read alice's vhost" expect_refused alice-index alice.localhost /index.html carol:carolpw
    check "server: log ctx=/rule= for alice" log_has_ctx " - alice [" oneshot_web_alice_t:s0:c1 "$F_MAP:2"
    check "server: log ctx=/rule= for carol (site_carol_t)" log_has_ctx " - carol [" site_carol_t:s0:c5 "$F_MAP:3"
    check "server: log ctx=/rule= for __anonymous__ (oneshot_web_t)" log_has_ctx "GET /index.html?anonymous " oneshot_web_t:s0:c3 "$F_MAP:4"
    check "server: WebDAV PUT as carol into her rw content type -> 201" expect_dav 201 PUT carol.localhost /dav/put.txt carol:carolpw dav-body
    check "server: the PUT file carries site_carol_rw_content_t" file_type_is /srv/www/carol/dav/put.txt site_carol_rw_content_t
    # the attack probe as a CGI: Apache's directory (default domain) and the module's (alice)
    probe_checks alice alice.localhost alice:alicepw "$CTX_ALICE" /srv/www/alice alice
    probe_checks anonymous localhost - "$CTX_ANON" /var/www/html "(unset)"
    check "server: a child may SIGKILL its own CGI's process group" cgi_group_kill_allowed
    kill "$SERVER_PID" 2>/dev/null
}

debian_checks() {
    debian_policy_checks
    debian_server_checks
    echo "INIT: ---- piped logs ---- at $(cut -d' ' -f1 /proc/uptime) s"
    pipedlog_checks
}
