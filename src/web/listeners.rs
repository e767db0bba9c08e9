//! Listeners of `/live.ogg` and `/live.mp3` on plain http, served the way Icecast serves them:
//! one writer per stream takes each group of pages or frames as it comes and writes it to
//! every listener's socket in turn. Through hyper each listener cost a task wake-up, a poll
//! through the HTTP layers and a chunk header per group; with hundreds of listeners that was
//! most of the node's fan-out cost (benches/README.md, "Fan-out"). Over https (TLS keeps state
//! per connection) and for relays, `web::live` serves them through hyper as before.
//!
//! A listener's socket is written without waiting: what it cannot take now stays queued (the
//! groups are shared, so a queue is a list of references) and is tried again at the next
//! group. One that falls the stream's backlog behind is dropped, never slowing the others.

use std::{
    collections::VecDeque,
    io::{self, IoSlice, Write},
    net::SocketAddr,
    time::{Duration, Instant},
};

use axum::http::{header, HeaderMap, HeaderName, HeaderValue, StatusCode};
use bytes::Bytes;
use nix::sys::socket::{setsockopt, sockopt::SndBuf};
use tokio::{
    io::AsyncWriteExt,
    net::TcpStream,
    sync::{broadcast::error::RecvError, mpsc},
};
use tokio_util::sync::CancellationToken;

use super::AppState;
use crate::live::{fanout::ListenerGuard, icy::Icy, Output};

/// Most pieces handed to the kernel in one write.
const MAX_SLICES: usize = 64;
/// New listeners waiting for a writer; more are turned away.
const JOINING: usize = 256;
/// The kernel's send buffer for a listener's socket (it doubles what is asked): about 1 s of
/// a 128 kb/s stream, still three times what a path with a 300 ms round trip holds at that
/// rate. Left to itself Linux grows it up to `tcp_wmem`'s maximum (4 MB here) for a
/// listener that stops reading: memory a Pi has little of, and minutes before the listener
/// is found out and let go. Kept small, a path that takes less than the stream shows soon in
/// the writer's own queue, which is how a full uplink is seen (`LAGGING`): on an uplink 6 %
/// short, a listener falls 1 kB a second behind, and fills this in about 16 s.
const SEND_BUFFER: usize = 8 * 1024;
/// From this many listeners on a stream, each gets every other group, two in one write:
/// half the writes (the kernel's work per write is then most of the node's fan-out cost)
/// for about 100 ms more delay. A small audience gets every group as it comes.
const MANY: usize = 100;
/// Groups queued beyond the socket's own buffer that make a listener count as lagging (its
/// path takes less than the stream's rate): more than the one or two a listener waits for
/// between writes, so about 0.2 s. When a tenth of them lag together, the uplink is full
/// (`live::overflow`).
const LAGGING: usize = 2;

/// Whether a connection's first bytes ask for `/live.ogg` or `/live.mp3` with `GET` (a query
/// string allowed: players add one to defeat caches); `None` while too few have come to tell.
pub fn is_listener(start: &[u8]) -> Option<bool> {
    let mut undecided = false;
    for path in [&b"GET /live.ogg"[..], b"GET /live.mp3"] {
        let n = start.len().min(path.len());
        if start[..n] != path[..n] {
            continue;
        }
        match start.get(path.len()) {
            None => undecided = true,
            Some(b' ' | b'?') => return Some(true),
            Some(_) => {}
        }
    }
    if undecided {
        None
    } else {
        Some(false)
    }
}

/// What a listener's request asks for.
#[derive(Debug, PartialEq)]
struct Ask {
    output: Output,
    /// ICY titles in the MP3 stream (`Icy-MetaData: 1`).
    icy: bool,
    /// HTTP/1.0: answered in its own version.
    http10: bool,
    headers: HeaderMap,
}

/// Parses a listener's request head (pure); `Ok(None)` while incomplete.
fn parse_head(buf: &[u8]) -> Result<Option<Ask>, String> {
    let mut slots = [httparse::EMPTY_HEADER; 48];
    let mut req = httparse::Request::new(&mut slots);
    match req.parse(buf) {
        Ok(httparse::Status::Complete(_)) => {}
        Ok(httparse::Status::Partial) => return Ok(None),
        Err(e) => return Err(format!("bad request head: {e}")),
    }
    let path = req.path.unwrap_or("/");
    let output = match path.split('?').next() {
        Some("/live.ogg") => Output::Ogg,
        Some("/live.mp3") => Output::Mp3,
        _ => return Err(format!("not a live stream: {path}")),
    };
    if req.method != Some("GET") {
        return Err("not a GET".into());
    }
    let mut headers = HeaderMap::new();
    for h in req.headers.iter() {
        if let (Ok(name), Ok(value)) = (
            HeaderName::from_bytes(h.name.as_bytes()),
            HeaderValue::from_bytes(h.value),
        ) {
            headers.append(name, value);
        }
    }
    let icy = headers
        .get("icy-metadata")
        .is_some_and(|v| v.as_bytes().trim_ascii() == b"1");
    Ok(Some(Ask {
        output,
        icy: icy && output == Output::Mp3,
        http10: req.version == Some(0),
        headers,
    }))
}

