#!/usr/bin/env python3
"""WebRTC seeding benchmark (issue 4), driven by webrtc.sh. Standard library + benchlib.py.

  python3 benches/webrtc_bench.py --bin BIN --work DIR --lib LIB --runs 3 --peers 5 --out JSON

(a) the node seeds LIB/bench.mp3 over WebRTC; one webtorrent 2.8.5 fetcher (benches/js/wt_fetch.mjs)
    per run, magnet with only the node's ws:// tracker, web seeds off.
(b) the node restarts with `[tracker] mode = "open"`, `[webtorrent] enabled = false`,
    `[swarm] enabled = false` (only the WebSocket tracker); webtorrent 2.8.5 in a second Node
    process (benches/js/wt_seed.mjs) seeds the same file; the same fetcher per run.
(c) memory: node RSS with 0 WebRTC peers, then during PEERS concurrent fetchers, and while they
    stay connected (idle) after their downloads.
(d) first audio: headless Chromium opens /?webseed=0 on a node whose library holds one playable
    MP3, taps play, polls <audio>.currentTime every 10 ms (benches/js/first_audio.mjs).
"""
import argparse, json, os, shutil, statistics, subprocess, sys, threading, time
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from benchlib import (Node, log, wait_until, proc_status, proc_cpu_secs, http_get, free_port,
                      torrent_without_web_seed, bdecode, bencode)

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)


def uptime():
    return subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()


def loadavg():
    with open("/proc/loadavg") as f:
        return f.read().split()[:3]


def run_fetch(tracker, ih, size, hold=0, timeout=60):
    t = time.monotonic()
    p = subprocess.run(["node", os.path.join(HERE, "js", "wt_fetch.mjs"), "--tracker", tracker,
                        "--infohash", ih, "--name", "bench.mp3", "--size", str(size),
                        "--hold", str(hold), "--timeout", str(timeout)],
                       capture_output=True, text=True, cwd=REPO, timeout=timeout + 30)
    wall = time.monotonic() - t
    lines = [l for l in p.stdout.splitlines() if l.startswith("{")]
    r = json.loads(lines[-1]) if lines else {"error": p.stdout[-500:] + p.stderr[-500:]}
    r["process_wall_s"] = wall
    r["rc"] = p.returncode
    return r


def summarize(runs, size):
    ok = [r for r in runs if r.get("ok")]
    if not ok:
        return {"runs": runs, "error": "no successful run"}
    done = statistics.median(r["done_ms"] / 1000 for r in ok)
    data = statistics.median((r["done_ms"] - r["first_byte_ms"]) / 1000 for r in ok)
    return {"runs": runs, "median_done_s": done, "MBps": size / done / 1e6,
            "median_data_phase_s": data, "data_MBps": size / data / 1e6,
            "median_metadata_ms": statistics.median(r["metadata_ms"] for r in ok),
            "median_first_byte_ms": statistics.median(r["first_byte_ms"] for r in ok)}


