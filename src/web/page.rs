//! `GET /`: a plain page listing the library with magnet, torrent and download links.
//! The real listen page (player, WebTorrent) replaces it later.

use std::fmt::Write;

use axum::{
    extract::{ConnectInfo, State},
    http::HeaderMap,
    response::Html,
};

use super::{
    api::{trackers, ItemView},
    base_url, AppState, ConnInfo,
};

/// Escapes text for HTML content and attribute values.
fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

fn size(bytes: u64) -> String {
    const MB: f64 = 1024.0 * 1024.0;
    if (bytes as f64) < MB {
        format!("{} KB", bytes.div_ceil(1024))
    } else {
        format!("{:.1} MB", bytes as f64 / MB)
    }
}

fn duration(secs: Option<f64>) -> String {
    match secs {
        Some(s) => {
            let s = s.round() as u64;
            format!("{}:{:02}", s / 60, s % 60)
        }
        None => String::new(),
    }
}

pub async fn index(
    State(app): State<AppState>,
    ConnectInfo(conn): ConnectInfo<ConnInfo>,
    headers: HeaderMap,
) -> Html<String> {
    let base = base_url(&app.settings, &headers, &conn);
    let trackers = trackers(&app, &base);
    let station = &app.settings.station;
    let catalog = app.library.catalog();
    let mut rows = String::new();
    for item in catalog.items.values() {
        let v = ItemView::new(item, &base, &trackers);
        let title = v.title.unwrap_or(v.name);
        let _ = writeln!(
            rows,
            "<li><strong>{}</strong>{}<br><small>{} {}</small><br>\
             <a href=\"{}\">Listen or download</a> · <a href=\"{}\">Magnet link</a> · \
             <a href=\"{}\">Torrent file</a></li>",
            esc(title),
            v.artist
                .map(|a| format!(" — {}", esc(a)))
                .unwrap_or_default(),
            esc(&size(v.size)),
            esc(&duration(v.duration_secs)),
            esc(&v.web_seed),
            esc(&v.magnet),
            esc(&v.torrent),
        );
    }
    if rows.is_empty() {
        rows.push_str("<li>No episodes yet. Plug in the USB storage with the archive.</li>");
    }
    Html(format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{name}</title><style>body{{font:18px/1.5 system-ui,sans-serif;max-width:40rem;\
         margin:auto;padding:1rem}}li{{margin:0 0 1rem}}a{{padding:.3rem 0;display:inline-block}}\
         </style></head><body><h1>{name}</h1><p>{desc}</p><h2>Episodes</h2><ul>{rows}</ul>\
         </body></html>",
        name = esc(&station.name),
        desc = esc(&station.description),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_markup() {
        assert_eq!(
            esc("<a href=\"x\">&'"),
            "&lt;a href=&quot;x&quot;&gt;&amp;&#39;"
        );
        assert_eq!(duration(Some(65.4)), "1:05");
        assert_eq!(size(2048), "2 KB");
    }
}
