#!/usr/bin/env python3
"""Tracker benchmark orchestration for benches/tracker.sh (Python standard library only).

The node's tracker against opentracker (Debian's package, whitelist mode) and aquatic_udp /
aquatic_ws, under the same load in the same run. Every tracker runs pinned to core 1
(`taskset -c 1`), every load generator to core 0 (`taskset -c 0`). Loopback only; every
run and wait is bounded in time.

    python3 benches/trackerbench.py all --work DIR --bin NODE --loadgen LOADGEN --out FILE
    python3 benches/trackerbench.py profile --work DIR --bin NODE --loadgen LOADGEN --out FILE
"""

import argparse
import json
import os
import re
import shutil
import signal
import socket
import statistics
import struct
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from benchlib import (get_json, log, machine, proc_cpu_secs, proc_cpu_split, proc_status,  # noqa: E402
                      wait_until)  # noqa: E402

BENCH_DIR = os.path.dirname(os.path.abspath(__file__))
TRACKER_CPU = os.environ.get("TRACKER_CPU", "1")
GEN_CPU = os.environ.get("GEN_CPU", "0")


# ---------------------------------------------------------------- small utilities

def free_port():
    """A port free for TCP and UDP on 127.0.0.1."""
    for _ in range(100):
        t = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        t.bind(("127.0.0.1", 0))
        p = t.getsockname()[1]
        u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            u.bind(("127.0.0.1", p))
            return p
        except OSError:
            continue
        finally:
            t.close()
            u.close()
    raise RuntimeError("no free port")


def tcp_open(port):
    try:
        socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
        return True
    except OSError:
        return False


def udp_announce_ok(port, info_hash):
    """One BEP 15 connect + announce; True if the reply is a full announce reply."""
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.settimeout(1.0)
    try:
        s.connect(("127.0.0.1", port))
        s.send(struct.pack(">QII", 0x41727101980, 0, 1))
        r = s.recv(64)
        cid = struct.unpack(">IIQ", r[:16])[2]
        s.send(struct.pack(">QII", cid, 1, 2) + info_hash + b"-LGCHECK-00000000000"
               + struct.pack(">QQQIIIiH", 0, 0, 0, 2, 0, 0, 5, 4321))
        r = s.recv(2048)
        return len(r) >= 20 and r[:4] == b"\0\0\0\1"
    except OSError:
        return False
    finally:
        s.close()


def cpu_times():
    """Per-core (busy, total, nice, softirq) jiffies from /proc/stat."""
    out = {}
    with open("/proc/stat") as f:
        for line in f:
            m = re.match(r"cpu(\d+) (.*)", line)
            if m:
                v = [int(x) for x in m.group(2).split()]
                user, nice, system, idle, iowait, irq, softirq, steal = v[:8]
                total = sum(v[:8])
                out[m.group(1)] = (total - idle - iowait, total, nice, softirq)
    return out


def core_shares(a, b):
    res = {}
    for c in b:
        busy = b[c][0] - a[c][0]
        tot = max(1, b[c][1] - a[c][1])
        res[f"cpu{c}"] = {"busy": round(busy / tot, 3), "nice": round((b[c][2] - a[c][2]) / tot, 3),
                          "softirq": round((b[c][3] - a[c][3]) / tot, 3)}
    return res


def load_state():
    r = subprocess.run(["pgrep", "-fa", "fuzz"], capture_output=True, text=True)
    fuzz = [l for l in r.stdout.splitlines() if "pgrep" not in l]
    return {"loadavg1": round(os.getloadavg()[0], 2), "fuzz_running": bool(fuzz),
            "fuzz": fuzz[:2]}


def check_ports_clear():
    """Leftover trackers (opentracker shares ports via SO_REUSEPORT) would steal requests."""
    # One name per pgrep: it matches nothing for a pattern longer than 15 characters.
    found = "".join(subprocess.run(["pgrep", "-a", "-x", name], capture_output=True,
                                   text=True).stdout
                    for name in ("opentracker", "aquatic_udp", "aquatic_ws"))
    if found.strip():
        log("WARNING: tracker processes already running (not ours?):\n" + found)
    return found.strip()


