//! `TestServer`, the loopback HTTP server every suite shares, lives in the `testsupport` crate
//! (so `build-index`'s tests use it too); re-exported here under its old path.

pub use testsupport::server::{Respond, TestServer};
