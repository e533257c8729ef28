//! The release index: the signed, static files that `build-index` writes and the clients read.
//!
//! [`format`](mod@format) is the package file (parse, validate, serialise; pure), [`path`] maps a package
//! name to its file inside the index, [`signature`] checks (and describes) the detached minisign
//! signature whose trusted [`comment`] binds a file to its path, time and expiry,
//! [`delegation`] the offline root's grant to a signing key that travels with it, and [`bundle`]
//! the one-response layout that carries both with the file; [`key_id`] names keys as minisign
//! does. Fetching lives in
//! [`fetch`]; nothing here touches the install directory.

pub mod bundle;
pub mod comment;
pub mod delegation;
pub mod fetch;
pub mod format;
pub mod key_id;
pub mod path;
pub mod seen;
pub mod signature;
