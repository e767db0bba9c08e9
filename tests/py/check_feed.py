"""Reads a podcast feed with feedparser (what many podcast tools use) and checks that
every episode has a title, an enclosure with a length and type, and a Podcasting 2.0
alternate enclosure with a .torrent source and a magnet source.

usage: check_feed.py FEED.xml EXPECTED_EPISODES
"""
import sys
import xml.etree.ElementTree as ET

import feedparser

PODCAST = "{https://podcastindex.org/namespace/1.0}"


def main():
    path, expected = sys.argv[1], int(sys.argv[2])
    d = feedparser.parse(path)
    if d.bozo:
        sys.exit(f"feedparser: malformed feed: {d.bozo_exception}")
    if d.version != "rss20":
        sys.exit(f"not RSS 2.0 but {d.version!r}")
    if not d.feed.get("title"):
        sys.exit("the feed has no title")
    if len(d.entries) != expected:
        sys.exit(f"{len(d.entries)} entries, expected {expected}")
    for e in d.entries:
        enc = [link for link in e.get("links", []) if link.get("rel") == "enclosure"]
        if not e.get("title") or len(enc) != 1:
            sys.exit(f"entry {e.get('title')!r}: no title or not one enclosure")
        if not enc[0].get("length") or not enc[0].get("type", "").startswith("audio/"):
            sys.exit(f"entry {e.title!r}: enclosure without length or audio type: {enc[0]}")
        if not e.get("itunes_duration"):
            sys.exit(f"entry {e.title!r}: no itunes:duration")
    # feedparser does not keep unknown namespaces' children: read the alternate
    # enclosures with the standard XML parser.
    items = ET.parse(path).getroot().findall("./channel/item")
    for item in items:
        title = item.findtext("title")
        alts = item.findall(f"{PODCAST}alternateEnclosure")
        if len(alts) != 1:
            sys.exit(f"{title!r}: {len(alts)} podcast:alternateEnclosure")
        uris = [s.get("uri", "") for s in alts[0].findall(f"{PODCAST}source")]
        if not any(u.endswith(".torrent") for u in uris):
            sys.exit(f"{title!r}: no .torrent source in {uris}")
        if not any(u.startswith("magnet:?xt=urn:btih:") for u in uris):
            sys.exit(f"{title!r}: no magnet source in {uris}")
    print(f"ok: {len(d.entries)} episodes, feed {d.feed.title!r}")


main()
