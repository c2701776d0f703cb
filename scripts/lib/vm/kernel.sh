# shellcheck shell=bash
# Fetch Debian's current kernel image WITHOUT installing it (no change to /boot)
# and prepare an uncompressed vmlinux for QEMU's PVH entry point.
#
# Output: sets KIMG (path to the image QEMU boots) and KPKG_FILE (.deb name).

# linux-image-amd64 is a meta package; its first linux-image-* dependency is the
# ABI-versioned image. The -unsigned flavour has the same kernel as the signed
# one and does not need shim/secure-boot bits, so prefer it.
vm_resolve_kernel_pkg() {
    local dep
    dep="$(apt-cache depends linux-image-amd64 2>/dev/null | awk '/Depends: linux-image-/{print $2; exit}')"
    if [ -z "$dep" ]; then
        apt-get update -qq
        dep="$(apt-cache depends linux-image-amd64 2>/dev/null | awk '/Depends: linux-image-/{print $2; exit}')"
    fi
    [ -n "$dep" ] || vm_die "cannot resolve the dependency of linux-image-amd64"
    printf '%s\n' "${dep%-unsigned}-unsigned"
}

# Unpack only ./boot from the .deb: modules are not needed because the Debian
# config has the serial console, initrd, tmpfs xattrs and SELinux built in.
vm_unpack_kernel() {
    local deb="$1" kdir="$2"
    rm -rf "$kdir.tmp" && mkdir -p "$kdir.tmp"
    dpkg-deb --fsys-tarfile "$deb" | tar -x -C "$kdir.tmp" --wildcards './boot/*'
    cp "$kdir.tmp"/boot/vmlinuz-* "$kdir.tmp/vmlinuz"
    cp "$kdir.tmp"/boot/config-* "$kdir.tmp/config"
    basename "$deb" > "$kdir.tmp/PACKAGE"
    rm -rf "$kdir.tmp/boot" "$kdir"
    mv "$kdir.tmp" "$kdir"
}

# The bzImage carries an xz-compressed ELF. Decompressing it in the guest is
# slow under TCG; QEMU can boot the ELF directly through PVH (CONFIG_PVH=y),
# which roughly halves boot time. Failure here is not fatal: bzImage still works.
vm_extract_vmlinux() {
    local kdir="$1" off
    [ -s "$kdir/vmlinux" ] && return 0
    off="$(LC_ALL=C grep -obUaP '\xfd7zXZ\x00' "$kdir/vmlinuz" | head -n1 | cut -d: -f1 || true)"
    [ -n "$off" ] || return 0
    tail -c +"$((off + 1))" "$kdir/vmlinuz" | xz -dc 2>/dev/null > "$kdir/vmlinux.tmp" || true
    if [ "$(head -c4 "$kdir/vmlinux.tmp" | od -An -tx1 | tr -d ' ')" = 7f454c46 ]; then
        mv "$kdir/vmlinux.tmp" "$kdir/vmlinux"
    fi
    rm -f "$kdir/vmlinux.tmp"
}

vm_prepare_kernel() {
    local cache="$1" pkg kdir deb
    pkg="${ONESHOT_VM_KPKG:-}"
    # Offline re-runs reuse the last resolved kernel instead of asking apt.
    if [ -z "$pkg" ] && [ -e "$cache/kernel-current/vmlinuz" ]; then
        kdir="$(readlink -f "$cache/kernel-current")"
    else
        [ -n "$pkg" ] || pkg="$(vm_resolve_kernel_pkg)"
        kdir="$cache/$pkg"
        if [ ! -e "$kdir/vmlinuz" ]; then
            deb="$(find "$cache" -maxdepth 1 -name "${pkg}_*.deb" | head -n1)"
            if [ -z "$deb" ]; then
                vm_log "downloading $pkg"
                (cd "$cache" && apt-get download "$pkg" 2>&1 | grep -v 'unsandboxed' >&2) \
                    || vm_die "apt-get download $pkg failed"
                deb="$(find "$cache" -maxdepth 1 -name "${pkg}_*.deb" | head -n1)"
            fi
            vm_unpack_kernel "$deb" "$kdir"
        fi
        ln -sfn "$pkg" "$cache/kernel-current"
    fi
    grep -q '^CONFIG_SECURITY_SELINUX=y' "$kdir/config" || vm_die "kernel lacks CONFIG_SECURITY_SELINUX=y"
    grep -q '^CONFIG_SERIAL_8250_CONSOLE=y' "$kdir/config" || vm_die "kernel lacks a built-in serial console"
    KPKG_FILE="$(cat "$kdir/PACKAGE")"
    KIMG="$kdir/vmlinuz"
    if [ "${ONESHOT_VM_KBOOT:-vmlinux}" = vmlinux ]; then
        vm_extract_vmlinux "$kdir"
        [ -s "$kdir/vmlinux" ] && KIMG="$kdir/vmlinux"
    fi
}
