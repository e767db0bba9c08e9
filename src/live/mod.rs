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
pub mod decode;
pub mod fallback;
pub mod fanout;
pub mod format;
pub mod hls;
pub mod icy;
pub mod ingest;
pub mod levels;
pub mod mp3;
pub mod ogg_opus;
pub mod overflow;
pub mod p2p;
pub mod playlog;
pub mod push;
pub mod recorder;
pub mod resample;
pub mod retention;
pub mod seeding;
pub mod sessions;
pub mod source;
pub mod switch;

use std::{
    sync::{
        mpsc::{self, Receiver, SyncSender},
        Arc, Mutex,
    },
    time::{Duration, Instant},
};

use bytes::Bytes;
use serde::Serialize;
use tokio::sync::{broadcast, oneshot, watch};
use tokio_util::sync::CancellationToken;

use crate::{
    config::{operator::ShowKind, AudioSource, Settings},
    library::Catalog,
    station::Station,
};
use fallback::Fallback;
use fanout::{Fanout, ListenerGuard};
use format::{FRAME, RATE};
use ingest::Ingest;
use levels::Levels;
use mp3::Mp3;
use ogg_opus::{header_pages, OggOpus};
use source::SourceError;
use switch::{Offer, OnAir, Rules, Switch};

/// Pages kept for a new listener's first burst: 1 s, so playback starts at once. A player
/// plays from the burst's first byte, so every second of burst is a second of delay for
/// as long as it listens (1.5 s made `/live.ogg` heard later than through Icecast).
const BURST_PAGES: usize = 10;
/// MP3 frames in a new `/live.mp3` listener's burst: 1 s of 24 ms frames.
const BURST_MP3_FRAMES: usize = 42;
/// Ogg pages per listener write: a page is 100 ms already.
const OGG_GROUP: usize = 1;
/// MP3 frames per listener write: 4 x 24 ms, about as long as an Ogg page.
const MP3_GROUP: usize = 4;
/// Pages a listener may fall behind before it is dropped (about 6 s).
const LISTENER_BACKLOG: usize = 64;
/// Packets the recorder may fall behind (10 s) before it loses some.
const PACKET_BACKLOG: usize = 500;
/// Wait between attempts to open a failed capture device.
const REOPEN_EVERY: Duration = Duration::from_secs(3);
/// Levels are published every this many frames (5 x 20 ms = 10 Hz).
const LEVEL_FRAMES: u32 = 5;
/// One frame of the programme.
const TICK: Duration = Duration::from_millis(20);
/// How late a line-in frame may be before the programme runs on its own clock.
const LINE_WAIT: Duration = Duration::from_millis(60);
/// Line-in frames queued for the programme (its clock follows them, so few are ever there).
const LINE_QUEUE: usize = 10;
/// A switch of who is on air fades over this many frames (200 ms).
const FADE_FRAMES: u32 = 10;

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "snake_case", tag = "state")]
pub enum LiveState {
    /// Nothing to put on air: no line-in, no fallback and no source password.
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
    /// The Icecast servers the programme is pushed to.
    pub pushes: Vec<push::PushStatus>,
    /// New plain-stream listeners sent to one of them while the uplink is full.
    pub overflow: overflow::OverflowStatus,
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
/// The two streams listeners connect to: `/live.ogg` (Opus) and `/live.mp3`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Output {
    Ogg,
    Mp3,
}

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
    /// Below this RMS (dBFS) an input counts as silent.
    silence_db: f32,
    /// The programme's thread, until [`Live::join_capture`] takes it.
    capture: Mutex<Option<CaptureThread>>,
    /// A studio PC's stream, when one is connected.
    ingest: Arc<Ingest>,
    on_air: watch::Sender<Program>,
    /// The last stream title and when it was worked out.
    title_cache: Mutex<Option<(Instant, String)>>,
    /// Each `[[live.push]]` target and its state.
    pushes: Vec<(crate::config::PushTarget, watch::Sender<push::PushStatus>)>,
    /// Whether the uplink is full, from the plain-stream writers' listeners.
    overflow: overflow::Overflow,
}

