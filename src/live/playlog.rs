//! Keeps what played when (`station::Play`, 90 days): each stretch of the programme (a
//! show on the line-in, a source's song, a fallback track) with the most listeners it had.
//! Written when the stretch ends, so a power cut loses at most the one playing.

use std::{sync::Arc, time::Duration};

use tokio_util::sync::CancellationToken;

use super::{switch::OnAir, Live, NowPlaying};
use crate::station::{Play, Station};

/// How often the listeners are counted for a play's peak.
const COUNT_EVERY: Duration = Duration::from_secs(10);

struct Current {
    now: NowPlaying,
    start: u64,
    peak: u64,
}

/// Logs plays until `shutdown`; `listeners` counts every listener now.
pub async fn run(
    live: Arc<Live>,
    station: Arc<Station>,
    listeners: impl Fn() -> u64 + Send + 'static,
    shutdown: CancellationToken,
) {
    let mut program = live.program();
    let mut info = live.ingest().info();
    let mut current: Option<Current> = None;
    loop {
        let now = live.now_playing();
        match current.as_mut() {
            Some(c) if c.now == now => c.peak = c.peak.max(listeners()),
            _ => {
                if let Some(done) = current.take() {
                    save(&station, &done).await;
                }
                let worth_logging = now.on_air.is_some_and(|o| o != OnAir::Silence);
                current = worth_logging.then(|| Current {
                    now,
                    start: unix_secs(),
                    peak: listeners(),
                });
            }
        }
        tokio::select! {
            _ = shutdown.cancelled() => break,
            r = program.changed() => if r.is_err() { break },
            r = info.changed() => if r.is_err() { break },
            _ = tokio::time::sleep(COUNT_EVERY) => {}
        }
    }
    if let Some(done) = current.take() {
        save(&station, &done).await;
    }
}

/// Now in Unix seconds, as plays are stamped.
fn unix_secs() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

async fn save(station: &Arc<Station>, c: &Current) {
    let settings = station.settings();
    let on_air = c.now.on_air.unwrap_or(OnAir::Silence);
    let play = Play {
        start: c.start,
        end: unix_secs(),
        // A show on the line-in without a schedule is the station's own.
        title: c
            .now
            .title
            .clone()
            .or_else(|| c.now.show.clone())
            .unwrap_or_else(|| settings.station.name.clone()),
        artist: c.now.artist.clone(),
        source: serde_json::to_value(on_air)
            .ok()
            .and_then(|v| v.as_str().map(String::from))
            .unwrap_or_default(),
        peak_listeners: c.peak,
    };
    let station = station.clone();
    match tokio::task::spawn_blocking(move || station.record_play(&play)).await {
        Ok(Ok(())) => {}
        Ok(Err(e)) => tracing::warn!("cannot keep what played: {e}"),
        Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
        Err(_) => {}
    }
}
