//! The last 24 hours of listeners and upload rate, for the dashboard's graphs: a sample a
//! minute, kept in sled (a power cut keeps the day's graph), older samples dropped.

use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio_util::sync::CancellationToken;

use crate::{
    store::{unix_secs as now_secs, Store, Tree},
    web::AppState,
};

const EVERY: Duration = Duration::from_secs(60);
const KEEP_SECS: u64 = 24 * 3600;

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Sample {
    /// Unix seconds.
    pub t: u64,
    /// Stream listeners plus browsers connected over WebRTC.
    pub listeners: u64,
    pub upload_bps: u64,
}

/// The samples of the last 24 hours, oldest first.
pub fn recent(store: &Store) -> Vec<Sample> {
    let from = now_secs().saturating_sub(KEEP_SECS);
    match store.scan::<Sample>(Tree::History, &from.to_be_bytes()) {
        Ok(v) => v.into_iter().map(|(_, s)| s).collect(),
        Err(e) => {
            tracing::warn!("history: {e}");
            Vec::new()
        }
    }
}

fn sample(app: &AppState) -> Sample {
    let swarm = app.swarm.get().map(|s| s.stats());
    let wt = app.webtorrent.as_ref().map(|w| w.stats());
    Sample {
        t: now_secs(),
        listeners: (app.live.status().listeners + wt.map(|w| w.peers).unwrap_or(0)) as u64,
        upload_bps: swarm.map(|s| s.upload_bps).unwrap_or(0),
    }
}

/// Records a sample every minute until `shutdown`.
pub async fn run(app: AppState, shutdown: CancellationToken) {
    let mut tick = tokio::time::interval(EVERY);
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tick.tick() => {}
        }
        let s = sample(&app);
        let store = app.admin.store.clone();
        let r = tokio::task::spawn_blocking(move || {
            store.put(Tree::History, &s.t.to_be_bytes(), &s)?;
            store.remove_before(Tree::History, &s.t.saturating_sub(KEEP_SECS).to_be_bytes())
        })
        .await;
        if let Ok(Err(e)) = r {
            tracing::warn!("history sample: {e}");
        }
    }
}
