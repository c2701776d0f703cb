//! The key holder's promises, against its real serve loop and real keys made by openssl; each
//! signature is verified with `openssl pkeyutl`/`dgst`, an implementation independent of ours:
//! - a well-formed TLS 1.3 CertificateVerify input is signed, once;
//! - a second request on the same channel finds it closed (one signature per channel);
//! - input of any other shape, a TLS 1.2 ServerKeyExchange shape for a key whose vhosts do not
//!   enable TLS 1.2, PKCS#1 under TLS 1.3, and an unknown key index are refused without a
//!   signature;
//! - a key that does not match its certificate stops the key holder at start.
#![allow(clippy::unwrap_used)]

mod common;

use oneshot_httpd::keyholder::{self, client, protocol::Response, KeySpec};
use std::path::Path;
use std::process::Command;
use std::time::Duration;

fn sh(dir: &Path, script: &str) {
    let out = Command::new("sh")
        .arg("-ec")
        .arg(script)
        .current_dir(dir)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn pem_cert_der(path: &Path) -> Vec<u8> {
    use rustls_pki_types::pem::PemObject;
    rustls_pki_types::CertificateDer::from_pem_file(path)
        .unwrap()
        .to_vec()
}

fn cv(hash_len: usize) -> Vec<u8> {
    let mut m = vec![0x20; 64];
    m.extend_from_slice(b"TLS 1.3, server CertificateVerify\0");
    m.extend((0..hash_len).map(|i| i as u8));
    m
}

fn ske() -> Vec<u8> {
    let mut m = vec![7u8; 64];
    m.extend_from_slice(&[3, 0x00, 0x1d, 32]);
    m.extend([9u8; 32]);
    m
}

struct Holder {
    handle: keyholder::Handle,
    dir: std::path::PathBuf,
}

fn start(tls12: bool) -> Holder {
    let dir = common::scratch("keyholder");
    sh(
        &dir,
        "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout ec.key -out ec.pem -subj /CN=ec -days 2 2>/dev/null
         openssl req -x509 -newkey rsa:2048 -nodes -keyout rsa.key -out rsa.pem -subj /CN=rsa -days 2 2>/dev/null
         openssl pkey -in ec.key -pubout -out ec.pub; openssl pkey -in rsa.key -pubout -out rsa.pub",
    );
    let specs: Vec<KeySpec> = ["ec", "rsa"]
        .iter()
        .map(|k| KeySpec {
            path: dir.join(format!("{k}.key")),
            certificate: pem_cert_der(&dir.join(format!("{k}.pem"))),
            tls12,
        })
        .collect();
    let (handle, endpoint) = keyholder::pair().unwrap();
    std::thread::spawn(move || endpoint.serve(&specs));
    let keys = handle.wait_ready(Duration::from_secs(5)).unwrap();
    assert_eq!(keys.len(), 2);
    assert_eq!(keys[0].algorithm, 3, "ECDSA");
    assert!(keys[0].schemes.contains(&0x0403));
    assert!(keys[1].schemes.contains(&0x0804), "RSA-PSS");
    Holder { handle, dir }
}

fn verify(dir: &Path, pubkey: &str, scheme_opts: &str, msg: &[u8], sig: &[u8]) -> bool {
    std::fs::write(dir.join("msg"), msg).unwrap();
    std::fs::write(dir.join("sig"), sig).unwrap();
    Command::new("sh")
        .arg("-c")
        .arg(format!(
            "openssl dgst -sha256 {scheme_opts} -verify {pubkey} -signature sig msg"
        ))
        .current_dir(dir)
        .output()
        .unwrap()
        .status
        .success()
}

const T: Duration = Duration::from_secs(5);

#[test]
fn signs_one_certificate_verify_then_the_channel_is_closed() {
    let h = start(false);
    let chan = h.handle.new_channel().unwrap();
    let msg = cv(32);
    let Response::Signed(sig) = client::ask(&chan, 0, 0x0403, &msg, T).unwrap() else {
        panic!("not signed")
    };
    assert!(
        verify(&h.dir, "ec.pub", "", &msg, &sig),
        "ECDSA P-256 SHA-256 signature verifies"
    );
    // The same channel again: closed by the key holder after its one answer.
    let second = client::ask(&chan, 0, 0x0403, &msg, T);
    assert!(
        !matches!(second, Ok(Response::Signed(_))),
        "a second signature on one channel: {second:?}"
    );
    // RSA-PSS on a fresh channel verifies too.
    let chan = h.handle.new_channel().unwrap();
    let Response::Signed(sig) = client::ask(&chan, 1, 0x0804, &msg, T).unwrap() else {
        panic!("not signed")
    };
    assert!(verify(
        &h.dir,
        "rsa.pub",
        "-sigopt rsa_padding_mode:pss -sigopt rsa_pss_saltlen:32",
        &msg,
        &sig
    ));
}

#[test]
fn refuses_every_other_shape_scheme_and_key() {
    let h = start(false);
    let mut client_cv = cv(32);
    client_cv[64 + 9] = b'c'; // "TLS 1.3, client CertificateVerify"
    for (name, key, scheme, msg, want) in [
        (
            "arbitrary bytes",
            0u16,
            0x0403u16,
            b"sign this contract".to_vec(),
            Response::BadShape,
        ),
        ("client context", 0, 0x0403, client_cv, Response::BadShape),
        ("hash of odd length", 0, 0x0403, cv(20), Response::BadShape),
        (
            "TLS 1.2 shape, TLS 1.2 off",
            0,
            0x0403,
            ske(),
            Response::BadShape,
        ),
        (
            "PKCS#1 under TLS 1.3",
            1,
            0x0401,
            cv(32),
            Response::BadScheme,
        ),
        (
            "RSA scheme for an EC key",
            0,
            0x0804,
            cv(32),
            Response::BadScheme,
        ),
        ("unknown key", 9, 0x0403, cv(32), Response::BadRequest),
    ] {
        let chan = h.handle.new_channel().unwrap();
        assert_eq!(
            client::ask(&chan, key, scheme, &msg, T).unwrap(),
            want,
            "{name}"
        );
        // And the refused channel is spent too.
        assert!(
            !matches!(
                client::ask(&chan, 0, 0x0403, &cv(32), T),
                Ok(Response::Signed(_))
            ),
            "{name}: channel reused"
        );
    }
}

#[test]
fn tls12_shape_is_signed_only_when_enabled() {
    let h = start(true);
    let chan = h.handle.new_channel().unwrap();
    let Response::Signed(sig) = client::ask(&chan, 0, 0x0403, &ske(), T).unwrap() else {
        panic!("not signed")
    };
    assert!(verify(&h.dir, "ec.pub", "", &ske(), &sig));
}

#[test]
fn a_key_that_does_not_match_its_certificate_stops_the_start() {
    let h = start(false);
    let specs = vec![KeySpec {
        path: h.dir.join("ec.key"),
        certificate: pem_cert_der(&h.dir.join("rsa.pem")),
        tls12: false,
    }];
    let (handle, endpoint) = keyholder::pair().unwrap();
    let t = std::thread::spawn(move || endpoint.serve(&specs));
    let err = handle.wait_ready(T).unwrap_err();
    assert!(
        err.contains("does not belong to its SSLCertificateFile"),
        "{err}"
    );
    assert!(t.join().unwrap().is_err());
}
