//! USB sticks by name: the labels of the sticks the operator stopped sharing, remembered
//! across pulls and restarts, and the folders that makes the library leave alone.

use std::{collections::BTreeSet, path::PathBuf};

use super::{Error, Station};
use crate::store::Setting;

impl Station {
    /// The labels of the sticks not shared; an unreadable record is reported and read as
    /// none (every stick shared, as when it was plugged in).
    pub fn usb_stopped(&self) -> BTreeSet<String> {
        match self.store.setting(Setting::UsbStopped) {
            Ok(s) => s.unwrap_or_default(),
            Err(e) => {
                tracing::warn!("usb sticks: {e}");
                BTreeSet::new()
            }
        }
    }

    /// Shares the stick `label` again, or stops sharing it; returns the folders of every
    /// stick not shared now (for the library).
    pub fn share_usb(&self, label: &str, share: bool) -> Result<Vec<PathBuf>, Error> {
        let mut stopped = self.usb_stopped();
        if share {
            stopped.remove(label);
        } else {
            stopped.insert(label.to_string());
        }
        self.store.set_setting(Setting::UsbStopped, &stopped)?;
        Ok(self.usb_paused())
    }

    /// The folders of the sticks not shared, under the settings' `usb_root`.
    pub fn usb_paused(&self) -> Vec<PathBuf> {
        let root = self.settings().usb_root.clone();
        self.usb_stopped().iter().map(|l| root.join(l)).collect()
    }
}
