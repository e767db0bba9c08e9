//! Live HLS: two variants of ~2 s segments in a sliding window, listed by one master
//! playlist.
//!
//! - Opus in fMP4 (CMAF, see `cmaf`): what browsers with Media Source Extensions play
//!   through hls.js (and Safari 17 / iOS 17.1 natively); its segments are the ones
//!   listeners share peer-to-peer.
//! - MP3 "packed audio", which every iPhone plays natively: each segment starts with an
//!   ID3 tag carrying its timestamp (Apple's `com.apple.streaming.transportStreamTimestamp`,
//!   90 kHz), as packed audio requires, followed by whole MP3 frames.
//!
//! Segments served over HTTP are counted per variant, so the share that listeners got
//! from each other instead shows in `/api/health` and `/metrics`.

use std::{
    collections::VecDeque,
    fmt::Write,
    sync::{
        atomic::{AtomicU64, Ordering},
        Arc, Mutex, OnceLock,
    },
    time::{Duration, Instant},
};

use bytes::Bytes;
use serde::Serialize;
use tokio::sync::{
    broadcast::{self, error::RecvError},
    watch,
};
use tokio_util::sync::CancellationToken;

use super::{
    cmaf,
    format::{FRAME, RATE},
    mp3::FRAME_SAMPLES,
    seeding::Seeding,
    sessions::Sessions,
    Live,
};

/// MP3 frames per segment: 84 x 24 ms = 2.016 s.
const MP3_SEGMENT_FRAMES: usize = 84;
/// Opus packets per segment: 100 x 20 ms = 2 s.
const OPUS_SEGMENT_PACKETS: usize = 100;
/// Segments listed in a playlist (about 20 s). Listeners that share segments play a few
/// segments behind the live edge, so the newest ones have time to travel between them;
/// the window must reach back past that point.
const WINDOW: usize = 10;
/// Segments kept for requests a little after they leave the playlist.
const KEEP: usize = WINDOW + 4;
/// How far back from the live edge a delta playlist must still list segments (RFC 8216bis
/// `CAN-SKIP-UNTIL`: at least six target durations).
const SKIP_UNTIL_SECS: f64 = 12.0;

/// One rendition of the live stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Variant {
    Opus,
    Mp3,
}

impl Variant {
    pub const ALL: [Variant; 2] = [Variant::Opus, Variant::Mp3];

    pub fn name(self) -> &'static str {
        match self {
            Variant::Opus => "opus",
            Variant::Mp3 => "mp3",
        }
    }

    /// The `BANDWIDTH` of the variant in the master playlist: the codec's bitrate plus
    /// the container's overhead. The two values must differ: p2p-media-loader tells the
    /// variants of an audio-only stream apart by `BANDWIDTH` alone (see `p2p`).
    pub fn bandwidth(self, kbps: u32) -> u32 {
        match self {
            Variant::Opus => kbps * 1000 + 4000,
            Variant::Mp3 => kbps * 1000 + 8000,
        }
    }

    fn codecs(self) -> &'static str {
        match self {
            Variant::Opus => "opus",
            // MPEG-1/2 Layer III, as Apple's HLS authoring spec names it.
            Variant::Mp3 => "mp4a.40.34",
        }
    }
}

struct Segment {
    seq: u64,
    secs: f64,
    data: Bytes,
    /// Times it was sent over HTTP.
    sends: u32,
    made: Instant,
}

/// One variant's sliding window of segments.
#[derive(Default)]
struct Window {
    segments: Mutex<VecDeque<Segment>>,
    /// The newest segment's number, for requests waiting for the next one.
    newest_seq: watch::Sender<Option<u64>>,
    served: AtomicU64,
    served_bytes: AtomicU64,
}

impl Window {
    fn push(&self, s: Segment) {
        let seq = s.seq;
        if let Ok(mut q) = self.segments.lock() {
            if q.len() == KEEP {
                q.pop_front();
            }
            q.push_back(s);
        }
        self.newest_seq.send_replace(Some(seq));
    }

