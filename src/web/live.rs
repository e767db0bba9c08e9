//! The live stream's HTTP side: `/live.ogg` (Icecast-style Ogg Opus) and `/live.mp3` through
//! hyper (over https, and for relays; plain http's listeners are written by
//! `web::listeners`), HLS, now playing, and the level meter as server-sent events.

use std::{
    convert::Infallible,
    net::IpAddr,
    sync::Arc,
    time::{Duration, Instant},
};

use axum::{
    body::Body,
    extract::{ConnectInfo, FromRequestParts, Path, State},
    http::{header, request::Parts, HeaderMap, StatusCode},
    response::{
        sse::{Event, KeepAlive, Sse},
        IntoResponse, Response,
    },
    Json,
};
use bytes::Bytes;
use futures::{stream, Stream, StreamExt};
use tokio::sync::broadcast::error::RecvError;

use crate::tracker::ws::Notices;

use super::{client_ip, AppState, ConnInfo};
use crate::live::{
    fanout::ListenerGuard,
    hls::{self, Hls, Variant},
    icy::{Icy, METAINT},
    seeding::{Answer, Ask, Role},
    NowPlaying, Output,
};

/// What a listener sent to the relay reads, if it reads the body at all.
pub const TO_RELAY: &str = "this box's uplink is full: the stream is at the address given\n";

/// The headers that send a new listener to the station's Icecast relay while this box's
/// uplink is full: a temporary redirect, never cached (the box takes listeners again once
/// there is room).
pub fn relay_headers(url: &str) -> HeaderMap {
    let mut headers = HeaderMap::new();
    headers.insert(
        header::CACHE_CONTROL,
        header::HeaderValue::from_static("no-store"),
    );
    // Always a header value: the config takes only such hosts and mounts.
    if let Ok(v) = header::HeaderValue::from_str(url) {
        headers.insert(header::LOCATION, v);
    }
    headers
}

/// A new listener sent to the relay (`live::overflow`), or `None` to serve it here.
fn to_relay(app: &AppState, output: Output) -> Option<Response> {
    let url = app.live.relay_for(output)?;
    Some((StatusCode::FOUND, relay_headers(&url), TO_RELAY).into_response())
}

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
    if let Some(away) = to_relay(&app, Output::Ogg) {
        return away;
    }
    let sub = app.live.subscribe();
    let first: Vec<Bytes> = std::iter::once(sub.headers.clone())
        .chain(sub.burst.iter().cloned())
        .collect();
    ogg_body(&app, first, sub.pages, sub.guard)
}

/// An Ogg stream response: `first` (headers and burst), then the live pages until the
/// listener falls too far behind or the stream ends.
pub fn ogg_body(
    app: &AppState,
    first: Vec<Bytes>,
    pages: tokio::sync::broadcast::Receiver<Bytes>,
    guard: ListenerGuard,
) -> Response {
    let live = stream::unfold((pages, guard), |(mut rx, guard)| async move {
        match rx.recv().await {
            Ok(page) => Some((Ok::<_, Infallible>(page), (rx, guard))),
            Err(RecvError::Lagged(n)) => {
                tracing::info!(missed = n, "slow Ogg listener dropped");
                None
            }
            Err(RecvError::Closed) => None,
        }
    });
    let body = stream::iter(first.into_iter().map(Ok)).chain(live);
    streaming(app, "audio/ogg", Body::from_stream(body), false)
}

/// `GET /live.mp3`: the same programme as progressive MP3, for old players, Safari and
/// radio directories; with the title in the stream (ICY) for players that ask.
pub async fn mp3(State(app): State<AppState>, headers: HeaderMap) -> Response {
    if !app.live.is_on() {
        return (
            StatusCode::NOT_FOUND,
            "this station has no live input configured\n",
        )
            .into_response();
    }
    if let Some(away) = to_relay(&app, Output::Mp3) {
        return away;
    }
    let icy = headers
        .get("icy-metadata")
        .is_some_and(|v| v.as_bytes().trim_ascii() == b"1");
    let (burst, rx, guard) = app.live.subscribe_mp3();
    let live = stream::unfold((rx, guard), |(mut rx, guard)| async move {
        match rx.recv().await {
            Ok(f) => Some((f, (rx, guard))),
            Err(_) => None,
        }
    });
    let frames = stream::iter(burst).chain(live);
    if !icy {
        let body = Body::from_stream(frames.map(Ok::<_, Infallible>));
        return streaming(&app, "audio/mpeg", body, false);
    }
    let mut framing = Icy::default();
    let live = app.live.clone();
    let body = frames.map(move |f| Ok::<_, Infallible>(framing.frame(f, || live.stream_title())));
    streaming(&app, "audio/mpeg", Body::from_stream(body), true)
}

