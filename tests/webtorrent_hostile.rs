//! Hostile WebRTC peers against the node's WebTorrent seeder, speaking raw bytes.
//!
//! The test is its own WebRTC offerer (webrtc-rs, like the node), signalled through the
//! node's WebSocket tracker. Over the data channel it sends what a broken or hostile peer
//! would: a wrong protocol string, a handshake for another torrent, an oversized length
//! prefix, a request past the end of the file, a flood of requests while never reading.
//! Each such peer must be dropped, the node must stay up, and a well-behaved peer must then
//! get the metadata (BEP 9) and correct blocks.

mod common;

use bytes::BytesMut;
use common::*;
use serde_json::json;
use std::{sync::Arc, time::Duration};
use tokio::sync::mpsc;
use webrtc::{
    data_channel::{DataChannel, DataChannelEvent},
    peer_connection::{
        PeerConnection, PeerConnectionBuilder, PeerConnectionEventHandler, RTCConfigurationBuilder,
        RTCIceGatheringState, RTCSessionDescription, SettingEngineBuilder,
    },
};

const SIZE: u64 = 3 * MIB;
const BLOCK: u32 = 16 * 1024;

struct Gathered(mpsc::UnboundedSender<()>);

#[async_trait::async_trait]
impl PeerConnectionEventHandler for Gathered {
    async fn on_ice_gathering_state_change(&self, s: RTCIceGatheringState) {
        if s == RTCIceGatheringState::Complete {
            let _ = self.0.send(());
        }
    }
}

/// A WebRTC connection to the node's seeder for `ih`, as peer `peer_id`.
struct Peer {
    _pc: Box<dyn std::any::Any + Send>,
    dc: Arc<dyn DataChannel>,
    buf: Vec<u8>,
}

async fn connect(node_http: std::net::SocketAddr, ih: [u8; 20], peer_id: &'static str) -> Peer {
    let (tx, mut gathered) = mpsc::unbounded_channel();
    let pc = PeerConnectionBuilder::new()
        .with_configuration(RTCConfigurationBuilder::new().build())
        .with_setting_engine(
            SettingEngineBuilder::new()
                .with_include_loopback_candidate(true)
                .build(),
        )
        .with_handler(Arc::new(Gathered(tx)))
        .with_udp_addrs(vec!["127.0.0.1:0".to_string()])
        .build()
        .await
        .expect("build a peer connection");
    let dc = pc
        .create_data_channel("webtorrent", None)
        .await
        .expect("data channel");
    let offer = pc.create_offer(None).await.expect("offer");
    pc.set_local_description(offer).await.expect("local offer");
    tokio::time::timeout(Duration::from_secs(10), gathered.recv())
        .await
        .expect("ICE gathering");
    let sdp = pc.local_description().await.expect("local description").sdp;

    // Signalling through the node's tracker, on a blocking thread (the helper is std).
    let answer = tokio::task::spawn_blocking(move || {
        let mut ws = WsClient::connect(node_http, "/announce").expect("tracker");
        ws.send_json(&json!({
            "action": "announce",
            "info_hash": binary_string(&ih),
            "peer_id": peer_id,
            "numwant": 1,
            "left": SIZE,
            "event": "started",
            "offers": [{ "offer": { "type": "offer", "sdp": sdp }, "offer_id": "hostile-offer-000001" }],
        }))
        .unwrap();
        for _ in 0..10 {
            let v = ws.recv_json(Duration::from_secs(15)).expect("tracker message");
            if let Some(a) = v.get("answer") {
                assert_eq!(v["offer_id"], "hostile-offer-000001", "{v}");
                return a["sdp"].as_str().expect("answer sdp").to_string();
            }
        }
        panic!("no answer from the node");
    })
    .await
    .unwrap();
    pc.set_remote_description(RTCSessionDescription::answer(answer).unwrap())
        .await
        .expect("remote answer");
    let open = async {
        while let Some(ev) = dc.poll().await {
            if matches!(ev, DataChannelEvent::OnOpen) {
                return;
            }
        }
        panic!("channel closed before it opened");
    };
    tokio::time::timeout(Duration::from_secs(20), open)
        .await
        .expect("data channel open");
    Peer {
        _pc: Box::new(pc),
        dc,
        buf: Vec::new(),
    }
}

fn handshake(ih: &[u8; 20], peer_id: &str) -> Vec<u8> {
    let mut b = vec![19];
    b.extend_from_slice(b"BitTorrent protocol");
    b.extend_from_slice(&[0, 0, 0, 0, 0, 0x10, 0, 0]);
    b.extend_from_slice(ih);
    b.extend_from_slice(peer_id.as_bytes());
    b
}

fn msg(id: u8, body: &[u8]) -> Vec<u8> {
    let mut b = (1 + body.len() as u32).to_be_bytes().to_vec();
    b.push(id);
    b.extend_from_slice(body);
    b
}

