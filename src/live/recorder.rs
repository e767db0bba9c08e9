//! Records what goes on air as episodes in `<data dir>/recordings`, a library root, so
//! every show is kept and then seeded like any file: MP3 by default (the live stream's own
//! LAME frames: every podcast app and browser plays it, and a browser streams it from other
//! listeners through Media Source Extensions), or Ogg Opus (`recording.format = "opus"`).
//! Nothing is encoded twice: the recorder writes the frames or packets the stream made.
//!
//! A recording is written as a hidden `.part` file (the library skips those) and renamed
//! to its final name, `YYYY-MM-DD HH.MM <station> live.mp3` (UTC), when it reaches the split
//! length or the node stops. Pages are flushed as they come and the file is synced at the
//! end; a `.part` left by a power cut is finished at the next start, so an interrupted
//! show is kept too.
//!
//! Its title tag, what players and the listen page show, says in the station's language
//! which show it is and when it began on the box's clock (the one the weekly schedule
//! reads): `Programa de la mañana — 2 de diciembre de 2026, 10:00`.

use std::{
    io::Write,
    path::{Path, PathBuf},
    sync::Arc,
    time::{Duration, Instant, SystemTime},
};

use bytes::Bytes;
use lofty::{config::WriteOptions, id3::v2::Id3v2Tag, prelude::*};
use tokio::{sync::broadcast::error::RecvError, task::JoinHandle};
use tokio_util::sync::CancellationToken;

use super::{format::FRAME, mp3::FRAME_SAMPLES, ogg_opus::OggOpus, retention::Recordings, Live};
use crate::{
    config::RecordingFormat,
    i18n::{format, Tr},
    station::Station,
    t,
};

/// Recordings shorter than this are dropped (a test of the input, a restart).
const MIN_LENGTH: Duration = Duration::from_secs(5);
/// A recorder that could not write tries again after this long.
const RETRY_AFTER: Duration = Duration::from_secs(30);

/// Whether a write failed for want of room.
fn disk_full(e: &std::io::Error) -> bool {
    e.kind() == std::io::ErrorKind::StorageFull || e.raw_os_error() == Some(nix::libc::ENOSPC)
}

pub struct Recorder {
    dir: PathBuf,
    /// The station's name and weekly schedule, read for every recording (a renamed
    /// station or a new schedule names the next recording).
    station: Arc<Station>,
    split: Duration,
    format: RecordingFormat,
    /// Where the recorder says it is paused.
    state: Arc<Recordings>,
}

struct Open {
    file: std::fs::File,
    part: PathBuf,
    done: PathBuf,
    muxer: Muxer,
    samples: u64,
}

/// What the recorder receives from the live stream, and how it goes into the file.
enum Muxer {
    /// Opus packets of 20 ms, framed into Ogg pages.
    Ogg(OggOpus),
    /// Whole MPEG frames of 1152 samples, written as they are after an ID3v2 tag.
    Mp3,
}

/// The stream a recording is made of: Opus packets with what their Ogg headers need, or
/// MP3 frames.
enum Input {
    Opus { channels: u8, pre_skip: u16 },
    Mp3,
}

impl Muxer {
    /// The file's bytes for one packet or frame, and the samples (at 48 kHz) it holds.
    fn push(&mut self, unit: Bytes) -> (Option<Vec<u8>>, u64) {
        match self {
            Muxer::Ogg(ogg) => (ogg.push(unit.to_vec(), FRAME as u64), FRAME as u64),
            Muxer::Mp3 => (Some(unit.to_vec()), FRAME_SAMPLES),
        }
    }
}

impl Recorder {
    pub fn new(
        dir: PathBuf,
        station: Arc<Station>,
        split: Duration,
        format: RecordingFormat,
        state: Arc<Recordings>,
    ) -> Self {
        Self {
            dir,
            station,
            split,
            format,
            state,
        }
    }