/// `GET /api/nowplaying`: what is playing (see [`crate::live::NowPlaying`]).
pub async fn now_playing(State(app): State<AppState>) -> Response {
    let now = app.live.now_playing();
    (
        [
            (header::CACHE_CONTROL, "no-store"),
            (header::ACCESS_CONTROL_ALLOW_ORIGIN, "*"),
        ],
        Json(serde_json::json!({
            "on_air": now.on_air,
            "title": now.title,
            "artist": now.artist,
            "show": now.show,
            "item": now.item,
            "listeners": app.sources().listeners(Instant::now()).total,
        })),
    )
        .into_response()
}

/// `GET /api/nowplaying/events`: the same as server-sent events, one at once and one at
/// each change, for the listen page.
pub async fn now_playing_events(
    State(app): State<AppState>,
) -> Sse<impl Stream<Item = Result<Event, Infallible>>> {
    let changes = (app.live.program(), app.live.ingest().info());
    let events = stream::unfold(
        (app, changes, None::<NowPlaying>),
        |(app, (mut program, mut info), last)| async move {
            loop {
                let now = app.live.now_playing();
                if last.as_ref() != Some(&now) {
                    let event = Event::default().json_data(&now).ok()?;
                    return Some((Ok(event), (app, (program, info), Some(now))));
                }
                // The schedule's next show has no signal of its own: look again now and then.
                tokio::select! {
                    r = program.changed() => r.ok()?,
                    r = info.changed() => r.ok()?,
                    _ = tokio::time::sleep(Duration::from_secs(30)) => {}
                }
            }
        },
    );
    Sse::new(events).keep_alive(KeepAlive::new().interval(NOW_PLAYING_KEEP_ALIVE))
}

/// How often the now-playing stream says it is alive when nothing changes. Under 45 s, after
/// which Chromium probes an idle socket (the box would answer that probe instead), and under
/// the 60 s a reverse proxy commonly waits for a reply's next bytes. Axum's default, every
/// 15 s, cost the station 0.045 to 0.07 kbit/s a listening page, counted on the wire at 12
/// Chromium listeners: an eighth to a sixth of all it sent them besides audio.
const NOW_PLAYING_KEEP_ALIVE: Duration = Duration::from_secs(40);

/// A live stream's response with `body` (see [`stream_headers`]).
fn streaming(app: &AppState, mime: &'static str, body: Body, icy: bool) -> Response {
    let mut res = Response::new(body);
    *res.headers_mut() = stream_headers(app, mime, icy);
    res
}

/// Headers shared by the live streams, through hyper or `web::listeners`: no caching, CORS,
/// Icecast-style station names, and with `icy` the ICY titles' interval.
pub fn stream_headers(app: &AppState, mime: &'static str, icy: bool) -> HeaderMap {
    // Read per request: a station renamed on the config page is named so at once.
    let station = app.station.settings().station.clone();
    let mut h = HeaderMap::new();
    h.insert(header::CONTENT_TYPE, header::HeaderValue::from_static(mime));
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
    if icy {
        h.insert("icy-metaint", header::HeaderValue::from(METAINT));
    }
    h
}

fn hls_response(mime: &'static str, cache: &'static str, body: impl Into<Body>) -> Response {
    (
        [
            (header::CONTENT_TYPE, mime),
            (header::CACHE_CONTROL, cache),
            (header::ACCESS_CONTROL_ALLOW_ORIGIN, "*"),
        ],
        body.into(),
    )
        .into_response()
}

/// Who asks for a live playlist or segment, for counting HLS listeners (an extractor:
/// the client's address, its user agent, and the session token of the URL, if any), and
/// what a listen page says of itself in the query (see `live::seeding`): `due` (seconds
/// before it plays the segment), `up=1` (it uploads to other listeners) with `n` (bytes it
/// has passed on), and `_HLS_skip=YES` (a player that can take a delta playlist).
pub struct Player {
    ip: IpAddr,
    user_agent: String,
    token: Option<String>,
    due: Option<f32>,
    /// Whether it is a listen page sharing the stream (it said `up`).
    p2p: bool,
    shares: bool,
    uploaded: u64,
    delta: bool,
}

