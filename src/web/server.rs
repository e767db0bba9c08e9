//! Serving the connections: hyper's HTTP/1 on each accepted socket, with the limits that
//! keep idle and slow clients from holding the server (`[web]` in the config).
//!
//! - **Caps.** At most `max_connections` sockets at once. From one address (an IPv6 client
//!   by its /64) at most `max_per_address` unfinished requests and open WebSockets; its
//!   connections beyond that many are only taken while the server is less than half full,
//!   so one address never fills it and others are still answered.
//! - **Timeouts.** A request's headers must arrive within `header_timeout_secs` (hyper's
//!   timer, from when the server began waiting); a connection with no request under way
//!   that sends nothing for `idle_secs` is closed; a request body that sends nothing for
//!   `body_idle_secs` is dropped (time between reads, never a total: a live source never
//!   ends); an answer the client takes nothing of for `send_timeout_secs` is dropped.
//!
//! A WebSocket keeps its address's slot until the socket closes; its own idle rule is the
//! tracker's (`tracker.ws_idle_secs`).
//!
//! The https listener is the same server with a TLS handshake first, under the same caps;
//! the handshake must finish within `header_timeout_secs`. A TLS-ALPN-01 validation
//! connection (the certificate service checking the box holds its name) ends after the
//! handshake.

use std::{
    collections::HashMap,
    convert::Infallible,
    future::Future,
    io,
    net::{IpAddr, Ipv6Addr, SocketAddr},
    pin::{pin, Pin},
    sync::{
        atomic::{AtomicU64, AtomicUsize, Ordering},
        Arc, Mutex, PoisonError,
    },
    task::{Context, Poll},
    time::Duration,
};

use axum::{
    body::{Body, Bytes},
    extract::ConnectInfo,
    http::{header, HeaderMap, HeaderValue, Request, Response, StatusCode},
    Router,
};
use http_body::{Body as HttpBody, Frame, SizeHint};
use hyper::{body::Incoming, server::conn::http1, service::service_fn};
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::{
    io::{AsyncRead, AsyncReadExt, AsyncWrite, ReadBuf},
    net::{TcpListener, TcpSocket, TcpStream},
    sync::watch,
    time::{Instant, Sleep},
};
use tokio_util::sync::CancellationToken;
use tower::ServiceExt as _;

use super::{
    icecast::Door,
    listeners::{Keep, Listeners},
    ConnInfo,
};
use crate::{
    config::WebConfig,
    tls::{TlsWatch, CHALLENGE_ALPN},
};

/// How a listener's connections are carried.
#[derive(Clone)]
pub enum Scheme {
    /// Plain http; `https` is the https side's status when https is on (the pages move
    /// there once it has a certificate). Before HTTP, Icecast sources' connections are
    /// taken over by `sources`, and the live streams' listeners by `listeners`.
    Http {
        https: Option<TlsWatch>,
        sources: Arc<Door>,
        listeners: Arc<Listeners>,
    },
    /// TLS with these settings, then http.
    Https(Arc<rustls::ServerConfig>),
}

/// Pause after a failed accept: with no file descriptor left the same connection waits in
/// the backlog, and retrying at once would spin.
const ACCEPT_PAUSE: Duration = Duration::from_millis(100);

/// The server's limits, from `[web]` (the connection cap after the open-files check).
#[derive(Debug, Clone)]
pub struct Limits {
    pub max_connections: usize,
    pub max_per_address: usize,
    pub idle: Duration,
    pub header_timeout: Duration,
    pub body_idle: Duration,
    pub send_timeout: Duration,
    pub trust_forwarded_for: bool,
}

