//! The web side of https: pages move from plain http to https once the certificate is in
//! place, and cookies set over https are `Secure`.
//!
//! Plain http keeps answering everything else (the tracker, the web seed, torrents, the
//! live stream, the API, the feed): BitTorrent clients, old players and directories speak
//! plain http. Only requests for the public name are moved: the certificate covers that
//! name alone, so an operator on the local network still reaches `/admin` by
//! `http://streamp2p.local` or the box's address, and a box still waiting for its
//! certificate stays usable over http.

use axum::{
    extract::{ConnectInfo, Request, State},
    http::{header, HeaderValue, Method, StatusCode},
    middleware::Next,
    response::{IntoResponse, Response},
};

use super::{AppState, ConnInfo};
use crate::config::tls::host_of;

/// Paths that are pages (a person's browser), as opposed to what machines fetch.
fn is_page(path: &str) -> bool {
    let under = |p: &str| path == p || path.starts_with(&format!("{p}/"));
    path == "/" || path == "/lang" || under("/admin") || under("/e") || under("/guide")
}

/// A 308 to the same page on https when this plain http request asks for a page by the
/// public https name and the certificate is in place.
pub async fn pages_to_https(
    State(app): State<AppState>,
    ConnectInfo(conn): ConnectInfo<ConnInfo>,
    req: Request,
    next: Next,
) -> Response {
    if let Some(to) = https_target(&app, &conn, &req) {
        return (StatusCode::PERMANENT_REDIRECT, [(header::LOCATION, to)]).into_response();
    }
    next.run(req).await
}

fn https_target(app: &AppState, conn: &ConnInfo, req: &Request) -> Option<HeaderValue> {
    if conn.secure || !conn.https_ready || !matches!(*req.method(), Method::GET | Method::HEAD) {
        return None;
    }
    if !is_page(req.uri().path()) {
        return None;
    }
    let settings = app.station.settings();
    let public = settings.public_url.as_deref()?.strip_prefix("https://")?;
    let asked = req.headers().get(header::HOST)?.to_str().ok()?;
    if !host_of(asked).eq_ignore_ascii_case(host_of(public)) {
        return None;
    }
    let path = req.uri().path_and_query().map_or("/", |p| p.as_str());
    HeaderValue::from_str(&format!("https://{}{path}", host_of(public))).ok()
}

/// Marks every cookie set over https `Secure`, so the browser never sends it over plain
/// http. Over plain http cookies stay as they are: an operator on the local network logs in
/// over http.
pub async fn secure_cookies(
    ConnectInfo(conn): ConnectInfo<ConnInfo>,
    req: Request,
    next: Next,
) -> Response {
    let mut r = next.run(req).await;
    if !conn.secure {
        return r;
    }
    let cookies: Vec<HeaderValue> = r
        .headers_mut()
        .get_all(header::SET_COOKIE)
        .iter()
        .map(|v| match v.to_str() {
            Ok(s) if !s.to_ascii_lowercase().contains("; secure") => {
                HeaderValue::from_str(&format!("{s}; Secure")).unwrap_or_else(|_| v.clone())
            }
            _ => v.clone(),
        })
        .collect();
    r.headers_mut().remove(header::SET_COOKIE);
    for c in cookies {
        r.headers_mut().append(header::SET_COOKIE, c);
    }
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pages_are_told_from_what_machines_fetch() {
        for p in [
            "/",
            "/admin",
            "/admin/login",
            "/e/abc",
            "/guide",
            "/guide/es",
            "/lang",
        ] {
            assert!(is_page(p), "{p}");
        }
        for p in [
            "/announce",
            "/scrape",
            "/files/ab/x.mp3",
            "/t/ab.torrent",
            "/live.ogg",
            "/live/index.m3u8",
            "/api/health",
            "/feed.xml",
            "/.well-known/acme-challenge/x",
            "/administrator",
            "/relay/k/live.ogg",
        ] {
            assert!(!is_page(p), "{p}");
        }
    }
}
