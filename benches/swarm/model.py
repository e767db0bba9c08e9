#!/usr/bin/env python3
"""The swarm lab's points, a plot and a model of the station's uplink (issue 20).

    python3 benches/swarm/model.py RESULT.json... [--plot benches/results/swarm-plot.png]

Reads the lab's reports (lab.py --out) and prints a Markdown table and the model. The plot
needs matplotlib (pip install matplotlib); without --plot nothing but the standard library.

The model: what the station's uplink carries for N listeners, each part fitted apart to the
points (least squares), then added up at N = 1,000:
  - segments: the station's share of what listeners play, times N streams. The share is the
    seeds' copies (one per 30 sharing pages up to 3, then one more each time the sharing
    audience doubles, src/live/seeding.rs: 78 % of N share) over N,
    plus f, the part pages took from the station at their deadline because no peer had the
    segment in time. f is what the points measure (their mean, and their range: it varies
    from run to run far more than with N; several runs at one audience size are one point,
    their mean), in the counted window: the audience the model is about has been listening
    for a while, with newcomers arriving as others leave (N / session a second), not all of
    it joining in the first 40 s as in the lab's start. f over the whole run, that start
    included, is printed beside it;
  - plain streams: 2 % of N, each a full 128 kbit/s stream with its TCP/IP;
  - non-audio (playlists, signalling, their HTTP and TCP/IP): c·N, c the mean per listener;
  - page loads: N / session length new listeners a second, each loading the listen page
    (its bytes measured by Chromium listeners; first visits: the scripts are cached for a
    year after).
Its assumptions are the lab's: home uplinks log-uniform 0.5 to 20 Mbit/s, sessions of 10
minutes on average, no added delay or loss, the audience mix of the issue.
"""

import argparse
import json
import math
import sys

PLAIN = 0.02
STREAM_KBIT = 128
# TCP/IP around a full stream: 66 bytes a 1,448-byte packet (lab.py's AUDIO_WIRE).
STREAM_WIRE = 1 + 66 / 1448


SHARING = 0.78
PER_SEEDER = 30
LINEAR_SEEDERS = 3


def seeds(n):
    """src/live/seeding.rs's seeders_for: one per 30 sharing pages up to 3, then one more
    each time the sharing audience doubles."""
    sharing = math.ceil(SHARING * n)
    k = min(LINEAR_SEEDERS, max(1, math.ceil(sharing / PER_SEEDER)))
    covered = LINEAR_SEEDERS * PER_SEEDER
    while sharing > covered:
        k += 1
        covered *= 2
    return k


# Where the lab's window starts when its report does not say (lab.py's --warmup).
WARMUP = 45


def window_share(r):
    """The station's share in the counted window: its segment bytes then, over what the
    listeners present then played, which is their seconds in the window at the run's mean
    bytes per second played (every listener plays the same stream). The whole run's share
    for a report without its listeners."""
    listeners = [p for p in r.get("per_listener", []) if p.get("live")]
    played = sum(p["played"] for p in listeners)
    start = r.get("window_start", WARMUP)
    end = start + r["window_secs"]

    def present(p):
        leave = r["seconds"] if p["leave"] is None else p["leave"]
        return max(0.0, min(leave, end) - max(p["join"], start))

    seconds = sum(present(p) for p in listeners)
    if not played or not seconds:
        return r["station_share"]
    window_bytes = r["uplink_mbit"]["segments"] * 1e6 / 8 * r["window_secs"]
    return window_bytes / (seconds * r["listener_segment_bytes"] / played)


def late(r, share=window_share):
    """f: the share of a run (in its window, by default) less its seeds' part."""
    return max(0.0, share(r) - seeds(r["listeners"]) / r["listeners"])


def whole_run(r):
    return r["station_share"]