    fn extension(&self) -> &'static str {
        match self.format {
            RecordingFormat::Mp3 => "mp3",
            RecordingFormat::Opus => "ogg",
        }
    }

    fn station_name(&self) -> String {
        self.station.settings().station.name.clone()
    }

    /// Names of a recording started at `at`: the `.part` while writing and the final file
    /// (UTC), and the title in its tags (local time, the station's language); named after
    /// the show on air if the weekly schedule has one, else after the station.
    fn names(&self, at: SystemTime) -> (PathBuf, PathBuf, String) {
        let secs = at
            .duration_since(SystemTime::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        let (y, mo, d, h, mi) = civil(secs);
        let who = self
            .station
            .show_at(at)
            .unwrap_or_else(|| self.station_name());
        let title = {
            use chrono::{Datelike, Timelike};
            let local: chrono::DateTime<chrono::Local> = at.into();
            let tr = self.station.settings().station.language.tr();
            title(
                tr,
                &who,
                (local.year(), local.month(), local.day()),
                (local.hour(), local.minute()),
            )
        };
        let base = format!(
            "{y:04}-{mo:02}-{d:02} {h:02}.{mi:02} {} live.{}",
            sanitize(&who),
            self.extension()
        );
        (
            self.dir.join(format!(".{base}.part")),
            self.dir.join(base),
            title,
        )
    }

    /// Renames `.part` files left by an earlier run that did not stop cleanly.
    pub fn recover(&self) {
        let Ok(entries) = std::fs::read_dir(&self.dir) else {
            return;
        };
        for e in entries.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            if let Some(base) = name.strip_prefix('.').and_then(|n| n.strip_suffix(".part")) {
                let to = unique(self.dir.join(base));
                match std::fs::rename(e.path(), &to) {
                    Ok(()) => {
                        tracing::info!(file = %to.display(), "recovered an interrupted recording")
                    }
                    Err(err) => tracing::warn!(file = name, "cannot recover recording: {err}"),
                }
            }
        }
    }

    fn start(&self, input: &Input) -> std::io::Result<Open> {
        std::fs::create_dir_all(&self.dir)?;
        let (part, done, title) = self.names(SystemTime::now());
        let artist = self.station_name();
        let (muxer, headers) = match *input {
            Input::Opus { channels, pre_skip } => {
                let ogg = OggOpus::new(
                    channels,
                    pre_skip,
                    &[format!("TITLE={title}"), format!("ARTIST={artist}")],
                );
                let headers = ogg.headers().to_vec();
                (Muxer::Ogg(ogg), headers)
            }
            Input::Mp3 => (Muxer::Mp3, id3_tag(&title, &artist)?),
        };
        let mut file = std::fs::File::create(&part)?;
        file.write_all(&headers)?;
        Ok(Open {
            file,
            part,
            done,
            muxer,
            samples: 0,
        })
    }

    fn finish(open: Open) {
        let length = Duration::from_secs(open.samples / 48_000);
        let synced = open.file.sync_all();
        drop(open.file);
        if length < MIN_LENGTH {
            let _ = std::fs::remove_file(&open.part);
            return;
        }
        match synced.and_then(|_| std::fs::rename(&open.part, &open.done)) {
            Ok(()) => {
                tracing::info!(file = %open.done.display(), secs = length.as_secs(), "recording saved")
            }
            Err(e) => tracing::error!(file = %open.part.display(), "cannot finish recording: {e}"),
        }
    }

    /// Records until `shutdown`, one file per split length.
    pub async fn run(self, live: Arc<Live>, shutdown: CancellationToken) {
        self.recover();
        let (mut rx, input) = match self.format {
            RecordingFormat::Opus => {
                let (rx, channels, pre_skip) = live.packets();
                (rx, Input::Opus { channels, pre_skip })
            }
            RecordingFormat::Mp3 => (live.mp3_frames(), Input::Mp3),
        };
        let program = live.program();
        let split_samples = self.split.as_secs() * 48_000;
        let mut open: Option<Open> = None;
        // After a failed write or start (a full disk), the recorder waits before trying again.
        let mut paused_until: Option<Instant> = None;
        // The last split's finishing (a sync and a rename, off the runtime): awaited before
        // the next one and at the end, so its panic reaches this task.
        let mut finishing: Option<JoinHandle<()>> = None;
        loop {
            let packet = tokio::select! {
                _ = shutdown.cancelled() => break,
                p = rx.recv() => match p {
                    Ok(p) => p,
                    Err(RecvError::Lagged(n)) => {
                        tracing::warn!(packets = n, "recorder fell behind; a gap in the recording");
                        continue;
                    }
                    Err(RecvError::Closed) => break,
                },
            };
            if !program.borrow().on_air.is_live() {
                // Automation and dead air are not a show: the recording ends here.
                if let Some(o) = open.take() {
                    settle(finishing.take()).await;
                    finishing = Some(tokio::task::spawn_blocking(move || Self::finish(o)));
                }
                continue;
            }
            if paused_until.is_some_and(|t| Instant::now() < t) {
                continue;
            }
            paused_until = None;
            if open.is_none() {
                match self.start(&input) {
                    Ok(o) => {
                        open = Some(o);
                        self.state.set_paused(false);
                    }
                    Err(e) => {
                        tracing::error!(dir = %self.dir.display(), "cannot start a recording: {e}");
                        self.state.set_paused(disk_full(&e));
                        paused_until = Some(Instant::now() + RETRY_AFTER);
                        continue;
                    }
                }
            }
            let Some(o) = open.as_mut() else { continue };
            let (bytes, samples) = o.muxer.push(packet);
            o.samples += samples;
            let written = bytes.map_or(Ok(()), |b| o.file.write_all(&b));
            if let Err(e) = written {
                // The stream goes on; the recording keeps what it has and waits for room.
                tracing::error!(file = %o.part.display(), "recording write failed, paused: {e}");
                self.state.set_paused(disk_full(&e));
                paused_until = Some(Instant::now() + RETRY_AFTER);
                if let Some(o) = open.take() {
                    settle(finishing.take()).await;
                    finishing = Some(tokio::task::spawn_blocking(move || Self::finish(o)));
                }
                continue;
            }
            if o.samples >= split_samples {
                if let Some(o) = open.take() {
                    settle(finishing.take()).await;
                    finishing = Some(tokio::task::spawn_blocking(move || Self::finish(o)));
                }
            }
        }
        settle(finishing.take()).await;
        if let Some(o) = open.take() {
            settle(Some(tokio::task::spawn_blocking(move || Self::finish(o)))).await;
        }
    }
}