# ---------------------------------------------------------------- trackers

class Tracker:
    name = "?"

    def __init__(self, work, tag):
        self.work = work
        self.tag = tag
        self.proc = None
        self.log = os.path.join(work, f"{tag}.log")
        self.http_port = self.udp_port = self.ws_port = None

    def popen(self, args, env=None, cwd=None):
        logf = open(self.log, "a")
        logf.write(f"---- {' '.join(args)}\n")
        logf.flush()
        self.proc = subprocess.Popen(["taskset", "-c", TRACKER_CPU] + args, stdout=logf,
                                     stderr=logf, env=env, cwd=cwd)
        logf.close()

    def alive(self):
        if self.proc.poll() is not None:
            raise RuntimeError(f"{self.name} exited with {self.proc.returncode}; see {self.log}")
        return True

    def stop(self):
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=10)

    def rss_kib(self):
        return proc_status(self.proc.pid, "VmRSS")

    def threads(self):
        return proc_status(self.proc.pid, "Threads")


class NodeTracker(Tracker):
    name = "node"

    def __init__(self, work, tag, binary, extra=""):
        super().__init__(work, tag)
        self.binary = binary
        self.http_port, self.udp_port, self.peer_port = free_port(), free_port(), free_port()
        self.ws_port = self.http_port
        self.data = os.path.join(work, f"{tag}-data")
        self.cfg = os.path.join(work, f"{tag}.toml")
        with open(self.cfg, "w") as f:
            config = NODE_CONFIG
            if os.environ.get("BASE_PRE_CAPS") and binary.endswith("streamp2p-base"):
                # A build from before issue 13 has no [web] caps and refuses the keys.
                config = config[:config.index("[web]")]
            f.write(config + extra)

    def start(self):
        shutil.rmtree(self.data, ignore_errors=True)
        os.makedirs(self.data)
        self.popen([self.binary, "run", "--data-dir", self.data,
                    "--http", f"127.0.0.1:{self.http_port}",
                    "--peer-port", str(self.peer_port),
                    "--udp-tracker", f"127.0.0.1:{self.udp_port}", "--stun", "off",
                    "--config", self.cfg], env=dict(os.environ, NO_COLOR="1"))
        wait_until(lambda: self.alive() and get_json(
            f"http://127.0.0.1:{self.http_port}/api/health"), 60, 0.05, "node health")
        return self


# The node as the load needs it: any infohash, no per-IP limit (one generator IP), room for
# every swarm and every peer of the simulated population (the largest swarm has 4539
# peers), and for the WebSocket connections. No BitTorrent session (only the tracker runs).
NODE_CONFIG = """\
[swarm]
enabled = false
dht = false
lsd = false

[tracker]
mode = "open"
rate_limit_per_ip = 0
max_torrents = 20000
max_peers_per_torrent = 5000
max_ws_connections = 20000

[web]
# Every load generator connection comes from 127.0.0.1: the per-address cap (256 unfinished
# requests and WebSockets) and the global one are raised for them.
max_connections = 100000
max_per_address = 100000
"""


class OpenTracker(Tracker):
    name = "opentracker"

    def __init__(self, work, tag, whitelist):
        super().__init__(work, tag)
        self.http_port, self.udp_port = free_port(), free_port()
        # opentracker chroots into -d and drops to `nobody`: the directory must be readable.
        self.dir = os.path.join(work, f"{tag}-root")
        os.makedirs(self.dir, exist_ok=True)
        shutil.copy(whitelist, os.path.join(self.dir, "whitelist.txt"))
        os.chmod(self.dir, 0o755)
        os.chmod(os.path.join(self.dir, "whitelist.txt"), 0o644)
        self.first_hash = bytes.fromhex(open(whitelist).readline().strip())

    def start(self):
        self.popen(["opentracker", "-i", "127.0.0.1", "-p", str(self.http_port),
                    "-P", str(self.udp_port), "-d", self.dir, "-w", "whitelist.txt"])
        wait_until(lambda: self.alive() and tcp_open(self.http_port), 20, 0.05, "opentracker")
        # The whitelist is read by a thread: wait until a listed infohash is accepted.
        wait_until(lambda: udp_announce_ok(self.udp_port, self.first_hash), 20, 0.1,
                   "opentracker whitelist loaded")
        return self


