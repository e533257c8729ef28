//! `build-index`: builds, packages, signs, publishes and serves the quickinstall release index.
//! Everything lives in the library; see its crate documentation for the map.

fn main() -> std::process::ExitCode {
    build_index::main()
}
