//! A fresh scratch directory per input, on tmpfs (`/dev/shm`) when there is one so the targets
//! that touch files stay fast; removed when the value drops.

use std::path::PathBuf;

pub fn dir(prefix: &str) -> tempfile::TempDir {
    let shm = PathBuf::from("/dev/shm");
    let mut builder = tempfile::Builder::new();
    builder.prefix(prefix);
    let dir = if shm.is_dir() {
        builder.tempdir_in(&shm)
    } else {
        builder.tempdir()
    };
    dir.expect("a scratch directory can be created")
}
