#!/usr/bin/env python3
"""TLS cost: the node's HTTP tracker over https (keep-alive) against the same node over plain
http, in the same run, alternating. One node, one core (taskset), wrk on the other core with
benches/tracker_http.lua; the node serves a self-signed certificate from files (tls.cert_file,
the same handshake and record layer as an ACME certificate; no ACME service needed).

Figures: announces per second and per CPU-second of the node (its utime+stime over the
measured window), and the https/http ratio of the latter.

Then page load to first audio (PAGE_RUNS, default 5, alternating): the node in a network
namespace (10.15.40.2, as deployed: plain http there is not a secure context), Debian's
Chromium in another (10.15.40.1) on a first visit, http://10.15.40.2/ against
https://radio.bench/ (the same node; a self-signed certificate trusted by its key). Over
http the page plays the episode straight from the web seed; over https WebTorrent's service
worker is installed first and plays it (benches/tls_page.mjs).

    benches/tls.sh                  # RUNS=3 SECONDS_=15 CONNS=50
"""

import json
import os
import random
import statistics
import subprocess
import sys
import time
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from benchlib import log, machine  # noqa: E402
from trackerbench import GEN_CPU, NodeTracker, free_port, last_json, measured  # noqa: E402

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


def sh(*cmd, **kw):
    return subprocess.run(cmd, check=True, capture_output=True, text=True, **kw).stdout


def page_load(binary, work, runs):
    """Milliseconds to first audio over http and https, `runs` first visits each."""
    box, cli = f"tlsb-box{os.getpid()}", f"tlsb-cli{os.getpid()}"
    va, vb = f"tb{os.getpid() % 100000}a", f"tb{os.getpid() % 100000}b"
    lib = os.path.join(work, "library")
    os.makedirs(lib, exist_ok=True)
    sh("ffmpeg", "-loglevel", "error", "-f", "lavfi", "-i", "sine=frequency=440:duration=60",
       "-ac", "2", "-b:a", "128k", "-metadata", "title=Tone", os.path.join(lib, "tone.mp3"))
    cert, key = os.path.join(work, "page-cert.pem"), os.path.join(work, "page-key.pem")
    sh("openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
       "-nodes", "-keyout", key, "-out", cert, "-days", "1", "-subj", "/CN=radio.bench",
       "-addext", "subjectAltName=DNS:radio.bench")
    spki = sh("sh", "-c", f"openssl x509 -in {cert} -pubkey -noout | openssl pkey -pubin "
              "-outform der | openssl dgst -sha256 -binary | base64").strip()
    cfg = os.path.join(work, "page.toml")
    with open(cfg, "w") as f:
        f.write(f'[scan]\nrescan_secs = 1\n\n[swarm]\ndht = false\nlsd = false\n\n'
                f'[tls]\ncert_file = "{cert}"\nkey_file = "{key}"\n')
    node = None
    try:
        for ns in (box, cli):
            sh("ip", "netns", "add", ns)
            sh("ip", "-n", ns, "link", "set", "lo", "up")
        sh("ip", "link", "add", va, "type", "veth", "peer", "name", vb)
        sh("ip", "link", "set", va, "netns", box)
        sh("ip", "link", "set", vb, "netns", cli)
        sh("ip", "-n", box, "addr", "add", "10.15.40.2/24", "dev", va)
        sh("ip", "-n", cli, "addr", "add", "10.15.40.1/24", "dev", vb)
        sh("ip", "-n", box, "link", "set", va, "up")
        sh("ip", "-n", cli, "link", "set", vb, "up")
        logf = open(os.path.join(work, "page-node.log"), "w")
        node = subprocess.Popen(
            ["ip", "netns", "exec", box, binary, "run", "--data-dir", os.path.join(work, "page-data"),
             "--library", lib, "--http", "10.15.40.2:80", "--https", "10.15.40.2:443",
             "--peer-port", "16881", "--udp-tracker", "10.15.40.2:6969", "--config", cfg],
            stdout=logf, stderr=logf)
        for _ in range(240):
            r = subprocess.run(["ip", "netns", "exec", cli, "curl", "-s", "--max-time", "2",
                                "http://10.15.40.2/api/health"], capture_output=True, text=True)
            if r.returncode == 0 and '"items":1' in r.stdout.replace(" ", ""):
                break
            time.sleep(0.25)
        else:
            raise RuntimeError("the page node did not list its episode")
        ways = {"http": ["--base=http://10.15.40.2"],
                "https": ["--base=https://radio.bench", f"--spki={spki}",
                          "--map=MAP radio.bench 10.15.40.2"]}
        rows = []
        for i in range(runs):
            for way, extra in ways.items():
                out = sh("ip", "netns", "exec", cli, "taskset", "-c", GEN_CPU, "node",
                         os.path.join(BENCH_DIR, "tls_page.mjs"), "--title=Tone", "--runs=1",
                         *extra, cwd=os.path.dirname(BENCH_DIR))
                r = dict(last_json(out)["runs"][0], way=way)
                log(f"page {i + 1} {json.dumps(r)}")
                rows.append(r)
        return rows
    finally:
        if node is not None:
            node.terminate()
            node.wait(timeout=20)
        for ns in (box, cli):
            subprocess.run(["ip", "netns", "del", ns], capture_output=True)


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
    page_runs = int(os.environ.get("PAGE_RUNS", "5"))
    pages = page_load(binary, work, page_runs) if page_runs else []
    for way in ("http", "https"):
        ms = [r["playing_ms"] for r in pages if r["way"] == way]
        summary[f"{way}_first_audio_ms"] = statistics.median(ms) if ms else None
    with open(out, "w") as f:
        f.write(json.dumps(machine()) + "\n")
        for r in rows + pages:
            f.write(json.dumps(r) + "\n")
        f.write("median: " + json.dumps(summary) + "\n")
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
