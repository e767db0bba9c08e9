//! On air: capture -> Opus -> Ogg pages -> every `/live.ogg` listener.
//!
//! Parts: `source` (ALSA, tone, WAV file), `levels` (peak/RMS), `ogg_opus` (framing),
//! `mp3`, `hls` with `cmaf` (the live HLS variants), `p2p` (their listeners' swarms),
//! `recorder`, `resample` (cards that cannot record at 48 kHz), `format` (the stream's rate
//! and frame size, which all of them share).
//!
//! The capture thread is a plain OS thread (ALSA reads block): it reads 20 ms frames,
//! measures them, encodes them and publishes Ogg pages on a broadcast channel. It checks
//! for shutdown between frames, and the node waits for it to end ([`Live::join_capture`]),
//! so the device is closed before the process exits or restarts. When the
//! device fails (a USB card pulled out) the stream goes on with the same Ogg stream, the
//! status says "no input", and the device is opened again every few seconds, so the
//! station comes back on air by itself.

pub mod cmaf;
pub mod fanout;
pub mod format;
pub mod hls;
pub mod levels;
pub mod mp3;
pub mod ogg_opus;
pub mod p2p;
pub mod recorder;
pub mod resample;
pub mod sessions;
pub mod source;

use std::{
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use bytes::Bytes;
use serde::Serialize;
use tokio::sync::{broadcast, oneshot, watch};
use tokio_util::sync::CancellationToken;

use crate::{
    config::{AudioSource, Settings},
    station::Station,
};
use fanout::{Fanout, ListenerGuard};
use format::{FRAME, RATE};
use levels::Levels;
use mp3::Mp3;
use ogg_opus::{header_pages, OggOpus};
use source::SourceError;

/// Pages kept for a new listener's first burst: 1.5 s, so playback starts at once.
const BURST_PAGES: usize = 15;
/// MP3 frames in a new `/live.mp3` listener's burst: 1.5 s of 24 ms frames.
const BURST_MP3_FRAMES: usize = 62;
/// Pages a listener may fall behind before it is dropped (about 6 s).
const LISTENER_BACKLOG: usize = 64;
/// Packets the recorder may fall behind (10 s) before it loses some.
const PACKET_BACKLOG: usize = 500;
/// Wait between attempts to open a failed capture device.
const REOPEN_EVERY: Duration = Duration::from_secs(3);
/// Levels are published every this many frames (5 x 20 ms = 10 Hz).
const LEVEL_FRAMES: u32 = 5;
/// Below this RMS, in dBFS, the input counts as silent.
const SILENCE_DB: f32 = -50.0;

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "snake_case", tag = "state")]
pub enum LiveState {
    /// No audio source configured.
    Off,
    /// Waiting for the first frame.
    Starting,
    OnAir,
    /// The device failed or is missing; it is retried every few seconds.
    NoInput {
        reason: String,
    },
}

#[derive(Debug, Clone, Serialize)]
pub struct LiveStatus {
    #[serde(flatten)]
    pub state: LiveState,
    pub source: String,
    /// Seconds of continuous silence, once past `silence_secs`.
    pub silent_for_secs: Option<u64>,
    /// Progressive listeners of the node's own stream (`/live.ogg` and `/live.mp3`).
    pub listeners: usize,
}

/// The Vorbis comments of the live stream: the station's name and description.
fn stream_tags(settings: &Settings) -> Vec<String> {
    let mut tags = vec![format!("TITLE={}", settings.station.name)];
    if !settings.station.description.is_empty() {
        tags.push(format!("DESCRIPTION={}", settings.station.description));
    }
    tags
}

/// What a new listener needs: the headers, a burst of recent pages, then the live pages.
pub struct Subscription {
    pub headers: Bytes,
    pub burst: Vec<Bytes>,
    pub pages: broadcast::Receiver<Bytes>,
    /// Counts the listener while alive.
    pub guard: ListenerGuard,
}

pub struct Live {
    source: AudioSource,
    /// Asks an ALSA card for this rate instead of 48 kHz.
    capture_rate: Option<u32>,
    /// The station's name and description, read for every new listener's header pages.
    station: Arc<Station>,
    /// The Ogg stream's serial, which header pages made later must carry.
    serial: u32,
    /// The header pages with the tags they were made for, remade when the tags change.
    headers: Mutex<(Vec<String>, Bytes)>,
    ogg: Fanout,
    /// Every Opus packet (20 ms), for the recorder, which frames its own files.
    packets: broadcast::Sender<Bytes>,
    /// Whole MP3 frames, for `/live.mp3` and HLS.
    mp3: Fanout,
    channels: u8,
    pre_skip: u16,
    state: watch::Sender<LiveState>,
    levels: watch::Sender<Levels>,
    silent_since: Mutex<Option<Instant>>,
    silence_after: Duration,
    /// The capture thread, until [`Live::join_capture`] takes it.
    capture: Mutex<Option<CaptureThread>>,
}

