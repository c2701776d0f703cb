//! mod_ssl's protocol and cipher choice: `SSLProtocol`, `SSLCipherSuite` (TLS 1.3 suite names,
//! and OpenSSL's cipher-string language evaluated over the TLS 1.2 suites rustls's ring
//! provider has), and OpenSSL's names of suites for `SSL_CIPHER`. Separate because it is a
//! pure language of its own, with its own tables, and the rest of `tls` only calls it.

#![forbid(unsafe_code)]
#![deny(
    clippy::indexing_slicing,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic
)]

/// `SSLProtocol [+|-]PROTO ...`: (TLS 1.2, TLS 1.3). `all` is both; SSLv3, TLSv1 and TLSv1.1
/// are refused (rustls does not implement them).
pub fn parse_protocols(args: &[String]) -> Result<(bool, bool), String> {
    if args.is_empty() {
        return Err("SSLProtocol needs at least one protocol".into());
    }
    let (mut t12, mut t13) = (false, false);
    for (i, a) in args.iter().enumerate() {
        let (op, word) = match a.as_bytes().first() {
            Some(b'+') => (Some(true), a.get(1..).unwrap_or_default()),
            Some(b'-') => (Some(false), a.get(1..).unwrap_or_default()),
            _ => (None, a.as_str()),
        };
        let (a12, a13) = match word.to_ascii_lowercase().as_str() {
            "all" => (true, true),
            "tlsv1.2" => (true, false),
            "tlsv1.3" => (false, true),
            "sslv3" | "tlsv1" | "tlsv1.1" => {
                if op == Some(false) {
                    continue;
                }
                return Err(format!(
                    "SSLProtocol: {word} is not offered (only TLSv1.2 and TLSv1.3)"
                ));
            }
            _ => return Err(format!("SSLProtocol: unknown protocol '{word}'")),
        };
        match op {
            // A bare word replaces what came before (Apache: the first plain word starts over).
            None if i == 0 => (t12, t13) = (a12, a13),
            None | Some(true) => {
                t12 |= a12;
                t13 |= a13;
            }
            Some(false) => {
                t12 &= !a12;
                t13 &= !a13;
            }
        }
    }
    if !t12 && !t13 {
        return Err("SSLProtocol leaves no protocol enabled".into());
    }
    Ok((t12, t13))
}

/// Names of one suite the ring provider offers: rustls's, IANA's, OpenSSL's.
pub(super) fn suite_names(s: &rustls::SupportedCipherSuite) -> (String, Vec<String>) {
    let rustls_name = format!("{:?}", s.suite());
    let mut names = vec![rustls_name.clone()];
    if let Some(rest) = rustls_name.strip_prefix("TLS13_") {
        names.push(format!("TLS_{rest}"));
    } else {
        let openssl = rustls_name
            .strip_prefix("TLS_ECDHE_")
            .and_then(|r| r.split_once("_WITH_"))
            .map(|(auth, cipher)| {
                let cipher = cipher
                    .replace("AES_128_GCM", "AES128-GCM")
                    .replace("AES_256_GCM", "AES256-GCM")
                    .replace("CHACHA20_POLY1305_SHA256", "CHACHA20-POLY1305")
                    .replace('_', "-");
                format!("ECDHE-{auth}-{cipher}")
            });
        names.extend(openssl);
    }
    (rustls_name, names)
}

/// What the library offers, for the error message.
fn offered() -> String {
    rustls::crypto::ring::ALL_CIPHER_SUITES
        .iter()
        .map(|s| suite_names(s).1.last().cloned().unwrap_or_default())
        .collect::<Vec<_>>()
        .join(", ")
}

