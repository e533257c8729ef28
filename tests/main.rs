//! Integration tests: they drive the real binaries against loopback servers.
