//! The HTTP edges of the stats service on hyper: answers as values, a request body read under a
//! size limit and a deadline, and the client address a request counts against. No routing and
//! no knowledge of pings (see `mod.rs`); no sockets (see `conn`).
//!
//! hyper does the framing (request line, headers, `Content-Length`, keep-alive) and answers 400
//! to what it cannot parse. On top of it only `Content-Length` bodies up to [`MAX_BODY`] bytes
//! are read: a larger declared length is refused before any of its body is read, a chunked
//! body is refused, so a hostile client can make the server buffer no more than a few KiB per
//! connection.

use std::net::IpAddr;
use std::time::Duration;

use http_body_util::{BodyExt, Full, Limited};
use hyper::body::{Bytes, Incoming};
use hyper::header::{self, HeaderMap, HeaderValue};
use hyper::{Request, StatusCode};

use super::validate::MAX_BODY;

/// What every handler answers.
pub type Response = hyper::Response<Full<Bytes>>;

/// A one-line plain-text answer.
pub fn text(status: u16, reason: &str) -> Response {
    let mut response = hyper::Response::new(Full::new(Bytes::from(format!("{reason}\n"))));
    *response.status_mut() = status_code(status);
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    response
}

/// A 405 naming the method the path expects, with its `Allow` header.
pub fn wrong_method(path: &str, allowed: &'static str) -> Response {
    let mut response = text(405, &format!("`{path}` expects {allowed}"));
    response
        .headers_mut()
        .insert(header::ALLOW, HeaderValue::from_static(allowed));
    response
}

pub fn empty(status: u16) -> Response {
    let mut response = hyper::Response::new(Full::new(Bytes::new()));
    *response.status_mut() = status_code(status);
    response
}

pub fn json(body: Vec<u8>) -> Response {
    let mut response = hyper::Response::new(Full::new(Bytes::from(body)));
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
}

fn status_code(status: u16) -> StatusCode {
    StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
}

/// The media type of `Content-Type` without parameters, lower-cased.
pub fn content_type(headers: &HeaderMap) -> Option<String> {
    let value = headers.get(header::CONTENT_TYPE)?.to_str().ok()?;
    Some(
        value
            .split(';')
            .next()
            .unwrap_or("")
            .trim()
            .to_ascii_lowercase(),
    )
}

/// The refusal of a request whose body the service will not read, checked before anything else
/// (as the framing of a request, whatever its path): a chunked body (411) or a declared length
/// over `MAX_BODY` (413). hyper has already refused a malformed or doubled `Content-Length`.
pub fn framing_refusal(headers: &HeaderMap) -> Option<Response> {
    if headers.contains_key(header::TRANSFER_ENCODING) {
        return Some(text(
            411,
            "chunked bodies are not accepted; send Content-Length",
        ));
    }
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok())
        .unwrap_or(0);
    (declared > MAX_BODY as u64).then(too_large)
}

/// Reads the whole body of `request` (already past [`framing_refusal`]): at most `MAX_BODY`
/// bytes, within `deadline`. The error is the answer to send instead.
pub async fn read_body(request: Request<Incoming>, deadline: Duration) -> Result<Bytes, Response> {
    let body = Limited::new(request.into_body(), MAX_BODY);
    match tokio::time::timeout(deadline, body.collect()).await {
        Err(_) => Err(text(
            408,
            &format!(
                "the request body did not arrive within {} s",
                deadline.as_secs()
            ),
        )),
        // Cannot happen with a declared length under the limit; refused all the same.
        Ok(Err(e)) if e.is::<http_body_util::LengthLimitError>() => Err(too_large()),
        Ok(Err(_)) => Err(text(400, "the request body was cut short")),
        Ok(Ok(collected)) => Ok(collected.to_bytes()),
    }
}

fn too_large() -> Response {
    text(413, &format!("the body is larger than {MAX_BODY} bytes"))
}

/// The address a request counts against for rate limiting: the TCP peer, unless the peer is the
/// trusted proxy, in which case the rightmost `X-Forwarded-For` entry (the one that proxy
/// appended; entries to its left come from the client and can be forged). Without a usable
/// entry the proxy's own address is used.
pub fn client_addr(peer: IpAddr, headers: &HeaderMap, trusted_proxy: Option<IpAddr>) -> IpAddr {
    if trusted_proxy.map(canonical) != Some(canonical(peer)) {
        return canonical(peer);
    }
    let Some(last) = headers.get_all("x-forwarded-for").iter().next_back() else {
        return canonical(peer);
    };
    last.to_str()
        .ok()
        .and_then(|v| v.rsplit(',').next())
        .and_then(parse_forwarded_ip)
        .map_or(canonical(peer), canonical)
}

/// One `X-Forwarded-For` entry: an IP address, or one with a port (`1.2.3.4:5`, `[::1]:5`).
fn parse_forwarded_ip(entry: &str) -> Option<IpAddr> {
    let entry = entry.trim();
    entry
        .parse::<IpAddr>()
        .ok()
        .or_else(|| entry.parse::<std::net::SocketAddr>().ok().map(|s| s.ip()))
}

/// An IPv4-mapped IPv6 address as the IPv4 address it is, so one client has one bucket.
pub fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        IpAddr::V4(_) => ip,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(values: &[&str]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for v in values {
            map.append("x-forwarded-for", HeaderValue::from_str(v).unwrap());
        }
        map
    }

    #[test]
    fn forwarded_for_counts_only_from_the_trusted_proxy_and_only_its_rightmost_entry() {
        let proxy: IpAddr = "10.0.0.1".parse().unwrap();
        let other: IpAddr = "10.0.0.2".parse().unwrap();
        let h = headers(&["6.6.6.6, 1.2.3.4"]);
        assert_eq!(
            client_addr(proxy, &h, Some(proxy)),
            "1.2.3.4".parse::<IpAddr>().unwrap()
        );
        assert_eq!(client_addr(other, &h, Some(proxy)), other, "untrusted peer");
        assert_eq!(client_addr(proxy, &h, None), proxy, "no proxy trusted");
        let two = headers(&["6.6.6.6", "5.5.5.5:443"]);
        assert_eq!(
            client_addr(proxy, &two, Some(proxy)),
            "5.5.5.5".parse::<IpAddr>().unwrap()
        );
        for bad in [headers(&[]), headers(&["1.2.3.4, junk"]), headers(&[""])] {
            assert_eq!(client_addr(proxy, &bad, Some(proxy)), proxy);
        }
        let mapped: IpAddr = "::ffff:10.0.0.1".parse().unwrap();
        assert_eq!(
            client_addr(mapped, &h, Some(proxy)),
            "1.2.3.4".parse::<IpAddr>().unwrap()
        );
    }

    #[test]
    fn answers_carry_status_type_and_allow() {
        let r = wrong_method("/counts", "GET");
        assert_eq!(r.status(), 405);
        assert_eq!(r.headers()[header::ALLOW], "GET");
        assert_eq!(
            r.headers()[header::CONTENT_TYPE],
            "text/plain; charset=utf-8"
        );
        assert_eq!(empty(204).status(), 204);
        let mut h = HeaderMap::new();
        h.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("Application/JSON; charset=utf-8"),
        );
        assert_eq!(content_type(&h).as_deref(), Some("application/json"));
    }
}