def aquatic_config(binary, replacements):
    """aquatic's printed default config (`-p`) with some keys replaced, section-aware."""
    text = subprocess.run([binary, "-p"], capture_output=True, text=True, check=True,
                          timeout=30).stdout
    out, section, seen = [], "", set()
    for line in text.splitlines():
        m = re.match(r"\s*\[([^\]]+)\]", line)
        if m:
            section = m.group(1)
        m = re.match(r"(\s*)([A-Za-z0-9_]+)\s*=", line)
        if m:
            key = f"{section}.{m.group(2)}" if section else m.group(2)
            if key in replacements:
                line = f"{m.group(1)}{m.group(2)} = {replacements[key]}"
                seen.add(key)
        out.append(line)
    missing = set(replacements) - seen
    if missing:
        raise RuntimeError(f"{binary} config has no keys {sorted(missing)}")
    return "\n".join(out) + "\n"


class AquaticUdp(Tracker):
    name = "aquatic_udp"

    def __init__(self, work, tag):
        super().__init__(work, tag)
        self.udp_port = free_port()
        self.cfg = os.path.join(work, f"{tag}.toml")
        with open(self.cfg, "w") as f:
            f.write(aquatic_config("aquatic_udp", {
                "socket_workers": "1",
                "network.address": f'"127.0.0.1:{self.udp_port}"',
            }))

    def start(self):
        self.popen(["aquatic_udp", "-c", self.cfg])
        wait_until(lambda: self.alive() and udp_announce_ok(self.udp_port, b"\1" * 20), 20, 0.1,
                   "aquatic_udp")
        return self


class AquaticWs(Tracker):
    name = "aquatic_ws"

    def __init__(self, work, tag):
        super().__init__(work, tag)
        self.ws_port = free_port()
        self.cfg = os.path.join(work, f"{tag}.toml")
        with open(self.cfg, "w") as f:
            f.write(aquatic_config("aquatic_ws", {
                "socket_workers": "1",
                "swarm_workers": "1",
                "network.address": f'"127.0.0.1:{self.ws_port}"',
                "network.only_ipv6": "false",
            }))

    def start(self):
        self.popen(["aquatic_ws", "-c", self.cfg])
        wait_until(lambda: self.alive() and tcp_open(self.ws_port), 20, 0.05, "aquatic_ws")
        return self


# ---------------------------------------------------------------- one measured run

def measured(cmd, tracker, window_start, window_len, timeout, env=None, hold=None):
    """Runs a load generator pinned to GEN_CPU against a running tracker. CPU use of the
    tracker, the generator and each core is sampled over [window_start, +window_len] s."""
    before = load_state()
    full = ["taskset", "-c", GEN_CPU] + cmd
    log(" ".join(full))
    t0 = time.monotonic()
    gen = subprocess.Popen(full, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                           env=env)
    samples = {}

    def sampler():
        time.sleep(max(0.0, window_start - (time.monotonic() - t0)))
        try:
            a = (proc_cpu_split(tracker.proc.pid), proc_cpu_secs(gen.pid), cpu_times())
            time.sleep(window_len)
            b = (proc_cpu_split(tracker.proc.pid), proc_cpu_secs(gen.pid), cpu_times())
        except (FileNotFoundError, ProcessLookupError):
            return
        # User and system time apart: the kernel's share of a connection (TCP set-up and
        # teardown) is the same for every tracker, the rest is the tracker's own code.
        samples["tracker_user_share"] = round((b[0][0] - a[0][0]) / window_len, 3)
        samples["tracker_sys_share"] = round((b[0][1] - a[0][1]) / window_len, 3)
        samples["tracker_cpu_share"] = round(
            samples["tracker_user_share"] + samples["tracker_sys_share"], 3)
        samples["generator_cpu_share"] = round((b[1] - a[1]) / window_len, 3)
        samples["cores"] = core_shares(a[2], b[2])
        samples["tracker_rss_kib"] = tracker.rss_kib()
        samples["tracker_threads"] = tracker.threads()

    th = threading.Thread(target=sampler, daemon=True)
    th.start()
    try:
        out, err = gen.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        gen.kill()
        out, err = gen.communicate(timeout=10)
        raise RuntimeError(f"load generator timed out: {' '.join(cmd)}\n{err[-2000:]}")
    th.join(timeout=window_len + 5)
    tracker.alive()
    return out, err, dict(samples, load_before=before, wall_secs=round(time.monotonic() - t0, 2))


