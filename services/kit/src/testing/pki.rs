//! The tests' certificate authority: one per test process, in memory. Every service a
//! test starts presents a certificate from it, and every test client one too, so the
//! whole suite runs on mutual TLS exactly as a deployment does.

use std::{
    collections::HashMap,
    path::PathBuf,
    sync::{Mutex, OnceLock},
};

use crate::trust::{
    PeerId, TlsIdentity,
    pki::{Authority, Validity},
};

/// The process's authority.
pub fn authority() -> &'static Authority {
    static AUTHORITY: OnceLock<Authority> = OnceLock::new();
    AUTHORITY
        .get_or_init(|| Authority::generate("Sportello test CA").expect("generate the test CA"))
}

/// The identity of `peer` (`svc/routing`, `system/x`, `tool/cli`), issued once.
pub fn identity(peer: &str) -> TlsIdentity {
    static ISSUED: OnceLock<Mutex<HashMap<String, TlsIdentity>>> = OnceLock::new();
    let issued = ISSUED.get_or_init(Default::default);
    let mut issued = issued.lock().expect("test PKI lock");
    issued
        .entry(peer.to_owned())
        .or_insert_with(|| issue(authority(), peer, Validity::Days(2)))
        .clone()
}

/// A certificate for `peer` from `authority`, valid as `validity` says.
pub fn issue(authority: &Authority, peer: &str, validity: Validity) -> TlsIdentity {
    let id = PeerId::parse(peer).expect("a valid peer id");
    let cert = authority
        .issue(&id, &[], validity)
        .expect("issue a test certificate");
    TlsIdentity::from_pem(&cert.cert_pem, &cert.key_pem, authority.cert_pem())
        .expect("a test identity")
}

/// Files holding `peer`'s certificate, key and the CA, for a binary the test starts:
/// `(TLS_CERT, TLS_KEY, TLS_CA)` paths, under the test run's temporary directory.
pub fn files(peer: &str) -> (PathBuf, PathBuf, PathBuf) {
    let id = PeerId::parse(peer).expect("a valid peer id");
    let dir = std::env::temp_dir()
        .join(format!("sportello-test-pki-{}", std::process::id()))
        .join(id.path().replace('/', "-"));
    std::fs::create_dir_all(&dir).expect("create the test PKI directory");
    let cert = authority()
        .issue(&id, &[], Validity::Days(2))
        .expect("issue a test certificate");
    let paths = (
        dir.join("cert.pem"),
        dir.join("key.pem"),
        dir.join("ca.pem"),
    );
    std::fs::write(&paths.0, &cert.cert_pem).expect("write the certificate");
    std::fs::write(&paths.1, &cert.key_pem).expect("write the key");
    std::fs::write(&paths.2, authority().cert_pem()).expect("write the CA");
    paths
}

/// The `TLS_CERT`, `TLS_KEY` and `TLS_CA` variables for `peer`, pointing at [`files`],
/// ready for `Env::from_pairs` in configuration tests.
pub fn tls_vars(peer: &str) -> [(&'static str, &'static str); 3] {
    let (cert, key, ca) = files(peer);
    let leak =
        |path: PathBuf| -> &'static str { Box::leak(path.display().to_string().into_boxed_str()) };
    [
        ("TLS_CERT", leak(cert)),
        ("TLS_KEY", leak(key)),
        ("TLS_CA", leak(ca)),
    ]
}