    /// Whether segment `seq` is in the window, waiting up to `hold` for it if it is the next
    /// one to be made.
    async fn wait_for(&self, seq: u64, hold: Duration) -> bool {
        let mut newest = self.newest_seq.subscribe();
        let next = match *newest.borrow_and_update() {
            Some(n) if seq <= n => return self.has(seq),
            Some(n) => seq == n + 1,
            None => false,
        };
        next && tokio::time::timeout(hold, newest.wait_for(|n| n.is_some_and(|n| n >= seq)))
            .await
            .is_ok_and(|r| r.is_ok())
            && self.has(seq)
    }

    /// The listed segments, oldest first; None until the first segment exists. A `delta`
    /// playlist (the player asked `_HLS_skip=YES`) replaces the segments older than
    /// [`SKIP_UNTIL_SECS`] from the end with one `EXT-X-SKIP` line: the player keeps them
    /// from its last full copy.
    fn playlist(
        &self,
        version: u8,
        head: &str,
        uri: impl Fn(u64) -> String,
        delta: bool,
    ) -> Option<String> {
        let q = self.segments.lock().ok()?;
        let listed: Vec<&Segment> = q.iter().skip(q.len().saturating_sub(WINDOW)).collect();
        let first = listed.first()?;
        let mut skipped = 0;
        if delta {
            let total: f64 = listed.iter().map(|s| s.secs).sum();
            let mut end = 0.0;
            for s in &listed {
                end += s.secs;
                if end > total - SKIP_UNTIL_SECS {
                    break;
                }
                skipped += 1;
            }
        }
        // EXT-X-SKIP needs protocol version 9.
        let version = if skipped > 0 { version.max(9) } else { version };
        let mut p = format!(
            "#EXTM3U\n#EXT-X-VERSION:{version}\n{head}#EXT-X-TARGETDURATION:2\n\
             #EXT-X-SERVER-CONTROL:CAN-SKIP-UNTIL={SKIP_UNTIL_SECS:.1}\n\
             #EXT-X-MEDIA-SEQUENCE:{}\n",
            first.seq
        );
        if skipped > 0 {
            let _ = writeln!(p, "#EXT-X-SKIP:SKIPPED-SEGMENTS={skipped}");
        }
        for s in listed.iter().skip(skipped) {
            let _ = write!(p, "#EXTINF:{:.3},\n{}\n", s.secs, uri(s.seq));
        }
        Some(p)
    }

    fn segment(&self, seq: u64) -> Option<Bytes> {
        let mut q = self.segments.lock().ok()?;
        let s = q.iter_mut().find(|s| s.seq == seq)?;
        s.sends += 1;
        self.served.fetch_add(1, Ordering::Relaxed);
        Some(s.data.clone())
    }

    /// When segment `seq` was made, if it is in the window.
    fn made(&self, seq: u64) -> Option<Instant> {
        let q = self.segments.lock().ok()?;
        q.iter().find(|s| s.seq == seq).map(|s| s.made)
    }

    /// When the newest segment was made.
    fn newest(&self) -> Option<Instant> {
        self.segments.lock().ok()?.back().map(|s| s.made)
    }

    /// Whether a segment is in the window (listed or kept a little longer).
    fn has(&self, seq: u64) -> bool {
        self.segments
            .lock()
            .is_ok_and(|q| q.iter().any(|s| s.seq == seq))
    }

    /// The kept segments' numbers and how many times each was sent over HTTP.
    fn sends(&self) -> Vec<(u64, u32)> {
        self.segments
            .lock()
            .map(|q| q.iter().map(|s| (s.seq, s.sends)).collect())
            .unwrap_or_default()
    }
}

/// Segments (or their bytes) served over HTTP since start, per variant.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct Served {
    pub opus: u64,
    pub mp3: u64,
}

