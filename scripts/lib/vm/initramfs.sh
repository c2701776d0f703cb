# shellcheck shell=bash
# Assemble the initramfs: busybox, helpers, the server and its shared
# libraries, the policy, and the in-VM scripts and fixtures from tests/vm/.

# Copy a dynamic binary's ELF interpreter and libraries at the paths ldd
# reports, so the binary runs unchanged in the VM.
vm_copy_ldd_closure() {
    local root="$1" bin="$2" lib
    ldd "$bin" 2>/dev/null | grep -oE '/[^ ]+' | sort -u | while read -r lib; do
        mkdir -p "$root$(dirname "$lib")"
        cp -L "$lib" "$root$lib"
    done
}

vm_build_initramfs() {
    local build="$1" root="$1/initramfs"
    rm -rf "$root"
    mkdir -p "$root"/{bin,dev,proc,sys,srv,tmp,etc/selinux,vm}
    cp /bin/busybox "$root/bin/busybox"
    cp "$build/seltool" "$root/bin/seltool"
    # same program, second label: exec of it enters oneshot_master_t
    cp "$build/seltool" "$root/bin/selprobe"
    cp "$build/httpc" "$root/bin/httpc"
    # /init copies it into the CGI directory and labels it there
    cp "$build/probe" "$root/vm/probe"
    cp "$build/cgipeer" "$root/vm/cgipeer"
    cp "$build/cglimits" "$root/vm/cglimits"
    # the TLS checks: test CA, certificates and keys (vm_build_tls), and a real
    # client, openssl s_client, with its libraries and configuration
    cp -r "$build/tls" "$root/vm/tls"
    cp "$REPO/tests/vm/oneshot-tls.conf" "$root/vm/"
    cp "$(command -v openssl)" "$root/bin/openssl"
    vm_copy_ldd_closure "$root" "$(command -v openssl)"
    mkdir -p "$root/usr/lib/ssl"
    cp /usr/lib/ssl/openssl.cnf "$root/usr/lib/ssl/openssl.cnf"
    cp "$build/policy.33" "$root/etc/selinux/policy.33"
    install -m 0755 "$REPO/tests/vm/init" "$root/init"
    cp "$REPO/tests/vm/checks.sh" "$REPO/tests/vm/oneshot-vm.conf" "$REPO/tests/vm/domain.map" \
        "$build/htpasswd" "$root/vm/"
    cp "$REPO/tests/vm/pipedlog.sh" "$root/vm/"
    printf 'root:x:0:0:root:/:/bin/sh\nwww-data:x:33:33:www-data:/:/bin/false\n' > "$root/etc/passwd"
    printf 'root:x:0:\nwww-data:x:33:\n' > "$root/etc/group"
    if [ -n "$SERVER_BIN" ]; then
        cp "$SERVER_BIN" "$root/bin/oneshot-httpd"
        vm_copy_ldd_closure "$root" "$SERVER_BIN"
    fi
    if [ -n "$SANDBOX_REAL_BIN" ]; then
        cp "$SANDBOX_REAL_BIN" "$root/bin/sandbox_real"
        vm_copy_ldd_closure "$root" "$SANDBOX_REAL_BIN"
    fi
    vm_add_fcgi_pam "$root"
    # host settings the in-VM checks honour (the kernel command line is too
    # small and too public a place for them)
    printf 'ONESHOT_VM_REQUIRE_SERVER=%s\n' "${ONESHOT_VM_REQUIRE_SERVER:-1}" > "$root/vm/env"
    # sorted, owner-neutral and gzip -n: the same inputs give the same image
    (cd "$root" && find . -print0 | sort -z | cpio --null -o -H newc -R 0:0 --quiet) \
        | gzip -6 -n > "$build/initramfs.cpio.gz"
}

# Issues 19 and 18 (fcgi_checks and pam_checks in tests/vm/checks.sh): Debian's php-fpm
# with the posix extension and a minimal php.ini, pam_unix with its helper unix_chkpwd at the
# path pam_unix runs it from, and the accounts they serve: alice and bob (the pools' users,
# uid 1000 and 1001) and carol, locked as `passwd -l` locks (a "!" before the hash). The
# passwords are fixtures: sha512-crypt (pam_unix/libcrypt read it) with a fixed salt, so the
# same inputs give the same image.
vm_add_fcgi_pam() {
    local root="$1" fpm=/usr/sbin/php-fpm8.2 ext pam lib f
    ext="$(php-config8.2 --extension-dir 2>/dev/null || echo /usr/lib/php/20220829)"
    for f in "$fpm" "$ext/posix.so"; do
        [ -e "$f" ] || vm_die "$f missing (php8.2-fpm)"
        mkdir -p "$root$(dirname "$f")"
        cp "$f" "$root$f"
        vm_copy_ldd_closure "$root" "$f"
    done
    printf 'extension=%s/posix.so\n' "$ext" | cat - "$REPO/tests/vm/php.ini" > "$root/vm/php.ini"
    cp "$REPO/tests/vm/id.php" "$root/vm/id.php"
    # libpam's module directory, and the helper where pam_unix looks for it
    pam=/lib/x86_64-linux-gnu/security/pam_unix.so
    [ -e "$pam" ] || pam="$(dpkg -L libpam-modules | grep '/pam_unix\.so$' | sed -n 1p)"
    mkdir -p "$root/lib/x86_64-linux-gnu/security" "$root/sbin" "$root/etc/pam.d"
    cp "$pam" "$root/lib/x86_64-linux-gnu/security/pam_unix.so"
    vm_copy_ldd_closure "$root" "$pam"
    # (sed -n 1p, not grep -m1 or head: an early exit would SIGPIPE the writer and trip pipefail)
    lib="$(strings "$pam" | grep '/unix_chkpwd$' | sed -n 1p)"
    [ -n "$lib" ] || vm_die "pam_unix.so names no unix_chkpwd"
    mkdir -p "$root$(dirname "$lib")"
    cp /usr/sbin/unix_chkpwd "$root$lib"
    vm_copy_ldd_closure "$root" /usr/sbin/unix_chkpwd
    printf 'auth required pam_unix.so\naccount required pam_unix.so\n' > "$root/etc/pam.d/oneshot-vm"
    # libselinux's is_selinux_enabled() also wants its configuration file, as every SELinux
    # system has; without it pam_unix takes SELinux for off and reads /etc/shadow itself
    # instead of running unix_chkpwd (seen in the VM)
    printf 'SELINUX=enforcing\nSELINUXTYPE=oneshot\n' > "$root/etc/selinux/config"
    printf 'passwd: files\ngroup: files\nshadow: files\n' > "$root/etc/nsswitch.conf"
    printf 'alice:x:1000:1000::/:/bin/false\nbob:x:1001:1001::/:/bin/false\ncarol:x:1002:1002::/:/bin/false\n' \
        >> "$root/etc/passwd"
    printf 'shadow:x:42:\nalice:x:1000:\nbob:x:1001:\ncarol:x:1002:\n' >> "$root/etc/group"
    {
        printf 'root:*:20000:0:99999:7:::\nwww-data:*:20000:0:99999:7:::\n'
        printf 'alice:%s:20000:0:99999:7:::\n' "$(openssl passwd -6 -salt vmalice alice-unix-pw)"
        printf 'bob:%s:20000:0:99999:7:::\n' "$(openssl passwd -6 -salt vmbob bob-unix-pw)"
        printf 'carol:!%s:20000:0:99999:7:::\n' "$(openssl passwd -6 -salt vmcarol carol-unix-pw)"
    } > "$root/etc/shadow"
    chmod 0640 "$root/etc/shadow"
}
