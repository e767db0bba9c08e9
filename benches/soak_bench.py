#!/usr/bin/env python3
"""Soak (issue 12): one node on air under a steady mixed load for a long time; its RSS and open
file descriptors sampled every minute after a warm-up must stay flat.

The node: `streamp2p run` (benchlib.Node) with the generated tone as line-in (Opus, MP3 and HLS
encoded), a small random library seeded over BitTorrent (DHT and LSD off) and WebRTC, its own
trackers, no recording (a growing library would be growth by design, not a leak).

The load, all to 127.0.0.1, all bounded in count and time, until the end of the run:
- progressive listeners: `--listeners` slots (half /live.ogg, half /live.mp3); each slot connects,
  reads for a random 2-10 s, hangs up and connects again (a new listener every ~0.1 s at 50);
- HLS pollers: `--hls` sessions (alternately the Opus and the MP3 variant); each fetches
  /live/index.m3u8, then its media playlist every target duration and the segments it has not
  got yet (the newest 3 at the start, the init segment once), like a player at the live edge;
  each session lasts a random 20-120 s (own User-Agent), then a new one starts;
- tracker: `--announces` per second, half HTTP /announce (keep-alive), half UDP (BEP 15), for
  the library's infohashes, from a pool of `--peers` distinct peer ids per infohash (started on
  first use, about 5% `stopped` events, a third of the pool seeders);
- WebTorrent: benches/js/wt_fetch.mjs (webtorrent 2.8 + webrtc-polyfill, WebRTC only, the
  node's ws:// tracker in the magnet) fetching one library episode, again and again.

Every `--sample-secs` it reads VmRSS, Threads and the fd count of the node from /proc; at the end
of the warm-up and every minute after it, one row: RSS, fds (the instant value and the median
of the minute's samples), threads, /api/health's listener figures and what the load did in that
minute. The verdict: RSS max-min and last-first under `--rss-limit-mib`; fds flat (median
last-first and max-min within `--fd-tolerance`).

Prints the JSON result on stdout; progress and the table on stderr.
"""

import argparse
import ctypes
import http.client
import json
import os
import random
import signal
import socket
import statistics
import struct
import subprocess
import sys
import threading
import time
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from benchlib import Node, get_json, http_get, log, proc_status, quietly, wait_until  # noqa: E402

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
STOP = threading.Event()


def die_with_parent():
    """preexec_fn: the child gets SIGTERM if this process dies (even by SIGKILL)."""
    try:
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except OSError:
        pass


class Counters:
    def __init__(self):
        self.lock = threading.Lock()
        self.c = {}

    def add(self, key, n=1):
        with self.lock:
            self.c[key] = self.c.get(key, 0) + n

    def snapshot(self):
        with self.lock:
            return dict(self.c)


C = Counters()


def fd_count(pid):
    try:
        return len(os.listdir(f"/proc/{pid}/fd"))
    except OSError:
        return None


# ---------------------------------------------------------------- progressive listeners

def listener_slot(i, port):
    rnd = random.Random(1000 + i)
    path = "/live.ogg" if i % 2 == 0 else "/live.mp3"
    kind = path[6:]
    STOP.wait(i * 0.05)  # spread the first connects
    while not STOP.is_set():
        stay = rnd.uniform(2.0, 10.0)
        s = None
        try:
            s = socket.create_connection(("127.0.0.1", port), timeout=5)
            s.sendall(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
                      f"User-Agent: soak-listener/{i}\r\nAccept: */*\r\n\r\n".encode())
            s.settimeout(0.5)
            end = time.monotonic() + stay
            got, first = 0, b""
            while time.monotonic() < end and not STOP.is_set():
                try:
                    b = s.recv(65536)
                except socket.timeout:
                    continue
                if not b:
                    C.add(f"{kind}_closed_early")
                    break
                if len(first) < 16:
                    first += b[:16]
                got += len(b)
            if first.startswith(b"HTTP/1.1 200") or first.startswith(b"HTTP/1.0 200"):
                C.add(f"{kind}_sessions")
            else:
                C.add(f"{kind}_bad_status")
            C.add(f"{kind}_bytes", got)
        except OSError:
            C.add(f"{kind}_errors")
            STOP.wait(1.0)
        finally:
            if s is not None:
                s.close()


# ---------------------------------------------------------------- HLS pollers

