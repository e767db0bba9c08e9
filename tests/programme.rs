//! A station that never goes silent: with a silent line-in the library plays (the fallback),
//! studio PCs take over as Icecast sources (ffmpeg with PUT and with the legacy SOURCE
//! method, Debian's Liquidsoap and ezstream), and the fallback covers them when they stop,
//! all on one listener connection that never reconnects. What is playing shows in `/api/nowplaying`
//! and, for players that ask, in the MP3 stream's ICY titles.

mod common;

use std::{
    io::{BufRead, BufReader, Read, Write},
    net::TcpStream,
    path::Path,
    process::{Child, Command, Stdio},
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use common::*;
use serde_json::Value;

const PASSWORD: &str = "studio-secret";
const FALLBACK_AFTER: u64 = 4;

/// A node whose line-in is a silent file and whose library is one 660 Hz episode.
fn start(root: &Path) -> Node {
    let silence = root.join("silence.wav");
    ffmpeg_to(
        &silence,
        &[
            "-f",
            "lavfi",
            "-i",
            "anullsrc=r=48000:cl=stereo",
            "-t",
            "5",
            "-c:a",
            "pcm_s16le",
        ],
    );
    let tables = format!(
        "\n[live]\nfallback = true\nfallback_after_secs = {FALLBACK_AFTER}\n\
         source_password = \"{PASSWORD}\"\nrecord = false\n"
    );
    start_live_node(
        root,
        &format!("file:{}", silence.display()),
        &tables,
        |lib| make_tone_mp3(&lib.join("tone.mp3"), 660, "Tone Episode", "Radio Test", 30),
    )
}

/// One listener of `/live.mp3`: ffmpeg decoding it to 48 kHz mono as it comes (no
/// reconnect: ffmpeg's http input does not by default).
struct Listener {
    child: Child,
    samples: Arc<Mutex<Vec<i16>>>,
}

impl Listener {
    fn new(url: &str) -> Self {
        let mut child = Command::new("ffmpeg")
            .args(["-v", "error", "-nostdin", "-i", url])
            .args(["-f", "s16le", "-ac", "1", "-ar", "48000", "-"])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("run ffmpeg");
        let mut out = child.stdout.take().unwrap();
        let samples = Arc::new(Mutex::new(Vec::new()));
        let into = samples.clone();
        std::thread::spawn(move || {
            let mut buf = [0u8; 9600];
            while let Ok(n) = out.read(&mut buf) {
                if n == 0 {
                    break;
                }
                let mut s = into.lock().unwrap();
                s.extend(
                    buf[..n & !1]
                        .chunks_exact(2)
                        .map(|c| i16::from_le_bytes([c[0], c[1]])),
                );
            }
        });
        Self { child, samples }
    }

    /// Waits until the last 100 ms heard are a tone of `hz`; returns how long that took.
    fn wait_tone(&mut self, hz: f64, within: Duration) -> Duration {
        let started = Instant::now();
        let mut last = 0.0;
        while started.elapsed() < within {
            {
                let s = self.samples.lock().unwrap();
                if s.len() > 4800 {
                    last = tone_hz(&s[s.len() - 4800..]);
                    if (last - hz).abs() < 15.0 {
                        return started.elapsed();
                    }
                }
            }
            assert!(
                self.child.try_wait().unwrap().is_none(),
                "the listener's connection ended"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("no {hz} Hz within {within:?}: last heard {last:.0} Hz");
    }

    /// After a second more of listening: no switch left a gap a listener hears. Each
    /// switch is named with the sample count heard just before it; its span runs to the
    /// next one's (the last to what has been heard).
    fn assert_no_gap(&self, switches: &[(&str, usize)]) {
        std::thread::sleep(Duration::from_secs(1));
        for (i, &(switch, from)) in switches.iter().enumerate() {
            let gap = self.longest_silence_ms(from, switches.get(i + 1).map(|s| s.1));
            eprintln!("longest silence at {switch}: {gap:.1} ms");
            assert!(gap < 100.0, "{gap:.1} ms of silence at {switch}");
        }
    }

    /// The longest run of silence heard from sample `from` on (to what has been heard, or
    /// to sample `to`), in ms.
    fn longest_silence_ms(&self, from: usize, to: Option<usize>) -> f64 {
        let s = self.samples.lock().unwrap();
        let (mut longest, mut run) = (0usize, 0usize);
        let to = to.unwrap_or(s.len()).min(s.len());
        // A tone at this level crosses zero, but never stays under it for a millisecond.
        for v in &s[from.min(to)..to] {
            if v.unsigned_abs() < 200 {
                run += 1;
                longest = longest.max(run);
            } else {
                run = 0;
            }
        }
        longest as f64 / 48.0
    }

    fn heard(&self) -> usize {
        self.samples.lock().unwrap().len()
    }
}

impl Drop for Listener {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// ffmpeg sending a `hz` tone to the node's `/live` mount as an Icecast source (PUT, or the
/// legacy SOURCE method), in real time.
fn ffmpeg_source(node: &Node, hz: u32, password: &str, legacy: bool) -> Child {
    let url = format!(
        "icecast://source:{password}@127.0.0.1:{}/live",
        node.http.port()
    );
    Command::new("ffmpeg")
        .args(["-v", "error", "-nostdin", "-re", "-f", "lavfi"])
        .arg("-i")
        .arg(format!("sine=frequency={hz}"))
        .args([
            "-c:a",
            "libmp3lame",
            "-b:a",
            "128k",
            "-content_type",
            "audio/mpeg",
        ])
        .args([
            "-ice_name",
            "Studio PC",
            "-legacy_icecast",
            if legacy { "1" } else { "0" },
        ])
        .args(["-f", "mp3", &url])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run ffmpeg")
}

/// Whether the podcast feed has a `podcast:liveItem` now.
fn live_in_feed(node: &Node) -> bool {
    node.get("/feed.xml").text().contains("<podcast:liveItem ")
}

fn now_playing(node: &Node) -> Value {
    serde_json::from_slice(&node.get("/api/nowplaying").body).unwrap_or(Value::Null)
}

/// Sends a source's request head with `password` and returns the status line the node
/// answers.
fn source_status(node: &Node, method: &str, password: &str) -> String {
    use base64::Engine;
    let mut s = TcpStream::connect(node.http).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let auth = base64::engine::general_purpose::STANDARD.encode(format!("source:{password}"));
    write!(
        s,
        "{method} /live HTTP/1.1\r\nHost: x\r\nAuthorization: Basic {auth}\r\n\
         Content-Type: audio/mpeg\r\nIce-Name: Second\r\n\r\n"
    )
    .unwrap();
    let mut line = String::new();
    BufReader::new(s).read_line(&mut line).unwrap();
    line.trim().to_string()
}

/// Reads `/live.mp3` as a player asking for ICY titles does, until a `StreamTitle`
/// containing `want` comes (or `within` passes); returns the titles seen.
fn icy_titles_until(node: &Node, want: &str, within: Duration) -> Vec<String> {
    let mut s = TcpStream::connect(node.http).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    write!(
        s,
        "GET /live.mp3 HTTP/1.1\r\nHost: x\r\nIcy-MetaData: 1\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut r = BufReader::new(s);
    let mut metaint = 0usize;
    let mut chunked = false;
    loop {
        let mut line = String::new();
        r.read_line(&mut line).unwrap();
        let l = line.trim().to_ascii_lowercase();
        if l.is_empty() {
            break;
        }
        if let Some(v) = l.strip_prefix("icy-metaint:") {
            metaint = v.trim().parse().unwrap();
        }
        chunked |= l == "transfer-encoding: chunked";
    }
    assert!(metaint > 0, "no icy-metaint in the answer");
    // The body (de-chunked when needed): `metaint` bytes of audio, then a length byte and
    // that many 16-byte units of title, again and again.
    let mut body = Vec::new();
    let mut titles = Vec::new();
    let (mut pos, mut audio_left) = (0usize, metaint);
    let started = Instant::now();
    while started.elapsed() < within {
        if chunked {
            let mut size = String::new();
            r.read_line(&mut size).unwrap();
            let n = usize::from_str_radix(size.trim(), 16).unwrap_or(0);
            let mut chunk = vec![0u8; n + 2];
            r.read_exact(&mut chunk).unwrap();
            body.extend_from_slice(&chunk[..n]);
        } else {
            let mut chunk = [0u8; 4096];
            let n = r.read(&mut chunk).unwrap();
            body.extend_from_slice(&chunk[..n]);
        }
        loop {
            let take = audio_left.min(body.len() - pos);
            pos += take;
            audio_left -= take;
            if audio_left > 0 || pos >= body.len() {
                break;
            }
            let len = usize::from(body[pos]) * 16;
            if body.len() < pos + 1 + len {
                break;
            }
            if len > 0 {
                let text = String::from_utf8_lossy(&body[pos + 1..pos + 1 + len])
                    .trim_end_matches('\0')
                    .to_string();
                let found = text.contains(want);
                titles.push(text);
                if found {
                    return titles;
                }
            }
            pos += 1 + len;
            audio_left = metaint;
        }
    }
    panic!("no StreamTitle with {want:?} within {within:?}: saw {titles:?}");
}

#[test]
fn the_library_covers_silence_and_sources_take_over_on_one_listener_connection() {
    let tmp = tempdir();
    let mut node = start(tmp.path());
    let ready = Instant::now();
    let mut listener = Listener::new(&format!("{}/live.mp3", node.base_url()));

    // Silent line-in: the fallback plays the episode.
    listener.wait_tone(660.0, Duration::from_secs(FALLBACK_AFTER + 3));
    eprintln!(
        "660 Hz heard {:?} after the node was ready",
        ready.elapsed()
    );
    let np = now_playing(&node);
    assert_eq!(np["on_air"], "fallback", "{np}");
    assert_eq!(np["title"], "Tone Episode", "{np}");
    assert_eq!(np["artist"], "Radio Test", "{np}");
    assert_eq!(np["item"], "tone.mp3", "{np}");
    // Automation is not "live" for podcast apps: no liveItem in the feed.
    assert!(!live_in_feed(&node), "a liveItem while the fallback plays");
    let start_of_tone = listener.heard();

    // ffmpeg as a studio PC (PUT): on air within 3 s, same connection.
    let mut studio = ffmpeg_source(&node, 1000, PASSWORD, false);
    let took = listener.wait_tone(1000.0, Duration::from_secs(3));
    eprintln!("the source was heard {took:?} after ffmpeg started");
    let np = now_playing(&node);
    assert_eq!(np["on_air"], "source", "{np}");
    assert_eq!(np["title"], "Studio PC", "the source's ice-name: {np}");
    assert!(live_in_feed(&node), "no liveItem while a studio is on air");

    // A second source on the busy mount gets Icecast's answer; a wrong password 401.
    assert!(source_status(&node, "PUT", PASSWORD).contains(" 403 "));
    assert!(source_status(&node, "SOURCE", "wrong").contains(" 401 "));

    // The studio's metadata: in now playing and in the ICY titles of /live.mp3.
    let meta = node.request(
        "GET",
        "/admin/metadata?mode=updinfo&mount=/live&song=Nina%20Simone%20-%20Feeling%20Good",
        &[("Authorization", &basic("source", PASSWORD))],
    );
    let meta = meta.unwrap();
    assert_eq!(meta.status, 200, "{}", meta.text());
    assert!(
        meta.text().contains("<return>1</return>"),
        "{}",
        meta.text()
    );
    let np = now_playing(&node);
    assert_eq!(np["title"], "Feeling Good", "{np}");
    assert_eq!(np["artist"], "Nina Simone", "{np}");
    let titles = icy_titles_until(&node, "Feeling Good", Duration::from_secs(10));
    assert_eq!(
        titles.last().map(String::as_str),
        Some("StreamTitle='Nina Simone - Feeling Good';")
    );
    let wrong = node
        .request(
            "GET",
            "/admin/metadata?mode=updinfo&song=x",
            &[("Authorization", &basic("source", "nope"))],
        )
        .unwrap();
    assert_eq!(wrong.status, 401);

    // The studio stops: the fallback again, on the same connection.
    let before_stop = listener.heard();
    studio.kill().unwrap();
    studio.wait().unwrap();
    let took = listener.wait_tone(660.0, Duration::from_secs(3));
    eprintln!("the fallback was back {took:?} after the source stopped");
    let np = now_playing(&node);
    assert_eq!(np["on_air"], "fallback", "{np}");
    assert!(!live_in_feed(&node), "the liveItem stayed after the show");

    // What played when, for rights societies: the fallback's track, the studio by its
    // name and then by the song it sent, each with its source.
    let mut op = Operator::new(&node);
    op.setup("Radio Test");
    let csv = op.get("/admin/plays.csv");
    assert_eq!(csv.status, 200);
    let csv = csv.text();
    let rows: Vec<&str> = csv.lines().collect();
    assert_eq!(
        rows[0], "start,end,title,artist,source,peak_listeners",
        "{csv}"
    );
    for want in [
        ",Tone Episode,Radio Test,fallback,",
        ",Studio PC,,source,",
        ",Feeling Good,Nina Simone,source,",
    ] {
        assert!(
            rows.iter().any(|r| r.contains(want)),
            "no {want:?} in {csv}"
        );
    }
    // The listener was counted while the studio's song played.
    assert!(
        rows.iter()
            .any(|r| r.contains(",Feeling Good,") && !r.ends_with(",0")),
        "{csv}"
    );

    // No switch left a gap a listener hears (each span holds one switch).
    listener.assert_no_gap(&[
        ("fallback -> source", start_of_tone),
        ("source -> fallback", before_stop),
    ]);
    let h = node.health().unwrap();
    assert_eq!(
        h["live"]["listeners"], 1,
        "the one listener never reconnected: {h}"
    );
    node.assert_alive();
}

#[test]
fn liquidsoap_ezstream_and_ffmpeg_with_the_legacy_method_are_taken_as_sources() {
    let tmp = tempdir();
    let mut node = start(tmp.path());
    let mut listener = Listener::new(&format!("{}/live.mp3", node.base_url()));
    listener.wait_tone(660.0, Duration::from_secs(FALLBACK_AFTER + 3));

    // ffmpeg with SOURCE (the method of Icecast 1 and of many older clients).
    let mut legacy = ffmpeg_source(&node, 1000, PASSWORD, true);
    listener.wait_tone(1000.0, Duration::from_secs(3));
    legacy.kill().unwrap();
    legacy.wait().unwrap();
    listener.wait_tone(660.0, Duration::from_secs(3));

    // curl piping an encoder into `-T -`: a body of unknown length goes chunked over
    // HTTP/1.1 (with `Expect: 100-continue`).
    let mut encoder = Command::new("ffmpeg")
        .args(["-v", "error", "-nostdin", "-re", "-f", "lavfi", "-i"])
        .arg("sine=frequency=1100")
        .args(["-c:a", "libmp3lame", "-b:a", "128k", "-f", "mp3", "-"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("run ffmpeg");
    let mut curl = Command::new("curl")
        .args(["-sS", "-T", "-", "-H", "Content-Type: audio/mpeg", "-u"])
        .arg(format!("source:{PASSWORD}"))
        .arg(format!("{}/live", node.base_url()))
        .stdin(encoder.stdout.take().unwrap())
        .stdout(Stdio::null())
        .spawn()
        .expect("run curl");
    listener.wait_tone(1100.0, Duration::from_secs(5));
    for p in [&mut encoder, &mut curl] {
        p.kill().unwrap();
        p.wait().unwrap();
    }
    listener.wait_tone(660.0, Duration::from_secs(3));

    // Debian's Liquidsoap, output.icecast in MP3 with its own name for the stream.
    let script = tmp.path().join("studio.liq");
    std::fs::write(
        &script,
        format!(
            "settings.init.allow_root.set(true)\n\
             settings.log.stdout.set(true)\n\
             settings.log.file.set(false)\n\
             output.icecast(%mp3(bitrate=128), host=\"127.0.0.1\", port={}, \
             password=\"{PASSWORD}\", mount=\"/live\", name=\"Liquidsoap Studio\", sine(880.))\n",
            node.http.port()
        ),
    )
    .unwrap();
    let log = std::fs::File::create(tmp.path().join("liquidsoap.log")).unwrap();
    let mut liq = Command::new("liquidsoap")
        .arg(&script)
        .stdout(log.try_clone().unwrap())
        .stderr(log)
        .spawn()
        .expect("run liquidsoap (apt-get install liquidsoap)");
    listener.wait_tone(880.0, Duration::from_secs(10));
    let np = now_playing(&node);
    assert_eq!(np["on_air"], "source", "{np}");
    assert_eq!(np["title"], "Liquidsoap Studio", "{np}");
    liq.kill().unwrap();
    liq.wait().unwrap();
    listener.wait_tone(660.0, Duration::from_secs(3));

    // Debian's ezstream, sending an Ogg Vorbis file as it is. Its libshout (as BUTT's and
    // Mixxx's) first asks `OPTIONS *` offering TLS, then knocks without a password, then
    // sends PUT with it. The file is two songs chained (one Ogg stream after the other, as
    // a studio PC's Ogg encoder starts a new one for each song, with its title in it).
    make_tone_mp3(&tmp.path().join("first.ogg"), 1200, "Ez Tone", "Studio", 6);
    make_tone_mp3(
        &tmp.path().join("second.ogg"),
        1500,
        "Next Song",
        "Studio",
        30,
    );
    let chained = [
        std::fs::read(tmp.path().join("first.ogg")).unwrap(),
        std::fs::read(tmp.path().join("second.ogg")).unwrap(),
    ]
    .concat();
    std::fs::write(tmp.path().join("studio.ogg"), chained).unwrap();
    let xml = tmp.path().join("ezstream.xml");
    std::fs::write(
        &xml,
        format!(
            "<ezstream><servers><server><protocol>HTTP</protocol><hostname>127.0.0.1</hostname>\
             <port>{}</port><user>source</user><password>{PASSWORD}</password></server>\
             </servers><streams><stream><mountpoint>/live</mountpoint><format>Ogg</format>\
             <stream_name>ezstream Studio</stream_name></stream></streams><intakes><intake>\
             <type>file</type><filename>{}</filename><stream_once>Yes</stream_once></intake>\
             </intakes></ezstream>\n",
            node.http.port(),
            tmp.path().join("studio.ogg").display()
        ),
    )
    .unwrap();
    // ezstream refuses a configuration (it holds a password) that others may read.
    std::fs::set_permissions(&xml, std::os::unix::fs::PermissionsExt::from_mode(0o600)).unwrap();
    let log = std::fs::File::create(tmp.path().join("ezstream.log")).unwrap();
    let mut ez = Command::new("ezstream")
        .arg("-c")
        .arg(&xml)
        .stdout(log.try_clone().unwrap())
        .stderr(log)
        .spawn()
        .expect("run ezstream (apt-get install ezstream)");
    listener.wait_tone(1200.0, Duration::from_secs(10));
    let np = now_playing(&node);
    assert_eq!(np["on_air"], "source", "{np}");
    assert_eq!(
        np["title"], "Ez Tone",
        "the song's title from its Vorbis comments: {np}"
    );
    listener.wait_tone(1500.0, Duration::from_secs(10));
    let np = now_playing(&node);
    assert_eq!(
        np["on_air"], "source",
        "the next song keeps the source on air: {np}"
    );
    assert_eq!(np["title"], "Next Song", "{np}");
    ez.kill().unwrap();
    ez.wait().unwrap();
    listener.wait_tone(660.0, Duration::from_secs(FALLBACK_AFTER + 3));

    // The operator changes the studio password on the config page: the old one is refused
    // from then on, the new one taken, and the stream never stopped for it.
    let mut op = Operator::new(&node);
    op.setup("Radio Test");
    let silence = format!("file:{}", tmp.path().join("silence.wav").display());
    let library = tmp.path().join("library").display().to_string();
    let r = op.save_settings(
        &silence,
        &library,
        &[
            ("station_name", "Radio Test"),
            ("source_password", "new-studio-secret"),
            ("fallback_folder", ""),
        ],
    );
    assert_eq!(r.status, 303, "{}", r.text());
    assert!(op
        .get("/admin/sound")
        .text()
        .contains("value=\"new-studio-secret\""));
    assert!(source_status(&node, "PUT", PASSWORD).contains(" 401 "));
    assert!(source_status(&node, "PUT", "new-studio-secret").contains(" 200 "));
    listener.wait_tone(660.0, Duration::from_secs(3));
    node.assert_alive();
}

#[test]
fn a_station_on_automation_alone_plays_its_library_and_takes_studio_pcs() {
    let tmp = tempdir();
    let tables = format!(
        "\n[live]\nfallback = true\nfallback_after_secs = {FALLBACK_AFTER}\n\
         source_password = \"{PASSWORD}\"\nrecord = false\n"
    );
    let mut node = start_live_node(tmp.path(), "none", &tables, |lib| {
        make_tone_mp3(&lib.join("tone.mp3"), 660, "Tone Episode", "Radio Test", 30)
    });
    // No audio input at all: the library is on air from the start.
    node.wait_live_state("on_air", Duration::from_secs(5));
    let mut listener = Listener::new(&format!("{}/live.mp3", node.base_url()));
    let took = listener.wait_tone(660.0, Duration::from_secs(5));
    eprintln!("automation heard {took:?} after the listener connected");
    let np = now_playing(&node);
    assert_eq!(np["on_air"], "fallback", "{np}");
    assert_eq!(np["title"], "Tone Episode", "{np}");

    // A studio PC still goes on air, and the library covers again when it stops.
    let mut studio = ffmpeg_source(&node, 1000, PASSWORD, false);
    listener.wait_tone(1000.0, Duration::from_secs(3));
    studio.kill().unwrap();
    studio.wait().unwrap();
    listener.wait_tone(660.0, Duration::from_secs(FALLBACK_AFTER + 3));
    assert_eq!(now_playing(&node)["on_air"], "fallback");
    node.assert_alive();
}

#[test]
fn a_playlist_slot_of_the_schedule_puts_the_chosen_music_on_air_over_the_line_in() {
    let tmp = tempdir();
    let tables = "\n[live]\nfallback = true\nrecord = false\n";
    // The line-in has a 440 Hz tone all along: only the schedule takes it off air.
    let mut node = start_live_node(tmp.path(), "sine", tables, |lib| {
        make_tone_mp3(&lib.join("tone.mp3"), 660, "Tone Episode", "Radio Test", 30);
        make_tone_mp3(
            &lib.join("chosen.mp3"),
            880,
            "Chosen Song",
            "Radio Test",
            30,
        );
    });
    let mut listener = Listener::new(&format!("{}/live.mp3", node.base_url()));
    listener.wait_tone(440.0, Duration::from_secs(5));
    assert_eq!(now_playing(&node)["on_air"], "line_in");

    // The operator ticks one track for the music between shows.
    let mut op = Operator::new(&node);
    op.setup("Radio Test");
    let page = op.get("/admin/schedule").text();
    let chosen = page
        .split("name=\"track\" value=\"")
        .skip(1)
        .filter_map(|rest| rest.split('"').next())
        .find(|name| name.ends_with("chosen.mp3"))
        .expect("the page lists the library's tracks")
        .to_string();
    let csrf = op.csrf();
    let r = op.post(
        "/admin/music",
        &[("csrf", csrf.as_str()), ("track", &chosen)],
    );
    assert_eq!(r.status, 303, "{}", short(&r.text()));
    let page = op.get("/admin/schedule").text();
    assert!(
        page.contains(&format!("value=\"{chosen}\" checked")),
        "the page does not show the track ticked"
    );

    // The operator makes the whole week a "music from the library" slot on the page.
    let before_slot = listener.heard();
    let save = |op: &mut Operator, kind: &str| {
        let csrf = op.csrf();
        let days: Vec<String> = (0..7).map(|d| d.to_string()).collect();
        let mut form = vec![("csrf", csrf.as_str())];
        for day in &days {
            form.extend([
                ("name", "Night Music"),
                ("day", day.as_str()),
                ("start", "00:00"),
                ("end", "24:00"),
                ("kind", kind),
            ]);
        }
        let r = op.post("/admin/schedule", &form);
        assert_eq!(r.status, 303, "{}", short(&r.text()));
    };
    save(&mut op, "playlist");
    let page = op.get("/admin/schedule").text();
    assert!(
        page.contains("<option value=\"playlist\" selected>Music from the library</option>"),
        "the page does not show the slot's kind"
    );
    // The fallback had its first track ready before the list was saved: if that was not
    // the chosen one, it ends within the queue and the crossfade.
    let took = listener.wait_tone(880.0, Duration::from_secs(6));
    eprintln!("the playlist slot's chosen track was on air {took:?} after it was saved");
    let np = now_playing(&node);
    assert_eq!(np["on_air"], "fallback", "{np}");
    assert_eq!(np["show"], "Night Music", "{np}");
    assert_eq!(np["title"], "Chosen Song", "{np}");

    // Back to a live show: the line-in returns after its hold, on the same connection.
    let before_live = listener.heard();
    save(&mut op, "live");
    listener.wait_tone(440.0, Duration::from_secs(5));
    // The tone is heard from the start of the crossfade; the switch names the line-in once
    // the crossfade is over (a moment later on a loaded machine).
    let started = Instant::now();
    while now_playing(&node)["on_air"] != "line_in" {
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "the line-in is heard but not named on air: {}",
            now_playing(&node)
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    listener.assert_no_gap(&[
        ("line-in -> fallback", before_slot),
        ("fallback -> line-in", before_live),
    ]);
    let h = node.health().unwrap();
    assert_eq!(h["live"]["listeners"], 1, "the listener reconnected: {h}");
    node.assert_alive();
}

fn basic(user: &str, password: &str) -> String {
    use base64::Engine;
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"))
    )
}

/// Debian's icecast2 on 127.0.0.1:`port`, its files under `dir`, taking sources with
/// `password`. As root it must drop to an unprivileged user (its own rule).
struct Icecast {
    child: Child,
    dir: std::path::PathBuf,
}

impl Icecast {
    fn start(dir: &Path, port: u16, password: &str) -> Self {
        std::fs::create_dir_all(dir.join("log")).unwrap();
        let as_root = nix_uid_is_root();
        if as_root {
            Command::new("chmod")
                .args(["-R", "a+rwx"])
                .arg(dir)
                .status()
                .unwrap();
        }
        let security = if as_root {
            "<security><chroot>0</chroot><changeowner><user>nobody</user>\
             <group>nogroup</group></changeowner></security>"
        } else {
            "<security><chroot>0</chroot></security>"
        };
        let config = format!(
            "<icecast><location>test</location><admin>test@localhost</admin>\
             <limits><sources>8</sources><source-timeout>10</source-timeout></limits>\
             <authentication><source-password>{password}</source-password>\
             <admin-user>admin</admin-user><admin-password>{password}-admin</admin-password>\
             </authentication><hostname>127.0.0.1</hostname>\
             <listen-socket><port>{port}</port><bind-address>127.0.0.1</bind-address>\
             </listen-socket><fileserve>1</fileserve><paths><basedir>/usr/share/icecast2</basedir>\
             <logdir>{log}</logdir><webroot>/usr/share/icecast2/web</webroot>\
             <adminroot>/usr/share/icecast2/admin</adminroot></paths>\
             <logging><accesslog>access.log</accesslog><errorlog>error.log</errorlog>\
             <loglevel>3</loglevel></logging>{security}</icecast>",
            log = dir.join("log").display()
        );
        let path = dir.join("icecast.xml");
        std::fs::write(&path, config).unwrap();
        let child = Command::new("icecast2")
            .arg("-c")
            .arg(&path)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("run icecast2 (apt-get install icecast2)");
        let started = Instant::now();
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                started.elapsed() < Duration::from_secs(10),
                "icecast2 did not start"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        Self {
            child,
            dir: dir.to_path_buf(),
        }
    }

    fn stop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    fn error_log(&self) -> String {
        std::fs::read_to_string(self.dir.join("log/error.log")).unwrap_or_default()
    }
}

impl Drop for Icecast {
    fn drop(&mut self) {
        self.stop();
    }
}

fn nix_uid_is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false)
}

/// What ffprobe reads of `url`: its codec, after decoding 2 s of it.
fn probe_codec(url: &str) -> Option<String> {
    let out = Command::new("ffprobe")
        .args([
            "-v",
            "error",
            "-rw_timeout",
            "5000000",
            "-show_entries",
            "stream=codec_name",
        ])
        .args(["-of", "csv=p=0", url])
        .output()
        .ok()?;
    let codec = String::from_utf8_lossy(&out.stdout).trim().to_string();
    (out.status.success() && !codec.is_empty()).then_some(codec)
}

#[test]
fn the_programme_is_pushed_to_icecast2_in_mp3_and_ogg_and_reconnects() {
    let tmp = tempdir();
    let port = free_tcp_port();
    let mut icecast = Icecast::start(&tmp.path().join("icecast"), port, "push-secret");
    let tables = format!(
        "\n[station]\nname = \"Radio Push\"\ngenre = \"Community\"\n\n[live]\nrecord = false\n\
         [[live.push]]\nurl = \"icecast://source:push-secret@127.0.0.1:{port}/radio.mp3\"\n\
         format = \"mp3\"\n"
    );
    let mut node = start_live_node(tmp.path(), "sine", &tables, any_file);
    node.wait_live_state("on_air", Duration::from_secs(10));

    // The operator adds the Ogg one on the config page, below the config file's MP3 one.
    let mut op = Operator::new(&node);
    op.setup("Radio Push");
    let mp3 = format!("icecast://source:push-secret@127.0.0.1:{port}/radio.mp3");
    assert!(
        op.get("/admin/technical").text().contains(&mp3),
        "the page lists the push"
    );
    let library = tmp.path().join("library").display().to_string();
    let save = |op: &mut Operator, pushes: &str| {
        op.save_settings(
            "sine",
            &library,
            &[("station_name", "Radio Push"), ("push", pushes)],
        )
    };
    let r = save(
        &mut op,
        &format!("{mp3}\nicecast://source:push-secret@127.0.0.1/radio.ogg oops"),
    );
    assert_eq!(r.status, 422, "a bad line is refused");
    let page = r.text();
    // The message names the line without its password; the field keeps what was typed.
    let said = page
        .split("class=\"error\" role=\"alert\">")
        .nth(1)
        .and_then(|rest| rest.split("</p>").next())
        .unwrap_or_else(|| panic!("no message: {}", short(&page)));
    assert!(
        said.contains("is not a server address the box can use"),
        "{said}"
    );
    assert!(
        !said.contains("push-secret"),
        "its password is said: {said}"
    );
    assert!(
        page.contains("push-secret@127.0.0.1/radio.ogg oops</textarea>"),
        "the lines typed are not kept: {}",
        short(&page)
    );
    let ogg = format!("icecast://source:push-secret@127.0.0.1:{port}/radio.ogg");
    let r = save(&mut op, &format!("{mp3}\n{ogg}"));
    assert_eq!(r.status, 303, "{}", short(&r.text()));
    // (A poll of its own: the operator's session holds the node.)
    let sending = |n: &Node| {
        let started = Instant::now();
        loop {
            let h = n.health().unwrap_or_default();
            let pushes = h["live"]["pushes"].as_array().cloned().unwrap_or_default();
            if pushes.len() == 2 && pushes.iter().all(|p| p["state"] == "sending") {
                return;
            }
            assert!(
                started.elapsed() < Duration::from_secs(30),
                "both pushes not sending: {}",
                h["live"]["pushes"]
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    };
    sending(&node);
    let page = op.get("/admin").text();
    assert!(
        page.contains(&format!("icecast://127.0.0.1:{port}/radio.ogg: sending")),
        "the dashboard says where the stream goes"
    );
    let base = format!("http://127.0.0.1:{port}");
    // icecast2 serves both, and a listener there decodes the node's tone.
    assert_eq!(
        probe_codec(&format!("{base}/radio.mp3")).as_deref(),
        Some("mp3")
    );
    assert_eq!(
        probe_codec(&format!("{base}/radio.ogg")).as_deref(),
        Some("opus")
    );
    let heard = decode_audio(&format!("{base}/radio.mp3"), 2);
    let hz = tone_hz(&heard[heard.len() / 2..]);
    assert!((hz - 440.0).abs() < 10.0, "{hz} Hz from icecast2");
    // icecast2 lists them with the station's name and genre.
    let ice: Value = serde_json::from_slice(
        &Command::new("curl")
            .args(["-s", &format!("{base}/status-json.xsl")])
            .output()
            .unwrap()
            .stdout,
    )
    .expect("icecast2's status-json.xsl");
    let sources = ice["icestats"]["source"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert_eq!(sources.len(), 2, "{ice}");
    for s in &sources {
        assert_eq!(s["server_name"], "Radio Push", "{s}");
        assert_eq!(s["genre"], "Community", "{s}");
    }
    // The node's own status-json.xsl has the fields icecast2's sources have.
    let ours: Value = serde_json::from_slice(&node.get("/status-json.xsl").body).unwrap();
    let our_sources = ours["icestats"]["source"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert_eq!(our_sources.len(), 2, "{ours}");
    for key in [
        "listenurl",
        "listeners",
        "server_name",
        "server_type",
        "genre",
        "title",
    ] {
        assert!(
            sources[0].get(key).is_some(),
            "icecast2 has no {key}: {}",
            sources[0]
        );
        assert!(
            our_sources[0].get(key).is_some(),
            "ours has no {key}: {ours}"
        );
    }
    for key in ["host", "server_id", "server_start_iso8601"] {
        assert!(ice["icestats"].get(key).is_some() && ours["icestats"].get(key).is_some());
    }
    assert_eq!(our_sources[0]["server_name"], "Radio Push");
    assert!(our_sources[0]["listenurl"]
        .as_str()
        .is_some_and(|u| u.ends_with("/live.mp3")));

    // icecast2 restarts: the node finds it again by itself.
    icecast.stop();
    node.wait_until("a push noticed", Duration::from_secs(30), |n| {
        let h = n.health().map_err(|e| e.to_string())?;
        let failed = h["live"]["pushes"]
            .as_array()
            .is_some_and(|p| p.iter().any(|p| p["state"] == "failed"));
        failed.then_some(()).ok_or(h["live"]["pushes"].to_string())
    });
    let _icecast = Icecast::start(&tmp.path().join("icecast"), port, "push-secret");
    sending(&node);
    assert_eq!(
        probe_codec(&format!("{base}/radio.mp3")).as_deref(),
        Some("mp3"),
        "{}",
        icecast.error_log()
    );
    assert_eq!(
        probe_codec(&format!("{base}/radio.ogg")).as_deref(),
        Some("opus")
    );
    node.assert_alive();
}

/// A `/live.mp3` listener from `from` whose player has stopped reading: a small receive
/// buffer, never read, so the node's queue for it grows as it does behind a full uplink.
fn stuck_listener(from: &str, node: &Node) -> TcpStream {
    use nix::sys::socket::{
        bind, connect, setsockopt, socket, sockopt::RcvBuf, AddressFamily, SockFlag, SockType,
        SockaddrStorage,
    };
    use std::os::fd::AsRawFd;
    let from: std::net::IpAddr = from.parse().unwrap();
    let fd = socket(
        AddressFamily::Inet,
        SockType::Stream,
        SockFlag::SOCK_CLOEXEC,
        None,
    )
    .unwrap();
    // Before connecting, so the window it offers stays small.
    setsockopt(&fd, RcvBuf, &4096).unwrap();
    bind(
        fd.as_raw_fd(),
        &SockaddrStorage::from(std::net::SocketAddr::new(from, 0)),
    )
    .unwrap();
    connect(fd.as_raw_fd(), &SockaddrStorage::from(node.http)).unwrap();
    let mut s = TcpStream::from(fd);
    s.write_all(b"GET /live.mp3 HTTP/1.1\r\nHost: radio\r\n\r\n")
        .unwrap();
    s
}

/// `curl`'s view of a new `/live.mp3` listener: the status and where it is sent, without
/// following it.
fn first_answer(node: &Node) -> (String, String) {
    let out = Command::new("curl")
        .args(["-s", "-o", "/dev/null", "-m", "3"])
        .args(["-w", "%{http_code} %{redirect_url}"])
        .arg(format!("{}/live.mp3", node.base_url()))
        .output()
        .unwrap();
    let said = String::from_utf8_lossy(&out.stdout).to_string();
    let (code, to) = said.split_once(' ').unwrap_or((&said, ""));
    (code.to_string(), to.trim().to_string())
}

#[test]
fn a_full_uplink_sends_new_plain_stream_listeners_to_the_icecast_relay() {
    let tmp = tempdir();
    let port = free_tcp_port();
    let _icecast = Icecast::start(&tmp.path().join("icecast"), port, "push-secret");
    let tables = format!(
        "\n[station]\nname = \"Radio Full\"\n\n[live]\nrecord = false\n\
         [[live.push]]\nurl = \"icecast://source:push-secret@127.0.0.1:{port}/radio.mp3\"\n"
    );
    let mut node = start_live_node(tmp.path(), "sine", &tables, any_file);
    node.wait_live_state("on_air", Duration::from_secs(10));
    node.wait_until("the push on air", Duration::from_secs(30), |n| {
        let h = n.health().map_err(|e| e.to_string())?;
        (h["live"]["pushes"][0]["state"] == "sending")
            .then_some(())
            .ok_or(h["live"]["pushes"].to_string())
    });
    // Room on the uplink: a new listener is served here.
    assert_eq!(first_answer(&node).0, "200");

    // Two listeners whose paths take nothing: half of the plain-stream listeners (all of
    // them) lag together, which is what a full uplink looks like from the box.
    let stuck = [
        stuck_listener("127.0.0.2", &node),
        stuck_listener("127.0.0.3", &node),
    ];
    let full = node.wait_until("the uplink seen full", Duration::from_secs(60), |n| {
        let h = n.health().map_err(|e| e.to_string())?;
        (h["live"]["overflow"]["full"] == true)
            .then_some(h.clone())
            .ok_or(h["live"]["overflow"].to_string())
    });
    // Nobody already listening was let go to make room.
    assert_eq!(full["live"]["listeners"], 2, "{}", full["live"]);

    // A new listener is sent to the relay, and hears the programme there.
    let relay = format!("http://127.0.0.1:{port}/radio.mp3");
    let (code, to) = first_answer(&node);
    assert_eq!((code.as_str(), to.as_str()), ("302", relay.as_str()));
    assert_eq!(probe_codec(&to).as_deref(), Some("mp3"));
    let heard = decode_audio(&to, 2);
    let hz = tone_hz(&heard[heard.len() / 2..]);
    assert!((hz - 440.0).abs() < 10.0, "{hz} Hz from the relay");
    let h = node.health().unwrap();
    let overflow = &h["live"]["overflow"];
    assert!(overflow["redirected"].as_u64() >= Some(1), "{overflow}");
    assert_eq!(
        overflow["to"],
        format!("icecast://127.0.0.1:{port}/radio.mp3"),
        "{overflow}"
    );

    // The operator is told, in plain words.
    let mut op = Operator::new(&node);
    op.setup("Radio Full");
    let page = op.get("/admin").text();
    assert!(
        page.contains("internet connection is full")
            && page.contains(&format!("icecast://127.0.0.1:{port}/radio.mp3")),
        "no warning on the dashboard: {}",
        short(&page)
    );

    // The stuck listeners leave: once the uplink has been calm a while, the box takes new
    // listeners itself again.
    drop(stuck);
    node.wait_until("room again", Duration::from_secs(90), |n| {
        let h = n.health().map_err(|e| e.to_string())?;
        (h["live"]["overflow"]["full"] == false)
            .then_some(())
            .ok_or(h["live"]["overflow"].to_string())
    });
    assert_eq!(first_answer(&node).0, "200");
    node.assert_alive();
}
