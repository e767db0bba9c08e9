//! `GET /feed.xml`: the podcast feed. RSS 2.0 with the iTunes tags podcast apps expect,
//! and a Podcasting 2.0 `podcast:alternateEnclosure` per episode listing its torrent and
//! magnet, so an app that knows BitTorrent can fetch the episode from the swarm. The
//! plain enclosure is the node's web seed URL, which every app can play.
//!
//! The alternate enclosure is marked `default="true"`: it is the enclosure's own file, by
//! other ways. Its sources are the web seed, the torrent, the magnet and the same file on
//! each mirror, and its `podcast:integrity` (SRI, the file's SHA-256) covers every one of
//! them, so an app can tell a mirror that serves other bytes from an honest one.
//!
//! The feed is the station's, whoever reads it: its `<language>` and its few words are in
//! the station's language, not the reader's.

use std::collections::BTreeMap;

use axum::{
    extract::{ConnectInfo, State},
    http::{header, HeaderMap, HeaderValue},
    response::{IntoResponse, Response},
};
use rss::{
    extension::{
        itunes::{ITunesChannelExtension, ITunesItemExtension},
        Extension,
    },
    Channel, Enclosure, Guid, Item as RssItem,
};

use crate::{i18n::Tr, t};

use super::{
    api::{trackers, web_seed_url, ItemView},
    base_url, AppState, ConnInfo,
};

const PODCAST_NS: &str = "https://podcastindex.org/namespace/1.0";
const ITUNES_NS: &str = "http://www.itunes.com/dtds/podcast-1.0.dtd";

fn ext(name: &str, attrs: &[(&str, String)], children: Vec<Extension>) -> Extension {
    let mut kids: BTreeMap<String, Vec<Extension>> = BTreeMap::new();
    for c in children {
        kids.entry(c.name().to_string()).or_default().push(c);
    }
    Extension {
        name: name.to_string(),
        value: None,
        attrs: attrs
            .iter()
            .map(|(k, v)| (k.to_string(), v.clone()))
            .collect(),
        children: kids,
    }
}

/// Where one episode's file can be had, and its SRI digest when known.
struct Sources<'a> {
    web_seed: &'a str,
    torrent: String,
    magnet: &'a str,
    mirrors: Vec<String>,
    integrity: Option<String>,
}

/// `podcast:alternateEnclosure` for the enclosure's own file (`default="true"`): the web
/// seed, the torrent file, the magnet and the same file on every mirror of the station, and
/// one `podcast:integrity` for all of them (the tag allows one per alternate enclosure, and
/// every source holds the same bytes). Without a known digest the integrity is left out.
fn alternate(tr: Tr, mime: &str, size: u64, s: Sources) -> Extension {
    let mut children = vec![
        ext("podcast:source", &[("uri", s.web_seed.to_string())], vec![]),
        ext(
            "podcast:source",
            &[
                ("uri", s.torrent),
                ("contentType", "application/x-bittorrent".into()),
            ],
            vec![],
        ),
        ext("podcast:source", &[("uri", s.magnet.to_string())], vec![]),
    ];
    children.extend(
        s.mirrors
            .into_iter()
            .map(|m| ext("podcast:source", &[("uri", m)], vec![])),
    );
    children.extend(s.integrity.map(|value| {
        ext(
            "podcast:integrity",
            &[("type", "sri".into()), ("value", value)],
            vec![],
        )
    }));
    ext(
        "podcast:alternateEnclosure",
        &[
            ("type", mime.to_string()),
            ("length", size.to_string()),
            ("default", "true".into()),
            ("title", t!(tr, "listen-feed-sources")),
        ],
        children,
    )
}

pub async fn feed(
    State(app): State<AppState>,
    ConnectInfo(conn): ConnectInfo<ConnInfo>,
    headers: HeaderMap,
) -> Response {
    let settings = app.station.settings();
    let tr = settings.station.language.tr();
    let base = base_url(&settings, &headers, &conn);
    let trackers = trackers(&app, &base);
    let metas = app.station.item_meta();
    let catalog = app.library.catalog();
    let mut items: Vec<_> = catalog.items.values().collect();
    // Newest first, as podcast apps list them.
    items.sort_by(|a, b| b.mtime_ns.cmp(&a.mtime_ns).then(a.name.cmp(&b.name)));
    let mut out = Vec::with_capacity(items.len());
    for item in items {
        let v = ItemView::new(item, &base, &trackers).with_meta(metas.get(&item.infohash));
        let mut e = RssItem::default();
        e.set_title(v.display_title().to_string());
        e.set_description(v.description.map(String::from));
        let mut enc = Enclosure::default();
        enc.set_url(v.web_seed.clone());
        enc.set_length(v.size.to_string());
        enc.set_mime_type(v.mime.to_string());
        e.set_enclosure(enc);
        let mut guid = Guid::default();
        guid.set_value(format!("urn:btih:{}", item.infohash));
        guid.set_permalink(false);
        e.set_guid(guid);
        let modified = u64::try_from(item.mtime_ns).unwrap_or(0);
        e.set_pub_date(httpdate::fmt_http_date(
            std::time::UNIX_EPOCH + std::time::Duration::from_nanos(modified),
        ));
        let mut it = ITunesItemExtension::default();
        it.set_duration(v.duration_secs.map(|d| (d.round() as u64).to_string()));
        it.set_author(v.artist.map(String::from));
        e.set_itunes_ext(it);
        let mut podcast = BTreeMap::new();
        podcast.insert(
            "alternateEnclosure".to_string(),
            vec![alternate(
                tr,
                v.mime,
                v.size,
                Sources {
                    web_seed: &v.web_seed,
                    torrent: format!("{base}{}", v.torrent),
                    magnet: &v.magnet,
                    mirrors: app
                        .federation
                        .mirrors_for(&item.infohash)
                        .iter()
                        .map(|m| web_seed_url(m, item))
                        .collect(),
                    integrity: v.integrity.clone(),
                },
            )],
        );
        let mut exts = BTreeMap::new();
        exts.insert("podcast".to_string(), podcast);
        e.set_extensions(exts);
        out.push(e);
    }
    let mut ch = Channel::default();
    ch.set_title(settings.station.name.clone());
    ch.set_link(format!("{base}/"));
    ch.set_description(if settings.station.description.is_empty() {
        t!(
            tr,
            "listen-feed-description",
            station = settings.station.name.as_str()
        )
    } else {
        settings.station.description.clone()
    });
    ch.set_language(settings.station.language.code().to_string());
    ch.set_generator(format!("streamp2p {}", env!("CARGO_PKG_VERSION")));
    let mut namespaces = BTreeMap::new();
    namespaces.insert("itunes".to_string(), ITUNES_NS.to_string());
    namespaces.insert("podcast".to_string(), PODCAST_NS.to_string());
    ch.set_namespaces(namespaces);
    let mut it = ITunesChannelExtension::default();
    it.set_author(Some(settings.station.name.clone()));
    it.set_summary(Some(settings.station.description.clone()));
    it.set_explicit(Some("false".to_string()));
    ch.set_itunes_ext(it);
    ch.set_items(out);
    (
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/rss+xml; charset=utf-8"),
            ),
            (header::CACHE_CONTROL, HeaderValue::from_static("no-cache")),
        ],
        ch.to_string(),
    )
        .into_response()
}