/// Waits for a recording's finishing; its panic goes on in the caller, the recorder task,
/// where the node sees it.
async fn settle(finishing: Option<JoinHandle<()>>) {
    let Some(h) = finishing else { return };
    if let Err(e) = h.await {
        if e.is_panic() {
            std::panic::resume_unwind(e.into_panic());
        }
    }
}

/// An MP3 recording's ID3v2 tag: its title and the station as artist, which podcast apps,
/// players and the library read.
fn id3_tag(title: &str, artist: &str) -> std::io::Result<Vec<u8>> {
    let mut tag = Id3v2Tag::new();
    tag.set_title(title.to_string());
    tag.set_artist(artist.to_string());
    let mut out = Vec::new();
    tag.dump_to(&mut out, WriteOptions::default())
        .map_err(std::io::Error::other)?;
    Ok(out)
}

/// A recording's title: who is on air, and the day and time it began.
fn title(tr: Tr, who: &str, (y, mo, d): (i32, u32, u32), (h, mi): (u32, u32)) -> String {
    t!(
        tr,
        "listen-recording-title",
        who = who,
        date = format::date(tr, y, mo, d),
        time = format::time(h, mi),
    )
}

/// `path`, or `path` with " 2", " 3"... before the extension if it exists already: two
/// recordings started in the same minute (a restart) must not overwrite each other.
fn unique(path: PathBuf) -> PathBuf {
    if !path.exists() {
        return path;
    }
    let stem = path
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    let ext = path
        .extension()
        .map(|e| format!(".{}", e.to_string_lossy()))
        .unwrap_or_default();
    (2..)
        .map(|n| path.with_file_name(format!("{stem} {n}{ext}")))
        .find(|p| !p.exists())
        .unwrap_or(path)
}