def last_json(text):
    for line in reversed(text.strip().splitlines()):
        line = line.strip()
        if line.startswith("{"):
            return json.loads(line)
    raise ValueError(f"no JSON line in:\n{text[-2000:]}")


# ---------------------------------------------------------------- scenarios

def run_loadgen_udp(a, tracker):
    cmd = [a.loadgen, "udp", "--server", f"127.0.0.1:{tracker.udp_port}",
           "--torrents", str(a.torrents), "--peers", str(a.peers),
           "--warmup", str(a.warmup), "--seconds", str(a.seconds)]
    out, err, s = measured(cmd, tracker, a.warmup + 0.5, a.seconds - 1, a.warmup + a.seconds + 60)
    return dict(last_json(out), **s, generator="streamp2p-loadgen udp")


def run_aquatic_udp_load(a, tracker):
    duration = int(a.warmup_aquatic + a.seconds)
    cfg = os.path.join(a.work, f"aq-udp-load-{tracker.tag}.toml")
    with open(cfg, "w") as f:
        f.write(f"""server_address = "127.0.0.1:{tracker.udp_port}"
log_level = "error"
workers = 1
duration = {duration}
summarize_last = {int(a.seconds)}
extra_statistics = false
[network]
multiple_client_ipv4s = false
sockets_per_worker = 4
recv_buffer = 8000000
[requests]
number_of_torrents = {a.torrents}
number_of_peers = {a.peers}
scrape_max_torrents = 10
announce_peers_wanted = 30
weight_connect = 0
weight_announce = 100
weight_scrape = 0
peer_seeder_probability = 0.75
""")
    out, err, s = measured(["aquatic_udp_load_test", "-c", cfg], tracker, a.warmup_aquatic + 0.5,
                           a.seconds - 1, duration + 60)
    report = out.split("# aquatic load test report", 1)[-1]

    def num(label, text):
        m = re.search(re.escape(label) + r":\s*([0-9.]+)", text)
        return float(m.group(1)) if m else None

    ppr = re.findall(r"Peers per announce response: ([0-9.]+)", out)
    return dict(s, generator="aquatic_udp_load_test 0.9.0",
                announces_per_s=num("Announce responses", report),
                responses_per_s=num("Average responses per second", report),
                error_responses_per_s=num("Error responses", report),
                invalid_responses=err.count("Received invalid response"),
                peers_per_reply=float(ppr[-1]) if ppr else None)


def run_wrk(a, tracker, close):
    env = dict(os.environ, PATHS=a.paths, CLOSE="1" if close else "0")
    url = f"http://127.0.0.1:{tracker.http_port}/"
    script = os.path.join(BENCH_DIR, "tracker_http.lua")
    # wrk has no warm-up phase: a first short run fills the swarms, then the measured run.
    subprocess.run(["taskset", "-c", GEN_CPU, "wrk", "-t1", f"-c{a.http_conns}",
                    f"-d{int(a.warmup)}s", "--timeout", "5s", "-s", script, url],
                   env=env, capture_output=True, timeout=a.warmup + 60)
    cmd = ["wrk", "-t1", f"-c{a.http_conns}", f"-d{int(a.seconds)}s", "--timeout", "5s",
           "--latency", "-s", script, url]
    out, err, s = measured(cmd, tracker, 0.5, a.seconds - 1, a.seconds + 60, env=env)
    r = last_json(out)
    return dict(r, **s, generator=f"wrk -t1 -c{a.http_conns}" + (" Connection: close" if close else ""))


