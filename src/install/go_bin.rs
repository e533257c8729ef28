//! (placeholder: where Go binaries go, being written)