/// The response head: status line and headers, ending with the blank line.
fn response_head(http10: bool, status: StatusCode, headers: &HeaderMap) -> Vec<u8> {
    let mut out = Vec::with_capacity(512);
    let version = if http10 { "HTTP/1.0" } else { "HTTP/1.1" };
    let reason = status.canonical_reason().unwrap_or("");
    out.extend_from_slice(format!("{version} {} {reason}\r\n", status.as_u16()).as_bytes());
    for (name, value) in headers {
        out.extend_from_slice(name.as_str().as_bytes());
        out.extend_from_slice(b": ");
        out.extend_from_slice(value.as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    // The stream has no length: it ends when either side closes.
    out.extend_from_slice(b"Connection: close\r\n\r\n");
    out
}

/// A short answer in place of the stream, then the connection closes.
async fn answer(stream: &mut TcpStream, http10: bool, status: StatusCode, extra: HeaderMap) {
    let text = match status {
        StatusCode::NOT_FOUND => "this station has no live input configured\n",
        StatusCode::SERVICE_UNAVAILABLE => super::server::TOO_BUSY,
        StatusCode::FOUND => super::live::TO_RELAY,
        _ => "Bad request\n",
    };
    let mut headers = extra;
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    headers.insert(header::CONTENT_LENGTH, HeaderValue::from(text.len()));
    let mut reply = response_head(http10, status, &headers);
    reply.extend_from_slice(text.as_bytes());
    let _ = stream.write_all(&reply).await;
}

/// What keeps a listener counted by the web server (its connection's slots) while it lives.
pub type Keep = Box<dyn Send + Sync>;

/// A listener handed to its stream's writer: its socket, what it gets before the burst (the
/// response head, and for Ogg the header pages), and what keeps it counted.
struct Newcomer {
    socket: std::net::TcpStream,
    first: Vec<Bytes>,
    icy: bool,
    keep: Keep,
}

/// The two writers' doors.
pub struct Listeners {
    app: AppState,
    ogg: mpsc::Sender<Newcomer>,
    mp3: mpsc::Sender<Newcomer>,
}

impl Listeners {
    /// Starts a writer per stream, until `shutdown`.
    pub fn start(app: AppState, shutdown: CancellationToken) -> Self {
        let (ogg, ogg_joins) = mpsc::channel(JOINING);
        let (mp3, mp3_joins) = mpsc::channel(JOINING);
        for (output, joins) in [(Output::Ogg, ogg_joins), (Output::Mp3, mp3_joins)] {
            tokio::spawn(writer(app.clone(), output, joins, shutdown.clone()));
        }
        Self { app, ogg, mp3 }
    }

    /// Reads a listener's request (within `header_timeout`), then hands the connection to
    /// its stream's writer. `admit` is asked, with the request's headers, for what keeps the
    /// listener counted; `None` means its address has too many requests under way.
    pub async fn serve(
        &self,
        mut stream: TcpStream,
        remote: SocketAddr,
        header_timeout: Duration,
        admit: impl FnOnce(&HeaderMap) -> Option<Keep>,
    ) {
        // What a player sends after its head (nothing, normally) is never read.
        let head = super::server::read_head(&mut stream, parse_head);
        let ask = match tokio::time::timeout(header_timeout, head).await {
            Ok(Ok((ask, _))) => ask,
            Ok(Err(e)) => {
                tracing::debug!(%remote, "listener: {e}");
                return answer(
                    &mut stream,
                    false,
                    StatusCode::BAD_REQUEST,
                    HeaderMap::new(),
                )
                .await;
            }
            Err(_) => return,
        };
        if !self.app.live.is_on() {
            return answer(
                &mut stream,
                ask.http10,
                StatusCode::NOT_FOUND,
                HeaderMap::new(),
            )
            .await;
        }
        // The uplink is full: a new listener goes to the station's Icecast relay.
        if let Some(url) = self.app.live.relay_for(ask.output) {
            let to = super::live::relay_headers(&url);
            return answer(&mut stream, ask.http10, StatusCode::FOUND, to).await;
        }
        let Some(keep) = admit(&ask.headers) else {
            let retry = [(header::RETRY_AFTER, HeaderValue::from_static("10"))];
            let retry = HeaderMap::from_iter(retry);
            return answer(
                &mut stream,
                ask.http10,
                StatusCode::SERVICE_UNAVAILABLE,
                retry,
            )
            .await;
        };
        let (mime, door) = match ask.output {
            Output::Ogg => ("audio/ogg", &self.ogg),
            Output::Mp3 => ("audio/mpeg", &self.mp3),
        };
        let headers = super::live::stream_headers(&self.app, mime, ask.icy);
        let mut first = vec![Bytes::from(response_head(
            ask.http10,
            StatusCode::OK,
            &headers,
        ))];
        if ask.output == Output::Ogg {
            first.push(self.app.live.ogg_headers());
        }
        // From here on the writer alone touches the socket, without the runtime's reactor.
        let socket = match stream.into_std() {
            Ok(s) => s,
            Err(e) => return tracing::debug!(%remote, "listener socket: {e}"),
        };
        if let Err(e) = setsockopt(&socket, SndBuf, &SEND_BUFFER) {
            tracing::debug!(%remote, "listener socket's send buffer: {e}");
        }
        let newcomer = Newcomer {
            socket,
            first,
            icy: ask.icy,
            keep,
        };
        match door.try_send(newcomer) {
            Ok(()) => {}
            Err(mpsc::error::TrySendError::Full(_)) => {
                tracing::info!(%remote, "too many listeners joining at once; one turned away");
            }
            // The writer has stopped: the node is shutting down.
            Err(mpsc::error::TrySendError::Closed(_)) => {}
        }
    }
}

/// One listener as its writer holds it.
struct Listener {
    socket: std::net::TcpStream,
    /// What it has yet to take, oldest first; the first may be partly sent.
    queue: VecDeque<Bytes>,
    icy: Option<Icy>,
    _counted: ListenerGuard,
    _keep: Keep,
}

/// Why a listener was let go.
enum Gone {
    Closed,
    Behind,
}

impl Listener {
    /// Queues a group, with the ICY titles due within it for a listener that asked.
    fn push(&mut self, group: &Bytes, title: impl Fn() -> String) {
        let piece = match &mut self.icy {
            Some(icy) => icy.frame(group.clone(), title),
            None => group.clone(),
        };
        self.queue.push_back(piece);
    }

    /// Writes what the socket takes now; `Err` when the listener is gone.
    fn flush(&mut self, backlog: usize) -> Result<(), Gone> {
        while !self.queue.is_empty() {
            let mut slices = [IoSlice::new(&[]); MAX_SLICES];
            let mut n = 0;
            for (slot, piece) in slices.iter_mut().zip(&self.queue) {
                *slot = IoSlice::new(piece);
                n += 1;
            }
            let mut sent = match (&self.socket).write_vectored(&slices[..n]) {
                Ok(0) => return Err(Gone::Closed),
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(_) => return Err(Gone::Closed),
            };
            while sent > 0 {
                let Some(front) = self.queue.front_mut() else {
                    break;
                };
                if sent < front.len() {
                    let _ = front.split_to(sent);
                    sent = 0;
                } else {
                    sent -= front.len();
                    self.queue.pop_front();
                }
            }
        }
        if self.queue.len() > backlog {
            return Err(Gone::Behind);
        }
        Ok(())
    }
}

/// One stream's writer: keeps the latest groups for new listeners' bursts, and writes every
/// group to every listener, until `shutdown` or the stream ends.
async fn writer(
    app: AppState,
    output: Output,
    mut joins: mpsc::Receiver<Newcomer>,
    shutdown: CancellationToken,
) {
    let fanout = app.live.fanout(output);
    let mut groups = fanout.groups();
    let (burst, backlog) = (fanout.burst_groups(), fanout.backlog_groups());
    let mut recent: VecDeque<Bytes> = VecDeque::with_capacity(burst + 1);
    let mut listeners: Vec<Listener> = Vec::new();
    let mut held_back = false;
    let title = || app.live.stream_title();
    let overflow = app.live.overflow();
    let keep = |l: &mut Listener| match l.flush(backlog) {
        Ok(()) => true,
        Err(Gone::Closed) => false,
        Err(Gone::Behind) => {
            tracing::info!(stream = ?output, "slow listener dropped");
            false
        }
    };
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => break,
            group = groups.recv() => match group {
                Ok(group) => {
                    if recent.len() == burst {
                        recent.pop_front();
                    }
                    recent.push_back(group.clone());
                    for l in &mut listeners {
                        l.push(&group, title);
                    }
                    held_back = listeners.len() >= MANY && !held_back;
                    if !held_back {
                        listeners.retain_mut(keep);
                        let lagging = listeners.iter().filter(|l| l.queue.len() > LAGGING).count();
                        overflow.report(output, listeners.len(), lagging, Instant::now());
                    }
                }
                Err(RecvError::Lagged(n)) => {
                    // The writer itself was held up: its listeners miss these groups.
                    tracing::warn!(stream = ?output, missed = n, "listeners' writer fell behind");
                }
                Err(RecvError::Closed) => break,
            },
            joined = joins.recv() => {
                let Some(n) = joined else { break };
                let mut l = Listener {
                    socket: n.socket,
                    queue: n.first.into(),
                    icy: n.icy.then(Icy::default),
                    _counted: fanout.count(),
                    _keep: n.keep,
                };
                for group in &recent {
                    l.push(group, title);
                }
                if keep(&mut l) {
                    listeners.push(l);
                }
            }
        }
    }
    // Its listeners are gone: they say nothing of the uplink any more.
    overflow.report(output, 0, 0, Instant::now());
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn listeners_are_told_from_their_first_bytes() {
        assert_eq!(is_listener(b"GET /live.ogg HTTP/1.1\r\n"), Some(true));
        assert_eq!(is_listener(b"GET /live.mp3?nocache=1 HT"), Some(true));
        assert_eq!(is_listener(b"GET /live.m"), None);
        assert_eq!(is_listener(b"GET /live.mp3"), None);
        assert_eq!(is_listener(b"GET /live.mp3x"), Some(false));
        assert_eq!(is_listener(b"GET /live/index.m3u8"), Some(false));
        assert_eq!(is_listener(b"HEAD /live.ogg HTTP/1.1"), Some(false));
        assert_eq!(is_listener(b"GET / HTTP/1.1"), Some(false));
        assert_eq!(is_listener(b""), None);
    }

    #[test]
    fn a_listeners_head_is_read_for_its_stream_titles_and_version() {
        let ask = parse_head(b"GET /live.mp3 HTTP/1.0\r\nIcy-MetaData: 1\r\n\r\n")
            .unwrap()
            .unwrap();
        assert_eq!((ask.output, ask.icy, ask.http10), (Output::Mp3, true, true));
        let ask = parse_head(b"GET /live.ogg?x=1 HTTP/1.1\r\nIcy-MetaData: 1\r\n\r\n")
            .unwrap()
            .unwrap();
        // Titles go only into MP3; an Ogg stream carries its own tags.
        assert_eq!(
            (ask.output, ask.icy, ask.http10),
            (Output::Ogg, false, false)
        );
        assert!(parse_head(b"GET /live.ogg HTTP/1.1\r\nHost: x\r\n")
            .unwrap()
            .is_none());
        assert!(parse_head(b"GET /live.ogg HTTP/1.1\r\nBad Header\r\n\r\n").is_err());
        assert!(parse_head(b"POST /live.ogg HTTP/1.1\r\n\r\n").is_err());
    }

    #[test]
    fn a_response_head_ends_with_close_and_a_blank_line() {
        let mut h = HeaderMap::new();
        h.insert(header::CONTENT_TYPE, HeaderValue::from_static("audio/ogg"));
        let head = response_head(false, StatusCode::OK, &h);
        assert_eq!(
            head,
            b"HTTP/1.1 200 OK\r\ncontent-type: audio/ogg\r\nConnection: close\r\n\r\n"
        );
    }

    /// A listener whose socket takes nothing keeps its queue until the backlog, then goes;
    /// one that reads gets every byte in order, however the writes were cut.
    #[test]
    fn slow_listeners_queue_then_go_and_readers_get_everything() {
        let server = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let client = std::net::TcpStream::connect(server.local_addr().unwrap()).unwrap();
        let (socket, _) = server.accept().unwrap();
        socket.set_nonblocking(true).unwrap();
        let fanout = crate::live::fanout::Fanout::new(8, 1, 1);
        let mut l = Listener {
            socket,
            queue: VecDeque::new(),
            icy: None,
            _counted: fanout.count(),
            _keep: Box::new(()),
        };
        let group = Bytes::from(vec![7u8; 64 * 1024]);
        let mut kept = 0;
        let gone = loop {
            l.push(&group, String::new);
            match l.flush(4) {
                Ok(()) => kept += 1,
                Err(g) => break g,
            }
            assert!(
                kept < 1000,
                "a listener that reads nothing was never dropped"
            );
        };
        assert!(matches!(gone, Gone::Behind));
        drop(l);
        // What was written arrived whole, in 64 KiB groups of sevens.
        let mut got = Vec::new();
        let mut client = client;
        std::io::Read::read_to_end(&mut client, &mut got).unwrap();
        assert!(!got.is_empty() && got.iter().all(|&b| b == 7));
        assert_eq!(fanout.listeners(), 0);
    }
}
