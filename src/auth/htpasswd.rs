//! Stage: configuration load (parse) and, in the verifier process, password checks.
//!
//! Accepted hash formats, each computed by a vetted crate:
//! * bcrypt `$2y$`, `$2a$`, `$2b$` (crate `bcrypt`, which compares in constant time and,
//!   like Apache, uses only the first 72 password bytes);
//! * Apache MD5 `$apr1$` with the 8-character salt `htpasswd` always writes
//!   (crate `unix-crypt`), and with the 0..=7-character salts `openssl passwd -apr1 -salt`
//!   writes (crate `crypt3_rs`, which takes any salt length up to 8);
//! * MD5-crypt `$1$`, SHA-256-crypt `$5$`, SHA-512-crypt `$6$` (crate `pwhash`);
//! * `{SHA}` base64 SHA-1 (crates `sha1`, `base64`);
//! * DES crypt(3) as `htpasswd -d` writes it (crate `pwhash`'s `unix_crypt`): accepted, with
//!   a warning for the `-t` report ([`Htpasswd::warnings`]), since only the first 8
//!   characters of a password count.
//!
//! A line is `user:hash` or, as mod_authn_file reads it, `user:hash:comment`: the hash ends at
//! the next `:` and the rest is ignored.
//!
//! Invariants: an entry is accepted only if its verification can succeed for some
//! password, so an unsupported or malformed hash is a load error naming its line,
//! never a silent never-match (plaintext, `$2x$`, over-long salts,
//! out-of-range rounds are all refused). Computed hashes are compared with `subtle`.
//! Unknown users still cost one hash computation. Hash text never appears in errors:
//! a "hash" may be a plaintext password.
#![forbid(unsafe_code)]
#![deny(
    clippy::indexing_slicing,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic
)]

use std::collections::hash_map::Entry;
use std::collections::HashMap;
use std::fmt;
use std::hint::black_box;

use base64::Engine as _;
use sha1::{Digest as _, Sha1};
use subtle::ConstantTimeEq as _;

/// A bad line; the caller prefixes the file name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: {message}")]
pub struct ParseError {
    pub line: usize,
    pub message: String,
}

/// Verified against for unknown users in an empty file, at `htpasswd`'s default cost.
const FALLBACK_DUMMY: &str = "$2y$05$OvMLp1sl1/qgcZi/ZV188.r7WT2YZK8dPJAEYs2rYqHI6xlNviwJO";

const CRYPT64: &[u8] = b"./0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/// The crypt(3) schemes pwhash recomputes from the stored string.
#[derive(Clone, Copy)]
enum CryptKind {
    Md5,
    Sha256,
    Sha512,
    /// Traditional DES crypt(3): 2 salt characters and 11 of checksum.
    Des,
}

#[derive(Clone)]
enum PasswordHash {
    Bcrypt(String),
    Apr1 {
        salt: [u8; 8],
        stored: String,
    },
    /// `$apr1$` with a salt of 0..=7 characters.
    Apr1Short(String),
    Crypt {
        kind: CryptKind,
        stored: String,
    },
    Sha1([u8; 20]),
}

impl PasswordHash {
    fn verify(&self, password: &[u8]) -> bool {
        match self {
            PasswordHash::Bcrypt(stored) => bcrypt::verify(password, stored).unwrap_or(false),
            PasswordHash::Apr1 { salt, stored } => {
                let digest = unix_crypt::apr1::encode(password, *salt);
                let computed = unix_crypt::apr1::to_hash_string(digest, *salt);
                computed.ct_eq(stored.as_bytes()).into()
            }
            PasswordHash::Apr1Short(stored) => recompute_apr1_short(stored, password)
                .is_ok_and(|computed| computed.as_bytes().ct_eq(stored.as_bytes()).into()),
            PasswordHash::Crypt { kind, stored } => recompute_crypt(*kind, stored, password)
                .is_ok_and(|computed| computed.as_bytes().ct_eq(stored.as_bytes()).into()),
            PasswordHash::Sha1(stored) => Sha1::digest(password).as_slice().ct_eq(stored).into(),
        }
    }
}

