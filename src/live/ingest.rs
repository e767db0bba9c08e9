//! A studio PC's stream (BUTT, Mixxx, Liquidsoap, ffmpeg, ezstream speaking Icecast's
//! source protocol) as an input of the programme: one mount, one source at a time.
//!
//! The web side hands over the stream's bytes as they arrive ([`Feed`]); a decoder thread
//! per connection turns them into 20 ms frames (`decode`) on a bounded queue. The queue
//! pushes back: when it is full the decoder waits, the web side stops reading and TCP
//! slows the client, so a client that sends faster than real time cannot pile up delay.
//! The programme takes one frame per tick ([`Ingest::take`]); it waits for a few frames
//! after a connect or a stall (network jitter) before it plays the source.

use std::{
    io::Read,
    sync::{
        atomic::{AtomicBool, AtomicUsize, Ordering},
        mpsc::{self, Receiver, SyncSender, TryRecvError},
        Arc, Mutex,
    },
};

use bytes::Bytes;
use tokio::sync::watch;

use super::decode::{self, Decoder, Tagged};

/// Frames queued between the decoder and the programme: 1 s.
const QUEUE: usize = 50;
/// Frames needed before the source plays (after a connect or a stall): 100 ms.
const PRIME: usize = 5;
/// Above this many queued frames (a client's clock faster than ours) one is dropped.
const DRIFT: usize = 25;
/// Chunks of the stream's bytes in flight from the web side to the decoder.
const CHUNKS: usize = 16;

/// The source's own metadata: the `ice-*` headers at connect, then `/admin/metadata`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SourceInfo {
    pub name: Option<String>,
    pub description: Option<String>,
    pub genre: Option<String>,
    /// What the source says is playing now.
    pub song: Tagged,
}

struct Connected {
    frames: Receiver<Vec<i16>>,
    /// Set when the client has gone: what is queued still plays, but the mount is free.
    gone: Arc<AtomicBool>,
    queued: Arc<AtomicUsize>,
    /// Playing (primed), or waiting for PRIME frames.
    primed: bool,
}

/// The mount: who is connected, and their stream's frames.
pub struct Ingest {
    channels: usize,
    connected: Mutex<Option<Connected>>,
    info: watch::Sender<Option<SourceInfo>>,
}

/// The web side's end of a connected source: bytes in. Dropping it ends the source.
pub struct Feed {
    bytes: tokio::sync::mpsc::Sender<Bytes>,
    gone: Arc<AtomicBool>,
}

impl Drop for Feed {
    fn drop(&mut self) {
        self.gone.store(true, Ordering::Release);
    }
}

#[derive(Debug, thiserror::Error)]
pub enum IngestError {
    #[error("the mount is busy: another source is connected")]
    Busy,
    #[error("cannot start the source's decoder: {0}")]
    Thread(std::io::Error),
}

impl Ingest {
    pub fn new(channels: usize) -> Self {
        Self {
            channels,
            connected: Mutex::default(),
            info: watch::Sender::new(None),
        }
    }

    /// Takes the mount for a new source of `content_type`, unless one is connected.
    pub fn connect(
        self: &Arc<Self>,
        content_type: Option<String>,
        info: SourceInfo,
    ) -> Result<Feed, IngestError> {
        let mut slot = self.connected.lock().unwrap_or_else(|p| p.into_inner());
        if slot
            .as_ref()
            .is_some_and(|c| !c.gone.load(Ordering::Acquire))
        {
            return Err(IngestError::Busy);
        }
        let (bytes_tx, bytes_rx) = tokio::sync::mpsc::channel(CHUNKS);
        let (frames_tx, frames) = mpsc::sync_channel(QUEUE);
        let queued = Arc::new(AtomicUsize::new(0));
        let gone = Arc::new(AtomicBool::new(false));
        // An Ogg source names its songs in its own stream (each link's comments), as
        // Icecast reads them; a source that has gone names nothing for the next one.
        let (ingest, left) = (Arc::downgrade(self), gone.clone());
        let retag = move |song: Tagged| {
            if let Some(ingest) = ingest.upgrade().filter(|_| !left.load(Ordering::Acquire)) {
                ingest.set_song(song);
            }
        };
        let (count, channels) = (queued.clone(), self.channels);
        std::thread::Builder::new()
            .name("source".into())
            .spawn(move || decode_source(bytes_rx, content_type, channels, frames_tx, count, retag))
            .map_err(IngestError::Thread)?;
        *slot = Some(Connected {
            frames,
            gone: gone.clone(),
            queued,
            primed: false,
        });
        self.info.send_replace(Some(info));
        Ok(Feed {
            bytes: bytes_tx,
            gone,
        })
    }