def throughput(node, ih, size, runs, label):
    tracker = f"ws://127.0.0.1:{node.http_port}/announce"
    res = []
    for i in range(runs):
        la = loadavg()
        cpu0 = proc_cpu_secs(node.proc.pid)
        r = run_fetch(tracker, ih, size)
        r["node_cpu_s"] = proc_cpu_secs(node.proc.pid) - cpu0
        r["loadavg_before"] = la
        r["uptime_after"] = uptime()
        log(f"{label} run {i + 1}: {json.dumps(r)}")
        res.append(r)
        time.sleep(1)
    return res


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin"); ap.add_argument("--work"); ap.add_argument("--lib")
    ap.add_argument("--audio-lib"); ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--peers", type=int, default=5); ap.add_argument("--out")
    ap.add_argument("--only", default="abcd")
    a = ap.parse_args()
    src = os.path.join(a.lib, "bench.mp3")
    size = os.path.getsize(src)
    data = os.path.join(a.work, "data")
    result = {"bytes": size, "uptime_start": uptime()}
    base_cfg = "[scan]\nrescan_secs = 10\n[swarm]\nenabled = false\ndht = false\nlsd = false\n[live]\nrecord = false\n"

    # (a) + (c): the node's own WebRTC seeder.
    node = Node(a.bin, data, [a.lib], base_cfg + "[webtorrent]\nenabled = true\n", a.work, "node-webrtc").start()
    try:
        wait_until(lambda: (h := node.health()) and h["library"]["items"] == 1
                   and h["webtorrent"]["trackers_connected"] >= 1, 120, 0.1, "node ready")
        lib = json.loads(http_get(node.base + "/api/library"))
        ih = lib[0]["infohash"]
        raw = http_get(f"{node.base}/t/{ih}.torrent")
        _, ih2, t = torrent_without_web_seed(raw)
        assert ih2 == ih
        result["infohash"] = ih
        result["piece_length"] = t[b"info"][b"piece length"]
        time.sleep(1)
        if "a" in a.only:
            result["node"] = summarize(throughput(node, ih, size, a.runs, "node"), size)
            result["node"]["health_webtorrent"] = node.health()["webtorrent"]
        if "c" in a.only:
            # 0 peers: wait (bounded) until the fetchers of (a) are gone.
            try:
                wait_until(lambda: node.health()["webtorrent"]["peers"] == 0, 150, 0.5, "0 peers")
            except TimeoutError:
                log("peers did not drop to 0; measuring anyway")
            time.sleep(3)
            pid = node.proc.pid
            rss0 = [proc_status(pid, "VmRSS") for _ in range(10) if time.sleep(0.1) is None]
            mem = {"peers_before": node.health()["webtorrent"]["peers"],
                   "rss0_kib": statistics.median(rss0), "hwm0_kib": proc_status(pid, "VmHWM"),
                   "threads0": proc_status(pid, "Threads"), "uptime": uptime()}
            samples = []
            stop = threading.Event()

            def sampler():
                n = 0
                while not stop.is_set() and n < 3000:
                    h = node.health() or {}
                    samples.append((time.monotonic(), proc_status(pid, "VmRSS"),
                                    h.get("webtorrent", {}).get("peers")))
                    n += 1
                    time.sleep(0.1)
            th = threading.Thread(target=sampler); th.start()
            tracker = f"ws://127.0.0.1:{node.http_port}/announce"
            hold = 25
            procs = [subprocess.Popen(["node", os.path.join(HERE, "js", "wt_fetch.mjs"), "--tracker", tracker,
                                       "--infohash", ih, "--name", "bench.mp3", "--size", str(size),
                                       "--hold", str(hold), "--timeout", "200"],
                                      stdout=subprocess.PIPE, text=True, cwd=REPO) for _ in range(a.peers)]
            t_start = time.monotonic()
            # all downloads done: each fetcher prints its JSON line then holds `hold` s
            outs = []
            for p in procs:
                outs.append(json.loads(p.stdout.readline() or '{"error":"no output"}'))
            t_done = time.monotonic()
            log(f"{a.peers} fetchers done after {t_done - t_start:.1f}s: {[o.get('done_ms') for o in outs]}")
            time.sleep(8)  # settle: fetchers idle but connected
            idle = [proc_status(pid, "VmRSS") for _ in range(10) if time.sleep(0.1) is None]
            h = node.health()
            mem.update({"peers_idle": h["webtorrent"]["peers"], "rss_idle_kib": statistics.median(idle),
                        "threads_idle": proc_status(pid, "Threads"), "uptime_idle": uptime()})
            for p in procs:
                p.wait(timeout=hold + 60)
            time.sleep(5)
            stop.set(); th.join()
            during = [s[1] for s in samples if t_start <= s[0] <= t_done and s[1]]
            mem.update({"fetchers": outs, "concurrent_download_s": t_done - t_start,
                        "rss_peak_during_kib": max(during) if during else None,
                        "rss_median_during_kib": statistics.median(during) if during else None,
                        "hwm_after_kib": proc_status(pid, "VmHWM"),
                        "rss_after_close_kib": proc_status(pid, "VmRSS"),
                        "peers_after_close": node.health()["webtorrent"]["peers"],
                        "max_peers_seen": max((s[2] or 0) for s in samples)})
            mem["per_peer_idle_kib"] = (mem["rss_idle_kib"] - mem["rss0_kib"]) / a.peers
            mem["per_peer_peak_kib"] = ((mem["rss_peak_during_kib"] or 0) - mem["rss0_kib"]) / a.peers
            result["memory"] = mem
            log(f"memory: {json.dumps({k: v for k, v in mem.items() if k != 'fetchers'})}")
    finally:
        node.stop()

    # (b): webtorrent in Node seeds, the node is only the (open) WebSocket tracker.
    if "b" in a.only:
        cfg = base_cfg + "[webtorrent]\nenabled = false\n[tracker]\nmode = \"open\"\n"
        node = Node(a.bin, data, [a.lib], cfg, a.work, "node-tracker").start()
        seeder = None
        try:
            wait_until(lambda: (h := node.health()) and h["library"]["items"] == 1, 120, 0.1, "tracker node")
            tracker = f"ws://127.0.0.1:{node.http_port}/announce"
            t = dict(t)
            t[b"announce"] = tracker.encode()
            t.pop(b"announce-list", None)
            tor = os.path.join(a.work, "seed.torrent")
            with open(tor, "wb") as f:
                f.write(bencode(t))
            slog = open(os.path.join(a.work, "wt-seeder.log"), "w")
            seeder = subprocess.Popen(["node", os.path.join(HERE, "js", "wt_seed.mjs"), "--torrent", tor,
                                       "--dir", a.lib, "--tracker", tracker, "--secs", "900"],
                                      stdout=slog, stderr=subprocess.STDOUT, cwd=REPO)

            def seeding():
                with open(os.path.join(a.work, "wt-seeder.log")) as f:
                    return "SEEDING" in f.read()
            wait_until(seeding, 120, 0.2, "webtorrent seeder verified")
            time.sleep(2)
            log(f"tracker: {http_get(node.base + '/api/tracker').decode()[:400]}")
            cpu0 = proc_cpu_secs(seeder.pid)
            runs = throughput(node, ih, size, a.runs, "webtorrent")
            result["webtorrent"] = summarize(runs, size)
            result["webtorrent"]["seeder_cpu_s_total"] = proc_cpu_secs(seeder.pid) - cpu0
        finally:
            if seeder:
                seeder.terminate()
                try:
                    seeder.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    seeder.kill()
            node.stop()
        if result.get("node", {}).get("MBps") and result["webtorrent"].get("MBps"):
            result["ratio_node_over_webtorrent"] = result["node"]["MBps"] / result["webtorrent"]["MBps"]
            result["ratio_data_phase"] = result["node"]["data_MBps"] / result["webtorrent"]["data_MBps"]

    # (d): first audio in Chromium with only the node as peer.
    if "d" in a.only and a.audio_lib:
        node = Node(a.bin, os.path.join(a.work, "data-audio"), [a.audio_lib],
                    base_cfg + "[webtorrent]\nenabled = true\n", a.work, "node-audio").start()
        try:
            wait_until(lambda: (h := node.health()) and h["library"]["items"] == 1
                       and h["webtorrent"]["trackers_connected"] >= 1, 120, 0.1, "audio node")
            time.sleep(1)
            fa = []
            for i in range(a.runs):
                la = loadavg()
                p = subprocess.run(["node", os.path.join(HERE, "js", "first_audio.mjs"), "--base", node.base,
                                    "--title", "Bench tone"], capture_output=True, text=True, cwd=REPO, timeout=120)
                lines = [l for l in p.stdout.splitlines() if l.startswith("{")]
                r = json.loads(lines[-1]) if lines else {"error": p.stdout[-400:] + p.stderr[-400:]}
                r["loadavg_before"] = la
                log(f"first audio run {i + 1}: {json.dumps(r)}")
                fa.append(r)
                time.sleep(2)
            ok = [r for r in fa if r.get("ok")]
            result["first_audio"] = {"runs": fa}
            if ok:
                result["first_audio"]["median_ms"] = statistics.median(r["first_audio_ms"] for r in ok)
                result["first_audio"]["median_tap_to_audio_ms"] = statistics.median(
                    r["first_audio_ms"] - r["tapped_ms"] for r in ok)
        finally:
            node.stop()
    result["uptime_end"] = uptime()
    with open(a.out, "w") as f:
        json.dump(result, f, indent=1)
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