struct CaptureThread {
    thread: std::thread::JoinHandle<()>,
    /// Closed when the thread's work is over (returned or unwound), so that it can be
    /// awaited without holding a runtime thread in a blocking join meanwhile.
    ended: oneshot::Receiver<()>,
}

impl Live {
    /// Starts the capture thread for the station's audio input (nothing runs for `none`).
    pub fn start(station: Arc<Station>, shutdown: CancellationToken) -> Arc<Self> {
        let settings = station.settings();
        let cfg = &settings.live;
        let channels = usize::from(cfg.channels);
        let mut encoder = match opus::Encoder::new(
            RATE,
            if channels == 1 {
                opus::Channels::Mono
            } else {
                opus::Channels::Stereo
            },
            opus::Application::Audio,
        ) {
            Ok(e) => Some(e),
            Err(e) => {
                tracing::error!("cannot create the Opus encoder: {e}");
                None
            }
        };
        if let Some(e) = encoder.as_mut() {
            if let Err(err) = e.set_bitrate(opus::Bitrate::Bits(cfg.bitrate_kbps as i32 * 1000)) {
                tracing::warn!("Opus bitrate {} kb/s refused: {err}", cfg.bitrate_kbps);
            }
        }
        let pre_skip = encoder
            .as_mut()
            .and_then(|e| e.get_lookahead().ok())
            .unwrap_or(312) as u16;
        let tags = stream_tags(&settings);
        let muxer = OggOpus::new(channels as u8, pre_skip, &tags);
        let off = settings.audio == AudioSource::None || encoder.is_none();
        let live = Arc::new(Self {
            source: settings.audio.clone(),
            capture_rate: cfg.capture_rate,
            serial: muxer.serial(),
            headers: Mutex::new((tags, Bytes::copy_from_slice(muxer.headers()))),
            station,
            ogg: Fanout::new(LISTENER_BACKLOG, BURST_PAGES),
            packets: broadcast::channel(PACKET_BACKLOG).0,
            mp3: Fanout::new(PACKET_BACKLOG, BURST_MP3_FRAMES),
            channels: channels as u8,
            pre_skip,
            state: watch::Sender::new(if off {
                LiveState::Off
            } else {
                LiveState::Starting
            }),
            levels: watch::Sender::new(Levels::default()),
            silent_since: Mutex::new(None),
            silence_after: Duration::from_secs(cfg.silence_secs),
            capture: Mutex::default(),
        });
        let mp3 = Mp3::new(channels as u8, cfg.bitrate_kbps)
            .inspect_err(|e| tracing::error!("no MP3 stream: {e}"))
            .ok();
        if let (false, Some(encoder)) = (off, encoder) {
            let me = live.clone();
            let (ended_tx, ended) = oneshot::channel();
            let spawned = std::thread::Builder::new()
                .name("capture".into())
                .spawn(move || {
                    let _ended = ended_tx;
                    me.run_capture(encoder, muxer, mp3, channels, shutdown)
                });
            match spawned {
                Ok(thread) => {
                    if let Ok(mut c) = live.capture.lock() {
                        *c = Some(CaptureThread { thread, ended });
                    }
                }
                Err(e) => {
                    live.state.send_replace(LiveState::NoInput {
                        reason: format!("cannot start the capture thread: {e}"),
                    });
                }
            }
        }
        live
    }

    /// Waits until the capture thread has ended (after shutdown; at once when none runs).
    /// A panic on the thread is raised again here, so the node's tasks see it.
    pub async fn join_capture(self: Arc<Self>) {
        let Some(CaptureThread { thread, ended }) =
            self.capture.lock().ok().and_then(|mut c| c.take())
        else {
            return;
        };
        // Err only means the sender was dropped without a value: that is the signal.
        let _ = ended.await;
        // The thread is past its work: this join waits only for it to exit.
        match tokio::task::spawn_blocking(move || thread.join()).await {
            Ok(Ok(())) => {}
            Ok(Err(panic)) => std::panic::resume_unwind(panic),
            Err(e) => tracing::warn!("cannot join the capture thread: {e}"),
        }
    }

    pub fn is_on(&self) -> bool {
        !matches!(*self.state.borrow(), LiveState::Off)
    }

    pub fn status(&self) -> LiveStatus {
        let silent_for_secs = self
            .silent_since
            .lock()
            .ok()
            .and_then(|s| *s)
            .map(|since| since.elapsed())
            .filter(|d| *d >= self.silence_after)
            .map(|d| d.as_secs());
        LiveStatus {
            state: self.state.borrow().clone(),
            source: self.source.to_string(),
            silent_for_secs,
            listeners: self.ogg.listeners() + self.mp3.listeners(),
        }
    }

