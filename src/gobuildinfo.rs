//! (placeholder: reading the build info Go embeds in binaries, being written)
