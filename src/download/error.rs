//! The download layer's error type, and how ureq's and the OS's failures map onto it.
//!
//! Every message names its subject (URL or path) and reads as one sentence; callers classify with
//! [`DownloadError::is_verification_failure`] and [`DownloadError::is_unreachable`], never by text.

use std::io;
use std::path::PathBuf;
use std::time::Duration;

/// A failure to get bytes from a [`Location`](crate::download::Location).
#[derive(Debug, thiserror::Error)]
pub enum DownloadError {
    /// HTTP 404/410, or a missing file, where the caller needs the bytes.
    #[error("`{url}` was not found")]
    NotFound { url: String },
    /// An HTTP status the download cannot use (after retries, for 5xx and 429).
    #[error("`{url}` answered HTTP {status}")]
    Status { url: String, status: u16 },
    /// The connection failed or broke (after retries, when that can be transient).
    #[error("could not reach `{url}`: {reason}")]
    Network { url: String, reason: String },
    /// Nothing arrived for longer than the configured timeout.
    #[error("`{url}` timed out: it stopped sending data for more than {}", seconds(*after))]
    Timeout { url: String, after: Duration },
    /// The server kept sending, but under the low-speed limit for a whole timeout period.
    #[error(
        "`{url}` was too slow: it sent under {min_rate} bytes/s for {}",
        seconds(*after)
    )]
    TooSlow {
        url: String,
        min_rate: u64,
        after: Duration,
    },
    /// The whole transfer took longer than its size allows.
    #[error(
        "`{url}` took longer than the {} its size allows; the transfer was abandoned",
        seconds(*after)
    )]
    Deadline { url: String, after: Duration },
    /// A small document was larger than the caller allows.
    #[error("`{url}` is larger than the {limit} bytes allowed for it")]
    TooLarge { url: String, limit: u64 },
    /// An archive's size differs from the signed index's; `actual` is `None` when the body went
    /// on past the expected size (it is not read to its end).
    #[error("{}", size_mismatch(url, *expected, *actual))]
    SizeMismatch {
        url: String,
        expected: u64,
        actual: Option<u64>,
    },
    /// An archive's sha256 differs from the signed index's.
    #[error("checksum mismatch for `{url}`: expected {expected}, got {actual}")]
    ChecksumMismatch {
        url: String,
        expected: String,
        actual: String,
    },
    /// A local source could not be read.
    #[error("could not read `{}`: {}", path.display(), plain_io(source))]
    Read { path: PathBuf, source: io::Error },
    /// The destination could not be written.
    #[error("could not write `{}`: {}", path.display(), plain_io(source))]
    Io { path: PathBuf, source: io::Error },
    /// A redirect this client does not follow: to another scheme, to plain http:// off
    /// loopback, down from https://, or with no usable `Location`.
    #[error("`{url}` redirected to `{to}`, which is refused: {why}")]
    Redirect {
        url: String,
        to: String,
        /// Boxed to keep the error (held in many `Result`s) no larger than it was.
        why: Box<str>,
    },
    /// A chain of redirects longer than the bound, or one that comes back on itself.
    #[error("`{url}` redirected {}", too_many(*hops, last))]
    TooManyRedirects {
        url: String,
        hops: u32,
        last: String,
    },
    /// HTTP 429, or a 403 that says it is a rate limit: reported at once, never waited out.
    #[error("`{url}` answered HTTP {status}: {limit}")]
    RateLimited {
        url: String,
        status: u16,
        limit: String,
    },
    /// The bytes arrived whole, but the caller's check over them (a signature) refused them.
    #[error("`{url}` was refused: {reason}")]
    Refused { url: String, reason: String },
    /// A base that is neither an `http(s)://` URL, a `file://` URL nor a path.
    #[error("`{location}` is not an http://, https:// or file:// URL, nor a directory path")]
    BadLocation { location: String },
    /// A destination file name that is not a single plain path component.
    #[error("`{name}` is not a plain file name to download to")]
    BadFileName { name: String },
}

impl DownloadError {
    /// The bytes arrived but are not the ones the signed index describes (size or checksum).
    pub fn is_verification_failure(&self) -> bool {
        matches!(
            self,
            Self::SizeMismatch { .. } | Self::ChecksumMismatch { .. } | Self::Refused { .. }
        )
    }

