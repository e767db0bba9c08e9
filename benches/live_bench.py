#!/usr/bin/env python3
"""Live audio benchmark (issue 5), driven by live.sh. Standard library + benchlib.py.

Capture input: two ALSA `file`-plugin PCMs (slave "null", which does not pace itself) whose
`infile` is a FIFO. A writer thread per PCM writes raw s16le 48 kHz stereo on the clock in chunks of
the reader's ALSA read size (960 frames for the node, 1024 for darkice; pipe shrunk to 4096 bytes, so the reader cannot run ahead or lag behind by
more than that): silence with a 200 ms 1 kHz burst (-6 dBFS) every 5 s from 10 s on. The wall
time a burst's first chunk is accepted by the pipe is its capture time.

  pcm `nodein` -> `streamp2p run --audio alsa:nodein`  (Opus /live.ogg, MP3 /live.mp3 + HLS)
  pcm `dkin`   -> darkice 1.3 -> icecast2 on 127.0.0.1 (Opus /live.ogg and MP3 /live.mp3,
                  both 128 kb/s CBR stereo 48 kHz: the same two encodes as the node)

Both run at once, over the same seconds. Readers: `ffmpeg -i URL -f s16le -ac 1 -` per stream
(wall time of the first decoded 10 ms block over -30 dBFS after >= 1 s of quiet), and the node's
level meter SSE /api/live/levels (first event with peak > -20 dBFS). CPU: utime+stime from
/proc/PID/stat of the node, darkice and icecast2 over the same 60 s window.
"""
import argparse, json, math, os, selectors, socket, struct, subprocess, sys, threading, time, urllib.request
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from benchlib import Node, log, wait_until, proc_cpu_secs, proc_status, free_port

RATE, CH = 48000, 2
# Frames per write must equal the frames the program asks ALSA for at a time: alsa-lib's `file`
# plugin (1.2.8) returns as many frames as its slave ("null": always all) and ignores a short
# read() of the infile, so a FIFO with less data than asked for yields stale buffer contents as
# extra frames. The node reads 960 (its 20 ms period), darkice 1024: a 960-frame writer gave
# darkice streams with 16/15 of the input, a 1024-frame writer gave the node 1920/1024.
F_SETPIPE_SZ = 1031


def uptime():
    return subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()


class Writer(threading.Thread):
    def __init__(self, fifo, duration, chunk, first=10.0, every=5.0, burst=0.2):
        super().__init__(daemon=True)
        CHUNK = self.chunk = chunk
        self.period = chunk / RATE
        self.fifo, self.duration, self.first, self.every, self.burst = fifo, duration, first, every, burst
        self.bursts = []          # wall times the first chunk of each burst was accepted
        self.late = 0
        self.opened = None
        os.mkfifo(fifo)
        silence = bytes(CHUNK * CH * 2)
        self.silence = silence
        amp = int(0.5 * 32767)
        self.tone = b"".join(struct.pack("<hh", v, v) for v in
                             (int(amp * math.sin(2 * math.pi * 1000 * n / RATE)) for n in range(CHUNK)))

    def run(self):
        fd = os.open(self.fifo, os.O_WRONLY)      # blocks until the PCM opens its infile
        try:
            import fcntl
            fcntl.fcntl(fd, F_SETPIPE_SZ, 4096)
        except OSError as e:
            log(f"F_SETPIPE_SZ: {e}")
        self.opened = time.time()
        base = time.monotonic()
        PERIOD = self.period
        n_chunks = int(self.duration / PERIOD)
        k = 0
        try:
            while k < n_chunks:
                due = base + k * PERIOD
                now = time.monotonic()
                if due > now:
                    time.sleep(due - now)
                elif now - due > 0.1:     # reader stalled: do not catch up faster than real time
                    base += now - due
                    self.late += 1
                t = k * PERIOD
                in_burst = t >= self.first and ((t - self.first) % self.every) < self.burst - 1e-9
                starts = in_burst and ((t - self.first) % self.every) < PERIOD - 1e-9
                os.write(fd, self.tone if in_burst else self.silence)
                if starts:
                    self.bursts.append(time.time())
                k += 1
        except (BrokenPipeError, OSError) as e:
            log(f"writer {self.fifo}: {e}")
        finally:
            os.close(fd)