impl Limits {
    /// The configured limits, with the connection cap lowered to half the open-files
    /// limit `open_files` (the other half is the library's, the swarm's and the
    /// database's). Says so in the log when it lowers it.
    pub fn new(web: &WebConfig, open_files: Option<u64>) -> Self {
        let room = open_files.map_or(usize::MAX, |n| usize::try_from(n / 2).unwrap_or(usize::MAX));
        let max_connections = web.max_connections.min(room);
        if max_connections < web.max_connections {
            tracing::warn!(
                "the system lets the node open {} files; the web server takes at most {} \
                 connections at once (web.max_connections is {}); raise LimitNOFILE",
                open_files.unwrap_or_default(),
                max_connections,
                web.max_connections
            );
        }
        tracing::info!(
            open_files,
            max_connections,
            max_per_address = web.max_per_address,
            "web server limits"
        );
        Self {
            max_connections,
            max_per_address: web.max_per_address.min(max_connections),
            idle: Duration::from_secs(web.idle_secs),
            header_timeout: Duration::from_secs(web.header_timeout_secs),
            body_idle: Duration::from_secs(web.body_idle_secs),
            send_timeout: Duration::from_secs(web.send_timeout_secs),
            trust_forwarded_for: web.trust_forwarded_for,
        }
    }
}

/// Connections the kernel queues for `accept`. When the queue is full it drops new
/// connections' SYNs and their clients retry a second later: one client opening thousands
/// at once would make everyone else wait. (Capped by `net.core.somaxconn`, 4096 by default.)
const BACKLOG: u32 = 4096;

/// The web server's listening socket on `addr`.
pub fn listen(addr: SocketAddr) -> io::Result<TcpListener> {
    let socket = match addr {
        SocketAddr::V4(_) => TcpSocket::new_v4()?,
        SocketAddr::V6(_) => TcpSocket::new_v6()?,
    };
    // As `TcpListener::bind` does: a restart may bind while old connections linger.
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    socket.listen(BACKLOG)
}

/// The caps and limits every listener counts against together (http and https): one
/// client holds the same share whichever it uses, and the open-files budget is shared.
#[derive(Clone)]
pub struct Caps {
    gate: Arc<Gate>,
    limits: Arc<Limits>,
}

impl Caps {
    pub fn new(limits: Limits) -> Self {
        Self {
            gate: Arc::new(Gate::new(limits.max_connections, limits.max_per_address)),
            limits: Arc::new(limits),
        }
    }
}

/// Serves `router` on `listener` until `shutdown`, then lets open requests finish.
pub async fn run(
    listener: TcpListener,
    router: Router,
    caps: Caps,
    scheme: Scheme,
    shutdown: CancellationToken,
) -> io::Result<()> {
    let Caps { gate, limits } = caps;
    // Every connection task holds a receiver; the sender sees them all gone at the end.
    let (all_done, done) = watch::channel(());
    let mut last_warning: Option<Instant> = None;
    loop {
        let (stream, remote) = tokio::select! {
            _ = shutdown.cancelled() => break,
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(e) => {
                    accept_failed(&e, &mut last_warning);
                    tokio::time::sleep(ACCEPT_PAUSE).await;
                    continue;
                }
            },
        };
        let Some(slot) = gate.connect(remote.ip()) else {
            refuse(stream);
            continue;
        };
        // Replies go out whole, so Nagle's algorithm only adds waits: a tracker reply
        // queued behind relayed offers the browser has not acknowledged yet (delayed ACK)
        // waited up to 40 ms.
        if let Err(e) = stream.set_nodelay(true) {
            tracing::debug!("TCP_NODELAY: {e}");
        }
        let local = stream.local_addr().unwrap_or(remote);
        let (secure, https_ready, tls, before_http) = match &scheme {
            Scheme::Http {
                https,
                sources,
                listeners,
            } => (
                false,
                https.as_ref().is_some_and(ready),
                None,
                Some((sources.clone(), listeners.clone())),
            ),
            Scheme::Https(config) => (true, true, Some(config.clone()), None),
        };
        let conn = Connection {
            info: ConnInfo {
                remote,
                local,
                secure,
                https_ready,
            },
            router: router.clone(),
            gate: gate.clone(),
            limits: limits.clone(),
            before_http,
        };
        tokio::spawn(conn.serve(stream, tls, slot, shutdown.clone(), done.clone()));
    }
    drop(listener);
    drop(done);
    all_done.closed().await;
    Ok(())
}

/// What a plain-http connection's first request is.
enum First {
    /// An Icecast source's (see [`super::icecast::is_source`]).
    Source,
    /// A listener's of `/live.ogg` or `/live.mp3` (see [`super::listeners::is_listener`]).
    Listener,
    Http,
}

