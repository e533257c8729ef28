//! (temporary stub until the goproxy helper's version lands)
use crate::download::Fetcher;
use crate::env::Env;

#[derive(Debug, Clone)]
pub struct GoEnv;

#[derive(Debug, thiserror::Error)]
#[error("bad GOPROXY")]
pub struct GoProxyError;

#[derive(Debug, Clone)]
pub struct Resolved {
    pub module: String,
    pub version: String,
    pub package: String,
    pub proxy: String,
}

#[derive(Debug, thiserror::Error)]
pub enum GoResolveError {
    #[error("no proxy")]
    NoProxy { goproxy: String },
}

impl GoEnv {
    pub fn from_env(_env: &Env) -> Result<Self, GoProxyError> {
        Ok(Self)
    }
    pub fn is_private(&self, _path: &str) -> bool {
        false
    }
}

pub fn resolve(
    _fetcher: &Fetcher,
    _env: &GoEnv,
    _package: &str,
    _query: &str,
) -> Result<Resolved, GoResolveError> {
    Err(GoResolveError::NoProxy {
        goproxy: String::new(),
    })
}
