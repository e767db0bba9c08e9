//! The live stream's HTTP side: `/live.ogg` (Icecast-style Ogg Opus), the level meter as
//! server-sent events, and the capture devices for the config page.

use std::{convert::Infallible, time::Duration};

use axum::{
    body::Body,
    extract::State,
    http::{header, StatusCode},
    response::{
        sse::{Event, KeepAlive, Sse},
        IntoResponse, Response,
    },
    Json,
};
use bytes::Bytes;
use futures::{stream, Stream, StreamExt};
use serde_json::{json, Value};
use tokio::sync::broadcast::error::RecvError;

use super::AppState;
use crate::live::source::capture_devices;

/// `GET /live.ogg`: headers, a burst of the last second or so, then pages as they come.
/// A listener that falls too far behind is dropped, never slowing the others.
pub async fn ogg(State(app): State<AppState>) -> Response {
    if !app.live.is_on() {
        return (
            StatusCode::NOT_FOUND,
            "this station has no live input configured\n",
        )
            .into_response();
    }
    let sub = app.live.subscribe();
    let first: Vec<Bytes> = std::iter::once(sub.headers.clone())
        .chain(sub.burst.iter().cloned())
        .collect();
    let live = stream::unfold((sub.pages, sub.guard), |(mut rx, guard)| async move {
        match rx.recv().await {
            Ok(page) => Some((Ok::<_, Infallible>(page), (rx, guard))),
            Err(RecvError::Lagged(n)) => {
                tracing::info!(missed = n, "slow /live.ogg listener dropped");
                None
            }
            Err(RecvError::Closed) => None,
        }
    });
    let body = stream::iter(first.into_iter().map(Ok)).chain(live);
    let station = &app.settings.station;
    let mut res = Response::new(Body::from_stream(body));
    let h = res.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        header::HeaderValue::from_static("audio/ogg"),
    );
    h.insert(
        header::CACHE_CONTROL,
        header::HeaderValue::from_static("no-cache, no-store"),
    );
    h.insert(
        header::ACCESS_CONTROL_ALLOW_ORIGIN,
        header::HeaderValue::from_static("*"),
    );
    for (name, value) in [
        ("icy-name", &station.name),
        ("icy-description", &station.description),
    ] {
        if let Ok(v) = header::HeaderValue::from_str(value) {
            h.insert(name, v);
        }
    }
    h.insert("icy-pub", header::HeaderValue::from_static("0"));
    res
}

/// `GET /api/live/levels`: peak and RMS per channel, about ten times a second.
pub async fn levels(
    State(app): State<AppState>,
) -> Sse<impl Stream<Item = Result<Event, Infallible>>> {
    let rx = app.live.levels();
    let events = stream::unfold(rx, |mut rx| async move {
        // The capture thread publishes at 10 Hz; a closed channel ends the stream.
        rx.changed().await.ok()?;
        let data = serde_json::to_string(&*rx.borrow_and_update()).unwrap_or_default();
        Some((Ok(Event::default().event("levels").data(data)), rx))
    });
    Sse::new(events).keep_alive(KeepAlive::new().interval(Duration::from_secs(15)))
}

/// `GET /api/audio/devices`: ALSA capture devices, for choosing the input.
pub async fn devices() -> Json<Value> {
    let list = tokio::task::spawn_blocking(capture_devices)
        .await
        .unwrap_or_default();
    Json(json!(list
        .into_iter()
        .map(|(name, description)| json!({ "device": format!("alsa:{name}"), "description": description }))
        .collect::<Vec<_>>()))
}
