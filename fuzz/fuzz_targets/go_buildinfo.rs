//! The Go build-info reader (`src/gobuildinfo.rs`): any bytes as a binary, read from memory and
//! from a file (two sources, one parser), which must agree.

#![no_main]

#[path = "scratch.rs"]
mod scratch;

use std::fs;
use std::mem::discriminant;

use libfuzzer_sys::fuzz_target;
use quickinstall::gobuildinfo::{parse_build_info, read_build_info};

fuzz_target!(|data: &[u8]| {
    let from_memory = parse_build_info(data);
    let dir = scratch::dir("qi-fuzz-goinfo-");
    let file = dir.path().join("tool");
    fs::write(&file, data).expect("the scratch binary can be written");
    let from_file = read_build_info(&file);
    match (&from_memory, &from_file) {
        (Ok(a), Ok(b)) => assert_eq!(a, b, "memory and file readers agree"),
        (Err(a), Err(b)) => assert_eq!(discriminant(a), discriminant(b), "{a} vs {b}"),
        _ => panic!("memory and file readers disagree: {from_memory:?} vs {from_file:?}"),
    }
    if let Ok(Some(info)) = from_memory {
        let _ = info.from_index_recipe();
        let _ = info.setting("-ldflags");
    }
});
