//! The operator's choices (an [`Operator`] record in the store) laid over the config file,
//! validated by the same code as the file, and published to every reader.

use std::sync::Arc;

use super::{Error, Station};
use crate::{
    config::{
        operator::{needs_restart, Operator},
        Config, ConfigError, Settings,
    },
    store::{Setting, Store},
};

/// Why the operator's choices were not saved.
#[derive(Debug, thiserror::Error)]
pub enum SaveError {
    /// The node would refuse them: the same check as the config file's.
    #[error(transparent)]
    Invalid(#[from] ConfigError),
    #[error("the box could not save this: {0}")]
    Store(#[from] Error),
}

/// The saved choices laid over `base` and checked; on a problem, `base` alone, with the
/// problem to show on the config page.
pub(super) fn at_startup(
    store: &Store,
    base: &Config,
) -> Result<(Settings, Option<StartupProblem>), ConfigError> {
    let op: Operator = match store.setting(Setting::Operator) {
        Ok(o) => o.unwrap_or_default(),
        Err(e) => {
            let problem = StartupProblem::Unreadable(e.to_string());
            return Ok((base.clone().validate()?, Some(problem)));
        }
    };
    match op.settings(base) {
        Ok(s) => Ok((s, None)),
        Err(e) => Ok((base.clone().validate()?, Some(StartupProblem::Unusable(e)))),
    }
}

/// Why the operator's saved choices were not used at start: the box then runs on the
/// config file alone. English for the log; the config page says it in its own words.
#[derive(Debug, thiserror::Error)]
pub enum StartupProblem {
    #[error("saved settings unreadable ({0}); running on defaults")]
    Unreadable(String),
    #[error(
        "your saved settings could not be used ({0}); the box runs on its defaults until you \
         change them"
    )]
    Unusable(ConfigError),
}

impl Station {
    /// The operator's choices as saved (not laid over the config file).
    pub fn operator(&self) -> Result<Operator, Error> {
        Ok(self.store.setting(Setting::Operator)?.unwrap_or_default())
    }

    /// Validates `op` over the config file, saves it (durably, before returning) and
    /// publishes the new settings. Returns whether the services must restart to take
    /// them; the caller says so to the operator and asks for it.
    pub fn save_operator(&self, op: &Operator) -> Result<bool, SaveError> {
        let new = Arc::new(op.settings(&self.base)?);
        self.store
            .set_setting(Setting::Operator, op)
            .map_err(Error::from)?;
        let old = self.settings.send_replace(new.clone());
        Ok(needs_restart(&old, &new))
    }
}

#[cfg(test)]
mod tests {
    use crate::station::testing::station;

    #[test]
    fn saved_settings_are_published_and_kept() {
        let (dir, station) = station();
        let mut follow = station.subscribe();
        let mut op = station.operator().unwrap();
        op.station_name = Some("Radio Vallekas".into());
        assert!(
            !station.save_operator(&op).unwrap(),
            "a name needs no restart"
        );
        assert!(follow.has_changed().unwrap());
        assert_eq!(follow.borrow_and_update().station.name, "Radio Vallekas");
        assert_eq!(station.settings().station.name, "Radio Vallekas");

        op.bitrate_kbps = Some(1);
        assert!(station.save_operator(&op).is_err(), "refused like the file");
        assert_eq!(station.operator().unwrap().bitrate_kbps, None);

        op.bitrate_kbps = Some(96);
        assert!(station.save_operator(&op).unwrap(), "the encoder restarts");
        drop(station);
        let store = crate::store::Store::open(dir.path()).unwrap();
        let base = crate::config::Config {
            data_dir: dir.path().to_path_buf(),
            ..Default::default()
        };
        let again = crate::station::Station::open(store, base).unwrap();
        assert_eq!(again.settings().live.bitrate_kbps, 96);
        assert!(again.startup_problem().is_none());
    }
}
