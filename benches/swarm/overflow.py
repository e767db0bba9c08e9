#!/usr/bin/env python3
"""The overflow to the Icecast relay (issue 20, item 6), on a really full uplink. Driven by
run.sh (OVERFLOW=100,...).

The network is the lab's (lab.py): the node's namespace shaped to --node-up Mbit/s up and
--node-down down. Beside it, a relay's namespace (100 Mbit/s each way: a hosted Icecast)
runs Debian's icecast2, which the node pushes its MP3 stream to (`[[live.push]]`). N plain
listeners (curl -L on /live.mp3, spread over a few namespaces of 100 Mbit/s, so the node's
uplink is the only narrow link) join one every --every seconds and all listen until --hold
seconds after the last has joined. Past what the uplink carries (10 Mbit/s: about 75 listeners of 128 kbit/s), they
all fall behind together; the node must see it and send the next ones to the relay, keeping
those it has.

A run with --no-relay is the node alone (the before). Reported per run: where listeners
ended up (the node, the relay), how many kept up there (received at least 97 % of the
stream's bytes for their time, after the start burst), the slowest and median rates, when
the node said its uplink was full and how many listeners it had then, and its uplink.
"""

import argparse
import json
import os
import subprocess
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.dirname(HERE))
import icecast  # noqa: E402
import lab  # noqa: E402
from live_bench import stop_all  # noqa: E402

HOMES = 4
STREAM_BYTES = 128_000 / 8


def one_run(a, n, relay):
    """The node (and the relay when `relay`), n listeners ramping up; the report."""
    lab.cleanup()
    procs = []
    work = os.path.join(a.work, f"{n}-{'relay' if relay else 'alone'}")
    os.makedirs(work, exist_ok=True)
    try:
        lab.sh("ip", "netns", "add", lab.ns("router"))
        lab.sh("ip", "-n", lab.ns("router"), "link", "add", "br0", "type", "bridge")
        lab.sh("ip", "-n", lab.ns("router"), "link", "set", "br0", "up")
        lab.add_host("node", 0, a.node_up, a.node_down)
        # The lab's probe: its questions cost the node's uplink little, and are taken off.
        lab.add_host("router-probe", 1, 1000, 1000)
        relay_ip = lab.add_host("relay", 2, 100, 100)
        for i in range(HOMES):
            lab.add_host(f"h{i}", 3 + i, 100, 100)
        extra = ""
        if relay:
            procs.append(icecast.start_icecast(work, n + 10, where="relay", ip=relay_ip))
            time.sleep(1)
            extra = f"[[live.push]]\nurl = \"icecast://source:benchpw@{relay_ip}:{icecast.PORT}/radio.mp3\"\n"
        node = lab.start_node(a.bin, work, extra)
        procs.append(node)
        lab.wait_segments()
        if relay:
            deadline = time.time() + 30
            while lab.get_json("/api/health")["live"]["pushes"][0]["state"] != "sending":
                if time.time() > deadline:
                    raise RuntimeError("the push to the relay is not on air")
                time.sleep(1)
        lab.log(f"{n} plain listeners, one every {a.every} s, {'with' if relay else 'without'} the relay")

        got = {}

        def secs(i):
            return round((n - 1 - i) * a.every + a.hold)

        def listen(i):
            time.sleep(i * a.every)
            r = subprocess.run(
                ["ip", "netns", "exec", lab.ns(f"h{i % HOMES}"), "curl", "-L", "-s", "-o", "/dev/null",
                 "-m", str(secs(i)), "-w", "%{size_download} %{num_redirects}",
                 f"http://{lab.NODE_IP}:{lab.PORT}/live.mp3"],
                capture_output=True, text=True)
            size, redirects = (r.stdout.split() + ["0", "0"])[:2]
            got[i] = (int(size or 0), int(redirects or 0) > 0, secs(i))

        threads = [threading.Thread(target=listen, args=(i,)) for i in range(n)]
        t0 = time.time()
        tx0 = lab.tx_bytes(lab.ns("node"))
        for t in threads:
            t.start()
        full_at = None
        peak = 0
        while any(t.is_alive() for t in threads):
            time.sleep(2)
            h = lab.get_json("/api/health")
            here = h["live"]["listeners"]
            peak = max(peak, here)
            if full_at is None and h["live"].get("overflow", {}).get("full"):
                full_at = {"secs": round(time.time() - t0, 1), "joined": min(n, int((time.time() - t0) / a.every) + 1),
                           "listeners_on_node": here}
                lab.log(f"the node says its uplink is full: {full_at}")
        window = time.time() - t0
        tx = lab.tx_bytes(lab.ns("node")) - tx0
        overflow = lab.get_json("/api/health")["live"].get("overflow")
        # Kept up: 97 % of the stream for its time; the start bursts (the node's 1 s, icecast's
        # 64 kB) only help, so the bar is not lowered for them.
        def side(rows):
            rates = sorted(b * 8 / t / 1e3 for b, _, t in rows)
            return {"listeners": len(rows), "kept_up": sum(1 for b, _, t in rows if b >= 0.97 * STREAM_BYTES * t),
                    "min_kbit": round(rates[0], 1) if rates else None,
                    "median_kbit": round(rates[len(rates) // 2], 1) if rates else None}

        rows = [got[i] for i in range(n)]
        report = {
            "listeners": n, "relay": relay, "every_secs": a.every, "hold_secs": a.hold,
            "node_up_mbit": a.node_up,
            "node": side([r for r in rows if not r[1]]),
            "relay_side": side([r for r in rows if r[1]]),
            "most_on_node": peak,
            "full_at": full_at,
            "overflow": overflow,
            "node_uplink_mbit": round(tx * 8 / window / 1e6, 3),
        }
        lab.log(json.dumps(report))
        return report
    finally:
        stop_all(procs, None)
        lab.cleanup()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", required=True)
    ap.add_argument("--work", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--sizes", default="130")
    ap.add_argument("--hold", type=int, default=60)
    ap.add_argument("--every", type=float, default=1)
    lab.add_link_args(ap)
    ap.add_argument("--no-relay", action="store_true", help="also run each size without the relay")
    a = ap.parse_args()
    # icecast2 runs as nobody, who must reach its work dir through the bench's own.
    for d in (os.path.dirname(a.work), a.work):
        os.chmod(d, 0o711)
    runs = []
    for n in (int(s) for s in a.sizes.split(",")):
        if a.no_relay:
            runs.append(one_run(a, n, relay=False))
        runs.append(one_run(a, n, relay=True))
    with open(a.out, "w") as f:
        json.dump({"stream_kbit": 128, "runs": runs}, f, indent=1)


if __name__ == "__main__":
    main()
