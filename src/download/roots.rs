//! The certificates HTTPS connections trust when cargo's `http.cainfo` names none: the
//! system's, read once per process.
//!
//! ureq builds an agent's TLS settings on its first HTTPS connection, and every connection that
//! starts before that is done builds them too (ureq's own comment calls this init "racey"). With
//! the platform verifier, each build reads the whole system store again: on Linux that is every
//! file in `/etc/ssl/certs`, about 4 ms here. A run of ten crates opens twenty connections at once,
//! so it read the store up to twenty times, on two cores, before its handshakes could go on.
//! Handing ureq the certificates themselves, read once, leaves each build the fraction of a
//! millisecond it takes to index (and hash) them. The read now comes before the first
//! connection's name lookup rather than after its TCP connect: the same wait, in another place.
//!
//! On Linux and the BSDs the platform verifier is webpki over exactly these certificates
//! (`rustls-native-certs`, honouring `SSL_CERT_FILE` and `SSL_CERT_DIR`), so trust is unchanged.
//! On macOS and Windows it asks the operating system, which reads nothing up front: kept as is.

use std::sync::OnceLock;

use ureq::tls::RootCerts;

static SYSTEM: OnceLock<RootCerts> = OnceLock::new();

/// The roots a connection to `url` trusts when cargo's `http.cainfo` names none: the system's
/// for `https://`; for plain `http://` the platform verifier, which reads the system's store
/// itself when (and only if) TLS is used after all (an `https://` proxy).
pub fn for_url(url: &str) -> RootCerts {
    if crate::download::redirect::has_scheme(url, "https") {
        system()
    } else {
        RootCerts::PlatformVerifier
    }
}

/// The system's roots as ureq takes them. The first call reads them (callers that come
/// meanwhile wait for that read rather than making their own); later calls share them.
pub fn system() -> RootCerts {
    SYSTEM.get_or_init(read).clone()
}

#[cfg(all(
    unix,
    not(target_vendor = "apple"),
    not(target_os = "android"),
    not(target_arch = "wasm32")
))]
fn read() -> RootCerts {
    let found = rustls_native_certs::load_native_certs();
    let certs: Vec<_> = found
        .certs
        .iter()
        .map(|der| ureq::tls::Certificate::from_der(der.as_ref()).to_owned())
        .collect();
    if certs.is_empty() {
        // The platform verifier then fails each handshake with its own sentence ("No CA
        // certificates were loaded from the system"), as before.
        RootCerts::PlatformVerifier
    } else {
        RootCerts::Specific(std::sync::Arc::new(certs))
    }
}

#[cfg(not(all(
    unix,
    not(target_vendor = "apple"),
    not(target_os = "android"),
    not(target_arch = "wasm32")
)))]
fn read() -> RootCerts {
    RootCerts::PlatformVerifier
}
