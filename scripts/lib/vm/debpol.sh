# shellcheck shell=bash
# The second boot of scripts/vm-test: Debian's own selinux-policy-default with
# the oneshot refpolicy module (selinux-module/refpolicy/) and a site module
# written with its template (tests/vm/debian/oneshot_site.te), files labelled
# in the VM by setfiles from the resulting file_contexts.
#
# The host's policy store is never touched: /var/lib/selinux/default and
# /etc/selinux/default are copied into a private root and semodule -p links the
# modules there. The result is cached under $BUILD/debpol/ by a hash of its
# inputs (the modules and the installed selinux-policy-default version).

DEBPOL_NAME=debian-default+oneshot

# Link oneshot.pp and the site module into a private copy of Debian's store.
# Sets DEBPOL_ROOT (a root with etc/selinux/default/{policy,contexts}).
vm_debpol_build_policy() {
    local out="$1/debpol" key ver
    ver="$(dpkg-query -W -f='${Version}' selinux-policy-default)"
    key="$( (echo "$ver"; cat "$REPO"/selinux-module/refpolicy/oneshot.{te,if,fc} \
        "$REPO"/tests/vm/debian/oneshot_site.{te,fc} "$REPO"/tests/vm/debian/oneshot_vmtest.te) | sha256sum | cut -d' ' -f1)"
    DEBPOL_ROOT="$out/root"
    if [ "$(cat "$out/key" 2>/dev/null)" = "$key" ] && [ -s "$DEBPOL_ROOT/etc/selinux/default/policy/policy.33" ]; then
        vm_log "debian policy: cached ($out)"
        return 0
    fi
    rm -rf "$out" && mkdir -p "$out/mod" "$DEBPOL_ROOT/var/lib/selinux" "$DEBPOL_ROOT/etc/selinux"
    # One directory for both: the devel Makefile reads the interfaces of the
    # modules beside it (oneshot.if, for the site module's template call), as
    # it reads the installed ones under /usr/share/selinux/devel/include.
    cp "$REPO"/selinux-module/refpolicy/oneshot.{te,if,fc} "$REPO"/tests/vm/debian/oneshot_site.{te,fc} \
        "$REPO"/tests/vm/debian/oneshot_vmtest.te "$out/mod/"
    make -s -C "$out/mod" -f /usr/share/selinux/devel/Makefile oneshot.pp oneshot_site.pp oneshot_vmtest.pp >/dev/null \
        || vm_die "selinux-policy-dev failed to build selinux-module/refpolicy or tests/vm/debian/oneshot_site.te"
    cp -a /var/lib/selinux/default "$DEBPOL_ROOT/var/lib/selinux/"
    cp -a /etc/selinux/default "$DEBPOL_ROOT/etc/selinux/"
    cp /etc/selinux/semanage.conf "$DEBPOL_ROOT/etc/selinux/"
    # No -v: with it, libsepol 3.4 refuses Debian's own store (two identical
    # rspamd lines in spamassassin's file contexts: "Found conflicting filecon
    # rules"), which the package's postinst, without -v, accepts.
    semodule -p "$DEBPOL_ROOT" -s default -n -i "$out/mod/oneshot.pp" -i "$out/mod/oneshot_site.pp" \
        -i "$out/mod/oneshot_vmtest.pp" \
        > "$out/semodule.log" 2>&1 || vm_die "semodule could not link the modules (see $out/semodule.log)"
    grep -q oneshot_exec_t "$DEBPOL_ROOT/etc/selinux/default/contexts/files/file_contexts" \
        || vm_die "the linked store has no oneshot file contexts"
    echo "$key" > "$out/key"
    vm_log "debian policy: linked oneshot.pp ($(stat -c %s "$out/mod/oneshot.pp") bytes) and oneshot_site.pp"
}