/// pwhash marks MD5- and SHA-256-crypt deprecated as advice against creating new
/// hashes with them; verifying existing entries is exactly what we do.
#[allow(deprecated)]
fn recompute_crypt(kind: CryptKind, stored: &str, password: &[u8]) -> pwhash::Result<String> {
    match kind {
        CryptKind::Md5 => pwhash::md5_crypt::hash_with(stored, password),
        CryptKind::Sha256 => pwhash::sha256_crypt::hash_with(stored, password),
        CryptKind::Sha512 => pwhash::sha512_crypt::hash_with(stored, password),
        CryptKind::Des => pwhash::unix_crypt::hash_with(stored, password),
    }
}

/// crypt3_rs marks apr1 deprecated for new hashes, as pwhash does MD5-crypt.
#[allow(deprecated)]
fn recompute_apr1_short(stored: &str, password: &[u8]) -> Result<String, ()> {
    crypt3_rs::crypt::apr1::hash_with(stored, password)
        .map(|h| h.as_str().to_owned())
        .map_err(|_| ())
}

/// A parsed password file: user name to hash.
#[derive(Clone)]
pub struct Htpasswd {
    users: HashMap<String, PasswordHash>,
    /// Verified against for unknown users so their timing resembles real entries.
    dummy: PasswordHash,
    /// Accepted lines that deserve a word at `-t` (DES crypt).
    warnings: Vec<ParseError>,
}

impl fmt::Debug for Htpasswd {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Htpasswd")
            .field("users", &self.users.len())
            .finish_non_exhaustive()
    }
}

impl Htpasswd {
    /// True only if `user` exists and `password` matches its hash.
    pub fn verify(&self, user: &str, password: &[u8]) -> bool {
        match self.users.get(user) {
            Some(hash) => hash.verify(password),
            None => {
                black_box(self.dummy.verify(black_box(password)));
                false
            }
        }
    }

    pub fn contains(&self, user: &str) -> bool {
        self.users.contains_key(user)
    }

    pub fn len(&self) -> usize {
        self.users.len()
    }

    pub fn is_empty(&self) -> bool {
        self.users.is_empty()
    }

    /// Lines accepted with a caveat, for the `-t` report (the caller prefixes the file name).
    pub fn warnings(&self) -> &[ParseError] {
        &self.warnings
    }
}