/// The connection's first request, from its first bytes, peeked so HTTP still reads them;
/// `None` when it closed or sent too little within `wait`.
async fn first_request(stream: &TcpStream, wait: Duration) -> Option<First> {
    let judge = |start: &[u8]| match super::icecast::is_source(start)? {
        true => Some(First::Source),
        false => Some(match super::listeners::is_listener(start)? {
            true => First::Listener,
            false => First::Http,
        }),
    };
    let mut start = [0u8; 16];
    let until = Instant::now() + wait;
    loop {
        let n = tokio::time::timeout_at(until, stream.peek(&mut start))
            .await
            .ok()?
            .ok()?;
        if n == 0 {
            return None;
        }
        if let Some(first) = judge(&start[..n]) {
            return Some(first);
        }
        // Only part of a request line has come (the rest is in flight): peek again shortly.
        tokio::time::sleep(Duration::from_millis(5)).await;
        if Instant::now() >= until {
            return None;
        }
    }
}

/// The longest request head read off a connection taken over before HTTP (a player of
/// `/live.*`, a studio PC's source); longer is refused.
const MAX_HEAD: usize = 8 * 1024;

/// Reads the request head of a connection taken over before HTTP: bytes until `parse` makes
/// a head of them, at most [`MAX_HEAD`]. Returns it with all that was read (a source's
/// stream may follow its head in the same read).
pub(super) async fn read_head<T>(
    stream: &mut TcpStream,
    parse: impl Fn(&[u8]) -> Result<Option<T>, String>,
) -> Result<(T, Vec<u8>), String> {
    let mut buf = Vec::with_capacity(1024);
    loop {
        if buf.len() >= MAX_HEAD {
            return Err("request head too long".into());
        }
        let mut chunk = [0u8; 1024];
        let n = stream.read(&mut chunk).await.map_err(|e| e.to_string())?;
        if n == 0 {
            return Err("closed before the request head".into());
        }
        buf.extend_from_slice(&chunk[..n]);
        if let Some(head) = parse(&buf)? {
            return Ok((head, buf));
        }
    }
}

/// The https side has a certificate now.
fn ready(https: &TlsWatch) -> bool {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX));
    https.borrow().ready(now)
}

/// Logs a failed accept, the "no file descriptor left" kind at most every 10 s.
fn accept_failed(e: &io::Error, last: &mut Option<Instant>) {
    let out_of_files = matches!(
        e.raw_os_error(),
        Some(nix::libc::EMFILE) | Some(nix::libc::ENFILE)
    );
    if !out_of_files {
        tracing::debug!("accept: {e}");
        return;
    }
    if last.is_none_or(|t| t.elapsed() >= Duration::from_secs(10)) {
        tracing::warn!("cannot take more connections: {e}");
        *last = Some(Instant::now());
    }
}

/// A connection over the caps: a short answer if the socket takes it at once, then closed.
fn refuse(stream: TcpStream) {
    let _ = stream.try_write(
        b"HTTP/1.1 503 Service Unavailable\r\nConnection: close\r\nRetry-After: 10\r\n\
          Content-Length: 0\r\n\r\n",
    );
}

/// One accepted connection and what serving it needs.
struct Connection {
    info: ConnInfo,
    router: Router,
    gate: Arc<Gate>,
    limits: Arc<Limits>,
    /// Take Icecast sources' and live listeners' connections (plain http only).
    before_http: Option<(Arc<Door>, Arc<Listeners>)>,
}

