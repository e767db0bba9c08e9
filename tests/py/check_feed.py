"""Reads a podcast feed as podcast apps do and checks every episode.

- feedparser (what many podcast tools use): a title, one enclosure with a length and an
  audio type, an itunes:duration;
- podcastparser (gPodder's parser, also in other apps): the same titles and enclosures;
- the channel, read by both: the station's picture (itunes:image and <image>, the same
  URL), its language and itunes:category, the feed's own address (atom:link rel="self");
- every episode's date (pubDate), read by both;
- the standard XML parser, for the Podcasting 2.0 tags the two above drop: the channel's
  podcast:guid (a version 5 UUID), and for every episode one
  podcast:alternateEnclosure marked default="true" for the enclosure's own file, with the
  enclosure's URL, a .torrent and a magnet among its sources, and a podcast:integrity of
  type "sri" holding a SHA-256. Given LIBRARY_DIR, that digest must be the one of the file
  of the same name there, hashed here with hashlib.

usage: check_feed.py FEED.xml EXPECTED_EPISODES [LIBRARY_DIR]
"""
import base64
import hashlib
import os
import sys
import urllib.parse
import uuid
import xml.etree.ElementTree as ET

import feedparser
import podcastparser

PODCAST = "{https://podcastindex.org/namespace/1.0}"


def check_feedparser(path, expected):
    d = feedparser.parse(path)
    if d.bozo:
        sys.exit(f"feedparser: malformed feed: {d.bozo_exception}")
    if d.version != "rss20":
        sys.exit(f"not RSS 2.0 but {d.version!r}")
    if not d.feed.get("title"):
        sys.exit("the feed has no title")
    if len(d.entries) != expected:
        sys.exit(f"{len(d.entries)} entries, expected {expected}")
    image = d.feed.get("image", {}).get("href", "")
    if not image.endswith(".png"):
        sys.exit(f"the feed has no picture: {d.feed.get('image')!r}")
    if not d.feed.get("language"):
        sys.exit("the feed has no language")
    if not [t for t in d.feed.get("tags", []) if t.get("term")]:
        sys.exit("the feed has no itunes:category")
    selfs = [link["href"] for link in d.feed.get("links", []) if link.get("rel") == "self"]
    if len(selfs) != 1 or not selfs[0].endswith("/feed.xml"):
        sys.exit(f"the feed does not name its own address: {d.feed.get('links')!r}")
    for e in d.entries:
        enc = [link for link in e.get("links", []) if link.get("rel") == "enclosure"]
        if not e.get("title") or len(enc) != 1:
            sys.exit(f"entry {e.get('title')!r}: no title or not one enclosure")
        if not enc[0].get("length") or not enc[0].get("type", "").startswith("audio/"):
            sys.exit(f"entry {e.title!r}: enclosure without length or audio type: {enc[0]}")
        if not e.get("itunes_duration"):
            sys.exit(f"entry {e.title!r}: no itunes:duration")
        if not e.get("published_parsed"):
            sys.exit(f"entry {e.title!r}: no date (pubDate)")
    return d


def check_podcastparser(path, d):
    with open(path, "rb") as f:
        p = podcastparser.parse("http://station.invalid/feed.xml", f)
    if p.get("title") != d.feed.title:
        sys.exit(f"podcastparser: title {p.get('title')!r}, feedparser {d.feed.title!r}")
    if p.get("cover_url") != d.feed.image.href:
        sys.exit(f"podcastparser: picture {p.get('cover_url')!r}, feedparser {d.feed.image.href!r}")
    want = {
        e.title: (e.enclosures[0].href, int(e.enclosures[0].length)) for e in d.entries
    }
    got = {}
    for ep in p.get("episodes", []):
        encs = ep.get("enclosures", [])
        if len(encs) != 1:
            sys.exit(f"podcastparser: {ep.get('title')!r} has {len(encs)} enclosures")
        if not encs[0].get("mime_type", "").startswith("audio/"):
            sys.exit(f"podcastparser: {ep.get('title')!r}: {encs[0]}")
        if not ep.get("total_time"):
            sys.exit(f"podcastparser: {ep.get('title')!r} has no duration")
        if not ep.get("published"):
            sys.exit(f"podcastparser: {ep.get('title')!r} has no date")
        got[ep.get("title")] = (encs[0]["url"], encs[0]["file_size"])
    if got != want:
        sys.exit(f"podcastparser read {got}, feedparser {want}")


def sri_sha256(path):
    with open(path, "rb") as f:
        digest = hashlib.sha256(f.read()).digest()
    return "sha256-" + base64.b64encode(digest).decode()


def check_podcast_tags(path, library):
    channel = ET.parse(path).getroot().find("channel")
    guid = channel.findtext(f"{PODCAST}guid") or ""
    try:
        if uuid.UUID(guid).version != 5:
            sys.exit(f"podcast:guid {guid!r} is not a version 5 UUID")
    except ValueError:
        sys.exit(f"podcast:guid {guid!r} is not a UUID")
    for item in channel.findall("item"):
        title = item.findtext("title")
        enclosure = item.find("enclosure")
        alts = item.findall(f"{PODCAST}alternateEnclosure")
        if len(alts) != 1:
            sys.exit(f"{title!r}: {len(alts)} podcast:alternateEnclosure")
        alt = alts[0]
        if alt.get("default") != "true":
            sys.exit(f"{title!r}: the alternate enclosure is not default=\"true\"")
        for attr, enc_attr in (("type", "type"), ("length", "length")):
            if alt.get(attr) != enclosure.get(enc_attr):
                sys.exit(f"{title!r}: alternate {attr} {alt.get(attr)!r} is not the enclosure's")
        uris = [s.get("uri", "") for s in alt.findall(f"{PODCAST}source")]
        if enclosure.get("url") not in uris:
            sys.exit(f"{title!r}: the enclosure's URL is not among the sources {uris}")
        if not any(u.endswith(".torrent") for u in uris):
            sys.exit(f"{title!r}: no .torrent source in {uris}")
        if not any(u.startswith("magnet:?xt=urn:btih:") for u in uris):
            sys.exit(f"{title!r}: no magnet source in {uris}")
        integrity = alt.findall(f"{PODCAST}integrity")
        if len(integrity) != 1 or integrity[0].get("type") != "sri":
            sys.exit(f"{title!r}: not one podcast:integrity of type sri")
        value = integrity[0].get("value", "")
        if not value.startswith("sha256-") or len(base64.b64decode(value[7:], validate=True)) != 32:
            sys.exit(f"{title!r}: integrity {value!r} is not an SRI SHA-256")
        if library:
            name = urllib.parse.unquote(enclosure.get("url").rsplit("/", 1)[1])
            want = sri_sha256(os.path.join(library, name))
            if value != want:
                sys.exit(f"{title!r}: integrity {value}, the file's SHA-256 is {want}")


def main():
    path, expected = sys.argv[1], int(sys.argv[2])
    library = sys.argv[3] if len(sys.argv) > 3 else None
    d = check_feedparser(path, expected)
    check_podcastparser(path, d)
    check_podcast_tags(path, library)
    print(f"ok: {len(d.entries)} episodes, feed {d.feed.title!r}")


main()
