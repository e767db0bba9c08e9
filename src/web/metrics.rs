//! `GET /metrics`: Prometheus text exposition of the node's counters and gauges.

use std::fmt::Write;

use axum::{extract::State, http::header, response::IntoResponse};

use super::AppState;

/// Appends one metric with its help and type lines.
fn metric(out: &mut String, name: &str, kind: &str, help: &str, value: impl std::fmt::Display) {
    let _ = writeln!(
        out,
        "# HELP {name} {help}\n# TYPE {name} {kind}\n{name} {value}"
    );
}

pub async fn metrics(State(app): State<AppState>) -> impl IntoResponse {
    let mut o = String::new();
    let st = app.status();
    let lib = &st.library;
    let h = lib.hashing;
    metric(
        &mut o,
        "streamp2p_library_items",
        "gauge",
        "Files in the library.",
        lib.items,
    );
    metric(
        &mut o,
        "streamp2p_library_problems",
        "gauge",
        "Files skipped by the last scan.",
        lib.problems,
    );
    metric(
        &mut o,
        "streamp2p_library_hashed_total",
        "counter",
        "Files hashed since start.",
        lib.hashed_since_start,
    );
    metric(
        &mut o,
        "streamp2p_library_hashing_bytes_left",
        "gauge",
        "Bytes still to hash in this pass.",
        h.bytes_total.saturating_sub(h.bytes_done),
    );
    metric(
        &mut o,
        "streamp2p_task_panics_total",
        "counter",
        "Node tasks that panicked (the node then exits for systemd to restart it).",
        crate::system::tasks::panics(),
    );
    if let Some(u) = st.process {
        metric(
            &mut o,
            "process_resident_memory_bytes",
            "gauge",
            "Resident memory of the node process.",
            u.resident_bytes,
        );
        metric(
            &mut o,
            "process_cpu_seconds_total",
            "counter",
            "User and system CPU time of the node process.",
            u.cpu_seconds,
        );
    }
    if let Some(s) = st.swarm {
        metric(
            &mut o,
            "streamp2p_swarm_torrents",
            "gauge",
            "Torrents in the BitTorrent session.",
            s.torrents,
        );
        metric(
            &mut o,
            "streamp2p_swarm_seeding",
            "gauge",
            "Torrents seeding now.",
            s.live,
        );
        metric(
            &mut o,
            "streamp2p_swarm_uploaded_bytes_total",
            "counter",
            "Bytes uploaded to BitTorrent peers.",
            s.uploaded_bytes,
        );
        metric(
            &mut o,
            "streamp2p_swarm_upload_bytes_per_second",
            "gauge",
            "Current upload rate.",
            s.upload_bps,
        );
    }
    let l = st.listeners;
    let _ = writeln!(
        o,
        "# HELP streamp2p_listeners Listeners now, by way of listening (sharing: HLS \
         listeners' browsers in the live swarms, a part of hls).\n\
         # TYPE streamp2p_listeners gauge\n\
         streamp2p_listeners{{way=\"ogg\"}} {}\n\
         streamp2p_listeners{{way=\"mp3\"}} {}\n\
         streamp2p_listeners{{way=\"relay\"}} {}\n\
         streamp2p_listeners{{way=\"hls\"}} {}\n\
         streamp2p_listeners{{way=\"sharing\"}} {}",
        l.ogg, l.mp3, l.relays, l.hls, l.sharing
    );
    metric(
        &mut o,
        "streamp2p_live_listeners",
        "gauge",
        "Every listener: progressive streams and HLS players.",
        l.total,
    );
    for (name, help, served) in [
        (
            "streamp2p_live_hls_segments_served_total",
            "HLS media segments served over HTTP, per variant.",
            st.hls_segments_served,
        ),
        (
            "streamp2p_live_hls_bytes_served_total",
            "Bytes of HLS media segments served over HTTP, per variant.",
            st.hls_bytes_served,
        ),
    ] {
        let _ = writeln!(
            o,
            "# HELP {name} {help}\n# TYPE {name} counter\n\
             {name}{{variant=\"opus\"}} {}\n{name}{{variant=\"mp3\"}} {}",
            served.opus, served.mp3
        );
    }
    if let Some(w) = st.webtorrent {
        metric(
            &mut o,
            "streamp2p_webtorrent_peers",
            "gauge",
            "WebRTC peers with an open data channel.",
            w.peers,
        );
        metric(
            &mut o,
            "streamp2p_webtorrent_uploaded_bytes_total",
            "counter",
            "Piece bytes sent to WebRTC peers.",
            w.uploaded_bytes,
        );
        metric(
            &mut o,
            "streamp2p_webtorrent_offers_answered_total",
            "counter",
            "WebRTC offers answered.",
            w.answered,
        );
        metric(
            &mut o,
            "streamp2p_webtorrent_offers_refused_total",
            "counter",
            "WebRTC offers refused or failed.",
            w.refused,
        );
        metric(
            &mut o,
            "streamp2p_webtorrent_trackers_connected",
            "gauge",
            "WebSocket trackers the WebRTC peer is connected to.",
            w.trackers_connected,
        );
    }
    let t = st.tracker;
    let cfg = app.tracker.config();
    metric(
        &mut o,
        "streamp2p_tracker_torrents",
        "gauge",
        "Swarms in the tracker's peer table.",
        t.swarms,
    );
    metric(
        &mut o,
        "streamp2p_tracker_torrents_max",
        "gauge",
        "Most swarms the table holds.",
        cfg.max_torrents,
    );
    metric(
        &mut o,
        "streamp2p_tracker_peers",
        "gauge",
        "Peers in the tracker's peer table.",
        t.peers,
    );
    metric(
        &mut o,
        "streamp2p_tracker_peers_per_torrent_max",
        "gauge",
        "Most peers kept per swarm.",
        cfg.max_peers_per_torrent,
    );
    let _ = writeln!(
        o,
        "# HELP streamp2p_tracker_announces_total Announces served, by protocol.\n\
         # TYPE streamp2p_tracker_announces_total counter\n\
         streamp2p_tracker_announces_total{{proto=\"http\"}} {}\n\
         streamp2p_tracker_announces_total{{proto=\"udp\"}} {}\n\
         streamp2p_tracker_announces_total{{proto=\"ws\"}} {}",
        t.announces_http, t.announces_udp, t.announces_ws
    );
    metric(
        &mut o,
        "streamp2p_tracker_scrapes_total",
        "counter",
        "Scrapes served.",
        t.scrapes,
    );
    metric(
        &mut o,
        "streamp2p_tracker_denied_total",
        "counter",
        "Requests refused (untracked or rate-limited).",
        t.denied,
    );
    metric(
        &mut o,
        "streamp2p_tracker_pairings_rechecked_total",
        "counter",
        "Settled browsers offered again to an old partner, whose connection may have failed.",
        t.pairings_rechecked,
    );
    metric(
        &mut o,
        "streamp2p_tracker_lonely_nudged_total",
        "counter",
        "Browsers with one peer or none asked to announce again for new ones.",
        t.lonely_nudged,
    );
    metric(
        &mut o,
        "streamp2p_tracker_lonely_offered_total",
        "counter",
        "Offers sent first to browsers that said they had one peer or none.",
        t.lonely_offered,
    );
    metric(
        &mut o,
        "streamp2p_tracker_peer_reports_total",
        "counter",
        "Listen pages' reports of the browsers they are connected to.",
        t.peer_reports,
    );
    metric(
        &mut o,
        "streamp2p_tracker_ws_connections",
        "gauge",
        "Open WebSocket tracker connections.",
        app.ws_hub.connections(),
    );
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], o)
}
