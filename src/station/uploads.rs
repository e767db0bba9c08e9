//! Publishing from the phone, the state side: unfinished uploads (a record each, and a
//! `.part` file that grows chunk by chunk), moved into `<data>/uploads` (a library root)
//! once complete, and given their title and notes once the library has hashed them.
//!
//! Every chunk is on disk (fsync) before it is acknowledged, and records are flushed, so a
//! power cut loses no acknowledged byte and an upload resumes where it stopped. The file's
//! type is checked from its first bytes, not its name.

use std::{
    collections::HashMap,
    io::Write,
    path::{Path, PathBuf},
};

use serde::{Deserialize, Serialize};

use super::{access::random_token, Error, ItemMeta, Station};
use crate::store::{Store, Tree};

/// The library root for published files.
pub fn uploads_dir(data_dir: &Path) -> PathBuf {
    data_dir.join("uploads")
}

fn incoming_dir(data_dir: &Path) -> PathBuf {
    data_dir.join("uploads-incoming")
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Upload {
    name: String,
    size: u64,
    fingerprint: String,
    title: String,
    description: String,
    /// Set once the file is in the library folder; the record then waits for its infohash.
    path: Option<PathBuf>,
}

/// What the page says about a new upload.
pub struct NewUpload<'a> {
    pub name: &'a str,
    pub size: u64,
    /// A fingerprint of the file, so choosing the same file again finds its upload.
    pub fingerprint: &'a str,
    pub title: &'a str,
    pub description: &'a str,
}

/// How far an upload is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Progress {
    pub received: u64,
    pub size: u64,
    pub done: bool,
}

/// What became of a chunk.
#[derive(Debug, PartialEq, Eq)]
pub enum Chunk {
    /// Kept; the node now has this many bytes.
    Kept(u64),
    /// The last chunk: the file is in the library under this name.
    Finished { received: u64, file: String },
    /// The upload was finished before.
    AlreadyDone,
}

#[derive(Debug, thiserror::Error)]
pub enum UploadError {
    #[error("no such upload")]
    NotFound,
    /// The chunk is not at the end of what the node has; the page resends from here.
    #[error("the node has {0} bytes")]
    Offset(u64),
    #[error("more bytes than the file has")]
    TooLong,
    #[error("not audio")]
    NotAudio,
    #[error("{0}")]
    Io(String),
    #[error(transparent)]
    Store(#[from] Error),
}

pub struct Uploads {
    store: Store,
    data_dir: PathBuf,
}

/// Upload ids are our own random tokens; anything else is refused before touching a path.
fn valid_id(id: &str) -> bool {
    id.len() == 64 && id.bytes().all(|b| b.is_ascii_hexdigit())
}

impl Uploads {
    pub(super) fn new(store: Store, data_dir: PathBuf) -> Self {
        Self { store, data_dir }
    }

    fn part_path(&self, id: &str) -> PathBuf {
        incoming_dir(&self.data_dir).join(format!("{id}.part"))
    }

    fn received(&self, id: &str) -> u64 {
        std::fs::metadata(self.part_path(id))
            .map(|m| m.len())
            .unwrap_or(0)
    }

    fn get(&self, id: &str) -> Result<Upload, UploadError> {
        if !valid_id(id) {
            return Err(UploadError::NotFound);
        }
        self.store
            .get(Tree::Uploads, id.as_bytes())?
            .ok_or(UploadError::NotFound)
    }

    /// Starts an upload, or finds the unfinished one of the same file. Returns its id and
    /// what the node has of it.
    pub fn start(&self, new: &NewUpload) -> Result<(String, u64), UploadError> {
        if !new.fingerprint.is_empty() {
            let pending = self.store.scan::<Upload>(Tree::Uploads, &[])?;
            let same = pending.iter().find(|(_, u)| {
                u.path.is_none()
                    && u.fingerprint == new.fingerprint
                    && u.size == new.size
                    && u.name == new.name
            });
            if let Some((id, _)) = same {
                let id = String::from_utf8_lossy(id).into_owned();
                let have = self.received(&id);
                return Ok((id, have));
            }
        }
        let id = random_token();
        let up = Upload {
            name: new.name.chars().take(200).collect(),
            size: new.size,
            fingerprint: new.fingerprint.chars().take(200).collect(),
            title: new.title.trim().to_string(),
            description: new.description.trim().to_string(),
            path: None,
        };
        std::fs::create_dir_all(incoming_dir(&self.data_dir))
            .and_then(|_| std::fs::File::create(self.part_path(&id)).map(|_| ()))
            .map_err(|e| UploadError::Io(e.to_string()))?;
        self.store.put(Tree::Uploads, id.as_bytes(), &up)?;
        Ok((id, 0))
    }

