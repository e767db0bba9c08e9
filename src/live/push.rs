//! Pushing the programme to Icecast servers (`[[live.push]]`): a station that outgrows its
//! home uplink, or already has an Icecast listing its audience knows, hands its stream to
//! them. Each target gets the node's own MP3 frames or Ogg Opus pages (nothing is encoded
//! again), as an Icecast source does: `PUT /mount` with basic auth and the station's
//! `ice-*` headers, then the stream. Titles go by Icecast's `/admin/metadata` (MP3 mounts;
//! Icecast takes Ogg titles from the stream only). A refused or dropped connection is tried
//! again after a growing wait (2 s doubling to 2 min); its state shows on the dashboard.

use std::{sync::Arc, time::Duration};

use base64::Engine;
use bytes::Bytes;
use serde::Serialize;
use tokio::{
    io::{AsyncBufReadExt, AsyncWriteExt, BufReader},
    net::TcpStream,
    sync::{broadcast::error::RecvError, watch},
};
use tokio_util::sync::CancellationToken;

use super::Live;
use crate::config::{PushFormat, PushTarget};

const FIRST_WAIT: Duration = Duration::from_secs(2);
const LONGEST_WAIT: Duration = Duration::from_secs(120);
/// How long the server may take to answer the request head.
const ANSWER_WAIT: Duration = Duration::from_secs(10);
/// A write the server takes nothing of for this long ends the connection.
const WRITE_WAIT: Duration = Duration::from_secs(20);

/// One target's state, for the dashboard and `/api/health`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PushStatus {
    /// The target without its password.
    pub target: String,
    #[serde(flatten)]
    pub state: PushState,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "snake_case", tag = "state")]
pub enum PushState {
    Connecting,
    Sending,
    /// The last attempt failed; the next is in `retry_secs`.
    Failed {
        problem: PushProblem,
        reason: String,
        retry_secs: u64,
    },
}

/// What went wrong, for the dashboard's words (the reason is English, for the log).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PushProblem {
    /// No connection, or no answer.
    Unreachable,
    /// The server answered no: a wrong password or a mount in use.
    Refused,
    /// The stream was under way and broke.
    Dropped,
}

impl PushError {
    fn problem(&self) -> PushProblem {
        match self {
            PushError::Connect(_) | PushError::Timeout => PushProblem::Unreachable,
            PushError::Refused(_) => PushProblem::Refused,
            PushError::Broken(_) | PushError::Ended => PushProblem::Dropped,
        }
    }
}

#[derive(Debug, thiserror::Error)]
enum PushError {
    #[error("cannot connect: {0}")]
    Connect(std::io::Error),
    #[error("the server did not answer in time")]
    Timeout,
    #[error("the server refused the stream: {0}")]
    Refused(String),
    #[error("the connection broke: {0}")]
    Broken(std::io::Error),
    #[error("the stream on this box stopped")]
    Ended,
}

/// Sends the programme to `target` until `shutdown`, reconnecting as needed; its state
/// goes to `status`.
pub async fn run(
    live: Arc<Live>,
    target: PushTarget,
    status: watch::Sender<PushStatus>,
    shutdown: CancellationToken,
) {
    let mut wait = FIRST_WAIT;
    loop {
        status.send_modify(|s| s.state = PushState::Connecting);
        let attempt = tokio::select! {
            _ = shutdown.cancelled() => return,
            r = push_once(&live, &target, &status) => r,
        };
        let Err(e) = attempt else { return };
        tracing::warn!(target = %target.display(), "push to Icecast: {e}");
        if matches!(e, PushError::Broken(_) | PushError::Ended) {
            // It was on air: the next attempt is soon.
            wait = FIRST_WAIT;
        }
        status.send_modify(|s| {
            s.state = PushState::Failed {
                problem: e.problem(),
                reason: e.to_string(),
                retry_secs: wait.as_secs(),
            }
        });
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tokio::time::sleep(wait) => {}
        }
        wait = (wait * 2).min(LONGEST_WAIT);
    }
}

