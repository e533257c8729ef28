//! HTTP/1.1 framing for the stats service: read one request (head and a bounded body), write
//! one response. Std only, no routing and no knowledge of pings (see `mod.rs`).
//!
//! Only `Content-Length` bodies up to [`MAX_BODY`] bytes are read;
//! a larger declared length is refused before its body is read, and chunked bodies are refused,
//! which keeps a hostile client from making the server buffer more than a few KiB.

use std::io::{self, BufRead, Read, Write};

use super::validate::MAX_BODY;

/// Longest request line or header line accepted.
const MAX_LINE: u64 = 8 * 1024;
/// Most header lines accepted in one request.
const MAX_HEADERS: usize = 100;

/// A parsed request.
#[derive(Debug, PartialEq, Eq)]
pub struct Request {
    pub method: String,
    /// The path, without the query.
    pub path: String,
    /// The text after `?`, empty when there is none.
    pub query: String,
    pub keep_alive: bool,
    /// The media type of `Content-Type` without parameters, lower-cased.
    pub content_type: Option<String>,
    pub body: Vec<u8>,
}

/// A request that cannot be served; the connection is closed after the answer because its
/// framing can no longer be trusted.
#[derive(Debug, PartialEq, Eq)]
pub struct Refusal {
    pub status: u16,
    pub reason: &'static str,
}

const fn refuse(status: u16, reason: &'static str) -> Refusal {
    Refusal { status, reason }
}

/// Reads one request. `None` at a clean end of stream (or an idle timeout).
pub fn read_request(reader: &mut impl BufRead) -> io::Result<Option<Result<Request, Refusal>>> {
    let line = match read_line(reader) {
        Ok(None) => return Ok(None),
        // An idle keep-alive connection timing out is a normal end.
        Err(e) if is_timeout(&e) => return Ok(None),
        Err(e) => return Err(e),
        Ok(Some(line)) => line,
    };
    let Some(line) = line else {
        return Ok(Some(Err(refuse(400, "the request line is malformed"))));
    };
    let mut parts = line.split(' ');
    let (Some(method), Some(target), Some(version), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Ok(Some(Err(refuse(400, "the request line is malformed"))));
    };
    let mut keep_alive = match version {
        "HTTP/1.1" => true,
        "HTTP/1.0" => false,
        _ => {
            return Ok(Some(Err(refuse(
                400,
                "only HTTP/1.1 and HTTP/1.0 are spoken",
            ))));
        }
    };
    let Some(rest) = target.strip_prefix('/') else {
        return Ok(Some(Err(refuse(400, "the request target is not a path"))));
    };
    let (path, query) = rest.split_once('?').unwrap_or((rest, ""));
    let mut content_length: Option<usize> = None;
    let mut content_type = None;
    for _ in 0..=MAX_HEADERS {
        let Some(Some(header)) = read_line(reader)? else {
            return Ok(Some(Err(refuse(400, "a header line is malformed"))));
        };
        if header.is_empty() {
            let length = content_length.unwrap_or(0);
            if length > MAX_BODY {
                return Ok(Some(Err(refuse(413, "the body is larger than 1024 bytes"))));
            }
            let mut body = vec![0; length];
            reader.read_exact(&mut body)?;
            return Ok(Some(Ok(Request {
                method: method.to_owned(),
                path: format!("/{path}"),
                query: query.to_owned(),
                keep_alive,
                content_type,
                body,
            })));
        }
        let Some((name, value)) = header.split_once(':') else {
            return Ok(Some(Err(refuse(400, "a header line is malformed"))));
        };
        let value = value.trim();
        match name.trim().to_ascii_lowercase().as_str() {
            "connection" if value.eq_ignore_ascii_case("close") => keep_alive = false,
            "connection" if value.eq_ignore_ascii_case("keep-alive") => keep_alive = true,
            "content-length" => {
                // Two different lengths are a request-smuggling sign; refuse them.
                let Ok(n) = value.parse::<usize>() else {
                    return Ok(Some(Err(refuse(400, "Content-Length is not a number"))));
                };
                if content_length.is_some_and(|old| old != n) {
                    return Ok(Some(Err(refuse(400, "Content-Length is given twice"))));
                }
                content_length = Some(n);
            }
            "transfer-encoding" => {
                return Ok(Some(Err(refuse(
                    411,
                    "chunked bodies are not accepted; send Content-Length",
                ))));
            }
            "content-type" => {
                let media = value.split(';').next().unwrap_or("").trim();
                content_type = Some(media.to_ascii_lowercase());
            }
            _ => {}
        }
    }
    Ok(Some(Err(refuse(400, "too many header lines"))))
}

fn is_timeout(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
    )
}

