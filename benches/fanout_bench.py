#!/usr/bin/env python3
"""Listener fan-out (issue 16): 500 listeners on /live.ogg and 500 on /live.mp3, from one
asyncio client process, for a CPU window of --secs; the node's CPU beyond its on-air
baseline, against icecast2 serving the same two streams (fed by ffmpeg copying the node's,
`-c copy`) to the same 1000 listeners, in the same run.

  node (audio = "sine", Opus /live.ogg + MP3 /live.mp3, 128 kb/s)
     +-- ffmpeg -c copy --> icecast2 /live.ogg     (two listeners of the node in every phase,
     +-- ffmpeg -c copy --> icecast2 /live.mp3      so they are part of both baselines)

Phases, one after the other: baseline (no listeners), the 1000 on the node, the 1000 on
icecast2. Each listener speaks HTTP/1.1 as a player does and reads as fast as data comes;
its bytes are counted, so a server that fails to keep its listeners fed shows up as a low
rate rather than as low CPU.
"""
import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from benchlib import Node, log, wait_until, proc_cpu_secs, proc_status, free_port  # noqa: E402
from live_bench import start_icecast, stop_all  # noqa: E402

KBPS = 128


async def listener(port, path, until, out):
    """One player: GET `path`, then read until `until`; appends bytes of audio to `out`."""
    got, opened = 0, None
    try:
        r, w = await asyncio.open_connection("127.0.0.1", port, limit=1 << 20)
        w.write(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUser-Agent: fanout-bench\r\n"
                "Accept: */*\r\n\r\n".encode())
        await w.drain()
        head = await asyncio.wait_for(r.readuntil(b"\r\n\r\n"), 10)
        if b" 200 " not in head.split(b"\r\n", 1)[0]:
            out.append(("refused", 0, 0.0))
            w.close()
            return
        opened = time.monotonic()
        while time.monotonic() < until:
            data = await asyncio.wait_for(r.read(65536), 10)
            if not data:
                break
            got += len(data)
        w.close()
        out.append(("ok" if time.monotonic() >= until else "closed", got,
                    time.monotonic() - opened))
    except Exception as e:  # counted, not fatal: a refused or dropped listener is a result
        out.append((type(e).__name__, got, time.monotonic() - opened if opened else 0.0))


async def crowd(port, per_path, connect_secs, hold_secs, on_settled):
    """`per_path` listeners on each of /live.ogg and /live.mp3, connected over `connect_secs`,
    held `hold_secs` after the last one; `on_settled()` runs once all are connected."""
    until = time.monotonic() + connect_secs + hold_secs
    out = {"/live.ogg": [], "/live.mp3": []}
    tasks = []
    step = connect_secs / (2 * per_path)
    for i in range(per_path):
        for path in out:
            tasks.append(asyncio.create_task(listener(port, path, until, out[path])))
            await asyncio.sleep(step)
    await asyncio.get_running_loop().run_in_executor(None, on_settled)
    await asyncio.gather(*tasks)
    return out


def summary(results, secs_expected):
    s = {}
    for path, rows in results.items():
        rates = [8 * got / 1000 / dur for (_, got, dur) in rows if dur > 1]
        s[path] = {
            "listeners": len(rows),
            "ok": sum(1 for r in rows if r[0] == "ok"),
            "failed": sorted({r[0] for r in rows if r[0] != "ok"}),
            "kbps_median": round(statistics.median(rates), 1) if rates else None,
            "kbps_min": round(min(rates), 1) if rates else None,
            "below_90pct_of_stream": sum(1 for k in rates if k < 0.9 * KBPS),
        }
    return s


