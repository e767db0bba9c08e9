//! A chunked request body (`Transfer-Encoding: chunked`) turned back into its bytes as
//! they come, whatever the network's cuts: how a source client that does not know its
//! length sends a stream over HTTP/1.1 (curl piping an encoder into `-T -`, some
//! streaming apps). Icecast's source protocol usually sends the stream as it is; both
//! are taken.
//!
//! Sizes are read by httparse; the rest is the framing around them. Trailers after the
//! last chunk are not read: the stream has ended there.

/// Where the reader is in the body.
#[derive(Debug, Clone, Copy, PartialEq)]
enum At {
    /// Reading a size line (held in `line` until whole).
    Size,
    /// This many bytes of a chunk's data still to come.
    Data(u64),
    /// The CRLF after a chunk's data: this many of its bytes still to come.
    Crlf(u8),
    /// The last (empty) chunk came.
    End,
}

/// The body's framing is broken.
#[derive(Debug, PartialEq, thiserror::Error)]
#[error("bad chunked body: {0}")]
pub struct ChunkError(&'static str);

/// A size line with its extensions may be this long.
const MAX_LINE: usize = 1024;

pub struct Dechunk {
    at: At,
    line: Vec<u8>,
}

impl Default for Dechunk {
    fn default() -> Self {
        Self {
            at: At::Size,
            line: Vec::new(),
        }
    }
}

impl Dechunk {
    /// Appends the data carried by `input` to `out`.
    pub fn feed(&mut self, mut input: &[u8], out: &mut Vec<u8>) -> Result<(), ChunkError> {
        while !input.is_empty() {
            match self.at {
                At::End => return Ok(()),
                At::Data(left) => {
                    let n = (left.min(input.len() as u64)) as usize;
                    out.extend_from_slice(&input[..n]);
                    input = &input[n..];
                    self.at = if n as u64 == left {
                        At::Crlf(2)
                    } else {
                        At::Data(left - n as u64)
                    };
                }
                At::Crlf(left) => {
                    let want = &b"\r\n"[2 - usize::from(left)..];
                    let n = want.len().min(input.len());
                    if input[..n] != want[..n] {
                        return Err(ChunkError("a chunk is longer than its size"));
                    }
                    input = &input[n..];
                    self.at = match left - n as u8 {
                        0 => At::Size,
                        l => At::Crlf(l),
                    };
                }
                At::Size => {
                    // Up to the line's end only: what follows is data, not to be copied twice.
                    let end = input
                        .iter()
                        .position(|&b| b == b'\n')
                        .map_or(input.len(), |i| i + 1);
                    self.line.extend_from_slice(&input[..end]);
                    input = &input[end..];
                    if self.line.len() > MAX_LINE {
                        return Err(ChunkError("a chunk size line is too long"));
                    }
                    match httparse::parse_chunk_size(&self.line) {
                        Ok(httparse::Status::Complete((_, size))) => {
                            self.line.clear();
                            self.at = if size == 0 { At::End } else { At::Data(size) };
                        }
                        Ok(httparse::Status::Partial) => {}
                        Err(_) => return Err(ChunkError("a chunk size is not a number")),
                    }
                }
            }
        }
        Ok(())
    }

    /// Whether the last chunk has come: the stream is over.
    pub fn ended(&self) -> bool {
        self.at == At::End
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const BODY: &[u8] =
        b"5\r\nhello\r\n1;name=value\r\n \r\nB\r\nchunked wor\r\n2\r\nld\r\n0\r\n\r\n";

    #[test]
    fn a_body_read_whole_or_cut_anywhere_gives_the_same_bytes() {
        for cut in 1..BODY.len() {
            let mut d = Dechunk::default();
            let mut out = Vec::new();
            for piece in BODY.chunks(cut) {
                d.feed(piece, &mut out).unwrap();
            }
            assert_eq!(out, b"hello chunked world", "cut every {cut} bytes");
            assert!(d.ended());
        }
    }

    #[test]
    fn broken_framing_is_an_error() {
        let mut out = Vec::new();
        assert!(Dechunk::default().feed(b"zz\r\nhello", &mut out).is_err());
        assert!(Dechunk::default()
            .feed(b"2\r\nhello\r\n", &mut out)
            .is_err());
        let long = vec![b'1'; MAX_LINE + 1];
        assert!(Dechunk::default().feed(&long, &mut out).is_err());
    }

    #[test]
    fn a_huge_size_is_only_a_promise() {
        let mut d = Dechunk::default();
        let mut out = Vec::new();
        d.feed(b"FFFFFFFFFFFFFFFF\r\nabc", &mut out).unwrap();
        assert_eq!(out, b"abc");
        assert!(!d.ended());
    }
}
