# shellcheck shell=bash
# Optional (ONESHOT_REFPOLICY=1): build the Reference Policy flavour of the
# module alone with Debian's selinux-policy-dev. The second boot
# (scripts/lib/vm/debpol.sh) builds it too, and runs it.
vm_build_refpolicy() {
    local out="$1/refpolicy"
    rm -rf "$out" && mkdir -p "$out"
    cp "$REPO"/selinux-module/refpolicy/oneshot.{te,if,fc} "$out/"
    make -s -C "$out" -f /usr/share/selinux/devel/Makefile oneshot.pp >/dev/null \
        || vm_die "selinux-policy-dev failed to build selinux-module/refpolicy"
    vm_log "refpolicy module: $(stat -c %s "$out/oneshot.pp") bytes"
}
