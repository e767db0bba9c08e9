//! The listen page as an app: `GET /manifest.webmanifest` (the station's name, description
//! and language from its settings, the page's colours) and the icons it lists, so a
//! listener can put the station on a phone's home screen and open it full screen.
//!
//! The icons are scaled from the station's logo (`station::logo`), or until it has one
//! drawn from its initials (`icon`); made on first request and kept until the logo or the
//! name changes.

use std::{
    collections::HashMap,
    sync::{LazyLock, Mutex},
};

use sha2::{Digest, Sha256};

use axum::{
    body::Bytes,
    extract::{Path, State},
    http::{header, HeaderValue},
    response::{IntoResponse, Response},
};

use super::{
    icon::{self, Shape},
    lang, AppState,
};
use crate::station::logo;

/// The icons offered: file, side in px, shape, and the manifest's `purpose`. 192 and 512
/// are what Android asks for; 180 is Apple's touch icon (linked from the page, not listed).
const ICONS: &[(&str, u32, Shape, Option<&str>)] = &[
    ("icon-192.png", 192, Shape::Disc, Some("any")),
    ("icon-512.png", 512, Shape::Disc, Some("any")),
    (
        "icon-maskable-512.png",
        512,
        Shape::FullBleed,
        Some("maskable"),
    ),
    ("apple-touch-icon.png", 180, Shape::FullBleed, None),
    // The feed's picture: Apple's directory asks for 1400-3000 px (not listed).
    ("cover-1400.png", 1400, Shape::FullBleed, None),
];

pub const APPLE_TOUCH_ICON: &str = "/icons/apple-touch-icon.png";
pub const COVER: &str = "/icons/cover-1400.png";

/// A home-screen label shows about 12 characters.
const SHORT_NAME_CHARS: usize = 12;

/// Icons made, by what they are made from and file: one set, the current one.
static DRAWN: LazyLock<Mutex<HashMap<(Art, &'static str), Bytes>>> =
    LazyLock::new(Default::default);

pub async fn manifest(State(app): State<AppState>) -> Response {
    let settings = app.station.settings();
    let station = &settings.station;
    let icons: Vec<_> = ICONS
        .iter()
        .filter_map(|&(file, side, _, purpose)| {
            Some(serde_json::json!({
                "src": format!("/icons/{file}"),
                "sizes": format!("{side}x{side}"),
                "type": "image/png",
                "purpose": purpose?,
            }))
        })
        .collect();
    let body = serde_json::json!({
        "id": "/",
        "name": station.name,
        "short_name": short_name(&station.name),
        "description": station.description,
        "lang": station.language.code(),
        "start_url": "/",
        "scope": "/",
        "display": "standalone",
        "theme_color": icon::ACCENT_HEX,
        "background_color": icon::BACKGROUND_HEX,
        "icons": icons,
    });
    (
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/manifest+json"),
            ),
            // The name and description change when the operator saves them.
            (header::CACHE_CONTROL, HeaderValue::from_static("no-cache")),
        ],
        body.to_string(),
    )
        .into_response()
}

/// What the icons are made from now: the logo (by its digest, as it can change while the
/// box runs), or the initials of the station's name.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Art {
    Logo([u8; 32]),
    Initials(String),
}

/// `GET /icons/{file}`: one of [`ICONS`], scaled from the station's logo, or drawn from
/// its current name until it has one.
pub async fn icon(State(app): State<AppState>, Path(file): Path<String>) -> Response {
    let Some(&(file, side, shape, purpose)) = ICONS.iter().find(|i| i.0 == file) else {
        return lang::missing();
    };
    let logo = app.station.logo();
    let initials = icon::initials(&app.station.settings().station.name);
    let art = match &logo {
        Some(png) => Art::Logo(Sha256::digest(png).into()),
        None => Art::Initials(initials.clone()),
    };
    let key = (art, file);
    let cached = DRAWN.lock().ok().and_then(|d| d.get(&key).cloned());
    let png = match cached {
        Some(png) => png,
        None => {
            let maskable = purpose == Some("maskable");
            let drawn = tokio::task::spawn_blocking(move || match logo {
                Some(png) => {
                    logo::scaled(&png, side, maskable, icon::BACKGROUND).map_err(|e| e.to_string())
                }
                None => icon::render(&initials, side, shape).map_err(|e| e.to_string()),
            })
            .await
            .map_err(|e| e.to_string())
            .and_then(|r| r);
            match drawn {
                Ok(png) => {
                    let png = Bytes::from(png);
                    if let Ok(mut d) = DRAWN.lock() {
                        // Only what the icons are made from now is worth keeping.
                        d.retain(|(art, _), _| *art == key.0);
                        d.insert(key, png.clone());
                    }
                    png
                }
                Err(e) => {
                    tracing::warn!("icon {file}: {e}");
                    return lang::missing();
                }
            }
        }
    };
    (
        [
            (header::CONTENT_TYPE, HeaderValue::from_static("image/png")),
            // A day: a renamed station's icon follows soon, and installed apps keep their
            // own copy anyway.
            (
                header::CACHE_CONTROL,
                HeaderValue::from_static("public, max-age=86400"),
            ),
        ],
        png,
    )
        .into_response()
}

/// The name if it fits a home-screen label, else as many whole words as fit, else its
/// first characters.
fn short_name(name: &str) -> String {
    let name = name.trim();
    if name.chars().count() <= SHORT_NAME_CHARS {
        return name.to_string();
    }
    let mut out = String::new();
    for word in name.split_whitespace() {
        let longer = if out.is_empty() {
            word.to_string()
        } else {
            format!("{out} {word}")
        };
        if longer.chars().count() > SHORT_NAME_CHARS {
            break;
        }
        out = longer;
    }
    if out.is_empty() {
        out = name.chars().take(SHORT_NAME_CHARS).collect();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_names_fit_a_home_screen() {
        assert_eq!(short_name("Radio Vallekas"), "Radio");
        assert_eq!(short_name(" Onda Verde "), "Onda Verde");
        assert_eq!(short_name("Ràdio Bronka de Barcelona"), "Ràdio Bronka");
        assert_eq!(short_name("Supercalifragilistic"), "Supercalifra");
    }
}