def run_ws(a, tracker, conns, rate):
    cmd = [a.loadgen, "ws", "--server", f"127.0.0.1:{tracker.ws_port}",
           "--conns", str(conns), "--rate", str(rate), "--offers", "10",
           "--torrents", str(a.torrents), "--warmup", str(a.warmup), "--seconds", str(a.seconds)]
    out, err, s = measured(cmd, tracker, a.warmup + 1.0, a.seconds - 1,
                           a.warmup + a.seconds + 180)
    return dict(last_json(out), **s, generator="streamp2p-loadgen ws",
                connect_log=err.strip()[-300:])


def run_ws_memory(a, tracker):
    """RSS of the tracker with N connected WebSocket peers, each after one announce with 10
    offers, minus its RSS before they connected."""
    time.sleep(1.0)
    base = tracker.rss_kib()
    cmd = ["taskset", "-c", GEN_CPU, a.loadgen, "ws", "--server", f"127.0.0.1:{tracker.ws_port}",
           "--conns", str(a.mem_conns), "--offers", "10", "--torrents", str(a.torrents),
           "--hold", "--seconds", "8"]
    log(" ".join(cmd))
    gen = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        line = ""
        t0 = time.monotonic()
        while time.monotonic() - t0 < 150:
            line = gen.stdout.readline()
            if not line or line.startswith("READY"):
                break
        if not line.startswith("READY"):
            raise RuntimeError(f"ws hold run did not get ready: {gen.stderr.read()[-1000:]}")
        _, connected, announced, closed = line.split()
        time.sleep(3.0)
        held = tracker.rss_kib()
        hwm = proc_status(tracker.proc.pid, "VmHWM")
        gen.wait(timeout=60)
    finally:
        if gen.poll() is None:
            gen.kill()
            gen.wait(timeout=10)
    connected = int(connected)
    return {"conns": a.mem_conns, "connected": connected, "announced": int(announced),
            "closed_by_server": int(closed), "rss_before_kib": base, "rss_held_kib": held,
            "vmhwm_kib": hwm,
            "bytes_per_peer": round((held - base) * 1024 / max(1, connected)),
            "load_before": load_state()}


# ---------------------------------------------------------------- the whole benchmark

def med(rows, key):
    v = [r[key] for r in rows if r.get(key) is not None]
    return statistics.median(v) if v else None


