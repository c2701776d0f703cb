# shellcheck shell=bash
# Boot the VM once and turn its serial log into a verdict.

# TCG by default: KVM was measured to hang or abort on nested CI hosts, and
# TCG boots this kernel in about 2 s anyway.
vm_boot() {
    local kimg="$1" initrd="$2" log="$3" accel
    accel=(-accel tcg)
    [ "${ONESHOT_VM_ACCEL:-tcg}" = kvm ] && accel=(-accel kvm -cpu host)
    local t0 t1 rc
    t0="$(date +%s.%N)"
    set +e
    # The initramfs (busybox, the release server and sandbox_real with line tables) unpacks
    # into RAM: at 26 MB compressed, 256M ran out ("Initramfs unpacking failed: write error").
    timeout "${ONESHOT_VM_TIMEOUT:-240}" qemu-system-x86_64 "${accel[@]}" -m 768M -smp 1 \
        -nodefaults -display none -serial stdio -no-reboot -net none \
        -kernel "$kimg" -initrd "$initrd" \
        -append "console=ttyS0 rdinit=/init security=selinux panic=-1 quiet" \
        </dev/null 2>&1 | tr -d '\r' > "$log"
    rc=${PIPESTATUS[0]}
    set -e
    t1="$(date +%s.%N)"
    VM_WALL="$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.2f", b - a }')"
    VM_QEMU_RC="$rc"
}

# Prints the check lines and the closing "N passed, M failed"; returns
# non-zero unless the VM booted, finished in time, ran checks and none failed.
vm_verdict() {
    local log="$1" npass nfail result
    grep -E '^(PASS|FAIL|SKIP) ' "$log" || true
    npass="$(grep -c '^PASS ' "$log" || true)"
    nfail="$(grep -c '^FAIL ' "$log" || true)"
    result="$(grep '^VM-RESULT: ' "$log" | tail -n1 || true)"
    echo "$npass passed, $nfail failed"
    if [ "$VM_QEMU_RC" = 124 ]; then
        vm_log "VM timed out after ${ONESHOT_VM_TIMEOUT:-240} s (log: $log)"; return 1
    fi
    if [ -z "$result" ]; then
        vm_log "VM did not report a result: it did not boot or /init died (log: $log)"; return 1
    fi
    case "$result" in
        *ABORT*) vm_log "VM setup failed: $result (log: $log)"; return 1 ;;
    esac
    if [ "$VM_QEMU_RC" != 0 ]; then
        vm_log "qemu exited with status $VM_QEMU_RC (log: $log)"; return 1
    fi
    # the VM's own tally must match the lines that reached the host: a
    # mismatch means lost or garbled serial output, which could hide a FAIL
    if [ "$result" != "VM-RESULT: $npass passed, $nfail failed" ]; then
        vm_log "VM reported '$result' but the host saw $npass PASS and $nfail FAIL lines"; return 1
    fi
    [ "$npass" -gt 0 ] || { vm_log "no check ran"; return 1; }
    [ "$nfail" = 0 ] || { vm_log "$nfail check(s) failed; AVC denials are in $log (DMESG lines)"; return 1; }
}
