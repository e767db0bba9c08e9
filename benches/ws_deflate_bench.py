#!/usr/bin/env python3
"""permessage-deflate on the tracker's WebSocket (issue 20): what it saves in signalling and
what it costs in memory. Node's `ws` (benches/js/ws_deflate.mjs) opens --conns sockets, each
announcing with 5 Chromium-shaped offers and answering every offer relayed to it, once with
the extension offered and once without, alternating, a fresh node for each run:

- bytes: the node's payload bytes written (`websocket_bytes_sent`) against the same messages
  uncompressed (`websocket_message_bytes`), from /api/tracker;
- memory: (VmRSS with the sockets held - VmRSS before they connected) / sockets;
- CPU: the node's, from the first socket to the last relayed answer.
"""
import argparse
import json
import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from benchlib import Node, get_json, log, proc_cpu_secs, proc_status, wait_until  # noqa: E402
# The tracker bench's node: any infohash, no per-address limits (every socket is from
# 127.0.0.1), room for the sockets.
from trackerbench import NODE_CONFIG  # noqa: E402



def one_run(a, deflate, n):
    data = os.path.join(a.work, f"data-{n}")
    os.makedirs(data, exist_ok=True)
    node = Node(a.bin, data, [], NODE_CONFIG, a.work, f"node-{n}").start()
    try:
        wait_until(lambda: node.health(), 60, 0.2, "node healthy")
        time.sleep(1.0)
        before = int(proc_status(node.proc.pid, "VmRSS"))
        cpu0 = proc_cpu_secs(node.proc.pid)
        script = os.path.join(os.path.dirname(os.path.abspath(__file__)), "js", "ws_deflate.mjs")
        client = subprocess.Popen(
            ["node", script, "--tracker", f"ws://127.0.0.1:{node.http_port}/announce",
             "--conns", str(a.conns), "--deflate", "on" if deflate else "off"],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, cwd=a.repo)
        line = client.stdout.readline().split()
        if not line or line[0] != "READY":
            raise RuntimeError(f"the client did not get ready: {line}")
        time.sleep(3.0)
        held = int(proc_status(node.proc.pid, "VmRSS"))
        cpu = proc_cpu_secs(node.proc.pid) - cpu0
        t = get_json(node.base + "/api/tracker")
        client.stdin.close()
        client.wait(timeout=30)
        sent, messages = t["websocket_bytes_sent"], t["websocket_message_bytes"]
        row = {
            "deflate": deflate, "conns": a.conns, "open": int(line[1]),
            "offers_relayed": int(line[2]), "answers_relayed": int(line[3]),
            "message_bytes": messages, "sent_bytes": sent,
            "sent_per_message_byte": round(sent / messages, 3) if messages else None,
            "rss_before_kib": before, "rss_held_kib": held,
            "bytes_per_socket": round((held - before) * 1024 / max(1, int(line[1]))),
            # The node's CPU from the first socket to the last relayed answer, all of it:
            # upgrades, parsing, relaying and, with the extension, compressing.
            "node_cpu_secs": round(cpu, 2),
        }
        log(json.dumps(row))
        return row
    finally:
        node.stop()


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--bin", required=True)
    p.add_argument("--work", required=True)
    p.add_argument("--repo", required=True)
    p.add_argument("--conns", type=int, default=1000)
    p.add_argument("--rounds", type=int, default=2)
    a = p.parse_args()
    rows = [one_run(a, deflate, 2 * r + i)
            for r in range(a.rounds) for i, deflate in enumerate((False, True))]
    print(json.dumps({"runs": rows}, indent=1))


if __name__ == "__main__":
    main()