    /// Listeners of `/live.ogg` and of `/live.mp3`.
    pub fn listeners(&self) -> (usize, usize) {
        (self.ogg.listeners(), self.mp3.listeners())
    }

    /// Opus packets as encoded, with the stream's channel count and pre-skip.
    pub fn packets(&self) -> (broadcast::Receiver<Bytes>, u8, u16) {
        (self.packets.subscribe(), self.channels, self.pre_skip)
    }

    /// Whole MP3 frames as encoded, for HLS.
    pub fn mp3_frames(&self) -> broadcast::Receiver<Bytes> {
        self.mp3.receiver()
    }

    /// A `/live.mp3` listener: a burst of recent frames, then the live ones.
    pub fn subscribe_mp3(&self) -> (Vec<Bytes>, broadcast::Receiver<Bytes>, ListenerGuard) {
        self.mp3.subscribe()
    }

    pub fn levels(&self) -> watch::Receiver<Levels> {
        self.levels.subscribe()
    }

    /// The Ogg header pages for a new listener, with the station's name as it is now.
    fn headers(&self) -> Bytes {
        let tags = stream_tags(&self.station.settings());
        let mut cached = self.headers.lock().unwrap_or_else(|p| p.into_inner());
        if cached.0 != tags {
            let pages = header_pages(self.serial, self.channels, self.pre_skip, &tags);
            *cached = (tags, Bytes::from(pages));
        }
        cached.1.clone()
    }

    pub fn subscribe(&self) -> Subscription {
        let (burst, pages, guard) = self.ogg.subscribe();
        Subscription {
            headers: self.headers(),
            burst,
            pages,
            guard,
        }
    }

    /// The capture loop, on its own thread, until `shutdown`.
    fn run_capture(
        self: Arc<Self>,
        mut encoder: opus::Encoder,
        mut muxer: OggOpus,
        mut mp3: Option<Mp3>,
        channels: usize,
        shutdown: CancellationToken,
    ) {
        let mut frame = vec![0i16; FRAME * channels];
        let mut packet = vec![0u8; 4000];
        let mut level_acc: Vec<i16> = Vec::with_capacity(FRAME * channels * LEVEL_FRAMES as usize);
        while !shutdown.is_cancelled() {
            let mut src = match source::open(&self.source, channels, self.capture_rate) {
                Ok(s) => s,
                Err(e) => {
                    self.no_input(&e);
                    sleep_unless(&shutdown, REOPEN_EVERY);
                    continue;
                }
            };
            tracing::info!(source = %self.source, "on air");
            self.state.send_replace(LiveState::OnAir);
            while !shutdown.is_cancelled() {
                if let Err(e) = src.read(&mut frame) {
                    self.no_input(&e);
                    break;
                }
                level_acc.extend_from_slice(&frame);
                if level_acc.len() >= FRAME * channels * LEVEL_FRAMES as usize {
                    self.measure(&level_acc, channels);
                    level_acc.clear();
                }
                match encoder.encode(&frame, &mut packet) {
                    Ok(n) => {
                        let _ = self.packets.send(Bytes::copy_from_slice(&packet[..n]));
                        if let Some(page) = muxer.push(packet[..n].to_vec(), FRAME as u64) {
                            self.ogg.publish(Bytes::from(page));
                        }
                    }
                    Err(e) => tracing::warn!("Opus encode failed: {e}"),
                }
                for f in mp3.as_mut().map(|m| m.encode(&frame)).unwrap_or_default() {
                    self.mp3.publish(Bytes::from(f));
                }
            }
            drop(src);
            sleep_unless(&shutdown, REOPEN_EVERY);
        }
        tracing::info!("capture stopped");
    }

    fn no_input(&self, e: &SourceError) {
        let reason = e.to_string();
        let changed =
            !matches!(&*self.state.borrow(), LiveState::NoInput { reason: r } if *r == reason);
        if changed {
            tracing::warn!(source = %self.source, "no input: {reason}");
            self.state.send_replace(LiveState::NoInput { reason });
        }
    }

    fn measure(&self, samples: &[i16], channels: usize) {
        let l = levels::measure(samples, channels);
        if let Ok(mut s) = self.silent_since.lock() {
            if l.loudest_rms_db() < SILENCE_DB {
                s.get_or_insert_with(Instant::now);
            } else {
                *s = None;
            }
        }
        self.levels.send_replace(l);
    }
}

fn sleep_unless(shutdown: &CancellationToken, d: Duration) {
    let until = Instant::now() + d;
    while !shutdown.is_cancelled() && Instant::now() < until {
        std::thread::sleep(Duration::from_millis(100));
    }
}
