#!/usr/bin/env python3
"""Source in (issue 16): how long a studio PC's sound takes to reach listeners through the
box, against icecast2 relaying the same source, same run.

  writer (s16le, 200 ms 1 kHz tone every 5 s, real time) -> FIFO -> ffmpeg (libmp3lame
  128 kb/s, one encode) -> tee: icecast:// to the node's /live (PUT)
                                 icecast:// to icecast2's /live.mp3

Readers (ffmpeg decoding as data comes, as in live_bench.py): the node's /live.ogg and
/live.mp3 (the node decodes the source and encodes again) and icecast2's /live.mp3 (the
source's own bytes). Latency = the reader's tone onset - the moment the writer handed the
tone to the encoder; "player" = what a player starting at its first byte hears (see
live_bench.py).
"""
import argparse
import json
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from benchlib import Node, log, wait_until, free_port  # noqa: E402
from live_bench import RATE, Reader, Writer, match, start_icecast, stats, stop_all  # noqa: E402

PASSWORD = "benchpw"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", required=True)
    ap.add_argument("--work", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--duration", type=float, default=62)
    a = ap.parse_args()
    w = a.work
    res = {"duration": a.duration}
    procs = []
    node = None
    try:
        cfg = ("audio = \"none\"\n[scan]\nrescan_secs = 60\n[swarm]\nenabled = false\n"
               "dht = false\nlsd = false\nport_mapping = false\n[webtorrent]\nenabled = false\n"
               f"[live]\nbitrate_kbps = 128\nchannels = 2\nrecord = false\nfallback = false\n"
               f"source_password = \"{PASSWORD}\"\n")
        os.makedirs(os.path.join(w, "lib"), exist_ok=True)
        node = Node(a.bin, os.path.join(w, "data"), [os.path.join(w, "lib")], cfg, w, "node").start()
        wait_until(lambda: (h := node.health()) and h["live"]["state"] == "on_air", 30, 0.1,
                   "node on air")
        ice_port = free_port()
        procs.append(start_icecast(w, ice_port))
        fifo = os.path.join(w, "studio.fifo")
        writer = Writer(fifo, a.duration, 960)
        writer.start()
        outputs = "|".join(
            f"[f=mp3:onfail=ignore]icecast://source:{PASSWORD}@127.0.0.1:{port}/{mount}"
            for port, mount in ((node.http_port, "live"), (ice_port, "live.mp3")))
        procs.append(subprocess.Popen(
            ["ffmpeg", "-nostdin", "-v", "error", "-f", "s16le", "-ar", str(RATE), "-ac", "2",
             "-i", fifo, "-c:a", "libmp3lame", "-b:a", "128k", "-content_type", "audio/mpeg",
             "-flush_packets", "1", "-map", "0:a", "-f", "tee", outputs],
            stdout=subprocess.DEVNULL, stderr=open(os.path.join(w, "ffmpeg.log"), "w")))
        wait_until(lambda: node.health()["live"].get("state") == "on_air"
                   and subprocess.run(["curl", "-sf", "-o", "/dev/null", "-m", "1", "-r", "0-0",
                                       f"http://127.0.0.1:{ice_port}/live.mp3"]).returncode in (0, 28),
                   30, 0.5, "both servers have the source")
        np = json.loads(subprocess.run(["curl", "-s", f"{node.base}/api/nowplaying"],
                                       capture_output=True, text=True).stdout or "{}")
        res["node_now_playing"] = np
        readers = [Reader("node /live.ogg", node.base + "/live.ogg"),
                   Reader("node /live.mp3", node.base + "/live.mp3"),
                   Reader("icecast2 /live.mp3 (the source relayed)",
                          f"http://127.0.0.1:{ice_port}/live.mp3")]
        for r in readers:
            r.secs = a.duration
            r.start()
        writer.join(timeout=a.duration + 30)
        for r in readers:
            r.join(timeout=30)
        lat = {}
        for r in readers:
            arrival = match(writer.bursts, r.onsets)
            play = [max(o, r.t_first + i / RATE) for (o, i) in r.starts] if r.t_first else []
            player = match(writer.bursts, play)
            lat[r.name] = {"stats": stats(arrival), "player_stats": stats(player),
                           "per_burst_s": arrival, "ffmpeg_err": r.err}
            log(f"{r.name}: arrival {stats(arrival)} player {stats(player)}")
        res["latency"] = lat
        res["writer_late"] = writer.late
    finally:
        stop_all(procs, node)
    with open(a.out, "w") as f:
        json.dump(res, f, indent=1)


if __name__ == "__main__":
    main()