/// One CRLF- (or LF-) terminated line. `None` at end of stream before any byte;
/// `Some(None)` for an over-long, non-UTF-8 or unterminated line.
fn read_line<R: BufRead>(reader: &mut R) -> io::Result<Option<Option<String>>> {
    let mut buf = Vec::new();
    let n = Read::take(&mut *reader, MAX_LINE).read_until(b'\n', &mut buf)?;
    if n == 0 {
        return Ok(None);
    }
    if buf.last() != Some(&b'\n') {
        return Ok(Some(None));
    }
    buf.pop();
    if buf.last() == Some(&b'\r') {
        buf.pop();
    }
    Ok(Some(String::from_utf8(buf).ok()))
}

/// A response ready to send.
#[derive(Debug, PartialEq, Eq)]
pub struct Response {
    pub status: u16,
    pub content_type: &'static str,
    pub body: Vec<u8>,
    /// Extra header lines, each ending in CRLF (e.g. `Allow: POST\r\n`).
    pub extra: &'static str,
}

impl Response {
    pub fn empty(status: u16) -> Self {
        Self {
            status,
            content_type: "",
            body: Vec::new(),
            extra: "",
        }
    }

    /// A one-line plain-text reason.
    pub fn text(status: u16, reason: &str) -> Self {
        Self {
            status,
            content_type: "text/plain; charset=utf-8",
            body: format!("{reason}\n").into_bytes(),
            extra: "",
        }
    }

    pub fn json(body: Vec<u8>) -> Self {
        Self {
            status: 200,
            content_type: "application/json",
            body,
            extra: "",
        }
    }
}

/// Writes `response` with one `write_all` (head and body together: one packet, no Nagle wait).
pub fn write_response(w: &mut impl Write, response: &Response, keep: bool) -> io::Result<()> {
    let mut out = format!(
        "HTTP/1.1 {} {}\r\n{}Content-Length: {}\r\n{}{}\r\n",
        response.status,
        reason_phrase(response.status),
        if response.content_type.is_empty() {
            String::new()
        } else {
            format!("Content-Type: {}\r\n", response.content_type)
        },
        response.body.len(),
        response.extra,
        if keep { "" } else { "Connection: close\r\n" },
    )
    .into_bytes();
    out.extend_from_slice(&response.body);
    w.write_all(&out)?;
    w.flush()
}

fn reason_phrase(status: u16) -> &'static str {
    match status {
        200 => "OK",
        204 => "No Content",
        400 => "Bad Request",
        404 => "Not Found",
        405 => "Method Not Allowed",
        411 => "Length Required",
        413 => "Content Too Large",
        415 => "Unsupported Media Type",
        429 => "Too Many Requests",
        503 => "Service Unavailable",
        _ => "Internal Server Error",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(raw: &str) -> Option<Result<Request, Refusal>> {
        read_request(&mut raw.as_bytes()).unwrap()
    }

    #[test]
    fn reads_a_post_with_its_body_and_a_get_with_a_query() {
        let r = read(
            "POST /record-install HTTP/1.1\r\nContent-Type: Application/JSON; charset=utf-8\r\nContent-Length: 2\r\n\r\n{}",
        )
        .unwrap()
        .unwrap();
        assert_eq!(r.path, "/record-install");
        assert_eq!(r.content_type.as_deref(), Some("application/json"));
        assert_eq!(r.body, b"{}");
        assert!(r.keep_alive);
        let r = read("GET /counts?since=2026-01-01 HTTP/1.0\r\n\r\n")
            .unwrap()
            .unwrap();
        assert_eq!(
            (r.path.as_str(), r.query.as_str()),
            ("/counts", "since=2026-01-01")
        );
        assert!(!r.keep_alive);
        assert!(read("").is_none());
    }

    #[test]
    fn refuses_large_chunked_and_malformed_requests() {
        let status = |raw: &str| read(raw).unwrap().unwrap_err().status;
        assert_eq!(
            status("POST / HTTP/1.1\r\nContent-Length: 1025\r\n\r\n"),
            413
        );
        assert_eq!(
            status("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"),
            411
        );
        assert_eq!(status("POST / HTTP/1.1\r\nContent-Length: x\r\n\r\n"), 400);
        assert_eq!(
            status("POST / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n"),
            400
        );
        assert_eq!(status("garbage\r\n\r\n"), 400);
        assert_eq!(status("GET x HTTP/1.1\r\n\r\n"), 400);
        assert_eq!(status("GET / HTTP/2\r\n\r\n"), 400);
        assert_eq!(status("GET / HTTP/1.1\r\nno colon\r\n\r\n"), 400);
    }

    #[test]
    fn writes_head_and_body_together() {
        let mut out = Vec::new();
        write_response(&mut out, &Response::text(400, "bad name"), false).unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: 9\r\nConnection: close\r\n\r\nbad name\n"
        );
    }
}
