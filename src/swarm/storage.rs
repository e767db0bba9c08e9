//! A read-only librqbit storage that reads each torrent's file where the library found it.
//!
//! librqbit's stock filesystem storage opens files read-write and sets their length after
//! the check, which would fail on the read-only USB mount, or truncate a file that grew.
//! This one opens the file read-only, refuses every write, and never deletes anything.
//! The file is looked up by infohash in the library catalog (then in the swarm's extras), so
//! a copy that moves between folders is found without librqbit's idea of an output folder. A read that fails (the
//! USB stick was pulled and put back, so the old descriptor is dead) opens the file again
//! by path once before giving up, so a paused torrent resumes on the re-mounted stick.

use std::{
    any::TypeId,
    fs::File,
    os::unix::fs::FileExt,
    path::PathBuf,
    sync::{Arc, RwLock},
};

use anyhow::{bail, Context};
use librqbit::{
    storage::{
        filesystem::FilesystemStorageFactory, BoxStorageFactory, StorageFactory, StorageFactoryExt,
        TorrentStorage,
    },
    ManagedTorrentShared, TorrentMetadata,
};
use tokio::sync::watch;

use super::Extras;
use crate::library::Catalog;

#[derive(Clone)]
pub struct ReadOnlyFactory {
    catalog: watch::Receiver<Arc<Catalog>>,
    extras: watch::Receiver<Extras>,
}

impl ReadOnlyFactory {
    pub fn new(catalog: watch::Receiver<Arc<Catalog>>, extras: watch::Receiver<Extras>) -> Self {
        Self { catalog, extras }
    }
}

impl StorageFactory for ReadOnlyFactory {
    type Storage = ReadOnlyStorage;

    fn create(
        &self,
        shared: &ManagedTorrentShared,
        _metadata: &TorrentMetadata,
    ) -> anyhow::Result<ReadOnlyStorage> {
        let infohash = shared.info_hash.as_string();
        let in_library = self
            .catalog
            .borrow()
            .items
            .get(&infohash)
            .map(|i| i.path().to_path_buf());
        let path = in_library
            .or_else(|| self.extras.borrow().get(&infohash).map(|e| e.path.clone()))
            .with_context(|| format!("{infohash} is not in the library"))?;
        Ok(ReadOnlyStorage {
            path,
            len: 0,
            file: Arc::default(),
        })
    }

    /// librqbit's session persistence (which keeps the fastresume bitfields, so a restart
    /// does not re-check the whole library) accepts only the filesystem storage. This one
    /// reads the same on-disk files, only never writes them, so it answers as that type.
    fn is_type_id(&self, type_id: TypeId) -> bool {
        type_id == TypeId::of::<FilesystemStorageFactory>() || type_id == TypeId::of::<Self>()
    }

    fn clone_box(&self) -> BoxStorageFactory {
        self.clone().boxed()
    }
}

pub struct ReadOnlyStorage {
    path: PathBuf,
    /// The length the torrent expects; a reopened file of another length is refused.
    len: u64,
    file: Arc<RwLock<Option<Arc<File>>>>,
}

impl ReadOnlyStorage {
    fn open(&self) -> anyhow::Result<Arc<File>> {
        let f = File::open(&self.path)
            .with_context(|| format!("cannot open {} for reading", self.path.display()))?;
        let actual = f.metadata()?.len();
        if actual != self.len {
            bail!(
                "{} is {actual} bytes, the torrent says {}; it will be rehashed",
                self.path.display(),
                self.len
            );
        }
        let f = Arc::new(f);
        *self.file.write().unwrap_or_else(|p| p.into_inner()) = Some(f.clone());
        Ok(f)
    }

    fn current(&self) -> Option<Arc<File>> {
        self.file.read().unwrap_or_else(|p| p.into_inner()).clone()
    }
}

impl TorrentStorage for ReadOnlyStorage {
    fn init(
        &mut self,
        _shared: &ManagedTorrentShared,
        meta: &TorrentMetadata,
    ) -> anyhow::Result<()> {
        let [file] = meta.file_infos.as_slice() else {
            bail!("seeded torrents have exactly one file");
        };
        self.len = file.len;
        self.open()?;
        Ok(())
    }

    fn pread_exact(&self, file_id: usize, offset: u64, buf: &mut [u8]) -> anyhow::Result<()> {
        if file_id != 0 {
            bail!("no file {file_id}");
        }
        if let Some(f) = self.current() {
            if f.read_exact_at(buf, offset).is_ok() {
                return Ok(());
            }
        }
        self.open()?
            .read_exact_at(buf, offset)
            .with_context(|| format!("reading {}", self.path.display()))
    }

    fn pwrite_all(&self, _file_id: usize, _offset: u64, _buf: &[u8]) -> anyhow::Result<()> {
        bail!("library files are read-only: {}", self.path.display())
    }

    fn remove_file(&self, _file_id: usize, _filename: &std::path::Path) -> anyhow::Result<()> {
        // Deleting a torrent must never delete the station's archive.
        Ok(())
    }

    fn remove_directory_if_empty(&self, _path: &std::path::Path) -> anyhow::Result<()> {
        Ok(())
    }

    /// The file is checked against the torrent's length when opened; it is never resized.
    fn ensure_file_length(&self, _file_id: usize, length: u64) -> anyhow::Result<()> {
        if length != self.len {
            bail!("{}: unexpected length {length}", self.path.display());
        }
        Ok(())
    }

    fn take(&self) -> anyhow::Result<Box<dyn TorrentStorage>> {
        Ok(Box::new(Self {
            path: self.path.clone(),
            len: self.len,
            file: self.file.clone(),
        }))
    }
}
