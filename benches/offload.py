#!/usr/bin/env python3
"""Live offload (issue 5): the node's upload per HLS listener with peer-to-peer on, for N
headless Chromium listeners on the listen page, against the same listeners with P2P off.

One node (`run`, the generated tone as input) serves every round. A round runs
tests/js/live_p2p.mjs with N listeners (one Chromium, a context each, 390x844, started
--stagger s apart, each playing --seconds), P2P on (the page's hls.js + p2p-media-loader,
signalling through the node's tracker) or off (`?p2p=0`, p2p-media-loader's
isP2PDisabled). The node's upload to the round is the growth of its own counter of Opus
segment bytes served (`live.hls_bytes_served.opus` in /api/health) over the round;
playlists, the init segment, the page and the tracker's WebSocket are not in it (about 1%).
The listeners' own view (p2p-media-loader's onSegmentLoaded by source) comes from the
driver's `result` line.
"""

import argparse
import json
import os
import subprocess
import sys
import time
import urllib.error

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from benchlib import Node, http_get, log, wait_until  # noqa: E402

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def listed(node):
    try:
        return http_get(node.base + "/live/opus.m3u8").count(b"#EXTINF")
    except (urllib.error.URLError, ConnectionError, OSError):
        return 0


def served(node):
    h = node.health()
    return h["live"]["hls_bytes_served"]["opus"], h["live"]["hls_segments_served"]["opus"]


def round_(node, n, p2p, seconds, stagger, work):
    b0, s0 = served(node)
    t0 = time.monotonic()
    args = ["node", os.path.join(REPO, "tests/js/live_p2p.mjs"), f"--base={node.base}",
            f"--shot={work}/shot-{n}-{int(p2p)}.png", f"--listeners={n}",
            f"--seconds={seconds}", f"--stagger={stagger}"]
    if not p2p:
        args.append("--http-only")
    r = subprocess.run(args, cwd=REPO, capture_output=True, text=True,
                       timeout=seconds + 120 + n * 30)
    wall = time.monotonic() - t0
    b1, s1 = served(node)
    line = next((l for l in r.stdout.splitlines() if l.startswith("result ")), None)
    if r.returncode != 0 or line is None:
        log(f"round n={n} p2p={p2p} failed ({r.returncode}): {r.stdout[-1500:]} {r.stderr[-500:]}")
        return None
    listeners = json.loads(line[len("result "):])
    seg = {src: sum(l["segments"][src] for l in listeners) for src in ("http", "p2p")}
    byt = {src: sum(l["bytes"][src] for l in listeners) for src in ("http", "p2p")}
    played = sum(l["played"] for l in listeners)
    res = {
        "listeners": n, "p2p": p2p, "wall_secs": round(wall, 1),
        "played_secs_total": round(played, 1),
        "node_bytes": b1 - b0, "node_segments": s1 - s0,
        "node_bytes_per_listener": round((b1 - b0) / n),
        # Per listener-second of audio played: comparable across rounds of other lengths.
        "node_bytes_per_played_sec": round((b1 - b0) / played) if played else None,
        "listener_segments": seg, "listener_bytes": byt,
        "p2p_share_of_segments": round(seg["p2p"] / (seg["http"] + seg["p2p"]), 3)
        if seg["http"] + seg["p2p"] else None,
        "peers": [l["peers"] for l in listeners],
    }
    log(json.dumps(res))
    return res


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin"); ap.add_argument("--work"); ap.add_argument("--out")
    ap.add_argument("--listeners", default="1,2,4")
    ap.add_argument("--seconds", type=int, default=60)
    ap.add_argument("--stagger", type=float, default=2)
    a = ap.parse_args()
    cfg = ("audio = \"sine\"\n[scan]\nrescan_secs = 60\n[swarm]\nenabled = false\n"
           "dht = false\nlsd = false\n[webtorrent]\nenabled = false\n"
           "[live]\nbitrate_kbps = 128\nchannels = 2\nrecord = false\n")
    os.makedirs(os.path.join(a.work, "lib"), exist_ok=True)
    node = Node(a.bin, os.path.join(a.work, "data"), [os.path.join(a.work, "lib")], cfg,
                a.work, "node-offload").start()
    rounds = []
    try:
        wait_until(lambda: (h := node.health()) and h["live"]["state"] == "on_air", 30, 0.1,
                   "node on air")
        # Listeners start about five segments behind the live edge.
        wait_until(lambda: listed(node) >= 6, 40, 0.5, "six Opus segments")
        for n in [int(x) for x in a.listeners.split(",")]:
            for p2p in (False, True):
                rounds.append(round_(node, n, p2p, a.seconds, a.stagger, a.work))
                time.sleep(3)
    finally:
        node.stop()
    with open(a.out, "w") as f:
        json.dump({"seconds": a.seconds, "stagger": a.stagger, "rounds": rounds}, f, indent=1)


if __name__ == "__main__":
    main()
