//! (temporary stub until the go_bin helper's version lands)
use std::path::PathBuf;

use crate::env::Env;

#[derive(Debug, thiserror::Error)]
#[error("could not find the Go bin directory")]
pub struct GoBinError;

pub fn go_bin_dir(env: &Env) -> Result<PathBuf, GoBinError> {
    if let Some(dir) = env.get("GOBIN") {
        return Ok(PathBuf::from(dir));
    }
    home::env::home_dir_with_env(env)
        .map(|h| h.join("go/bin"))
        .ok_or(GoBinError)
}

pub struct Listed {
    pub name: String,
    pub path: PathBuf,
    pub info: Option<crate::gobuildinfo::BuildInfo>,
}

pub fn list(_bin_dir: &std::path::Path) -> Result<Vec<Listed>, GoBinError> {
    Ok(Vec::new())
}