impl Connection {
    async fn serve(
        self,
        stream: TcpStream,
        tls: Option<Arc<rustls::ServerConfig>>,
        slot: Slot,
        shutdown: CancellationToken,
        done: watch::Receiver<()>,
    ) {
        if let Some((door, listeners)) = self.before_http.clone() {
            let (remote, header_timeout) = (self.info.remote, self.limits.header_timeout);
            match first_request(&stream, header_timeout).await {
                Some(First::Source) => {
                    // The slot counts the source's connection until it ends.
                    let _slot = slot;
                    return door.serve(stream, remote, header_timeout).await;
                }
                Some(First::Listener) => {
                    // The listener is counted as a request under way from its address, as
                    // through hyper, for as long as its writer keeps it.
                    let admit = |headers: &HeaderMap| {
                        let trust = self.limits.trust_forwarded_for;
                        let ip = client_address(trust, remote.ip(), headers);
                        let busy = self.gate.begin(ip)?;
                        Some(Box::new((slot, busy, done)) as Keep)
                    };
                    return listeners.serve(stream, remote, header_timeout, admit).await;
                }
                Some(First::Http) => {}
                None => return,
            }
        }
        let activity = Arc::new(Activity::new(slot));
        let io = Watched {
            io: stream,
            activity: activity.clone(),
        };
        let Some(config) = tls else {
            return self.http(io, activity, shutdown).await;
        };
        let handshake = tokio_rustls::TlsAcceptor::from(config).accept(io);
        let io = match tokio::time::timeout(self.limits.header_timeout, handshake).await {
            Ok(Ok(io)) => io,
            Ok(Err(e)) => return tracing::debug!("TLS handshake: {e}"),
            Err(_) => return,
        };
        if io.get_ref().1.alpn_protocol() == Some(CHALLENGE_ALPN) {
            // A validation: the certificate it was shown is all it came for.
            return;
        }
        self.http(io, activity, shutdown).await
    }

    /// Serves http on `io` (the socket, or TLS over it) until it closes, goes stale or the
    /// server drains.
    async fn http<S>(self, io: S, activity: Arc<Activity>, shutdown: CancellationToken)
    where
        S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    {
        let io = TokioIo::new(io);
        let (idle, send_timeout) = (self.limits.idle, self.limits.send_timeout);
        let header_timeout = self.limits.header_timeout;
        let this = Arc::new(self);
        let requests = activity.clone();
        let service = service_fn(move |req| this.clone().answer(req, requests.clone()));
        let mut builder = http1::Builder::new();
        builder
            .timer(TokioTimer::new())
            .header_read_timeout(header_timeout);
        let mut conn = pin!(builder.serve_connection(io, service).with_upgrades());
        let mut draining = false;
        loop {
            tokio::select! {
                served = conn.as_mut() => {
                    if let Err(e) = served {
                        tracing::debug!("connection: {e}");
                    }
                    return;
                }
                _ = shutdown.cancelled(), if !draining => {
                    draining = true;
                    conn.as_mut().graceful_shutdown();
                }
                // Dropping the connection closes the socket.
                _ = activity.stale(idle, send_timeout) => return,
            }
        }
    }

    /// One request: counted against its address, its body watched, then routed.
    async fn answer(
        self: Arc<Self>,
        req: Request<Incoming>,
        activity: Arc<Activity>,
    ) -> Result<Response<Body>, Infallible> {
        let ip = client_address(
            self.limits.trust_forwarded_for,
            self.info.remote.ip(),
            req.headers(),
        );
        let Some(slot) = self.gate.begin(ip) else {
            return Ok(too_busy());
        };
        let busy = Busy::new(slot, &activity);
        let body_idle = self.limits.body_idle;
        let mut req = req.map(|b| Body::new(IdleBody::new(b, body_idle)));
        req.extensions_mut().insert(ConnectInfo(self.info));
        let Ok(resp) = self.router.clone().oneshot(req).await;
        if resp.status() == StatusCode::SWITCHING_PROTOCOLS {
            // A WebSocket: its address keeps the slot for as long as the socket lives.
            activity.hold(busy.into_slot());
            return Ok(resp);
        }
        Ok(resp.map(|b| {
            Body::new(Finishing {
                inner: b,
                _busy: busy,
            })
        }))
    }
}

/// The answer to an address with too many requests under way.
pub const TOO_BUSY: &str =
    "Too many requests from your address at once; please try again in a moment.\n";

fn too_busy() -> Response<Body> {
    let mut r = Response::new(Body::from(TOO_BUSY));
    *r.status_mut() = StatusCode::SERVICE_UNAVAILABLE;
    let h = r.headers_mut();
    h.insert(header::RETRY_AFTER, HeaderValue::from_static("10"));
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    r
}

