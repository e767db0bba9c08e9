//! Sharing the station from the phone: which addresses to give out and who can open each,
//! and their QR codes (SVG, drawn by `qrcode`).

use std::net::{IpAddr, SocketAddr};

use axum::{
    extract::Query,
    http::{header, HeaderValue, StatusCode},
    response::{IntoResponse, Response},
};
use qrcode::{render::svg, EcLevel, QrCode};

use super::extract::LoggedIn;
use crate::{
    msg,
    web::lang::{said, Said},
};

/// Longest text encoded: a magnet with its trackers fits; a QR code of more is unreadable
/// from a phone screen anyway.
const MAX_TEXT: usize = 1500;

#[derive(serde::Deserialize)]
pub struct QrQuery {
    u: String,
}

/// The QR code of `text` as an SVG image.
pub fn svg(text: &str) -> Option<String> {
    let code = QrCode::with_error_correction_level(text.as_bytes(), EcLevel::M).ok()?;
    Some(
        code.render::<svg::Color>()
            .min_dimensions(132, 132)
            .quiet_zone(true)
            .build(),
    )
}

/// `GET /admin/qr?u=TEXT`.
pub async fn qr(_: LoggedIn, Query(q): Query<QrQuery>) -> Response {
    if q.u.len() > MAX_TEXT {
        return said(
            StatusCode::BAD_REQUEST,
            Said::Text(msg!("admin-qr-too-long")),
        );
    }
    match svg(&q.u) {
        Some(image) => (
            [
                (
                    header::CONTENT_TYPE,
                    HeaderValue::from_static("image/svg+xml"),
                ),
                (
                    header::CACHE_CONTROL,
                    HeaderValue::from_static("private, max-age=3600"),
                ),
            ],
            image,
        )
            .into_response(),
        None => said(StatusCode::BAD_REQUEST, Said::Text(msg!("admin-qr-cannot"))),
    }
}

/// Who can open a link the Share section offers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Audience {
    /// The public address: anyone on the internet.
    Anyone,
    /// The box's name or address on the local network: people on the same Wi-Fi.
    ThisNetwork,
}

/// The station's addresses to give out, best first, each with who can open it (no trailing
/// `/`). A loopback address is never one: it is the operator's own computer, which nobody
/// else can open. With no public address only the local network's; with the pages listening
/// on loopback alone (the demo, the tests) none of those either.
pub fn links(
    public_url: Option<&str>,
    http: SocketAddr,
    interfaces: &[IpAddr],
    local_name: Option<&str>,
) -> Vec<(Audience, String)> {
    let mut out = Vec::new();
    if let Some(public) = public_url.map(|u| u.trim().trim_end_matches('/')) {
        if !public.is_empty() {
            out.push((Audience::Anyone, public.to_string()));
        }
    }
    if http.ip().is_loopback() {
        return out;
    }
    let port = match http.port() {
        80 => String::new(),
        p => format!(":{p}"),
    };
    if let Some(name) = local_name {
        out.push((Audience::ThisNetwork, format!("http://{name}{port}")));
    }
    // The local network's IPv4 addresses the pages answer on (IPv6 ones are no address to
    // read out or type on a phone).
    let lan = |ip: &&IpAddr| match ip {
        IpAddr::V4(v4) => v4.is_private() && (http.ip().is_unspecified() || **ip == http.ip()),
        IpAddr::V6(_) => false,
    };
    for ip in interfaces.iter().filter(lan) {
        out.push((Audience::ThisNetwork, format!("http://{ip}{port}")));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn draws_an_svg() {
        let s = svg("http://192.168.1.20/").unwrap();
        assert!(s.starts_with("<?xml") && s.contains("<svg") && s.contains("<path"));
    }

    fn ips(list: &[&str]) -> Vec<IpAddr> {
        list.iter().map(|s| s.parse().unwrap()).collect()
    }

    #[test]
    fn a_loopback_address_is_never_offered() {
        let ifs = ips(&["127.0.0.1", "192.168.1.20", "::1", "fe80::1", "203.0.113.9"]);
        let all = "0.0.0.0:80".parse().unwrap();
        assert_eq!(
            links(None, all, &ifs, Some("streamp2p.local")),
            vec![
                (Audience::ThisNetwork, "http://streamp2p.local".into()),
                (Audience::ThisNetwork, "http://192.168.1.20".into()),
            ]
        );
        // The demo and the tests: pages on loopback only.
        let lo = "127.0.0.1:8080".parse().unwrap();
        assert!(links(None, lo, &ifs, Some("streamp2p.local")).is_empty());
        assert_eq!(
            links(Some("https://radio.example.org/"), lo, &ifs, None),
            vec![(Audience::Anyone, "https://radio.example.org".into())]
        );
        let one = "192.168.1.20:8080".parse().unwrap();
        assert_eq!(
            links(Some(""), one, &ifs, None),
            vec![(Audience::ThisNetwork, "http://192.168.1.20:8080".into())]
        );
    }
}
