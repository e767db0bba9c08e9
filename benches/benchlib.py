#!/usr/bin/env python3
"""Helpers shared by the streamp2p benchmarks (standard library only).

Used by hashing.sh, seeding.sh and restart.sh through `python3 benches/benchlib.py CMD ...`.
Everything talks to 127.0.0.1 only; every wait loop is bounded in time.
"""

import hashlib
import json
import os
import re
import signal
import socket
import statistics
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from datetime import datetime, timezone

ANSI = re.compile(r"\x1b\[[0-9;]*m")


# ---------------------------------------------------------------- small utilities

def log(*a):
    print("[bench]", *a, file=sys.stderr, flush=True)


def free_port():
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def http_get(url, timeout=2.0, data=None, headers=None):
    req = urllib.request.Request(url, data=data, headers=headers or {})
    with urllib.request.urlopen(req, timeout=timeout) as r:
        return r.read()


def get_json(url, timeout=2.0):
    try:
        return json.loads(http_get(url, timeout))
    except (urllib.error.URLError, ConnectionError, socket.timeout, json.JSONDecodeError):
        return None


def wait_until(fn, timeout, interval=0.02, what="condition"):
    """Calls fn() every `interval` s until it returns a truthy value; bounded by `timeout`."""
    deadline = time.monotonic() + timeout
    n = 0
    while time.monotonic() < deadline and n < int(timeout / interval) + 10:
        v = fn()
        if v:
            return v
        n += 1
        time.sleep(interval)
    raise TimeoutError(f"timed out after {timeout}s waiting for {what}")


def quietly(fn):
    """fn() or None while the node is still starting (connection refused, not JSON yet)."""
    def call():
        try:
            return fn()
        except (OSError, ValueError, KeyError, IndexError, TypeError):
            return None
    return call


def warm_cache(paths, times=2):
    """`cat FILES > /dev/null`, `times` times: the files are then in the page cache."""
    for _ in range(times):
        subprocess.run(["sh", "-c", 'cat "$@" > /dev/null', "sh", *paths], check=True)


def cached_bytes(paths):
    """Bytes of `paths` in the page cache (util-linux fincore), or None without fincore."""
    try:
        r = subprocess.run(["fincore", "--bytes", "--noheadings", "--output", "RES", *paths],
                           capture_output=True, text=True, check=True, timeout=30)
        return sum(int(x) for x in r.stdout.split())
    except (OSError, subprocess.SubprocessError, ValueError):
        return None


def proc_status(pid, key):
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith(key + ":"):
                    return int(line.split()[1])  # kB
    except FileNotFoundError:
        return None
    return None


