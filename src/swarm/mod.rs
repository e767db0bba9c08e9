//! Seeding the library to BitTorrent peers with one librqbit session.
//!
//! `run` keeps the session's torrents equal to the library catalog: every catalog item is
//! seeded from where it lies (through the read-only storage), a removed file's torrent is
//! dropped, and a torrent that failed (a read error on a pulled stick) is added again once
//! its file is back. librqbit's JSON persistence with fastresume lives in the data dir, so
//! after a restart the torrents come back without reading the whole library again.
//!
//! Besides the library, it seeds the few [`Extras`] the node shares that are not episodes
//! (the system update this box verified, `update::share`): given by infohash on a watch
//! channel, kept like catalog items, never listed by the library.

mod storage;

use std::{
    collections::{BTreeMap, HashMap},
    net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr},
    num::NonZeroU32,
    path::{Path, PathBuf},
    sync::Arc,
    time::Duration,
};

use librqbit::{
    api::TorrentIdOrHash, dht::DhtPersistenceConfig, limits::LimitsConfig, AddTorrent,
    AddTorrentOptions, AddTorrentResponse, DhtSessionConfig, ListenerMode, ListenerOptions,
    ManagedTorrent, ManagedTorrentState, Session, SessionOptions, SessionPersistenceConfig,
    TorrentStatsState,
};
use serde::Serialize;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use crate::{
    config::Settings,
    library::{torrent, Catalog, Library},
};
use storage::ReadOnlyFactory;

/// How often failed torrents are retried even when the catalog did not change.
const RETRY_EVERY: Duration = Duration::from_secs(30);

#[derive(Debug, thiserror::Error)]
pub enum SwarmError {
    #[error("cannot start the BitTorrent session on port {port}: {source:#}")]
    Start { port: u16, source: anyhow::Error },
}

/// A file seeded that is not a library item: where it lies and its info dictionary.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Extra {
    pub path: PathBuf,
    pub info: torrent::Info,
}

/// The extra files to seed, by infohash (hex).
pub type Extras = Arc<BTreeMap<String, Extra>>;

#[derive(Debug, Default, Clone, Copy, Serialize)]
pub struct SwarmStats {
    pub torrents: usize,
    pub live: usize,
    pub uploaded_bytes: u64,
    pub upload_bps: u64,
}

pub struct Swarm {
    session: Arc<Session>,
    /// librqbit's persistence folder: its session.json and fastresume bitfields.
    state_dir: PathBuf,
    library: Arc<Library>,
    extras: watch::Receiver<Extras>,
    trackers: Vec<String>,
}

impl Swarm {
    /// Starts the session, listening on `peer_port`. Torrents persisted by the last run
    /// are restored here, from the catalog that the library has already published (and
    /// the extras known by then; one whose file is not yet known is added again when it is).
    pub async fn start(
        settings: &Settings,
        library: Arc<Library>,
        extras: watch::Receiver<Extras>,
        peer_id: [u8; 20],
    ) -> Result<Self, SwarmError> {
        let port = settings.peer_port;
        let err = |source| SwarmError::Start { port, source };
        let state_dir = settings.data_dir.join("swarm");
        std::fs::create_dir_all(&state_dir).map_err(|e| err(e.into()))?;
        let cfg = &settings.swarm;
        let opts = SessionOptions {
            dht: cfg.dht.then(|| DhtSessionConfig {
                persistence: Some(DhtPersistenceConfig {
                    config_filename: Some(state_dir.join("dht.json")),
                    ..Default::default()
                }),
                ..Default::default()
            }),
            persistence: Some(SessionPersistenceConfig::Json {
                folder: Some(state_dir.clone()),
            }),
            fastresume: true,
            // The tracker lists the node under this id, so clients that check it agree.
            peer_id: Some(librqbit::dht::Id20::new(peer_id)),
            listen: Some(ListenerOptions {
                mode: if cfg.utp {
                    ListenerMode::TcpAndUtp
                } else {
                    ListenerMode::TcpOnly
                },
                listen_addr: SocketAddr::new(any_ip(), port),
                // librqbit's own UPnP forwarder stays off: `system::portmap` maps this port
                // with the node's others, removes it on shutdown and reports it, where
                // librqbit's maps TCP only, never removes it and says nothing.
                enable_upnp_port_forwarding: false,
                ..Default::default()
            }),
            default_storage_factory: Some(librqbit::storage::StorageFactoryExt::boxed(
                ReadOnlyFactory::new(library.subscribe(), extras.clone()),
            )),
            ratelimits: LimitsConfig {
                upload_bps: NonZeroU32::new(cfg.upload_limit_kib.saturating_mul(1024)),
                download_bps: None,
            },
            disable_local_service_discovery: !cfg.lsd,
            // Seeding a read-only library: a few blocking threads are enough on a Pi.
            runtime_worker_threads: Some(4),
            client_name_and_version: Some(concat!("streamp2p ", env!("CARGO_PKG_VERSION")).into()),
            ..Default::default()
        };
        let session = Session::new_with_opts(settings.data_dir.join("downloads"), opts)
            .await
            .map_err(err)?;
        Ok(Self {
            session,
            state_dir,
            library,
            extras,
            trackers: cfg.trackers.clone(),
        })
    }

