#!/usr/bin/env python3
"""Station upload per listener with WebRTC peers (issue 15), driven by share.sh.

  python3 benches/share_bench.py --bin BIN --work DIR --lib LIB --clients 4 --runs 1 --out JSON

The node seeds LIB/bench.mp3 on 127.0.0.1; tests/js/webtorrent_share.mjs starts CLIENTS
webtorrent 2.8.5 clients in one Node process, one after another (each once the previous one
has the whole file, all staying connected and seeding), over WebRTC alone (no web seed).
Per client: bytes from the node and from other clients (the script's per-wire counts), and the
node's own count of WebRTC upload (/api/health). Done once with `[webtorrent] share_first =
false` (every piece shown at once: the seeder as it was) and once with the default (on), the
same file and clients in the same run. The figure is node upload per client 2..N / file size.
"""
import argparse, json, os, statistics, subprocess, sys
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from benchlib import Node, log, wait_until, get_json, swarm_config

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)


def sha256(path):
    import hashlib
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for b in iter(lambda: f.read(1 << 20), b""):
            h.update(b)
    return h.hexdigest()


def one(a, share_first, run):
    tag = f"share-{'on' if share_first else 'off'}-{run}"
    cfg = swarm_config(rescan=1, extra=f"[webtorrent]\nshare_first = {str(share_first).lower()}\n")
    node = Node(a.bin, os.path.join(a.work, tag + "-data"), [a.lib], cfg, a.work, tag).start()
    try:
        wait_until(lambda: (h := node.health()) and h["library"]["items"] >= 1, 120, 0.2, "library hashed")
        item = get_json(node.base + "/api/library")[0]
        ih = item["infohash"].lower()

        def seeder():
            t = get_json(node.base + "/api/tracker") or {}
            return any(x["info_hash"] == ih and x["ws"]["complete"] >= 1
                       for x in t.get("torrents", []))
        wait_until(seeder, 30, 0.2, "the node's WebRTC peer announced")
        path = os.path.join(a.lib, "bench.mp3")
        size = os.path.getsize(path)
        p = subprocess.run(["node", os.path.join(REPO, "tests", "js", "webtorrent_share.mjs"),
                            f"--tracker=ws://127.0.0.1:{node.http_port}/announce", f"--infohash={ih}",
                            "--name=bench.mp3", f"--sha256={sha256(path)}", f"--size={size}",
                            f"--clients={a.clients}", "--no-check"],
                           capture_output=True, text=True, cwd=REPO, timeout=120 + 90 * a.clients)
        with open(os.path.join(a.work, tag + "-js.log"), "w") as f:
            f.write(p.stdout + p.stderr)
        lines = [l for l in p.stdout.splitlines() if l.startswith("{")]
        if p.returncode != 0 or not lines:
            return {"share_first": share_first, "error": (p.stdout + p.stderr)[-800:]}
        r = json.loads(lines[-1])
        later = r["results"][1:]
        return {"share_first": share_first, "size": size, "results": r["results"],
                "node_per_later_client": [x["node_uploaded"] / size for x in later],
                "mean_node_per_later_client": statistics.mean(x["node_uploaded"] / size for x in later),
                "mean_secs_later_client": statistics.mean(x["secs"] for x in later)}
    finally:
        node.stop()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", required=True)
    ap.add_argument("--work", required=True)
    ap.add_argument("--lib", required=True)
    ap.add_argument("--clients", type=int, default=4)
    ap.add_argument("--runs", type=int, default=1)
    ap.add_argument("--out", required=True)
    a = ap.parse_args()
    out = []
    for run in range(a.runs):
        for share_first in (False, True):
            r = one(a, share_first, run)
            log(json.dumps({k: v for k, v in r.items() if k != "results"}))
            out.append(r)
    with open(a.out, "w") as f:
        json.dump(out, f, indent=1)


if __name__ == "__main__":
    main()
