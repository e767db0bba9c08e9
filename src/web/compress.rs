//! Gzip for what the node writes per request (pages, JSON, the feed), as it goes out.
//! Only for those types: audio (`/live.*`, `/files/`, HLS segments) is compressed already and
//! must keep its byte ranges, a server-sent event stream must not wait for a compressor's
//! buffer, and the static assets come with their own brotli and gzip copies (`assets`).

use axum::http::{header, Extensions, HeaderMap, StatusCode, Version};
use tower_http::compression::{
    predicate::{Predicate, SizeAbove},
    CompressionLayer,
};

/// Below this a gzip header and trailer cost more than they save.
const MIN_SIZE: u16 = 512;

/// The types worth compressing on the fly.
const TYPES: &[&str] = &[
    "text/html",
    "application/json",
    "application/manifest+json",
    "application/xml",
    "application/rss+xml",
    "text/xml",
];

pub fn layer() -> CompressionLayer<impl Predicate> {
    CompressionLayer::new()
        .no_br()
        .no_deflate()
        .no_zstd()
        .compress_when(SizeAbove::new(MIN_SIZE).and(written_per_request))
}

fn written_per_request(_: StatusCode, _: Version, headers: &HeaderMap, _: &Extensions) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|t| TYPES.iter().any(|k| t.trim().eq_ignore_ascii_case(k)))
}

#[cfg(test)]
mod tests {
    use super::*;

    use axum::http::HeaderValue;

    fn compressed(content_type: &str) -> bool {
        let mut h = HeaderMap::new();
        h.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_str(content_type).unwrap(),
        );
        written_per_request(StatusCode::OK, Version::HTTP_11, &h, &Extensions::new())
    }

    #[test]
    fn pages_and_data_only() {
        for t in [
            "text/html; charset=utf-8",
            "application/json",
            "application/rss+xml",
        ] {
            assert!(compressed(t), "{t}");
        }
        for t in [
            "audio/mpeg",
            "audio/ogg",
            "video/mp4",
            "application/vnd.apple.mpegurl",
            "text/event-stream",
            "text/javascript",
            "application/x-bittorrent",
        ] {
            assert!(!compressed(t), "{t}");
        }
        assert!(!written_per_request(
            StatusCode::OK,
            Version::HTTP_11,
            &HeaderMap::new(),
            &Extensions::new()
        ));
    }
}