    /// Keeps the session in step with the catalog and the extras until `shutdown`.
    pub async fn run(self: Arc<Self>, shutdown: CancellationToken) {
        let mut catalog = self.library.subscribe();
        let mut extras = self.extras.clone();
        loop {
            let snapshot = catalog.borrow_and_update().clone();
            let extra = extras.borrow_and_update().clone();
            self.reconcile(&snapshot, &extra).await;
            tokio::select! {
                _ = shutdown.cancelled() => break,
                r = catalog.changed() => if r.is_err() { break },
                r = extras.changed() => if r.is_err() { break },
                _ = tokio::time::sleep(RETRY_EVERY) => {}
            }
        }
        // No session.stop(): everything librqbit keeps is on disk already (torrents when
        // added, bitfields when checked), and stopping pauses every torrent with an error
        // line each. The session's tasks end with the process.
    }

    /// Brings the session in line with the catalog and the extras: seed what is there,
    /// pause what is on a pulled stick (its verified pieces are kept for when it returns),
    /// drop what is gone, and re-add a torrent that failed or whose file moved.
    async fn reconcile(&self, catalog: &Catalog, extras: &Extras) {
        let managed: HashMap<String, (usize, Arc<ManagedTorrent>)> =
            self.session.with_torrents(|it| {
                it.map(|(id, h)| (h.info_hash().as_string(), (id, h.clone())))
                    .collect()
            });
        for (infohash, (id, handle)) in &managed {
            let wanted = match catalog.items.get(infohash) {
                Some(item) => Some(item.path()),
                None => extras.get(infohash).map(|e| e.path.as_path()),
            };
            let action = match wanted {
                Some(path) if is_failed(handle) || !seeds_from(handle, path) => Action::Readd,
                Some(_) if handle.is_paused() => Action::Resume,
                Some(_) => continue,
                None if catalog.offline.contains(infohash) => match handle.is_paused() {
                    true => continue,
                    false => Action::Pause,
                },
                None => Action::Drop,
            };
            tracing::info!(infohash, ?action, "swarm");
            let done = match action {
                Action::Pause => self.session.pause(handle).await,
                Action::Resume => self.session.unpause(handle).await,
                Action::Readd | Action::Drop => {
                    self.session.delete(TorrentIdOrHash::Id(*id), false).await
                }
            };
            if let Err(e) = done {
                tracing::warn!(infohash, ?action, "{e:#}");
            }
            if matches!(action, Action::Readd) {
                self.add(infohash, catalog, extras).await;
            }
        }
        for infohash in catalog.items.keys().chain(extras.keys()) {
            if !managed.contains_key(infohash) {
                self.add(infohash, catalog, extras).await;
            }
        }
    }

