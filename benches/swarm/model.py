#!/usr/bin/env python3
"""The swarm lab's points, a plot and a model of the station's uplink (issue 20).

    python3 benches/swarm/model.py RESULT.json... [--plot benches/results/swarm-plot.png]

Reads the lab's reports (lab.py --out) and prints a Markdown table and the model. The plot
needs matplotlib (pip install matplotlib); without --plot nothing but the standard library.

The model: what the station's uplink carries for N listeners, each part fitted apart to the
points (least squares), then added up at N = 1,000:
  - segments: a + b·N. `a` is the copies that seed each segment (one per 30 sharing pages,
    src/live/seeding.rs: it grows in steps, a straight line through them), `b` the copies
    pages take at their deadline when no peer had the segment in time;
  - plain streams: 2 % of N, each a full 128 kbit/s stream with its TCP/IP;
  - non-audio (playlists, signalling, their HTTP and TCP/IP): c·N, c the mean per listener;
  - page loads: N / session length new listeners a second, each loading the listen page
    (its bytes measured by Chromium listeners).
Its assumptions are the lab's: home uplinks log-uniform 0.5 to 20 Mbit/s, sessions of 10
minutes on average, no added delay or loss, the audience mix of the issue.
"""

import argparse
import json
import sys

PLAIN = 0.02
STREAM_KBIT = 128
# TCP/IP around a full stream: 66 bytes a 1,448-byte packet (lab.py's AUDIO_WIRE).
STREAM_WIRE = 1 + 66 / 1448


def fit(xs, ys):
    """Least-squares line through the points: (intercept, slope)."""
    n = len(xs)
    mx, my = sum(xs) / n, sum(ys) / n
    sxx = sum((x - mx) ** 2 for x in xs)
    if sxx == 0:
        return my, 0.0
    slope = sum((x - mx) * (y - my) for x, y in zip(xs, ys)) / sxx
    return my - slope * mx, slope


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
    ns = [r["listeners"] for r in light]
    seg_a, seg_b = fit(ns, [r["uplink_mbit"]["segments"] for r in light])
    non_audio = sum(r["non_audio_kbit_per_listener"] for r in light) / len(light)
    chromium = [r for r in runs if r.get("listener", "chromium") == "chromium"]
    if a.page_kbytes is not None:
        page_kb = a.page_kbytes
    else:
        # Page loads in a window: Mbit/s = joins a second x bytes each.
        page_kb = max((r["uplink_mbit"]["page_loads"] * 1e6 / 8 / 1e3 / (r["listeners"] / a.session)
                       for r in chromium if r["uplink_mbit"]["page_loads"]), default=0)
    n = a.at
    parts = {
        "segments": seg_a + seg_b * n,
        "plain streams": PLAIN * n * STREAM_KBIT * STREAM_WIRE / 1e3,
        "non-audio": non_audio * n / 1e3,
        "page loads": n / a.session * page_kb * 8 / 1e3,
    }
    print()
    print(f"Model at {n} listeners (fitted to {len(light)} points, {min(ns)} to {max(ns)} listeners):")
    print(f"- segments: {seg_a:.3f} + {seg_b * 1e3:.3f} kbit/s x N = {parts['segments']:.2f} Mbit/s")
    print(f"- plain streams: {PLAIN:.0%} of N at {STREAM_KBIT} kbit/s = {parts['plain streams']:.2f} Mbit/s")
    print(f"- non-audio: {non_audio:.3f} kbit/s x N = {parts['non-audio']:.2f} Mbit/s")
    print(f"- page loads: N / {a.session:.0f} s x {page_kb:.0f} kB = {parts['page loads']:.2f} Mbit/s")
    print(f"- total: {sum(parts.values()):.2f} Mbit/s")

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
        top = max(max(ns), 200)
        grid = [top * i / 20 for i in range(21)]
        left.plot(grid, [seg_a + seg_b * x + PLAIN * x * STREAM_KBIT * STREAM_WIRE / 1e3 + non_audio * x / 1e3
                         + x / a.session * page_kb * 8 / 1e3 for x in grid], "k--", label="model, total")
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
