//! (temporary stub until the gobin helper's version lands)
use std::path::Path;

#[derive(Debug, Clone)]
pub struct BuildInfo {
    pub go_version: String,
    pub path: String,
    pub module: String,
    pub version: String,
    pub settings: Vec<(String, String)>,
}

#[derive(Debug, thiserror::Error)]
#[error("bad build info")]
pub struct BuildInfoError;

pub fn read_build_info(_path: &Path) -> Result<Option<BuildInfo>, BuildInfoError> {
    Ok(None)
}

impl BuildInfo {
    pub fn from_index_recipe(&self) -> bool {
        false
    }
}