def cmd_all(a):
    os.makedirs(a.work, exist_ok=True)
    os.chmod(a.work, 0o755)  # opentracker (user nobody) reads its chroot below it
    whitelist = os.path.join(a.work, "whitelist.txt")
    with open(whitelist, "w") as f:
        subprocess.run([a.loadgen, "hashes", "--torrents", str(a.torrents)], stdout=f, check=True)
    a.paths = os.path.join(a.work, "paths.txt")
    with open(a.paths, "w") as f:
        subprocess.run([a.loadgen, "http-paths", "--torrents", str(a.torrents),
                        "--peers", str(a.peers)], stdout=f, check=True)
    swarms = json.loads(subprocess.run([a.loadgen, "swarms", "--torrents", str(a.torrents),
                                        "--peers", str(a.peers)], capture_output=True, text=True,
                                       check=True).stdout)
    leftovers = check_ports_clear()
    have = {t: shutil.which(t) is not None for t in
            ["opentracker", "aquatic_udp", "aquatic_ws", "aquatic_udp_load_test", "wrk"]}
    scenarios = [s for s in a.scenarios.split(",") if s]
    results = {"machine": machine(), "swarms": swarms, "leftover_processes": leftovers,
               "tools": have, "params": {k: v for k, v in vars(a).items() if k != "func"},
               "runs": []}

    # TRACKERS (comma list: node, opentracker, aquatic) limits the references; --base-bin adds
    # a second node binary ("node-base", e.g. an older commit) to every scenario.
    want = set(t.strip() for t in a.trackers.split(",") if t.strip())

    def makers(kind):
        ms = [("node", lambda tag: NodeTracker(a.work, tag, a.bin))]
        if a.base_bin:
            ms.append(("node-base", lambda tag: NodeTracker(a.work, tag, a.base_bin)))
        if kind in ("udp", "udp-aquatic", "http", "http-close") and have["opentracker"] \
                and "opentracker" in want:
            ms.append(("opentracker", lambda tag: OpenTracker(a.work, tag, whitelist)))
        if kind in ("udp", "udp-aquatic") and have["aquatic_udp"] and "aquatic" in want:
            ms.append(("aquatic_udp", lambda tag: AquaticUdp(a.work, tag)))
        if kind in ("ws", "ws-light", "ws-mem") and have["aquatic_ws"] and "aquatic" in want:
            ms.append(("aquatic_ws", lambda tag: AquaticWs(a.work, tag)))
        return ms

    runners = {
        "udp-aquatic": lambda t: run_aquatic_udp_load(a, t),
        "udp": lambda t: run_loadgen_udp(a, t),
        "http": lambda t: run_wrk(a, t, close=False),
        "http-close": lambda t: run_wrk(a, t, close=True),
        "ws": lambda t: run_ws(a, t, a.ws_conns, a.ws_rate),
        "ws-light": lambda t: run_ws(a, t, a.ws_light_conns, a.ws_rate),
        "ws-mem": lambda t: run_ws_memory(a, t),
    }
    for r in range(a.runs):
        for sc in scenarios:
            # Trackers alternate within each round, so slow drift hits all of them alike.
            ms = makers(sc)
            if r % 2 == 1:
                ms = ms[::-1]
            for name, make in ms:
                tag = f"{sc}-{name}-{r}"
                t = make(tag)
                try:
                    t.start()
                    time.sleep(0.5)
                    row = runners[sc](t)
                except Exception as e:  # noqa: BLE001 - a failed run is recorded, not fatal
                    log(f"{tag} FAILED: {e}")
                    row = {"failed": str(e)[:2000]}
                finally:
                    t.stop()
                row.update(scenario=sc, tracker=name, run=r)
                results["runs"].append(row)
                log(f"{tag}: " + json.dumps({k: row.get(k) for k in (
                    "announces_per_s", "p99_us", "tracker_cpu_share", "generator_cpu_share",
                    "bytes_per_peer", "errors", "failures", "closed_by_server", "failed")}))
                with open(a.out + ".json", "w") as f:
                    json.dump(results, f, indent=1)
    summary(results, a.out)