#[derive(Default)]
pub struct Hls {
    opus: Window,
    mp3: Window,
    /// The Opus variant's init segment, made when the stream starts.
    init: OnceLock<Bytes>,
    /// The players listening now.
    pub sessions: Sessions,
    /// Who gets new Opus segments from the station early (the swarm's seeders).
    pub seeding: Seeding,
    /// Bytes of the media playlists served since start.
    playlist_bytes: AtomicU64,
}

/// ID3v2.4 tag with the PRIV timestamp frame for a segment starting at `pts` (90 kHz).
fn timestamp_tag(pts: u64) -> Vec<u8> {
    const OWNER: &[u8] = b"com.apple.streaming.transportStreamTimestamp\0";
    let frame_len = OWNER.len() + 8;
    let mut t = b"ID3\x04\x00\x00".to_vec();
    t.extend_from_slice(&syncsafe((10 + frame_len) as u32));
    t.extend_from_slice(b"PRIV");
    t.extend_from_slice(&syncsafe(frame_len as u32));
    t.extend_from_slice(&[0, 0]);
    t.extend_from_slice(OWNER);
    t.extend_from_slice(&(pts & 0x1_ffff_ffff).to_be_bytes());
    t
}

fn syncsafe(n: u32) -> [u8; 4] {
    [
        ((n >> 21) & 0x7f) as u8,
        ((n >> 14) & 0x7f) as u8,
        ((n >> 7) & 0x7f) as u8,
        (n & 0x7f) as u8,
    ]
}

/// Groups the items of `rx` into runs of `n`; a gap (the receiver fell behind) drops the
/// partial run and advances the clock by the items missed, so timestamps stay true.
/// Calls `done(start, items)` with the index of each run's first item.
async fn segments(
    mut rx: broadcast::Receiver<Bytes>,
    n: usize,
    shutdown: &CancellationToken,
    mut done: impl FnMut(u64, &[Bytes]),
) {
    let mut items: Vec<Bytes> = Vec::with_capacity(n);
    let mut next: u64 = 0;
    loop {
        let item = tokio::select! {
            _ = shutdown.cancelled() => return,
            f = rx.recv() => match f {
                Ok(f) => f,
                Err(RecvError::Lagged(missed)) => {
                    next += missed + items.len() as u64;
                    items.clear();
                    continue;
                }
                Err(RecvError::Closed) => return,
            },
        };
        items.push(item);
        if items.len() == n {
            done(next, &items);
            next += n as u64;
            items.clear();
        }
    }
}

impl Hls {
    /// Builds both variants' segments from the live stream until `shutdown`.
    pub async fn run(self: Arc<Self>, live: Arc<Live>, shutdown: CancellationToken) {
        let (packets, channels, pre_skip) = live.packets();
        match cmaf::init_segment(channels, pre_skip) {
            Ok(init) => {
                let _ = self.init.set(init);
            }
            Err(e) => tracing::error!("no Opus HLS variant: {e}"),
        }
        let mut mp3_seq = 0;
        let mp3 = segments(
            live.mp3_frames(),
            MP3_SEGMENT_FRAMES,
            &shutdown,
            |start, frames| {
                let pts = start * FRAME_SAMPLES * 90_000 / u64::from(RATE);
                let mut data = timestamp_tag(pts);
                for f in frames {
                    data.extend_from_slice(f);
                }
                self.mp3.push(Segment {
                    seq: mp3_seq,
                    secs: (frames.len() as u64 * FRAME_SAMPLES) as f64 / f64::from(RATE),
                    data: Bytes::from(data),
                    sends: 0,
                    made: Instant::now(),
                });
                mp3_seq += 1;
            },
        );
        let mut opus_seq = 0;
        let opus = segments(
            packets,
            OPUS_SEGMENT_PACKETS,
            &shutdown,
            |start, packets| {
                if self.init.get().is_none() {
                    return;
                }
                // The fragment sequence number wraps after 2^32 segments (272 years).
                match cmaf::media_segment(opus_seq as u32, start * FRAME as u64, packets) {
                    Ok(data) => {
                        self.opus.push(Segment {
                            seq: opus_seq,
                            secs: (packets.len() * FRAME) as f64 / f64::from(RATE),
                            data,
                            sends: 0,
                            made: Instant::now(),
                        });
                        self.seeding.made(opus_seq, Instant::now());
                    }
                    Err(e) => tracing::warn!("Opus HLS segment {opus_seq} lost: {e}"),
                }
                opus_seq += 1;
            },
        );
        tokio::join!(mp3, opus);
    }

