//! What played when, for 90 days: the log rights societies ask community stations for.
//! One record per stretch of the programme (a show, a source's song, a fallback track),
//! with its peak listeners; downloadable as CSV from the config page.

use serde::{Deserialize, Serialize};

use super::{Error, Station};
use crate::store::{unix_secs as now_secs, Tree};

const KEEP_SECS: u64 = 90 * 24 * 3600;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Play {
    /// Unix seconds.
    pub start: u64,
    pub end: u64,
    pub title: String,
    pub artist: Option<String>,
    /// `line_in`, `source` or `fallback`.
    pub source: String,
    pub peak_listeners: u64,
}

impl Station {
    /// What played in the last 90 days, oldest first.
    pub fn plays(&self) -> Vec<Play> {
        let from = now_secs().saturating_sub(KEEP_SECS);
        match self.store.scan::<Play>(Tree::Plays, &from.to_be_bytes()) {
            Ok(v) => v.into_iter().map(|(_, p)| p).collect(),
            Err(e) => {
                tracing::warn!("plays: {e}");
                Vec::new()
            }
        }
    }

    /// Keeps a finished play, durably, and drops those older than 90 days. Flushes: call
    /// it from a blocking thread.
    pub fn record_play(&self, p: &Play) -> Result<(), Error> {
        // Several plays may start and end in the same second (a track whose title comes a
        // frame after it starts, a source that drops at once): the moment each is written,
        // in nanoseconds, follows the start in the key, so none replaces another and they
        // keep their order.
        let written = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        let mut key = p.start.to_be_bytes().to_vec();
        key.extend_from_slice(&written.to_be_bytes());
        self.store.put(Tree::Plays, &key, p)?;
        let until = p.start.saturating_sub(KEEP_SECS).to_be_bytes();
        Ok(self.store.remove_before(Tree::Plays, &until)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::station::testing::station;

    #[test]
    fn ninety_days_are_kept() {
        let (_dir, station) = station();
        let now = now_secs();
        for start in [now - KEEP_SECS - 100, now - 600, now - 600, now - 60] {
            // The two at `now - 600` also end in the same second.
            let p = Play {
                start,
                end: start + 1,
                title: "Song".into(),
                artist: None,
                source: "fallback".into(),
                peak_listeners: 2,
            };
            station.record_play(&p).unwrap();
        }
        let got: Vec<u64> = station.plays().iter().map(|p| p.start).collect();
        assert_eq!(
            got,
            [now - 600, now - 600, now - 60],
            "two plays in the same seconds"
        );
    }
}
