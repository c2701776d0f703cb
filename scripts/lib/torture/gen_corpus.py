#!/usr/bin/env python3
"""Regenerate tests/corpus/*.http and tests/corpus/expect.txt.

The corpus files are the exact bytes sent by tests/hostile.rs; they are committed so a reader
(or another tool, e.g. a fuzzer seed) can use them without Python. This script is only the
readable source of the byte-exact cases, several of which (limit boundaries, 17-digit chunk
sizes) are tedious to write by hand.

The limits below must match HOSTILE_LIMITS in tests/hostile.rs:
LimitRequestLine 100, LimitRequestFieldSize 200, LimitRequestFields 5, LimitRequestBody 1000.

expect.txt lines: `NAME STATUS`: the exact status RFC 9112 (or the server's documented
decision) asks for; tests/hostile.rs demands it for every case.
"""
import os
import sys

LINE, FIELD, FIELDS, BODY = 100, 200, 5, 1000
CASES = []


def case(name, raw, status):
    if isinstance(raw, str):
        raw = raw.encode("latin-1")
    CASES.append((name, raw, status))


def req(head_lines, body=b"", method="GET", target="/", version="HTTP/1.1"):
    head = f"{method} {target} {version}\r\n" + "".join(l + "\r\n" for l in head_lines) + "\r\n"
    return head.encode("latin-1") + body


H = "Host: alice.test"
C = "Connection: close"

# --- well-formed controls: the harness must see these served, or every 4xx below is moot
case("ok_get", req([H, C]), 200)
case("ok_http10_without_host", req([], version="HTTP/1.0"), 200)
case("ok_te_chunked_tab_ows", req([H, "Transfer-Encoding:\tChunked ", C], b"0\r\n\r\n"), 200)
case("ok_chunked_with_trailer", req([H, "Transfer-Encoding: chunked", C], b"3\r\nabc\r\n0\r\nX-T: 1\r\n\r\n"), 200)
case("ok_options_star", req([H, C], method="OPTIONS", target="*"), 200)
case("ok_absolute_form_wins_over_host", req(["Host: bob.test", C], target="http://alice.test/"), 200)

# --- request smuggling: framing must be unambiguous or refused
case("smuggle_cl_te", req([H, "Content-Length: 4", "Transfer-Encoding: chunked", C], b"0\r\n\r\n"), 400)
case("smuggle_te_cl", req([H, "Transfer-Encoding: chunked", "Content-Length: 4", C], b"0\r\n\r\n"), 400)
case("smuggle_te_chunked_identity", req([H, "Transfer-Encoding: chunked, identity", C], b"0\r\n\r\n"), 400)
case("smuggle_te_xchunked", req([H, "Transfer-Encoding: xchunked", C], b"0\r\n\r\n"), 400)
case("smuggle_te_chunked_twice", req([H, "Transfer-Encoding: chunked", "Transfer-Encoding: chunked", C], b"0\r\n\r\n"), 400)
case("smuggle_te_chunked_param", req([H, "Transfer-Encoding: chunked;q=1", C], b"0\r\n\r\n"), 400)
case("smuggle_te_gzip_chunked", req([H, "Transfer-Encoding: gzip, chunked", C], b"0\r\n\r\n"), 501)
case("smuggle_te_in_http10", req([H, "Transfer-Encoding: chunked", C], b"0\r\n\r\n", version="HTTP/1.0"), 400)
case("smuggle_te_space_before_colon", req([H, "Transfer-Encoding : chunked", C], b"0\r\n\r\n"), 400)
case("smuggle_cl_space_before_colon", req([H, "Content-Length : 3", C], b"abc"), 400)
case("smuggle_te_vertical_tab", req([H, "Transfer-Encoding:\x0bchunked", C], b"0\r\n\r\n"), 400)
case("smuggle_cl_duplicate_same", req([H, "Content-Length: 3", "Content-Length: 3", C], b"abc"), 400)
case("smuggle_cl_conflicting", req([H, "Content-Length: 3", "Content-Length: 4", C], b"abcd"), 400)
case("smuggle_cl_list", req([H, "Content-Length: 3, 3", C], b"abc"), 400)
case("smuggle_cl_plus_sign", req([H, "Content-Length: +3", C], b"abc"), 400)
case("smuggle_cl_negative", req([H, "Content-Length: -1", C]), 400)
case("smuggle_cl_hex", req([H, "Content-Length: 0x3", C], b"abc"), 400)
case("smuggle_cl_overflow", req([H, "Content-Length: 18446744073709551616", C]), 400)
case("smuggle_obs_fold", req([H, "X-A: a", " folded", C]), 400)
case("smuggle_obs_fold_te", req([H, "Transfer-Encoding: identity", "\tchunked", C], b"0\r\n\r\n"), 400)
case("smuggle_bare_lf", b"GET / HTTP/1.1\nHost: alice.test\nConnection: close\n\n", 400)
case("smuggle_bare_lf_in_field", b"GET / HTTP/1.1\r\nHost: alice.test\nX: 1\r\nConnection: close\r\n\r\n", 400)
case("smuggle_bare_cr", b"GET / HTTP/1.1\rHost: alice.test\r\nConnection: close\r\n\r\n", 400)
case("smuggle_bare_cr_in_field", b"GET / HTTP/1.1\r\nHost: alice.test\rX: 1\r\nConnection: close\r\n\r\n", 400)
case("ctl_nul_in_name", req([H, "X\x00A: 1", C]), 400)
case("ctl_nul_in_value", req([H, "X-A: a\x00b", C]), 400)
case("ctl_esc_in_value", req([H, "X-A: a\x1bb", C]), 400)
case("ctl_del_in_value", req([H, "X-A: a\x7fb", C]), 400)
case("ctl_del_in_name", req([H, "X\x7fA: 1", C]), 400)
case("ctl_empty_name", req([H, ": empty", C]), 400)
case("ctl_space_in_name", req([H, "X A: 1", C]), 400)
case("ctl_tab_in_request_line", b"GET\t/ HTTP/1.1\r\nHost: alice.test\r\nConnection: close\r\n\r\n", 400)
case("ctl_double_space_request_line", b"GET  / HTTP/1.1\r\nHost: alice.test\r\nConnection: close\r\n\r\n", 400)

