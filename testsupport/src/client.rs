//! Raw one-shot HTTP/1.1 requests over a fresh connection, for tests that must control every
//! byte sent (malformed requests, exact headers) or see exactly what comes back. Each request is
//! sent as given; the connection is read to its end, so send `Connection: close`.

use std::io::{Read, Write};
use std::net::TcpStream;

/// Sends `raw` to `addr` (`127.0.0.1:PORT`) and returns the status and the body (lossy UTF-8).
/// Panics, failing the test, when the answer is not an HTTP response.
pub fn exchange(addr: &str, raw: &[u8]) -> (u16, String) {
    let mut stream = TcpStream::connect(addr).unwrap_or_else(|e| panic!("connect to {addr}: {e}"));
    stream
        .write_all(raw)
        .unwrap_or_else(|e| panic!("send to {addr}: {e}"));
    let mut out = Vec::new();
    stream
        .read_to_end(&mut out)
        .unwrap_or_else(|e| panic!("read from {addr}: {e}"));
    let out = String::from_utf8_lossy(&out).into_owned();
    let status = out
        .get(9..12)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("not an HTTP response from {addr}: {out:?}"));
    let body = out
        .split_once("\r\n\r\n")
        .map(|(_, body)| body.to_owned())
        .unwrap_or_default();
    (status, body)
}

/// `GET target` with `Connection: close`.
pub fn get(addr: &str, target: &str) -> (u16, String) {
    exchange(
        addr,
        format!("GET {target} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").as_bytes(),
    )
}

/// `POST target` of a JSON `body` with `Connection: close`.
pub fn post_json(addr: &str, target: &str, body: &str) -> (u16, String) {
    let raw = format!(
        "POST {target} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    exchange(addr, raw.as_bytes())
}
