//! Relaying a followed station's live stream: one connection to the origin's `/live.ogg`,
//! re-served to this node's listeners at `/relay/<origin>/live.ogg`, so the origin uploads
//! one copy per relay instead of one per listener.
//!
//! The relay splits the stream into Ogg pages (the origin's bytes are someone else's input:
//! every page is checked for its framing), keeps the stream's header pages (OpusHead and
//! OpusTags, granule position 0) for new listeners, and hands the audio pages to the same
//! fan-out the node's own stream uses (burst for a quick start, slow listeners dropped).

use std::{
    sync::{
        atomic::{AtomicU64, Ordering},
        Mutex,
    },
    time::Duration,
};

use bytes::{Bytes, BytesMut};
use tokio_util::sync::CancellationToken;

use crate::{
    live::fanout::Fanout,
    outbound::{Origin, Outbound},
};

/// Largest Ogg page: 27 header bytes, 255 lacing values, 255 x 255 body bytes.
const MAX_PAGE: usize = 27 + 255 + 255 * 255;
/// Pages a listener may fall behind, and pages a new one gets first (~1 s of 20 ms
/// packets, one packet per page or more).
const BACKLOG: usize = 512;
const BURST: usize = 50;

#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum PageError {
    #[error("not an Ogg stream (no page capture pattern)")]
    NotOgg,
    #[error("unsupported Ogg version {0}")]
    Version(u8),
}

/// Takes every whole page off the front of `buf`; a partial page stays for the next read.
pub fn split_pages(buf: &mut BytesMut) -> Result<Vec<Bytes>, PageError> {
    let mut pages = Vec::new();
    loop {
        if buf.len() < 27 {
            return Ok(pages);
        }
        if &buf[..4] != b"OggS" {
            return Err(PageError::NotOgg);
        }
        if buf[4] != 0 {
            return Err(PageError::Version(buf[4]));
        }
        let segments = usize::from(buf[26]);
        if buf.len() < 27 + segments {
            return Ok(pages);
        }
        let body: usize = buf[27..27 + segments].iter().map(|&b| usize::from(b)).sum();
        let len = 27 + segments + body;
        debug_assert!(len <= MAX_PAGE);
        if buf.len() < len {
            return Ok(pages);
        }
        pages.push(buf.split_to(len).freeze());
    }
}

/// A header page: the first of a stream (BOS flag) or one whose granule position is 0
/// (OpusTags), before any audio.
fn is_header(page: &[u8]) -> bool {
    let bos = page[5] & 0x02 != 0;
    let granule = u64::from_le_bytes(page[6..14].try_into().unwrap_or([0xff; 8]));
    bos || granule == 0
}

pub struct Relay {
    pub origin: String,
    headers: Mutex<Bytes>,
    fanout: Fanout,
    /// Bytes taken from the origin since start, for the benchmark and the page.
    pub bytes_in: AtomicU64,
}

impl Relay {
    pub fn new(origin: String) -> Self {
        Self {
            origin,
            headers: Mutex::new(Bytes::new()),
            fanout: Fanout::new(BACKLOG, BURST, 1),
            bytes_in: AtomicU64::new(0),
        }
    }

    pub fn listeners(&self) -> usize {
        self.fanout.listeners()
    }

    /// What a new listener gets: the headers, a burst, the live pages; `None` while the
    /// origin's stream has not started.
    pub fn subscribe(
        &self,
    ) -> Option<(
        Vec<Bytes>,
        tokio::sync::broadcast::Receiver<Bytes>,
        crate::live::fanout::ListenerGuard,
    )> {
        let headers = self.headers.lock().ok()?.clone();
        if headers.is_empty() {
            return None;
        }
        let (burst, rx, guard) = self.fanout.subscribe();
        Some((std::iter::once(headers).chain(burst).collect(), rx, guard))
    }

    /// Pulls the origin's stream until `shutdown`, reconnecting with back-off.
    pub async fn run(&self, out: Outbound, shutdown: CancellationToken) {
        let mut retry = Duration::from_secs(2);
        loop {
            let r = tokio::select! {
                _ = shutdown.cancelled() => return,
                r = self.pull(&out) => r,
            };
            if let Err(e) = r {
                tracing::info!(origin = %self.origin, "live relay: {e}; again in {}s", retry.as_secs());
            }
            tokio::select! {
                _ = shutdown.cancelled() => return,
                _ = tokio::time::sleep(retry) => {}
            }
            retry = (retry * 2).min(Duration::from_secs(60));
        }
    }

    /// The origin is the operator's choice (a followed station); no redirect is followed
    /// and the pages read are bounded by the format.
    async fn pull(&self, out: &Outbound) -> Result<(), String> {
        let origin = Origin::operator(&self.origin).map_err(|e| e.detail().to_string())?;
        let mut resp = out
            .stream(&origin, "/live.ogg")
            .await
            .map_err(|e| e.detail().to_string())?;
        let mut buf = BytesMut::new();
        let mut headers = BytesMut::new();
        let mut in_headers = true;
        while let Some(chunk) = resp.chunk().await.map_err(|e| e.to_string())? {
            self.bytes_in
                .fetch_add(chunk.len() as u64, Ordering::Relaxed);
            buf.extend_from_slice(&chunk);
            if buf.len() > 4 * MAX_PAGE {
                return Err("Ogg page larger than the format allows".into());
            }
            for page in split_pages(&mut buf).map_err(|e| e.to_string())? {
                if in_headers && is_header(&page) {
                    headers.extend_from_slice(&page);
                    continue;
                }
                if in_headers {
                    in_headers = false;
                    if let Ok(mut h) = self.headers.lock() {
                        *h = headers.split().freeze();
                    }
                }
                self.fanout.publish(page);
            }
        }
        Err("the origin ended the stream".into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn page(flags: u8, granule: u64, body: &[u8]) -> Vec<u8> {
        let mut p = b"OggS".to_vec();
        p.push(0);
        p.push(flags);
        p.extend_from_slice(&granule.to_le_bytes());
        p.extend_from_slice(&[0; 12]);
        p.push(1);
        p.push(body.len() as u8);
        p.extend_from_slice(body);
        p
    }

    #[test]
    fn pages_are_split_whole_and_garbage_refused() {
        let mut stream = page(2, 0, b"OpusHead");
        stream.extend(page(0, 0, b"OpusTags"));
        stream.extend(page(0, 960, b"audio"));
        let mut buf = BytesMut::from(&stream[..stream.len() - 2]);
        let pages = split_pages(&mut buf).unwrap();
        assert_eq!(pages.len(), 2);
        assert!(is_header(&pages[0]) && is_header(&pages[1]));
        buf.extend_from_slice(&stream[stream.len() - 2..]);
        let last = split_pages(&mut buf).unwrap();
        assert_eq!(last.len(), 1);
        assert!(!is_header(&last[0]));
        assert!(buf.is_empty());
        let mut bad = BytesMut::from(&b"HTTP/1.1 200 OK\r\n\r\nnot ogg at all"[..]);
        assert_eq!(split_pages(&mut bad), Err(PageError::NotOgg));
        let mut v1 = BytesMut::from(&page(0, 1, b"x")[..]);
        v1[4] = 1;
        assert_eq!(split_pages(&mut v1), Err(PageError::Version(1)));
    }
}
