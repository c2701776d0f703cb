//! mod_ssl's `SSL_SERVER_*` variables (`SSLOptions +StdEnvVars`) from the vhost's own
//! certificate, in mod_ssl's formats (`ssl_engine_vars.c`): distinguished names as OpenSSL's
//! RFC 2253 one-liner (most specific first, `CN=a.test,O=Org`), the serial in uppercase hex,
//! validity as `ASN1_TIME_print` writes it (`Nov  3 08:00:00 2026 GMT`), algorithms by
//! OpenSSL's long names. The certificate is public (the child sends it in every handshake);
//! it is parsed with the `x509-cert` crate. Checked against apache2 + mod_ssl with the same
//! certificate (`tests/tls.rs`, `certificate_variables_match_mod_ssl`).
#![forbid(unsafe_code)]

use x509_cert::der::Decode;
use x509_cert::Certificate;

/// The variables of the end-entity certificate `der`; empty if it does not parse (a
/// certificate rustls accepted always does).
pub fn server_vars(der: &[u8]) -> Vec<(&'static str, String)> {
    let Ok(cert) = Certificate::from_der(der) else {
        return Vec::new();
    };
    let tbs = &cert.tbs_certificate;
    let version = match tbs.version {
        x509_cert::certificate::Version::V1 => "1",
        x509_cert::certificate::Version::V2 => "2",
        x509_cert::certificate::Version::V3 => "3",
    };
    vec![
        ("SSL_SERVER_M_VERSION", version.to_string()),
        (
            "SSL_SERVER_M_SERIAL",
            serial_hex(tbs.serial_number.as_bytes()),
        ),
        ("SSL_SERVER_V_START", asn1_time(&tbs.validity.not_before)),
        ("SSL_SERVER_V_END", asn1_time(&tbs.validity.not_after)),
        ("SSL_SERVER_S_DN", tbs.subject.to_string()),
        ("SSL_SERVER_I_DN", tbs.issuer.to_string()),
        (
            "SSL_SERVER_A_SIG",
            long_name(&cert.signature_algorithm.oid.to_string()),
        ),
        (
            "SSL_SERVER_A_KEY",
            long_name(&tbs.subject_public_key_info.algorithm.oid.to_string()),
        ),
    ]
}

/// OpenSSL's `i2a_ASN1_INTEGER`: the magnitude's bytes in uppercase hex (DER's leading zero
/// that keeps a positive number positive is not part of it).
fn serial_hex(bytes: &[u8]) -> String {
    let magnitude = match bytes {
        [0, rest @ ..] if !rest.is_empty() => rest,
        b => b,
    };
    magnitude.iter().map(|b| format!("{b:02X}")).collect()
}

/// OpenSSL's `ASN1_TIME_print`: `Mon DD HH:MM:SS YYYY GMT`, the day space-padded.
fn asn1_time(t: &x509_cert::time::Time) -> String {
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let d = t.to_date_time();
    format!(
        "{} {:2} {:02}:{:02}:{:02} {} GMT",
        MONTHS[usize::from(d.month().clamp(1, 12)) - 1],
        d.day(),
        d.hour(),
        d.minutes(),
        d.seconds(),
        d.year()
    )
}

/// OpenSSL's long name (`OBJ_nid2ln`) of the algorithms a server certificate uses;
/// `UNKNOWN` otherwise, as mod_ssl says for an OID OpenSSL has no name for.
fn long_name(oid: &str) -> String {
    match oid {
        "1.2.840.10045.2.1" => "id-ecPublicKey",
        "1.2.840.113549.1.1.1" => "rsaEncryption",
        "1.2.840.113549.1.1.10" => "rsassaPss",
        "1.3.101.112" => "ED25519",
        "1.3.101.113" => "ED448",
        "1.2.840.10045.4.3.2" => "ecdsa-with-SHA256",
        "1.2.840.10045.4.3.3" => "ecdsa-with-SHA384",
        "1.2.840.10045.4.3.4" => "ecdsa-with-SHA512",
        "1.2.840.113549.1.1.11" => "sha256WithRSAEncryption",
        "1.2.840.113549.1.1.12" => "sha384WithRSAEncryption",
        "1.2.840.113549.1.1.13" => "sha512WithRSAEncryption",
        "1.2.840.113549.1.1.5" => "sha1WithRSAEncryption",
        _ => "UNKNOWN",
    }
    .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Rows written from OpenSSL's documented formats, not from this code.
    #[test]
    fn serial_and_names_table() {
        assert_eq!(serial_hex(&[0x01, 0x0a]), "010A");
        assert_eq!(serial_hex(&[0x00, 0xff, 0x10]), "FF10");
        assert_eq!(serial_hex(&[0x00]), "00");
        assert_eq!(long_name("1.2.840.10045.4.3.2"), "ecdsa-with-SHA256");
        assert_eq!(long_name("1.2.3.4"), "UNKNOWN");
    }
}
