//! The operator's titles and notes for library items. The USB storage is read-only, so
//! they live in the store, by infohash.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use super::{Error, Station};
use crate::store::Tree;

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ItemMeta {
    pub title: Option<String>,
    pub description: Option<String>,
    /// A recording the operator keeps: never removed to free space.
    #[serde(default)]
    pub keep: bool,
}

impl ItemMeta {
    /// Kept, or published with the operator's own words: the free-space keeper leaves it.
    pub fn protected(&self) -> bool {
        self.keep || self.title.is_some() || self.description.is_some()
    }
}

impl Station {
    /// Every item's notes, by infohash; unreadable records are reported and skipped.
    pub fn item_meta(&self) -> HashMap<String, ItemMeta> {
        match self.store.scan::<ItemMeta>(Tree::ItemMeta, &[]) {
            Ok(v) => v
                .into_iter()
                .map(|(k, m)| (String::from_utf8_lossy(&k).into_owned(), m))
                .collect(),
            Err(e) => {
                tracing::warn!("item notes: {e}");
                HashMap::new()
            }
        }
    }

    /// Saves an item's notes; empty notes are forgotten.
    pub fn set_item_meta(&self, infohash: &str, meta: &ItemMeta) -> Result<(), Error> {
        let key = infohash.as_bytes();
        if meta == &ItemMeta::default() {
            Ok(self.store.remove(Tree::ItemMeta, key)?)
        } else {
            Ok(self.store.put(Tree::ItemMeta, key, meta)?)
        }
    }
}
