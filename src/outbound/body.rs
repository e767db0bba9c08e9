//! An answer's body, read within its cap: counted as it streams, whatever
//! `Content-Length` says, and collected where a large one leaves no memory behind.

use bytes::{Bytes, BytesMut};

use super::{from_reqwest, refused, unreachable, OutboundError};

/// Above this cap a body is read into memory mapped for it alone (see [`Body`]).
const MAPPED_ABOVE: usize = 256 * 1024;

/// An answer: its status and its body (read within the cap asked for).
#[derive(Debug, Clone)]
pub struct Fetched {
    pub status: u16,
    pub body: Bytes,
}

impl Fetched {
    /// The body of a 2xx answer; any other status is an error.
    pub fn success(self) -> Result<Bytes, OutboundError> {
        if (200..300).contains(&self.status) {
            Ok(self.body)
        } else {
            Err(unreachable(format!("answered HTTP {}", self.status)))
        }
    }
}

/// Where a body is collected. A small one in an ordinary buffer. A large one in an
/// anonymous mapping of the cap's size, of which only the pages written take memory, and
/// which goes back to the system whole when dropped: a growing heap buffer would leave
/// its high-water mark behind in the allocator's per-thread arenas, so a few capped
/// hostile answers of 16 MiB would keep tens of MiB resident for good.
enum Body {
    Heap(BytesMut),
    Mapped(memmap2::MmapMut, usize),
}

impl Body {
    fn new(cap: usize, announced: Option<u64>) -> Result<Self, OutboundError> {
        if cap <= MAPPED_ABOVE {
            let start = announced.map_or(16 * 1024, |n| n as usize).min(cap);
            return Ok(Self::Heap(BytesMut::with_capacity(start)));
        }
        memmap2::MmapMut::map_anon(cap)
            .map(|m| Self::Mapped(m, 0))
            .map_err(|e| unreachable(format!("no memory for a {cap}-byte answer: {e}")))
    }

    fn len(&self) -> usize {
        match self {
            Self::Heap(b) => b.len(),
            Self::Mapped(_, len) => *len,
        }
    }

    /// Appends `chunk`; the caller has checked it fits the cap (the mapping's size).
    fn push(&mut self, chunk: &[u8]) {
        match self {
            Self::Heap(b) => b.extend_from_slice(chunk),
            Self::Mapped(m, len) => {
                m[*len..*len + chunk.len()].copy_from_slice(chunk);
                *len += chunk.len();
            }
        }
    }

    fn freeze(self) -> Bytes {
        match self {
            Self::Heap(b) => b.freeze(),
            Self::Mapped(m, len) => Bytes::from_owner(m).slice(..len),
        }
    }
}

/// Reads the body, counting as it comes: more than `cap` bytes ends the read, whatever
/// `Content-Length` said (a length above the cap ends it before any byte).
pub(super) async fn read_capped(
    mut resp: reqwest::Response,
    cap: usize,
) -> Result<Fetched, OutboundError> {
    let status = resp.status().as_u16();
    let announced = resp.content_length();
    if announced.is_some_and(|n| n > cap as u64) {
        return Err(refused(format!(
            "the answer announces {} bytes, larger than the {cap} allowed",
            announced.unwrap_or_default()
        )));
    }
    let mut body = Body::new(cap, announced)?;
    while let Some(chunk) = resp.chunk().await.map_err(from_reqwest)? {
        if body.len() + chunk.len() > cap {
            return Err(refused(format!(
                "the answer is larger than the {cap} bytes allowed"
            )));
        }
        body.push(&chunk);
    }
    Ok(Fetched {
        status,
        body: body.freeze(),
    })
}

#[cfg(test)]
mod tests {
    use super::super::{tests::serve, Origin, Outbound};
    use super::*;
    use std::io::Write;

    #[tokio::test]
    async fn bodies_are_capped_as_they_stream() {
        let out = Outbound::new(true).unwrap();
        // Chunked, no length: 64 KiB chunks without end.
        let chunked = serve(|s| {
            let _ = s.write_all(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n");
            let chunk = vec![b'x'; 65536];
            for _ in 0..64 {
                if s.write_all(b"10000\r\n").is_err()
                    || s.write_all(&chunk).is_err()
                    || s.write_all(b"\r\n").is_err()
                {
                    return;
                }
            }
        });
        let e = out
            .get(&Origin::learned(&chunked).unwrap(), "/t", None, 100_000)
            .await
            .unwrap_err();
        assert!(matches!(e, OutboundError::Refused(_)), "{e:?}");
        // Within a large cap (read into a mapping): every byte, in order.
        let fits = serve(|s| {
            let _ = s.write_all(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n");
            for n in 0..20u8 {
                let chunk = vec![b'a' + n; 65536];
                let _ = s.write_all(b"10000\r\n");
                let _ = s.write_all(&chunk);
                let _ = s.write_all(b"\r\n");
            }
            let _ = s.write_all(b"0\r\n\r\n");
        });
        let got = out
            .get(&Origin::learned(&fits).unwrap(), "/t", None, 4 << 20)
            .await
            .unwrap();
        assert_eq!(got.body.len(), 20 * 65536);
        assert!(got
            .body
            .chunks(65536)
            .zip(0u8..)
            .all(|(c, n)| c.iter().all(|&b| b == b'a' + n)));
        // No length, closed at the end.
        let unsized_ = serve(|s| {
            let _ = s.write_all(b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n");
            let _ = s.write_all(&vec![b'y'; 300_000]);
        });
        let e = out
            .get(&Origin::learned(&unsized_).unwrap(), "/t", None, 100_000)
            .await
            .unwrap_err();
        assert_eq!(e.to_string(), "refused");
        // An honest length above the cap: refused before the body.
        let big = serve(|s| {
            let _ = s.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 999999999\r\n\r\n");
        });
        let e = out
            .get(&Origin::learned(&big).unwrap(), "/t", None, 100_000)
            .await
            .unwrap_err();
        assert!(e.detail().contains("999999999"), "{e:?}");
    }
}