def summary(results, out):
    """Medians per scenario and tracker, and the node's ratios; `resummarize` redoes it."""
    rows = results["runs"]
    lines = []
    table = {}
    for sc in dict.fromkeys(r["scenario"] for r in rows):
        for tr in dict.fromkeys(r["tracker"] for r in rows if r["scenario"] == sc):
            rr = [r for r in rows if r["scenario"] == sc and r["tracker"] == tr and "failed" not in r]
            fails = [r for r in rows if r["scenario"] == sc and r["tracker"] == tr and "failed" in r]
            t = {"n": len(rr), "failed": len(fails)}
            for k in ("announces_per_s", "p50_us", "p99_us", "tracker_cpu_share",
                      "generator_cpu_share", "bytes_per_peer", "offers_in_per_s",
                      "peers_per_reply", "closed_by_server", "errors", "lost"):
                t[k] = med(rr, k)
            eff = [r["announces_per_s"] / r["tracker_cpu_share"] for r in rr
                   if r.get("announces_per_s") and r.get("tracker_cpu_share")]
            # Announces per second of the tracker's own CPU time (user + system, not softirq):
            # what one whole core would carry, whatever else the machine was running.
            t["announces_per_cpu_s"] = round(statistics.median(eff), 1) if eff else None
            # CPU microseconds per announce, in the tracker's own code and in the kernel.
            for part in ("user", "sys"):
                us = [r[f"tracker_{part}_share"] * 1e6 / r["announces_per_s"] for r in rr
                      if r.get("announces_per_s") and r.get(f"tracker_{part}_share") is not None]
                t[f"{part}_us_per_announce"] = round(statistics.median(us), 1) if us else None
            t["all_announces_per_s"] = [r.get("announces_per_s") for r in rr]
            t["all_p99_us"] = [r.get("p99_us") for r in rr]
            t["fuzz_running"] = any(r.get("load_before", {}).get("fuzz_running") for r in rr)
            t["loadavg1"] = [r.get("load_before", {}).get("loadavg1") for r in rr]
            table[(sc, tr)] = t
            lines.append(f"{sc:12s} {tr:12s} " + json.dumps(t))
    lines.append("")
    pairs = [("node", r) for r in ("node-base", "opentracker", "aquatic_udp", "aquatic_ws")] + \
            [("node-base", r) for r in ("opentracker", "aquatic_udp", "aquatic_ws")]
    for sc in dict.fromkeys(s for s, _ in table):
        for subj, ref in pairs:
            node = table.get((sc, subj), {})
            other = table.get((sc, ref))
            if not node or not other:
                continue
            keys = ["bytes_per_peer"] if sc == "ws-mem" else ["announces_per_s",
                                                              "announces_per_cpu_s"]
            for key in keys:
                if node.get(key) and other.get(key):
                    ratio = (other[key] / node[key]) if key == "bytes_per_peer" \
                        else node[key] / other[key]
                    lines.append(f"ratio {sc:12s} {subj}/{ref:12s} {key}: {ratio:.3f}"
                                 + (" (reference bytes / node bytes: > 1 means the node uses less)"
                                    if key == "bytes_per_peer" else ""))
    text = "\n".join(lines) + "\n"
    with open(out, "w") as f:
        f.write("# benches/tracker.sh summary (medians); raw runs in the .json next to it\n")
        f.write(json.dumps(results["machine"]) + "\n")
        f.write("swarms: " + json.dumps(results["swarms"]) + "\n\n")
        f.write(text)
    print(text)


# ---------------------------------------------------------------- profile

def cmd_profile(a):
    """perf record of the node (pinned) under the UDP or HTTP load; a flat report by symbol."""
    os.makedirs(a.work, exist_ok=True)
    t = NodeTracker(a.work, f"profile-{a.kind}", a.bin).start()
    data = os.path.join(a.work, f"perf-{a.kind}.data")
    try:
        time.sleep(0.5)
        if a.kind == "udp":
            cmd = [a.loadgen, "udp", "--server", f"127.0.0.1:{t.udp_port}",
                   "--torrents", str(a.torrents), "--peers", str(a.peers),
                   "--warmup", str(a.warmup), "--seconds", str(a.seconds)]
        elif a.kind == "ws":
            cmd = [a.loadgen, "ws", "--server", f"127.0.0.1:{t.ws_port}",
                   "--conns", str(a.ws_conns), "--rate", str(a.ws_rate), "--offers", "10",
                   "--torrents", str(a.torrents), "--warmup", str(a.warmup),
                   "--seconds", str(a.seconds)]
        else:
            a.paths = os.path.join(a.work, "paths.txt")
            with open(a.paths, "w") as f:
                subprocess.run([a.loadgen, "http-paths", "--torrents", str(a.torrents),
                                "--peers", str(a.peers)], stdout=f, check=True)
            cmd = ["env", f"PATHS={a.paths}", "wrk", "-t1", f"-c{a.http_conns}",
                   f"-d{int(a.warmup + a.seconds)}s", "-s",
                   os.path.join(BENCH_DIR, "tracker_http.lua"), f"http://127.0.0.1:{t.http_port}/"]
        gen = subprocess.Popen(["taskset", "-c", GEN_CPU] + cmd, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True)
        time.sleep(a.warmup + 0.5)
        subprocess.run(["perf", "record", "-F", "999", "--call-graph", "dwarf,16384", "-o", data,
                        "-p", str(t.proc.pid), "--", "sleep", str(int(a.seconds) - 2)],
                       capture_output=True, timeout=a.seconds + 60)
        out, _ = gen.communicate(timeout=a.warmup + a.seconds + 60)
    finally:
        t.stop()
    flat = subprocess.run(["perf", "report", "-i", data, "--no-children", "--stdio", "-g", "none",
                           "--percent-limit", "0.7", "--sort", "symbol"],
                          capture_output=True, text=True, timeout=600).stdout
    children = subprocess.run(["perf", "report", "-i", data, "--children", "--stdio", "-g", "none",
                               "--percent-limit", "3", "--sort", "symbol"],
                              capture_output=True, text=True, timeout=600).stdout
    with open(a.out, "w") as f:
        f.write(f"# perf record -F 999 --call-graph dwarf of the node (taskset -c {TRACKER_CPU}) "
                f"under `{' '.join(cmd)}` (taskset -c {GEN_CPU})\n")
        f.write("# generator result: " + out.strip().splitlines()[-1] + "\n\n")
        f.write("## self time (--no-children)\n" + strip_perf(flat))
        f.write("\n## inclusive time (--children)\n" + strip_perf(children))
    print(open(a.out).read())