/// What is playing, for listeners (the listen page, ICY titles) and directories.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct NowPlaying {
    pub on_air: Option<OnAir>,
    pub title: Option<String>,
    pub artist: Option<String>,
    /// The show on air by the weekly schedule, while live or in its playlist slot.
    pub show: Option<String>,
    /// The library item playing, for the fallback.
    pub item: Option<String>,
}

impl NowPlaying {
    /// One line for players (`StreamTitle`): `Artist - Title`, the title, or the show.
    pub fn stream_title(&self) -> String {
        self.stream_line().unwrap_or_default()
    }

    /// [`NowPlaying::stream_title`], or nothing to say.
    pub fn stream_line(&self) -> Option<String> {
        match (&self.artist, &self.title, &self.show) {
            (Some(a), Some(t), _) => Some(format!("{a} - {t}")),
            (None, Some(t), _) => Some(t.clone()),
            (_, None, Some(show)) => Some(show.clone()),
            _ => None,
        }
    }
}

/// Who is on air, and the fallback's track while it plays.
#[derive(Debug, Clone, PartialEq)]
pub struct Program {
    pub on_air: OnAir,
    pub track: Option<Arc<fallback::Track>>,
}

/// The programme's encoders: Opus into Ogg pages and packets, and MP3.
struct Encoders {
    opus: opus::Encoder,
    muxer: OggOpus,
    mp3: Option<Mp3>,
    packet: Vec<u8>,
}

impl Encoders {
    fn encode(&mut self, live: &Live, frame: &[i16]) {
        match self.opus.encode(frame, &mut self.packet) {
            Ok(n) => {
                let _ = live.packets.send(Bytes::copy_from_slice(&self.packet[..n]));
                if let Some(page) = self.muxer.push(self.packet[..n].to_vec(), FRAME as u64) {
                    live.ogg.publish(Bytes::from(page));
                }
            }
            Err(e) => tracing::warn!("Opus encode failed: {e}"),
        }
        for f in self
            .mp3
            .as_mut()
            .map(|m| m.encode(frame))
            .unwrap_or_default()
        {
            live.mp3.publish(Bytes::from(f));
        }
    }
}

/// Whether a frame has signal.
fn offer(frame: &[i16], channels: usize, silence_db: f32) -> Offer {
    if levels::measure(frame, channels).loudest_rms_db() < silence_db {
        Offer::Silent
    } else {
        Offer::Signal
    }
}

/// The fade at a switch: the input that went off air, fading out under the new one.
#[derive(Default)]
struct Fade {
    from: Option<OnAir>,
    done: u32,
}

impl Fade {
    fn start(&mut self, from: OnAir) {
        self.from = Some(from);
        self.done = 0;
    }

    /// The input still fading out, if any.
    fn outgoing(&self) -> Option<OnAir> {
        self.from
    }

    /// Mixes this frame of the fade: `frame` (the new input) rising, `old` falling.
    fn mix(&mut self, frame: &mut [i16], old: Option<&[i16]>) {
        let per = frame.len().max(1) as f32;
        let total = FADE_FRAMES as f32 * per;
        for (i, s) in frame.iter_mut().enumerate() {
            let x = (self.done as f32 * per + i as f32) / total;
            let o = old.and_then(|o| o.get(i)).copied().unwrap_or(0);
            let v = f32::from(*s) * x + f32::from(o) * (1.0 - x);
            *s = v.round().clamp(-32768.0, 32767.0) as i16;
        }
        self.done += 1;
        if self.done >= FADE_FRAMES {
            self.from = None;
        }
    }
}

struct CaptureThread {
    thread: std::thread::JoinHandle<()>,
    /// Closed when the thread's work is over (returned or unwound), so that it can be
    /// awaited without holding a runtime thread in a blocking join meanwhile.
    ended: oneshot::Receiver<()>,
}

