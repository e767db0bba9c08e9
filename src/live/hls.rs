//! Live HLS: MP3 "packed audio" segments of about 2 s in a sliding window, which every
//! iPhone plays natively and hls.js plays everywhere else.
//!
//! Each segment starts with an ID3 tag carrying its timestamp (Apple's
//! `com.apple.streaming.transportStreamTimestamp`, 90 kHz), as packed audio requires,
//! followed by whole MP3 frames.

use std::{
    collections::VecDeque,
    fmt::Write,
    sync::{
        atomic::{AtomicU64, Ordering},
        Arc, Mutex,
    },
};

use bytes::Bytes;
use tokio::sync::broadcast::error::RecvError;
use tokio_util::sync::CancellationToken;

use super::{mp3::FRAME_SAMPLES, source::RATE, Live};

/// Frames per segment: 84 x 24 ms = 2.016 s.
const SEGMENT_FRAMES: usize = 84;
/// Segments listed in the playlist (about 12 s), and kept for requests a little longer.
const WINDOW: usize = 6;
const KEEP: usize = WINDOW + 4;

struct Segment {
    seq: u64,
    secs: f64,
    data: Bytes,
}

#[derive(Default)]
pub struct Hls {
    segments: Mutex<VecDeque<Segment>>,
    served: AtomicU64,
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

impl Hls {
    /// Builds segments from the live MP3 frames until `shutdown`.
    pub async fn run(self: Arc<Self>, live: Arc<Live>, shutdown: CancellationToken) {
        let mut rx = live.mp3_frames();
        let mut frames: Vec<Bytes> = Vec::with_capacity(SEGMENT_FRAMES);
        let mut samples: u64 = 0;
        let mut seq = 0;
        loop {
            let frame = tokio::select! {
                _ = shutdown.cancelled() => return,
                f = rx.recv() => match f {
                    Ok(f) => f,
                    // A gap: start the next segment afresh, the timestamps say where.
                    Err(RecvError::Lagged(n)) => {
                        samples += n * FRAME_SAMPLES;
                        frames.clear();
                        continue;
                    }
                    Err(RecvError::Closed) => return,
                },
            };
            frames.push(frame);
            if frames.len() == SEGMENT_FRAMES {
                let start = samples;
                samples += SEGMENT_FRAMES as u64 * FRAME_SAMPLES;
                let mut data = timestamp_tag(start * 90_000 / u64::from(RATE));
                for f in frames.drain(..) {
                    data.extend_from_slice(&f);
                }
                self.push(Segment {
                    seq,
                    secs: (SEGMENT_FRAMES as u64 * FRAME_SAMPLES) as f64 / f64::from(RATE),
                    data: Bytes::from(data),
                });
                seq += 1;
            }
        }
    }

    fn push(&self, s: Segment) {
        if let Ok(mut q) = self.segments.lock() {
            if q.len() == KEEP {
                q.pop_front();
            }
            q.push_back(s);
        }
    }

    /// The media playlist of the MP3 variant; None until the first segment exists.
    pub fn playlist(&self) -> Option<String> {
        let q = self.segments.lock().ok()?;
        let listed: Vec<&Segment> = q.iter().rev().take(WINDOW).collect::<Vec<_>>();
        let first = listed.last()?;
        let mut p = format!(
            "#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:2\n#EXT-X-MEDIA-SEQUENCE:{}\n",
            first.seq
        );
        for s in listed.iter().rev() {
            let _ = write!(p, "#EXTINF:{:.3},\nmp3/{}.mp3\n", s.secs, s.seq);
        }
        Some(p)
    }

    pub fn segment(&self, seq: u64) -> Option<Bytes> {
        let q = self.segments.lock().ok()?;
        let s = q.iter().find(|s| s.seq == seq)?.data.clone();
        self.served.fetch_add(1, Ordering::Relaxed);
        Some(s)
    }

    /// Segments served over HTTP since start.
    pub fn served(&self) -> u64 {
        self.served.load(Ordering::Relaxed)
    }
}

/// The master playlist: one variant per format.
pub fn master(kbps: u32) -> String {
    format!(
        "#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-STREAM-INF:BANDWIDTH={},CODECS=\"mp4a.40.34\"\nmp3.m3u8\n",
        kbps * 1000 + 8000
    )
}

#[cfg(test)]
mod tests {
    use super::*;

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
        assert!(h.playlist().is_none());
        for seq in 0..12 {
            h.push(Segment {
                seq,
                secs: 2.016,
                data: Bytes::from_static(b"x"),
            });
        }
        let p = h.playlist().unwrap();
        assert!(p.contains("#EXT-X-MEDIA-SEQUENCE:6\n"), "{p}");
        assert!(p.contains("mp3/6.mp3") && p.contains("mp3/11.mp3") && !p.contains("mp3/5.mp3"));
        assert!(h.segment(3).is_some(), "kept a little past the window");
        assert!(h.segment(1).is_none());
        assert_eq!(h.served(), 1);
    }
}
