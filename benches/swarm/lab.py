#!/usr/bin/env python3
"""The swarm lab (issue 20): a station and its live audience on home links, in network
namespaces, with everything the station's uplink carries counted. Driven by run.sh (root).

Network: one namespace "router" holds a bridge; the node and each home are namespaces with a
veth to it, all on 10.77.0.0/16 (no routing, no NAT, nothing leaves the namespaces). Links are
shaped with tbf (this kernel has no netem, so there is no added delay or loss: the round trip
is the veths' own, well under 1 ms; said in the report):
  - the node: --node-up Mbit/s up (egress of its veth), --node-down down (egress of the
    router's end);
  - each home: an uplink drawn log-uniform from 0.5 to 20 Mbit/s (a seeded random draw), a
    downlink of 5 x the uplink, at least 10 and at most 100 Mbit/s.

Audience (issue 20): 2 % plain-stream listeners (curl on /live.mp3, each a full stream), 20 %
that never upload (the listen page with ?upload=0, as a phone on mobile data), the rest
browsers that share. Listeners are grouped --per-home to a home: with --listener chromium, a
Chromium per home and a context per listener (home.mjs); with --listener light, a Node.js
process per home and a p2p-media-loader core on node-datachannel per listener (light.mjs),
which holds far more listeners on two cores and is checked against Chromium on the same plan. Each joins within the first --join-spread seconds and stays for a
session drawn from an exponential law of mean --mean-session seconds; one who leaves is
replaced by a newcomer of the same kind 2 s later, so the audience stays about the same.

Counted over the measurement window (from --warmup seconds to the end):
  - the node's uplink: its veth's tx bytes (everything: segments, playlists, signalling,
    plain streams, HTTP and TCP/IP overhead), in Mbit/s;
  - apart: Opus segment bytes (the node's counter), media playlist bytes, the WebSocket
    tracker's message bytes, and the plain streams' bytes (as the curls received them);
  - station share: segment bytes the node served / segment bytes the listen pages got
    (http + p2p), over the whole run;
  - stalls per listener-hour and seconds of stall, seconds behind the live edge (hls.js's
    `latency`: behind the edge of the playlist the page has, which trails the station's real
    edge by up to one segment between two of the station's playlists).
"""

import argparse
import json
import math
import os
import random
import subprocess
import sys
import threading
import time
import urllib.request

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
PREFIX = "swlab-"
NODE_IP = "10.77.0.2"
PORT = 8080
AUDIO_WIRE = 1 + 66 / 1448 + 250 / 32600


def log(*a):
    print(f"[{time.strftime('%H:%M:%S')}] lab:", *a, file=sys.stderr, flush=True)


def sh(*cmd, check=True):
    r = subprocess.run(cmd, capture_output=True, text=True)
    if check and r.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)}: {r.stderr.strip()}")
    return r.stdout


def ns(name):
    return PREFIX + name


def cleanup():
    for line in sh("ip", "netns", "list", check=False).splitlines():
        n = line.split()[0] if line.split() else ""
        if n.startswith(PREFIX):
            sh("ip", "netns", "pids", n, check=False)
            for pid in sh("ip", "netns", "pids", n, check=False).split():
                sh("kill", "-9", pid, check=False)
            sh("ip", "netns", "del", n, check=False)


# The kernel keeps one neighbour (ARP, NDP) table for every namespace, bounded by the host's
# gc_thresh3 (1,024 by default): every home on the lab's bridge resolves every home it pairs
# with, so at 200 listeners (70 homes) the table overflowed about 20 s in, and from then on a
# new pair of homes could not reach each other, nor a home that had not yet spoken to the
# node reach it ("neighbor table overflow!" in the kernel log; WebRTC pairings failed and
# first page loads timed out). Homes behind their own routers share no such table: the lab
# raises the bounds for its run and puts them back after.
NEIGH = [f"/proc/sys/net/{v}/neigh/default/gc_thresh{k}" for v in ("ipv4", "ipv6") for k in (1, 2, 3)]