/// Parses an htpasswd file. Lines are trimmed as Apache's config reader does; blank
/// lines and lines starting with `#` are skipped. Every bad line is reported.
pub fn parse(text: &str) -> Result<Htpasswd, Vec<ParseError>> {
    let mut users = HashMap::new();
    let mut first_seen: HashMap<&str, usize> = HashMap::new();
    let mut dummy = None;
    let mut errors = Vec::new();
    let mut warnings = Vec::new();
    for (index, raw) in text.split('\n').enumerate() {
        let line = index + 1;
        let entry = raw.trim_matches([' ', '\t', '\r']);
        if entry.is_empty() || entry.starts_with('#') {
            continue;
        }
        let (user, hash) = match parse_entry(entry) {
            Ok(parsed) => parsed,
            Err(message) => {
                errors.push(ParseError { line, message });
                continue;
            }
        };
        match first_seen.entry(user) {
            Entry::Occupied(first) => {
                let message = format!("duplicate user '{user}' (first on line {})", first.get());
                errors.push(ParseError { line, message });
                continue;
            }
            Entry::Vacant(slot) => {
                slot.insert(line);
            }
        }
        if matches!(
            hash,
            PasswordHash::Crypt {
                kind: CryptKind::Des,
                ..
            }
        ) {
            warnings.push(ParseError {
                line,
                message: format!("user '{user}': DES crypt (htpasswd -d): only the first 8 characters of the password count, and the hash is weak; rehash with `htpasswd -B`"),
            });
        }
        dummy.get_or_insert_with(|| hash.clone());
        users.insert(user.to_owned(), hash);
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    let dummy = dummy.unwrap_or_else(|| PasswordHash::Bcrypt(FALLBACK_DUMMY.to_owned()));
    Ok(Htpasswd {
        users,
        dummy,
        warnings,
    })
}

fn parse_entry(entry: &str) -> Result<(&str, PasswordHash), String> {
    let (user, rest) = entry
        .split_once(':')
        .ok_or("missing ':' between user and hash")?;
    // `user:hash:comment`: mod_authn_file takes the hash up to the next ':'.
    let hash = rest.split(':').next().unwrap_or_default();
    if user.is_empty() {
        return Err("empty user name".to_owned());
    }
    if user.chars().any(char::is_control) {
        return Err("user name contains a control character".to_owned());
    }
    let hash = parse_hash(hash).map_err(|why| format!("user '{user}': {why}"))?;
    Ok((user, hash))
}

fn parse_hash(hash: &str) -> Result<PasswordHash, String> {
    if let Some(b64) = hash.strip_prefix("{SHA}") {
        return parse_sha1(b64);
    }
    if hash.starts_with("$2y$") || hash.starts_with("$2a$") || hash.starts_with("$2b$") {
        return parse_bcrypt(hash);
    }
    if let Some(rest) = hash.strip_prefix("$apr1$") {
        return parse_apr1(hash, rest);
    }
    if let Some(rest) = hash.strip_prefix("$1$") {
        check_md5_crypt(rest)?;
        return Ok(crypt(CryptKind::Md5, hash));
    }
    if let Some(rest) = hash.strip_prefix("$5$") {
        check_sha_crypt(rest, 43, 4)?;
        return Ok(crypt(CryptKind::Sha256, hash));
    }
    if let Some(rest) = hash.strip_prefix("$6$") {
        check_sha_crypt(rest, 86, 2)?;
        return Ok(crypt(CryptKind::Sha512, hash));
    }
    if is_des(hash) {
        return Ok(crypt(CryptKind::Des, hash));
    }
    Err(unsupported(hash))
}

/// 13 characters of [./0-9A-Za-z]: 2 of salt, then 64 bits in 11 characters, the last of
/// which carries 4 bits in its high positions (crypt(3) leaves the low two zero, so any other
/// last character could never be produced).
fn is_des(hash: &str) -> bool {
    hash.len() == 13
        && hash.bytes().all(|b| CRYPT64.contains(&b))
        && hash
            .as_bytes()
            .last()
            .and_then(|l| CRYPT64.iter().position(|b| b == l))
            .is_some_and(|v| v % 4 == 0)
}

fn crypt(kind: CryptKind, hash: &str) -> PasswordHash {
    PasswordHash::Crypt {
        kind,
        stored: hash.to_owned(),
    }
}

fn unsupported(hash: &str) -> String {
    if hash.starts_with("$2x$") {
        "bcrypt '$2x$' (the buggy crypt_blowfish variant) is not supported".to_owned()
    } else if let Some(scheme) = hash.strip_prefix('$').and_then(|h| h.split('$').next()) {
        format!("unsupported hash scheme '${scheme}$'")
    } else if hash.len() == 13 && hash.bytes().all(|b| CRYPT64.contains(&b)) {
        "DES crypt(3) hash whose last character is not canonical".to_owned()
    } else {
        "unrecognized hash (plaintext passwords are not supported); use `htpasswd -B`".to_owned()
    }
}

fn parse_sha1(b64: &str) -> Result<PasswordHash, String> {
    let digest = base64::engine::general_purpose::STANDARD
        .decode(b64)
        .map_err(|_| "{SHA} value is not canonical base64".to_owned())?;
    let digest: [u8; 20] = digest
        .try_into()
        .map_err(|_| "{SHA} value does not decode to 20 bytes".to_owned())?;
    Ok(PasswordHash::Sha1(digest))
}

fn parse_bcrypt(hash: &str) -> Result<PasswordHash, String> {
    let parts: bcrypt::HashParts = hash
        .parse()
        .map_err(|_| "malformed bcrypt hash (expected 60 characters)".to_owned())?;
    if !(4..=31).contains(&parts.get_cost()) {
        return Err(format!("bcrypt cost {} outside 4..=31", parts.get_cost()));
    }
    Ok(PasswordHash::Bcrypt(hash.to_owned()))
}

fn parse_apr1(hash: &str, rest: &str) -> Result<PasswordHash, String> {
    let (salt, checksum) = rest.split_once('$').ok_or("apr1 hash has no checksum")?;
    if salt.len() > 8 {
        return Err(
            "apr1 salt must be at most 8 characters (as htpasswd and openssl write)".to_owned(),
        );
    }
    if !salt.bytes().all(|b| CRYPT64.contains(&b)) {
        return Err("apr1 salt has characters outside [./0-9A-Za-z]".to_owned());
    }
    check_checksum(checksum, 22, 2).map_err(|why| format!("apr1 {why}"))?;
    Ok(match <[u8; 8]>::try_from(salt.as_bytes()) {
        Ok(salt) => PasswordHash::Apr1 {
            salt,
            stored: hash.to_owned(),
        },
        Err(_) => PasswordHash::Apr1Short(hash.to_owned()),
    })
}

/// Salt of 0..=8 characters: pwhash would truncate a longer one and never match.
fn check_md5_crypt(rest: &str) -> Result<(), String> {
    let (salt, checksum) = rest.split_once('$').ok_or("$1$ hash has no checksum")?;
    check_salt(salt, 8).map_err(|why| format!("$1$ {why}"))?;
    check_checksum(checksum, 22, 2).map_err(|why| format!("$1$ {why}"))
}

/// `[rounds=N$]SALT$CHECKSUM`; out-of-range or non-canonical rounds and over-long
/// salts would be silently adjusted by the hasher and never match, so refuse them.
fn check_sha_crypt(rest: &str, checksum_len: usize, last_bits: u32) -> Result<(), String> {
    let mut fields: Vec<&str> = rest.split('$').collect();
    if fields.len() == 3 {
        check_rounds(fields.remove(0))?;
    }
    let [salt, checksum] = fields[..] else {
        return Err("SHA-crypt hash is not [rounds=N$]salt$checksum".to_owned());
    };
    check_salt(salt, 16).map_err(|why| format!("SHA-crypt {why}"))?;
    check_checksum(checksum, checksum_len, last_bits).map_err(|why| format!("SHA-crypt {why}"))
}

fn check_rounds(field: &str) -> Result<(), String> {
    let bad = || "SHA-crypt rounds must be rounds=N with N in 1000..=999999999".to_owned();
    let digits = field.strip_prefix("rounds=").ok_or_else(bad)?;
    if digits.starts_with('0') || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad());
    }
    let rounds: u32 = digits.parse().map_err(|_| bad())?;
    if (1000..=999_999_999).contains(&rounds) {
        Ok(())
    } else {
        Err(bad())
    }
}