class Reader(threading.Thread):
    """ffmpeg decodes URL to mono s16le; onsets = wall times of tone starts."""

    def __init__(self, name, url, pre=(), secs=100):
        super().__init__(daemon=True)
        self.name, self.url, self.pre, self.secs = name, url, list(pre), secs
        self.onsets, self.err = [], None
        self.starts = []      # (sample index of each onset, for a player's timeline)
        self.t_first = None   # wall time the first decoded bytes arrived

    def run(self):
        cmd = ["ffmpeg", "-nostdin", "-v", "error", "-fflags", "nobuffer", "-flags", "low_delay",
               *self.pre, "-i", self.url, "-f", "s16le", "-ac", "1", "-ar", "48000",
               "-flush_packets", "1", "-"]
        p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        self.proc = p
        end = time.monotonic() + self.secs
        quiet_since = time.time()
        blk = 480 * 2
        buf = b""
        pos = 0
        try:
            while time.monotonic() < end:
                data = p.stdout.read1(65536) if hasattr(p.stdout, "read1") else os.read(p.stdout.fileno(), 65536)
                if not data:
                    break
                now = time.time()
                if self.t_first is None:
                    self.t_first = now
                buf += data
                while len(buf) >= blk:
                    b, buf = buf[:blk], buf[blk:]
                    pos += 480
                    s = struct.unpack(f"<{480}h", b)
                    rms = math.sqrt(sum(v * v for v in s) / 480) / 32768
                    loud = rms > 10 ** (-30 / 20)
                    if loud:
                        if quiet_since is not None and now - quiet_since >= 1.0:
                            self.onsets.append(now)
                            self.starts.append((now, pos - 480))
                        quiet_since = None
                    elif quiet_since is None:
                        quiet_since = now
        finally:
            p.kill()
            p.wait(timeout=10)
            self.err = p.stderr.read().decode(errors="replace")[-500:]