impl FromRequestParts<AppState> for Player {
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts, app: &AppState) -> Result<Self, Infallible> {
        let mut player = Self {
            ip: match parts.extensions.get::<ConnectInfo<ConnInfo>>() {
                Some(ConnectInfo(conn)) => client_ip(app, conn, &parts.headers),
                None => IpAddr::from([0, 0, 0, 0]),
            },
            user_agent: parts
                .headers
                .get(header::USER_AGENT)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("")
                .chars()
                .take(256)
                .collect(),
            token: None,
            due: None,
            p2p: false,
            shares: false,
            uploaded: 0,
            delta: false,
        };
        let query = parts.uri.query().unwrap_or("");
        // A listener's words: anything unreadable is as if unsaid.
        for (k, v) in form_urlencoded::parse(query.as_bytes()).take(16) {
            match &*k {
                "s" => player.token = Some(v.chars().take(32).collect()),
                "due" => {
                    player.due = v
                        .parse::<f32>()
                        .ok()
                        .filter(|d| d.is_finite())
                        .map(|d| d.clamp(-3600.0, 3600.0))
                }
                "up" => {
                    player.p2p = true;
                    player.shares = v == "1";
                }
                "n" => player.uploaded = v.parse().unwrap_or(0),
                "_HLS_skip" => player.delta = v == "YES",
                _ => {}
            }
        }
        Ok(player)
    }
}

impl Player {
    /// Counts the request as this player's (see `live::sessions`).
    fn seen(&self, app: &AppState) {
        let token = self.token.as_deref();
        app.hls
            .sessions
            .touch(token, self.ip, &self.user_agent, self.p2p, Instant::now());
    }

    /// What the player said of itself, for `live::seeding`.
    /// The player's session, if its token is one of ours.
    pub fn session(&self, app: &AppState) -> Option<u64> {
        self.token
            .as_deref()
            .and_then(|t| app.hls.sessions.token_key(t))
    }

    fn ask(&self, app: &AppState) -> Ask {
        Ask {
            session: self.session(app),
            due: self.due,
            shares: self.shares,
            uploaded: self.uploaded,
        }
    }
}

/// `GET /live/index.m3u8`: the master playlist, with a session token of the player's own
/// in its media playlist URLs (see `live::sessions`).
pub async fn hls_master(State(app): State<AppState>) -> Response {
    if !app.live.is_on() {
        return (StatusCode::NOT_FOUND, "no live input\n").into_response();
    }
    let token = app.hls.sessions.start();
    let sharing = app.sources().sharing(Instant::now());
    hls_response(
        "application/vnd.apple.mpegurl",
        "no-cache",
        hls::master(app.station.settings().live.bitrate_kbps, &token, sharing),
    )
}

/// The header that tells a listen page its role in the Opus variant's swarm (see
/// `live::seeding`): `1` it seeds, `standby` it stands in for a seeder, `0` neither.
const SEED_HEADER: &str = "streamp2p-seed";

/// The header that tells a listen page sharing the stream how many milliseconds ago the
/// newest segment of its playlist was made: the page lists each next one itself when it
/// exists (`listen.js`, guessPlaylist) instead of asking for every playlist. On a segment's
/// answer, how long ago that segment was made: the page sets its clock by it again.
const AGE_HEADER: &str = "streamp2p-age";

/// How long a request for the next Opus segment, not made yet, waits for it: a segment's
/// length and a little more. A page's own playlist can list a segment early when the
/// station's input stalled for a moment; without the wait it got a 404, and
/// p2p-media-loader's three quick retries used up what it may ask the station for that
/// segment (a seeder's then reached the others only at their deadlines). Under
/// p2p-media-loader's 3 s without bytes, after which it gives a request up.
const NEXT_SEGMENT_HOLD: Duration = Duration::from_millis(2500);

/// Says how many milliseconds ago `made` was, in an answer.
fn tell_age(made: Instant, now: Instant, r: &mut Response) {
    let age = now.saturating_duration_since(made).as_millis();
    r.headers_mut()
        .insert(AGE_HEADER, header::HeaderValue::from(age as u64));
}

/// A role as the listen page reads it.
fn role_word(role: Role) -> &'static str {
    match role {
        Role::Seeds => "1",
        Role::StandsIn => "standby",
        Role::Listens => "0",
    }
}

/// Tells a listen page sharing the stream its role, in an answer to it.
fn tell_role(role: Role, r: &mut Response) {
    r.headers_mut().insert(
        SEED_HEADER,
        header::HeaderValue::from_static(role_word(role)),
    );
}

/// A listen page's tracker socket tied to its session, for as long as it is open (see
/// `live::seeding`): the page hears its role on it the moment the role changes. Dropped when
/// the socket closes, it says the page has gone.
pub struct RoleFeed {
    hls: Arc<Hls>,
    session: u64,
    socket: u64,
}