    /// The host is down or unreachable: network failure, timeout, or a 5xx answer.
    pub fn is_unreachable(&self) -> bool {
        match self {
            Self::Network { .. }
            | Self::Timeout { .. }
            | Self::TooSlow { .. }
            | Self::Deadline { .. }
            | Self::RateLimited { .. } => true,
            Self::Status { status, .. } => *status >= 500,
            _ => false,
        }
    }
}

/// A failed attempt, and whether trying again from scratch may succeed.
pub(super) struct Failure {
    pub(super) error: DownloadError,
    pub(super) transient: bool,
}

impl Failure {
    pub(super) fn fatal(error: DownloadError) -> Self {
        Self {
            error,
            transient: false,
        }
    }
}

impl From<DownloadError> for Failure {
    fn from(error: DownloadError) -> Self {
        Self::fatal(error)
    }
}

/// Classifies a status that is not a success: 5xx is worth retrying (overload, a restarting
/// server, a CDN hiccup); a rate limit (429, or a 403 whose headers say so) is reported at once
/// with what the headers tell of it, since waiting it out can take an hour (GitHub's
/// unauthenticated limit) and the next source is better; any other 4xx will answer the same
/// again.
pub(super) fn status_failure(url: &str, status: u16, headers: &ureq::http::HeaderMap) -> Failure {
    if let Some(limit) = rate_limit(status, headers, std::time::SystemTime::now()) {
        return Failure::fatal(DownloadError::RateLimited {
            url: url.to_owned(),
            status,
            limit,
        });
    }
    Failure {
        error: DownloadError::Status {
            url: url.to_owned(),
            status,
        },
        transient: status >= 500,
    }
}

/// When the answer is a rate limit, what its headers say of it: GitHub's `x-ratelimit-limit`,
/// `-remaining`, `-reset` (epoch seconds) and `-resource`, and `retry-after` (seconds or an
/// HTTP date, RFC 9110 §10.2.3). 429 is always one; 403 only with those headers, as GitHub
/// sends its primary limit (a plain 403 is a refusal, not a limit).
fn rate_limit(
    status: u16,
    headers: &ureq::http::HeaderMap,
    now: std::time::SystemTime,
) -> Option<String> {
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::trim)
            .filter(|v| !v.is_empty())
    };
    let remaining = header("x-ratelimit-remaining");
    let retry_after = header("retry-after");
    let limited =
        status == 429 || (status == 403 && (remaining == Some("0") || retry_after.is_some()));
    if !limited {
        return None;
    }
    let mut parts = Vec::new();
    if let Some(remaining) = remaining {
        let of = header("x-ratelimit-limit").map_or(String::new(), |l| format!(" of {l}"));
        let resource = header("x-ratelimit-resource").map_or(String::new(), |r| format!(" ({r})"));
        parts.push(format!("{remaining}{of} requests left{resource}"));
    }
    if let Some(reset) = header("x-ratelimit-reset").and_then(|r| r.parse::<u64>().ok()) {
        let now = now
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        parts.push(format!("resets in {} s", reset.saturating_sub(now)));
    }
    if let Some(after) = retry_after {
        parts.push(match after.parse::<u64>() {
            Ok(seconds) => format!("retry after {seconds} s"),
            Err(_) => format!("retry after {after}"),
        });
    }
    let said = if parts.is_empty() {
        String::new()
    } else {
        format!(" ({})", parts.join(", "))
    };
    Some(format!("a rate limit{said}; not waited out"))
}

/// Maps a ureq error (from sending the request or reading the body) to ours.
pub(super) fn transport_failure(url: &str, error: ureq::Error, timeout: Duration) -> Failure {
    let url = url.to_owned();
    match error {
        ureq::Error::Timeout(_) => Failure {
            error: DownloadError::Timeout {
                url,
                after: timeout,
            },
            transient: true,
        },
        ureq::Error::Io(e) if e.kind() == io::ErrorKind::TimedOut => Failure {
            error: DownloadError::Timeout {
                url,
                after: timeout,
            },
            transient: true,
        },
        other => {
            let transient = match &other {
                // A flaky resolver or a server restarting behind its address.
                ureq::Error::HostNotFound | ureq::Error::ConnectionFailed => true,
                ureq::Error::Io(e) => is_transient_io(e),
                _ => false,
            };
            Failure {
                error: DownloadError::Network {
                    url,
                    reason: network_reason(&other),
                },
                transient,
            }
        }
    }
}