    fn window(&self, v: Variant) -> &Window {
        match v {
            Variant::Opus => &self.opus,
            Variant::Mp3 => &self.mp3,
        }
    }

    /// A variant's media playlist, whole or as a delta update; None until its first
    /// segment exists.
    pub fn playlist(&self, v: Variant, delta: bool) -> Option<String> {
        let p = match v {
            Variant::Mp3 => self
                .mp3
                .playlist(3, "", |seq| format!("mp3/{seq}.mp3"), delta),
            Variant::Opus => self.opus.playlist(
                7,
                "#EXT-X-INDEPENDENT-SEGMENTS\n#EXT-X-MAP:URI=\"opus/init.mp4\"\n",
                |seq| format!("opus/{seq}.m4s"),
                delta,
            ),
        }?;
        self.playlist_bytes
            .fetch_add(p.len() as u64, Ordering::Relaxed);
        Some(p)
    }

    /// When a variant's newest segment was made: a player that knows it can work out when
    /// each next one will exist (they follow every 2 s).
    pub fn newest(&self, v: Variant) -> Option<Instant> {
        self.window(v).newest()
    }

    /// Bytes of the media playlists served since start.
    pub fn playlist_bytes(&self) -> u64 {
        self.playlist_bytes.load(Ordering::Relaxed)
    }

    /// Whether a media segment is in the window; the next one to be made is waited for, up
    /// to `hold`. A page lists each new segment itself, from its clock and the last playlist
    /// it had (`listen.js`), and the station's segments can come later than that clock says
    /// (the input stalled on a busy box); a page asking for one a moment early gets it the
    /// moment it exists instead of a 404.
    pub async fn segment_ready(&self, v: Variant, seq: u64, hold: Duration) -> bool {
        self.window(v).wait_for(seq, hold).await
    }

    /// When a media segment was made, if it is in the window.
    pub fn segment_made(&self, v: Variant, seq: u64) -> Option<Instant> {
        self.window(v).made(seq)
    }

    /// The kept segments of a variant and how many times the station sent each.
    pub fn sends(&self, v: Variant) -> Vec<(u64, u32)> {
        self.window(v).sends()
    }

    /// A media segment, counted as sent once; its bytes are counted as answered
    /// ([`Hls::answered`]), since a request may take only a part of it.
    pub fn segment(&self, v: Variant, seq: u64) -> Option<Bytes> {
        self.window(v).segment(seq)
    }

    /// Counts the bytes of a variant's segment (whole or a range of it) put in an answer.
    pub fn answered(&self, v: Variant, bytes: usize) {
        self.window(v)
            .served_bytes
            .fetch_add(bytes as u64, Ordering::Relaxed);
    }

    /// The Opus variant's init segment.
    pub fn init_segment(&self) -> Option<Bytes> {
        self.init.get().cloned()
    }

    /// Media segments served over HTTP since start.
    pub fn served(&self) -> Served {
        Served {
            opus: self.opus.served.load(Ordering::Relaxed),
            mp3: self.mp3.served.load(Ordering::Relaxed),
        }
    }

    /// Bytes of the media segments served over HTTP since start (the node's upload for
    /// HLS listeners, but for the small playlists).
    pub fn served_bytes(&self) -> Served {
        Served {
            opus: self.opus.served_bytes.load(Ordering::Relaxed),
            mp3: self.mp3.served_bytes.load(Ordering::Relaxed),
        }
    }
}

