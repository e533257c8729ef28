//! The ecosystems the driver ([`crate::ops::driver`]) installs for, one module each: how a
//! request resolves to a name and exact version, which sources apply, where binaries go, how an
//! install is recorded and detected, and what builds from source when nothing prebuilt fits.

pub mod crates;
pub mod go;
