//! Icecast's ends, so studio software and directories talk to the box as to an Icecast
//! server.
//!
//! - **Sources** (BUTT, Mixxx, Liquidsoap, ffmpeg, ezstream): `PUT /<mount>` or the older
//!   `SOURCE /<mount>`, HTTP basic auth as `source` with `live.source_password`, then the
//!   stream's bytes with no length until the client hangs up (or chunked, as curl sends a
//!   pipe: [`super::chunked`]). hyper reads a request without
//!   a length as having no body, so these connections are taken over before HTTP
//!   ([`is_source`], from the first bytes) and spoken to here. They skip the config page's
//!   rules (Host, local network, session, CSRF) and the https move: source clients follow no
//!   redirects, and the source password is their key. Wrong passwords count against the
//!   address like logins do.
//! - **Metadata**: `GET /admin/metadata?mode=updinfo&song=...` (or `artist=` and
//!   `title=`), with the same password.

use std::{net::SocketAddr, sync::Arc, time::Duration};

use axum::{
    extract::{Query, State},
    http::{header, HeaderMap, StatusCode},
    response::{IntoResponse, Response},
};
use base64::Engine;
use bytes::Bytes;
use serde::Deserialize;
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::TcpStream,
};

use super::{
    chunked::{ChunkError, Dechunk},
    AppState,
};
use crate::{
    live::{
        decode::Tagged,
        ingest::{IngestError, SourceInfo},
        Live,
    },
    station::{access::AccessError, Station},
};

/// A source that sends nothing for this long is dropped (Icecast's `source-timeout`).
const SOURCE_IDLE: Duration = Duration::from_secs(10);
/// Bytes read from a source at a time.
const READ_CHUNK: usize = 16 * 1024;

/// What taking a source needs: the live programme and the station's password and limits.
pub struct Door {
    pub live: Arc<Live>,
    pub station: Arc<Station>,
}

/// Whether a connection whose first bytes are `start` is a source's: `SOURCE`, `PUT`
/// anywhere but the config page's uploads, or `OPTIONS *` (libshout's first question).
/// `None` while too few bytes have come to tell.
pub fn is_source(start: &[u8]) -> Option<bool> {
    for method in [&b"SOURCE /"[..], b"PUT /", b"OPTIONS * "] {
        let n = start.len().min(method.len());
        if start[..n] != method[..n] {
            continue;
        }
        if n < method.len() {
            return None;
        }
        if method == b"PUT /" {
            let rest = &start[method.len()..];
            let admin = b"admin/";
            let m = rest.len().min(admin.len());
            if rest[..m] == admin[..m] {
                return if m < admin.len() { None } else { Some(false) };
            }
        }
        return Some(true);
    }
    Some(false)
}

/// The parts of a source's request the box uses.
struct Head {
    method: String,
    mount: String,
    credentials: Option<(String, String)>,
    content_type: Option<String>,
    expect_continue: bool,
    chunked: bool,
    length: Option<u64>,
    info: SourceInfo,
}

fn parse_head(buf: &[u8]) -> Result<Option<(Head, usize)>, String> {
    let mut headers = [httparse::EMPTY_HEADER; 48];
    let mut req = httparse::Request::new(&mut headers);
    let n = match req.parse(buf) {
        Ok(httparse::Status::Complete(n)) => n,
        Ok(httparse::Status::Partial) => return Ok(None),
        Err(e) => return Err(format!("bad request head: {e}")),
    };
    let get = |name: &str| {
        req.headers
            .iter()
            .find(|h| h.name.eq_ignore_ascii_case(name))
            .and_then(|h| std::str::from_utf8(h.value).ok())
            .map(|v| v.trim().to_string())
            .filter(|v| !v.is_empty())
    };
    let path = req.path.unwrap_or("/");
    let head = Head {
        method: req.method.unwrap_or_default().to_string(),
        mount: path.split('?').next().unwrap_or(path).to_string(),
        credentials: get("authorization").as_deref().and_then(basic_credentials),
        content_type: get("content-type"),
        expect_continue: get("expect").is_some_and(|v| v.eq_ignore_ascii_case("100-continue")),
        chunked: get("transfer-encoding")
            .is_some_and(|v| v.to_ascii_lowercase().contains("chunked")),
        length: get("content-length").and_then(|v| v.parse().ok()),
        info: SourceInfo {
            name: get("ice-name"),
            description: get("ice-description"),
            genre: get("ice-genre"),
            song: Tagged::default(),
        },
    };
    Ok(Some((head, n)))
}

/// A source's body as it comes: the stream as it is (until the client hangs up, or for
/// `Content-Length` bytes), or chunked.
enum Body {
    Plain { left: u64 },
    Chunked(Dechunk),
}

