//! The station's own state, over the store: the operator's settings (live), the weekly
//! schedule, the notes on library items, the listener history, unfinished uploads and the
//! config page's access. One owner, typed methods; no other module names a store key.
//!
//! `node` builds the station first and hands it to the state side (live recorder, library,
//! federation) and to the front ends. Front ends read and ask it; they never touch the
//! store. Settings are published through a `watch` channel, so every reader sees what the
//! operator saved last, without a restart, except the parts the services take only when
//! they start (see [`config::operator::needs_restart`]): saving those asks `node` for a
//! restart ([`Station::restart_wanted`]).
//!
//! Parts: `settings` (the operator's choices over the config file), `schedule`, `items`,
//! `history`, `plays` (what played when), `uploads`, `logo`, `access` (password, sessions,
//! login limit).

pub mod access;
mod history;
mod items;
pub mod logo;
mod plays;
mod schedule;
pub mod settings;
pub mod uploads;
mod usb;

use std::sync::Arc;

use tokio::sync::{watch, Notify};

use crate::{
    config::{Config, ConfigError, Settings},
    store::Store,
};
pub use history::{Day, Sample, TwoDays};
pub use items::ItemMeta;
pub use plays::Play;
pub use settings::SaveError;

/// The station's records could not be read or written.
#[derive(Debug, thiserror::Error)]
#[error("the station's database: {0}")]
pub struct Error(#[from] crate::store::StoreError);

/// Lets `?` turn a store error into each part's own error, through [`Error`].
macro_rules! from_store_error {
    ($($t:ty),*) => {$(
        impl From<crate::store::StoreError> for $t {
            fn from(e: crate::store::StoreError) -> Self {
                Error::from(e).into()
            }
        }
    )*};
}
from_store_error!(access::AccessError, uploads::UploadError, SaveError);

pub struct Station {
    store: Store,
    /// The config file and command line, before the operator's choices.
    base: Config,
    settings: watch::Sender<Arc<Settings>>,
    /// Why the saved choices could not be used at start, if they could not.
    startup_problem: Option<settings::StartupProblem>,
    restart: Notify,
    pub access: access::Access,
    pub uploads: uploads::Uploads,
}

impl Station {
    /// The station over `store`, its settings the saved choices laid over `base` and
    /// checked. When those are unusable the station runs on `base` alone and says why
    /// ([`Station::startup_problem`]); a bad `base` is an error.
    pub fn open(store: Store, base: Config) -> Result<Arc<Self>, ConfigError> {
        let (settings, startup_problem) = settings::at_startup(&store, &base)?;
        if let Some(p) = &startup_problem {
            tracing::warn!("{p}");
        }
        let data_dir = settings.data_dir.clone();
        Ok(Arc::new(Self {
            access: access::Access::new(store.clone()),
            uploads: uploads::Uploads::new(store.clone(), data_dir),
            settings: watch::Sender::new(Arc::new(settings)),
            store,
            base,
            startup_problem,
            restart: Notify::new(),
        }))
    }

    /// The store, for the state-side modules that keep records of their own (the
    /// library's index, the federation's keys). Front ends never call this.
    pub fn store(&self) -> &Store {
        &self.store
    }

    /// The settings as the operator last saved them.
    pub fn settings(&self) -> Arc<Settings> {
        self.settings.borrow().clone()
    }

    /// Follows the settings as they are saved.
    pub fn subscribe(&self) -> watch::Receiver<Arc<Settings>> {
        self.settings.subscribe()
    }

    pub fn startup_problem(&self) -> Option<&settings::StartupProblem> {
        self.startup_problem.as_ref()
    }

    /// Asks `node` to restart the services (new settings they take only at start, a new
    /// identity key).
    pub fn request_restart(&self) {
        self.restart.notify_one();
    }

    /// Resolves when a restart was asked.
    pub async fn restart_wanted(&self) {
        self.restart.notified().await
    }
}

#[cfg(test)]
pub(crate) mod testing {
    use super::*;

    /// A station on a fresh store with the default config, and the folder that holds it.
    pub fn station() -> (tempfile::TempDir, Arc<Station>) {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let base = Config {
            data_dir: dir.path().to_path_buf(),
            ..Config::default()
        };
        (dir, Station::open(store, base).unwrap())
    }
}
