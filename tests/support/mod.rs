//! Shared machinery of the integration tests: a misbehaving loopback HTTP server (`server`, from the
//! `testsupport` crate that `build-index`'s tests share), a
//! fixture sparse registry (`registry`), generated fixture crates (`crates`), the per-test
//! environment and command runner (`env`), and fixture release indexes built by the real
//! `build-index` (`index`), and the fixture Go module proxy and Go index (`goproxy`). No test
//! logic lives here. `stats_server` records what the stats ping sends; `tools` finds the external
//! programs some tests need (skipping, or failing under CI, when one is missing).

pub mod crates;
pub mod env;
pub mod goproxy;
pub mod index;
pub mod registry;
pub mod server;
pub mod stats_server;
pub mod tools;