def strip_perf(text):
    keep = [re.sub(r"(\s+-)+\s*$", "", l).rstrip() for l in text.splitlines()
            if l.strip() and (l.startswith("## ") or not l.startswith("#"))]
    return "\n".join(keep) + "\n"


def main():
    p = argparse.ArgumentParser()
    sub = p.add_subparsers(dest="cmd", required=True)
    if len(sys.argv) == 3 and sys.argv[1] == "resummarize":
        out = sys.argv[2]
        summary(json.load(open(out + ".json")), out)
        return
    for name, fn in (("all", cmd_all), ("profile", cmd_profile)):
        s = sub.add_parser(name)
        s.set_defaults(func=fn)
        s.add_argument("--work", required=True)
        s.add_argument("--bin", required=True)
        s.add_argument("--loadgen", required=True)
        s.add_argument("--out", required=True)
        s.add_argument("--runs", type=int, default=int(os.environ.get("RUNS", 3)))
        s.add_argument("--seconds", type=float, default=float(os.environ.get("SECONDS_", 20)))
        s.add_argument("--warmup", type=float, default=float(os.environ.get("WARMUP", 5)))
        s.add_argument("--warmup-aquatic", type=float, default=10)
        s.add_argument("--torrents", type=int, default=int(os.environ.get("TORRENTS", 10000)))
        s.add_argument("--peers", type=int, default=int(os.environ.get("PEERS", 100000)))
        s.add_argument("--http-conns", type=int, default=int(os.environ.get("HTTP_CONNS", 64)))
        s.add_argument("--ws-conns", type=int, default=int(os.environ.get("WS_CONNS", 4000)))
        s.add_argument("--ws-light-conns", type=int,
                       default=int(os.environ.get("WS_LIGHT_CONNS", 500)))
        s.add_argument("--ws-rate", type=float, default=float(os.environ.get("WS_RATE", 10)))
        s.add_argument("--mem-conns", type=int, default=int(os.environ.get("MEM_CONNS", 5000)))
        s.add_argument("--scenarios", default=os.environ.get(
            "SCENARIOS", "udp-aquatic,udp,http,http-close,ws,ws-light,ws-mem"))
        s.add_argument("--kind", default="udp")
        s.add_argument("--base-bin", default="")
        s.add_argument("--trackers", default=os.environ.get("TRACKERS",
                                                            "node,opentracker,aquatic"))
    a = p.parse_args()
    a.func(a)


if __name__ == "__main__":
    main()
