//! The last 24 hours of listeners and upload rate, for the dashboard's graphs: a sample a
//! minute (taken by `status`), kept in the store so a power cut keeps the day's graph.

use serde::{Deserialize, Serialize};

use super::Error;
use super::Station;
use crate::store::{unix_secs as now_secs, Tree};

const KEEP_SECS: u64 = 24 * 3600;

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Sample {
    /// Unix seconds.
    pub t: u64,
    /// Every listener, however they listen (see `status::Listeners::total`).
    pub listeners: u64,
    pub upload_bps: u64,
}

impl Station {
    /// The samples of the last 24 hours, oldest first.
    pub fn history(&self) -> Vec<Sample> {
        let from = now_secs().saturating_sub(KEEP_SECS);
        match self
            .store
            .scan::<Sample>(Tree::History, &from.to_be_bytes())
        {
            Ok(v) => v.into_iter().map(|(_, s)| s).collect(),
            Err(e) => {
                tracing::warn!("history: {e}");
                Vec::new()
            }
        }
    }

    /// Keeps a sample, durably, and drops those older than a day. Flushes: call it from
    /// a blocking thread.
    pub fn record_sample(&self, s: &Sample) -> Result<(), Error> {
        self.store.put(Tree::History, &s.t.to_be_bytes(), s)?;
        let until = s.t.saturating_sub(KEEP_SECS).to_be_bytes();
        Ok(self.store.remove_before(Tree::History, &until)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::station::testing::station;

    #[test]
    fn a_day_is_kept() {
        let (_dir, station) = station();
        let now = now_secs();
        for t in [now - KEEP_SECS - 10, now - 60, now] {
            let s = Sample {
                t,
                listeners: 3,
                upload_bps: 1000,
            };
            station.record_sample(&s).unwrap();
        }
        let got = station.history();
        assert_eq!(got.iter().map(|s| s.t).collect::<Vec<_>>(), [now - 60, now]);
    }
}