/// `SSLCipherSuite [TLSv1.3|SSL] SPEC`: (for TLS 1.3, rustls suite names in the order to
/// prefer). For TLS 1.3, as OpenSSL's `-ciphersuites`, SPEC lists suite names; otherwise it is
/// an OpenSSL cipher string ([`cipher_string`]).
pub fn parse_cipher_suite(args: &[String]) -> Result<(bool, Vec<String>), String> {
    let (tls13, spec) = match args {
        [spec] => (false, spec),
        [proto, spec] if proto.eq_ignore_ascii_case("tlsv1.3") => (true, spec),
        [proto, spec] if proto.eq_ignore_ascii_case("ssl") => (false, spec),
        _ => return Err("SSLCipherSuite takes [TLSv1.3|SSL] NAME[:NAME...]".into()),
    };
    if !tls13 {
        return cipher_string(spec).map(|v| (false, v));
    }
    let mut out = Vec::new();
    for word in spec.split(':').filter(|w| !w.is_empty()) {
        match find_suite(word) {
            Some((canon, true)) => out.push(canon),
            Some(_) => return Err(format!("SSLCipherSuite TLSv1.3: {word} is a TLS 1.2 suite")),
            None => return Err(not_offered(word)),
        }
    }
    if out.is_empty() {
        return Err("SSLCipherSuite names no suite".into());
    }
    Ok((tls13, out))
}

/// A suite the ring provider offers, by any of its names: (rustls name, is TLS 1.3).
fn find_suite(word: &str) -> Option<(String, bool)> {
    rustls::crypto::ring::ALL_CIPHER_SUITES
        .iter()
        .find_map(|s| {
            let (canon, names) = suite_names(s);
            names
                .iter()
                .any(|n| n.eq_ignore_ascii_case(word))
                .then_some((canon, s.tls13().is_some()))
        })
}

fn not_offered(word: &str) -> String {
    format!(
        "SSLCipherSuite: '{word}' is not a suite this build offers; offered: {}",
        offered()
    )
}

/// OpenSSL's name of a suite (mod_ssl's `SSL_CIPHER`): the IANA name for TLS 1.3,
/// `ECDHE-ECDSA-AES256-GCM-SHA384` and the like for TLS 1.2.
pub fn openssl_name(s: rustls::CipherSuite) -> String {
    rustls::crypto::ring::ALL_CIPHER_SUITES
        .iter()
        .find(|x| x.suite() == s)
        .and_then(|x| suite_names(x).1.last().cloned())
        .unwrap_or_else(|| format!("{s:?}"))
}

/// The TLS 1.2 suites rustls's ring provider has, described as OpenSSL's cipher-string
/// language sees them, in the order `openssl ciphers ALL` lists them (OpenSSL 3.0):
/// (OpenSSL name, authentication, encryption, strength bits).
const TLS12: [(&str, &str, &str, u16); 6] = [
    ("ECDHE-ECDSA-AES256-GCM-SHA384", "ECDSA", "AES256GCM", 256),
    ("ECDHE-RSA-AES256-GCM-SHA384", "RSA", "AES256GCM", 256),
    ("ECDHE-ECDSA-CHACHA20-POLY1305", "ECDSA", "CHACHA20", 256),
    ("ECDHE-RSA-CHACHA20-POLY1305", "RSA", "CHACHA20", 256),
    ("ECDHE-ECDSA-AES128-GCM-SHA256", "ECDSA", "AES128GCM", 128),
    ("ECDHE-RSA-AES128-GCM-SHA256", "RSA", "AES128GCM", 128),
];

/// OpenSSL's keywords that select none of [`TLS12`] (weak, anonymous, static-key, PSK, SRP,
/// CBC-era and non-AEAD families): known, so they are not typos, and harmless to name.
const MATCH_NONE: &[&str] = &[
    "COMPLEMENTOFALL",
    "COMPLEMENTOFDEFAULT",
    "LOW",
    "MEDIUM",
    "EXPORT",
    "EXP",
    "EXPORT40",
    "EXPORT56",
    "eNULL",
    "NULL",
    "aNULL",
    "ADH",
    "AECDH",
    "kRSA",
    "RSA",
    "DH",
    "EDH",
    "DHE",
    "kDHE",
    "kEDH",
    "kDHr",
    "kDHd",
    "kDH",
    "aDH",
    "kECDHr",
    "kECDHe",
    "kECDH",
    "aECDH",
    "aDSS",
    "DSS",
    "PSK",
    "kPSK",
    "aPSK",
    "kECDHEPSK",
    "kDHEPSK",
    "kRSAPSK",
    "ECDHEPSK",
    "DHEPSK",
    "RSAPSK",
    "SRP",
    "kSRP",
    "aSRP",
    "3DES",
    "DES",
    "RC4",
    "RC2",
    "IDEA",
    "SEED",
    "MD5",
    "SHA1",
    "SHA",
    "SHA256",
    "SHA384",
    "CAMELLIA",
    "CAMELLIA128",
    "CAMELLIA256",
    "ARIA",
    "ARIA128",
    "ARIA256",
    "ARIAGCM",
    "AESCCM",
    "AESCCM8",
    "AES128CCM",
    "AES256CCM",
    "AES128CCM8",
    "AES256CCM8",
    "GOST94",
    "GOST89MAC",
    "kGOST",
    "aGOST",
    "aGOST01",
    "SSLv3",
    "TLSv1",
    "TLSv1.0",
    "SUITEB128",
    "SUITEB128ONLY",
    "SUITEB192",
];

