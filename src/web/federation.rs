//! Federation's HTTP side: the signed catalog, the status for the config page, and the
//! door where a follower claims to mirror this station.

use std::sync::Arc;

use axum::{
    extract::State,
    http::StatusCode,
    response::{IntoResponse, Response},
    Json,
};
use serde_json::json;
use tokio::sync::Semaphore;

use super::{admin::extract::LoggedIn, api::trackers, AppState};
use crate::federation::mirrors::{MirrorClaim, Refusal, Standing};

/// `GET /api/catalog`: this station's signed catalog. Its addresses come from the node's
/// own (the public URL, or the HTTP address when it is a specific one), never from the
/// request's `Host`: otherwise each new name would change the catalog, bump its sequence
/// (a disk flush) and have the station's key sign an address the asker chose. Without an
/// own address the live streams are given as paths and the node's own trackers left out;
/// a follower reaches them at the address it follows.
pub async fn catalog(State(app): State<AppState>) -> Json<crate::federation::catalog::Signed> {
    let own = app.federation.own_url();
    let base = own.clone().unwrap_or_default();
    let live = if app.live.is_on() {
        ["/live.ogg", "/live.mp3", "/live/index.m3u8"]
            .iter()
            .map(|p| format!("{base}{p}"))
            .collect()
    } else {
        Vec::new()
    };
    let fed = app.federation.clone();
    let trackers = match &own {
        Some(base) => trackers(&app, base),
        // With no host, the node's own are just `/announce` (no UDP one).
        None => trackers(&app, "")
            .into_iter()
            .filter(|t| t != "/announce")
            .collect(),
    };
    // Signing and the sequence's flush are disk work.
    let signed = tokio::task::spawn_blocking(move || fed.catalog(trackers, live)).await;
    Json(
        signed.unwrap_or_else(|_| crate::federation::catalog::Signed {
            catalog: String::new(),
            signature: String::new(),
        }),
    )
}

/// `GET /api/federation`: this node's key, the stations it follows (names and
/// fingerprints, where it relays them and the relay's traffic) and its mirrors. Whether a follow or a probe
/// reached its target, and why not, is for the config page ([`details`]): told to anyone,
/// it would make the node a port scanner for whoever plants an address.
pub async fn status(State(app): State<AppState>) -> Json<serde_json::Value> {
    let f = &app.federation;
    let follows: Vec<serde_json::Value> = f
        .follows()
        .into_iter()
        .map(|s| {
            json!({
                "station": s.station,
                "fingerprint": s.fingerprint,
                "relay": s.relay,
                "relay_bytes_in": s.relay_bytes_in,
                "relay_listeners": s.relay_listeners,
            })
        })
        .collect();
    Json(json!({
        "key": f.public_key(),
        "fingerprint": f.fingerprint(),
        "follows": follows,
        "mirrors": f.mirrors(),
    }))
}

/// `GET /admin/federation`: everything of [`status`] and, for the operator, each followed
/// station's state, errors and retry, and every probed tracker's health.
pub async fn details(State(app): State<AppState>, _: LoggedIn) -> Json<serde_json::Value> {
    let f = &app.federation;
    Json(json!({
        "key": f.public_key(),
        "fingerprint": f.fingerprint(),
        "follows": f.follows(),
        "mirrors": f.mirrors(),
        "trackers": f.health.stats(),
    }))
}

/// One claim is checked at a time: checking fetches the claimant's catalog and pieces of
/// its episodes, and nobody should make the node fetch in bulk.
pub fn claim_gate() -> Arc<Semaphore> {
    Arc::new(Semaphore::new(1))
}

/// `POST /api/federation/mirrors`: a follower says it mirrors this station and which of
/// its episodes it holds. The signature, time and address are checked first; then, one
/// claim at a time, pieces of those episodes are fetched from the claimant and compared.
pub async fn claim(State(app): State<AppState>, Json(c): Json<MirrorClaim>) -> Response {
    // A listed mirror's good claim renews it here, even when the check must wait.
    let received = match app.federation.receive_claim(&c) {
        Ok(r) => r,
        Err(e) => return refused(&e),
    };
    let Ok(_permit) = app.claim_gate.clone().try_acquire_owned() else {
        return (
            StatusCode::TOO_MANY_REQUESTS,
            "busy checking another claim; try again later\n",
        )
            .into_response();
    };
    match app.federation.prove_claim(received).await {
        Ok(Standing::Listed) => (StatusCode::OK, "listed\n").into_response(),
        Ok(_) => (
            StatusCode::ACCEPTED,
            "checked; waiting for the station operator's approval\n",
        )
            .into_response(),
        Err(e) => refused(&e),
    }
}

fn refused(e: &Refusal) -> Response {
    let status = match e {
        Refusal::Removed => StatusCode::FORBIDDEN,
        Refusal::Full | Refusal::WaitingFull | Refusal::Taken => StatusCode::CONFLICT,
        _ => StatusCode::BAD_REQUEST,
    };
    (status, format!("{e}\n")).into_response()
}

/// `GET /relay/{key}/live.ogg`: a followed station's live stream, relayed.
pub async fn relay(
    State(app): State<AppState>,
    axum::extract::Path(key): axum::extract::Path<String>,
) -> Response {
    let Some(relay) = app.federation.relay(&key) else {
        return (StatusCode::NOT_FOUND, "this node relays no such station\n").into_response();
    };
    let Some((first, rx, guard)) = relay.subscribe() else {
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            "the station's live stream has not reached this relay yet; try again in a moment\n",
        )
            .into_response();
    };
    super::live::ogg_body(&app, first, rx, guard)
}