    /// Whether a source is connected now.
    pub fn is_connected(&self) -> bool {
        self.connected.lock().map(|c| c.is_some()).unwrap_or(false)
    }

    /// New metadata from the source (`/admin/metadata`); false when none is connected.
    pub fn set_song(&self, song: Tagged) -> bool {
        self.info.send_if_modified(|i| match i {
            Some(info) if info.song != song => {
                info.song = song.clone();
                true
            }
            _ => false,
        });
        self.info.borrow().is_some()
    }

    pub fn info(&self) -> watch::Receiver<Option<SourceInfo>> {
        self.info.subscribe()
    }

    /// The source's frame for this tick, if it has one ready. Called by the programme only.
    pub fn take(&self, frame: &mut [i16]) -> bool {
        let mut slot = self.connected.lock().unwrap_or_else(|p| p.into_inner());
        let Some(c) = slot.as_mut() else {
            return false;
        };
        let queued = c.queued.load(Ordering::Acquire);
        // A client that has gone plays out what it left, however little.
        if !c.primed && !c.gone.load(Ordering::Acquire) {
            if queued < PRIME {
                // Nothing yet; or the decoder has ended and left nothing.
                if queued == 0 && matches!(c.frames.try_recv(), Err(TryRecvError::Disconnected)) {
                    self.disconnect(&mut slot);
                }
                return false;
            }
            c.primed = true;
        }
        if queued > DRIFT && c.frames.try_recv().is_ok() {
            c.queued.fetch_sub(1, Ordering::AcqRel);
        }
        match c.frames.try_recv() {
            Ok(f) => {
                c.queued.fetch_sub(1, Ordering::AcqRel);
                if f.len() == frame.len() {
                    frame.copy_from_slice(&f);
                }
                true
            }
            Err(TryRecvError::Empty) => {
                c.primed = false;
                false
            }
            Err(TryRecvError::Disconnected) => {
                self.disconnect(&mut slot);
                false
            }
        }
    }

    fn disconnect(&self, slot: &mut Option<Connected>) {
        *slot = None;
        self.info.send_replace(None);
        tracing::info!("source disconnected");
    }
}

impl Feed {
    /// Hands over the next bytes of the stream, waiting while the decoder is behind; false
    /// when the decoder has stopped (the stream could not be decoded).
    pub async fn send(&self, bytes: Bytes) -> bool {
        self.bytes.send(bytes).await.is_ok()
    }
}

/// The decoder thread: bytes in, frames out, until the client goes or the stream breaks.
fn decode_source(
    bytes: tokio::sync::mpsc::Receiver<Bytes>,
    content_type: Option<String>,
    channels: usize,
    frames: SyncSender<Vec<i16>>,
    queued: Arc<AtomicUsize>,
    mut retag: impl FnMut(Tagged),
) {
    let mime = content_type
        .as_deref()
        .map(|m| m.split(';').next().unwrap_or(m).trim());
    let reader = ChunkReader {
        rx: Mutex::new(bytes),
        current: Bytes::new(),
    };
    let mut decoder = match Decoder::open(decode::stream(reader), None, mime, channels) {
        Ok(d) => d,
        Err(e) => {
            tracing::warn!(content_type = ?mime, "source stream refused: {e}");
            return;
        }
    };
    let tagged = decoder.tagged();
    if tagged.title.is_some() || tagged.artist.is_some() {
        retag(tagged.clone());
    }
    let mut frame = vec![0i16; super::format::FRAME * channels];
    loop {
        match decoder.next_frame(&mut frame) {
            Ok(true) => {
                if let Some(song) = decoder.retagged() {
                    retag(song.clone());
                }
                queued.fetch_add(1, Ordering::AcqRel);
                if frames.send(frame.clone()).is_err() {
                    return;
                }
            }
            Ok(false) => return,
            Err(e) => {
                tracing::warn!("source stream: {e}");
                return;
            }
        }
    }
}

/// The stream's chunks as a byte reader; the end when the web side lets go. (The lock is
/// only for symphonia, which wants its sources shareable; one thread reads.)
struct ChunkReader {
    rx: Mutex<tokio::sync::mpsc::Receiver<Bytes>>,
    current: Bytes,
}

impl Read for ChunkReader {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let rx = self.rx.get_mut().unwrap_or_else(|p| p.into_inner());
        while self.current.is_empty() {
            match rx.blocking_recv() {
                Some(b) => self.current = b,
                None => return Ok(0),
            }
        }
        let n = buf.len().min(self.current.len());
        buf[..n].copy_from_slice(&self.current.split_to(n));
        Ok(n)
    }
}