def uplink(n, f, non_audio, page_kb, session):
    """The model's parts at n listeners, Mbit/s."""
    return {
        "segments": (seeds(n) + f * n) * STREAM_KBIT * STREAM_WIRE / 1e3,
        "plain streams": PLAIN * n * STREAM_KBIT * STREAM_WIRE / 1e3,
        "non-audio": non_audio * n / 1e3,
        "page loads": n / session * page_kb * 8 / 1e3,
    }


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("results", nargs="+")
    ap.add_argument("--plot")
    ap.add_argument("--at", type=int, default=1000)
    ap.add_argument("--session", type=float, default=600, help="mean session, seconds")
    ap.add_argument("--page-kbytes", type=float, default=None,
                    help="bytes of one listen page load, kB (default: from Chromium runs given)")
    a = ap.parse_args()
    runs = sorted((json.load(open(p)) for p in a.results), key=lambda r: (r["listener"] if "listener" in r else "chromium", r["listeners"]))

    print("| listeners | listener | station share | uplink Mbit/s | segments | playlists | signalling | plain | "
          "page loads | other | non-audio kbit/s each | stalls per listener-hour | behind live (median, p95) | node CPU % |")
    print("|" + "---|" * 14)
    for r in runs:
        u = r["uplink_mbit"]
        print(f"| {r['listeners']} | {r.get('listener', 'chromium')} | {r['station_share']} | {u['total']} | "
              f"{u['segments']} | {u['playlists']} | {u['signalling']} | {u['plain_streams']} | {u['page_loads']} | "
              f"{u['overhead']} | {r['non_audio_kbit_per_listener']} | {r['stalls_per_listener_hour']} | "
              f"{r['behind_median']}, {r['behind_p95']} | {r.get('node_cpu_percent', '')} |")

    light = [r for r in runs if r.get("listener") == "light"] or runs
    # Several runs at one audience size are one point, their mean: each size weighs the same.
    sizes = {}
    for r in light:
        sizes.setdefault(r["listeners"], []).append(r)
    ns = sorted(sizes)
    mean = lambda xs: sum(xs) / len(xs)
    fs = [mean([late(r) for r in sizes[m]]) for m in ns]
    f_mean = mean(fs)
    fs_whole = [mean([late(r, whole_run) for r in sizes[m]]) for m in ns]
    non_audio = mean([mean([r["non_audio_kbit_per_listener"] for r in sizes[m]]) for m in ns])
    chromium = [r for r in runs if r.get("listener", "chromium") == "chromium"]
    if a.page_kbytes is not None:
        page_kb = a.page_kbytes
    else:
        # What one new listener's page load cost (the page, its scripts and icons, as
        # Chromium received them, compressed): the mean over the Chromium listeners.
        loads = [p["pageBytes"] for r in chromium for p in r["per_listener"] if p.get("pageBytes")]
        page_kb = sum(loads) / len(loads) / 1e3 if loads else 0
    n = a.at
    parts = uplink(n, f_mean, non_audio, page_kb, a.session)
    print()
    print(f"Model at {n} listeners, from {len(ns)} points ({len(light)} runs, {min(ns)} to {max(ns)} listeners):")
    points = ", ".join(f"{x:.3f}" + (f" ({len(sizes[m])} runs)" if len(sizes[m]) > 1 else "") for m, x in zip(ns, fs))
    print(f"- f, taken at the deadline in the window: mean {f_mean:.3f} (points: {points})")
    print(f"- segments: ({seeds(n)} seeds + {f_mean:.3f} x N) streams = {parts['segments']:.2f} Mbit/s")
    print(f"- plain streams: {PLAIN:.0%} of N at {STREAM_KBIT} kbit/s = {parts['plain streams']:.2f} Mbit/s")
    print(f"- non-audio: {non_audio:.3f} kbit/s x N = {parts['non-audio']:.2f} Mbit/s")
    print(f"- page loads: N / {a.session:.0f} s x {page_kb:.0f} kB = {parts['page loads']:.2f} Mbit/s")
    print(f"- total: {sum(parts.values()):.2f} Mbit/s (f from {min(fs):.3f} to {max(fs):.3f}: "
          f"{sum(uplink(n, min(fs), non_audio, page_kb, a.session).values()):.2f} to "
          f"{sum(uplink(n, max(fs), non_audio, page_kb, a.session).values()):.2f})")
    fits = max((m for m in range(10, 5001, 10)
                if sum(uplink(m, f_mean, non_audio, page_kb, a.session).values()) <= 10), default=0)
    print(f"- a 10 Mbit/s uplink carries about {fits} listeners at the mean f")
    f_whole = mean(fs_whole)
    fits_whole = max((m for m in range(10, 5001, 10)
                      if sum(uplink(m, f_whole, non_audio, page_kb, a.session).values()) <= 10), default=0)
    print(f"- with f over the whole run, the lab's join burst included: mean {f_whole:.3f} "
          f"(points: {', '.join(f'{x:.3f}' for x in fs_whole)}), "
          f"{sum(uplink(n, f_whole, non_audio, page_kb, a.session).values()):.2f} Mbit/s, "
          f"about {fits_whole} listeners")

    if a.plot:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4.2))
        for kind, mark in (("chromium", "s"), ("light", "o")):
            rs = [r for r in runs if r.get("listener", "chromium") == kind]
            if not rs:
                continue
            xs = [r["listeners"] for r in rs]
            left.plot(xs, [r["uplink_mbit"]["total"] for r in rs], mark + "-", label=f"uplink, {kind} listeners")
            left.plot(xs, [r["uplink_mbit"]["segments"] for r in rs], mark + ":", label=f"segments, {kind}")
            right.plot(xs, [r["station_share"] for r in rs], mark + "-", label=f"station share, {kind}")
        # The model drawn out to the audience it is asked about (1,000), where the points stop at
        # what the machine holds.
        top = max(max(ns), a.at)
        grid = [max(1, top * i / 20) for i in range(21)]
        left.plot(grid, [sum(uplink(x, f_mean, non_audio, page_kb, a.session).values()) for x in grid], "k--",
                  label=f"model, total (f = {f_mean:.2f})")
        # The points' f moves more from run to run and size to size than the model's other
        # parts: the model at their lowest and highest f.
        for f, style in ((min(fs), ":"), (max(fs), "-.")):
            left.plot(grid, [sum(uplink(x, f, non_audio, page_kb, a.session).values()) for x in grid],
                      "k" + style, lw=0.8, label=f"model at f = {f:.2f}")
        left.axhline(10, color="red", lw=0.8, label="10 Mbit/s uplink")
        left.set_xlabel("listeners")
        left.set_ylabel("station uplink, Mbit/s")
        left.legend(fontsize=7)
        right.axhline(0.10, color="grey", lw=0.8, ls=":", label="goal at 12")
        right.axhline(0.05, color="grey", lw=0.8, ls="--", label="goal at 100")
        right.set_xlabel("listeners")
        right.set_ylabel("segment bytes from the station / bytes played")
        right.legend(fontsize=7)
        fig.suptitle("The swarm lab: a 10/50 Mbit/s station, home listeners (benches/swarm)")
        fig.tight_layout()
        fig.savefig(a.plot, dpi=110)
        print(f"plot: {a.plot}", file=sys.stderr)


if __name__ == "__main__":
    main()