/// One connection: the request, then the stream until it breaks.
async fn push_once(
    live: &Live,
    target: &PushTarget,
    status: &watch::Sender<PushStatus>,
) -> Result<(), PushError> {
    // Subscribe first, so the stream starts where the request was made.
    let (first, mut rx) = match target.format {
        PushFormat::Mp3 => (Vec::new(), live.mp3_frames()),
        PushFormat::Ogg => {
            let (headers, pages) = live.ogg_feed();
            (vec![headers], pages)
        }
    };
    let stream = TcpStream::connect((target.host.as_str(), target.port))
        .await
        .map_err(PushError::Connect)?;
    let _ = stream.set_nodelay(true);
    let mut stream = BufReader::new(stream);
    let head = request_head(live, target);
    stream
        .get_mut()
        .write_all(head.as_bytes())
        .await
        .map_err(PushError::Connect)?;
    let status_line = tokio::time::timeout(ANSWER_WAIT, read_answer(&mut stream))
        .await
        .map_err(|_| PushError::Timeout)?
        .map_err(PushError::Broken)?;
    let code = status_line.split_whitespace().nth(1).unwrap_or("");
    if code != "100" && code != "200" {
        return Err(PushError::Refused(status_line));
    }
    tracing::info!(target = %target.display(), "pushing the stream to Icecast");
    status.send_modify(|s| s.state = PushState::Sending);
    let mut stream = stream.into_inner();
    for chunk in first {
        write(&mut stream, &chunk).await?;
    }
    let mut titles = (target.format == PushFormat::Mp3).then(|| live.program());
    let mut last_title = None;
    loop {
        if let Some(program) = titles.as_mut() {
            if program.has_changed().unwrap_or(false) || last_title.is_none() {
                program.mark_unchanged();
                let title = live.stream_title();
                if last_title.as_ref() != Some(&title) {
                    send_title(target, &title).await;
                    last_title = Some(title);
                }
            }
        }
        match rx.recv().await {
            Ok(chunk) => write(&mut stream, &chunk).await?,
            Err(RecvError::Lagged(n)) => {
                tracing::debug!(missed = n, "push fell behind");
            }
            Err(RecvError::Closed) => return Err(PushError::Ended),
        }
    }
}

async fn write(stream: &mut TcpStream, chunk: &Bytes) -> Result<(), PushError> {
    tokio::time::timeout(WRITE_WAIT, stream.write_all(chunk))
        .await
        .map_err(|_| PushError::Timeout)?
        .map_err(PushError::Broken)
}

/// The status line of the server's answer, its headers read past.
async fn read_answer(stream: &mut BufReader<TcpStream>) -> std::io::Result<String> {
    let mut status = String::new();
    if stream.read_line(&mut status).await? == 0 {
        return Err(std::io::ErrorKind::UnexpectedEof.into());
    }
    loop {
        let mut line = String::new();
        if stream.read_line(&mut line).await? == 0 || line.trim().is_empty() {
            break;
        }
        if line.len() > 8192 {
            return Err(std::io::ErrorKind::InvalidData.into());
        }
    }
    Ok(status.trim().to_string())
}

fn basic(target: &PushTarget) -> String {
    base64::engine::general_purpose::STANDARD.encode(format!("{}:{}", target.user, target.password))
}

/// Header values from the operator's settings, without line breaks.
fn header_value(s: &str) -> String {
    s.chars().filter(|c| !c.is_control()).collect()
}

fn request_head(live: &Live, target: &PushTarget) -> String {
    let settings = live.station.settings();
    let station = &settings.station;
    let content_type = match target.format {
        PushFormat::Mp3 => "audio/mpeg",
        PushFormat::Ogg => "audio/ogg",
    };
    format!(
        "PUT {mount} HTTP/1.1\r\nHost: {host}:{port}\r\nAuthorization: Basic {auth}\r\n\
         User-Agent: streamp2p/{version}\r\nContent-Type: {content_type}\r\n\
         Ice-Name: {name}\r\nIce-Description: {description}\r\nIce-Genre: {genre}\r\n\
         Ice-Public: 0\r\nIce-Audio-Info: bitrate={kbps}\r\nExpect: 100-continue\r\n\r\n",
        mount = target.mount,
        host = target.host,
        port = target.port,
        auth = basic(target),
        version = env!("CARGO_PKG_VERSION"),
        name = header_value(&station.name),
        description = header_value(&station.description),
        genre = header_value(&station.genre),
        kbps = settings.live.bitrate_kbps,
    )
}

/// Tells the server the new title (`/admin/metadata?mode=updinfo`); a failure is only logged.
async fn send_title(target: &PushTarget, title: &str) {
    let query: String = form_urlencoded::Serializer::new(String::new())
        .append_pair("mode", "updinfo")
        .append_pair("mount", &target.mount)
        .append_pair("song", title)
        .finish();
    let head = format!(
        "GET /admin/metadata?{query} HTTP/1.0\r\nHost: {}:{}\r\nAuthorization: Basic {}\r\n\
         User-Agent: streamp2p/{}\r\n\r\n",
        target.host,
        target.port,
        basic(target),
        env!("CARGO_PKG_VERSION"),
    );
    let attempt = async {
        let stream = TcpStream::connect((target.host.as_str(), target.port)).await?;
        let mut stream = BufReader::new(stream);
        stream.get_mut().write_all(head.as_bytes()).await?;
        read_answer(&mut stream).await
    };
    match tokio::time::timeout(ANSWER_WAIT, attempt).await {
        Ok(Ok(status)) if status.contains(" 200 ") => {}
        Ok(Ok(status)) => tracing::debug!(target = %target.display(), "title refused: {status}"),
        Ok(Err(e)) => tracing::debug!(target = %target.display(), "title not sent: {e}"),
        Err(_) => tracing::debug!(target = %target.display(), "title not sent: no answer"),
    }
}
