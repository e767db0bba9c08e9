//! A minimal WebSocket client (RFC 6455) over TcpStream, for raw frames to the WebTorrent
//! tracker.

use serde_json::Value;
use std::io::{self, Read, Write};
use std::net::{IpAddr, SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use super::http::{bad, connect_from};

#[derive(Debug, Clone, PartialEq)]
pub enum WsFrame {
    Text(String),
    Binary(Vec<u8>),
    Ping(Vec<u8>),
    Pong(Vec<u8>),
    /// Close code (1005 when the frame carried none) and reason.
    Close(u16, String),
}

pub struct WsClient {
    pub stream: TcpStream,
}

impl WsClient {
    /// Opens `ws://addr{path}`: HTTP upgrade, expects `101 Switching Protocols`.
    pub fn connect(addr: SocketAddr, path: &str) -> io::Result<WsClient> {
        let stream = TcpStream::connect_timeout(&addr, Duration::from_secs(5))?;
        Ok(Self::upgrade(stream, addr, path, "")?.0)
    }

    /// `connect` from the local address `from` (see `connect_from`).
    pub fn connect_from(from: IpAddr, addr: SocketAddr, path: &str) -> io::Result<WsClient> {
        Ok(Self::upgrade(connect_from(from, addr)?, addr, path, "")?.0)
    }

    /// `connect` offering the extensions `offer` (`Sec-WebSocket-Extensions`); also returns
    /// the response head.
    pub fn connect_offering(
        addr: SocketAddr,
        path: &str,
        offer: &str,
    ) -> io::Result<(WsClient, String)> {
        let stream = TcpStream::connect_timeout(&addr, Duration::from_secs(5))?;
        Self::upgrade(
            stream,
            addr,
            path,
            &format!("Sec-WebSocket-Extensions: {offer}\r\n"),
        )
    }

    fn upgrade(
        mut stream: TcpStream,
        addr: SocketAddr,
        path: &str,
        extra: &str,
    ) -> io::Result<(WsClient, String)> {
        stream.set_read_timeout(Some(Duration::from_secs(5)))?;
        stream.set_write_timeout(Some(Duration::from_secs(5)))?;
        stream.set_nodelay(true)?;
        let req = format!(
            "GET {path} HTTP/1.1\r\nHost: {addr}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
             Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n{extra}\r\n"
        );
        stream.write_all(req.as_bytes())?;
        // Read the response head byte by byte, so no frame bytes are consumed.
        let mut head = Vec::new();
        let mut byte = [0u8; 1];
        while !head.ends_with(b"\r\n\r\n") {
            if head.len() > 16 * 1024 {
                return Err(bad("upgrade response head too long"));
            }
            match stream.read(&mut byte)? {
                0 => {
                    return Err(bad(format!(
                        "connection closed during upgrade: {:?}",
                        String::from_utf8_lossy(&head)
                    )))
                }
                _ => head.push(byte[0]),
            }
        }
        let text = String::from_utf8_lossy(&head).into_owned();
        let status = text.split_whitespace().nth(1).unwrap_or("");
        if status != "101" {
            return Err(bad(format!("upgrade refused: {:?}", text.trim())));
        }
        Ok((WsClient { stream }, text))
    }

    /// Sends one frame (FIN set), masked as a client must.
    pub fn send_frame(&mut self, opcode: u8, payload: &[u8]) -> io::Result<()> {
        self.send_raw(0x80 | opcode, payload)
    }

    /// Sends one frame with `first` as its first byte (FIN, RSV bits, opcode), masked.
    pub fn send_raw(&mut self, first: u8, payload: &[u8]) -> io::Result<()> {
        let mut f = Vec::with_capacity(payload.len() + 14);
        f.push(first);
        match payload.len() {
            n if n < 126 => f.push(0x80 | n as u8),
            n if n <= 0xffff => {
                f.push(0x80 | 126);
                f.extend_from_slice(&(n as u16).to_be_bytes());
            }
            n => {
                f.push(0x80 | 127);
                f.extend_from_slice(&(n as u64).to_be_bytes());
            }
        }
        let mask: [u8; 4] = rand::random();
        f.extend_from_slice(&mask);
        f.extend(payload.iter().enumerate().map(|(i, b)| b ^ mask[i % 4]));
        self.stream.write_all(&f)
    }

    pub fn send_text(&mut self, text: &str) -> io::Result<()> {
        self.send_frame(0x1, text.as_bytes())
    }

    pub fn send_json(&mut self, v: &Value) -> io::Result<()> {
        self.send_text(&v.to_string())
    }

    /// The next frame; an error on timeout (the stream's read timeout) or a closed connection.
    pub fn recv(&mut self) -> io::Result<WsFrame> {
        let (first, payload) = self.recv_raw()?;
        Ok(match first & 0x0f {
            0x1 => WsFrame::Text(String::from_utf8_lossy(&payload).into_owned()),
            0x2 => WsFrame::Binary(payload),
            0x8 => {
                let code = if payload.len() >= 2 {
                    u16::from_be_bytes([payload[0], payload[1]])
                } else {
                    1005
                };
                WsFrame::Close(
                    code,
                    String::from_utf8_lossy(payload.get(2..).unwrap_or_default()).into_owned(),
                )
            }
            0x9 => WsFrame::Ping(payload),
            0xA => WsFrame::Pong(payload),
            other => return Err(bad(format!("unexpected opcode {other:#x}"))),
        })
    }

    /// The next frame's first byte (FIN, RSV bits, opcode) and payload.
    pub fn recv_raw(&mut self) -> io::Result<(u8, Vec<u8>)> {
        let mut h = [0u8; 2];
        self.stream.read_exact(&mut h)?;
        let masked = h[1] & 0x80 != 0;
        let mut len = u64::from(h[1] & 0x7f);
        if len == 126 {
            let mut b = [0u8; 2];
            self.stream.read_exact(&mut b)?;
            len = u64::from(u16::from_be_bytes(b));
        } else if len == 127 {
            let mut b = [0u8; 8];
            self.stream.read_exact(&mut b)?;
            len = u64::from_be_bytes(b);
        }
        if len > 16 * 1024 * 1024 {
            return Err(bad(format!("frame of {len} bytes")));
        }
        let mut mask = [0u8; 4];
        if masked {
            self.stream.read_exact(&mut mask)?;
        }
        let mut payload = vec![0u8; len as usize];
        self.stream.read_exact(&mut payload)?;
        if masked {
            for (i, b) in payload.iter_mut().enumerate() {
                *b ^= mask[i % 4];
            }
        }
        Ok((h[0], payload))
    }

    /// The next text message parsed as JSON (pings and pongs are skipped), within `timeout`.
    pub fn recv_json(&mut self, timeout: Duration) -> Result<Value, String> {
        let deadline = Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(format!("no message within {timeout:?}"));
            }
            self.stream
                .set_read_timeout(Some(left.max(Duration::from_millis(10))))
                .unwrap();
            match self.recv().map_err(|e| format!("receive: {e}"))? {
                WsFrame::Text(t) => {
                    return serde_json::from_str(&t).map_err(|e| format!("not JSON ({e}): {t:?}"))
                }
                WsFrame::Ping(_) | WsFrame::Pong(_) => continue,
                other => return Err(format!("unexpected frame {other:?}")),
            }
        }
    }
}

/// The WebTorrent tracker's "binary string" for some bytes: one char per byte, U+0000..U+00FF.
pub fn binary_string(b: &[u8]) -> String {
    b.iter().map(|&b| char::from(b)).collect()
}
