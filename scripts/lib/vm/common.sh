# shellcheck shell=bash
# Shared helpers for scripts/vm-test. Sourced, never executed.

vm_log() { printf '[vm-test %s] %s\n' "$(date +%T)" "$*" >&2; }
vm_die() { vm_log "ERROR: $*"; exit 1; }

# Install only what is missing: CI starts from a clean Debian as root, while a
# developer box usually has everything, and apt-get update costs seconds.
vm_need_packages() {
    local missing=() p
    for p in "$@"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
    done
    [ "${#missing[@]}" -eq 0 ] && return 0
    [ "$(id -u)" = 0 ] || vm_die "missing packages (${missing[*]}) and not root to install them"
    vm_log "installing: ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}
