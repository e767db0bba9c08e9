#!/usr/bin/env python3
"""The fallback playlist's CPU (issue 16): the node playing a library folder (decode,
resample, crossfade, Opus + MP3 encode) against Liquidsoap doing the same playlist to the
same two encoders, one after the other in the same run, each for --secs seconds.

The playlist: --files MP3s of pink noise over a chord, 44.1 kHz stereo at 128 kb/s, as
a station's music library usually is (so both resample to 48 kHz). The node's line-in is a
silent file, so the fallback plays; its CPU is the whole process's (it encodes both formats
all the time, and also serves, seeds and segments HLS, idle here). Also measured: the node
with the fallback off (silence encoded), to show what the fallback itself costs.

usage: programme_bench.py --bin BIN --work DIR [--secs 60] [--files 3] --out FILE.json
"""
import argparse
import json
import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(__file__))
from benchlib import free_port, get_json, log, machine, proc_cpu_split, wait_until  # noqa: E402


def make_library(lib, files):
    os.makedirs(lib, exist_ok=True)
    for i in range(files):
        out = os.path.join(lib, f"track{i}.mp3")
        if os.path.exists(out):
            continue
        base = 110 * (i + 2)
        chord = "+".join(f"0.08*sin({m}*{base}*2*PI*t)" for m in (1, 1.25, 1.5))
        subprocess.run(
            ["ffmpeg", "-v", "error", "-y", "-f", "lavfi", "-i",
             f"anoisesrc=c=pink:r=44100:a=0.15:d=60", "-f", "lavfi", "-i",
             f"aevalsrc={chord}|{chord}:s=44100:d=60", "-filter_complex", "amix=inputs=2",
             "-ac", "2", "-ar", "44100", "-b:a", "128k", out],
            check=True)


def silence(path):
    subprocess.run(["ffmpeg", "-v", "error", "-y", "-f", "lavfi", "-i",
                    "anullsrc=r=48000:cl=stereo", "-t", "5", "-c:a", "pcm_s16le", path],
                   check=True)


def measure(proc, secs, what):
    """CPU-seconds `proc` uses in `secs` seconds, after 3 s to settle."""
    time.sleep(3)
    if proc.poll() is not None:
        sys.exit(f"{what} stopped before it was measured")
    u0, s0 = proc_cpu_split(proc.pid)
    time.sleep(secs)
    u1, s1 = proc_cpu_split(proc.pid)
    used = round(u1 - u0 + s1 - s0, 2)
    log(f"{what}: {used} CPU-s in {secs} s")
    return used


def run_node(a, lib, fallback):
    data = os.path.join(a.work, f"data-{'fb' if fallback else 'silent'}")
    os.makedirs(data, exist_ok=True)
    cfg = os.path.join(a.work, "node.toml")
    wav = os.path.join(a.work, "silence.wav")
    with open(cfg, "w") as f:
        f.write(f'audio = "file:{wav}"\n[scan]\nrescan_secs = 5\n[swarm]\ndht = false\n'
                'lsd = false\nport_mapping = false\n[live]\nrecord = false\n'
                f'fallback = {"true" if fallback else "false"}\nfallback_after_secs = 1\n')
    port = free_port()
    log_path = os.path.join(a.work, f"node-{'fb' if fallback else 'silent'}.log")
    node = subprocess.Popen(
        [a.bin, "run", "--data-dir", data, "--library", lib, "--http", f"127.0.0.1:{port}",
         "--peer-port", str(free_port()), "--udp-tracker", f"127.0.0.1:{free_port()}",
         "--stun", f"127.0.0.1:{free_port()}", "--config", cfg],
        stdout=open(log_path, "w"), stderr=subprocess.STDOUT)
    try:
        base = f"http://127.0.0.1:{port}"
        want = "fallback" if fallback else "line_in"
        wait_until(lambda: (get_json(f"{base}/api/nowplaying") or {}).get("on_air") == want, 60,
                   interval=0.5, what=f"the node on {want}")
        return measure(node, a.secs, f"node ({want})")
    finally:
        node.terminate()
        node.wait(timeout=30)


def run_liquidsoap(a, lib):
    script = os.path.join(a.work, "playlist.liq")
    with open(script, "w") as f:
        f.write(
            "settings.init.allow_root.set(true)\n"
            "settings.log.stdout.set(true)\nsettings.log.file.set(false)\n"
            f's = playlist(mode="randomize", reload_mode="never", "{lib}")\n'
            "s = crossfade(duration=2., s)\ns = mksafe(s)\n"
            'output.file(%opus(bitrate=128, samplerate=48000, channels=2), "/dev/null", s)\n'
            'output.file(%mp3(bitrate=128, samplerate=48000), "/dev/null", s)\n')
    log_path = os.path.join(a.work, "liquidsoap.log")
    liq = subprocess.Popen(["liquidsoap", script], stdout=open(log_path, "w"),
                           stderr=subprocess.STDOUT)
    try:
        wait_until(lambda: "Prepared" in open(log_path).read()
                   or "Streaming loop starts" in open(log_path).read(), 60,
                   interval=0.5, what="liquidsoap playing")
        return measure(liq, a.secs, "liquidsoap")
    finally:
        liq.terminate()
        liq.wait(timeout=30)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--bin", required=True)
    p.add_argument("--work", required=True)
    p.add_argument("--secs", type=int, default=60)
    p.add_argument("--files", type=int, default=3)
    p.add_argument("--out", required=True)
    a = p.parse_args()
    lib = os.path.join(a.work, "library")
    make_library(lib, a.files)
    silence(os.path.join(a.work, "silence.wav"))
    node_fb = run_node(a, lib, True)
    liq = run_liquidsoap(a, lib)
    node_silent = run_node(a, lib, False)
    out = {
        "machine": machine(),
        "secs": a.secs,
        "node_fallback_cpu_s": node_fb,
        "liquidsoap_cpu_s": liq,
        "node_silence_cpu_s": node_silent,
        "ratio_node_to_liquidsoap": round(node_fb / liq, 3) if liq else None,
        "fallback_cost_cpu_s": round(node_fb - node_silent, 2),
    }
    with open(a.out, "w") as f:
        json.dump(out, f, indent=2)
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
