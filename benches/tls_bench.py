#!/usr/bin/env python3
"""TLS cost: the node's HTTP tracker over https (keep-alive) against the same node over plain
http, in the same run, alternating. One node, one core (taskset), wrk on the other core with
benches/tracker_http.lua; the node serves a self-signed certificate from files (tls.cert_file,
the same handshake and record layer as an ACME certificate; no ACME service needed).

Figures: announces per second and per CPU-second of the node (its utime+stime over the
measured window), and the https/http ratio of the latter.

    benches/tls.sh                  # RUNS=3 SECONDS_=15 CONNS=50
"""

import json
import os
import random
import statistics
import subprocess
import sys
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from benchlib import log, machine  # noqa: E402
from trackerbench import NodeTracker, free_port, last_json, measured  # noqa: E402

BENCH_DIR = os.path.dirname(os.path.abspath(__file__))


class HttpsNode(NodeTracker):
    """The tracker's node with https on too (certificate files), on its own port."""

    def __init__(self, work, tag, binary, cert, key):
        super().__init__(work, tag, binary,
                         extra=f'\n[tls]\ncert_file = "{cert}"\nkey_file = "{key}"\n')
        self.https_port = free_port()

    def popen(self, args, env=None, cwd=None):
        super().popen(args + ["--https", f"127.0.0.1:{self.https_port}"], env=env, cwd=cwd)


def announce_paths(path, torrents, peers):
    """One announce path per simulated peer, over `torrents` swarms (open tracker mode)."""
    rng = random.Random(5)
    hashes = [bytes(rng.getrandbits(8) for _ in range(20)) for _ in range(torrents)]
    with open(path, "w") as f:
        for n in range(peers):
            q = urllib.parse.urlencode({
                "info_hash": hashes[rng.randrange(torrents)],
                "peer_id": b"-SP0001-" + n.to_bytes(12, "big"),
                "port": 1024 + n % 60000, "uploaded": 0, "downloaded": 0,
                "left": 0 if rng.random() < 0.75 else 50, "compact": 1, "numwant": 30,
                "event": "started"})
            f.write(f"/announce?{q}\n")


def self_signed(work):
    cert, key = os.path.join(work, "cert.pem"), os.path.join(work, "key.pem")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                    "ec_paramgen_curve:P-256", "-nodes", "-keyout", key, "-out", cert,
                    "-days", "1", "-subj", "/CN=localhost",
                    "-addext", "subjectAltName=IP:127.0.0.1"],
                   check=True, capture_output=True)
    return cert, key


def run_wrk(node, scheme, port, paths, seconds, conns, warmup):
    env = dict(os.environ, PATHS=paths, CLOSE="0")
    url = f"{scheme}://127.0.0.1:{port}/"
    script = os.path.join(BENCH_DIR, "tracker_http.lua")
    subprocess.run(["wrk", "-t1", f"-c{conns}", f"-d{warmup}s", "-s", script, url],
                   env=env, capture_output=True, timeout=warmup + 60)
    cmd = ["wrk", "-t1", f"-c{conns}", f"-d{seconds}s", "--timeout", "5s", "--latency",
           "-s", script, url]
    out, _err, s = measured(cmd, node, 0.5, seconds - 1, seconds + 60, env=env)
    r = last_json(out)
    cpu = s.get("tracker_cpu_share") or 0
    ok_per_s = r["announces_per_s"]
    return {"scheme": scheme, "announces_per_s": round(ok_per_s, 1),
            "node_cpu_share": cpu,
            "announces_per_cpu_s": round(ok_per_s / cpu, 1) if cpu else None,
            "failures": r["failures"], "socket_errors": r["socket_errors"],
            "p50_us": r["p50_us"], "p99_us": r["p99_us"]}


def main():
    binary, work, out = sys.argv[1], sys.argv[2], sys.argv[3]
    runs = int(os.environ.get("RUNS", "3"))
    seconds = int(os.environ.get("SECONDS_", "15"))
    conns = int(os.environ.get("CONNS", "50"))
    paths = os.path.join(work, "paths.txt")
    announce_paths(paths, 1000, 20000)
    cert, key = self_signed(work)
    node = HttpsNode(work, "node", binary, cert, key).start()
    rows = []
    try:
        for i in range(runs):
            for scheme, port in (("http", node.http_port), ("https", node.https_port)):
                r = run_wrk(node, scheme, port, paths, seconds, conns, warmup=3)
                log(f"run {i + 1} {json.dumps(r)}")
                rows.append(r)
    finally:
        node.stop()

    def med(scheme, key):
        v = [r[key] for r in rows if r["scheme"] == scheme and r[key] is not None]
        return statistics.median(v) if v else None

    http, https = med("http", "announces_per_cpu_s"), med("https", "announces_per_cpu_s")
    summary = {
        "http_announces_per_cpu_s": http, "https_announces_per_cpu_s": https,
        "https_over_http": round(https / http, 3) if http and https else None,
        "http_announces_per_s": med("http", "announces_per_s"),
        "https_announces_per_s": med("https", "announces_per_s"),
        "runs": runs, "seconds": seconds, "connections": conns,
    }
    with open(out, "w") as f:
        f.write(json.dumps(machine()) + "\n")
        for r in rows:
            f.write(json.dumps(r) + "\n")
        f.write("median: " + json.dumps(summary) + "\n")
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