# --- chunked bodies: invalid framing is 400, over LimitRequestBody 413 (RFC 9112 section 7.1)
TE = "Transfer-Encoding: chunked"
case("chunk_size_not_hex", req([H, TE, C], b"zz\r\nabc\r\n0\r\n\r\n"), 400)
case("chunk_size_empty", req([H, TE, C], b"\r\nabc\r\n0\r\n\r\n"), 400)
case("chunk_size_17_digits", req([H, TE, C], b"1" + b"0" * 16 + b"\r\na\r\n0\r\n\r\n"), 400)
case("chunk_size_u64_wrap", req([H, TE, C], b"10000000000000001\r\na\r\n0\r\n\r\n"), 400)
case("chunk_size_leading_space", req([H, TE, C], b" 3\r\nabc\r\n0\r\n\r\n"), 400)
case("chunk_size_negative", req([H, TE, C], b"-3\r\nabc\r\n0\r\n\r\n"), 400)
case("chunk_size_bare_lf", req([H, TE, C], b"3\nabc\r\n0\r\n\r\n"), 400)
case("chunk_data_longer_than_size", req([H, TE, C], b"3\r\nabcdef\r\n0\r\n\r\n"), 400)
case("chunk_ext_oversized", req([H, TE, C], b"3;x=" + b"a" * 1100 + b"\r\nabc\r\n0\r\n\r\n"), 400)
case("chunk_ext_ctl", req([H, TE, C], b"3;x=\x01\r\nabc\r\n0\r\n\r\n"), 400)
case("chunk_trailer_no_colon", req([H, TE, C], b"0\r\nnot a field\r\n\r\n"), 400)
case("chunk_trailer_obs_fold", req([H, TE, C], b"0\r\nX-T: 1\r\n folded\r\n\r\n"), 400)
case("chunk_trailers_oversized", req([H, TE, C], b"0\r\n" + b"X-T: " + b"a" * 9000 + b"\r\n\r\n"), 400)
case("chunk_body_over_limit", req([H, TE, C], b"3e9\r\n" + b"a" * 1001 + b"\r\n0\r\n\r\n"), 413)

