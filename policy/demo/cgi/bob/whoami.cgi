#!/bin/sh
# oneshot-httpd demo CGI: prints the identity this program runs as. It is exec'd after the
# connection's confinement, so everything below is inherited from it.
printf 'Content-Type: text/plain\n\n'
echo "vhost:       $SERVER_NAME"
echo "user:        ${REMOTE_USER:-(anonymous)}"
echo "id:          $(id)"
if ctx=$(tr -d '\000' 2>/dev/null </proc/self/attr/current); then
    echo "context:     ${ctx:-(none)}"
else
    echo "context:     /proc/self/attr/current unreadable"
fi
if nnp=$(grep '^NoNewPrivs:' /proc/self/status 2>/dev/null); then
    echo "no_new_privs: ${nnp#NoNewPrivs:}" | tr -s '\t ' ' '
else
    echo "no_new_privs: /proc/self/status unreadable (Landlock hides /proc)"
fi
# Landlock leaves this program its own tree, the DocumentRoot and what an interpreter needs:
# a file elsewhere that plain permissions would allow must be refused.
if cat /etc/hostname >/dev/null 2>&1; then
    echo "landlock:    not enforced (/etc/hostname is readable)"
else
    echo "landlock:    enforced (/etc/hostname is not readable)"
fi