/// A body read error: ureq hands its own errors back wrapped in `io::Error`; unwrap them so a
/// per-read timeout is reported as a timeout.
pub(super) fn body_failure(url: &str, error: io::Error, timeout: Duration) -> Failure {
    // The pace check's own verdicts come first: they are ours, not ureq's.
    if let Some(pace) = error.get_ref().and_then(|e| e.downcast_ref::<Pace>()) {
        let error = match *pace {
            Pace::TooSlow { min_rate, after } => DownloadError::TooSlow {
                url: url.to_owned(),
                min_rate,
                after,
            },
            Pace::Deadline { after } => DownloadError::Deadline {
                url: url.to_owned(),
                after,
            },
        };
        // A slow path or a congested mirror may do better on a fresh connection.
        return Failure {
            error,
            transient: true,
        };
    }
    transport_failure(url, ureq::Error::from(error), timeout)
}

/// Why [`crate::download::pace::Paced`] gave up on a body, carried inside an `io::Error`.
#[derive(Debug, Clone, Copy, thiserror::Error)]
pub(super) enum Pace {
    #[error("under {min_rate} bytes/s for {after:?}")]
    TooSlow { min_rate: u64, after: Duration },
    #[error("longer than {after:?}")]
    Deadline { after: Duration },
}

fn is_transient_io(e: &io::Error) -> bool {
    use io::ErrorKind as K;
    matches!(
        e.kind(),
        K::ConnectionRefused
            | K::ConnectionReset
            | K::ConnectionAborted
            | K::NotConnected
            | K::BrokenPipe
            | K::UnexpectedEof
            | K::TimedOut
            | K::WouldBlock
            | K::Interrupted
    )
}

/// A plain reason for a transport failure, without Debug output or OS error codes.
fn network_reason(error: &ureq::Error) -> String {
    if let Some(why) = refused_certificate(error) {
        return format!(
            "its TLS certificate was refused ({why}); a proxy or mirror that signs with its own certificate authority needs that CA's PEM in `SSL_CERT_FILE` (or in cargo's `http.cainfo`)"
        );
    }
    match error {
        ureq::Error::HostNotFound => "the host name could not be resolved".to_owned(),
        ureq::Error::ConnectionFailed => "the connection failed".to_owned(),
        ureq::Error::TooManyRedirects => "too many redirects".to_owned(),
        ureq::Error::Io(e) => match e.kind() {
            io::ErrorKind::ConnectionRefused => "connection refused".to_owned(),
            io::ErrorKind::ConnectionReset => "the connection was reset".to_owned(),
            io::ErrorKind::UnexpectedEof => {
                "the connection closed before the whole response arrived".to_owned()
            }
            _ => plain_io(e),
        },
        other => other.to_string(),
    }
}

/// Why the server's certificate was refused, when that is the failure. ureq hands rustls's
/// handshake errors back either as they are or inside an `io::Error`.
fn refused_certificate(error: &ureq::Error) -> Option<&rustls::CertificateError> {
    let tls = match error {
        ureq::Error::Rustls(tls) => tls,
        ureq::Error::Io(e) => e.get_ref()?.downcast_ref::<rustls::Error>()?,
        _ => return None,
    };
    match tls {
        rustls::Error::InvalidCertificate(why) => Some(why),
        _ => None,
    }
}

/// An io error's message without the ` (os error N)` suffix users cannot act on.
pub(super) fn plain_io(error: &io::Error) -> String {
    let text = error.to_string();
    match text.find(" (os error ") {
        Some(at) => text.get(..at).unwrap_or(&text).to_owned(),
        None => text,
    }
}

fn seconds(duration: Duration) -> String {
    if duration.subsec_millis() == 0 {
        format!("{} s", duration.as_secs())
    } else {
        format!("{:.1} s", duration.as_secs_f64())
    }
}

