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

use std::{collections::BTreeMap, time::SystemTime};

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
    Channel, Enclosure, Guid, Image, Item as RssItem,
};

use chrono::{DateTime, Local, SecondsFormat};

use crate::{
    config::{operator::Show, Settings},
    i18n::Tr,
    live::switch::OnAir,
    t,
};

use super::{
    api::{trackers, web_seed_url, ItemView},
    base_url, manifest, AppState, ConnInfo,
};

const PODCAST_NS: &str = "https://podcastindex.org/namespace/1.0";
const ITUNES_NS: &str = "http://www.itunes.com/dtds/podcast-1.0.dtd";
const ATOM_NS: &str = "http://www.w3.org/2005/Atom";
/// The UUIDv5 namespace of `podcast:guid`, fixed by the Podcasting 2.0 namespace.
const PODCAST_GUID_NS: uuid::Uuid = uuid::Uuid::from_u128(0xead4c236_bf58_58c6_a2c6_a6b28d128cb6);

/// The feed's `podcast:guid`. The namespace makes it a UUIDv5 of the feed's URL; the box's
/// URL is whatever name it was reached by until `public_url` is set, and may change later,
/// while a podcast's guid must never change. So it is a UUIDv5, in the same namespace, of
/// the station's key (`federation`), which stays with the station when it moves to a new box.
fn podcast_guid(station_key: &str) -> String {
    uuid::Uuid::new_v5(
        &PODCAST_GUID_NS,
        format!("streamp2p:{station_key}").as_bytes(),
    )
    .to_string()
}

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

/// An element holding only text.
fn text(name: &str, value: String) -> Extension {
    Extension {
        name: name.to_string(),
        value: Some(value),
        ..Extension::default()
    }
}

/// `podcast:liveItem` while the station is on air: its stream as the enclosure (the
/// progressive MP3, which every podcast app plays), and as title and times the show on air
/// by the schedule, or else the station itself since the node started (the stream has run
/// since then: it continues through any loss of input).
fn live_item(
    app: &AppState,
    settings: &Settings,
    tr: Tr,
    base: &str,
    now: SystemTime,
) -> Option<Extension> {
    // On air means someone live: not the fallback playlist, not dead air.
    if !app.live.now_playing().on_air.is_some_and(OnAir::is_live) {
        return None;
    }
    let shows = app.station.schedule();
    let stamp = |t: DateTime<Local>| t.to_rfc3339_opts(SecondsFormat::Secs, false);
    let (title, start, end) = match Show::at_time(&shows, now) {
        Some(show) => {
            let local: DateTime<Local> = now.into();
            let midnight = local
                .date_naive()
                .and_hms_opt(0, 0, 0)?
                .and_local_timezone(Local)
                .earliest()?;
            let at = |minute: u16| midnight + chrono::Duration::minutes(minute.into());
            (show.name.clone(), at(show.start), Some(at(show.end)))
        }
        None => {
            let started = now.checked_sub(app.started.elapsed())?;
            (settings.station.name.clone(), started.into(), None)
        }
    };
    let mut attrs = vec![("status", "live".to_string()), ("start", stamp(start))];
    attrs.extend(end.map(|e| ("end", stamp(e))));
    let guid = ext("guid", &[("isPermaLink", "false".into())], vec![]);
    Some(ext(
        "podcast:liveItem",
        &attrs,
        vec![
            text("title", title),
            Extension {
                value: Some(format!("{base}/live#{}", start.timestamp())),
                ..guid
            },
            ext(
                "enclosure",
                &[
                    ("url", format!("{base}/live.mp3")),
                    ("type", "audio/mpeg".into()),
                    ("length", "0".into()),
                ],
                vec![],
            ),
            Extension {
                value: Some(t!(tr, "listen-live-play")),
                ..ext(
                    "podcast:contentLink",
                    &[("href", format!("{base}/"))],
                    vec![],
                )
            },
        ],
    ))
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
    // Newest first, as podcast apps list them.
    let items = catalog.newest_first();
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
        e.set_pub_date(httpdate::fmt_http_date(item.recorded_at()));
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
    // The station's picture: the one drawn from its initials (the listen page's icon, at
    // the size podcast directories ask for).
    let cover = format!("{base}{}", manifest::COVER);
    let mut image = Image::default();
    image.set_url(cover.clone());
    image.set_title(settings.station.name.clone());
    image.set_link(format!("{base}/"));
    ch.set_image(image);
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
    namespaces.insert("atom".to_string(), ATOM_NS.to_string());
    ch.set_namespaces(namespaces);
    // Where the feed itself lives (directories check it), and its lasting identity.
    let mut atom = BTreeMap::new();
    atom.insert(
        "link".to_string(),
        vec![ext(
            "atom:link",
            &[
                ("href", format!("{base}/feed.xml")),
                ("rel", "self".into()),
                ("type", "application/rss+xml".into()),
            ],
            vec![],
        )],
    );
    let mut podcast = BTreeMap::new();
    podcast.insert(
        "guid".to_string(),
        vec![text(
            "podcast:guid",
            podcast_guid(&app.federation.public_key()),
        )],
    );
    if let Some(live) = live_item(&app, &settings, tr, &base, SystemTime::now()) {
        podcast.insert("liveItem".to_string(), vec![live]);
    }
    ch.set_extensions(BTreeMap::from([
        ("atom".to_string(), atom),
        ("podcast".to_string(), podcast),
    ]));
    let mut it = ITunesChannelExtension::default();
    it.set_image(Some(cover));
    it.set_author(Some(settings.station.name.clone()));
    it.set_summary(Some(settings.station.description.clone()));
    it.set_explicit(Some("false".to_string()));
    let mut category = rss::extension::itunes::ITunesCategory::default();
    category.set_text(settings.station.category.clone());
    it.set_categories(vec![category]);
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_podcast_guid_is_a_uuid_v5_that_follows_the_station_key() {
        let guid = podcast_guid("ab12");
        assert_eq!(guid, podcast_guid("ab12"));
        assert_ne!(guid, podcast_guid("ab13"));
        let parsed = uuid::Uuid::parse_str(&guid).unwrap();
        assert_eq!(parsed.get_version_num(), 5);
    }
}
