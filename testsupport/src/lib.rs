//! What the test suites of both workspace crates share, depending on neither:
//! [`server`], the one loopback HTTP/1.1 server (files from a directory or answers from a
//! script, a request log with bodies, per-path misbehaviour, latency); [`child`], a server
//! binary started as a child that prints its URL; [`client`], raw one-shot requests for the
//! tests that must see exactly what a server sends; [`tls`], an HTTPS front for a server, with a
//! certificate authority made for the test.
//!
//! Not for production code (`publish = false`): it is a dev-dependency only.

pub mod child;
pub mod client;
pub mod server;
pub mod tls;