class Http:
    """A keep-alive HTTP/1.1 client to the node that reconnects after an error."""

    def __init__(self, port, agent):
        self.port, self.agent, self.conn = port, agent, None

    def get(self, path):
        for attempt in (0, 1):
            if self.conn is None:
                self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
            try:
                self.conn.request("GET", path, headers={"User-Agent": self.agent})
                r = self.conn.getresponse()
                body = r.read()
                return r.status, body
            except (OSError, http.client.HTTPException):
                self.close()
                if attempt:
                    raise
        raise AssertionError("unreachable")

    def close(self):
        if self.conn is not None:
            self.conn.close()
            self.conn = None


def hls_poller(i, port):
    rnd = random.Random(2000 + i)
    STOP.wait(i * 0.25)
    session = 0
    while not STOP.is_set():
        session += 1
        h = Http(port, f"soak-hls/{i}.{session}")
        end = time.monotonic() + rnd.uniform(20, 120)
        try:
            st, master = h.get("/live/index.m3u8")
            if st != 200:
                C.add(f"hls_bad_status_{st}_master")
                STOP.wait(2)
                continue
            C.add("hls_sessions")
            variants = [l.strip() for l in master.decode().splitlines()
                        if l.strip() and not l.startswith("#")]
            media = urllib.parse.urljoin("/live/index.m3u8", variants[i % len(variants)])
            seen, have_init = set(), False
            while time.monotonic() < end and not STOP.is_set():
                t0 = time.monotonic()
                st, pl = h.get(media)
                C.add("hls_playlists")
                if st != 200:
                    C.add(f"hls_bad_status_{st}_playlist")
                    STOP.wait(2)
                    continue
                target, segs = 2.0, []
                for line in pl.decode().splitlines():
                    line = line.strip()
                    if line.startswith("#EXT-X-TARGETDURATION:"):
                        target = float(line.split(":", 1)[1])
                    elif line.startswith("#EXT-X-MAP:") and not have_init:
                        uri = line.split('URI="', 1)[1].split('"', 1)[0]
                        st, body = h.get(urllib.parse.urljoin(media, uri))
                        C.add("hls_init" if st == 200 else f"hls_bad_status_{st}_init")
                        have_init = True
                    elif line and not line.startswith("#"):
                        segs.append(line)
                new = [s for s in segs if s not in seen]
                if not seen:
                    new = new[-3:]
                for s in new:
                    st, body = h.get(urllib.parse.urljoin(media, s))
                    if st == 200:
                        C.add("hls_segments")
                        C.add("hls_bytes", len(body))
                    else:
                        C.add(f"hls_bad_status_{st}_segment")
                seen = set(segs)
                STOP.wait(max(0.0, target - (time.monotonic() - t0)))
        except (OSError, http.client.HTTPException, IndexError, ValueError, UnicodeDecodeError):
            C.add("hls_errors")
            STOP.wait(1)
        finally:
            h.close()


# ---------------------------------------------------------------- tracker announces

def announcer(port, udp_port, infohashes, rate, pool):
    rnd = random.Random(3)
    peers = []  # (infohash bytes, peer id, port, seeder)
    for ih in infohashes:
        for k in range(pool):
            pid = b"-SK0001-" + rnd.getrandbits(96).to_bytes(12, "big")
            peers.append([bytes.fromhex(ih), pid, 10000 + len(peers) % 50000, k % 3 == 0, False])
    h = Http(port, "soak-tracker")
    u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    u.settimeout(1.0)
    u.connect(("127.0.0.1", udp_port))
    conn_id, conn_at = None, 0.0
    tx = 0

    def udp_connect():
        nonlocal tx
        tx += 1
        u.send(struct.pack(">QII", 0x41727101980, 0, tx))
        r = u.recv(2048)
        action, rtx, cid = struct.unpack(">IIQ", r[:16])
        assert action == 0 and rtx == tx, (action, rtx)
        return cid

    period = 1.0 / rate
    t_next = time.monotonic()
    n = 0
    while not STOP.is_set():
        now = time.monotonic()
        if t_next > now:
            STOP.wait(t_next - now)
        t_next += period
        if time.monotonic() - t_next > 1.0:  # more than a second behind: do not burst to catch up
            C.add("announce_late", int((time.monotonic() - t_next) / period))
            t_next = time.monotonic()
        p = peers[rnd.randrange(len(peers))]
        ih, pid, pport, seeder, started = p
        if not started:
            event, p[4] = "started", True
        elif rnd.random() < 0.05:
            event, p[4] = "stopped", False
        else:
            event = ""
        left = 0 if seeder else 1_000_000
        n += 1
        try:
            if n % 2 == 0:
                q = (f"/announce?info_hash={urllib.parse.quote_from_bytes(ih)}"
                     f"&peer_id={urllib.parse.quote_from_bytes(pid)}&port={pport}"
                     f"&uploaded=0&downloaded=0&left={left}&compact=1&numwant=50")
                if event:
                    q += f"&event={event}"
                st, body = h.get(q)
                ok = st == 200 and not body.startswith(b"d14:failure reason")
                C.add("announce_http_ok" if ok else "announce_http_fail")
            else:
                if conn_id is None or time.monotonic() - conn_at > 60:
                    conn_id, conn_at = udp_connect(), time.monotonic()
                tx += 1
                ev = {"": 0, "completed": 1, "started": 2, "stopped": 3}[event]
                u.send(struct.pack(">QII20s20sQQQIIIiH", conn_id, 1, tx, ih, pid, 0, left, 0,
                                   ev, 0, 0, 50, pport))
                r = u.recv(4096)
                action, rtx = struct.unpack(">II", r[:8])
                while rtx != tx:  # a late answer to an earlier, timed-out request
                    r = u.recv(4096)
                    action, rtx = struct.unpack(">II", r[:8])
                C.add("announce_udp_ok" if action == 1 else "announce_udp_fail")
        except (OSError, http.client.HTTPException, struct.error, AssertionError):
            C.add("announce_errors")
            conn_id = None
            STOP.wait(0.5)
    h.close()
    u.close()