impl Body {
    fn new(head: &Head) -> Self {
        if head.chunked {
            Body::Chunked(Dechunk::default())
        } else {
            Body::Plain {
                left: head.length.unwrap_or(u64::MAX),
            }
        }
    }

    /// The stream's bytes in what was read.
    fn take(&mut self, read: &[u8]) -> Result<Bytes, ChunkError> {
        match self {
            Body::Plain { left } => {
                let n = read.len().min(usize::try_from(*left).unwrap_or(usize::MAX));
                *left -= n as u64;
                Ok(Bytes::copy_from_slice(&read[..n]))
            }
            Body::Chunked(d) => {
                let mut out = Vec::with_capacity(read.len());
                d.feed(read, &mut out)?;
                Ok(out.into())
            }
        }
    }

    fn ended(&self) -> bool {
        match self {
            Body::Plain { left } => *left == 0,
            Body::Chunked(d) => d.ended(),
        }
    }
}

/// `Basic base64(user:password)`.
fn basic_credentials(value: &str) -> Option<(String, String)> {
    let (scheme, b64) = value.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let raw = base64::engine::general_purpose::STANDARD
        .decode(b64.trim())
        .ok()?;
    let text = String::from_utf8(raw).ok()?;
    let (user, password) = text.split_once(':')?;
    Some((user.to_string(), password.to_string()))
}

/// An answer in Icecast's words: status line, a short text.
async fn answer(stream: &mut TcpStream, status: &str, extra: &str, text: &str) {
    let reply = format!(
        "HTTP/1.0 {status}\r\nContent-Type: text/plain; charset=utf-8\r\n{extra}\
         Content-Length: {}\r\nConnection: close\r\n\r\n{text}",
        text.len()
    );
    let _ = stream.write_all(reply.as_bytes()).await;
}

/// `401`, asking for the source password.
async fn challenge(stream: &mut TcpStream) {
    let ask = "WWW-Authenticate: Basic realm=\"streamp2p\"\r\n";
    answer(stream, "401 Unauthorized", ask, "Authentication required\n").await;
}

impl Door {
    /// Serves a source's connection: checks it, then hands its stream to the programme
    /// until the client hangs up or goes quiet. Within `header_timeout` the head must come.
    pub async fn serve(&self, mut stream: TcpStream, remote: SocketAddr, header_timeout: Duration) {
        let head = tokio::time::timeout(
            header_timeout,
            super::server::read_head(&mut stream, parse_head),
        )
        .await;
        let ((head, used), buf) = match head {
            Ok(Ok(h)) => h,
            Ok(Err(e)) => {
                tracing::debug!(%remote, "source: {e}");
                return answer(&mut stream, "400 Bad Request", "", "Bad request\n").await;
            }
            Err(_) => return,
        };
        if head.method == "OPTIONS" {
            // libshout (ezstream, BUTT, Mixxx) first asks what the server takes, offering to
            // move to TLS; the answer keeps it plain and names the methods, PUT among them.
            return answer(
                &mut stream,
                "200 OK",
                "Allow: GET, PUT, SOURCE, OPTIONS\r\n",
                "",
            )
            .await;
        }
        if head.credentials.is_none() {
            // libshout then knocks without a password to learn that one is needed: the
            // challenge, which guesses nothing, so it is not counted as a wrong password.
            return challenge(&mut stream).await;
        }
        let ip = remote.ip();
        let configured = self.station.settings().live.source_password.clone();
        let (user, password) = head.credentials.clone().unwrap_or_default();
        match self
            .station
            .access
            .check_source(ip, (&user, &password), &configured)
        {
            Ok(()) => {}
            Err(AccessError::Locked(minutes)) => {
                tracing::warn!(%remote, "source refused: too many wrong passwords");
                let wait = format!("Retry-After: {}\r\n", minutes * 60);
                return answer(
                    &mut stream,
                    "429 Too Many Requests",
                    &wait,
                    "Too many wrong passwords; wait and try again\n",
                )
                .await;
            }
            Err(_) => {
                if configured.is_empty() {
                    tracing::warn!(%remote, "source refused: no source password is set");
                } else {
                    tracing::warn!(%remote, user, "source refused: wrong password");
                }
                return challenge(&mut stream).await;
            }
        }
        if !self.live.is_on() {
            return answer(
                &mut stream,
                "503 Service Unavailable",
                "",
                "The live stream is off on this box\n",
            )
            .await;
        }
        let feed = match self
            .live
            .ingest()
            .connect(head.content_type.clone(), head.info.clone())
        {
            Ok(f) => f,
            Err(IngestError::Busy) => {
                tracing::info!(%remote, "source refused: another source is connected");
                return answer(&mut stream, "403 Forbidden", "", "Mountpoint in use\n").await;
            }
            Err(e) => {
                tracing::error!("{e}");
                return answer(
                    &mut stream,
                    "500 Internal Server Error",
                    "",
                    "Cannot take the stream now\n",
                )
                .await;
            }
        };
        let ok: &[u8] = if head.expect_continue {
            b"HTTP/1.1 100 Continue\r\n\r\n"
        } else {
            b"HTTP/1.0 200 OK\r\n\r\n"
        };
        if stream.write_all(ok).await.is_err() {
            return;
        }
        tracing::info!(
            %remote,
            method = head.method,
            mount = head.mount,
            content_type = ?head.content_type,
            name = ?head.info.name,
            "source connected"
        );
        let mut body = Body::new(&head);
        // What came with the head first (the head is far shorter than a read).
        let mut chunk = vec![0u8; READ_CHUNK.max(buf.len())];
        let mut read = buf.len() - used;
        chunk[..read].copy_from_slice(&buf[used..]);
        loop {
            let bytes = match body.take(&chunk[..read]) {
                Ok(b) => b,
                Err(e) => {
                    tracing::warn!(%remote, "source dropped: {e}");
                    break;
                }
            };
            if !bytes.is_empty() && !feed.send(bytes).await {
                tracing::warn!(%remote, "source dropped: its stream could not be decoded");
                break;
            }
            if body.ended() {
                break;
            }
            read = match tokio::time::timeout(SOURCE_IDLE, stream.read(&mut chunk)).await {
                Ok(Ok(0)) | Ok(Err(_)) => break,
                Ok(Ok(n)) => n,
                Err(_) => {
                    tracing::warn!(%remote, "source sent nothing for {} s; dropped", SOURCE_IDLE.as_secs());
                    break;
                }
            };
        }
        tracing::info!(%remote, "source ended");
    }
}

