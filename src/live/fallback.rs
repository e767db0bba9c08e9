//! The fallback playlist: what plays when nobody is live. Audio items of the library (all
//! of it, one folder: `live.fallback_folder`, or the tracks chosen on the config page:
//! `live.fallback_tracks`), shuffled, none again until all have
//! played, with a crossfade between tracks. A file that cannot be decoded is skipped and
//! logged; a library that empties (a pulled USB stick) leaves the playlist waiting.
//!
//! Its own thread decodes ahead into a short bounded queue and then waits: while the
//! fallback is off air it holds its place in the track and costs nothing.

use std::{
    collections::{HashSet, VecDeque},
    path::{Path, PathBuf},
    sync::{
        atomic::{AtomicBool, Ordering},
        mpsc::{self, Receiver, SyncSender},
        Arc,
    },
    time::Duration,
};

use rand::seq::SliceRandom;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use super::{decode::Decoder, format::FRAME, sleep_unless};
use crate::{
    config::Settings,
    library::{Catalog, Item},
    station::Station,
};

/// Frames decoded ahead: 200 ms.
const AHEAD: usize = 10;
/// Crossfade between tracks: 2 s.
const CROSSFADE_FRAMES: usize = 100;
/// Wait before looking at an empty playlist again.
const IDLE: Duration = Duration::from_secs(3);

/// The track a frame belongs to, for now playing.
#[derive(Debug, Clone, PartialEq)]
pub struct Track {
    /// The library item's name (`root/folder/file.mp3`).
    pub name: String,
    pub title: String,
    pub artist: Option<String>,
}

pub struct Chunk {
    pub samples: Vec<i16>,
    pub track: Arc<Track>,
}

pub struct Fallback {
    frames: Receiver<Chunk>,
    /// The playlist has a track to play.
    has_track: Arc<AtomicBool>,
    /// A chunk taken from the queue to learn it was there, not played yet.
    ready: Option<Chunk>,
}

impl Fallback {
    pub fn start(
        library: watch::Receiver<Arc<Catalog>>,
        station: Arc<Station>,
        channels: usize,
        shutdown: CancellationToken,
    ) -> Self {
        let (tx, frames) = mpsc::sync_channel(AHEAD);
        let has_track = Arc::new(AtomicBool::new(false));
        let playing = has_track.clone();
        let player = Player {
            library,
            settings: station.subscribe(),
            channels,
            shutdown,
            tx,
            has_track: playing,
            order: Vec::new(),
            last: None,
            failed: HashSet::new(),
        };
        if let Err(e) = std::thread::Builder::new()
            .name("fallback".into())
            .spawn(move || player.run())
        {
            tracing::error!("cannot start the fallback playlist: {e}");
        }
        Self {
            frames,
            has_track,
            ready: None,
        }
    }

    /// No playlist (`live.fallback = false`): never ready.
    pub fn none() -> Self {
        let (_, frames) = mpsc::sync_channel(1);
        Self {
            frames,
            has_track: Arc::new(AtomicBool::new(false)),
            ready: None,
        }
    }

    /// Whether the playlist has something to play.
    pub fn is_ready(&mut self) -> bool {
        if self.ready.is_none() {
            self.ready = self.frames.try_recv().ok();
        }
        self.ready.is_some() || self.has_track.load(Ordering::Acquire)
    }

    /// The next frame, if decoded in time.
    pub fn take(&mut self) -> Option<Chunk> {
        self.ready.take().or_else(|| self.frames.try_recv().ok())
    }
}

struct Player {
    library: watch::Receiver<Arc<Catalog>>,
    /// The playlist's choice (folder, ticked tracks), and its changes as the page saves
    /// them.
    settings: watch::Receiver<Arc<Settings>>,
    channels: usize,
    shutdown: CancellationToken,
    tx: SyncSender<Chunk>,
    has_track: Arc<AtomicBool>,
    /// Names still to play in this round, the next last.
    order: Vec<String>,
    last: Option<String>,
    /// Items (by infohash: new content is tried again) that could not be played.
    failed: HashSet<String>,
}

/// Why the playlist thread stops.
struct Stop;

