//! Static assets embedded in the binary: the pages' scripts and styles, WebTorrent's browser
//! build and service worker, and the live player's hls.js and p2p-media-loader ES modules,
//! each prepared by `build.rs` as is, brotli and gzip, and named by its content hash.
//!
//! `/assets/<name>.<hash8>.<ext>` never changes, so browsers keep it for a year without
//! asking again; the pages link only those ([`href`]). The plain names (`/assets/listen.js`,
//! the service worker at `/sw.min.js`, the config page's old `/admin/admin.js`) keep
//! answering with `no-cache`, for a page cached before an update and for the service
//! worker, which must keep its URL. Every answer carries the body the request's
//! `Accept-Encoding` prefers ([`encoding`]); a `Range` is answered with the whole body
//! (200), which HTTP allows and no browser needs for a script.

use axum::{
    body::Body,
    extract::Path,
    http::{header, HeaderMap, HeaderValue, StatusCode},
    response::{IntoResponse, Response},
};

use super::{
    encoding::{self, Coding},
    lang,
};

/// One asset as `build.rs` prepared it.
pub struct Asset {
    /// The file name it is served as without a hash (`listen.js`).
    pub name: &'static str,
    /// `/assets/<stem>.<hash>.<ext>`.
    pub url: &'static str,
    /// The first 8 hex digits of the SHA-256 of `identity`.
    pub hash: &'static str,
    pub mime: &'static str,
    pub identity: &'static [u8],
    pub br: &'static [u8],
    pub gzip: &'static [u8],
}

// `ASSETS` and `href::*` (one hashed URL per asset, by file name: `href::LISTEN_JS`).
include!(concat!(env!("OUT_DIR"), "/assets.rs"));

/// Hashed names never change: a year, and no revalidation.
const IMMUTABLE: &str = "public, max-age=31536000, immutable";
/// Plain names change with the binary: revalidated (by ETag) on every use.
const REVALIDATE: &str = "no-cache";

/// `GET /assets/{file}`: by hashed URL (immutable) or plain name (revalidated).
pub async fn by_path(Path(file): Path<String>, headers: HeaderMap) -> Response {
    let hashed = ASSETS
        .iter()
        .find(|a| a.url.strip_prefix("/assets/") == Some(file.as_str()));
    match hashed {
        Some(a) => answer(a, IMMUTABLE, &headers),
        None => by_name(&file, &headers),
    }
}

/// The service worker must be served from the root to control the whole origin, and
/// browsers check it for updates on every visit.
pub async fn service_worker(headers: HeaderMap) -> Response {
    by_name("sw.min.js", &headers)
}

/// The config page's script and style at their addresses before they were hashed.
pub async fn admin_js(headers: HeaderMap) -> Response {
    by_name("admin.js", &headers)
}

pub async fn admin_css(headers: HeaderMap) -> Response {
    by_name("admin.css", &headers)
}

fn by_name(name: &str, headers: &HeaderMap) -> Response {
    match ASSETS.iter().find(|a| a.name == name) {
        Some(a) => answer(a, REVALIDATE, headers),
        None => lang::missing(),
    }
}

/// The asset in the coding the request prefers, with the headers a cache needs: `Vary` (the
/// body depends on `Accept-Encoding`) and an ETag per coding, answered 304 when it matches.
fn answer(asset: &Asset, cache: &'static str, headers: &HeaderMap) -> Response {
    let coding = encoding::choose(headers);
    let bytes = match coding {
        Coding::Br => asset.br,
        Coding::Gzip => asset.gzip,
        Coding::Identity => asset.identity,
    };
    let etag = format!(
        "\"{}{}\"",
        asset.hash,
        coding.header().map(|c| format!("-{c}")).unwrap_or_default()
    );
    let matched = headers
        .get_all(header::IF_NONE_MATCH)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|t| t.trim() == etag || t.trim() == "*");
    let (status, body) = if matched {
        (StatusCode::NOT_MODIFIED, Body::empty())
    } else {
        (StatusCode::OK, Body::from(bytes))
    };
    let mut r = (status, body).into_response();
    let h = r.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(asset.mime));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
    h.insert(header::VARY, HeaderValue::from_static("Accept-Encoding"));
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    if let Ok(tag) = HeaderValue::from_str(&etag) {
        h.insert(header::ETAG, tag);
    }
    if let Some(c) = coding.header() {
        h.insert(header::CONTENT_ENCODING, HeaderValue::from_static(c));
    }
    if !matched {
        // Also on HEAD, whose body is dropped on the way out.
        h.insert(header::CONTENT_LENGTH, HeaderValue::from(bytes.len()));
    }
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    use sha2::{Digest, Sha256};

    /// Every hashed URL names its content, and the compressed bodies were made from it
    /// (their sizes only: decoding is the integration test's, with the real decoders).
    #[test]
    fn urls_name_their_content() {
        assert!(ASSETS.len() >= 9);
        for a in ASSETS {
            let digest = hex::encode(Sha256::digest(a.identity));
            assert_eq!(a.hash, &digest[..8], "{}", a.name);
            let (stem, ext) = a.name.rsplit_once('.').unwrap();
            assert_eq!(a.url, format!("/assets/{stem}.{}.{ext}", a.hash));
            assert!(a.br.len() < a.identity.len(), "{}", a.name);
            assert!(a.gzip.len() < a.identity.len(), "{}", a.name);
        }
        assert_eq!(
            href::LISTEN_JS,
            ASSETS.iter().find(|a| a.name == "listen.js").unwrap().url
        );
    }
}
