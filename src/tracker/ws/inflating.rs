//! The client's side of an upgraded tracker socket, with its compressed messages inflated
//! before tungstenite reads them.
//!
//! tungstenite (under axum and tokio-tungstenite) knows no extension: it fails a socket on
//! any frame with RSV1 set, which is how a client marks a compressed message (RFC 7692).
//! So this reads the client's frames first: a compressed message (its frames unmasked and
//! joined) is inflated and handed on as one plain frame; every other frame, and whatever
//! is not a valid compressed message, goes on byte for byte for tungstenite to judge.
//! Writes pass straight through.

use std::{
    io::{self, Cursor},
    pin::Pin,
    task::{ready, Context, Poll},
};

use bytes::{Buf, BufMut, BytesMut};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio_tungstenite::tungstenite::protocol::frame::{
    coding::{Data, OpCode},
    FrameHeader,
};

use super::deflate::inflate_message;

const READ_CHUNK: usize = 4096;

/// A client's upgraded connection, its compressed messages inflated on the way in.
pub struct Inflating<S> {
    inner: S,
    /// Largest message, compressed or inflated, and largest frame.
    max: usize,
    /// Read from the client, not yet looked at.
    raw: BytesMut,
    /// Ready for tungstenite.
    ready: BytesMut,
    /// A compressed message whose last frame has not come: its opcode and payload so far.
    pending: Option<(OpCode, Vec<u8>)>,
    eof: bool,
    /// The extension was agreed (and no frame has stopped this side taking frames apart);
    /// otherwise every byte goes straight through.
    on: bool,
}

impl<S> Inflating<S> {
    /// `inner` with compressed messages inflated if `on` (the extension was agreed).
    pub fn new(inner: S, max: usize, on: bool) -> Self {
        Self {
            inner,
            on,
            max,
            raw: BytesMut::new(),
            ready: BytesMut::new(),
            pending: None,
            eof: false,
        }
    }

    /// Looks at the next whole frame in `raw`: `Ok(false)` when it is not all there yet.
    fn next_frame(&mut self) -> io::Result<bool> {
        let mut cursor = Cursor::new(&self.raw[..]);
        let (head, len) = match FrameHeader::parse(&mut cursor) {
            Ok(Some(parsed)) => parsed,
            Ok(None) => return Ok(false),
            Err(_) => {
                // A reserved opcode: it goes on as it came, for tungstenite to fail the
                // socket on, and nothing after it is taken apart.
                let rest = self.raw.split();
                self.ready.extend_from_slice(&rest);
                self.on = false;
                return Ok(true);
            }
        };
        if len > self.max as u64 {
            return Err(invalid("a frame larger than the largest message"));
        }
        let size = cursor.position() as usize;
        let total = size + len as usize;
        if self.raw.len() < total {
            self.raw.reserve(total - self.raw.len());
            return Ok(false);
        }
        let mut frame = self.raw.split_to(total);
        let (data, continuation) = match head.opcode {
            OpCode::Data(Data::Continue) => (true, true),
            OpCode::Data(_) => (true, false),
            OpCode::Control(_) => (false, false),
        };
        // Only what this side can take apart is taken apart: a frame with the other
        // reserved bits, an unmasked one or one out of order goes on as it came, and
        // tungstenite fails the socket on it as the protocol says.
        let well_formed = !head.rsv2 && !head.rsv3 && head.mask.is_some();
        let starts = data && !continuation && head.rsv1;
        let continues = continuation && !head.rsv1;
        if self.pending.is_some() && data && !continuation {
            return Err(invalid(
                "a new message before the last compressed one ended",
            ));
        }
        let ours = well_formed
            && match self.pending {
                None => starts,
                Some(_) => continues,
            };
        if !ours {
            self.ready.extend_from_slice(&frame);
            return Ok(true);
        }
        frame.advance(size);
        if let Some(key) = head.mask {
            for (i, b) in frame.iter_mut().enumerate() {
                *b ^= key[i % 4];
            }
        }
        let (_, payload) = self
            .pending
            .get_or_insert_with(|| (head.opcode, Vec::new()));
        if payload.len() + frame.len() > self.max {
            return Err(invalid(
                "a compressed message larger than the largest message",
            ));
        }
        payload.extend_from_slice(&frame);
        if head.is_final {
            if let Some((opcode, payload)) = self.pending.take() {
                let message =
                    inflate_message(&payload, self.max).map_err(|e| invalid(&e.to_string()))?;
                // One final frame, masked with a zero key: a client's frame must be masked,
                // and a zero key leaves the payload as it is.
                let plain = FrameHeader {
                    is_final: true,
                    opcode,
                    mask: Some([0; 4]),
                    ..FrameHeader::default()
                };
                plain
                    .format(message.len() as u64, &mut (&mut self.ready).writer())
                    .map_err(|e| invalid(&e.to_string()))?;
                self.ready.put_slice(&message);
            }
        }
        Ok(true)
    }
}