impl Player {
    fn run(mut self) {
        // The end of the previous track, faded out under the start of the next.
        let mut tail: VecDeque<Chunk> = VecDeque::with_capacity(CROSSFADE_FRAMES);
        while !self.shutdown.is_cancelled() {
            let Some((infohash, path, place, track)) = self.next_track() else {
                self.has_track.store(false, Ordering::Release);
                if self.flush(&mut tail).is_err() {
                    return;
                }
                sleep_unless(&self.shutdown, IDLE);
                continue;
            };
            self.has_track.store(true, Ordering::Release);
            match self.play(&path, &place, Arc::new(track), &mut tail) {
                Ok(true) => {}
                Ok(false) => {
                    self.failed.insert(infohash);
                }
                Err(Stop) => return,
            }
        }
    }

    /// Sends what is left of a track's end (nothing follows it).
    fn flush(&self, tail: &mut VecDeque<Chunk>) -> Result<(), Stop> {
        while let Some(c) = tail.pop_front() {
            self.tx.send(c).map_err(|_| Stop)?;
        }
        Ok(())
    }

    /// Decodes one track into the queue, its start mixed with `tail`; leaves its own last
    /// frames in `tail`. False when the file cannot be played at all.
    fn play(
        &mut self,
        path: &Path,
        place: &str,
        track: Arc<Track>,
        tail: &mut VecDeque<Chunk>,
    ) -> Result<bool, Stop> {
        let file = match std::fs::File::open(path) {
            Ok(f) => f,
            Err(e) => {
                // Gone (a pulled USB stick) until the library notices: try the next soon.
                tracing::warn!(file = %path.display(), "fallback: cannot open: {e}");
                sleep_unless(&self.shutdown, Duration::from_secs(1));
                return Ok(true);
            }
        };
        let ext = path.extension().and_then(|e| e.to_str());
        let mut decoder = match Decoder::open(Box::new(file), ext, None, self.channels) {
            Ok(d) => d,
            Err(e) => {
                tracing::warn!(file = %path.display(), "fallback: skipped, not playable: {e}");
                return Ok(false);
            }
        };
        tracing::info!(file = %path.display(), "fallback plays");
        let fade = tail.len();
        let mut n = 0usize;
        let mut frame = vec![0i16; FRAME * self.channels];
        loop {
            if self.shutdown.is_cancelled() {
                return Err(Stop);
            }
            // A track taken off the list ends here (crossfading into the next): what the
            // operator unticks stops within the queue's and the fade's few seconds.
            if self.settings.has_changed().unwrap_or(false) {
                self.settings.mark_unchanged();
                let catalog = self.library.borrow().clone();
                if !self.playable(&catalog).iter().any(|(p, _)| p == place) {
                    tracing::info!(file = %path.display(), "fallback: no longer chosen");
                    break;
                }
            }
            match decoder.next_frame(&mut frame) {
                Ok(true) => {}
                Ok(false) => break,
                Err(e) => {
                    tracing::warn!(file = %path.display(), "fallback: stopped: {e}");
                    break;
                }
            }
            if n < fade {
                if let Some(old) = tail.pop_front() {
                    crossfade(&mut frame, &old.samples, n, fade);
                }
            }
            n += 1;
            tail.push_back(Chunk {
                samples: frame.clone(),
                track: track.clone(),
            });
            if tail.len() > CROSSFADE_FRAMES {
                if let Some(c) = tail.pop_front() {
                    self.tx.send(c).map_err(|_| Stop)?;
                }
            }
        }
        Ok(n > 0)
    }

