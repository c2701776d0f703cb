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
    # host settings the in-VM checks honour (the kernel command line is too
    # small and too public a place for them)
    printf 'ONESHOT_VM_REQUIRE_SERVER=%s\n' "${ONESHOT_VM_REQUIRE_SERVER:-1}" > "$root/vm/env"
    # sorted, owner-neutral and gzip -n: the same inputs give the same image
    (cd "$root" && find . -print0 | sort -z | cpio --null -o -H newc -R 0:0 --quiet) \
        | gzip -6 -n > "$build/initramfs.cpio.gz"
}