fn check_salt(salt: &str, max: usize) -> Result<(), String> {
    if salt.len() > max || !salt.bytes().all(|b| CRYPT64.contains(&b)) {
        return Err(format!(
            "salt must be at most {max} characters of [./0-9A-Za-z]"
        ));
    }
    Ok(())
}

/// The checksum is crypt-base64 of a digest; its last character carries only
/// `last_bits` bits, so any other value there can never be produced.
fn check_checksum(checksum: &str, len: usize, last_bits: u32) -> Result<(), String> {
    let bad = || format!("checksum must be {len} characters of [./0-9A-Za-z]");
    if checksum.len() != len || !checksum.bytes().all(|b| CRYPT64.contains(&b)) {
        return Err(bad());
    }
    let &last = checksum.as_bytes().last().ok_or_else(bad)?;
    let value = CRYPT64.iter().position(|&b| b == last).ok_or_else(bad)?;
    if value >= 1 << last_bits {
        return Err("checksum's last character is not canonical".to_owned());
    }
    Ok(())
}

/// The verifier checks passwords against parsed htpasswd files.
impl crate::verifier::PasswordDb for Htpasswd {
    fn verify(&self, user: &str, password: &[u8]) -> bool {
        Htpasswd::verify(self, user, password)
    }
    fn contains(&self, user: &str) -> bool {
        Htpasswd::contains(self, user)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Generated with apache2-utils `htpasswd -nb{B,m,s,2,5}`, `openssl passwd -1` and
    /// glibc crypt(3); the password is the third column.
    const FIXTURES: &[(&str, &str, &str)] = &[
        ("alice", "$2y$05$M4D7F/BPSgWEJkL0HpjxduMhmn.Ti5ffKekezq6A6FWbIsRoXddhW", "secret"),
        ("alice2a", "$2a$05$M4D7F/BPSgWEJkL0HpjxduMhmn.Ti5ffKekezq6A6FWbIsRoXddhW", "secret"),
        ("alice2b", "$2b$05$M4D7F/BPSgWEJkL0HpjxduMhmn.Ti5ffKekezq6A6FWbIsRoXddhW", "secret"),
        ("ivan", "$2y$04$Hx6q/zN6yPMpYuSP3.fpSuDlIfyjEttVZGffnxSHExiWy/701sU0.", ""),
        ("bob", "$apr1$fIJzYjdq$W3UHGzzfZjk.E/L0RIJFL/", "p@ss word"),
        ("empty", "$apr1$0jIbe2fa$ilGPTGlzMaDF0DYuQKq76/", ""),
        ("carol", "{SHA}87u9ZqY9S/F0eUBXjsPQEDUw4h0=", "hunter2"),
        ("dave", "$5$Wpr9FmOVHj/DWup6$5FhJxDf9dp90EAwgGdeHp7gTHRhX9pkkrGfbk.YTwG7", "sha256pw"),
        (
            "dave5000",
            "$5$rounds=5000$Wpr9FmOVHj/DWup6$5FhJxDf9dp90EAwgGdeHp7gTHRhX9pkkrGfbk.YTwG7",
            "sha256pw",
        ),
        (
            "dave2000",
            "$5$rounds=2000$saltsaltsalt$NnK26Awdplhg6s/jHErtXdWWTXdBHnDwIbt851th3BC",
            "sha256r",
        ),
        (
            "erin",
            "$6$zbr4f2iG68CoxRtT$JK73YBE6jq32wPEe4JrGvMwu.B0ZBoeCmxZBK7ebyJljFGJWqZ9dkvhxpxm8a8xsdOSVKn89EWiibgAawXLnT/",
            "sha512pw",
        ),
        (
            "frank",
            "$6$rounds=10000$JTAO0bRwY5XNmWhL$CYO7KSGOwhKifU69LaHPMQ8rL9tvlDklKyTQjENT0oxmesY.yf1nK07PsI4j4EhJ29RObK1VUQ1zvqlrRg2Q30",
            "rounds",
        ),
        (
            "nopw6",
            "$6$emptysalt$TrI.h19YNad.S.Xw2WEgON9ojBrkXYcCfZrEcOEa9k/Bp5Sw4dxhsyY0KdBJ5Vt2UbEFOMolXqrfnZHc1QRM..",
            "",
        ),
        ("gil", "$1$abcdefgh$O3RcxDaJZDBrlS0uVgUNi/", "md5pw"),
        ("gilshort", "$1$ab$cpIU9XWul7EAjA1vFqPRY0", "md5short"),
        // `openssl passwd -apr1 -salt ab secret`, `-salt x short`, `-salt '' empty`.
        ("apr2", "$apr1$ab$jiiV6N7hIIuIoJbc1hxOE/", "secret"),
        ("apr1c", "$apr1$x$NiK.UmLRoXH73DjPBVVur1", "short"),
        ("apr0", "$apr1$$v0Pjl85hqQ7Qqc51WMQj/.", "empty"),
        // `htpasswd -nbd des pw1234` (under 8 characters: the wrong password below differs).
        ("des", "5yOQ3ksU/bEyU", "pw1234"),
    ];

    fn fixture_file() -> String {
        let mut text = String::from("# generated fixtures\r\n\r\n");
        for (user, hash, _) in FIXTURES {
            text.push_str(&format!("  {user}:{hash}\t\r\n"));
        }
        text
    }

    #[test]
    fn every_format_verifies_right_password_only() {
        let file = parse(&fixture_file()).expect("fixtures parse");
        assert_eq!(file.len(), FIXTURES.len());
        for (user, _, password) in FIXTURES {
            assert!(file.contains(user), "{user} missing");
            assert!(
                file.verify(user, password.as_bytes()),
                "{user}: right password"
            );
            let wrong = format!("{password}x");
            assert!(
                !file.verify(user, wrong.as_bytes()),
                "{user}: wrong password"
            );
            assert!(!file.verify(user, b"secrex"), "{user}: other password");
        }
    }

    /// `user:hash:comment` (mod_authn_file reads the hash up to the next ':'); DES crypt is
    /// accepted with a warning naming its line, and, as crypt(3), reads 8 characters only.
    #[test]
    fn comment_field_and_des_warning() {
        let file = parse(
            "# htpasswd -nbB alice secret, with a comment\n\
             alice:$2y$05$M4D7F/BPSgWEJkL0HpjxduMhmn.Ti5ffKekezq6A6FWbIsRoXddhW:Alice A.: room 3\n\
             des2:bervjtARTqe3Y:htpasswd -nbd des2 12345678\n\
             apr:$apr1$ab$jiiV6N7hIIuIoJbc1hxOE/:\n",
        )
        .unwrap();
        assert!(file.verify("alice", b"secret"));
        assert!(!file.verify("alice", b"secret:Alice A."));
        assert!(file.verify("apr", b"secret"));
        assert!(file.verify("des2", b"12345678"));
        // crypt(3)'s DES: characters after the eighth are ignored (the -t warning's reason).
        assert!(file.verify("des2", b"12345678-and-more"));
        assert!(!file.verify("des2", b"1234567"));
        let w = file.warnings();
        assert_eq!(w.len(), 1, "{w:?}");
        assert_eq!(w[0].line, 3);
        assert!(w[0].message.contains("first 8 characters"), "{}", w[0]);
        assert!(parse("x:plain:comment\n").is_err());
    }

    #[test]
    fn unknown_user_never_verifies_even_with_a_listed_password() {
        let file = parse(&fixture_file()).unwrap();
        // alice comes first, so her hash is the timing dummy; it must not leak through.
        assert!(!file.verify("mallory", b"secret"));
        assert!(!file.verify("Alice", b"secret"));
        assert!(!file.contains("mallory"));
        let empty = parse("# nobody\n").unwrap();
        assert!(empty.is_empty());
        assert!(!empty.verify("alice", b"oneshot-httpd unknown-user dummy"));
    }

    #[test]
    fn password_may_contain_colons_and_non_ascii_bytes() {
        // `htpasswd -nbm colon 'a:b:c'` and `htpasswd -nbs bin café` (UTF-8).
        let file = parse(
            "colon:$apr1$6D4Vbg5V$mIdDX2fwpK6MOdIw90nMI.\n\
             bin:{SHA}9CRFKpZzkYxvCbDN01sgvo5q59c=\n",
        )
        .unwrap();
        assert!(file.verify("colon", b"a:b:c"));
        assert!(!file.verify("colon", b"a"));
        assert!(file.verify("bin", "café".as_bytes()));
        assert!(!file.verify("bin", b"caf\xe9"));
    }

    #[test]
    fn bad_lines_are_reported_with_their_numbers() {
        let cases: &[(&str, &str)] = &[
            (
                "gina:/NvK9diVJwKV3",
                "DES crypt(3) hash whose last character",
            ),
            ("hal:plain", "plaintext"),
            ("hal:", "plaintext"),
            ("nocolon", "missing ':'"),
            (":$apr1$fIJzYjdq$W3UHGzzfZjk.E/L0RIJFL/", "empty user"),
            (
                "x\u{7}y:{SHA}87u9ZqY9S/F0eUBXjsPQEDUw4h0=",
                "control character",
            ),
            (
                "x:$2x$05$M4D7F/BPSgWEJkL0HpjxduMhmn.Ti5ffKekezq6A6FWbIsRoXddhW",
                "$2x$",
            ),
            (
                "x:$2y$05$M4D7F/BPSgWEJkL0HpjxduMhmn.Ti5ffKekezq6A6FWbIsRoXdd",
                "malformed bcrypt",
            ),
            (
                "x:$2y$03$M4D7F/BPSgWEJkL0HpjxduMhmn.Ti5ffKekezq6A6FWbIsRoXddhW",
                "cost 3",
            ),
            ("x:$apr1$abcdefghi$pDwMWANCLvZiGjggabKJn/", "at most 8"),
            ("x:$apr1$fIJzYjdq", "no checksum"),
            ("x:$apr1$fIJzYjdq$W3UHGzzfZjk.E/L0RIJFL", "22 characters"),
            ("x:$apr1$fIJzYjdq$W3UHGzzfZjk.E/L0RIJFLz", "not canonical"),
            ("x:$apr1$fIJz*jdq$W3UHGzzfZjk.E/L0RIJFL/", "outside"),
            ("x:$1$abcdefghi$O3RcxDaJZDBrlS0uVgUNi/", "at most 8"),
            ("x:{SHA}87u9ZqY9S/F0eUBXjsPQEDUw4h0", "base64"),
            ("x:{SHA}87u9ZqY9S/F0eUBXjsPQEDUw4g==", "20 bytes"),
            (
                "x:$5$rounds=999$saltsaltsalt$NnK26Awdplhg6s/jHErtXdWWTXdBHnDwIbt851th3BC",
                "1000..=999999999",
            ),
            (
                "x:$5$rounds=02000$saltsaltsalt$NnK26Awdplhg6s/jHErtXdWWTXdBHnDwIbt851th3BC",
                "rounds=N",
            ),
            (
                "x:$5$saltsaltsaltsaltsalt$NnK26Awdplhg6s/jHErtXdWWTXdBHnDwIbt851th3BC",
                "at most 16",
            ),
            ("x:$5$saltsaltsalt$NnK26Awdplhg6s", "43 characters"),
            ("x:$5$a$b$c$d", "[rounds=N$]salt$checksum"),
            (
                "x:$argon2id$v=19$m=65536,t=3,p=4$c2FsdA$aGFzaA",
                "'$argon2id$'",
            ),
        ];
        for (line, expected) in cases {
            let text = format!("# header\n\n{line}\n");
            let errors = parse(&text).expect_err(line);
            assert_eq!(errors.len(), 1, "{line}: {errors:?}");
            assert_eq!(errors[0].line, 3, "{line}");
            assert!(
                errors[0].message.contains(expected),
                "{line}: '{}' lacks '{expected}'",
                errors[0].message
            );
        }
    }

    #[test]
    fn all_bad_lines_and_duplicates_are_reported() {
        let text = "alice:{SHA}87u9ZqY9S/F0eUBXjsPQEDUw4h0=\n\
                    bob:plaintext-supersecret\n\
                    #alice:comment\n\
                    alice:$apr1$fIJzYjdq$W3UHGzzfZjk.E/L0RIJFL/\n\
                    carol\n";
        let errors = parse(text).unwrap_err();
        let rendered: Vec<String> = errors.iter().map(ToString::to_string).collect();
        assert_eq!(errors.iter().map(|e| e.line).collect::<Vec<_>>(), [2, 4, 5]);
        assert!(rendered[0].starts_with("line 2: user 'bob': "));
        assert!(!rendered[0].contains("supersecret"), "hash text leaked");
        assert_eq!(
            rendered[1],
            "line 4: duplicate user 'alice' (first on line 1)"
        );
        assert!(rendered[2].starts_with("line 5: missing ':'"));
    }

    #[test]
    fn debug_does_not_show_hashes() {
        let file = parse("carol:{SHA}87u9ZqY9S/F0eUBXjsPQEDUw4h0=\n").unwrap();
        let shown = format!("{file:?}");
        assert!(shown.contains("users: 1"), "{shown}");
        assert!(!shown.contains("87u9"), "{shown}");
    }
}
