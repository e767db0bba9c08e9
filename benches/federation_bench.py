"""Federation benchmark: time for a new follower to mirror a library on loopback.

Node A seeds FILES random files of FILE_MIB; node B starts following A (poll every 5 s)
and the clock runs until B's /api/library lists every file as mirrored from A (downloaded
by B's librqbit session, moved into its mirrors folder and hashed again). The reference is
aria2c fetching the same torrents from A in one run (BitTorrent only, no web seed), so the
ratio says what following costs beyond the transfer itself.

usage: federation_bench.py --bin BIN --work DIR --files N --file-mib M --runs R
"""
import argparse
import json
import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(__file__))
from benchlib import (  # noqa: E402
    Node, get_json, log, machine, swarm_config, torrent_without_web_seed, wait_until,
    http_get,
)


def make_library(lib, files, mib):
    os.makedirs(lib, exist_ok=True)
    for i in range(files):
        with open(os.path.join(lib, f"show{i:02d}.mp3"), "wb") as f:
            for _ in range(mib):
                f.write(os.urandom(1024 * 1024))


def quietly(fn):
    """fn() or None while the node is still starting (connection refused, not JSON yet)."""
    def call():
        try:
            return fn()
        except (OSError, ValueError, KeyError, IndexError, TypeError):
            return None
    return call


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--bin", required=True)
    p.add_argument("--work", required=True)
    p.add_argument("--files", type=int, default=8)
    p.add_argument("--file-mib", type=int, default=128)
    p.add_argument("--runs", type=int, default=2)
    a = p.parse_args()
    lib = os.path.join(a.work, "a-lib")
    make_library(lib, a.files, a.file_mib)
    total = a.files * a.file_mib * 1024 * 1024
    origin = Node(a.bin, os.path.join(a.work, "a-data"), [lib], swarm_config(rescan=2),
                  a.work, "a").start()
    wait_until(quietly(lambda: (h := origin.health())["library"]["items"] == a.files
                       and h["library"]["hashing"]["files_done"] == a.files), 600, 0.2,
               "A hashed")
    items = get_json(origin.base + "/api/library")
    results = {"machine": machine(), "files": a.files, "file_mib": a.file_mib, "runs": []}
    for r in range(a.runs):
        # Reference: aria2c fetches every torrent from A (BitTorrent only).
        tdir = os.path.join(a.work, f"torrents-{r}")
        out = os.path.join(a.work, f"aria2c-{r}")
        os.makedirs(tdir, exist_ok=True)
        paths = []
        for it in items:
            raw = http_get(origin.base + it["torrent"])
            path = os.path.join(tdir, it["infohash"] + ".torrent")
            with open(path, "wb") as f:
                f.write(torrent_without_web_seed(raw)[0])
            paths.append(path)
        t = time.monotonic()
        subprocess.run(["aria2c", "--no-conf=true", f"--dir={out}", "--seed-time=0",
                        "--enable-dht=false", "--bt-enable-lpd=false",
                        "--enable-peer-exchange=false", "--max-concurrent-downloads=8",
                        "--file-allocation=none", "--console-log-level=warn", *paths],
                       check=True, stdout=subprocess.DEVNULL)
        aria = time.monotonic() - t
        subprocess.run(["rm", "-rf", out])
        # The follower.
        cfg = swarm_config(rescan=1) + f'\n[federation]\nfollow = ["{origin.base}"]\npoll_secs = 5\n'
        b = Node(a.bin, os.path.join(a.work, f"b-data-{r}"), [], cfg, a.work, f"b{r}").start()

        def mirrored():
            lib_b = get_json(b.base + "/api/library", timeout=5)
            return sum(1 for i in lib_b if i.get("origin") == origin.base) == a.files
        wait_until(quietly(mirrored), 1200, 0.2, "B mirrored everything")
        follow = b.since_start()
        b.stop()
        subprocess.run(["rm", "-rf", os.path.join(a.work, f"b-data-{r}")])
        row = {"follower_secs": round(follow, 2), "aria2c_secs": round(aria, 2),
               "follower_MBps": round(total / follow / 1e6, 1),
               "aria2c_MBps": round(total / aria / 1e6, 1),
               "ratio_aria2c_over_follower": round(aria / follow, 3),
               "load": open("/proc/loadavg").read().split()[:3]}
        log(json.dumps(row))
        results["runs"].append(row)
    origin.stop()
    print(json.dumps(results, indent=1))


main()