# ---------------------------------------------------------------- WebTorrent fetcher

CHILDREN = set()
CHILDREN_LOCK = threading.Lock()


def webtorrent_loop(tracker, infohash, name, size):
    script = os.path.join(REPO, "benches/js/wt_fetch.mjs")
    while not STOP.is_set():
        t0 = time.monotonic()
        p = subprocess.Popen(["node", script, "--tracker", tracker, "--infohash", infohash,
                              "--name", name, "--size", str(size), "--timeout", "60"],
                             cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                             text=True, preexec_fn=die_with_parent)
        with CHILDREN_LOCK:
            CHILDREN.add(p)
        try:
            out, _ = p.communicate(timeout=90)
        except subprocess.TimeoutExpired:
            p.kill()
            out, _ = p.communicate()
        with CHILDREN_LOCK:
            CHILDREN.discard(p)
        if STOP.is_set():
            break
        try:
            r = json.loads(out.strip().splitlines()[-1])
        except (ValueError, IndexError):
            r = {}
        if p.returncode == 0 and r.get("ok"):
            C.add("wt_ok")
            C.add("wt_secs_total_ms", int((time.monotonic() - t0) * 1000))
        else:
            C.add("wt_fail")
            log(f"webtorrent fetch failed ({p.returncode}): {out.strip()[-300:]}")
        STOP.wait(1.0)


# ---------------------------------------------------------------- the run

def listener_figures(h):
    """Every number under a key that names listeners, flattened (`live.listeners`, and the
    breakdown when the node has one)."""
    out = {}

    def walk(v, path):
        if isinstance(v, dict):
            for k, x in v.items():
                walk(x, f"{path}.{k}" if path else k)
        elif isinstance(v, (int, float)) and not isinstance(v, bool) and "listen" in path:
            out[path] = v
    walk(h or {}, "")
    return out


