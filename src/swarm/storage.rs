//! A read-only librqbit storage that reads each torrent's file where the library found it.
//!
//! librqbit's stock filesystem storage opens files read-write and sets their length after
//! the check, which would fail on the read-only USB mount, or truncate a file that grew.
//! This one opens the file read-only, refuses every write, and never deletes anything.
//! The file is looked up by infohash in the library catalog, so a copy that moves between
//! folders is found without librqbit's idea of an output folder.

use std::{any::TypeId, fs::File, os::unix::fs::FileExt, path::PathBuf, sync::Arc};

use anyhow::{bail, Context};
use librqbit::{
    storage::{
        filesystem::FilesystemStorageFactory, BoxStorageFactory, StorageFactory, StorageFactoryExt,
        TorrentStorage,
    },
    ManagedTorrentShared, TorrentMetadata,
};
use tokio::sync::watch;

use crate::library::Catalog;

#[derive(Clone)]
pub struct ReadOnlyFactory {
    catalog: watch::Receiver<Arc<Catalog>>,
}

impl ReadOnlyFactory {
    pub fn new(catalog: watch::Receiver<Arc<Catalog>>) -> Self {
        Self { catalog }
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
        let path = self
            .catalog
            .borrow()
            .items
            .get(&infohash)
            .map(|i| i.path().to_path_buf())
            .with_context(|| format!("{infohash} is not in the library"))?;
        Ok(ReadOnlyStorage { path, file: None })
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
    file: Option<Arc<File>>,
}

impl ReadOnlyStorage {
    fn file(&self) -> anyhow::Result<&File> {
        self.file.as_deref().context("storage not initialized")
    }
}

impl TorrentStorage for ReadOnlyStorage {
    fn init(
        &mut self,
        _shared: &ManagedTorrentShared,
        meta: &TorrentMetadata,
    ) -> anyhow::Result<()> {
        if meta.file_infos.len() != 1 {
            bail!("library torrents have exactly one file");
        }
        let f = File::open(&self.path)
            .with_context(|| format!("cannot open {} for reading", self.path.display()))?;
        self.file = Some(Arc::new(f));
        Ok(())
    }

    fn pread_exact(&self, file_id: usize, offset: u64, buf: &mut [u8]) -> anyhow::Result<()> {
        if file_id != 0 {
            bail!("no file {file_id}");
        }
        self.file()?
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

    fn ensure_file_length(&self, _file_id: usize, length: u64) -> anyhow::Result<()> {
        let actual = self.file()?.metadata()?.len();
        if actual != length {
            bail!(
                "{} is {actual} bytes, the torrent says {length}; it will be rehashed",
                self.path.display()
            );
        }
        Ok(())
    }

    fn take(&self) -> anyhow::Result<Box<dyn TorrentStorage>> {
        Ok(Box::new(Self {
            path: self.path.clone(),
            file: self.file.clone(),
        }))
    }
}