    async fn add(&self, infohash: &str, catalog: &Catalog, extras: &Extras) {
        let (path, info) = match catalog.items.get(infohash) {
            Some(item) => match self.library.info(infohash) {
                Some(info) => (item.path().to_path_buf(), info),
                None => return,
            },
            None => match extras.get(infohash) {
                Some(e) => (e.path.clone(), e.info.clone()),
                None => return,
            },
        };
        // librqbit gets only the external trackers: the node's own tracker counts the node
        // as a seeder of its library without an announce to itself.
        if let Err(e) = self.write_have_all(infohash, &info) {
            tracing::warn!(infohash, "cannot write fastresume bitfield: {e}");
        }
        let bytes = torrent::torrent_file(&info, &self.trackers, &[]);
        let folder: Option<PathBuf> = path.parent().map(PathBuf::from);
        let opts = AddTorrentOptions {
            overwrite: true,
            output_folder: folder.map(|f| f.to_string_lossy().into_owned()),
            ..Default::default()
        };
        match self
            .session
            .add_torrent(AddTorrent::from_bytes(bytes), Some(opts))
            .await
        {
            Ok(AddTorrentResponse::Added(..) | AddTorrentResponse::AlreadyManaged(..)) => {
                tracing::info!(infohash, name = info.name, "seeding");
            }
            Ok(AddTorrentResponse::ListOnly(_)) => {}
            Err(e) => tracing::warn!(infohash, "cannot seed {}: {e:#}", info.name),
        }
    }

    /// librqbit reads a whole file again when its torrent is first added, although the
    /// library has just hashed every piece of these same bytes (same size and mtime). On a
    /// USB stick that doubles the first hashing of an archive. Writing librqbit's fastresume
    /// bitfield (every piece present) first turns that into its spot check of a few pieces.
    /// librqbit ignores a bitfield of the wrong length and checks in full, so a change of
    /// its format would cost time, never data.
    fn write_have_all(&self, infohash: &str, info: &torrent::Info) -> std::io::Result<()> {
        let path = self.state_dir.join(format!("{infohash}.bitv"));
        if path.exists() {
            return Ok(());
        }
        let pieces = info.length.div_ceil(info.piece_length);
        let mut bits = vec![0xffu8; pieces.div_ceil(8) as usize];
        if let (Some(last), rem @ 1..) = (bits.last_mut(), pieces % 8) {
            // Most significant bit first; bits past the last piece stay clear.
            *last = 0xff << (8 - rem);
        }
        let tmp = path.with_extension("bitv.tmp");
        std::fs::write(&tmp, &bits)?;
        std::fs::rename(tmp, path)
    }

    pub fn stats(&self) -> SwarmStats {
        self.session.with_torrents(|it| {
            let mut s = SwarmStats::default();
            for (_, h) in it {
                let st = h.stats();
                s.torrents += 1;
                s.uploaded_bytes += st.uploaded_bytes;
                if let Some(live) = &st.live {
                    s.upload_bps += live.upload_speed.as_bytes();
                }
                if matches!(st.state, TorrentStatsState::Live) {
                    s.live += 1;
                }
            }
            s
        })
    }
}

#[derive(Debug, Clone, Copy)]
enum Action {
    Pause,
    Resume,
    Readd,
    Drop,
}

/// Whether the torrent reads the file at `path`, the item's first copy (it was added from
/// another copy that has since gone, for example).
fn seeds_from(h: &ManagedTorrent, path: &Path) -> bool {
    path.parent() == Some(h.output_folder())
}

fn is_failed(h: &Arc<ManagedTorrent>) -> bool {
    h.with_state(|s| matches!(s, ManagedTorrentState::Error(_)))
}

/// `[::]` (IPv6 and IPv4) where the box has IPv6, else `0.0.0.0`.
fn any_ip() -> IpAddr {
    match std::net::TcpListener::bind((Ipv6Addr::UNSPECIFIED, 0)) {
        Ok(_) => Ipv6Addr::UNSPECIFIED.into(),
        Err(_) => Ipv4Addr::UNSPECIFIED.into(),
    }
}
