"""Relay benchmark: the origin's upload with N listeners on one relay against N listeners
on the origin itself.

Node A is on air with its test tone; node B follows it with `relay = true`. For each N,
N clients read A's /live.ogg directly for SECONDS, then N clients read B's relay for the
same time. A's upload is measured on A's side of the wire: the bytes the direct clients
received, and the bytes B's relay took from A (B's /api/federation) over the same window.

usage: relay_bench.py --bin BIN --work DIR --seconds S --listeners 1,2,4,8
"""
import argparse
import json
import os
import sys
import threading
import time
import urllib.request

sys.path.insert(0, os.path.dirname(__file__))
from benchlib import Node, get_json, log, machine, swarm_config, wait_until  # noqa: E402


def listen(url, seconds, counts, i):
    end = time.monotonic() + seconds
    n = 0
    with urllib.request.urlopen(url, timeout=10) as r:
        while time.monotonic() < end:
            chunk = r.read(4096)
            if not chunk:
                break
            n += len(chunk)
    counts[i] = n


def clients(url, n, seconds):
    counts = [0] * n
    ts = [threading.Thread(target=listen, args=(url, seconds, counts, i)) for i in range(n)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    return sum(counts)


def relay_bytes(b):
    f = get_json(b.base + "/api/federation", timeout=5)
    return f["follows"][0].get("relay_bytes_in") or 0


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
    p.add_argument("--seconds", type=float, default=20)
    p.add_argument("--listeners", default="1,2,4,8")
    a = p.parse_args()
    origin = Node(a.bin, os.path.join(a.work, "a"), [], 'audio = "sine"\n' + swarm_config(),
                  a.work, "a").start()
    wait_until(quietly(lambda: origin.health()["live"]["state"] == "on_air"), 30, 0.2,
               "A on air")
    cfg = swarm_config() + f'\n[federation]\nfollow = ["{origin.base}"]\npoll_secs = 5\nrelay = true\n'
    b = Node(a.bin, os.path.join(a.work, "b"), [], cfg, a.work, "b").start()
    path = wait_until(
        quietly(lambda: get_json(b.base + "/api/federation")["follows"][0].get("relay")),
        30, 0.2, "B relays A")
    time.sleep(2)
    rows = []
    for n in [int(x) for x in a.listeners.split(",")]:
        direct = clients(origin.base + "/live.ogg", n, a.seconds)
        before = relay_bytes(b)
        via = clients(b.base + path, n, a.seconds)
        relay_in = relay_bytes(b) - before
        row = {"listeners": n, "origin_bytes_direct": direct, "origin_bytes_with_relay": relay_in,
               "listener_bytes_via_relay": via,
               "origin_upload_ratio_relay_over_direct": round(relay_in / direct, 3) if direct else None}
        log(json.dumps(row))
        rows.append(row)
    b.stop()
    origin.stop()
    print(json.dumps({"machine": machine(), "seconds": a.seconds, "rows": rows}, indent=1))


main()
