//! The station's state as every front end sees it: a name saved on the config page reaches
//! the live streams, the listen page, the feed and the signed catalog without a restart;
//! listeners are counted the same way by `/api/health`, `/metrics` and the dashboard,
//! broken down by how they listen, and stop counting once they leave.

mod common;

use std::{
    io::{BufRead, BufReader, Write},
    net::TcpStream,
    process::{Child, Command, Stdio},
    time::Duration,
};

use common::*;

/// The response head of a live stream, read from a raw connection (the body never ends).
fn stream_head(node: &Node, path: &str) -> String {
    let mut conn = TcpStream::connect(node.http).unwrap();
    conn.set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    write!(conn, "GET {path} HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
    let mut reader = BufReader::new(conn);
    let mut head = String::new();
    while !head.ends_with("\r\n\r\n") {
        if reader.read_line(&mut head).unwrap() == 0 {
            break;
        }
    }
    head
}

fn live_node(tmp: &std::path::Path, name: &str) -> Node {
    let station = format!("\n[station]\nname = \"{name}\"\n");
    let mut node = start_live_node(tmp, "sine", &station, any_file);
    node.wait_live_state("on_air", Duration::from_secs(10));
    node
}

#[test]
fn a_renamed_station_is_named_so_everywhere_at_once() {
    let tmp = tempdir();
    let mut node = live_node(tmp.path(), "Radio Before");
    let pid = node.pid();
    let mut op = Operator::new(&node);
    op.setup("Radio Before");
    assert!(stream_head(&node, "/live.ogg").contains("icy-name: Radio Before"));

    let library = tmp.path().join("library").display().to_string();
    // The same input, bitrate and library as running: nothing here needs a restart.
    let r = op.save_settings(
        "sine",
        &library,
        &[
            ("station_name", "Radio Vallekas"),
            ("station_description", "Desde el barrio"),
        ],
    );
    assert_eq!(r.status, 303, "{}", short(&r.text()));
    assert!(
        r.header("location").is_some_and(|l| l.contains("saved")),
        "a rename needs no restart: {:?}",
        r.header("location")
    );

    for path in ["/live.ogg", "/live.mp3"] {
        let head = stream_head(&node, path);
        assert!(head.contains("icy-name: Radio Vallekas"), "{path}: {head}");
        assert!(
            head.contains("icy-description: Desde el barrio"),
            "{path}: {head}"
        );
    }
    // The Ogg stream's own tags (what players show) name it too.
    let probe = Command::new("ffprobe")
        .args(["-v", "error", "-show_entries", "stream_tags", "-of", "json"])
        .arg(format!("{}/live.ogg", node.base_url()))
        .output()
        .expect("run ffprobe");
    let info: serde_json::Value = serde_json::from_slice(&probe.stdout).expect("ffprobe JSON");
    let title = info["streams"][0]["tags"]
        .as_object()
        .and_then(|t| t.iter().find(|(k, _)| k.eq_ignore_ascii_case("title")))
        .map(|(_, v)| v.clone());
    assert_eq!(title, Some("Radio Vallekas".into()), "{info}");
    let page = node.get("/").text();
    assert!(
        page.contains("<title>Radio Vallekas</title>"),
        "{}",
        short(&page)
    );
    let feed = node.get("/feed.xml").text();
    assert!(
        feed.contains("<title>Radio Vallekas</title>"),
        "{}",
        short(&feed)
    );
    let signed = node.get("/api/catalog").json();
    let catalog: serde_json::Value =
        serde_json::from_str(signed["catalog"].as_str().unwrap_or("")).unwrap();
    assert_eq!(catalog["station"], "Radio Vallekas", "{catalog}");
    // The config page's share section lists the links under the new name.
    let dash = op.get("/admin").text();
    assert!(dash.contains("Radio Vallekas"), "{}", short(&dash));
    // And all of it without a restart: the same process, never stopped.
    assert_eq!(node.pid(), pid);
    node.assert_alive();
}

/// A child process killed when dropped.
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn spawn(cmd: &mut Command) -> Running {
    Running(
        cmd.stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn a player"),
    )
}

/// Polls `check` every 200 ms until it gives a value, failing after `timeout`.
fn poll<T>(what: &str, timeout: Duration, mut check: impl FnMut() -> Result<T, String>) -> T {
    let until = std::time::Instant::now() + timeout;
    loop {
        match check() {
            Ok(v) => return v,
            Err(last) if std::time::Instant::now() > until => {
                panic!("{what}: not within {timeout:?}; last: {last}")
            }
            Err(_) => std::thread::sleep(Duration::from_millis(200)),
        }
    }
}

#[test]
fn listeners_are_counted_by_way_of_listening() {
    let tmp = tempdir();
    let mut node = live_node(tmp.path(), "Radio Count");
    node.wait_until("HLS segments", Duration::from_secs(20), |n| {
        let r = n.get("/live/opus.m3u8");
        (r.status == 200 && r.text().matches("#EXTINF").count() >= 2)
            .then_some(())
            .ok_or(r.text())
    });
    let mut op = Operator::new(&node);
    op.setup("Radio Count");
    let base = node.base_url();
    let players = vec![
        spawn(
            Command::new("ffmpeg")
                .args(["-v", "error", "-nostdin", "-i"])
                .arg(format!("{base}/live/index.m3u8"))
                .args(["-f", "null", "-"]),
        ),
        spawn(
            Command::new("curl")
                .args(["-s", "-o", "/dev/null"])
                .arg(format!("{base}/live.mp3")),
        ),
        spawn(
            Command::new("curl")
                .args(["-s", "-o", "/dev/null"])
                .arg(format!("{base}/live.ogg")),
        ),
    ];
    let l = poll("three listeners", Duration::from_secs(20), || {
        let h = node.health().map_err(|e| e.to_string())?;
        let l = h["listeners"].clone();
        (num(&l, "/total") == Some(3))
            .then_some(l)
            .ok_or(h.to_string())
    });
    assert_eq!(num(&l, "/ogg"), Some(1), "{l}");
    assert_eq!(num(&l, "/mp3"), Some(1), "{l}");
    assert_eq!(
        num(&l, "/hls"),
        Some(1),
        "one ffmpeg is one HLS session: {l}"
    );
    assert_eq!(num(&l, "/relays"), Some(0), "{l}");
    assert_eq!(num(&l, "/sharing"), Some(0), "ffmpeg does not share: {l}");
    // The dashboard counts the same, in its status and on the page itself.
    let st = op.get("/admin/status").json();
    assert_eq!(st["listeners"], l, "{st}");
    let page = op.get("/admin").text();
    assert!(
        page.contains("<dd id=\"listeners\">3</dd>"),
        "{}",
        short(&page)
    );
    let metrics = node.get("/metrics").text();
    for line in [
        "streamp2p_live_listeners 3",
        "streamp2p_listeners{way=\"hls\"} 1",
        "streamp2p_listeners{way=\"ogg\"} 1",
        "streamp2p_listeners{way=\"mp3\"} 1",
    ] {
        assert!(metrics.lines().any(|m| m == line), "{line} in\n{metrics}");
    }

    drop(players);
    poll("nobody left after 15 s", Duration::from_secs(15), || {
        let h = node.health().map_err(|e| e.to_string())?;
        (num(&h, "/listeners/total") == Some(0))
            .then_some(())
            .ok_or(h["listeners"].to_string())
    });
}

/// The home screen tells the operator how many more listeners fit, from what the box really
/// sent (its interfaces' counters; here loopback, where this test's downloads go, shared
/// with whatever else runs on the machine, so only lower bounds are checked).
#[test]
fn the_home_screen_says_how_many_more_listeners_fit() {
    const BIG: u64 = 20 << 20;
    let tmp = tempdir();
    // Right after BASE_CONFIG's [swarm] table.
    let tables = "uplink_interfaces = [\"lo\"]\n[station]\nname = \"Radio Room\"\n";
    let mut node = start_live_node(tmp.path(), "sine", tables, |lib| {
        write_random(&lib.join("long show.mp3"), BIG)
    });
    node.wait_live_state("on_air", Duration::from_secs(10));
    let mut op = Operator::new(&node);
    op.setup("Radio Room");
    let file = path_of(
        node.item("long show.mp3")["web_seed"]
            .as_str()
            .expect("web seed"),
    );
    let got = node.get(&file);
    assert_eq!(got.body.len() as u64, BIG, "the whole file");
    // 20 MiB within one or two of the meter's 5 s samples: at least 2 MB/s in one of them.
    let peak = poll(
        "the meter saw the download",
        Duration::from_secs(15),
        || {
            let h = node.health().map_err(|e| e.to_string())?;
            let peak = num(&h, "/uplink/minute_peak").ok_or(h.to_string())?;
            (peak >= 2_000_000)
                .then_some(peak)
                .ok_or(h["uplink"].to_string())
        },
    );
    // Once the rate now is back below the peak, the room is counted in full streams.
    let room = poll("room for listeners", Duration::from_secs(20), || {
        let st = op.get("/admin/status").json();
        let room = st["words"]["room"].as_str().unwrap_or_default().to_string();
        let more: u64 = room
            .strip_prefix("About ")
            .and_then(|r| r.split(' ').next())
            .map(|n| n.replace(',', ""))
            .and_then(|n| n.parse().ok())
            .ok_or(format!("not a count of listeners: {room:?}"))?;
        (more >= 20)
            .then_some(room.clone())
            .ok_or(format!("{room} after a {peak} B/s peak"))
    });
    assert!(room.contains("more listeners."), "{room}");
    assert!(
        room.contains("the fastest it has sent in two days is"),
        "{room}"
    );
    // The page itself says it, in its words.
    let page = op.get("/admin").text();
    assert!(page.contains("<dd id=\"room\">"), "{}", short(&page));
    assert!(page.contains("Room for more listeners"), "{}", short(&page));
    node.assert_alive();
}