/// Which of [`TLS12`] one keyword (no operator, no `+`) selects; `None`: not a keyword.
fn keyword(word: &str) -> Option<[bool; 6]> {
    let all = |f: &dyn Fn(&str, &str) -> bool| {
        let mut m = [false; 6];
        for (slot, (_, auth, enc, _)) in m.iter_mut().zip(TLS12.iter()) {
            *slot = f(auth, enc);
        }
        m
    };
    let w = word.to_ascii_uppercase();
    let m = match w.as_str() {
        "ALL" | "DEFAULT" | "HIGH" | "AEAD" | "TLSV1.2" | "KECDHE" | "KEECDH" | "ECDHE"
        | "EECDH" | "FIPS" => all(&|_, _| true),
        "AECDSA" | "ECDSA" => all(&|a, _| a == "ECDSA"),
        "ARSA" => all(&|a, _| a == "RSA"),
        "AES" | "AESGCM" => all(&|_, e| e.starts_with("AES")),
        "AES128" => all(&|_, e| e == "AES128GCM"),
        "AES256" => all(&|_, e| e == "AES256GCM"),
        "CHACHA20" => all(&|_, e| e == "CHACHA20"),
        _ if MATCH_NONE.iter().any(|k| k.eq_ignore_ascii_case(word)) => [false; 6],
        _ => {
            // A suite's own name (OpenSSL's, IANA's or rustls's).
            let (canon, _) = find_suite(word)?;
            let mut m = [false; 6];
            for (slot, (name, ..)) in m.iter_mut().zip(TLS12.iter()) {
                *slot = find_suite(name).is_some_and(|(c, _)| c == canon);
            }
            m
        }
    };
    Some(m)
}

