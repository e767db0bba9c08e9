//! The podcast feed as a podcast app reads it: a namespace-aware XML reader (quick-xml), not
//! the rss crate the node writes it with, so a tag in the wrong namespace or place is seen.

use std::{collections::BTreeMap, path::Path};

use base64::Engine;
use quick_xml::{
    events::{BytesStart, Event},
    name::{Namespace, ResolveResult},
    Decoder, NsReader, XmlVersion,
};

use super::sha256_file;

const PODCAST_NS: &[u8] = b"https://podcastindex.org/namespace/1.0";

/// One `<item>` of the feed.
#[derive(Debug, Default, Clone)]
pub struct FeedEpisode {
    pub title: String,
    /// The RSS `<enclosure>`'s attributes (`url`, `length`, `type`).
    pub enclosure: BTreeMap<String, String>,
    pub alternates: Vec<FeedAlternate>,
}

/// One `<podcast:alternateEnclosure>`.
#[derive(Debug, Default, Clone)]
pub struct FeedAlternate {
    pub attrs: BTreeMap<String, String>,
    /// The `uri` of each `<podcast:source>`, in order.
    pub sources: Vec<String>,
    /// Each `<podcast:integrity>` as (`type`, `value`).
    pub integrity: Vec<(String, String)>,
}

/// An element's namespace (if any) and local name.
type Name = (Option<Vec<u8>>, Vec<u8>);

/// Whether the open elements `path` (from the root down) are exactly `names`.
fn is(path: &[Name], names: &[(Option<&[u8]>, &[u8])]) -> bool {
    path.len() == names.len()
        && path
            .iter()
            .zip(names)
            .all(|((ns, local), (want_ns, want))| ns.as_deref() == *want_ns && local == want)
}

fn attrs(e: &BytesStart, decoder: Decoder) -> BTreeMap<String, String> {
    e.attributes()
        .map(|a| {
            let a = a.expect("well-formed attribute");
            // The node writes XML 1.0 (its declaration says so): its normalization rules.
            let value = a
                .decoded_and_normalized_value(XmlVersion::Explicit1_0, decoder)
                .expect("attribute value");
            (
                String::from_utf8_lossy(a.key.as_ref()).into_owned(),
                value.into_owned(),
            )
        })
        .collect()
}

const ITEM: &[(Option<&[u8]>, &[u8])] = &[(None, b"rss"), (None, b"channel"), (None, b"item")];

fn in_title(path: &[Name]) -> bool {
    path.len() == 4 && is(&path[..3], ITEM) && path[3] == (None, b"title".to_vec())
}

