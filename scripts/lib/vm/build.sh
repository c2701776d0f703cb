# shellcheck shell=bash
# Build everything that goes into the VM: the policy, the static C helpers
# (with the attack probe CGI), the server (release) and, when it exists, the
# sandbox_real test binary.

vm_build_policy() {
    local out="$1"
    # the production policy alone must compile; the VM adds test-only rules
    secilc -M true -c 33 -o /dev/null -f /dev/null "$REPO/selinux-module/oneshot.cil" \
        || vm_die "secilc rejected selinux-module/oneshot.cil"
    secilc -M true -c 33 -o "$out/policy.33" -f /dev/null "$REPO/selinux-module/oneshot.cil" \
        "$REPO/tests/vm/test-only.cil" || vm_die "secilc rejected tests/vm/test-only.cil"
}

vm_build_helpers() {
    local out="$1" src
    for src in seltool httpc cgipeer cglimits; do
        gcc -O2 -Wall -Wextra -Werror -static -o "$out/$src" "$REPO/tests/vm/$src.c" \
            || vm_die "gcc failed on tests/vm/$src.c"
    done
    # the attack probe CGI, shared with the host runs in tests/probe.rs
    gcc -O2 -Wall -Wextra -Werror -static -o "$out/probe" "$REPO/tests/probe/probe.c" \
        || vm_die "gcc failed on tests/probe/probe.c"
}

# bcrypt with the lowest cost htpasswd allows: the VM emulates the CPU (TCG),
# and the hash is a fixture, not a secret.
vm_build_htpasswd() {
    local out="$1"
    htpasswd -nbB -C 5 alice alicepw > "$out/htpasswd"
    htpasswd -nbB -C 5 bob bobpw >> "$out/htpasswd"
    sed -i '/^$/d' "$out/htpasswd"
}

# The TLS checks' test CA and two server certificates (issue 15): ECDSA P-256 for
# ecdsa.localhost and RSA-2048 for rsa.localhost, made fresh for every run
# (fixtures, not secrets), keys in PKCS#8 as rustls-pki-types reads them.
vm_build_tls() {
    local out="$1/tls" alg ext
    rm -rf "$out" && mkdir -p "$out"
    ext="$out/ext.cnf"
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 7 \
        -subj "/CN=oneshot VM test CA" -keyout "$out/ca.key" -out "$out/ca.pem" 2>/dev/null \
        || vm_die "openssl could not make the test CA"
    for alg in ecdsa rsa; do
        printf 'subjectAltName=DNS:%s.localhost\nbasicConstraints=CA:FALSE\nkeyUsage=digitalSignature\nextendedKeyUsage=serverAuth\n' \
            "$alg" > "$ext"
        if [ "$alg" = ecdsa ]; then
            openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=$alg.localhost" \
                -keyout "$out/$alg.key" -out "$out/$alg.csr" 2>/dev/null
        else
            openssl req -newkey rsa:2048 -nodes -subj "/CN=$alg.localhost" \
                -keyout "$out/$alg.key" -out "$out/$alg.csr" 2>/dev/null
        fi || vm_die "openssl could not make the $alg key"
        openssl x509 -req -in "$out/$alg.csr" -CA "$out/ca.pem" -CAkey "$out/ca.key" \
            -CAcreateserial -days 7 -extfile "$ext" -out "$out/$alg.crt" 2>/dev/null \
            || vm_die "openssl could not sign the $alg certificate"
    done
    rm -f "$out"/*.csr "$out/ext.cnf" "$out/ca.key" "$out/ca.srl"
}

# Sets SERVER_BIN (may be empty if the build produced no binary) and
# SANDBOX_REAL_BIN (empty when tests/sandbox_real.rs does not exist yet).
vm_build_rust() {
    SERVER_BIN=""
    SANDBOX_REAL_BIN=""
    (cd "$REPO" && cargo build --release --quiet) || vm_die "cargo build --release failed"
    [ -x "$REPO/target/release/oneshot-httpd" ] && SERVER_BIN="$REPO/target/release/oneshot-httpd"
    # only the CIL boot runs it (the Debian-policy boot, scripts/lib/vm/debpol.sh, does not)
    if [ -f "$REPO/tests/sandbox_real.rs" ] && [ "${ONESHOT_VM_POLICY:-all}" != debian ]; then
        # cargo prints each test executable's path in its JSON messages
        SANDBOX_REAL_BIN="$(cd "$REPO" && cargo test --release --no-run --test sandbox_real \
            --message-format=json 2>/dev/null \
            | grep -o '"executable":"[^"]*sandbox_real-[^"]*"' | tail -n1 | cut -d'"' -f4)"
        [ -x "$SANDBOX_REAL_BIN" ] || vm_die "tests/sandbox_real.rs exists but no test binary was built"
    fi
}