fn invalid(what: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, what.to_owned())
}

impl<S: AsyncRead + Unpin> AsyncRead for Inflating<S> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        loop {
            if this.ready.is_empty() && !this.on {
                return Pin::new(&mut this.inner).poll_read(cx, buf);
            }
            if !this.ready.is_empty() {
                let n = this.ready.len().min(buf.remaining());
                buf.put_slice(&this.ready[..n]);
                this.ready.advance(n);
                // Most sockets are idle most of the time (a settled page announces every
                // ten minutes): their buffers are let go between messages.
                if this.ready.is_empty() {
                    this.ready = BytesMut::new();
                }
                if this.raw.is_empty() {
                    this.raw = BytesMut::new();
                }
                return Poll::Ready(Ok(()));
            }
            if this.next_frame()? {
                continue;
            }
            if this.eof {
                // A frame cut off by the end of the connection goes on as it is, for
                // tungstenite to see the connection end mid-frame; then the end itself.
                let rest = this.raw.split();
                if rest.is_empty() {
                    return Poll::Ready(Ok(()));
                }
                this.ready = rest;
                continue;
            }
            let mut chunk = [0u8; READ_CHUNK];
            let mut read = ReadBuf::new(&mut chunk);
            ready!(Pin::new(&mut this.inner).poll_read(cx, &mut read))?;
            if read.filled().is_empty() {
                this.eof = true;
            }
            this.raw.extend_from_slice(read.filled());
        }
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Inflating<S> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().inner).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use flate2::{Compress, Compression, FlushCompress};
    use tokio::io::AsyncReadExt;

    use super::*;

    const FIN: u8 = 0x80;
    const RSV1: u8 = 0x40;
    const MASKED: u8 = 0x80;
    const CONTINUATION: u8 = 0;
    const KEY: [u8; 4] = [0x37, 0xfa, 0x21, 0x3d];

    /// A client's frame: masked with `KEY`.
    fn frame(b0: u8, payload: &[u8]) -> Vec<u8> {
        let mut f = vec![b0];
        match payload.len() {
            n @ 0..=125 => f.push(MASKED | n as u8),
            n => {
                f.push(MASKED | 126);
                f.extend_from_slice(&(n as u16).to_be_bytes());
            }
        }
        f.extend_from_slice(&KEY);
        f.extend(payload.iter().enumerate().map(|(i, b)| b ^ KEY[i % 4]));
        f
    }

    fn compressed(text: &[u8]) -> Vec<u8> {
        let mut c = Compress::new(Compression::default(), false);
        let mut out = Vec::with_capacity(text.len() + 64);
        c.compress_vec(text, &mut out, FlushCompress::Sync).unwrap();
        out.truncate(out.len() - 4);
        out
    }

    async fn read_all(input: Vec<u8>, max: usize) -> io::Result<Vec<u8>> {
        let mut s = Inflating::new(&input[..], max, true);
        let mut out = Vec::new();
        s.read_to_end(&mut out).await?;
        Ok(out)
    }

    /// The payloads of `frames` as a server reads them (unmasked), with their first bytes.
    fn frames(mut raw: &[u8]) -> Vec<(u8, Vec<u8>)> {
        let mut out = Vec::new();
        let mut cursor = Cursor::new(raw);
        while let Some((h, len)) = FrameHeader::parse(&mut cursor).unwrap() {
            let start = cursor.position() as usize;
            let end = start + len as usize;
            let mut p = raw[start..end].to_vec();
            if let Some(k) = h.mask {
                p.iter_mut().enumerate().for_each(|(i, b)| *b ^= k[i % 4]);
            }
            out.push((raw[0], p));
            raw = &raw[end..];
            cursor = Cursor::new(raw);
        }
        assert!(raw.is_empty(), "a frame cut short");
        out
    }

    #[tokio::test]
    async fn a_compressed_message_in_fragments_comes_out_as_one_plain_frame() {
        let text =
            br#"{"action":"announce","info_hash":"aaaaaaaaaaaaaaaaaaaa","numwant":5}"#.repeat(30);
        let z = compressed(&text);
        let (a, b) = z.split_at(z.len() / 2);
        let mut input = frame(RSV1 | 0x1, a);
        // A ping between the fragments goes on first, as it came.
        input.extend(frame(FIN | 0x9, b"hi"));
        input.extend(frame(FIN | CONTINUATION, b));
        input.extend(frame(FIN | 0x1, b"plain"));
        let out = frames(&read_all(input, 64 * 1024).await.unwrap());
        assert_eq!(
            out,
            vec![
                (FIN | 0x9, b"hi".to_vec()),
                (FIN | 0x1, text.clone()),
                (FIN | 0x1, b"plain".to_vec()),
            ]
        );
    }

    #[tokio::test]
    async fn frames_read_a_byte_at_a_time_come_out_the_same() {
        let text = b"{\"action\":\"scrape\"}".repeat(10);
        let input = frame(FIN | RSV1 | 0x1, &compressed(&text));
        let (client, mut server) = tokio::io::duplex(1);
        let writer = tokio::spawn(async move {
            use tokio::io::AsyncWriteExt;
            let mut client = client;
            for b in input {
                client.write_all(&[b]).await.unwrap();
            }
        });
        let mut s = Inflating::new(&mut server, 1024, true);
        let mut out = vec![0u8; 2 + 2 + 4 + text.len()];
        s.read_exact(&mut out).await.unwrap();
        writer.await.unwrap();
        assert_eq!(frames(&out), vec![(FIN | 0x1, text)]);
    }

    #[tokio::test]
    async fn what_is_not_a_valid_compressed_message_goes_on_as_it_came() {
        let z = compressed(b"{}");
        for input in [
            // Other reserved bits; an unmasked frame; a compressed control frame.
            frame(FIN | RSV1 | 0x20 | 0x1, &z),
            {
                let mut f = vec![FIN | RSV1 | 0x1, z.len() as u8];
                f.extend_from_slice(&z);
                f
            },
            frame(FIN | RSV1 | 0x9, b"x"),
            // A continuation with nothing before it, marked compressed.
            frame(FIN | RSV1 | CONTINUATION, &z),
        ] {
            assert_eq!(read_all(input.clone(), 1024).await.unwrap(), input);
        }
        // A reserved opcode, and what follows it: all as it came.
        let mut reserved = frame(FIN | RSV1 | 0x3, &z);
        reserved.extend(frame(FIN | RSV1 | 0x1, &z));
        assert_eq!(read_all(reserved.clone(), 1024).await.unwrap(), reserved);
        // A frame cut off by the end of the connection.
        let mut cut = frame(FIN | 0x1, b"hello");
        cut.truncate(5);
        assert_eq!(read_all(cut.clone(), 1024).await.unwrap(), cut);
    }

    #[tokio::test]
    async fn too_large_or_corrupt_ends_the_connection() {
        let big = frame(FIN | 0x1, &vec![b'a'; 2000]);
        assert!(read_all(big, 1024).await.is_err());
        // Small on the wire, past the limit inflated.
        let bomb = frame(FIN | RSV1 | 0x1, &compressed(&vec![b' '; 5000]));
        assert!(read_all(bomb, 1024).await.is_err());
        let corrupt = frame(FIN | RSV1 | 0x1, b"\xff\xfe\xfd");
        assert!(read_all(corrupt, 1024).await.is_err());
        // A message whose fragments add up past the limit.
        let mut parts = frame(RSV1 | 0x1, &[0; 600]);
        parts.extend(frame(FIN | CONTINUATION, &[0; 600]));
        assert!(read_all(parts, 1024).await.is_err());
        // A new message in the middle of a compressed one.
        let mut interleaved = frame(RSV1 | 0x1, &[0; 10]);
        interleaved.extend(frame(FIN | 0x1, b"{}"));
        assert!(read_all(interleaved, 1024).await.is_err());
    }

    #[tokio::test]
    async fn without_the_extension_every_byte_goes_straight_through() {
        let input = frame(FIN | RSV1 | 0x1, &compressed(b"{}"));
        let mut s = Inflating::new(&input[..], 1024, false);
        let mut out = Vec::new();
        s.read_to_end(&mut out).await.unwrap();
        assert_eq!(out, input);
    }
}
