//! An HTTPS front for a loopback test server: TLS on `127.0.0.1`, with a certificate for
//! `localhost` and `127.0.0.1` issued by a certificate authority made for the test, each
//! decrypted connection forwarded byte for byte to a plain-HTTP server. The clients under test
//! then make real TLS handshakes and verify a real chain, against a CA that only the test's
//! `SSL_CERT_FILE` lists.

use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::thread;
use std::time::Duration;

use rcgen::{BasicConstraints, CertificateParams, IsCa, Issuer, KeyPair, SanType};
use rustls::ServerConnection;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};

/// A test certificate authority: its certificate, to list in a trust store, and the issuer
/// that signs server certificates.
pub struct TestCa {
    pem: String,
    issuer: Issuer<'static, KeyPair>,
}

impl TestCa {
    pub fn new(name: &str) -> Self {
        let mut params = CertificateParams::new(Vec::<String>::new()).expect("CA parameters");
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, name);
        let key = KeyPair::generate().expect("a CA key");
        let cert = params
            .self_signed(&key)
            .expect("a self-signed CA certificate");
        Self {
            pem: cert.pem(),
            issuer: Issuer::new(params, key),
        }
    }

    /// The CA's certificate, PEM: the content of a trust store that trusts only it.
    pub fn pem(&self) -> &str {
        &self.pem
    }

    /// A server certificate for `localhost` and `127.0.0.1`, and its key.
    fn server_identity(&self) -> (CertificateDer<'static>, PrivateKeyDer<'static>) {
        let mut params = CertificateParams::new(vec!["localhost".to_owned()]).expect("names");
        params
            .subject_alt_names
            .push(SanType::IpAddress([127, 0, 0, 1].into()));
        let key = KeyPair::generate().expect("a server key");
        let cert = params
            .signed_by(&key, &self.issuer)
            .expect("a server certificate");
        let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der()));
        (cert.der().clone(), key)
    }
}

/// HTTPS on a loopback port in front of a plain-HTTP server; stops accepting when dropped.
pub struct TlsFront {
    addr: SocketAddr,
    stop: Arc<AtomicBool>,
    handshakes: Arc<AtomicUsize>,
}

impl TlsFront {
    /// Serves TLS with a certificate from `ca`, forwarding to `upstream`.
    pub fn start(ca: &TestCa, upstream: SocketAddr) -> Self {
        let (cert, key) = ca.server_identity();
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .expect("TLS versions")
            .with_no_client_auth()
            .with_single_cert(vec![cert], key)
            .expect("a server certificate and its key");
        let config = Arc::new(config);
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind a loopback port");
        let addr = listener.local_addr().expect("the bound address");
        let stop = Arc::new(AtomicBool::new(false));
        let handshakes = Arc::new(AtomicUsize::new(0));
        let (stopped, counted) = (Arc::clone(&stop), Arc::clone(&handshakes));
        thread::spawn(move || {
            for stream in listener.incoming() {
                if stopped.load(Ordering::SeqCst) {
                    return;
                }
                let Ok(stream) = stream else { continue };
                let config = Arc::clone(&config);
                let counted = Arc::clone(&counted);
                thread::spawn(move || {
                    // A failed connection concerns only its client.
                    let _ = forward(stream, upstream, config, &counted);
                });
            }
        });
        Self {
            addr,
            stop,
            handshakes,
        }
    }

    /// `https://localhost:<port>/`.
    pub fn url(&self) -> String {
        format!("https://localhost:{}/", self.addr.port())
    }

    /// TLS handshakes completed so far.
    pub fn handshakes(&self) -> usize {
        self.handshakes.load(Ordering::SeqCst)
    }
}

impl Drop for TlsFront {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wakes the accept loop so it sees `stop`.
        let _ = TcpStream::connect(self.addr);
    }
}

/// One connection: TLS with the client, plain bytes with `upstream`, in both directions until
/// either side closes. Both sockets are polled without blocking, so neither direction waits
/// on the other.
fn forward(
    client: TcpStream,
    upstream: SocketAddr,
    config: Arc<rustls::ServerConfig>,
    handshakes: &AtomicUsize,
) -> io::Result<()> {
    let mut tls = ServerConnection::new(config).map_err(io::Error::other)?;
    let mut client = client;
    let mut server = TcpStream::connect(upstream)?;
    client.set_nonblocking(true)?;
    server.set_nonblocking(true)?;
    let mut handshaking = true;
    let mut buf = vec![0u8; 16 * 1024];
    let result = loop {
        let mut moved = false;
        match tls.read_tls(&mut client) {
            Ok(0) => break Ok(()),
            Ok(_) => {
                tls.process_new_packets().map_err(io::Error::other)?;
                moved = true;
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
            Err(e) => break Err(e),
        }
        if handshaking && !tls.is_handshaking() {
            handshaking = false;
            handshakes.fetch_add(1, Ordering::SeqCst);
        }
        loop {
            match tls.reader().read(&mut buf) {
                Ok(0) => return Ok(()),
                Ok(n) => {
                    write_all_polling(&mut server, &buf[..n])?;
                    moved = true;
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) => return Err(e),
            }
        }
        match server.read(&mut buf) {
            Ok(0) => {
                tls.send_close_notify();
                flush_tls(&mut tls, &mut client)?;
                break Ok(());
            }
            Ok(n) => {
                tls.writer().write_all(&buf[..n])?;
                moved = true;
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
            Err(e) => break Err(e),
        }
        moved |= flush_tls(&mut tls, &mut client)?;
        if !moved {
            thread::sleep(Duration::from_millis(1));
        }
    };
    let _ = server.shutdown(Shutdown::Both);
    result
}

/// Sends what TLS has queued for the client; whether anything was sent.
fn flush_tls(tls: &mut ServerConnection, client: &mut TcpStream) -> io::Result<bool> {
    let mut sent = false;
    while tls.wants_write() {
        match tls.write_tls(client) {
            Ok(_) => sent = true,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                thread::sleep(Duration::from_millis(1));
            }
            Err(e) => return Err(e),
        }
    }
    Ok(sent)
}

fn write_all_polling(stream: &mut TcpStream, mut bytes: &[u8]) -> io::Result<()> {
    while !bytes.is_empty() {
        match stream.write(bytes) {
            Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
            Ok(n) => bytes = &bytes[n..],
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                thread::sleep(Duration::from_millis(1));
            }
            Err(e) => return Err(e),
        }
    }
    Ok(())
}