/// Ties an open tracker socket to the live `session` its address named (`s=TOKEN`, the
/// page's Opus playlist token, read as in every live request: [`Player::session`]), and the
/// messages to send on it: the role now, then each change. Each is an announce reply for no
/// swarm (an empty `info_hash`), which the page's tracker client (bittorrent-tracker) passes
/// over and the page reads itself. `None` when too many sockets are tied already.
pub fn role_feed(hls: &Arc<Hls>, session: u64) -> Option<(RoleFeed, Notices)> {
    let (socket, mut role) = hls.seeding.attach(session, Instant::now())?;
    // The role now goes out first, as a change.
    role.mark_changed();
    let notices = stream::unfold(role, |mut role| async move {
        role.changed().await.ok()?;
        let word = role_word(*role.borrow_and_update());
        let text = serde_json::json!({"action": "announce", "info_hash": "", (SEED_HEADER): word});
        Some((text.to_string(), role))
    });
    let feed = RoleFeed {
        hls: hls.clone(),
        session,
        socket,
    };
    Some((feed, notices.boxed()))
}

impl Drop for RoleFeed {
    fn drop(&mut self) {
        self.hls
            .seeding
            .detach(self.session, self.socket, Instant::now());
    }
}

/// `GET /live/mp3.m3u8` and `GET /live/opus.m3u8`: a variant's sliding window, whole or as
/// a delta update. A listen page sharing the Opus variant is told its role.
fn hls_playlist(app: &AppState, v: Variant, player: Player) -> Response {
    match app.hls.playlist(v, player.delta) {
        Some(p) => {
            player.seen(app);
            let mut r = hls_response("application/vnd.apple.mpegurl", "no-cache", p);
            if v == Variant::Opus && player.p2p {
                let now = Instant::now();
                let role = app.hls.seeding.role(&player.ask(app), now);
                tell_role(role, &mut r);
                // Read after the playlist: a segment made in between makes the age too
                // young, and the page's guesses later, never early.
                if let Some(made) = app.hls.newest(v) {
                    tell_age(made, now, &mut r);
                }
            }
            r
        }
        None => (
            StatusCode::NOT_FOUND,
            "the live stream has no segment yet\n",
        )
            .into_response(),
    }
}

pub async fn hls_mp3(State(app): State<AppState>, player: Player) -> Response {
    hls_playlist(&app, Variant::Mp3, player)
}

pub async fn hls_opus(State(app): State<AppState>, player: Player) -> Response {
    hls_playlist(&app, Variant::Opus, player)
}

fn no_segment() -> Response {
    (StatusCode::NOT_FOUND, "no such segment\n").into_response()
}