    pub fn progress(&self, id: &str) -> Result<Progress, UploadError> {
        let u = self.get(id)?;
        Ok(Progress {
            received: u
                .path
                .as_ref()
                .map_or_else(|| self.received(id), |_| u.size),
            size: u.size,
            done: u.path.is_some(),
        })
    }

    /// Appends `body` at `offset`, which must be what the node already has. Writes and
    /// syncs: call it from a blocking thread. A first chunk that is not audio ends the
    /// upload.
    pub fn append(&self, id: &str, offset: u64, body: &[u8]) -> Result<Chunk, UploadError> {
        let up = self.get(id)?;
        if up.path.is_some() {
            return Ok(Chunk::AlreadyDone);
        }
        let have = self.received(id);
        if offset != have {
            return Err(UploadError::Offset(have));
        }
        if have + body.len() as u64 > up.size {
            return Err(UploadError::TooLong);
        }
        let part = self.part_path(id);
        if have == 0 && sniff(&body[..body.len().min(64)]).is_none() {
            let _ = std::fs::remove_file(&part);
            self.store.remove(Tree::Uploads, id.as_bytes())?;
            return Err(UploadError::NotAudio);
        }
        let write = || -> std::io::Result<u64> {
            let mut f = std::fs::OpenOptions::new().append(true).open(&part)?;
            f.write_all(body)?;
            f.sync_data()?;
            Ok(f.metadata()?.len())
        };
        let now = write().map_err(|e| UploadError::Io(format!("write: {e}")))?;
        if now < up.size {
            return Ok(Chunk::Kept(now));
        }
        let dest = self.finish(id, up)?;
        Ok(Chunk::Finished {
            received: now,
            file: dest
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default(),
        })
    }

    /// Moves a complete upload into the library folder under a name of its own.
    fn finish(&self, id: &str, mut up: Upload) -> Result<PathBuf, UploadError> {
        let io = |what: &str, e: std::io::Error| UploadError::Io(format!("{what}: {e}"));
        let part = self.part_path(id);
        let mut head = [0u8; 64];
        let n = std::fs::File::open(&part)
            .and_then(|mut f| std::io::Read::read(&mut f, &mut head))
            .map_err(|e| io("read back", e))?;
        let ext = sniff(&head[..n]).ok_or(UploadError::NotAudio)?;
        let dir = uploads_dir(&self.data_dir);
        std::fs::create_dir_all(&dir).map_err(|e| io("uploads folder", e))?;
        let stem = stem(&up.name);
        let dest = (0..1000)
            .map(|i| match i {
                0 => dir.join(format!("{stem}.{ext}")),
                i => dir.join(format!("{stem}-{i}.{ext}")),
            })
            .find(|p| !p.exists())
            .ok_or_else(|| UploadError::Io("too many files of this name".into()))?;
        std::fs::rename(&part, &dest).map_err(|e| io("move into the library", e))?;
        // The rename is durable only once the folder is.
        if let Ok(d) = std::fs::File::open(&dir) {
            let _ = d.sync_all();
        }
        up.path = Some(dest.clone());
        self.store.put(Tree::Uploads, id.as_bytes(), &up)?;
        Ok(dest)
    }
}

impl Station {
    /// Gives finished uploads their title and notes once the library has hashed them
    /// (`by_path`: library file -> infohash), then forgets the upload.
    pub fn adopt_uploads(&self, by_path: &HashMap<&Path, &str>) {
        let Ok(pending) = self.store.scan::<Upload>(Tree::Uploads, &[]) else {
            return;
        };
        for (id, up) in pending {
            let Some(path) = &up.path else { continue };
            let Some(ih) = by_path.get(path.as_path()) else {
                continue;
            };
            let meta = ItemMeta {
                title: (!up.title.is_empty()).then(|| up.title.clone()),
                description: (!up.description.is_empty()).then(|| up.description.clone()),
                keep: false,
            };
            let r = self
                .set_item_meta(ih, &meta)
                .and_then(|_| Ok(self.store.remove(Tree::Uploads, &id)?));
            if let Err(e) = r {
                tracing::warn!("upload notes: {e}");
            }
        }
    }
}

/// Audio types recognised from a file's first bytes, with the extension it is given.
pub fn sniff(head: &[u8]) -> Option<&'static str> {
    if head.starts_with(b"ID3") {
        return Some("mp3");
    }
    if head.starts_with(b"OggS") {
        // Opus in Ogg names itself in the first page.
        return Some(if head.windows(8).any(|w| w == b"OpusHead") {
            "opus"
        } else {
            "ogg"
        });
    }
    if head.starts_with(b"fLaC") {
        return Some("flac");
    }
    if head.len() >= 12 && &head[..4] == b"RIFF" && &head[8..12] == b"WAVE" {
        return Some("wav");
    }
    if head.len() >= 12 && &head[4..8] == b"ftyp" {
        return Some("m4a");
    }
    // A bare MPEG audio frame: 11 sync bits, a layer, a bitrate index that is not "bad".
    if head.len() >= 3
        && head[0] == 0xff
        && head[1] & 0xe0 == 0xe0
        && head[1] & 0x06 != 0
        && head[2] & 0xf0 != 0xf0
    {
        return Some("mp3");
    }
    None
}