/// The address a cap counts under: an IPv6 client holds a whole /64, so it is one.
fn address_key(ip: IpAddr) -> IpAddr {
    match ip.to_canonical() {
        IpAddr::V6(v6) => {
            let s = v6.segments();
            IpAddr::V6(Ipv6Addr::new(s[0], s[1], s[2], s[3], 0, 0, 0, 0))
        }
        v4 => v4,
    }
}

/// What one address holds.
#[derive(Debug, Default, Clone, Copy)]
struct Held {
    connections: usize,
    busy: usize,
}

#[derive(Debug, Default)]
struct Table {
    connections: usize,
    by_address: HashMap<IpAddr, Held>,
}

/// The connection and per-address counts.
struct Gate {
    max_connections: usize,
    max_per_address: usize,
    table: Mutex<Table>,
}

impl Gate {
    fn new(max_connections: usize, max_per_address: usize) -> Self {
        Self {
            max_connections,
            max_per_address,
            table: Mutex::default(),
        }
    }

    fn table(&self) -> std::sync::MutexGuard<'_, Table> {
        // The counts stay consistent under a panic elsewhere: each change is one statement.
        self.table.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// A slot for a new connection from `ip`, if the caps allow one.
    fn connect(self: &Arc<Self>, ip: IpAddr) -> Option<Slot> {
        let key = address_key(ip);
        let mut t = self.table();
        let held = t.by_address.get(&key).map_or(0, |h| h.connections);
        let crowded = t.connections >= self.max_connections / 2;
        if t.connections >= self.max_connections || (crowded && held >= self.max_per_address) {
            return None;
        }
        t.connections += 1;
        t.by_address.entry(key).or_default().connections += 1;
        Some(Slot {
            gate: self.clone(),
            key,
            kind: SlotKind::Connection,
        })
    }

    /// A slot for a request (or WebSocket) from `ip`, if its address has one free.
    fn begin(self: &Arc<Self>, ip: IpAddr) -> Option<Slot> {
        let key = address_key(ip);
        let mut t = self.table();
        let held = t.by_address.entry(key).or_default();
        if held.busy >= self.max_per_address {
            return None;
        }
        held.busy += 1;
        Some(Slot {
            gate: self.clone(),
            key,
            kind: SlotKind::Busy,
        })
    }
}

#[derive(Debug, Clone, Copy)]
enum SlotKind {
    Connection,
    Busy,
}

/// One counted connection or request; given back when dropped.
struct Slot {
    gate: Arc<Gate>,
    key: IpAddr,
    kind: SlotKind,
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut t = self.gate.table();
        if let SlotKind::Connection = self.kind {
            t.connections = t.connections.saturating_sub(1);
        }
        if let Some(held) = t.by_address.get_mut(&self.key) {
            match self.kind {
                SlotKind::Connection => held.connections = held.connections.saturating_sub(1),
                SlotKind::Busy => held.busy = held.busy.saturating_sub(1),
            }
            if held.connections == 0 && held.busy == 0 {
                t.by_address.remove(&self.key);
            }
        }
    }
}

/// An unfinished request: its address's slot, and the connection's count of requests
/// under way (the idle rule leaves a connection alone while it has one).
struct Busy {
    slot: Option<Slot>,
    in_flight: Arc<AtomicUsize>,
}

impl Busy {
    fn new(slot: Slot, activity: &Activity) -> Self {
        activity.in_flight.fetch_add(1, Ordering::Relaxed);
        Self {
            slot: Some(slot),
            in_flight: activity.in_flight.clone(),
        }
    }

    fn into_slot(mut self) -> Option<Slot> {
        self.slot.take()
    }
}

impl Drop for Busy {
    fn drop(&mut self) {
        self.in_flight.fetch_sub(1, Ordering::Relaxed);
    }
}