    /// The library's audio the playlist chooses from, each by its place in the library
    /// (`root-folder/sub/file.mp3`): the ticked tracks, else the folder, else all of it.
    fn playable<'c>(&self, catalog: &'c Catalog) -> Vec<(String, &'c Item)> {
        let settings = self.settings.borrow().clone();
        let (folder, chosen) = (
            &settings.live.fallback_folder,
            &settings.live.fallback_tracks,
        );
        let chosen: HashSet<&str> = chosen.iter().map(String::as_str).collect();
        let audio: Vec<(String, &Item)> = catalog
            .items
            .values()
            .filter(|i| i.mime.starts_with("audio/") && !self.failed.contains(&i.infohash))
            .map(|i| (i.place(&settings.library), i))
            .collect();
        if audio
            .iter()
            .any(|(place, _)| chosen.contains(place.as_str()))
        {
            return audio
                .into_iter()
                .filter(|(place, _)| chosen.contains(place.as_str()))
                .collect();
        }
        // No list, or none of it here (another USB stick): the folder or the library,
        // rather than silence.
        audio
            .into_iter()
            .filter(|(place, _)| in_folder(place, folder))
            .collect()
    }

    /// The next track of the round, a new shuffled round when all have played: its
    /// infohash, file, place in the library and what now playing says of it.
    fn next_track(&mut self) -> Option<(String, PathBuf, String, Track)> {
        let catalog = self.library.borrow().clone();
        let playable = self.playable(&catalog);
        if playable.is_empty() {
            return None;
        }
        let places: HashSet<&str> = playable.iter().map(|(p, _)| p.as_str()).collect();
        self.order.retain(|p| places.contains(p.as_str()));
        if self.order.is_empty() {
            self.order = playable.iter().map(|(p, _)| p.clone()).collect();
            self.order.shuffle(&mut rand::thread_rng());
            // Not the track that just ended first again.
            if self.order.len() > 1 && self.order.last() == self.last.as_ref() {
                let end = self.order.len() - 1;
                self.order.swap(0, end);
            }
        }
        let place = self.order.pop()?;
        let (_, item) = playable.iter().find(|(p, _)| *p == place)?;
        self.last = Some(place.clone());
        let title = item.tags.title.clone().unwrap_or_else(|| {
            item.path()
                .file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_else(|| item.name.clone())
        });
        Some((
            item.infohash.clone(),
            item.path().to_path_buf(),
            place,
            Track {
                name: item.name.clone(),
                title,
                artist: item.tags.artist.clone(),
            },
        ))
    }
}

/// Whether the library place `place` (`root-folder/sub/file.mp3`) is in the operator's
/// `folder`, written with its root's folder or without (`music` finds
/// `STICK/music/a.mp3`); an empty folder is the whole library.
fn in_folder(place: &str, folder: &str) -> bool {
    let folder = folder.trim_matches('/');
    let under = |p: &str| {
        p.strip_prefix(folder)
            .is_some_and(|rest| rest.starts_with('/'))
    };
    folder.is_empty() || under(place) || place.split_once('/').is_some_and(|(_, rest)| under(rest))
}

/// Mixes frame `n` of a `len`-frame crossfade: `old` fading out under `new` fading in
/// (equal power, so the level holds through the fade).
fn crossfade(new: &mut [i16], old: &[i16], n: usize, len: usize) {
    let per = new.len().max(1);
    let total = (len * per) as f32;
    for (i, (s, &o)) in new.iter_mut().zip(old).enumerate() {
        let x = ((n * per + i) as f32 / total).clamp(0.0, 1.0) * std::f32::consts::FRAC_PI_2;
        let v = f32::from(*s) * x.sin() + f32::from(o) * x.cos();
        *s = v.round().clamp(-32768.0, 32767.0) as i16;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_folder_is_found_with_or_without_its_library_root() {
        assert!(in_folder("STICK/music/a.mp3", "music"));
        assert!(in_folder("STICK/music/a.mp3", "STICK/music/"));
        assert!(in_folder("STICK/music/jingles/b.mp3", "music/jingles"));
        assert!(in_folder("STICK/talk.mp3", ""));
        assert!(!in_folder("STICK/musicals/a.mp3", "music"));
        assert!(!in_folder("STICK/talk.mp3", "music"));
        assert!(!in_folder("music.mp3", "music"));
    }

    #[test]
    fn crossfade_holds_the_level_and_ends_on_the_new_track() {
        let len = 4;
        let per = FRAME;
        let mut first = vec![10_000i16; per];
        crossfade(&mut first, &vec![10_000i16; per], 0, len);
        assert!((first[0] - 10_000).abs() < 50, "{}", first[0]);
        let mut last = vec![1000i16; per];
        crossfade(&mut last, &vec![-1000i16; per], len - 1, len);
        assert!(last[per - 1] > 990, "{}", last[per - 1]);
    }
}