fn request(index: u32, begin: u32, length: u32) -> Vec<u8> {
    let mut body = Vec::new();
    for v in [index, begin, length] {
        body.extend_from_slice(&v.to_be_bytes());
    }
    msg(6, &body)
}

impl Peer {
    async fn send(&self, bytes: &[u8]) {
        // Split at odd points, as WebTorrent does.
        for part in bytes.chunks(7000) {
            self.dc.send(BytesMut::from(part)).await.expect("send");
        }
    }

    /// Reads until the channel closes; panics if it is still open after `secs`.
    async fn expect_closed(&mut self, secs: u64, what: &str) {
        let closed = async {
            loop {
                match self.dc.poll().await {
                    None | Some(DataChannelEvent::OnClose) => return,
                    _ => {}
                }
            }
        };
        tokio::time::timeout(Duration::from_secs(secs), closed)
            .await
            .unwrap_or_else(|_| panic!("the node kept the channel open after {what}"));
    }

    /// Reads until the next whole message after the handshake; returns (id, body).
    async fn next_message(&mut self) -> (Option<u8>, Vec<u8>) {
        loop {
            if self.buf.len() >= 4 {
                let len = u32::from_be_bytes(self.buf[..4].try_into().unwrap()) as usize;
                if self.buf.len() >= 4 + len {
                    let m: Vec<u8> = self.buf.drain(..4 + len).collect();
                    return (m.get(4).copied(), m.get(5..).unwrap_or_default().to_vec());
                }
            }
            let ev = tokio::time::timeout(Duration::from_secs(20), self.dc.poll())
                .await
                .expect("a message from the node");
            match ev {
                Some(DataChannelEvent::OnMessage(m)) => self.buf.extend_from_slice(&m.data),
                None | Some(DataChannelEvent::OnClose) => panic!("channel closed"),
                _ => {}
            }
        }
    }

    /// Reads the node's 68-byte handshake.
    async fn read_handshake(&mut self) -> Vec<u8> {
        while self.buf.len() < 68 {
            match tokio::time::timeout(Duration::from_secs(20), self.dc.poll())
                .await
                .expect("the node's handshake")
            {
                Some(DataChannelEvent::OnMessage(m)) => self.buf.extend_from_slice(&m.data),
                None | Some(DataChannelEvent::OnClose) => panic!("channel closed"),
                _ => {}
            }
        }
        self.buf.drain(..68).collect()
    }

    /// Reads messages until one with `id`.
    async fn until(&mut self, id: u8) -> Vec<u8> {
        loop {
            let (got, body) = self.next_message().await;
            if got == Some(id) {
                return body;
            }
        }
    }
}

fn seeding_node(root: &std::path::Path) -> (Node, Vec<u8>, [u8; 20]) {
    let lib = root.join("library");
    write_random(&lib.join("episode.mp3"), SIZE);
    let mut node = Node::start(root, std::slice::from_ref(&lib), BASE_CONFIG);
    node.wait_healthy(1);
    let hex_ih = node.item("episode.mp3")["infohash"]
        .as_str()
        .unwrap()
        .to_ascii_lowercase();
    let ih: [u8; 20] = infohash_bytes(&hex_ih).try_into().unwrap();
    node.wait_until(
        "the node's WebRTC peer announced",
        Duration::from_secs(30),
        |n| {
            let t = n.get("/api/tracker").json();
            let ok = t["torrents"].as_array().is_some_and(|ts| {
                ts.iter()
                    .any(|x| x["info_hash"] == hex_ih && x["ws"]["complete"].as_u64() >= Some(1))
            });
            if ok {
                Ok(())
            } else {
                Err(t.to_string())
            }
        },
    );
    let data = std::fs::read(lib.join("episode.mp3")).unwrap();
    (node, data, ih)
}