/// The master playlist's `DATA-ID` for the number of listen pages sharing the stream.
pub const SHARING_DATA_ID: &str = "org.streamp2p.sharing";

/// The master playlist: the Opus variant first, so a player that can play both starts
/// with it; players that cannot decode Opus (iPhones before iOS 17) skip it by `CODECS`.
/// The media playlist URLs carry the player's session `token` (see `sessions`).
pub fn master(kbps: u32, token: &str, sharing: usize) -> String {
    let mut p = String::from("#EXTM3U\n#EXT-X-VERSION:7\n#EXT-X-INDEPENDENT-SEGMENTS\n");
    // How many listen pages share the stream now: a page that joins them takes its first
    // segments from them rather than from the station (see `listen.js`). Players that do
    // not know the DATA-ID ignore it (RFC 8216, `EXT-X-SESSION-DATA`).
    let _ = writeln!(
        p,
        "#EXT-X-SESSION-DATA:DATA-ID=\"{SHARING_DATA_ID}\",VALUE=\"{sharing}\""
    );
    for v in Variant::ALL {
        let _ = write!(
            p,
            "#EXT-X-STREAM-INF:BANDWIDTH={},CODECS=\"{}\"\n{}.m3u8?s={token}\n",
            v.bandwidth(kbps),
            v.codecs(),
            v.name()
        );
    }
    p
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Fills a window with segments `seqs` of `secs` seconds each.
    fn fill(w: &Window, seqs: std::ops::Range<u64>, secs: f64) {
        for seq in seqs {
            w.push(Segment {
                seq,
                secs,
                data: Bytes::from_static(b"x"),
                sends: 0,
                made: Instant::now(),
            });
        }
    }

    #[tokio::test]
    async fn a_request_for_the_next_segment_waits_for_it_and_no_further() {
        let w = Arc::new(Window::default());
        let hold = Duration::from_secs(5);
        // Nothing made yet: nothing to wait for.
        assert!(!w.wait_for(0, hold).await);
        fill(&w, 0..3, 2.0);
        assert!(w.wait_for(2, hold).await, "made already");
        assert!(!w.wait_for(4, hold).await, "two ahead: a 404 at once");
        let waiting = tokio::spawn({
            let w = w.clone();
            async move { w.wait_for(3, hold).await }
        });
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert!(!waiting.is_finished(), "the next one is waited for");
        fill(&w, 3..4, 2.0);
        assert!(waiting.await.unwrap(), "and answered the moment it is made");
        let started = Instant::now();
        assert!(!w.wait_for(4, Duration::from_millis(100)).await);
        assert!(
            started.elapsed() >= Duration::from_millis(100),
            "given up after the hold"
        );
        // Gone from the window: no more.
        fill(&w, 4..40, 2.0);
        assert!(!w.wait_for(3, hold).await);
    }

    #[test]
    fn timestamp_tag_layout() {
        let t = timestamp_tag(90_000);
        assert_eq!(&t[..3], b"ID3");
        assert_eq!(t.len(), 10 + 10 + 45 + 8);
        assert_eq!(&t[6..10], &[0, 0, 0, 63]);
        assert_eq!(&t[t.len() - 8..], &90_000u64.to_be_bytes());
    }

    #[test]
    fn playlist_slides() {
        let h = Hls::default();
        assert!(h.playlist(Variant::Mp3, false).is_none());
        fill(&h.mp3, 0..(KEEP as u64 + 2), 2.016);
        let p = h.playlist(Variant::Mp3, false).unwrap();
        let first = KEEP as u64 + 2 - WINDOW as u64;
        assert!(
            p.contains(&format!("#EXT-X-MEDIA-SEQUENCE:{first}\n")),
            "{p}"
        );
        assert_eq!(p.matches("#EXTINF").count(), WINDOW);
        assert!(p.contains(&format!("mp3/{first}.mp3")));
        assert!(!p.contains(&format!("mp3/{}.mp3", first - 1)));
        assert!(
            h.segment(Variant::Mp3, first - 2).is_some(),
            "kept a little past the window"
        );
        assert!(h.segment(Variant::Mp3, 1).is_none());
        assert!(h.segment(Variant::Opus, first).is_none());
        assert_eq!(h.served().mp3, 1);
        assert_eq!(h.served().opus, 0);
        assert_eq!(
            h.served_bytes().mp3,
            0,
            "the answer counts the bytes it carries"
        );
        h.answered(Variant::Mp3, 100);
        assert_eq!(h.served_bytes().mp3, 100);
        assert!(h.sends(Variant::Mp3).contains(&(first - 2, 1)));
        assert!(h.sends(Variant::Mp3).contains(&(first, 0)));
    }

    /// A delta update lists only the last 12 s; the rest is one EXT-X-SKIP line, and the
    /// media sequence stays that of the whole playlist (RFC 8216bis 6.2.5.1).
    #[test]
    fn delta_playlist_skips_all_but_the_last_twelve_seconds() {
        let h = Hls::default();
        fill(&h.opus, 0..20, 2.0);
        let whole = h.playlist(Variant::Opus, false).unwrap();
        assert!(whole.starts_with("#EXTM3U\n#EXT-X-VERSION:7\n"), "{whole}");
        assert!(whole.contains("#EXT-X-SERVER-CONTROL:CAN-SKIP-UNTIL=12.0\n"));
        assert!(!whole.contains("EXT-X-SKIP:"));
        let delta = h.playlist(Variant::Opus, true).unwrap();
        assert!(delta.starts_with("#EXTM3U\n#EXT-X-VERSION:9\n"), "{delta}");
        assert!(delta.contains("#EXT-X-MEDIA-SEQUENCE:10\n#EXT-X-SKIP:SKIPPED-SEGMENTS=4\n"));
        assert_eq!(delta.matches("#EXTINF").count(), 6, "{delta}");
        assert!(delta.contains("opus/14.m4s") && !delta.contains("opus/13.m4s"));
        assert!(delta.len() < whole.len());
        // A window shorter than the skip boundary has nothing to skip.
        let short = Hls::default();
        fill(&short.mp3, 0..6, 2.016);
        let p = short.playlist(Variant::Mp3, true).unwrap();
        assert!(p.starts_with("#EXTM3U\n#EXT-X-VERSION:3\n") && !p.contains("EXT-X-SKIP"));
    }

    #[test]
    fn opus_playlist_maps_the_init_segment() {
        let h = Hls::default();
        h.opus.push(Segment {
            seq: 0,
            secs: 2.0,
            data: Bytes::from_static(b"x"),
            sends: 0,
            made: Instant::now(),
        });
        let p = h.playlist(Variant::Opus, false).unwrap();
        assert!(p.contains("#EXT-X-MAP:URI=\"opus/init.mp4\"\n"), "{p}");
        assert!(p.contains("#EXTINF:2.000,\nopus/0.m4s\n"), "{p}");
    }

    #[test]
    fn master_lists_both_variants_with_distinct_bandwidths() {
        let m = master(128, "0123456789abcdef", 3);
        assert!(
            m.contains("#EXT-X-SESSION-DATA:DATA-ID=\"org.streamp2p.sharing\",VALUE=\"3\"\n"),
            "{m}"
        );
        assert!(
            m.contains("BANDWIDTH=132000,CODECS=\"opus\"\nopus.m3u8?s=0123456789abcdef\n"),
            "{m}"
        );
        assert!(
            m.contains("BANDWIDTH=136000,CODECS=\"mp4a.40.34\"\nmp3.m3u8?s=0123456789abcdef\n"),
            "{m}"
        );
    }
}
