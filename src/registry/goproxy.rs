//! (placeholder: the Go module proxy client, being written)