/// What a connection has done lately, as milliseconds since it was accepted.
struct Activity {
    born: Instant,
    /// The last byte read or written.
    last: AtomicU64,
    /// When a write began waiting for the client to take data (0: none is waiting).
    blocked_since: AtomicU64,
    in_flight: Arc<AtomicUsize>,
    /// The connection's own slot, and those of WebSockets it carries: released when the
    /// socket is dropped (after an upgrade, by the WebSocket's task).
    held: Mutex<Vec<Slot>>,
}

impl Activity {
    fn new(connection: Slot) -> Self {
        Self {
            born: Instant::now(),
            last: AtomicU64::new(0),
            blocked_since: AtomicU64::new(0),
            in_flight: Arc::default(),
            held: Mutex::new(vec![connection]),
        }
    }

    fn now_ms(&self) -> u64 {
        u64::try_from(self.born.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    fn touch(&self) {
        self.last.store(self.now_ms(), Ordering::Relaxed);
    }

    fn hold(&self, slot: Option<Slot>) {
        if let Some(s) = slot {
            self.held
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .push(s);
        }
    }

    /// Resolves when the connection should be closed: nothing sent or received for `idle`
    /// with no request under way, or an answer the client has not taken any of for
    /// `send_timeout`. A request being worked on is never cut.
    async fn stale(&self, idle: Duration, send_timeout: Duration) {
        let ms = |d: Duration| u64::try_from(d.as_millis()).unwrap_or(u64::MAX);
        loop {
            let now = self.now_ms();
            let blocked = self.blocked_since.load(Ordering::Relaxed);
            let deadline = if blocked != 0 {
                Some(blocked.saturating_add(ms(send_timeout)))
            } else if self.in_flight.load(Ordering::Relaxed) == 0 {
                Some(self.last.load(Ordering::Relaxed).saturating_add(ms(idle)))
            } else {
                None
            };
            match deadline {
                Some(d) if d <= now => return,
                Some(d) => tokio::time::sleep(Duration::from_millis(d - now)).await,
                // Checked again later: the request may finish, or its answer stall.
                None => tokio::time::sleep(idle.min(send_timeout)).await,
            }
        }
    }
}

/// The socket, noting each byte that moves in [`Activity`].
struct Watched {
    io: TcpStream,
    activity: Arc<Activity>,
}

impl Watched {
    fn wrote<T>(&self, r: Poll<io::Result<T>>) -> Poll<io::Result<T>> {
        match &r {
            Poll::Pending => {
                // 0 means "not waiting": a write blocked in the first millisecond counts as 1.
                let now = self.activity.now_ms().max(1);
                let _ = self.activity.blocked_since.compare_exchange(
                    0,
                    now,
                    Ordering::Relaxed,
                    Ordering::Relaxed,
                );
            }
            Poll::Ready(_) => {
                self.activity.blocked_since.store(0, Ordering::Relaxed);
                self.activity.touch();
            }
        }
        r
    }
}

impl AsyncRead for Watched {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let r = Pin::new(&mut self.io).poll_read(cx, buf);
        if matches!(r, Poll::Ready(Ok(()))) && buf.filled().len() > before {
            self.activity.touch();
        }
        r
    }
}

impl AsyncWrite for Watched {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let r = Pin::new(&mut self.io).poll_write(cx, buf);
        self.wrote(r)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let r = Pin::new(&mut self.io).poll_write_vectored(cx, bufs);
        self.wrote(r)
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_shutdown(cx)
    }
}

/// A request body that gives up when the client sends nothing for `idle` while the handler
/// waits for more.
struct IdleBody {
    inner: Incoming,
    idle: Duration,
    waiting: Option<Pin<Box<Sleep>>>,
}

impl IdleBody {
    fn new(inner: Incoming, idle: Duration) -> Self {
        Self {
            inner,
            idle,
            waiting: None,
        }
    }
}

/// The client stopped sending a request body.
#[derive(Debug, thiserror::Error)]
#[error("the request body stopped arriving")]
struct BodyStalled;