def raise_neighbour_bounds(hosts):
    """Room for every pair of the lab's hosts; returns the old bounds for put_back."""
    old = {}
    need = 2 * hosts * hosts
    for path in NEIGH:
        with open(path) as f:
            old[path] = int(f.read())
        k = int(path[-1])
        with open(path, "w") as f:
            f.write(str(max(old[path], need * k // 2)))
    return old


def put_back(bounds):
    # thresh3 first when lowering, so the three stay ordered at every step.
    for path in sorted(bounds, reverse=True):
        with open(path, "w") as f:
            f.write(str(bounds[path]))


def tbf(netns, dev, mbit, verb="add"):
    # Burst: at least a jiffy's worth at the rate, and never below 32 KiB (tbf needs it to
    # reach the rate); a 200 ms queue, like a home router's buffer. verb "change" re-shapes
    # a link mid-run.
    burst = max(32 * 1024, int(mbit * 1e6 / 8 / 100))
    sh("ip", "netns", "exec", netns, "tc", "qdisc", verb, "dev", dev, "root", "tbf",
       "rate", f"{mbit}mbit", "burst", str(burst), "latency", "200ms")


def add_host(name, index, up, down):
    """A namespace on the bridge at 10.77.x.y, its uplink and downlink shaped."""
    n = ns(name)
    sh("ip", "netns", "add", n)
    inner, outer = f"sw{index}i", f"sw{index}o"
    sh("ip", "link", "add", inner, "type", "veth", "peer", "name", outer)
    sh("ip", "link", "set", inner, "netns", n)
    sh("ip", "link", "set", outer, "netns", ns("router"))
    sh("ip", "-n", n, "link", "set", inner, "name", "eth0")
    ip = NODE_IP if name == "node" else f"10.77.{1 + index // 250}.{1 + index % 250}"
    sh("ip", "-n", n, "addr", "add", f"{ip}/16", "dev", "eth0")
    sh("ip", "-n", n, "link", "set", "eth0", "up")
    sh("ip", "-n", n, "link", "set", "lo", "up")
    # A default route on the bridge: Chromium hides host addresses behind mDNS names, which
    # need multicast; listeners also learn their address from the node's STUN server.
    sh("ip", "-n", n, "route", "add", "default", "dev", "eth0")
    sh("ip", "-n", ns("router"), "link", "set", outer, "master", "br0")
    sh("ip", "-n", ns("router"), "link", "set", outer, "up")
    tbf(n, "eth0", up)
    tbf(ns("router"), outer, down)
    return ip


def tx_bytes(netns, dev="eth0"):
    return int(sh("ip", "netns", "exec", netns, "cat", f"/sys/class/net/{dev}/statistics/tx_bytes"))


def count_probe(probe_ip):
    """An nftables counter in the node's namespace of what it sends the lab's probe host."""
    n = ns("node")
    sh("ip", "netns", "exec", n, "nft", "add", "table", "inet", "lab")
    sh("ip", "netns", "exec", n, "nft", "add", "chain", "inet", "lab", "out",
       "{ type filter hook output priority 0; }")
    sh("ip", "netns", "exec", n, "nft", "add", "rule", "inet", "lab", "out", "ip", "daddr", probe_ip, "counter")


def probe_bytes():
    """What the lab's own questions to the node cost its uplink, taken off the uplink's
    total: every packet the node sent the probe host, with its Ethernet header, as the
    node's link counts them (so connection set-ups and closes too: an estimate of bodies
    plus headers missed about 300 bytes a question, 0.09 kbit/s a listener at 12)."""
    out = json.loads(sh("ip", "netns", "exec", ns("node"), "nft", "-j", "list", "chain", "inet", "lab", "out"))
    for item in out["nftables"]:
        for expr in item.get("rule", {}).get("expr", []):
            if "counter" in expr:
                return expr["counter"]["bytes"] + 14 * expr["counter"]["packets"]
    raise RuntimeError("the probe's counter is missing")


def get_json(path):
    """A question to the node; on a full uplink the answer may wait behind the audio, so it
    is asked up to three times."""
    for attempt in range(3):
        try:
            out = sh("ip", "netns", "exec", ns("router-probe"), "curl", "-s", "-m", "15",
                     f"http://{NODE_IP}:{PORT}{path}")
            return json.loads(out)
        except (RuntimeError, ValueError) as e:
            log(f"{path}: no answer ({e}), attempt {attempt + 1}")
    raise RuntimeError(f"the node did not answer {path} three times")


def node_counts():
    h = get_json("/api/health")
    t = get_json("/api/tracker")
    return {
        "segments": h["live"]["hls_bytes_served"]["opus"],
        "playlists": h["live"].get("hls_playlist_bytes"),
        "signalling": t.get("websocket_bytes_sent"),
        "rechecks": (t.get("stats") or {}).get("pairings_rechecked"),
        "nudges": (t.get("stats") or {}).get("lonely_nudged"),
        "lonely_offered": (t.get("stats") or {}).get("lonely_offered"),
        "listeners": h["listeners"],
        "seeding": h["live"].get("hls_seeding"),
    }


def cpu_secs(pid):
    """User and system CPU seconds a process has used (/proc/PID/stat, fields 14 and 15)."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def machine_busy():
    """Busy and total CPU ticks of the whole machine (/proc/stat's first line): every
    listener, the node and the lab share its cores, so a saturated machine shows here."""
    with open("/proc/stat") as f:
        ticks = [int(x) for x in f.readline().split()[1:]]
    idle = ticks[3] + ticks[4]
    return sum(ticks) - idle, sum(ticks)


def busy_percent(before, after):
    """The machine's CPU between two `machine_busy` readings, in percent of all its cores."""
    return (after[0] - before[0]) / max(1, after[1] - before[1]) * 100


def add_link_args(ap):
    """The station's link, for each of the lab's scripts: Mbit/s up and down."""
    ap.add_argument("--node-up", type=float, default=10)
    ap.add_argument("--node-down", type=float, default=50)


def start_node(binary, work, extra=""):
    """The node in its namespace on a sine tone, 128 kbit/s, no BitTorrent; `extra` is more
    of its config file. Returns the process."""
    cfg = os.path.join(work, "node.toml")
    with open(cfg, "w") as f:
        f.write("audio = \"sine\"\n[scan]\nrescan_secs = 60\n[swarm]\nenabled = false\n"
                "dht = false\nlsd = false\n[webtorrent]\nenabled = false\n"
                "[live]\nbitrate_kbps = 128\nchannels = 2\nrecord = false\n" + extra)
    os.makedirs(os.path.join(work, "lib"), exist_ok=True)
    nodelog = open(os.path.join(work, "node.log"), "w")
    return subprocess.Popen(
        ["ip", "netns", "exec", ns("node"), binary, "run", "--data-dir", os.path.join(work, "data"),
         "--http", f"{NODE_IP}:{PORT}", "--peer-port", "6881", "--udp-tracker", f"{NODE_IP}:6969",
         "--stun", f"{NODE_IP}:3478", "--config", cfg, "--library", os.path.join(work, "lib")],
        stdout=nodelog, stderr=nodelog, env=dict(os.environ, NO_COLOR="1"))


def wait_segments():
    """Until the node's live playlist lists six segments (60 s at most)."""
    deadline = time.time() + 60
    while True:
        try:
            txt = sh("ip", "netns", "exec", ns("router-probe"), "curl", "-sf", "-m", "3",
                     f"http://{NODE_IP}:{PORT}/live/opus.m3u8")
            if txt.count("#EXTINF") >= 6:
                return
        except RuntimeError:
            pass
        if time.time() > deadline:
            raise RuntimeError("the node did not list six segments in 60 s")
        time.sleep(1)


def plan_audience(n, seconds, join_spread, mean_session, per_home, rng):
    """Listeners by kind, grouped into homes; each home gets its plan of joins and leaves."""
    plain = round(0.02 * n)
    quiet = round(0.2 * n)
    kinds = ["plain"] * plain + ["quiet"] * quiet + ["share"] * (n - plain - quiet)
    rng.shuffle(kinds)
    browsers = [k for k in kinds if k != "plain"]
    homes = []
    for h in range(math.ceil(len(browsers) / per_home)):
        up = round(math.exp(rng.uniform(math.log(0.5), math.log(20))), 2)
        down = min(100, max(10, round(5 * up)))
        items = []
        for kind in browsers[h * per_home:(h + 1) * per_home]:
            t = rng.uniform(0, join_spread)
            while t < seconds - 5:
                stay = rng.expovariate(1 / mean_session)
                leave = t + stay
                items.append({"join": round(t, 1), "leave": round(leave, 1) if leave < seconds else None,
                              "upload": kind == "share"})
                t = leave + 2
        homes.append({"up": up, "down": down, "plan": items})
    return homes, plain


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", required=True)
    ap.add_argument("--work", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--listeners", type=int, default=12)
    ap.add_argument("--seconds", type=int, default=150)
    ap.add_argument("--warmup", type=int, default=45)
    ap.add_argument("--join-spread", type=int, default=30)
    ap.add_argument("--mean-session", type=float, default=600)
    ap.add_argument("--per-home", type=int, default=3)
    ap.add_argument("--listener", choices=("chromium", "light"), default="chromium")
    add_link_args(ap)
    ap.add_argument("--seed", type=int, default=20)
    # Faults (issue 20): the station's uplink halves this many seconds into the run (0:
    # never), and this many hosts hammer the Opus playlist (no session, 10 a second each).
    ap.add_argument("--halve-at", type=float, default=0)
    ap.add_argument("--hammer", type=int, default=0)
    # And this percentage of the sharing listeners lie (light listeners only): they claim
    # every listed segment and never answer for the ones they lack.
    ap.add_argument("--liars", type=float, default=0)
    # More of the node's config file, as TOML (an experiment: another setting than the
    # default, e.g. "[tracker]\nws_settled_interval_secs = 120"); the report says it.
    ap.add_argument("--node-config", default="")
    a = ap.parse_args()
    rng = random.Random(a.seed)
    homes, plain = plan_audience(a.listeners, a.seconds, a.join_spread, a.mean_session, a.per_home, rng)
    # Spread evenly over the sharing sessions, so the homes and joins stay those of the seed.
    sharing = [item for h in homes for item in h["plan"] if item["upload"]]
    for k, item in enumerate(sharing):
        item["lies"] = math.floor((k + 1) * a.liars / 100) > math.floor(k * a.liars / 100)

    cleanup()
    procs = []
    bounds = raise_neighbour_bounds(2 + len(homes) + plain + a.hammer)
    try:
        sh("ip", "netns", "add", ns("router"))
        sh("ip", "-n", ns("router"), "link", "add", "br0", "type", "bridge")
        sh("ip", "-n", ns("router"), "link", "set", "br0", "type", "bridge", "mcast_snooping", "0")
        sh("ip", "-n", ns("router"), "link", "set", "br0", "up")
        add_host("node", 0, a.node_up, a.node_down)
        count_probe(add_host("router-probe", 1, 1000, 1000))
        for i, h in enumerate(homes):
            h["ip"] = add_host(f"h{i}", 2 + i, h["up"], h["down"])
        plain_hosts = [add_host(f"p{i}", 2 + len(homes) + i, 20, 100) for i in range(plain)]
        for i in range(a.hammer):
            add_host(f"x{i}", 2 + len(homes) + plain + i, 20, 100)

        node = start_node(a.bin, a.work, a.node_config.replace("\\n", "\n") + "\n")
        procs.append(node)
        wait_segments()
        log(f"node up; {a.listeners} listeners: {plain} plain, homes (up/down Mbit/s, sessions) "
            + ", ".join(f"{h['up']}/{h['down']} x{len(h['plan'])}" for h in homes))

        results = {}
        script = "home.mjs" if a.listener == "chromium" else "light.mjs"

        def run_home(i, h):
            r = subprocess.run(
                # Niced: the listeners stand for other people's machines, and on two cores
                # 200 of them starved the node (it missed the lab's 5 s questions).
                ["ip", "netns", "exec", ns(f"h{i}"), "nice", "-n", "10", "node",
                 os.path.join(REPO, "benches/swarm", script),
                 f"--base=http://{NODE_IP}:{PORT}", f"--plan={json.dumps(h['plan'])}", f"--seconds={a.seconds}"],
                cwd=REPO, capture_output=True, text=True, timeout=a.seconds + 200)
            line = next((l for l in r.stdout.splitlines() if l.startswith("result ")), None)
            if os.environ.get("LIGHT_DEBUG"):
                with open(os.path.join(a.work, f"home-{i}.log"), "w") as f:
                    f.write(r.stdout + r.stderr)
            if line is None:
                log(f"home {i} failed ({r.returncode}): {r.stdout[-800:]} {r.stderr[-800:]}")
                results[i] = []
            else:
                results[i] = json.loads(line[7:])

        plain_bytes = {}

        def run_plain(i):
            r = subprocess.run(
                ["ip", "netns", "exec", ns(f"p{i}"), "curl", "-s", "-o", "/dev/null", "-m", str(a.seconds),
                 "-w", "%{size_download}", f"http://{NODE_IP}:{PORT}/live.mp3"],
                capture_output=True, text=True)
            plain_bytes[i] = int(r.stdout.strip() or 0)

        hammered = {}

        def run_hammer(i):
            # A listener that polls the playlist ten times a second the whole run, as fast as
            # a broken or hostile player might: how many it asked, and how many were answered.
            r = subprocess.run(
                ["ip", "netns", "exec", ns(f"x{i}"), "sh", "-c",
                 f"end=$(($(date +%s) + {a.seconds})); ok=0; all=0; "
                 f"while [ $(date +%s) -lt $end ]; do all=$((all+1)); "
                 f"curl -sf -m 5 -o /dev/null http://{NODE_IP}:{PORT}/live/opus.m3u8 && ok=$((ok+1)); "
                 f"sleep 0.1; done; echo $ok $all"],
                capture_output=True, text=True)
            ok, total = (r.stdout.split() + ["0", "0"])[:2]
            hammered[i] = (int(ok), int(total))

        def halve():
            time.sleep(a.halve_at)
            tbf(ns("node"), "eth0", a.node_up / 2, verb="change")
            log(f"the node's uplink halved to {a.node_up / 2} Mbit/s at {a.halve_at} s")

        threads = [threading.Thread(target=run_home, args=(i, h)) for i, h in enumerate(homes)]
        threads += [threading.Thread(target=run_plain, args=(i,)) for i in range(plain)]
        threads += [threading.Thread(target=run_hammer, args=(i,)) for i in range(a.hammer)]
        if a.halve_at:
            threads.append(threading.Thread(target=halve))
        t0 = time.time()
        for t in threads:
            t.start()
        # Every 5 s: the station's segment bytes and its whole uplink, to see a fault's
        # effect over time (seconds since the start, Mbit/s over the 5 s before).
        timeline, last = [], None

        def sample():
            nonlocal last
            try:
                c = node_counts()
            except RuntimeError as e:
                log(f"a sample missed: {e}")
                return last[0] if last else {"listeners": None}
            tx, t, busy = tx_bytes(ns("node")), time.time(), machine_busy()
            if last is not None:
                dt = t - last[2]
                timeline.append([round(t - t0), round((c["segments"] - last[0]["segments"]) * 8 / dt / 1e6, 3),
                                 round((tx - last[1]) * 8 / dt / 1e6, 3), c["listeners"],
                                 round(busy_percent(last[3], busy))])
            last = (c, tx, t, busy)
            return c

        while time.time() - t0 < a.warmup:
            time.sleep(5)
            sample()
        c0, cpu0, busy0 = node_counts(), cpu_secs(node.pid), machine_busy()
        tx0, w0, p0 = tx_bytes(ns("node")), time.time(), probe_bytes()
        samples = []
        while time.time() - t0 < a.seconds - 3:
            time.sleep(5)
            samples.append(sample()["listeners"])
        c1, tx1, w1, cpu1 = node_counts(), tx_bytes(ns("node")), time.time(), cpu_secs(node.pid)
        busy1 = machine_busy()
        for t in threads:
            t.join()
        window = w1 - w0
        mbit = lambda b: round(b * 8 / window / 1e6, 3)
        listeners = [r for i in sorted(results) for r in results[i]]
        got = sum((r["live"] or {}).get("bytes", {}).get("http", 0) + (r["live"] or {}).get("bytes", {}).get("p2p", 0)
                  for r in listeners)
        played = sum(r["played"] for r in listeners)
        stalls = sum(r["stalls"] for r in listeners)
        stall_at = sorted(round(t / 1000 - t0, 1) for r in listeners for t in r.get("stallAt", []))
        behind = sorted(b for r in listeners for b in r["behind"])
        plain_total = sum(plain_bytes.values())
        seg = c1["segments"] - c0["segments"]
        pl = (c1["playlists"] or 0) - (c0["playlists"] or 0)
        sig = (c1["signalling"] or 0) - (c0["signalling"] or 0)
        plain_window = plain_total * window / a.seconds
        total = tx1 - tx0 - (probe_bytes() - p0)
        # Page loads that arrived in the window (`pageAt`, the same clock as the lab's): one
        # planned to join 3 s before the end can load its page after the window.
        pages = sum(r.get("pageBytes", 0) for r in listeners if w0 <= r.get("pageAt", 0) <= w1)
        audience = a.listeners
        report = {
            "listeners": audience, "listener": a.listener, "plain": plain, "homes": [{k: h[k] for k in ("up", "down")} for h in homes],
            "seconds": a.seconds, "window_secs": round(window, 1), "window_start": round(w0 - t0, 1),
            "uplink_mbit": {
                "total": mbit(total), "segments": mbit(seg), "playlists": mbit(pl), "signalling": mbit(sig),
                "plain_streams": mbit(plain_window),
                "page_loads": mbit(pages),
                "overhead": mbit(total - seg - pl - sig - plain_window - pages),
            },
            # Audio carries its own TCP/IP: 66 bytes a 1,448-byte packet and ~250 bytes of
            # response headers a 32.6 kB segment (AUDIO_WIRE); the rest is what it costs to
            # tell listeners what exists and to connect them.
            "non_audio_kbit_per_listener": round(
                (total - (seg + plain_window) * AUDIO_WIRE - pages) * 8 / window / 1e3 / max(1, audience - plain), 3),
            "station_share": round(c1["segments"] / got, 3) if got else None,
            "station_segment_bytes": c1["segments"], "listener_segment_bytes": got,
            "played_hours": round(played / 3600, 3),
            "stalls": stalls, "stall_secs": round(sum(r["stallSecs"] for r in listeners), 1),
            # Light listeners moved to the live point after falling out of the window, as
            # hls.js does.
            "jumps": sum(r.get("jumps", 0) for r in listeners),
            "stalls_per_listener_hour": round(stalls / (played / 3600), 2) if played else None,
            "behind_median": behind[len(behind) // 2] if behind else None,
            "behind_p95": behind[int(len(behind) * 0.95)] if behind else None,
            # The node's CPU over the window, in percent of one core of this machine.
            "node_cpu_percent": round((cpu1 - cpu0) / window * 100, 1),
            # The whole machine's CPU over the window, in percent of all its cores: near 100,
            # the listeners' WebRTC runs late and the lab, not the swarm, is the limit.
            "machine_cpu_percent": round(busy_percent(busy0, busy1), 1),
            "sessions": len(listeners), "failed": sum(1 for r in listeners if r["error"]),
            "seeders_seen": sum(1 for r in listeners if (r["live"] or {}).get("seeds")),
            # Pages that found themselves stranded (no seed, their segments from the station
            # at the deadline) and joined the swarm again.
            "rejoins": sum((r["live"] or {}).get("rejoined", 0) for r in listeners),
            # Settled browsers offered again to a partner paired a settled interval ago, in
            # the window (src/tracker/peers.rs, Expiry::pairing).
            "rechecks": (c1["rechecks"] or 0) - (c0["rechecks"] or 0),
            # Lonely pages the tracker asked to announce again (src/tracker/peers.rs,
            # report_peers): in the window, and since the node started.
            "nudges": (c1["nudges"] or 0) - (c0["nudges"] or 0),
            "nudges_since_start": c1["nudges"] or 0,
            # Offers the tracker sent first to pages that said they were lonely, since the
            # node started (src/tracker/peers.rs, LONELY_PER_BATCH).
            "lonely_offered_since_start": c1["lonely_offered"] or 0,
            # Early segment requests (src/live/seeding.rs) over the whole run, as the node
            # counts them.
            "seeding": c1["seeding"],
            "node_listener_counts": samples,
            # Seconds since the start when stalls began (light listeners), and the station's
            # segment and uplink Mbit/s every 5 s ([t, segments, uplink, listeners, machine CPU
            # % of all cores]).
            "stall_at": stall_at,
            "timeline": timeline,
            "per_listener": listeners,
        }
        if a.halve_at:
            report["halved_at"] = a.halve_at
        if a.node_config:
            report["node_config"] = a.node_config
        if a.liars:
            honest = [r for r in listeners if not r.get("lies")]
            report["liars"] = {
                "sessions": len(listeners) - len(honest),
                "honest_stalls": sum(r["stalls"] for r in honest),
                "honest_stall_secs": round(sum(r["stallSecs"] for r in honest), 1),
                "honest_played_hours": round(sum(r["played"] for r in honest) / 3600, 3),
            }
        if a.hammer:
            # Playlists answered / asked, per hammering host.
            report["hammered"] = [hammered.get(i) for i in range(a.hammer)]
        with open(a.out, "w") as f:
            json.dump(report, f, indent=1)
        short = {k: v for k, v in report.items() if k not in ("per_listener", "node_listener_counts", "timeline")}
        log(json.dumps(short))
    finally:
        for p in procs:
            p.terminate()
            try:
                p.wait(timeout=20)
            except subprocess.TimeoutExpired:
                p.kill()
        cleanup()
        put_back(bounds)


if __name__ == "__main__":
    main()
