#!/usr/bin/env python3
"""Icecast beside the swarm lab (issue 20): how many plain listeners Debian's icecast2 holds
on the same shaped station link before they stall. Driven by run.sh (ICECAST=60,70,...).

The network is the lab's (lab.py): the station's namespace shaped to --node-up Mbit/s up
and --node-down down, on the bridge. In it, icecast2 takes a 128 kbit/s MP3 source (ffmpeg's
sine, in the same namespace, so the source costs the uplink nothing) and N listeners (curl,
spread over a few namespaces of 100 Mbit/s, so the station's uplink is the only narrow
link) each play /live.mp3 for --seconds. A listener keeps up when it received at least what
the stream sent it in that time (128 kbit/s less 3 %, after icecast's 64 kB start burst);
with too many, TCP shares the uplink and every one of them falls behind together.
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
import lab  # noqa: E402
from live_bench import ICECAST_XML, stop_all  # noqa: E402

PORT = 8000
HOMES = 4


def start_icecast(work, clients, where="node", ip=lab.NODE_IP):
    """icecast2 in namespace `where` (the station's), on `ip`; returns the process."""
    # It drops to nobody, who must reach its log dir: through the bench's private work dir too.
    for d in (os.path.dirname(work), work):
        os.chmod(d, 0o711)
    logdir = os.path.join(work, "icecast-log")
    os.makedirs(logdir, exist_ok=True)
    os.chmod(logdir, 0o777)
    owner = "<changeowner><user>nobody</user><group>nogroup</group></changeowner>"
    xml = (ICECAST_XML.format(port=PORT, logdir=logdir, owner=owner)
           .replace("<clients>100</clients>", f"<clients>{clients}</clients>")
           .replace("127.0.0.1", ip))
    path = os.path.join(work, "icecast.xml")
    with open(path, "w") as f:
        f.write(xml)
    return subprocess.Popen(["ip", "netns", "exec", lab.ns(where), "icecast2", "-c", path],
                            stdout=open(os.path.join(work, "icecast.log"), "w"), stderr=subprocess.STDOUT)


def one_size(n, seconds):
    """n listeners for `seconds`: each one's bytes."""
    got = {}

    def listen(i):
        r = subprocess.run(
            ["ip", "netns", "exec", lab.ns(f"h{i % HOMES}"), "curl", "-s", "-o", "/dev/null", "-m", str(seconds),
             "-w", "%{size_download}", f"http://{lab.NODE_IP}:{PORT}/live.mp3"],
            capture_output=True, text=True)
        got[i] = int(r.stdout.strip() or 0)

    threads = [threading.Thread(target=listen, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return [got[i] for i in range(n)]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--work", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--sizes", default="60,70,75,80,90")
    ap.add_argument("--seconds", type=int, default=60)
    lab.add_link_args(ap)
    a = ap.parse_args()
    sizes = [int(s) for s in a.sizes.split(",")]
    lab.cleanup()
    procs = []
    try:
        lab.sh("ip", "netns", "add", lab.ns("router"))
        lab.sh("ip", "-n", lab.ns("router"), "link", "add", "br0", "type", "bridge")
        lab.sh("ip", "-n", lab.ns("router"), "link", "set", "br0", "up")
        lab.add_host("node", 0, a.node_up, a.node_down)
        for i in range(HOMES):
            lab.add_host(f"h{i}", 2 + i, 100, 100)
        procs.append(start_icecast(a.work, max(sizes) + 10))
        time.sleep(1)
        procs.append(subprocess.Popen(
            ["ip", "netns", "exec", lab.ns("node"), "ffmpeg", "-v", "error", "-nostdin", "-re",
             "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=44100", "-ac", "2", "-c:a", "libmp3lame",
             "-b:a", "128k", "-content_type", "audio/mpeg", "-f", "mp3",
             f"icecast://source:benchpw@{lab.NODE_IP}:{PORT}/live.mp3"],
            stdout=subprocess.DEVNULL, stderr=open(os.path.join(a.work, "ffmpeg.log"), "w")))
        time.sleep(5)
        need = 0.97 * 128_000 / 8 * a.seconds
        rows = []
        for n in sizes:
            got = one_size(n, a.seconds)
            kept = sum(1 for b in got if b >= need)
            row = {"listeners": n, "kept_up": kept, "min_kbit": round(min(got) * 8 / a.seconds / 1e3, 1),
                   "median_kbit": round(sorted(got)[n // 2] * 8 / a.seconds / 1e3, 1)}
            lab.log(f"icecast2: {json.dumps(row)}")
            rows.append(row)
        with open(a.out, "w") as f:
            json.dump({"node_up_mbit": a.node_up, "seconds": a.seconds, "stream_kbit": 128, "sizes": rows}, f, indent=1)
    finally:
        stop_all(procs, None)
        lab.cleanup()


if __name__ == "__main__":
    main()