/// Keeps a station name usable in a file name on any file system.
fn sanitize(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_alphanumeric() || " -_".contains(c) {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// (year, month, day, hour, minute) in UTC of Unix time `secs` (proleptic Gregorian).
fn civil(secs: u64) -> (i64, u32, u32, u32, u32) {
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    // Howard Hinnant's days-to-civil algorithm.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d, (rem / 3600) as u32, ((rem % 3600) / 60) as u32)
}

/// The recordings folder under a data dir.
pub fn dir(data_dir: &Path) -> PathBuf {
    data_dir.join("recordings")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::operator::{Show, DAYS};

    /// A station of this name whose schedule has `show` on air all week.
    fn named_station(name: &str, show: Option<&str>) -> (tempfile::TempDir, Arc<Station>) {
        let (dir, station) = crate::station::testing::station();
        let mut op = station.operator().unwrap();
        op.station_name = Some(name.into());
        station.save_operator(&op).unwrap();
        if let Some(show) = show {
            let shows: Vec<Show> = DAYS
                .iter()
                .map(|d| Show::parse(d, "00:00", "24:00", show).unwrap())
                .collect();
            station.save_schedule(&shows).unwrap();
        }
        (dir, station)
    }

    #[test]
    fn civil_dates() {
        assert_eq!(civil(0), (1970, 1, 1, 0, 0));
        assert_eq!(civil(1_795_000_000), (2026, 11, 18, 11, 6));
        assert_eq!(civil(951_782_400), (2000, 2, 29, 0, 0));
    }

    #[test]
    fn names_are_hidden_until_done() {
        let (_dir, station) = named_station("Radio: One/Two", None);
        let r = Recorder::new(
            "/r".into(),
            station,
            Duration::from_secs(60),
            RecordingFormat::Mp3,
            Arc::default(),
        );
        let (part, done, title) =
            r.names(SystemTime::UNIX_EPOCH + Duration::from_secs(1_795_000_000));
        assert_eq!(
            part,
            Path::new("/r/.2026-11-18 11.06 Radio_ One_Two live.mp3.part")
        );
        assert_eq!(
            done,
            Path::new("/r/2026-11-18 11.06 Radio_ One_Two live.mp3")
        );
        // Local time: only the show's part is the same on every machine.
        assert!(title.starts_with("Radio: One/Two — "), "{title}");
        assert!(
            title.contains(" de 2026, "),
            "Spanish, the default: {title}"
        );
        let (_dir, station) = named_station("Radio", Some("Evening Jazz"));
        let jazz = Recorder::new(
            "/r".into(),
            station,
            Duration::from_secs(60),
            RecordingFormat::Opus,
            Arc::default(),
        );
        let (_, done, title) =
            jazz.names(SystemTime::UNIX_EPOCH + Duration::from_secs(1_795_000_000));
        assert_eq!(done, Path::new("/r/2026-11-18 11.06 Evening Jazz live.ogg"));
        assert!(title.starts_with("Evening Jazz — "), "{title}");
    }

    #[test]
    fn titles_in_the_station_language() {
        use crate::i18n::Lang;
        assert_eq!(
            title(
                Lang::Es.tr(),
                "Programa de la mañana",
                (2026, 12, 2),
                (10, 0)
            ),
            "Programa de la mañana — 2 de diciembre de 2026, 10:00"
        );
        assert_eq!(
            title(Lang::En.tr(), "Evening Jazz", (2026, 11, 18), (21, 5)),
            "Evening Jazz — 18 November 2026, 21:05"
        );
        assert_eq!(
            title(Lang::Eu.tr(), "Goizeko saioa", (2026, 12, 2), (9, 30)),
            "Goizeko saioa — 2026ko abenduaren 2a, 09:30"
        );
    }

    #[test]
    fn names_never_overwrite() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("a live.ogg");
        assert_eq!(unique(p.clone()), p);
        std::fs::write(&p, b"x").unwrap();
        assert_eq!(unique(p.clone()), d.path().join("a live 2.ogg"));
    }

    #[test]
    fn leftover_part_files_are_recovered() {
        let d = tempfile::tempdir().unwrap();
        std::fs::write(d.path().join(".x live.ogg.part"), b"OggS").unwrap();
        let (_dir, station) = named_station("R", None);
        let format = RecordingFormat::Opus;
        Recorder::new(
            d.path().into(),
            station,
            Duration::from_secs(60),
            format,
            Arc::default(),
        )
        .recover();
        assert!(d.path().join("x live.ogg").exists());
    }
}