#[derive(Deserialize)]
pub struct MetadataQuery {
    mode: Option<String>,
    song: Option<String>,
    artist: Option<String>,
    title: Option<String>,
}

/// `GET /admin/metadata?mode=updinfo`: the source's new song, as Icecast takes it.
pub async fn metadata(
    State(app): State<AppState>,
    axum::extract::ConnectInfo(conn): axum::extract::ConnectInfo<super::ConnInfo>,
    headers: HeaderMap,
    Query(q): Query<MetadataQuery>,
) -> Response {
    let ip = super::client_ip(&app, &conn, &headers);
    let configured = app.station.settings().live.source_password.clone();
    let (user, password) = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(basic_credentials)
        .unwrap_or_default();
    match app
        .station
        .access
        .check_source(ip, (&user, &password), &configured)
    {
        Ok(()) => {}
        Err(AccessError::Locked(_)) => {
            return ice_response(StatusCode::TOO_MANY_REQUESTS, "Too many wrong passwords")
        }
        Err(_) => {
            tracing::warn!(%ip, "metadata refused: wrong source password");
            let mut r = ice_response(StatusCode::UNAUTHORIZED, "Authentication Required");
            r.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                header::HeaderValue::from_static("Basic realm=\"streamp2p\""),
            );
            return r;
        }
    }
    if q.mode.as_deref() != Some("updinfo") {
        return ice_response(StatusCode::BAD_REQUEST, "No such mode");
    }
    let clean = |s: Option<String>| {
        s.map(|v| {
            v.chars()
                .filter(|c| !c.is_control())
                .take(500)
                .collect::<String>()
        })
        .filter(|v| !v.trim().is_empty())
    };
    let song = match (clean(q.song), clean(q.artist), clean(q.title)) {
        (Some(song), _, _) => split_song(&song),
        (None, artist, title) => Tagged { title, artist },
    };
    if app.live.ingest().set_song(song) {
        ice_response(StatusCode::OK, "Metadata update successful")
    } else {
        ice_response(StatusCode::BAD_REQUEST, "Source does not exist")
    }
}

/// `Artist - Title`, the way source clients send one line.
fn split_song(song: &str) -> Tagged {
    match song.split_once(" - ") {
        Some((artist, title)) if !artist.trim().is_empty() && !title.trim().is_empty() => Tagged {
            title: Some(title.trim().to_string()),
            artist: Some(artist.trim().to_string()),
        },
        _ => Tagged {
            title: Some(song.trim().to_string()),
            artist: None,
        },
    }
}

/// Icecast's XML answer to its admin requests.
fn ice_response(status: StatusCode, message: &str) -> Response {
    let ok = u8::from(status == StatusCode::OK);
    let body = format!(
        "<?xml version=\"1.0\"?>\n<iceresponse><message>{message}</message><return>{ok}</return></iceresponse>\n"
    );
    (status, [(header::CONTENT_TYPE, "text/xml")], body).into_response()
}