vm_debpol_build_initramfs() {
    local build="$1" root="$1/debpol/initramfs" src="$DEBPOL_ROOT/etc/selinux/default" f
    rm -rf "$root"
    mkdir -p "$root"/{bin,dev,proc,sys,tmp,usr/sbin,vm/initsh,etc/selinux/default/policy} \
        "$root"/etc/selinux/default/contexts/files "$root"/etc/oneshot-httpd "$root"/var/log/oneshot-httpd \
        "$root"/var/www/html "$root"/usr/lib/cgi-bin "$root"/usr/lib/oneshot-httpd/cgi-bin \
        "$root"/srv/www/alice "$root"/srv/www/carol/dav
    cp /bin/busybox "$root/bin/busybox"
    # a copy of busybox where Debian's file contexts put init (init_exec_t):
    # exec'd as "sh" (symlink, so busybox runs its shell) it takes the checks
    # from kernel_t into init_t, the domain systemd starts services from
    cp /bin/busybox "$root/usr/sbin/init"
    ln -s /usr/sbin/init "$root/vm/initsh/sh"
    cp "$build/seltool" "$root/bin/seltool"
    cp "$build/seltool" "$root/bin/selprobe"
    cp "$build/httpc" "$root/bin/httpc"
    cp /usr/sbin/setfiles "$root/usr/sbin/setfiles"
    vm_copy_ldd_closure "$root" /usr/sbin/setfiles
    cp "$src/policy/policy.33" "$root/etc/selinux/default/policy/"
    # file_contexts.bin: the regular expressions precompiled, which spares
    # setfiles compiling ~5000 of them under TCG
    for f in file_contexts file_contexts.bin file_contexts.subs_dist; do
        cp -p "$src/contexts/files/$f" "$root/etc/selinux/default/contexts/files/"
    done
    install -m 0755 "$REPO/tests/vm/debian/init" "$root/init"
    cp "$REPO/tests/vm/checks.sh" "$REPO/tests/vm/pipedlog.sh" "$root/vm/"
    cp "$REPO/tests/vm/debian/checks.sh" "$root/vm/debian-checks.sh"
    cp "$REPO/tests/vm/debian/oneshot.conf" "$REPO/tests/vm/debian/domain.map" "$root/etc/oneshot-httpd/"
    cp "$build/htpasswd" "$root/etc/oneshot-httpd/htpasswd"
    htpasswd -nbB -C 5 carol carolpw | sed '/^$/d' >> "$root/etc/oneshot-httpd/htpasswd"
    chmod 0640 "$root/etc/oneshot-httpd/htpasswd"
    # the attack probe CGI in both CGI directories: the module's own
    # (oneshot_cgi_exec_t) and Debian's Apache one (httpd_sys_script_exec_t)
    install -m 0755 "$build/probe" "$root/usr/lib/oneshot-httpd/cgi-bin/probe"
    install -m 0755 "$build/probe" "$root/usr/lib/cgi-bin/probe"
    echo default-index > "$root/var/www/html/index.html"
    echo alice-index > "$root/srv/www/alice/index.html"
    echo carol-secret-in-alice-docroot > "$root/srv/www/alice/carol-secret.html"
    echo carol-index > "$root/srv/www/carol/index.html"
    echo alice-type-at-c5 > "$root/srv/www/carol/alicetype-c5.html"
    chown 33:33 "$root/srv/www/carol/dav"
    printf 'root:x:0:0:root:/:/bin/sh\nwww-data:x:33:33:www-data:/:/bin/false\n' > "$root/etc/passwd"
    printf 'root:x:0:\nwww-data:x:33:\n' > "$root/etc/group"
    cp "$SERVER_BIN" "$root/usr/sbin/oneshot-httpd"
    vm_copy_ldd_closure "$root" "$SERVER_BIN"
    printf 'ONESHOT_VM_REQUIRE_SERVER=%s\nCHECK_POLICY=%s\n' "${ONESHOT_VM_REQUIRE_SERVER:-1}" "$DEBPOL_NAME" \
        > "$root/vm/env"
    # owners kept (-R 0:0 would undo the Dav directory's www-data)
    (cd "$root" && find . -print0 | sort -z | cpio --null -o -H newc --quiet) \
        | gzip -6 -n > "$build/debpol/initramfs.cpio.gz"
}

# vm_debpol_run BUILD: build, boot and judge the Debian-policy VM.
vm_debpol_run() {
    local build="$1" t0 t1
    t0="$(date +%s.%N)"
    [ -n "$SERVER_BIN" ] || vm_die "the Debian-policy boot needs the server (ONESHOT_VM_SKIP_CARGO=1 skips it only with ONESHOT_VM_POLICY=cil)"
    vm_debpol_build_policy "$build"
    vm_log "debian policy: $(stat -c %s "$DEBPOL_ROOT/etc/selinux/default/policy/policy.33") bytes"
    vm_debpol_build_initramfs "$build"
    vm_log "debian initramfs: $(stat -c %s "$build/debpol/initramfs.cpio.gz") bytes"
    vm_log "booting under $DEBPOL_NAME (hard timeout ${ONESHOT_VM_TIMEOUT:-240} s)"
    vm_boot "$KIMG" "$build/debpol/initramfs.cpio.gz" "$build/vm-debpol.log"
    t1="$(date +%s.%N)"
    vm_log "policy: $DEBPOL_NAME; VM wall time ${VM_WALL} s; with its build $(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", b - a }') s; full serial log: $build/vm-debpol.log"
    echo "policy: $DEBPOL_NAME"
    vm_verdict "$build/vm-debpol.log"
}
