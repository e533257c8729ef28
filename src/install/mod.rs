//! Installing staged binaries and recording them the way cargo does.

pub mod cargo_tracker;