def make_library(lib, n, mib):
    os.makedirs(lib, exist_ok=True)
    rnd = random.Random(12)
    for i in range(1, n + 1):
        with open(os.path.join(lib, f"soak{i:02d}.mp3"), "wb") as f:
            f.write(rnd.randbytes(mib * 1024 * 1024))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", required=True)
    ap.add_argument("--work", required=True)
    ap.add_argument("--duration-mins", type=float, default=30)
    ap.add_argument("--warmup-mins", type=float, default=5)
    ap.add_argument("--listeners", type=int, default=50)
    ap.add_argument("--hls", type=int, default=20)
    ap.add_argument("--announces", type=float, default=200)
    ap.add_argument("--peers", type=int, default=1000, help="peer ids per infohash")
    ap.add_argument("--episodes", type=int, default=5)
    ap.add_argument("--episode-mib", type=int, default=4)
    ap.add_argument("--webtorrent", type=int, default=1, help="0 leaves the WebTorrent client out")
    ap.add_argument("--sample-secs", type=float, default=5)
    ap.add_argument("--rss-limit-mib", type=float, default=5)
    ap.add_argument("--fd-tolerance", type=int, default=10)
    a = ap.parse_args()

    def on_signal(sig, _frame):
        raise KeyboardInterrupt(f"signal {sig}")
    for sig in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, on_signal)

    lib = os.path.join(a.work, "lib")
    make_library(lib, a.episodes, a.episode_mib)
    cfg = ('audio = "sine"\n'
           "[scan]\nrescan_secs = 10\n"
           "[swarm]\nenabled = true\ndht = false\nlsd = false\n"
           "[tracker]\nrate_limit_per_ip = 0\n"
           "[webtorrent]\nenabled = true\n"
           "[live]\nrecord = false\n"
           # Every simulated listener comes from 127.0.0.1: the per-address cap raised.
           "[web]\nmax_connections = 16384\nmax_per_address = 16384\n")
    node = Node(a.bin, os.path.join(a.work, "data"), [lib], cfg, a.work, "node-soak")
    threads = []
    rows, samples = [], []
    result = {"config": cfg, "args": vars(a)}
    try:
        node.start(preexec_fn=die_with_parent)
        pid = node.proc.pid
        wait_until(lambda: (h := node.health()) and h["live"]["state"] == "on_air"
                   and h["library"]["items"] == a.episodes
                   and (h["webtorrent"]["trackers_connected"] or 0) >= 1, 120, 0.2,
                   "node on air, library hashed, WebRTC seeder on its tracker")
        # Players start a few segments behind the live edge: let the playlists fill first.
        wait_until(quietly(lambda: all(http_get(f"{node.base}/live/{v}.m3u8").count(b"#EXTINF") >= 3
                                       for v in ("opus", "mp3"))), 60, 0.5, "3 HLS segments")
        items = get_json(node.base + "/api/library")
        infohashes = sorted(x["infohash"] for x in items)
        ep = min(items, key=lambda x: x["name"])
        log(f"node pid {pid} on air at {node.since_start():.1f} s; {len(items)} episodes; "
            f"RSS {proc_status(pid, 'VmRSS') / 1024:.1f} MiB, fds {fd_count(pid)}")
        result["rss_at_start_kib"] = proc_status(pid, "VmRSS")
        result["fds_at_start"] = fd_count(pid)

        def spawn(fn, *args):
            t = threading.Thread(target=fn, args=args, daemon=True)
            t.start()
            threads.append(t)
        for i in range(a.listeners):
            spawn(listener_slot, i, node.http_port)
        for i in range(a.hls):
            spawn(hls_poller, i, node.http_port)
        if a.announces > 0:
            spawn(announcer, node.http_port, node.udp_port, infohashes, a.announces, a.peers)
        if a.webtorrent:
            spawn(webtorrent_loop, f"ws://127.0.0.1:{node.http_port}/announce", ep["infohash"],
                  ep["name"], ep["size"])

        t0 = time.monotonic()
        warm = a.warmup_mins * 60
        total = a.duration_mins * 60
        marks = [warm + 60 * k for k in range(int((total - warm) // 60) + 1)]
        last_counts = C.snapshot()
        minute_fds = []
        mark_i = 0
        log(f"load started: {a.listeners} progressive, {a.hls} HLS, {a.announces:g} announces/s, "
            f"{a.webtorrent} WebTorrent; warm-up {a.warmup_mins:g} min, total {a.duration_mins:g} min")
        hdr = (f"{'min':>5} {'RSS MiB':>8} {'fds':>4} {'fds med':>7} {'thr':>4} {'load1':>5} "
               f"{'listen (health)':<28} {'prog conn':>9} {'hls seg':>7} {'ann/s':>6} {'wt ok/fail':>10}")
        while mark_i < len(marks):
            if node.proc.poll() is not None:
                raise RuntimeError(f"node exited with {node.proc.returncode}; see {node.log}")
            el = time.monotonic() - t0
            s = {"t": round(el, 1), "rss_kib": proc_status(pid, "VmRSS"), "fds": fd_count(pid),
                 "threads": proc_status(pid, "Threads")}
            samples.append(s)
            minute_fds.append(s["fds"])
            if el >= marks[mark_i]:
                h = node.health()
                cnt = C.snapshot()
                d = {k: cnt.get(k, 0) - last_counts.get(k, 0) for k in cnt}
                span = 60.0 if mark_i else max(1.0, el)  # the first row counts the warm-up
                row = {
                    "minute": round(el / 60, 2), "rss_kib": s["rss_kib"],
                    "fds": s["fds"], "fds_median": statistics.median(minute_fds),
                    "fds_min": min(minute_fds), "fds_max": max(minute_fds),
                    "threads": s["threads"], "hwm_kib": proc_status(pid, "VmHWM"),
                    "loadavg1": os.getloadavg()[0], "health_listeners": listener_figures(h),
                    "progressive_connects": d.get("ogg_sessions", 0) + d.get("mp3_sessions", 0),
                    "hls_segments": d.get("hls_segments", 0),
                    "announces_per_sec": (d.get("announce_http_ok", 0) + d.get("announce_udp_ok", 0)) / span,
                    "wt_ok": d.get("wt_ok", 0), "wt_fail": d.get("wt_fail", 0),
                    "errors": {k: v for k, v in d.items() if v and any(
                        w in k for w in ("error", "fail", "bad", "early", "late"))},
                }
                rows.append(row)
                if mark_i == 0:
                    print(hdr, file=sys.stderr, flush=True)
                lf = " ".join(f"{k.split('.')[-1] if k.count('.') < 2 else k.split('.', 1)[1]}={v}"
                              for k, v in row["health_listeners"].items())
                print(f"{row['minute']:5.1f} {row['rss_kib'] / 1024:8.1f} {row['fds']:4d} "
                      f"{row['fds_median']:7.1f} {row['threads']:4d} {row['loadavg1']:5.2f} "
                      f"{lf:<28} {row['progressive_connects']:9d} {row['hls_segments']:7d} "
                      f"{row['announces_per_sec']:6.1f} {row['wt_ok']:>5}/{row['wt_fail']:<4}"
                      + (f"  errors {row['errors']}" if row["errors"] else ""),
                      file=sys.stderr, flush=True)
                last_counts, minute_fds = cnt, []
                mark_i += 1
                continue
            STOP.wait(min(a.sample_secs, max(0.05, marks[mark_i] - el)))
        result["completed"] = True
    except KeyboardInterrupt as e:
        log(f"interrupted ({e}); stopping")
        result["completed"] = False
    finally:
        STOP.set()
        with CHILDREN_LOCK:
            for p in list(CHILDREN):
                p.terminate()
        for t in threads:
            t.join(timeout=15)
        result["node_stop_secs"] = node.stop() if node.proc else None
        result["node_exit_code"] = node.proc.returncode if node.proc else None

    result["rows"] = rows
    result["samples"] = samples
    result["totals"] = C.snapshot()
    if len(rows) >= 2:
        rss = [r["rss_kib"] for r in rows]
        med = [r["fds_median"] for r in rows]
        v = {
            "rss_first_mib": rss[0] / 1024, "rss_last_mib": rss[-1] / 1024,
            "rss_max_minus_min_mib": (max(rss) - min(rss)) / 1024,
            "rss_last_minus_first_mib": (rss[-1] - rss[0]) / 1024,
            "fds_median_first": med[0], "fds_median_last": med[-1],
            "fds_median_max_minus_min": max(med) - min(med),
            "fds_median_last_minus_first": med[-1] - med[0],
            "fds_instant_min": min(r["fds_min"] for r in rows),
            "fds_instant_max": max(r["fds_max"] for r in rows),
        }
        v["rss_flat"] = (v["rss_max_minus_min_mib"] < a.rss_limit_mib
                         and abs(v["rss_last_minus_first_mib"]) < a.rss_limit_mib)
        v["fds_flat"] = (abs(v["fds_median_last_minus_first"]) <= a.fd_tolerance
                         and v["fds_median_max_minus_min"] <= a.fd_tolerance)
        tot = result["totals"]
        meas = rows[-1]["minute"] - rows[0]["minute"]
        v["load_ran"] = bool(
            (tot.get("ogg_sessions", 0) and tot.get("mp3_sessions", 0) or not a.listeners)
            and (tot.get("hls_segments", 0) or not a.hls)
            and (all(r["announces_per_sec"] >= 0.9 * a.announces for r in rows[1:]) or not a.announces)
            and (tot.get("wt_ok", 0) or not a.webtorrent))
        v["measured_minutes"] = meas
        result["verdict"] = v
        ok = result["completed"] and v["rss_flat"] and v["fds_flat"] and v["load_ran"]
        line = (f"VERDICT {'PASS' if ok else 'FAIL'}: RSS drift after warm-up max-min "
                f"{v['rss_max_minus_min_mib']:.2f} MiB, last-first {v['rss_last_minus_first_mib']:+.2f} MiB "
                f"(limit {a.rss_limit_mib:g} MiB: {'flat' if v['rss_flat'] else 'NOT flat'}); "
                f"fds (minute medians) {v['fds_median_first']:g} -> {v['fds_median_last']:g}, "
                f"max-min {v['fds_median_max_minus_min']:g} (tolerance {a.fd_tolerance}: "
                f"{'flat' if v['fds_flat'] else 'NOT flat'}); over {meas:.0f} min; "
                f"load {'ran' if v['load_ran'] else 'fell short'}")
        result["verdict_line"] = line
        print(line, file=sys.stderr, flush=True)
    else:
        result["verdict_line"] = "VERDICT NONE: fewer than 2 rows after the warm-up"
        print(result["verdict_line"], file=sys.stderr, flush=True)
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