def proc_cpu_split(pid):
    """(utime, stime) of a process (all threads), in seconds."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    tick = os.sysconf("SC_CLK_TCK")
    return int(fields[11]) / tick, int(fields[12]) / tick


def proc_cpu_secs(pid):
    """utime + stime of a process (all threads), in seconds."""
    return sum(proc_cpu_split(pid))


def log_time(line):
    """Timestamp of a tracing-subscriber line (`2026-11-25T05:00:00.123456Z  INFO ...`)."""
    ts = ANSI.sub("", line).split()[0].rstrip("Z")
    return datetime.fromisoformat(ts).replace(tzinfo=timezone.utc).timestamp()


def machine():
    model = "?"
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    mem = proc_meminfo("MemTotal")
    return {"nproc": os.cpu_count(), "cpu": model, "mem_mib": mem // 1024 if mem else None,
            "kernel": os.uname().release}


def proc_meminfo(key):
    with open("/proc/meminfo") as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1])
    return None


# ---------------------------------------------------------------- bencode

def bdecode(b, i=0):
    c = b[i:i + 1]
    if c == b"i":
        j = b.index(b"e", i)
        return int(b[i + 1:j]), j + 1
    if c == b"l":
        i += 1
        out = []
        while b[i:i + 1] != b"e":
            v, i = bdecode(b, i)
            out.append(v)
        return out, i + 1
    if c == b"d":
        i += 1
        out = {}
        while b[i:i + 1] != b"e":
            k, i = bdecode(b, i)
            v, i = bdecode(b, i)
            out[k] = v
        return out, i + 1
    j = b.index(b":", i)
    n = int(b[i:j])
    return b[j + 1:j + 1 + n], j + 1 + n


def bencode(v):
    if isinstance(v, int):
        return b"i%de" % v
    if isinstance(v, bytes):
        return b"%d:%s" % (len(v), v)
    if isinstance(v, str):
        return bencode(v.encode())
    if isinstance(v, list):
        return b"l" + b"".join(bencode(x) for x in v) + b"e"
    if isinstance(v, dict):
        return b"d" + b"".join(bencode(k) + bencode(v[k]) for k in sorted(v)) + b"e"
    raise TypeError(type(v))


def torrent_without_web_seed(raw):
    """The torrent with `url-list` removed; the info dict is kept byte for byte."""
    t, end = bdecode(raw)
    assert end == len(raw), "trailing bytes after the torrent"
    info_raw = bencode(t[b"info"])
    t.pop(b"url-list", None)
    out = bencode(t)
    assert info_raw in out
    return out, hashlib.sha1(info_raw).hexdigest(), t


# ---------------------------------------------------------------- the node

class Node:
    """One `streamp2p run` process on 127.0.0.1 with its own ports and log file."""

    def __init__(self, binary, data_dir, libraries, config_text, workdir, tag,
                 http_port=None, peer_port=None):
        self.binary = binary
        self.data_dir = data_dir
        self.libraries = libraries
        self.http_port = http_port or free_port()
        self.peer_port = peer_port or free_port()
        self.udp_port = free_port()
        self.cfg = os.path.join(workdir, f"{tag}.toml")
        self.log = os.path.join(workdir, f"{tag}.log")
        with open(self.cfg, "w") as f:
            f.write(config_text)
        self.proc = None
        self.t0 = None

    @property
    def base(self):
        return f"http://127.0.0.1:{self.http_port}"

    def start(self, preexec_fn=None):
        args = [self.binary, "run", "--data-dir", self.data_dir,
                "--http", f"127.0.0.1:{self.http_port}",
                "--peer-port", str(self.peer_port),
                "--udp-tracker", f"127.0.0.1:{self.udp_port}", "--stun", "off",
                "--config", self.cfg]
        for lib in self.libraries:
            args += ["--library", lib]
        env = dict(os.environ, NO_COLOR="1")
        logf = open(self.log, "a")
        logf.write(f"---- start {time.time():.6f}\n")
        logf.flush()
        self.t0_wall = time.time()
        self.t0 = time.monotonic()
        self.proc = subprocess.Popen(args, stdout=logf, stderr=logf, env=env, preexec_fn=preexec_fn)
        logf.close()
        return self

    def health(self):
        if self.proc.poll() is not None:
            raise RuntimeError(f"node exited with {self.proc.returncode}; see {self.log}")
        return get_json(self.base + "/api/health", timeout=2.0)

    def since_start(self):
        return time.monotonic() - self.t0

    def stop(self, timeout=30):
        """SIGTERM, then wait (bounded); SIGKILL only if it did not stop. Returns seconds."""
        if self.proc is None or self.proc.poll() is not None:
            return 0.0
        t = time.monotonic()
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            log(f"node {self.proc.pid} did not stop in {timeout}s; SIGKILL")
            self.proc.kill()
            self.proc.wait(timeout=10)
        return time.monotonic() - t

    def log_lines(self):
        """Log lines of the current run (after the last `---- start` marker)."""
        with open(self.log, errors="replace") as f:
            text = f.read()
        return [ANSI.sub("", l) for l in text.rsplit("---- start", 1)[-1].splitlines()[1:]]


def swarm_config(dht=False, lsd=False, enabled=True, rescan=10, extra=""):
    return (f"[scan]\nrescan_secs = {rescan}\n[swarm]\nenabled = {str(enabled).lower()}\n"
            f"dht = {str(dht).lower()}\nlsd = {str(lsd).lower()}\n{extra}")


def scrape_complete(base, infohash_hex):
    q = urllib.parse.quote_from_bytes(bytes.fromhex(infohash_hex))
    try:
        raw = http_get(f"{base}/scrape?info_hash={q}")
    except (urllib.error.URLError, ConnectionError, socket.timeout):
        return None
    d, _ = bdecode(raw)
    files = d.get(b"files", {})
    f = files.get(bytes.fromhex(infohash_hex))
    return f.get(b"complete", 0) if f else 0


# ---------------------------------------------------------------- hashing benchmark

def cmd_hashing(a):
    files = sorted(os.path.join(a.lib, f) for f in os.listdir(a.lib))
    total = sum(os.path.getsize(f) for f in files)
    nfiles = len(files)
    empty = os.path.join(a.work, "empty-lib")
    os.makedirs(empty, exist_ok=True)
    cfg = "[swarm]\nenabled = false\n[scan]\nrescan_secs = 1\n"
    runs = []
    for r in range(a.runs):
        # Baseline: the same node on an empty library, start -> health answering.
        warm_cache(files)
        nb = Node(a.bin, os.path.join(a.work, f"base-data-{r}"), [empty], cfg, a.work,
                  f"base-{r}").start()
        try:
            wait_until(lambda: (h := nb.health()) and h["library"]["hashing"]["files_total"] == 0,
                       60, 0.02, "baseline health")
            t_base = nb.since_start()
        finally:
            nb.stop()

        warm_cache(files)  # the node drops hashed files from the cache (fadvise DONTNEED)
        cached = cached_bytes(files)
        load = os.getloadavg()[0]
        n = Node(a.bin, os.path.join(a.work, f"hash-data-{r}"), [a.lib], cfg, a.work,
                 f"hash-{r}").start()
        first_bytes = None
        try:
            def done():
                nonlocal first_bytes
                h = n.health()
                if not h:
                    return None
                hs = h["library"]["hashing"]
                if first_bytes is None and hs["bytes_done"] > 0:
                    first_bytes = n.since_start()
                ok = (hs["files_done"] == hs["files_total"] == nfiles
                      and h["library"]["hashed_since_start"] == nfiles)
                return h if ok else None
            h = wait_until(done, 300, 0.02, "node hashing")
            t_done = n.since_start()
            cpu = proc_cpu_secs(n.proc.pid)
        finally:
            n.stop()
        lines = n.log_lines()
        start_l = [l for l in lines if "hashing new library files" in l]
        hashed_l = [l for l in lines if re.search(r"streamp2p::library: hashed", l)]
        assert start_l and len(hashed_l) == nfiles, (start_l, len(hashed_l), n.log)
        t_log = log_time(hashed_l[-1]) - log_time(start_l[0])
        run = {
            "log_secs": t_log,  # "hashing new library files" -> last "hashed" line
            "e2e_secs": t_done,  # process start -> health shows 8/8 (polled every 20 ms)
            "baseline_secs": t_base,  # empty library: process start -> health answers
            "e2e_minus_baseline_secs": t_done - t_base,
            "first_bytes_seen_secs": first_bytes,
            "items": h["library"]["items"],
            "node_cpu_secs": cpu,  # user + system of the whole node process
            "cached_bytes_before": cached,  # page-cache residency after warming (fincore)
            "loadavg_1m_before": load,
        }
        log(f"node run {r + 1}: {json.dumps(run)}")
        runs.append(run)
    med = lambda k: statistics.median(x[k] for x in runs)
    out = {
        "bytes": total, "files": nfiles, "runs": runs,
        "median_log_secs": med("log_secs"),
        "median_e2e_minus_baseline_secs": med("e2e_minus_baseline_secs"),
        "node_MBps_log": total / med("log_secs") / 1e6,
        "node_MBps_e2e": total / med("e2e_minus_baseline_secs") / 1e6,
    }
    print(json.dumps(out, indent=2))


# ---------------------------------------------------------------- restart benchmark

def cmd_restart(a):
    cfg = swarm_config(dht=False, lsd=False, enabled=True)
    data = os.path.join(a.work, "data")
    n_items = a.files

    n = Node(a.bin, data, [a.lib], cfg, a.work, "node").start()
    first = {}
    try:
        t_items = None

        def first_full():
            nonlocal t_items
            h = n.health()
            if h and t_items is None and h["library"]["items"] == n_items:
                t_items = n.since_start()
            return h if h and h["library"]["items"] == n_items and \
                h["swarm"]["seeding"] == n_items else None
        h0 = wait_until(first_full, 900, 0.05, "first run: all seeding")
        first |= {"items_secs": t_items, "all_seeding_secs": n.since_start(),
                 "hashed_since_start": h0["library"]["hashed_since_start"]}
        log(f"first run (hash + add {n_items}): {json.dumps(first)}")
    finally:
        first["stop_secs"] = n.stop()

    runs = []
    for r in range(a.runs):
        n.start()
        run = {}
        try:
            t_health = None
            t_items = None

            def probe():
                nonlocal t_health, t_items
                h = n.health()
                if not h:
                    return None
                if t_health is None:
                    t_health = n.since_start()
                if t_items is None and h["library"]["items"] == n_items:
                    t_items = n.since_start()
                return h if h["library"]["items"] == n_items and \
                    h["swarm"]["seeding"] == n_items else None
            h = wait_until(probe, 120, 0.02, "restart: all seeding")
            t_seed = n.since_start()
            rss_at_seed = proc_status(n.proc.pid, "VmRSS")
            time.sleep(a.idle)
            hi = n.health()
            run |= {
                "health_first_answer_secs": t_health,
                "items_secs": t_items,
                "all_seeding_secs": t_seed,
                "hashed_since_start": hi["library"]["hashed_since_start"],
                "seeding_after_idle": hi["swarm"]["seeding"],
                "rss_at_all_seeding_kib": rss_at_seed,
                "idle_rss_kib": proc_status(n.proc.pid, "VmRSS"),
                "idle_hwm_kib": proc_status(n.proc.pid, "VmHWM"),
                "threads": proc_status(n.proc.pid, "Threads"),
                "cpu_secs_total": proc_cpu_secs(n.proc.pid),
            }
            ready = [l for l in n.log_lines() if "node ready" in l]
            m = re.search(r"ready_ms=(\d+)", ready[0]) if ready else None
            run["log_ready_ms"] = int(m.group(1)) if m else None
        finally:
            run["stop_secs"] = n.stop()
        log(f"restart {r + 1}: {json.dumps(run)}")
        runs.append(run)
    med = lambda k: statistics.median(x[k] for x in runs)
    print(json.dumps({
        "files": n_items, "first_run": first, "runs": runs,
        "median_items_secs": med("items_secs"),
        "median_all_seeding_secs": med("all_seeding_secs"),
        "max_idle_rss_kib": max(x["idle_rss_kib"] for x in runs),
    }, indent=2))


# ---------------------------------------------------------------- seeding benchmark

class FileWatcher:
    """Watches the fetcher's output file every 20 ms while hyperfine runs, for the data phase
    of each run: first allocated byte -> all bytes allocated (tmpfs: allocated == written).
    This leaves out the fixed set-up (announce, connect, handshakes) and the exit."""

    def __init__(self, path, size):
        import threading
        self.path, self.size = path, size
        self.phases = []
        self._stop = threading.Event()
        self._t = threading.Thread(target=self._run, daemon=True)

    def __enter__(self):
        self._t.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._t.join(timeout=5)

    def _run(self):
        first = None
        done = os.path.exists(self.path)  # a finished file from an earlier run: not ours
        deadline = time.monotonic() + 7200
        while not self._stop.is_set() and time.monotonic() < deadline:
            try:
                st = os.stat(self.path)
                have = st.st_blocks * 512
            except FileNotFoundError:
                have = None
            now = time.monotonic()
            if have is None or have == 0:
                if done:
                    first, done = None, False
            elif first is None:
                first = now
            elif not done and have >= self.size:
                self.phases.append(now - first)
                done = True
            time.sleep(0.02)


def breakdown_run(cmd, prepare, out_file, size):
    """One more (untimed by hyperfine) aria2c run, split into set-up (start -> first byte in
    the output file), data (first -> last byte) and exit (last byte -> aria2c exit)."""
    subprocess.run(["sh", "-c", prepare], check=True, timeout=120)
    t0 = time.monotonic()
    p = subprocess.Popen(["sh", "-c", cmd], stdout=subprocess.DEVNULL, stderr=sys.stderr)
    t_first = t_full = None
    deadline = t0 + 700
    while p.poll() is None and time.monotonic() < deadline:
        try:
            have = os.stat(out_file).st_blocks * 512
        except FileNotFoundError:
            have = 0
        now = time.monotonic()
        if have > 0 and t_first is None:
            t_first = now
        if have >= size and t_full is None:
            t_full = now
        time.sleep(0.01)
    p.wait(timeout=30)
    t_exit = time.monotonic()
    if t_first is None or t_full is None:
        return {"rc": p.returncode}
    return {"rc": p.returncode, "total_secs": t_exit - t0, "setup_secs": t_first - t0,
            "data_secs": t_full - t_first, "exit_secs": t_exit - t_full}


def hyperfine(cmd, prepare, runs, export):
    subprocess.run(["hyperfine", "--runs", str(runs), "--prepare", prepare,
                    "--export-json", export, "--style", "basic", cmd],
                   stdout=sys.stderr, check=True, timeout=runs * 700 + 60)
    with open(export) as f:
        return json.load(f)["results"][0]


def aria2_cmd(torrent, out):
    return ("timeout 600 aria2c --enable-dht=false --bt-enable-lpd=false "
            "--enable-peer-exchange=false --seed-time=0 --file-allocation=none "
            "--bt-tracker-connect-timeout=10 --bt-stop-timeout=60 --interface=127.0.0.1 "
            f"--summary-interval=0 --console-log-level=warn -d {out} {torrent}")


def fetch_stripped_torrent(node, dest):
    lib = json.loads(http_get(node.base + "/api/library"))
    assert len(lib) == 1, lib
    ih = lib[0]["infohash"]
    raw = http_get(f"{node.base}/t/{ih}.torrent")
    stripped, ih2, t = torrent_without_web_seed(raw)
    assert ih2 == ih, (ih, ih2)
    with open(dest, "wb") as f:
        f.write(stripped)
    return ih, t


def qb_config(profile, peer_port, webui_port):
    d = os.path.join(profile, "qBittorrent", "config")
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, "qBittorrent.conf"), "w") as f:
        f.write(f"""[LegalNotice]