/// A safe file stem from the operator's file name: letters, digits, spaces, `-_.()`.
fn stem(name: &str) -> String {
    let base = name.rsplit(['/', '\\']).next().unwrap_or("");
    let base = base.rsplit_once('.').map_or(base, |(s, _)| s);
    let clean: String = base
        .chars()
        .filter(|c| c.is_alphanumeric() || " -_().".contains(*c))
        .take(100)
        .collect();
    let clean = clean.trim().trim_start_matches('.').to_string();
    if clean.is_empty() {
        "episode".into()
    } else {
        clean
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::station::testing::station;

    #[test]
    fn audio_is_recognised_by_content() {
        assert_eq!(sniff(b"ID3\x04\0\0"), Some("mp3"));
        assert_eq!(sniff(&[0xff, 0xfb, 0x90, 0x64]), Some("mp3"));
        assert_eq!(sniff(b"OggS\0\x02....OpusHead"), Some("opus"));
        assert_eq!(sniff(b"OggS\0\x02....\x01vorbis"), Some("ogg"));
        assert_eq!(sniff(b"fLaC\0\0\0\x22"), Some("flac"));
        assert_eq!(sniff(b"RIFF\x24\0\0\0WAVEfmt "), Some("wav"));
        assert_eq!(sniff(b"\0\0\0\x20ftypM4A "), Some("m4a"));
        assert_eq!(sniff(b"<html><body>"), None);
        assert_eq!(sniff(b"\x7fELF\x02\x01"), None);
        assert_eq!(sniff(&[0xff, 0xd8, 0xff, 0xe0]), None, "a JPEG is not MP3");
    }

    #[test]
    fn names_are_made_safe() {
        assert_eq!(stem("../../etc/passwd.mp3"), "passwd");
        assert_eq!(stem("My Show (live).wav"), "My Show (live)");
        assert_eq!(stem("...."), "episode");
        assert_eq!(stem("a<b>c\"d.ogg"), "abcd");
        assert!(!valid_id("../x") && valid_id(&"a".repeat(64)));
    }

    #[test]
    fn an_upload_resumes_finishes_and_gets_its_notes() {
        let (dir, station) = station();
        let body = b"ID3\x04\0\0 some audio bytes".to_vec();
        let new = NewUpload {
            name: "show.mp3",
            size: body.len() as u64,
            fingerprint: "fp",
            title: "Morning show",
            description: "",
        };
        let (id, have) = station.uploads.start(&new).unwrap();
        assert_eq!(have, 0);
        assert_eq!(
            station.uploads.append(&id, 0, &body[..5]).unwrap(),
            Chunk::Kept(5)
        );
        assert_eq!(
            station.uploads.start(&new).unwrap(),
            (id.clone(), 5),
            "same file found"
        );
        assert!(matches!(
            station.uploads.append(&id, 0, &body[..5]),
            Err(UploadError::Offset(5))
        ));
        let done = station.uploads.append(&id, 5, &body[5..]).unwrap();
        assert_eq!(
            done,
            Chunk::Finished {
                received: body.len() as u64,
                file: "show.mp3".into()
            }
        );
        let path = uploads_dir(dir.path()).join("show.mp3");
        assert_eq!(std::fs::read(&path).unwrap(), body);
        assert!(station.uploads.progress(&id).unwrap().done);
        station.adopt_uploads(&HashMap::from([(path.as_path(), "ab".repeat(20).as_str())]));
        assert_eq!(
            station.item_meta()[&"ab".repeat(20)].title.as_deref(),
            Some("Morning show")
        );
        assert!(matches!(
            station.uploads.progress(&id),
            Err(UploadError::NotFound)
        ));
    }
}