/// `GET /status-json.xsl`: the stream as Icecast's status page lists it, for directories
/// and tools made for Icecast: one source per mount (`/live.mp3`, `/live.ogg`).
pub async fn status_json(
    State(app): State<AppState>,
    axum::extract::ConnectInfo(conn): axum::extract::ConnectInfo<super::ConnInfo>,
    headers: HeaderMap,
) -> Response {
    let settings = app.station.settings();
    let base = super::base_url(&settings, &headers, &conn);
    let host = base
        .split_once("://")
        .map_or(base.as_str(), |(_, h)| h)
        .to_string();
    let started = chrono::DateTime::<chrono::Local>::from(
        std::time::SystemTime::now() - app.started.elapsed(),
    );
    let stamp = started.to_rfc3339_opts(chrono::SecondsFormat::Secs, false);
    let title = app.live.stream_title();
    let (ogg, mp3) = app.live.listeners();
    let station = &settings.station;
    let sources: Vec<serde_json::Value> = if app.live.is_on() {
        [
            ("live.mp3", "audio/mpeg", mp3),
            ("live.ogg", "application/ogg", ogg),
        ]
        .into_iter()
        .map(|(mount, kind, listeners)| {
            serde_json::json!({
                "audio_info": format!("bitrate={}", settings.live.bitrate_kbps),
                "bitrate": settings.live.bitrate_kbps,
                "genre": station.genre,
                "listener_peak": listeners,
                "listeners": listeners,
                "listenurl": format!("{base}/{mount}"),
                "server_description": station.description,
                "server_name": station.name,
                "server_type": kind,
                "server_url": base,
                "stream_start": started.format("%a, %d %b %Y %H:%M:%S %z").to_string(),
                "stream_start_iso8601": stamp,
                "title": title,
                "dummy": null,
            })
        })
        .collect()
    } else {
        Vec::new()
    };
    let body = serde_json::json!({
        "icestats": {
            "admin": "",
            "host": host,
            "location": "",
            "server_id": format!("streamp2p {}", env!("CARGO_PKG_VERSION")),
            "server_start": started.format("%a, %d %b %Y %H:%M:%S %z").to_string(),
            "server_start_iso8601": stamp,
            "source": sources,
        }
    });
    (
        [
            (header::CACHE_CONTROL, "no-store"),
            (header::ACCESS_CONTROL_ALLOW_ORIGIN, "*"),
        ],
        axum::Json(body),
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tells_sources_from_other_requests_by_their_first_bytes() {
        assert_eq!(is_source(b"SOURCE /live HTTP/1.0\r\n"), Some(true));
        assert_eq!(is_source(b"PUT /live HTTP/1.1\r\n"), Some(true));
        assert_eq!(is_source(b"PUT /admin/uploads/1 HTTP/1.1"), Some(false));
        assert_eq!(is_source(b"GET /live.mp3 HTTP/1.1"), Some(false));
        assert_eq!(is_source(b"PU"), None);
        assert_eq!(is_source(b"PUT /adm"), None);
        assert_eq!(is_source(b"SOUR"), None);
        assert_eq!(is_source(b"OPTIONS * HTTP/1.1\r\n"), Some(true));
        assert_eq!(is_source(b"OPTIONS /feed.xml"), Some(false));
        assert_eq!(is_source(b"OPTIO"), None);
        assert_eq!(is_source(b"\x16\x03\x01"), Some(false));
        assert_eq!(is_source(b""), None);
    }

    #[test]
    fn reads_a_source_head() {
        let raw = b"PUT /live HTTP/1.1\r\nHost: x\r\nAuthorization: Basic c291cmNlOmhhY2ttZQ==\r\n\
                    Content-Type: audio/mpeg\r\nExpect: 100-continue\r\nIce-Name: Radio\r\n\r\nID3";
        let (h, n) = parse_head(raw).unwrap().unwrap();
        assert_eq!(&raw[n..], b"ID3");
        assert_eq!(h.mount, "/live");
        assert_eq!(h.credentials, Some(("source".into(), "hackme".into())));
        assert_eq!(h.content_type.as_deref(), Some("audio/mpeg"));
        assert!(h.expect_continue && !h.chunked && h.length.is_none());
        assert_eq!(h.info.name.as_deref(), Some("Radio"));
        assert!(parse_head(b"PUT /live HTTP/1.1\r\nHost").unwrap().is_none());
        assert!(parse_head(b"PUT /live HTTP/1.1\r\n\x01\r\n\r\n").is_err());
    }

    #[test]
    fn splits_artist_and_title() {
        assert_eq!(
            split_song("Nina Simone - Feeling Good"),
            Tagged {
                title: Some("Feeling Good".into()),
                artist: Some("Nina Simone".into())
            }
        );
        assert_eq!(split_song("Jingle").title.as_deref(), Some("Jingle"));
    }
}