/// A segment's answer: it never changes, so it may be cached. A `Range` asks for a part:
/// a page resumes a segment that a peer, or its own timed-out request, left half-done,
/// and the station sends only the bytes it lacks (p2p-media-loader asks so; the whole
/// segment made it start over). One range is answered
/// with 206; several, or an unreadable header, with the whole (RFC 9110 lets a server
/// ignore Range); one past the end with 416. The counted bytes are those answered.
fn segment(
    app: &AppState,
    player: &Player,
    headers: &HeaderMap,
    (v, mime): (Option<Variant>, &'static str),
    data: Option<Bytes>,
) -> Response {
    let Some(data) = data else {
        return no_segment();
    };
    player.seen(app);
    let len = data.len() as u64;
    let part = match headers.get(header::RANGE).map(|r| wanted(r, len)) {
        Some(Wanted::Unsatisfiable) => {
            return (
                StatusCode::RANGE_NOT_SATISFIABLE,
                [(header::CONTENT_RANGE, format!("bytes */{len}"))],
            )
                .into_response()
        }
        Some(Wanted::Part(r)) => Some(r),
        Some(Wanted::Whole) | None => None,
    };
    let body = match &part {
        Some(r) => data.slice(*r.start() as usize..=*r.end() as usize),
        None => data,
    };
    if let Some(v) = v {
        app.hls.answered(v, body.len());
    }
    let mut r = hls_response(mime, "public, max-age=60", body);
    let h = r.headers_mut();
    h.insert(
        header::ACCEPT_RANGES,
        header::HeaderValue::from_static("bytes"),
    );
    if let Some(range) = part {
        *r.status_mut() = StatusCode::PARTIAL_CONTENT;
        let value = format!("bytes {}-{}/{len}", range.start(), range.end());
        if let Ok(value) = header::HeaderValue::from_str(&value) {
            r.headers_mut().insert(header::CONTENT_RANGE, value);
        }
    }
    r
}

/// What a `Range` header asks of a body `len` bytes long.
#[derive(Debug, PartialEq)]
enum Wanted {
    Whole,
    Part(std::ops::RangeInclusive<u64>),
    Unsatisfiable,
}

fn wanted(range: &header::HeaderValue, len: u64) -> Wanted {
    let Ok(parsed) = range
        .to_str()
        .map_err(|_| ())
        .and_then(|r| http_range_header::parse_range_header(r).map_err(|_| ()))
    else {
        return Wanted::Whole;
    };
    match parsed.validate(len) {
        Ok(ranges) if ranges.len() == 1 => ranges
            .into_iter()
            .next()
            .map_or(Wanted::Whole, Wanted::Part),
        Ok(_) => Wanted::Whole,
        Err(_) => Wanted::Unsatisfiable,
    }
}

/// `GET /live/mp3/<n>.mp3`: one segment.
pub async fn hls_mp3_segment(
    State(app): State<AppState>,
    player: Player,
    headers: HeaderMap,
    Path(file): Path<String>,
) -> Response {
    let seg = file
        .strip_suffix(".mp3")
        .and_then(|n| n.parse::<u64>().ok())
        .and_then(|n| app.hls.segment(Variant::Mp3, n));
    let kind = (Some(Variant::Mp3), "audio/mpeg");
    segment(&app, &player, &headers, kind, seg)
}

/// `GET /live/opus/init.mp4` (the init segment) and `GET /live/opus/<n>.m4s`. An early
/// request for a new segment that the swarm's seeders carry is refused (see
/// `live::seeding`): the page takes it from other listeners.
pub async fn hls_opus_segment(
    State(app): State<AppState>,
    player: Player,
    headers: HeaderMap,
    Path(file): Path<String>,
) -> Response {
    if file == "init.mp4" {
        let init = app.hls.init_segment();
        return segment(&app, &player, &headers, (None, "audio/mp4"), init);
    }
    let Some(seq) = file
        .strip_suffix(".m4s")
        .and_then(|n| n.parse::<u64>().ok())
    else {
        return no_segment();
    };
    if !app
        .hls
        .segment_ready(Variant::Opus, seq, NEXT_SEGMENT_HOLD)
        .await
    {
        return no_segment();
    }
    let now = Instant::now();
    let reply = app.hls.seeding.segment(seq, &player.ask(&app), now);
    let mut r = if reply.answer == Answer::Refuse {
        player.seen(&app);
        (
            StatusCode::SERVICE_UNAVAILABLE,
            [
                (header::CACHE_CONTROL, "no-store"),
                (header::RETRY_AFTER, "2"),
            ],
            "other listeners have this segment: take it from them\n",
        )
            .into_response()
    } else {
        let seg = app.hls.segment(Variant::Opus, seq);
        let kind = (Some(Variant::Opus), "audio/mp4");
        segment(&app, &player, &headers, kind, seg)
    };
    if player.p2p {
        tell_role(reply.role, &mut r);
        if let Some(made) = app.hls.segment_made(Variant::Opus, seq) {
            tell_age(made, now, &mut r);
        }
    }
    r
}

/// `POST /live/leave?s=TOKEN`: a listen page closing (or leaving the live stream) says so,
/// so that if it seeded, another listener takes its place at once (see `live::seeding`).
/// Only the page's own token names it; anything else is ignored, and the answer is the same.
pub async fn leave(State(app): State<AppState>, player: Player) -> StatusCode {
    app.hls
        .seeding
        .left(player.ask(&app).session, Instant::now());
    StatusCode::NO_CONTENT
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

#[cfg(test)]
mod tests {
    use super::*;

    fn asks(range: &str) -> Wanted {
        wanted(&header::HeaderValue::from_str(range).unwrap(), 1000)
    }

    #[test]
    fn a_range_picks_a_part_of_the_segment() {
        assert_eq!(asks("bytes=100-"), Wanted::Part(100..=999));
        assert_eq!(asks("bytes=0-99"), Wanted::Part(0..=99));
        assert_eq!(asks("bytes=-10"), Wanted::Part(990..=999));
        // Past the end: nothing of it exists.
        assert_eq!(asks("bytes=1000-"), Wanted::Unsatisfiable);
        // Several ranges, another unit or nonsense: the whole segment.
        assert_eq!(asks("bytes=0-9,20-29"), Wanted::Whole);
        assert_eq!(asks("items=0-9"), Wanted::Whole);
        assert_eq!(asks("bytes=zz"), Wanted::Whole);
    }
}