def cpu_over(pids, secs):
    c0 = {k: proc_cpu_secs(p) for k, p in pids.items()}
    t0 = time.monotonic()
    time.sleep(secs)
    c1 = {k: proc_cpu_secs(p) for k, p in pids.items()}
    span = time.monotonic() - t0
    return {k: round((c1[k] - c0[k]) * secs / span, 3) for k in pids}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", required=True)
    ap.add_argument("--work", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--listeners", type=int, default=500, help="per stream")
    ap.add_argument("--secs", type=float, default=30)
    ap.add_argument("--connect-secs", type=float, default=5)
    a = ap.parse_args()
    w = a.work
    res = {"listeners_per_stream": a.listeners, "cpu_window_s": a.secs}
    procs = []
    node = None
    try:
        cfg = ("audio = \"sine\"\n[scan]\nrescan_secs = 60\n[swarm]\nenabled = false\n"
               "dht = false\nlsd = false\nport_mapping = false\n[webtorrent]\nenabled = false\n"
               f"[live]\nbitrate_kbps = {KBPS}\nchannels = 2\nrecord = false\nfallback = false\n"
               # Every listener comes from 127.0.0.1 here; a real audience from many addresses.
               "[web]\nmax_per_address = 2048\n")
        os.makedirs(os.path.join(w, "lib"), exist_ok=True)
        node = Node(a.bin, os.path.join(w, "data"), [os.path.join(w, "lib")], cfg, w, "node").start()
        wait_until(lambda: (h := node.health()) and h["live"]["state"] == "on_air", 30, 0.1,
                   "node on air")
        ice_port = free_port()
        ice = start_icecast(w, ice_port, clients=2 * a.listeners + 50)
        procs.append(ice)
        for mount, fmt, ctype in (("live.ogg", "ogg", "audio/ogg"), ("live.mp3", "mp3", "audio/mpeg")):
            procs.append(subprocess.Popen(
                ["ffmpeg", "-nostdin", "-v", "error", "-i", f"{node.base}/{mount}", "-c", "copy",
                 "-content_type", ctype, "-f", fmt,
                 f"icecast://source:benchpw@127.0.0.1:{ice_port}/{mount}"],
                stdout=subprocess.DEVNULL, stderr=open(os.path.join(w, f"ffmpeg-{fmt}.log"), "w")))
        for mount in ("live.ogg", "live.mp3"):
            wait_until(lambda: subprocess.run(
                ["curl", "-sf", "-o", "/dev/null", "-m", "1", "-r", "0-0",
                 f"http://127.0.0.1:{ice_port}/{mount}"]).returncode in (0, 28), 30, 0.5,
                f"icecast2 /{mount}")
        pids = {"node": node.proc.pid, "icecast2": ice.pid}
        time.sleep(3)
        res["baseline_cpu_s"] = cpu_over(pids, a.secs)
        log(f"baseline over {a.secs} s: {res['baseline_cpu_s']}")
        for name, port in (("node", node.http_port), ("icecast2", ice_port)):
            window = {}

            def settled():
                time.sleep(3)
                window.update(cpu_over(pids, a.secs))
                window["rss_kib"] = {k: proc_status(p, "VmRSS") for k, p in pids.items()}

            t = time.monotonic()
            results = asyncio.run(crowd(port, a.listeners, a.connect_secs, 3 + a.secs + 2, settled))
            res[f"{name}_phase"] = {"cpu_s": {k: window[k] for k in pids},
                                    "rss_kib": window["rss_kib"],
                                    "listeners": summary(results, a.secs),
                                    "wall_s": round(time.monotonic() - t, 1)}
            log(f"{name} phase: {json.dumps(res[f'{name}_phase'])}")
            time.sleep(3)
        extra = {n: round(res[f"{n}_phase"]["cpu_s"][n] - res["baseline_cpu_s"][n], 3)
                 for n in ("node", "icecast2")}
        res["extra_cpu_s_for_1000_listeners"] = extra
        res["ratio_node_over_icecast2"] = round(extra["node"] / max(extra["icecast2"], 1e-9), 2)
        log(f"extra CPU: {extra}; ratio {res['ratio_node_over_icecast2']}")
    finally:
        stop_all(procs, node)
    with open(a.out, "w") as f:
        json.dump(res, f, indent=1)


if __name__ == "__main__":
    main()