/// Evaluates an OpenSSL cipher string (`ciphers(1)`) over the TLS 1.2 suites this build has,
/// as OpenSSL does: words separated by `:`, `,`, `;` or spaces; `WORD` appends what it selects
/// that is not yet listed, `-WORD` removes (it may come back), `!WORD` removes for good,
/// `+WORD` moves to the end, `A+B` selects what both select, `@STRENGTH` sorts by key length,
/// `@SECLEVEL=N` changes nothing here (every suite has at least 128 bits). A word OpenSSL
/// would not know, or a suite this build lacks (`AES128-SHA`), is an error rather than
/// silently nothing; TLS 1.3 suite names belong in `SSLCipherSuite TLSv1.3`. Returns rustls
/// suite names, most preferred first.
pub fn cipher_string(spec: &str) -> Result<Vec<String>, String> {
    let mut list: Vec<usize> = Vec::new();
    let mut banned = [false; 6];
    for word in spec.split([':', ',', ';', ' ']).filter(|w| !w.is_empty()) {
        if word.eq_ignore_ascii_case("@STRENGTH") {
            list.sort_by_key(|&i| std::cmp::Reverse(TLS12.get(i).map_or(0, |t| t.3)));
            continue;
        }
        if word.len() > 10
            && word
                .get(..10)
                .is_some_and(|p| p.eq_ignore_ascii_case("@SECLEVEL="))
        {
            continue;
        }
        let (op, body) = match word.as_bytes().first() {
            Some(c @ (b'!' | b'-' | b'+')) => (*c, word.get(1..).unwrap_or_default()),
            _ => (b' ', word),
        };
        let mut sel = [true; 6];
        for part in body.split('+') {
            if find_suite(part).is_some_and(|(_, is13)| is13) {
                return Err(format!(
                    "SSLCipherSuite: {part} is a TLS 1.3 suite; write `SSLCipherSuite TLSv1.3 {part}`"
                ));
            }
            let Some(m) = keyword(part) else {
                return Err(if part.contains('-') || part.contains('_') {
                    not_offered(part)
                } else {
                    format!("SSLCipherSuite: '{part}' is not an OpenSSL cipher keyword or a suite this build offers; offered: {}", offered())
                });
            };
            for (s, m) in sel.iter_mut().zip(m) {
                *s &= m;
            }
        }
        let selected = |i: &usize| sel.get(*i).copied().unwrap_or(false);
        match op {
            b'!' => {
                for (b, s) in banned.iter_mut().zip(sel) {
                    *b |= s;
                }
                list.retain(|i| !selected(i));
            }
            b'-' => list.retain(|i| !selected(i)),
            b'+' => {
                let (moved, kept): (Vec<usize>, Vec<usize>) =
                    list.iter().partition(|i| selected(i));
                list = kept.into_iter().chain(moved).collect();
            }
            _ => {
                for i in 0..TLS12.len() {
                    if selected(&i) && !banned.get(i).copied().unwrap_or(true) && !list.contains(&i)
                    {
                        list.push(i);
                    }
                }
            }
        }
    }
    let out: Vec<String> = list
        .iter()
        .filter_map(|&i| TLS12.get(i))
        .filter_map(|(name, ..)| find_suite(name).map(|(c, _)| c))
        .collect();
    if out.is_empty() {
        return Err(format!(
            "SSLCipherSuite {spec} selects no suite this build offers (offered: {})",
            offered()
        ));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing)]
    use super::*;

    fn s(v: &[&str]) -> Vec<String> {
        v.iter().map(|x| x.to_string()).collect()
    }

    #[test]
    fn protocol_table() {
        for (args, want) in [
            (&["TLSv1.3"][..], Ok((false, true))),
            (&["TLSv1.2"], Ok((true, false))),
            (&["all"], Ok((true, true))),
            (&["all", "-TLSv1.2"], Ok((false, true))),
            (&["all", "-SSLv3", "-TLSv1", "-TLSv1.1"], Ok((true, true))),
            (&["-all", "+TLSv1.3"], Ok((false, true))),
            (&["TLSv1.2", "+TLSv1.3"], Ok((true, true))),
            (&["all", "-all"], Err(())),
            (&["TLSv1.1"], Err(())),
            (&["TLSv9"], Err(())),
        ] {
            assert_eq!(parse_protocols(&s(args)).map_err(|_| ()), want, "{args:?}");
        }
    }

    #[test]
    fn cipher_suite_table() {
        for (args, want) in [
            (
                &[
                    "TLSv1.3",
                    "TLS_AES_128_GCM_SHA256:TLS_CHACHA20_POLY1305_SHA256",
                ][..],
                Ok((
                    true,
                    s(&["TLS13_AES_128_GCM_SHA256", "TLS13_CHACHA20_POLY1305_SHA256"]),
                )),
            ),
            (
                &["ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-CHACHA20-POLY1305"],
                Ok((
                    false,
                    s(&[
                        "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256",
                        "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256",
                    ]),
                )),
            ),
            (
                &["TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384"],
                Ok((false, s(&["TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384"]))),
            ),
            (
                &["HIGH:!aNULL"],
                Ok((
                    false,
                    s(&[
                        "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384",
                        "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384",
                        "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256",
                        "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256",
                        "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256",
                        "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
                    ]),
                )),
            ),
            (
                &["ECDSA+AES128:CHACHA20:-aRSA:!kRSA"],
                Ok((
                    false,
                    s(&[
                        "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256",
                        "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256",
                    ]),
                )),
            ),
            (&["MEDIUM:!aNULL"], Err(())),
            (&["HIGH:!aNULL:FOO"], Err(())),
            (&["HIGH:DHE-RSA-AES128-GCM-SHA256"], Err(())),
            (&["TLSv1.3", "ECDHE-RSA-AES128-GCM-SHA256"], Err(())),
            (&["TLS_AES_128_GCM_SHA256"], Err(())),
            (&["AES128-SHA"], Err(())),
        ] {
            assert_eq!(
                parse_cipher_suite(&s(args)).map_err(|_| ()),
                want,
                "{args:?}"
            );
        }
    }
}