Accepted=true

[BitTorrent]
Session\\Port={peer_port}
Session\\InterfaceAddress=127.0.0.1
Session\\DHTEnabled=false
Session\\LSDEnabled=false
Session\\PeXEnabled=false
Session\\MultiConnectionsPerIp=true
Session\\QueueingSystemEnabled=false
Session\\AnonymousModeEnabled=false
Session\\AddTorrentPaused=false

[Network]
PortForwardingEnabled=false

[Preferences]
Connection\\UPnP=false
General\\Locale=en
WebUI\\Address=127.0.0.1
WebUI\\Port={webui_port}
WebUI\\LocalHostAuth=false
WebUI\\CSRFProtection=false
WebUI\\HostHeaderValidation=false
WebUI\\UseUPnP=false
""")


def cmd_seeding(a):
    src = os.path.join(a.lib, "bench.mp3")
    size = os.path.getsize(src)
    out = os.path.join(a.out_root, "out")
    data = os.path.join(a.work, "data")
    prepare = f"rm -rf {out} && cat {src} > /dev/null && cat {src} > /dev/null"
    result = {"bytes": size}

    # (a) the node seeds over BitTorrent; aria2c fetches with the web seed stripped. The node's
    # WebRTC seeder is off in both phases: it announces the library to the node's own WebSocket
    # tracker as a seeder, and /scrape counts every peer of the table (WebSocket ones too), so
    # with it on the swarm-off node of (b) would list a seeder before qBittorrent announced.
    no_webrtc = "[webtorrent]\nenabled = false\n"
    cfg = swarm_config(dht=False, lsd=False, enabled=True, extra=no_webrtc)
    node = Node(a.bin, data, [a.lib], cfg, a.work, "node-seed").start()
    try:
        wait_until(lambda: (h := node.health()) and h["library"]["items"] == 1
                   and h["swarm"]["seeding"] == 1, 300, 0.1, "node seeding")
        log(f"node seeding after {node.since_start():.2f}s")
        tor = os.path.join(a.work, "node.torrent")
        ih, t = fetch_stripped_torrent(node, tor)
        result["infohash"] = ih
        result["piece_length"] = t[b"info"][b"piece length"]
        result["announce"] = t.get(b"announce", b"").decode()
        wait_until(lambda: (scrape_complete(node.base, ih) or 0) >= 1, 30, 0.1, "scrape")
        cpu0 = proc_cpu_secs(node.proc.pid)
        h0 = node.health()
        with FileWatcher(os.path.join(out, "bench.mp3"), size) as fw:
            r = hyperfine(aria2_cmd(tor, out), prepare, a.runs,
                          os.path.join(a.work, "hyperfine-node.json"))
        cpu1 = proc_cpu_secs(node.proc.pid)
        h1 = node.health()
        ok = subprocess.run(["cmp", src, os.path.join(out, "bench.mp3")]).returncode == 0
        bd = breakdown_run(aria2_cmd(tor, out), prepare, os.path.join(out, "bench.mp3"), size)
        uploaded = h1["swarm"]["uploaded_bytes"] - h0["swarm"]["uploaded_bytes"]
        result["node"] = {
            "median_secs": r["median"], "times": r["times"], "mean_secs": r["mean"],
            "aria2c_user_secs": r["user"], "aria2c_system_secs": r["system"],
            "MBps": size / r["median"] / 1e6, "download_identical": ok,
            "data_phase_secs": fw.phases,
            "breakdown_run": bd,
            "data_phase_MBps": (size / statistics.median(fw.phases) / 1e6) if fw.phases else None,
            "seeder_cpu_secs_per_run": (cpu1 - cpu0) / a.runs,
            "seeder_uploaded_bytes": uploaded,
        }
        log(f"node: {json.dumps(result['node'])}")
    finally:
        node.stop()

    # (b) qBittorrent seeds the same file; the node (swarm off) is only the tracker.
    cfg_b = swarm_config(enabled=False, extra=no_webrtc)
    node = Node(a.bin, data, [a.lib], cfg_b, a.work, "node-tracker").start()
    qb = None
    try:
        wait_until(lambda: (h := node.health()) and h["library"]["items"] == 1, 300, 0.1,
                   "tracker node")
        tor = os.path.join(a.work, "qb.torrent")
        ih_b, _ = fetch_stripped_torrent(node, tor)
        assert ih_b == ih, "same file, same infohash"
        listed = scrape_complete(node.base, ih)
        assert listed == 0, f"the swarm-off node's /scrape lists {listed} seeder(s), want 0"
        profile = os.path.join(a.work, "qb-profile")
        qport, wport = free_port(), free_port()
        qb_config(profile, qport, wport)
        qlog = open(os.path.join(a.work, "qbittorrent.log"), "w")
        qb = subprocess.Popen(["qbittorrent-nox", f"--profile={profile}",
                               f"--webui-port={wport}"], stdout=qlog, stderr=qlog)
        api = f"http://127.0.0.1:{wport}/api/v2"
        ver = wait_until(lambda: get_json_text(api + "/app/version"), 60, 0.2, "qB WebUI")
        result["qbittorrent_version"] = ver
        r = subprocess.run(["curl", "-sS", "--max-time", "20", "-F", f"torrents=@{tor}",
                            "-F", f"savepath={a.lib}", "-F", "skip_checking=true",
                            "-F", "paused=false", api + "/torrents/add"],
                           capture_output=True, text=True, check=True)
        log(f"qB add: {r.stdout.strip()} {r.stderr.strip()}")

        def seeding():
            info = get_json(f"{api}/torrents/info?hashes={ih}")
            return info and info[0]["state"] in ("uploading", "stalledUP") and info[0]
        st = wait_until(seeding, 120, 0.2, "qB seeding")
        log(f"qB state {st['state']}, progress {st['progress']}")
        wait_until(lambda: (scrape_complete(node.base, ih) or 0) >= 1, 60, 0.2,
                   "qB announce seen by the node's tracker")
        prefs = get_json(api + "/app/preferences") or {}
        result["qbittorrent_prefs"] = {k: prefs.get(k) for k in (
            "listen_port", "current_interface_address", "dht", "lsd", "pex", "up_limit",
            "max_uploads", "max_uploads_per_torrent", "max_connec_per_torrent",
            "disk_io_type", "send_buffer_watermark", "enable_multi_connections_from_same_ip")}
        cpu0 = proc_cpu_secs(qb.pid)
        with FileWatcher(os.path.join(out, "bench.mp3"), size) as fw:
            r = hyperfine(aria2_cmd(tor, out), prepare, a.runs,
                          os.path.join(a.work, "hyperfine-qb.json"))
        cpu1 = proc_cpu_secs(qb.pid)
        ok = subprocess.run(["cmp", src, os.path.join(out, "bench.mp3")]).returncode == 0
        bd = breakdown_run(aria2_cmd(tor, out), prepare, os.path.join(out, "bench.mp3"), size)
        result["qbittorrent"] = {
            "median_secs": r["median"], "times": r["times"], "mean_secs": r["mean"],
            "aria2c_user_secs": r["user"], "aria2c_system_secs": r["system"],
            "MBps": size / r["median"] / 1e6, "download_identical": ok,
            "data_phase_secs": fw.phases,
            "breakdown_run": bd,
            "data_phase_MBps": (size / statistics.median(fw.phases) / 1e6) if fw.phases else None,
            "seeder_cpu_secs_per_run": (cpu1 - cpu0) / a.runs,
        }
        log(f"qbittorrent: {json.dumps(result['qbittorrent'])}")
    finally:
        if qb is not None:
            try:
                http_get(f"http://127.0.0.1:{wport}/api/v2/app/shutdown", data=b"")
            except Exception as e:  # noqa: BLE001 - falls back to SIGTERM below
                log(f"qB shutdown via API: {e}")
            try:
                qb.wait(timeout=20)
            except subprocess.TimeoutExpired:
                qb.terminate()
                qb.wait(timeout=20)
        node.stop()
    result["ratio_node_over_qb_speed"] = (result["qbittorrent"]["median_secs"]
                                          / result["node"]["median_secs"])
    print(json.dumps(result, indent=2))


def get_json_text(url):
    try:
        return http_get(url, 1.0).decode().strip()
    except (urllib.error.URLError, ConnectionError, socket.timeout):
        return None


# ---------------------------------------------------------------- entry point

def main():
    import argparse
    p = argparse.ArgumentParser()
    sub = p.add_subparsers(dest="cmd", required=True)
    for name in ("hashing", "restart", "seeding"):
        s = sub.add_parser(name)
        s.add_argument("--bin", required=True)
        s.add_argument("--lib", required=True)
        s.add_argument("--work", required=True)
        s.add_argument("--runs", type=int, default=3)
        if name == "restart":
            s.add_argument("--files", type=int, default=1000)
            s.add_argument("--idle", type=float, default=10.0)
        if name == "seeding":
            s.add_argument("--out-root", required=True)
    sub.add_parser("machine")
    a = p.parse_args()
    if a.cmd == "machine":
        print(json.dumps(machine()))
    else:
        {"hashing": cmd_hashing, "restart": cmd_restart, "seeding": cmd_seeding}[a.cmd](a)


if __name__ == "__main__":
    main()