fn webtorrent_peers(node: &Node) -> u64 {
    node.health().unwrap()["webtorrent"]["peers"]
        .as_u64()
        .unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_peers_are_dropped_and_a_good_peer_is_served() {
    let dir = tempdir();
    let (mut node, data, ih) = seeding_node(dir.path());
    let http = node.http;

    // Not the BitTorrent protocol at all.
    let mut p = connect(http, ih, "-XX0001-hostile-0001").await;
    p.send(b"GET /announce HTTP/1.1\r\nHost: x\r\n\r\n").await;
    p.expect_closed(10, "a bad handshake").await;

    // A handshake for a torrent the offer was not about.
    let mut p = connect(http, ih, "-XX0001-hostile-0002").await;
    p.send(&handshake(&[9; 20], "-XX0001-hostile-0002")).await;
    p.expect_closed(10, "a handshake for another infohash")
        .await;

    // A length prefix of 4 GiB.
    let mut p = connect(http, ih, "-XX0001-hostile-0003").await;
    let mut bytes = handshake(&ih, "-XX0001-hostile-0003");
    bytes.extend_from_slice(&[0xff, 0xff, 0xff, 0xff, 7]);
    p.send(&bytes).await;
    p.expect_closed(10, "an oversized message").await;

    // Requests past the end of the file, and a block too long.
    for (n, req) in [
        ("0004", request(192, 0, BLOCK)),
        ("0005", request(191, BLOCK - 1, 2)),
        ("0006", request(0, 0, 1024 * 1024)),
    ] {
        let id: &'static str = Box::leak(format!("-XX0001-hostile-{n}").into_boxed_str());
        let mut p = connect(http, ih, id).await;
        p.send(&handshake(&ih, id)).await;
        p.read_handshake().await;
        p.send(&msg(2, &[])).await; // interested
        p.until(1).await; // unchoke
        p.send(&req).await;
        p.expect_closed(10, "an out-of-range request").await;
    }
    node.assert_alive();

    // Never reads, keeps requesting: dropped (stalled sends or too many requests), with
    // the upload bounded.
    let p = connect(http, ih, "-XX0001-hostile-0007").await;
    let id = "-XX0001-hostile-0007";
    let mut stalled = p;
    stalled.send(&handshake(&ih, id)).await;
    stalled.read_handshake().await;
    stalled.send(&msg(2, &[])).await;
    stalled.until(1).await;
    let uploaded_before = node.health().unwrap()["webtorrent"]["uploaded_bytes"]
        .as_u64()
        .unwrap();
    let mut dropped = false;
    'outer: for round in 0..120u32 {
        for i in 0..64u32 {
            let index = (round * 64 + i) % 192;
            if stalled
                .dc
                .send(BytesMut::from(&request(index, 0, BLOCK)[..]))
                .await
                .is_err()
            {
                dropped = true;
                break 'outer;
            }
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
        if webtorrent_peers(&node) == 0 {
            dropped = true;
            break;
        }
    }
    assert!(dropped, "a peer that never reads was kept for a minute");
    let sent_to_it = node.health().unwrap()["webtorrent"]["uploaded_bytes"]
        .as_u64()
        .unwrap()
        - uploaded_before;
    eprintln!("sent {sent_to_it} bytes to the peer that never reads before dropping it");
    assert!(
        sent_to_it < 64 * MIB,
        "{sent_to_it} bytes were sent to a peer that never reads"
    );
    drop(stalled);
    node.assert_alive();

    // A good peer: metadata by BEP 9, then blocks that match the file.
    let id = "-XX0001-goodpeer0001";
    let mut p = connect(http, ih, id).await;
    p.send(&handshake(&ih, id)).await;
    let theirs = p.read_handshake().await;
    assert_eq!(&theirs[28..48], &ih);
    assert_eq!(theirs[25] & 0x10, 0x10, "extension bit");
    let ext = p.until(20).await;
    assert_eq!(ext[0], 0, "extended handshake first");
    let ext = String::from_utf8_lossy(&ext[1..]).into_owned();
    assert!(ext.contains("11:ut_metadatai1e"), "{ext}");
    assert!(ext.contains("13:metadata_size"), "{ext}");
    let bitfield = p.until(5).await;
    assert_eq!(bitfield, vec![0xff; 24], "all 192 pieces");
    // ut_metadata: our id for it is 7.
    p.send(&msg(20, b"\x00d1:md11:ut_metadatai7eee")).await;
    p.send(&msg(20, b"\x01d8:msg_typei0e5:piecei0ee")).await;
    let meta = p.until(20).await;
    assert_eq!(meta[0], 7, "sent with our ut_metadata id");
    let meta = &meta[1..];
    assert!(
        meta.starts_with(b"d8:msg_typei1e5:piecei0e10:total_size"),
        "{}",
        String::from_utf8_lossy(&meta[..60.min(meta.len())])
    );
    let dict_end = meta.windows(2).position(|w| w == b"ee").unwrap() + 2;
    let info = &meta[dict_end..];
    assert_eq!(
        hex::encode(sha1_of(info)),
        hex::encode(ih),
        "metadata hashes to the infohash"
    );

    p.send(&msg(2, &[])).await;
    p.until(1).await;
    for (index, begin) in [(0u32, 0u32), (191, 0), (100, 0)] {
        p.send(&request(index, begin, BLOCK)).await;
        let piece = p.until(7).await;
        assert_eq!(&piece[0..4], &index.to_be_bytes());
        assert_eq!(&piece[4..8], &begin.to_be_bytes());
        let at = (index * BLOCK + begin) as usize;
        assert!(
            piece[8..] == data[at..at + BLOCK as usize],
            "block {index} differs"
        );
    }
    node.assert_alive();
}

fn sha1_of(b: &[u8]) -> [u8; 20] {
    use sha1::Digest;
    sha1::Sha1::digest(b).into()
}