fn too_many(hops: u32, last: &str) -> String {
    if hops == 0 {
        format!("in a loop, back to `{last}`")
    } else {
        format!("more than {hops} times (the last hop to `{last}`); not followed further")
    }
}

fn size_mismatch(url: &str, expected: u64, actual: Option<u64>) -> String {
    match actual {
        Some(actual) => {
            format!(
                "size mismatch for `{url}`: it sent {actual} bytes where the signed index says {expected}"
            )
        }
        None => format!(
            "size mismatch for `{url}`: it sent more than the {expected} bytes the signed index says"
        ),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // tests fail loudly by unwrapping
mod tests {
    use super::*;

    #[test]
    fn messages_name_their_subject_in_one_sentence() {
        let url = "https://h/a.tar.gz".to_owned();
        let cases = [
            (
                DownloadError::Status {
                    url: url.clone(),
                    status: 500,
                },
                "`https://h/a.tar.gz` answered HTTP 500",
            ),
            (
                DownloadError::SizeMismatch {
                    url: url.clone(),
                    expected: 10,
                    actual: Some(7),
                },
                "size mismatch for `https://h/a.tar.gz`: it sent 7 bytes where the signed index says 10",
            ),
            (
                DownloadError::SizeMismatch {
                    url: url.clone(),
                    expected: 10,
                    actual: None,
                },
                "size mismatch for `https://h/a.tar.gz`: it sent more than the 10 bytes the signed index says",
            ),
            (
                DownloadError::Timeout {
                    url,
                    after: Duration::from_secs(15),
                },
                "`https://h/a.tar.gz` timed out: it stopped sending data for more than 15 s",
            ),
            (
                DownloadError::Io {
                    path: PathBuf::from("/d/x"),
                    source: io::Error::from_raw_os_error(28),
                },
                "could not write `/d/x`: No space left on device",
            ),
        ];
        for (error, text) in cases {
            assert_eq!(error.to_string(), text);
        }
    }

    #[test]
    fn classifies_verification_and_unreachable() {
        let url = String::new();
        let status = |status| DownloadError::Status {
            url: url.clone(),
            status,
        };
        assert!(status(503).is_unreachable());
        assert!(!status(403).is_unreachable());
        assert!(
            DownloadError::ChecksumMismatch {
                url: url.clone(),
                expected: String::new(),
                actual: String::new(),
            }
            .is_verification_failure()
        );
        assert!(!status(500).is_verification_failure());
    }

    #[test]
    fn retries_server_errors_only() {
        let none = ureq::http::HeaderMap::new();
        assert!(status_failure("u", 500, &none).transient);
        assert!(!status_failure("u", 429, &none).transient);
        assert!(!status_failure("u", 403, &none).transient);
    }

    #[test]
    fn rate_limits_are_named_from_their_headers() {
        let headers = |pairs: &[(&'static str, &'static str)]| {
            let mut map = ureq::http::HeaderMap::new();
            for (k, v) in pairs {
                map.insert(*k, ureq::http::HeaderValue::from_static(v));
            }
            map
        };
        let now = std::time::UNIX_EPOCH + Duration::from_secs(1_000);
        let github = headers(&[
            ("x-ratelimit-limit", "60"),
            ("x-ratelimit-remaining", "0"),
            ("x-ratelimit-reset", "4600"),
            ("x-ratelimit-resource", "core"),
        ]);
        assert_eq!(
            rate_limit(403, &github, now).unwrap(),
            "a rate limit (0 of 60 requests left (core), resets in 3600 s); not waited out"
        );
        assert_eq!(
            rate_limit(429, &headers(&[("retry-after", "60")]), now).unwrap(),
            "a rate limit (retry after 60 s); not waited out"
        );
        assert!(rate_limit(429, &headers(&[]), now).is_some());
        assert!(rate_limit(403, &headers(&[]), now).is_none());
        assert!(rate_limit(403, &headers(&[("x-ratelimit-remaining", "12")]), now).is_none());
        let error = status_failure("https://h/x", 429, &headers(&[("retry-after", "60")])).error;
        assert_eq!(
            error.to_string(),
            "`https://h/x` answered HTTP 429: a rate limit (retry after 60 s); not waited out"
        );
        assert!(error.is_unreachable() && !error.is_verification_failure());
    }
}