# --- request-target forms
case("target_absolute_form_escape", req([H, C], target="http://alice.test/../secret.txt"), 400)
case("target_absolute_form_ftp", req([H, C], target="ftp://alice.test/"), 400)
case("target_absolute_form_userinfo", req([H, C], target="http://user@alice.test/"), 400)
case("target_connect", req([H, C], method="CONNECT", target="alice.test:443"), 405)
case("target_connect_without_port", req([H, C], method="CONNECT", target="alice.test"), 400)
case("target_authority_form_with_get", req([H, C], target="alice.test:80"), 400)
case("target_star_with_get", req([H, C], target="*"), 400)
case("target_fragment", req([H, C], target="/index.html#x"), 400)
case("target_bad_percent", req([H, C], target="/%zz"), 400)
case("target_non_ascii", req([H, C], target="/\xe9"), 400)
case("version_http09_no_version", b"GET /\r\n\r\n", 400)
case("version_http09_line_only", b"GET /\r\n", 400)
case("version_http2_preface", b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", 505)
case("version_http12", req([H, C], version="HTTP/1.2"), 505)
case("version_lowercase", req([H, C], version="http/1.1"), 400)
case("version_multi_digit", req([H, C], version="HTTP/01.1"), 400)
case("method_lowercase", req([H, C], method="get"), 501)
case("method_unknown", req([H, C], method="BREW"), 501)
case("expect_unknown", req([H, "Expect: 200-ok", C]), 417)

# --- Host
case("host_missing", req([C]), 400)
case("host_duplicated", req([H, "Host: bob.test", C]), 400)
case("host_duplicated_same", req([H, H, C]), 400)
case("host_empty", req(["Host: ", C]), 400)
case("host_userinfo", req(["Host: me@alice.test", C]), 400)
case("host_with_path", req(["Host: alice.test/x", C]), 400)
case("host_bad_port", req(["Host: alice.test:8x", C]), 400)
case("host_ipvfuture", req(["Host: [v1.x]", C]), 400)
case("host_absolute_target_without_host", req([C], target="http://alice.test/"), 400)

# --- every limit at, and one past, its boundary
def line_of(n):
    # "GET /" + padding + " HTTP/1.1" is exactly n bytes (CRLF excluded)
    pad = n - len("GET / HTTP/1.1")
    return f"GET /{'a' * pad} HTTP/1.1"

case("limit_request_line_at", (line_of(LINE) + f"\r\n{H}\r\n{C}\r\n\r\n"), 404)
case("limit_request_line_over", (line_of(LINE + 1) + f"\r\n{H}\r\n{C}\r\n\r\n"), 414)
def field_of(n):
    return "X-Big: " + "b" * (n - len("X-Big: "))
case("limit_field_size_at", req([H, field_of(FIELD), C]), 200)
case("limit_field_size_over", req([H, field_of(FIELD + 1), C]), 431)
case("limit_field_size_over_in_name", req([H, "X" * (FIELD + 1) + ": 1", C]), 431)
case("limit_fields_at", req([H, C] + [f"X-{i}: 1" for i in range(FIELDS - 2)]), 200)
case("limit_fields_over", req([H, C] + [f"X-{i}: 1" for i in range(FIELDS - 1)]), 431)
case("limit_body_at", req([H, f"Content-Length: {BODY}", C], b"a" * BODY), 200)
case("limit_body_over", req([H, f"Content-Length: {BODY + 1}", C], b"a" * (BODY + 1)), 413)
case("limit_body_chunked_at", req([H, TE, C], b"3e8\r\n" + b"a" * BODY + b"\r\n0\r\n\r\n"), 200)
case("limit_empty_lines_at", b"\r\n" * 10 + req([H, C]), 200)
case("limit_empty_lines_over", b"\r\n" * 11 + req([H, C]), 400)

# --- path escapes in every encoding: secret.txt sits beside the docroots, TOP-SECRET inside
for name, path, status in [
    ("dotdot", "/../secret.txt", 400),
    ("dotdot_deep", "/a/../../secret.txt", 400),
    ("dotdot_pct_lower", "/%2e%2e/secret.txt", 400),
    ("dotdot_pct_upper", "/%2E%2E/secret.txt", 400),
    ("dotdot_pct_mixed", "/.%2e/secret.txt", 400),
    ("pct_slash", "/..%2fsecret.txt", 404),
    ("pct_slash_upper", "/%2e%2e%2Fsecret.txt", 404),
    ("pct_backslash", "/..%5csecret.txt", 404),
    ("pct_backslash_dotdot", "/%2e%2e%5c%2e%2e%5csecret.txt", 404),
    ("double_encoded_dot", "/%252e%252e/secret.txt", 404),
    ("double_encoded_slash", "/..%252fsecret.txt", 404),
    ("overlong_utf8_dot", "/%c0%ae%c0%ae/secret.txt", 400),
    ("overlong_utf8_slash", "/..%c0%afsecret.txt", 400),
    ("overlong_utf8_3byte_dot", "/%e0%80%ae%e0%80%ae/secret.txt", 400),
    ("nul", "/index.html%00.txt", 400),
    ("nul_before_dotdot", "/%00/../secret.txt", 400),
    ("ctl_pct", "/index%0a.html", 400),
    ("raw_backslash", "/..\\secret.txt", 400),
    ("semicolon", "/..;/secret.txt", 404),
    ("absolute_target_dotdot_pct", "http://alice.test/%2e%2e/secret.txt", 400),
]:
    case(f"path_{name}", req([H, C], target=path), status)


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(
        os.path.dirname(__file__), "..", "..", "..", "tests", "corpus")
    os.makedirs(out, exist_ok=True)
    for f in os.listdir(out):
        if f.endswith(".http"):
            os.remove(os.path.join(out, f))
    names = set()
    with open(os.path.join(out, "expect.txt"), "w") as idx:
        idx.write("# NAME STATUS  (generated by scripts/lib/torture/gen_corpus.py)\n")
        for name, raw, status in CASES:
            assert name not in names, name
            names.add(name)
            with open(os.path.join(out, name + ".http"), "wb") as f:
                f.write(raw)
            idx.write(f"{name} {status}\n")
    print(f"{len(CASES)} cases written to {out}")


if __name__ == "__main__":
    main()
