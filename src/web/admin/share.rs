//! QR codes for sharing the station's addresses from the phone: SVG, drawn by `qrcode`.

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

#[cfg(test)]
mod tests {
    #[test]
    fn draws_an_svg() {
        let s = super::svg("http://192.168.1.20/").unwrap();
        assert!(s.starts_with("<?xml") && s.contains("<svg") && s.contains("<path"));
    }
}