impl Live {
    /// Starts the programme: the line-in's thread (unless the audio input is `none`), the
    /// fallback playlist over `library`, and the programme's thread. Nothing runs when there
    /// is neither a line-in, nor a fallback, nor a source password.
    pub fn start(
        station: Arc<Station>,
        library: watch::Receiver<Arc<Catalog>>,
        shutdown: CancellationToken,
    ) -> Arc<Self> {
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
            // Constant bitrate, as Icecast sources send: with VBR (constrained or not) digital
            // silence shrinks to 3-byte packets, a second of burst to under 500 bytes, and a
            // player that connects then waits seconds for the bytes it sniffs the format from
            // and plays that much behind for the rest of its session (4 s in benches/live.sh).
            if let Err(err) = e.set_vbr(false) {
                tracing::warn!("Opus constant bitrate refused: {err}");
            }
        }
        let pre_skip = encoder
            .as_mut()
            .and_then(|e| e.get_lookahead().ok())
            .unwrap_or(312) as u16;
        let tags = stream_tags(&settings);
        let muxer = OggOpus::new(channels as u8, pre_skip, &tags);
        // Without a line-in the programme still runs when something can fill it: the
        // fallback (a station on automation alone) or a studio PC (a source password).
        let line_in = settings.audio != AudioSource::None;
        let runs = line_in || cfg.fallback || !cfg.source_password.is_empty();
        let off = !runs || encoder.is_none();
        let live = Arc::new(Self {
            source: settings.audio.clone(),
            capture_rate: cfg.capture_rate,
            serial: muxer.serial(),
            headers: Mutex::new((tags, Bytes::copy_from_slice(muxer.headers()))),
            station: station.clone(),
            ogg: Fanout::new(LISTENER_BACKLOG, BURST_PAGES, OGG_GROUP),
            packets: broadcast::channel(PACKET_BACKLOG).0,
            mp3: Fanout::new(PACKET_BACKLOG, BURST_MP3_FRAMES, MP3_GROUP),
            channels: channels as u8,
            pre_skip,
            state: watch::Sender::new(match (off, line_in) {
                (true, _) => LiveState::Off,
                (false, true) => LiveState::Starting,
                // No device to wait for: the programme's own clock is on air from the start.
                (false, false) => LiveState::OnAir,
            }),
            levels: watch::Sender::new(Levels::default()),
            silent_since: Mutex::new(None),
            silence_after: Duration::from_secs(cfg.silence_secs),
            silence_db: cfg.silence_db,
            capture: Mutex::default(),
            ingest: Arc::new(Ingest::new(channels)),
            on_air: watch::Sender::new(Program {
                on_air: OnAir::Silence,
                track: None,
            }),
            title_cache: Mutex::default(),
            pushes: cfg
                .push
                .iter()
                .map(|t| {
                    let status = push::PushStatus {
                        target: t.display(),
                        state: push::PushState::Connecting,
                    };
                    (t.clone(), watch::Sender::new(status))
                })
                .collect(),
            overflow: overflow::Overflow::default(),
        });
        let (false, Some(opus)) = (off, encoder) else {
            return live;
        };
        let mp3 = Mp3::new(channels as u8, cfg.bitrate_kbps)
            .inspect_err(|e| tracing::error!("no MP3 stream: {e}"))
            .ok();
        let out = Encoders {
            opus,
            muxer,
            mp3,
            packet: vec![0u8; 4000],
        };
        let frames_per_sec = (RATE as usize / FRAME) as u64;
        let rules = Rules {
            fallback_after: (cfg.fallback_after_secs * frames_per_sec) as u32,
            hold: (cfg.hold_secs * frames_per_sec) as u32,
            source_first: cfg.source_first,
        };
        let line = line_in.then(|| {
            let (tx, rx) = mpsc::sync_channel(LINE_QUEUE);
            let (me, stop) = (live.clone(), shutdown.clone());
            let spawned = std::thread::Builder::new()
                .name("line-in".into())
                .spawn(move || me.run_line_in(tx, channels, stop));
            if let Err(e) = spawned {
                live.state.send_replace(LiveState::NoInput {
                    reason: format!("cannot start the line-in thread: {e}"),
                });
            }
            rx
        });
        let fallback = if cfg.fallback {
            Fallback::start(library, station, channels, shutdown.clone())
        } else {
            Fallback::none()
        };
        let me = live.clone();
        let (ended_tx, ended) = oneshot::channel();
        let spawned = std::thread::Builder::new()
            .name("programme".into())
            .spawn(move || {
                let _ended = ended_tx;
                me.run_program(out, line, fallback, rules, shutdown)
            });
        match spawned {
            Ok(thread) => {
                if let Ok(mut c) = live.capture.lock() {
                    *c = Some(CaptureThread { thread, ended });
                }
            }
            Err(e) => {
                live.state.send_replace(LiveState::NoInput {
                    reason: format!("cannot start the programme's thread: {e}"),
                });
            }
        }
        live
    }

    /// One task per `[[live.push]]` target, sending the programme until `shutdown`.
    pub fn push_tasks(
        self: &Arc<Self>,
        shutdown: &CancellationToken,
    ) -> Vec<impl std::future::Future<Output = ()> + Send + 'static> {
        if !self.is_on() {
            return Vec::new();
        }
        self.pushes
            .iter()
            .map(|(target, status)| {
                push::run(
                    self.clone(),
                    target.clone(),
                    status.clone(),
                    shutdown.clone(),
                )
            })
            .collect()
    }

    /// The Ogg stream for a push: header pages, then the pages as they come (not counted
    /// as a listener).
    fn ogg_feed(&self) -> (Bytes, broadcast::Receiver<Bytes>) {
        (self.ogg_headers(), self.ogg.receiver())
    }

    /// The studio PCs' way in (Icecast source protocol).
    pub fn ingest(&self) -> &Arc<Ingest> {
        &self.ingest
    }

    /// Who is on air, as it changes.
    pub fn program(&self) -> watch::Receiver<Program> {
        self.on_air.subscribe()
    }

    /// [`NowPlaying::stream_title`], worked out at most twice a second however many
    /// listeners ask (ICY titles are asked for every few kilobytes of every stream).
    pub fn stream_title(&self) -> String {
        let mut cached = self.title_cache.lock().unwrap_or_else(|p| p.into_inner());
        if let Some((at, title)) = cached.as_ref() {
            if at.elapsed() < Duration::from_millis(500) {
                return title.clone();
            }
        }
        let title = self.now_playing().stream_title();
        *cached = Some((Instant::now(), title.clone()));
        title
    }

    /// What is playing now: the fallback's track, the source's song, or the show.
    pub fn now_playing(&self) -> NowPlaying {
        if !self.is_on() {
            return NowPlaying::default();
        }
        let program = self.on_air.borrow().clone();
        let mut now = NowPlaying {
            on_air: Some(program.on_air),
            ..NowPlaying::default()
        };
        // A live show by its name; the fallback by the playlist slot it fills on purpose.
        now.show = self
            .station
            .slot_at(std::time::SystemTime::now())
            .filter(|s| match program.on_air {
                OnAir::LineIn | OnAir::Source => true,
                OnAir::Fallback => s.kind == ShowKind::Playlist,
                OnAir::Silence => false,
            })
            .map(|s| s.name);
        match program.on_air {
            OnAir::Fallback => {
                if let Some(t) = program.track {
                    now.title = Some(t.title.clone());
                    now.artist = t.artist.clone();
                    now.item = Some(t.name.clone());
                }
            }
            OnAir::Source => {
                if let Some(info) = self.ingest.info().borrow().clone() {
                    now.title = info.song.title.or(info.name);
                    now.artist = info.song.artist;
                }
            }
            OnAir::LineIn | OnAir::Silence => {}
        }
        now
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
            pushes: self
                .pushes
                .iter()
                .map(|(_, s)| s.borrow().clone())
                .collect(),
            overflow: self.overflow.status(Instant::now()),
        }
    }

    /// What the plain-stream writers measure of their listeners.
    pub fn overflow(&self) -> &overflow::Overflow {
        &self.overflow
    }

    /// Where a new listener of `output` goes instead of this box while the uplink is full:
    /// a push target of the same format that the box is sending to now. `None`: serve it
    /// here (the uplink has room, or there is nowhere to send it).
    pub fn relay_for(&self, output: Output) -> Option<String> {
        if !self.overflow.full(Instant::now()) {
            return None;
        }
        let format = match output {
            Output::Ogg => crate::config::PushFormat::Ogg,
            Output::Mp3 => crate::config::PushFormat::Mp3,
        };
        let (target, status) = self
            .pushes
            .iter()
            .find(|(t, s)| t.format == format && s.borrow().state == push::PushState::Sending)?;
        self.overflow.sent(&status.borrow().target);
        Some(target.listen_url())
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

    /// One output's fan-out, for a writer that serves its listeners itself
    /// (`web::listeners`).
    pub fn fanout(&self, output: Output) -> &Fanout {
        match output {
            Output::Ogg => &self.ogg,
            Output::Mp3 => &self.mp3,
        }
    }

    /// A `/live.mp3` listener: a burst of recent frames, then the live ones.
    pub fn subscribe_mp3(&self) -> (Vec<Bytes>, broadcast::Receiver<Bytes>, ListenerGuard) {
        self.mp3.subscribe()
    }

    pub fn levels(&self) -> watch::Receiver<Levels> {
        self.levels.subscribe()
    }

    /// The Ogg header pages for a new listener, with the station's name as it is now.
    pub fn ogg_headers(&self) -> Bytes {
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
            headers: self.ogg_headers(),
            burst,
            pages,
            guard,
        }
    }

    /// The line-in's thread: frames from the device as it delivers them, until `shutdown`
    /// or the programme stops taking them. A failed device is opened again every few
    /// seconds.
    fn run_line_in(
        self: Arc<Self>,
        frames: SyncSender<Vec<i16>>,
        channels: usize,
        shutdown: CancellationToken,
    ) {
        let mut frame = vec![0i16; FRAME * channels];
        while !shutdown.is_cancelled() {
            let mut src = match source::open(&self.source, channels, self.capture_rate) {
                Ok(s) => s,
                Err(e) => {
                    self.no_input(&e);
                    sleep_unless(&shutdown, REOPEN_EVERY);
                    continue;
                }
            };
            tracing::info!(source = %self.source, "line-in open");
            self.state.send_replace(LiveState::OnAir);
            while !shutdown.is_cancelled() {
                if let Err(e) = src.read(&mut frame) {
                    self.no_input(&e);
                    break;
                }
                if frames.send(frame.clone()).is_err() {
                    return;
                }
            }
            drop(src);
            sleep_unless(&shutdown, REOPEN_EVERY);
        }
    }

    /// The programme, on its own thread until `shutdown`: one frame every 20 ms from
    /// whoever is on air, encoded once for every output. Its clock is the line-in's while
    /// the card delivers (the card's clock is the one a studio hears), and the system's
    /// when it does not, so the stream never stalls.
    fn run_program(
        self: Arc<Self>,
        mut out: Encoders,
        line: Option<Receiver<Vec<i16>>>,
        mut fallback: Fallback,
        rules: Rules,
        shutdown: CancellationToken,
    ) {
        let channels = usize::from(self.channels);
        let samples = FRAME * channels;
        let mut switch = Switch::new(rules);
        let mut line_alive = false;
        let mut next_tick = Instant::now();
        let mut from_source = vec![0i16; samples];
        let mut frame = vec![0i16; samples];
        let mut level_acc: Vec<i16> = Vec::with_capacity(samples * LEVEL_FRAMES as usize);
        let mut fade = Fade::default();
        let mut track: Option<Arc<fallback::Track>> = None;
        // Whether a playlist slot of the schedule is on, looked up once a second.
        let (mut playlist_slot, mut until_lookup) = (false, 0u32);
        while !shutdown.is_cancelled() {
            if until_lookup == 0 {
                playlist_slot = self.station.playlist_at(std::time::SystemTime::now());
                until_lookup = RATE / FRAME as u32;
            }
            until_lookup -= 1;
            // The clock: the line-in's next frame, or the next 20 ms tick.
            let mut from_line = None;
            if let (Some(rx), true) = (&line, line_alive) {
                match rx.recv_timeout(LINE_WAIT) {
                    Ok(f) => from_line = Some(f),
                    Err(_) => line_alive = false,
                }
                next_tick = Instant::now() + TICK;
            }
            if !line_alive {
                let now = Instant::now();
                if next_tick > now {
                    std::thread::sleep(next_tick - now);
                }
                next_tick = if now > next_tick + 10 * TICK {
                    now + TICK
                } else {
                    next_tick + TICK
                };
                if let Some(f) = line.as_ref().and_then(|rx| rx.try_recv().ok()) {
                    from_line = Some(f);
                    line_alive = true;
                }
            }
            let line_offer = match &from_line {
                Some(f) => {
                    level_acc.extend_from_slice(f);
                    if level_acc.len() >= samples * LEVEL_FRAMES as usize {
                        self.measure(&level_acc, channels);
                        level_acc.clear();
                    }
                    offer(f, channels, self.silence_db)
                }
                None => Offer::Missing,
            };
            // In a playlist slot the line-in is not heard (a desk left open must not cut the
            // music), unless there is no music to play.
            let line_offer = if playlist_slot && fallback.is_ready() {
                Offer::Missing
            } else {
                line_offer
            };
            let source_offer = if self.ingest.take(&mut from_source) {
                offer(&from_source, channels, self.silence_db)
            } else if self.ingest.is_connected() {
                // Connected but late: silence, not gone (the fallback waits its time).
                Offer::Silent
            } else {
                Offer::Missing
            };
            let was = switch.on_air();
            let on = switch.next(line_offer, source_offer, fallback.is_ready());
            // What each input has for this frame; the fallback's only when it plays.
            let fallback_frame = |fb: &mut Fallback, track: &mut Option<_>| {
                fb.take().map(|c| {
                    *track = Some(c.track);
                    c.samples
                })
            };
            let pick = |who: OnAir, fb: &mut Fallback, track: &mut Option<_>| -> Option<Vec<i16>> {
                match who {
                    OnAir::LineIn => from_line.clone(),
                    OnAir::Source if source_offer != Offer::Missing => Some(from_source.clone()),
                    OnAir::Fallback => fallback_frame(fb, track),
                    _ => None,
                }
            };
            if on != was {
                tracing::info!(from = ?was, to = ?on, "on air");
                fade.start(was);
            }
            match pick(on, &mut fallback, &mut track) {
                Some(f) if f.len() == samples => frame.copy_from_slice(&f),
                _ => frame.fill(0),
            }
            if let Some(old) = fade.outgoing() {
                let mut gone = None;
                let old_frame = pick(old, &mut fallback, &mut gone);
                fade.mix(&mut frame, old_frame.as_deref());
            }
            self.publish_on_air(on, &track);
            out.encode(&self, &frame);
        }
        tracing::info!("programme stopped");
    }

    /// Tells now playing who is on air, and the fallback's track while it plays.
    fn publish_on_air(&self, on: OnAir, track: &Option<Arc<fallback::Track>>) {
        let track = (on == OnAir::Fallback).then(|| track.clone()).flatten();
        self.on_air.send_if_modified(|now| {
            if now.on_air == on && now.track == track {
                return false;
            }
            now.on_air = on;
            now.track = track;
            true
        });
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
            if l.loudest_rms_db() < self.silence_db {
                s.get_or_insert_with(Instant::now);
            } else {
                *s = None;
            }
        }
        self.levels.send_replace(l);
    }
}

pub(crate) fn sleep_unless(shutdown: &CancellationToken, d: Duration) {
    let until = Instant::now() + d;
    while !shutdown.is_cancelled() && Instant::now() < until {
        std::thread::sleep(Duration::from_millis(100));
    }
}
