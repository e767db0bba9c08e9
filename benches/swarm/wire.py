#!/usr/bin/env python3
"""What the station's uplink carries, packet by packet, sorted by what each connection asked.

    ip netns exec swlab-node python3 benches/swarm/wire.py --secs 120 [--port 8080]

Runs inside the node's namespace beside a lab run (benches/swarm/run.sh) and counts every
frame the node sends on eth0 (headers and all, as the shaper counts them), by the request
the connection carried last: live playlists, live segments, the tracker's WebSocket, plain
streams, everything else. Pure ACKs are counted apart, and so are connection set-ups (the
SYN-ACK and anything before a connection's first request); connections opened before the
count began are told apart by their first payload. The lab's own "overhead" (what
is neither a body the node counts nor audio's TCP/IP) is made of these. Frames to the lab's
probe host (`--probe`) are counted apart, set-ups and all; `besides_audio_kbit_s_a_listener`
is what the goal counts: everything but segments, plain streams, page loads and the probe.

Standard library only: a packet socket (AF_PACKET), no tcpdump.
"""

import argparse
import collections
import json
import socket
import struct
import time

ETH_P_ALL = 0x0003
PACKET_OUTGOING = 4


def kind(path):
    """The category of a request by its path."""
    if path.startswith("/live/") and ".m3u8" in path:
        return "playlists"
    if path.startswith("/live/opus/") or path.startswith("/live/mp3/"):
        return "segments"
    if path.startswith("/live.mp3") or path.startswith("/live.ogg"):
        return "plain"
    if path.startswith("/live/leave"):
        return "leave"
    if path.startswith("/announce") or path.startswith("/tracker"):
        return "tracker"
    if path.startswith("/api/nowplaying/events"):
        return "now-playing events"
    if path.startswith("/api/"):
        return "api"
    return "page"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--secs", type=float, default=120)
    ap.add_argument("--port", type=int, default=8080)
    ap.add_argument("--dev", default="eth0")
    ap.add_argument("--listeners", type=int, default=0, help="to print kbit/s a listener too")
    ap.add_argument("--probe", default="10.77.1.2",
                    help="the lab's probe host (router-probe): its frames are counted apart")
    a = ap.parse_args()

    probe = socket.inet_aton(a.probe)
    s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
    s.bind((a.dev, 0))
    s.settimeout(1)
    conn = {}
    wire = collections.Counter()
    frames = collections.Counter()
    acks = collections.Counter()
    paths = collections.Counter()
    messages = collections.Counter()
    # STUN answers by the address they went to: one per WebRTC port a page opened, and
    # how often each was asked (gathering once, or keep-alives).
    stun_to = collections.Counter()
    stun_asked = collections.Counter()
    end = time.time() + a.secs
    while time.time() < end:
        try:
            frame, addr = s.recvfrom(65535)
        except socket.timeout:
            continue
        out = addr[2] == PACKET_OUTGOING
        if len(frame) < 34 or frame[12:14] != b"\x08\x00":
            if out:
                wire["not ip"] += len(frame)
            continue
        ihl = (frame[14] & 0x0F) * 4
        proto = frame[23]
        src, dst = frame[26:30], frame[30:34]
        if (dst if out else src) == probe:
            if out:
                wire["probe"] += len(frame)
                frames["probe"] += 1
            continue
        if proto != 6:
            if proto == 17 and not out:
                stun_asked[(src, frame[14 + ihl:14 + ihl + 2])] += 1
            if out:
                wire["udp" if proto == 17 else "other ip"] += len(frame)
                if proto == 17:
                    stun_to[(dst, frame[14 + ihl + 2:14 + ihl + 4])] += 1
            continue
        t = 14 + ihl
        sport, dport = struct.unpack("!HH", frame[t:t + 4])
        doff = (frame[t + 12] >> 4) * 4
        flags = frame[t + 13]
        total = struct.unpack("!H", frame[16:18])[0]
        payload = frame[t + doff:14 + total]
        if out:
            key = (src, sport, dst, dport)
        else:
            key = (dst, dport, src, sport)
            if payload[:4] in (b"GET ", b"POST", b"HEAD"):
                line = payload.split(b"\r\n", 1)[0].decode("latin-1").split(" ")
                path = line[1] if len(line) > 1 else "?"
                k = kind(path)
                if b"\r\nupgrade: websocket" in payload.lower():
                    k = "tracker"
                conn[key] = k
                paths[(k, path.split("?")[0][:40])] += 1
            if flags & 0x05:  # FIN or RST: forget the connection after its last packets
                pass
            continue
        k = conn.get(key)
        if k is None and payload:
            # A connection opened before the count began: a WebSocket frame (a small
            # first payload with FIN and a text, binary, close or ping opcode) is the
            # tracker's, a full-size one a plain stream's.
            ws = payload[0] & 0x80 and payload[0] & 0x0F in (1, 2, 8, 9, 10) and len(payload) < 1400
            k = conn[key] = "tracker" if ws else "plain" if len(payload) >= 1400 else "begun before"
        k = k or "set-up"
        if k == "tracker" and payload and payload[0] & 0x40:
            # RSV1: a compressed message (permessage-deflate), its text unreadable here.
            messages["compressed"] += len(frame)
        elif k == "tracker" and payload:
            # The tracker's messages by what they carry (a segment may hold several: the
            # first names it).
            for what in (b'"offer":', b'"answer":', b'"interval":', b'streamp2p-seed', b'"failure reason":'):
                if what in payload[:400]:
                    messages[what.decode().strip('":')] += len(frame)
                    break
            else:
                messages["other"] += len(frame)
        if not payload and not flags & 0x03:
            acks[k] += len(frame)
            k = k + " (acks)"
        wire[k] += len(frame)
        frames[k] += 1
    secs = a.secs
    report = {
        "secs": secs,
        "kbit_s": {k: round(v * 8 / secs / 1e3, 2) for k, v in wire.most_common()},
        "frames": dict(frames.most_common()),
        "tracker_kbit_s": {k: round(v * 8 / secs / 1e3, 2) for k, v in messages.most_common()},
        "top_paths": [[k, p, n] for (k, p), n in paths.most_common(15)],
        "udp_asked": sum(stun_asked.values()),
        "udp_ports_asking": len(stun_asked),
        "udp_answers": sum(stun_to.values()),
        "udp_ports_answered": len(stun_to),
        "udp_answers_a_port": sorted(collections.Counter(stun_to.values()).items()),
    }
    if a.listeners:
        report["kbit_s_a_listener"] = {k: round(v * 8 / secs / 1e3 / a.listeners, 3) for k, v in wire.most_common()}
        # What the goal counts: everything but audio (segments, plain streams), page loads
        # and the probe, ACKs included.
        audio_or_page = ("segments", "plain", "page", "probe")
        besides = sum(v for k, v in wire.items() if k.split(" (")[0] not in audio_or_page)
        report["besides_audio_kbit_s_a_listener"] = round(besides * 8 / secs / 1e3 / a.listeners, 3)
    print(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