impl HttpBody for IdleBody {
    type Data = Bytes;
    type Error = Box<dyn std::error::Error + Send + Sync>;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        match Pin::new(&mut self.inner).poll_frame(cx) {
            Poll::Ready(frame) => {
                self.waiting = None;
                Poll::Ready(frame.map(|f| f.map_err(Into::into)))
            }
            Poll::Pending => {
                // The wait starts when the handler asks and nothing is there; time the
                // handler spends elsewhere is not the client's.
                let idle = self.idle;
                let timer = self
                    .waiting
                    .get_or_insert_with(|| Box::pin(tokio::time::sleep(idle)));
                match timer.as_mut().poll(cx) {
                    Poll::Ready(()) => Poll::Ready(Some(Err(BodyStalled.into()))),
                    Poll::Pending => Poll::Pending,
                }
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

/// An answer's body, holding its request's slot until it is sent (or dropped).
struct Finishing {
    inner: Body,
    _busy: Busy,
}

impl HttpBody for Finishing {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        Pin::new(&mut self.inner).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

/// The client's address: the socket's peer, or when the forwarded address is trusted, the
/// last one a reverse proxy appended to `X-Forwarded-For` (if it gave one).
pub(super) fn client_address(
    trust_forwarded_for: bool,
    remote: IpAddr,
    headers: &HeaderMap,
) -> IpAddr {
    trust_forwarded_for
        .then(|| last_forwarded(headers))
        .flatten()
        .unwrap_or(remote)
}

/// `X-Forwarded-For`'s last address (the one the proxy in front of the node appended).
fn last_forwarded(headers: &HeaderMap) -> Option<IpAddr> {
    headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|s| s.trim().parse::<IpAddr>().ok())
        .next_back()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn the_forwarded_address_counts_only_when_trusted() {
        let remote = ip("127.0.0.1");
        let mut h = HeaderMap::new();
        assert_eq!(client_address(true, remote, &h), remote);
        h.append(
            "x-forwarded-for",
            "203.0.113.9, 198.51.100.4".parse().unwrap(),
        );
        h.append("x-forwarded-for", "not an address".parse().unwrap());
        assert_eq!(client_address(false, remote, &h), remote);
        assert_eq!(client_address(true, remote, &h), ip("198.51.100.4"));
    }

    #[test]
    fn one_address_cannot_fill_the_server() {
        let gate = Arc::new(Gate::new(8, 2));
        let a = ip("192.0.2.1");
        // Below half full, one address may hold more connections than its share...
        let mut held: Vec<Slot> = (0..4).map(|_| gate.connect(a).unwrap()).collect();
        // ...not beyond it.
        assert!(gate.connect(a).is_none());
        // Others still get in, up to the cap.
        for n in 2..6 {
            held.push(gate.connect(ip(&format!("192.0.2.{n}"))).unwrap());
        }
        assert!(gate.connect(ip("192.0.2.9")).is_none());
        held.truncate(3);
        assert!(gate.connect(ip("192.0.2.9")).is_some());
    }

    #[test]
    fn busy_slots_per_address_and_per_ipv6_prefix() {
        let gate = Arc::new(Gate::new(100, 2));
        let a1 = gate.begin(ip("2001:db8::1")).unwrap();
        let _a2 = gate.begin(ip("2001:db8::2")).unwrap();
        assert!(gate.begin(ip("2001:db8::ffff")).is_none());
        assert!(gate.begin(ip("2001:db8:0:1::1")).is_some());
        drop(a1);
        assert!(gate.begin(ip("2001:db8::3")).is_some());
        assert!(gate.begin(ip("::ffff:192.0.2.1")).is_some());
    }

    #[test]
    fn counts_are_given_back() {
        let gate = Arc::new(Gate::new(10, 5));
        let c = gate.connect(ip("192.0.2.1")).unwrap();
        let b = gate.begin(ip("192.0.2.1")).unwrap();
        drop((c, b));
        let t = gate.table();
        assert_eq!(t.connections, 0);
        assert!(t.by_address.is_empty());
    }

    #[test]
    fn connection_cap_leaves_room_in_the_open_files_limit() {
        let web = WebConfig::default();
        assert_eq!(Limits::new(&web, Some(1024)).max_connections, 512);
        assert_eq!(Limits::new(&web, Some(65536)).max_connections, 4096);
        assert_eq!(Limits::new(&web, None).max_connections, 4096);
    }
}