class Crowd(threading.Thread):
    """`n` more listeners on each of `paths` at `port`, reading and throwing away what comes,
    so that the node serves a crowd while the readers measure (from 100 listeners on a
    stream, its writer sends two groups per write)."""

    def __init__(self, port, paths, n, secs):
        super().__init__(daemon=True)
        self.port, self.paths, self.n, self.secs = port, paths, n, secs
        self.got = 0

    def run(self):
        sel = selectors.DefaultSelector()
        for path in self.paths:
            for _ in range(self.n):
                s = socket.create_connection(("127.0.0.1", self.port))
                s.sendall(f"GET {path} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
                s.setblocking(False)
                sel.register(s, selectors.EVENT_READ)
        end = time.monotonic() + self.secs
        while time.monotonic() < end:
            for key, _ in sel.select(timeout=1):
                try:
                    self.got += len(key.fileobj.recv(65536))
                except BlockingIOError:
                    pass
        for key in list(sel.get_map().values()):
            key.fileobj.close()


class SseReader(threading.Thread):
    def __init__(self, url, secs=100):
        super().__init__(daemon=True)
        self.url, self.secs, self.onsets = url, secs, []

    def run(self):
        end = time.monotonic() + self.secs
        quiet = True
        try:
            with urllib.request.urlopen(self.url, timeout=20) as r:
                while time.monotonic() < end:
                    line = r.readline()
                    if not line:
                        break
                    now = time.time()
                    if not line.startswith(b"data:"):
                        continue
                    d = json.loads(line[5:])
                    loud = max(d.get("peak_db", [-100])) > -20
                    if loud and quiet:
                        self.onsets.append(now)
                    quiet = not loud
        except Exception as e:  # noqa: BLE001
            log(f"sse: {e}")


def match(bursts, onsets, window=12.0):
    """Latency of each burst: first onset in [burst, burst + window)."""
    out = []
    for b in bursts:
        cand = [o - b for o in onsets if 0 <= o - b < window]
        out.append(round(min(cand), 3) if cand else None)
    return out


def stats(lat):
    v = sorted(x for x in lat if x is not None)
    if not v:
        return None
    return {"n": len(v), "of": len(lat), "median_s": v[len(v) // 2], "min_s": v[0], "max_s": v[-1]}


ICECAST_XML = """<icecast>
 <limits><clients>100</clients><sources>4</sources><queue-size>524288</queue-size>
  <client-timeout>30</client-timeout><header-timeout>15</header-timeout><source-timeout>10</source-timeout>
  <burst-on-connect>1</burst-on-connect><burst-size>65535</burst-size></limits>
 <authentication><source-password>benchpw</source-password><relay-password>benchpw</relay-password>
  <admin-user>admin</admin-user><admin-password>benchpw</admin-password></authentication>
 <hostname>127.0.0.1</hostname>
 <listen-socket><port>{port}</port><bind-address>127.0.0.1</bind-address></listen-socket>
 <fileserve>1</fileserve>
 <paths><basedir>/usr/share/icecast2</basedir><logdir>{logdir}</logdir>
  <webroot>/usr/share/icecast2/web</webroot><adminroot>/usr/share/icecast2/admin</adminroot></paths>
 <logging><accesslog>access.log</accesslog><errorlog>error.log</errorlog><loglevel>3</loglevel></logging>
 <security><chroot>0</chroot>{owner}</security>
</icecast>
"""

DARKICE_CFG = """[general]
duration = 0
bufferSecs = {buffer_secs}
reconnect = yes
realtime = no

[input]
device = dkin
sampleRate = 48000
bitsPerSample = 16
channel = 2

[icecast2-0]
bitrateMode = cbr
format = opus
bitrate = 128
sampleRate = 48000
server = 127.0.0.1
port = {port}
password = benchpw
mountPoint = live.ogg
name = bench

[icecast2-1]
bitrateMode = cbr
format = mp3
bitrate = 128
sampleRate = 48000
server = 127.0.0.1
port = {port}
password = benchpw
mountPoint = live.mp3
name = bench
"""


def start_icecast(w, port, clients=100):
    """icecast2 on 127.0.0.1:`port` with ICECAST_XML, its files under `w`; returns the process."""
    # As root it drops to nobody, who must reach its log dir inside the work dir.
    os.chmod(w, 0o711)
    logdir = os.path.join(w, "icecast-log")
    os.makedirs(logdir)
    os.chmod(logdir, 0o777)
    owner = ("<changeowner><user>nobody</user><group>nogroup</group></changeowner>"
             if os.getuid() == 0 else "")
    xml = ICECAST_XML.format(port=port, logdir=logdir, owner=owner)
    xml = xml.replace("<clients>100</clients>", f"<clients>{clients}</clients>")
    with open(os.path.join(w, "icecast.xml"), "w") as f:
        f.write(xml)
    ice = subprocess.Popen(["icecast2", "-c", os.path.join(w, "icecast.xml")],
                           stdout=open(os.path.join(w, "icecast.log"), "w"), stderr=subprocess.STDOUT)
    time.sleep(1)
    return ice


def stop_all(procs, node):
    """Stops `procs` (last started first), then the node."""
    for p in reversed(procs):
        p.terminate()
        try:
            p.wait(timeout=10)
        except subprocess.TimeoutExpired:
            p.kill()
    if node:
        node.stop()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin"); ap.add_argument("--work"); ap.add_argument("--out")
    ap.add_argument("--duration", type=float, default=82)
    ap.add_argument("--cpu-secs", type=float, default=60)
    ap.add_argument("--buffer-secs", type=int, default=1)
    ap.add_argument("--no-darkice", action="store_true")
    ap.add_argument("--crowd", type=int, default=0,
                    help="idle listeners on each of the node's /live.ogg and /live.mp3")
    a = ap.parse_args()
    w = a.work
    res = {"uptime_start": uptime(), "duration": a.duration}
    conf = os.path.join(w, "asound.conf")
    with open(conf, "w") as f:
        for name in ("nodein", "dkin"):
            f.write(f'pcm.{name} {{\n type file\n slave.pcm "null"\n file "/dev/null"\n'
                    f' infile "{w}/{name}.fifo"\n format "raw"\n}}\n')
    os.environ["ALSA_CONFIG_PATH"] = f"/usr/share/alsa/alsa.conf:{conf}"
    procs = []
    wn = Writer(os.path.join(w, "nodein.fifo"), a.duration, 960)
    wd = Writer(os.path.join(w, "dkin.fifo"), a.duration, 1024)
    wn.start()
    node = None
    try:
        cfg = ("audio = \"alsa:nodein\"\n[scan]\nrescan_secs = 60\n[swarm]\nenabled = false\n"
               "dht = false\nlsd = false\n[webtorrent]\nenabled = false\n"
               "[live]\nbitrate_kbps = 128\nchannels = 2\nrecord = false\n"
               # The crowd comes from 127.0.0.1, as the readers do.
               + ("[web]\nmax_per_address = 2048\n" if a.crowd else ""))
        os.makedirs(os.path.join(w, "lib"), exist_ok=True)
        node = Node(a.bin, os.path.join(w, "data"), [os.path.join(w, "lib")], cfg, w, "node-live").start()
        ice_port = free_port()
        if not a.no_darkice:
            wd.start()
            procs.append(start_icecast(w, ice_port))
            with open(os.path.join(w, "darkice.cfg"), "w") as f:
                f.write(DARKICE_CFG.format(port=ice_port, buffer_secs=a.buffer_secs))
            dk = subprocess.Popen(["darkice", "-v", "1", "-c", os.path.join(w, "darkice.cfg")],
                                  stdout=open(os.path.join(w, "darkice.log"), "w"), stderr=subprocess.STDOUT)
            procs.append(dk)
        wait_until(lambda: (h := node.health()) and h["live"]["state"] == "on_air", 30, 0.1, "node on air")
        log(f"node on air; health live: {json.dumps(node.health()['live'])}")
        if a.crowd:
            crowd = Crowd(node.http_port, ["/live.ogg", "/live.mp3"], a.crowd, a.duration + 10)
            crowd.start()
            wait_until(lambda: (l := node.health()["listeners"])["ogg"] + l["mp3"] >= 2 * a.crowd,
                       30, 0.2, "the crowd connected")
            res["crowd_per_stream"] = a.crowd
        b = node.base
        readers = [Reader("node /live.ogg", b + "/live.ogg"), Reader("node /live.mp3", b + "/live.mp3"),
                   Reader("node HLS (ffmpeg default start)", b + "/live/index.m3u8"),
                   Reader("node HLS (live_start_index -1)", b + "/live/index.m3u8", ["-live_start_index", "-1"])]
        sse = SseReader(b + "/api/live/levels")
        if not a.no_darkice:
            ib = f"http://127.0.0.1:{ice_port}"
            wait_until(lambda: subprocess.run(["curl", "-sf", "-o", "/dev/null", "-m", "1", "-r", "0-0",
                                               ib + "/live.mp3"]).returncode in (0, 28), 30, 0.5,
                       "icecast mounts")
            readers += [Reader("darkice+icecast /live.ogg (Opus)", ib + "/live.ogg"),
                        Reader("darkice+icecast /live.mp3", ib + "/live.mp3")]
        for r in readers:
            r.secs = a.duration + 5
            r.start()
        sse.secs = a.duration + 5
        sse.start()
        # CPU window: a.cpu_secs on air, from 8 s after the readers started.
        time.sleep(8)
        pids = {"node": node.proc.pid}
        if not a.no_darkice:
            pids.update({"darkice": procs[1].pid, "icecast2": procs[0].pid})
        c0 = {k: proc_cpu_secs(p) for k, p in pids.items()}
        t0 = time.monotonic()
        res["uptime_cpu_start"] = uptime()
        time.sleep(a.cpu_secs)
        c1 = {k: proc_cpu_secs(p) for k, p in pids.items()}
        span = time.monotonic() - t0
        res["uptime_cpu_end"] = uptime()
        res["cpu_window_s"] = span
        res["cpu_s"] = {k: round(c1[k] - c0[k], 3) for k in pids}
        res["rss_kib"] = {k: proc_status(p, "VmRSS") for k, p in pids.items()}
        if not a.no_darkice:
            res["cpu_ratio_node_over_darkice"] = res["cpu_s"]["node"] / max(res["cpu_s"]["darkice"], 1e-9)
            res["cpu_ratio_node_over_darkice_plus_icecast"] = res["cpu_s"]["node"] / max(
                res["cpu_s"]["darkice"] + res["cpu_s"]["icecast2"], 1e-9)
        log(f"cpu: {res['cpu_s']}")
        wn.join(timeout=a.duration + 30)
        if not a.no_darkice:
            wd.join(timeout=a.duration + 30)
        for r in readers:
            r.join(timeout=30)
        sse.join(timeout=30)
        res["writer"] = {"node_bursts": len(wn.bursts), "node_late": wn.late,
                         "darkice_bursts": len(wd.bursts), "darkice_late": wd.late}
        lat = {}
        for r in readers:
            src = wd.bursts if r.name.startswith("darkice") else wn.bursts
            l = match(src, r.onsets)
            # A player that starts playing the first decoded sample the moment it arrives and
            # then plays on in real time hears a sample at t_first + index/48000 (or when it
            # arrives, if later): its audible latency.
            play = [max(o, r.t_first + i / RATE) for (o, i) in r.starts] if r.t_first else []
            lp = match(src, play)
            lat[r.name] = {"per_burst_s": l, "stats": stats(l), "onsets": len(r.onsets),
                           "stream_secs_per_wall_sec": (round((r.starts[-1][1] - r.starts[0][1]) / RATE
                                                              / (r.starts[-1][0] - r.starts[0][0]), 4)
                                                        if len(r.starts) > 1 else None),
                           "player_per_burst_s": lp, "player_stats": stats(lp), "ffmpeg_err": r.err}
        l = match(wn.bursts, sse.onsets)
        lat["node level meter SSE"] = {"per_burst_s": l, "stats": stats(l), "onsets": len(sse.onsets)}
        res["latency"] = lat
        res["health_live"] = node.health()["live"]
        for k, v in lat.items():
            log(f"{k}: arrival {v['stats']} player {v.get('player_stats')} rate {v.get('stream_secs_per_wall_sec')}")
    finally:
        stop_all(procs, node)
    res["uptime_end"] = uptime()
    with open(a.out, "w") as f:
        json.dump(res, f, indent=1)
    print(json.dumps(res, indent=1))


if __name__ == "__main__":
    main()