/// Every episode of the RSS feed `xml`; panics on XML that is not well-formed.
pub fn feed_episodes(xml: &str) -> Vec<FeedEpisode> {
    let mut r = NsReader::from_str(xml);
    let mut path: Vec<Name> = Vec::new();
    let mut out: Vec<FeedEpisode> = Vec::new();
    loop {
        let (ns, ev) = r.read_resolved_event().expect("well-formed XML");
        let ns = match ns {
            ResolveResult::Bound(Namespace(n)) => Some(n.to_vec()),
            ResolveResult::Unbound => None,
            ResolveResult::Unknown(p) => panic!(
                "undeclared namespace prefix {:?}",
                String::from_utf8_lossy(&p)
            ),
        };
        let (start, empty) = match &ev {
            Event::Start(e) => (Some(e), false),
            Event::Empty(e) => (Some(e), true),
            _ => (None, false),
        };
        if let Some(e) = start {
            let decoder = r.decoder();
            path.push((ns, e.local_name().as_ref().to_vec()));
            let p = &path;
            let in_item = p.len() > ITEM.len() && is(&p[..ITEM.len()], ITEM);
            if is(p, ITEM) {
                out.push(FeedEpisode::default());
            } else if in_item && p.len() == 4 {
                let ep = out.last_mut().expect("inside an item");
                match (p[3].0.as_deref(), p[3].1.as_slice()) {
                    (None, b"enclosure") => ep.enclosure = attrs(e, decoder),
                    (Some(PODCAST_NS), b"alternateEnclosure") => {
                        ep.alternates.push(FeedAlternate {
                            attrs: attrs(e, decoder),
                            ..Default::default()
                        })
                    }
                    _ => {}
                }
            } else if in_item
                && p.len() == 5
                && p[3] == (Some(PODCAST_NS.to_vec()), b"alternateEnclosure".to_vec())
            {
                let alt = out
                    .last_mut()
                    .and_then(|ep| ep.alternates.last_mut())
                    .expect("inside an alternate enclosure");
                let a = attrs(e, decoder);
                match (p[4].0.as_deref(), p[4].1.as_slice()) {
                    (Some(PODCAST_NS), b"source") => {
                        alt.sources.push(a.get("uri").cloned().unwrap_or_default())
                    }
                    (Some(PODCAST_NS), b"integrity") => alt.integrity.push((
                        a.get("type").cloned().unwrap_or_default(),
                        a.get("value").cloned().unwrap_or_default(),
                    )),
                    _ => {}
                }
            }
            if empty {
                path.pop();
            }
            continue;
        }
        match ev {
            Event::End(_) => {
                path.pop();
            }
            Event::Text(t) if in_title(&path) => {
                let raw = t.decode().expect("UTF-8 text");
                let text = quick_xml::escape::unescape(&raw).expect("escaped text");
                out.last_mut().expect("an item").title.push_str(&text);
            }
            // Since quick-xml 0.38 an entity splits the text: `&amp;` comes on its own.
            Event::GeneralRef(g) if in_title(&path) => {
                let name = g.decode().expect("UTF-8 reference");
                let ch = match g.resolve_char_ref().expect("character reference") {
                    Some(c) => c.to_string(),
                    None => quick_xml::escape::unescape(&format!("&{name};"))
                        .expect("a predefined entity")
                        .into_owned(),
                };
                out.last_mut().expect("an item").title.push_str(&ch);
            }
            Event::Eof => break,
            _ => {}
        }
    }
    out
}

/// The Subresource Integrity string of a file's SHA-256 (`sha256-` and base64), computed
/// apart from the node: the digest by `sha256sum`.
pub fn sri_sha256(path: &Path) -> String {
    let digest = hex::decode(sha256_file(path)).expect("sha256sum prints hex");
    format!(
        "sha256-{}",
        base64::engine::general_purpose::STANDARD.encode(digest)
    )
}

/// Checks that `ep`'s enclosure is `file` (its length), and that its one alternate enclosure
/// is marked as that same file (`default="true"`, same type and length), lists the
/// enclosure's URL first among its sources, and carries one SRI integrity equal to `file`'s
/// SHA-256: the tag covers every source of its alternate enclosure. Returns that alternate.
pub fn assert_integrity_covers_every_source<'a>(
    ep: &'a FeedEpisode,
    file: &Path,
) -> &'a FeedAlternate {
    let size = std::fs::metadata(file).expect("the episode's file").len();
    let size = size.to_string();
    assert_eq!(ep.enclosure.get("length"), Some(&size), "{ep:?}");
    assert_eq!(ep.alternates.len(), 1, "{ep:?}");
    let alt = &ep.alternates[0];
    assert_eq!(
        alt.attrs.get("default").map(String::as_str),
        Some("true"),
        "{alt:?}"
    );
    assert_eq!(alt.attrs.get("type"), ep.enclosure.get("type"), "{ep:?}");
    assert_eq!(alt.attrs.get("length"), Some(&size), "{alt:?}");
    assert_eq!(alt.sources.first(), ep.enclosure.get("url"), "{ep:?}");
    assert_eq!(
        alt.integrity,
        vec![("sri".to_string(), sri_sha256(file))],
        "{}: {alt:?}",
        file.display()
    );
    alt
}
