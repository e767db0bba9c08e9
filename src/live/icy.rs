//! ICY metadata, the way Icecast and SHOUTcast put the title into an MP3 stream for players
//! that ask (`Icy-MetaData: 1`): after every `icy-metaint` bytes of audio, one length byte
//! (in 16-byte units) and `StreamTitle='...';` padded with zeros; a lone zero when the
//! title has not changed. Pure.

use bytes::{BufMut, Bytes, BytesMut};

/// Audio bytes between two metadata blocks (Icecast's default).
pub const METAINT: usize = 16_000;
/// The longest block the length byte allows: 255 x 16.
const MAX_BLOCK: usize = 255 * 16;

pub struct Icy {
    /// Audio bytes until the next block.
    left: usize,
    /// The title last sent.
    sent: Option<String>,
}

impl Default for Icy {
    fn default() -> Self {
        Self {
            left: METAINT,
            sent: None,
        }
    }
}

impl Icy {
    /// `chunk` of audio with the metadata blocks due within it; `title` is asked for each.
    pub fn frame(&mut self, mut chunk: Bytes, title: impl Fn() -> String) -> Bytes {
        if chunk.len() < self.left {
            self.left -= chunk.len();
            return chunk;
        }
        let mut out = BytesMut::with_capacity(chunk.len() + 64);
        while chunk.len() >= self.left {
            out.put(chunk.split_to(self.left));
            self.block(&title(), &mut out);
            self.left = METAINT;
        }
        self.left -= chunk.len();
        out.put(chunk);
        out.freeze()
    }

    fn block(&mut self, title: &str, out: &mut BytesMut) {
        if self.sent.as_deref() == Some(title) {
            out.put_u8(0);
            return;
        }
        // A quote would end the value early: players read up to `';`.
        let clean: String = title
            .chars()
            .filter(|c| !c.is_control())
            .map(|c| if c == '\'' { '\u{2019}' } else { c })
            .collect();
        // Cut a title too long for one block on a character boundary.
        let room = MAX_BLOCK - "StreamTitle='';".len();
        let mut keep = clean.len().min(room);
        while !clean.is_char_boundary(keep) {
            keep -= 1;
        }
        let text = format!("StreamTitle='{}';", &clean[..keep]).into_bytes();
        let units = text.len().div_ceil(16);
        out.put_u8(units as u8);
        out.put_slice(&text);
        out.put_bytes(0, units * 16 - text.len());
        self.sent = Some(title.to_string());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Reads a stream back the way a player does: audio, and the titles.
    fn read(stream: &[u8]) -> (usize, Vec<String>) {
        let (mut audio, mut titles, mut pos) = (0, Vec::new(), 0);
        while pos < stream.len() {
            let n = METAINT.min(stream.len() - pos);
            audio += n;
            pos += n;
            if pos >= stream.len() {
                break;
            }
            let len = usize::from(stream[pos]) * 16;
            let text = String::from_utf8_lossy(&stream[pos + 1..pos + 1 + len]);
            if len > 0 {
                titles.push(text.trim_end_matches('\0').to_string());
            }
            pos += 1 + len;
        }
        (audio, titles)
    }

    #[test]
    fn blocks_every_metaint_bytes_with_the_title_when_it_changes() {
        let mut icy = Icy::default();
        let mut out = Vec::new();
        let title = std::cell::RefCell::new("Nina - Song".to_string());
        for i in 0..100 {
            if i == 50 {
                *title.borrow_mut() = "Jingle's".into();
            }
            out.extend_from_slice(
                &icy.frame(Bytes::from(vec![7u8; 417]), || title.borrow().clone()),
            );
        }
        let (audio, titles) = read(&out);
        assert_eq!(audio, 41_700);
        assert_eq!(
            titles,
            vec![
                "StreamTitle='Nina - Song';",
                "StreamTitle='Jingle\u{2019}s';"
            ]
        );
    }

    #[test]
    fn a_long_title_is_cut_to_fit() {
        let mut icy = Icy::default();
        let out = icy.frame(Bytes::from(vec![0u8; METAINT]), || "é".repeat(5000));
        let len = usize::from(out[METAINT]) * 16;
        assert!(len <= MAX_BLOCK);
        let text = std::str::from_utf8(&out[METAINT + 1..METAINT + 1 + len])
            .unwrap()
            .trim_end_matches('\0');
        assert!(
            text.starts_with("StreamTitle='é") && text.ends_with("';"),
            "{text}"
        );
    }
}
