//! Ogg Opus framing (RFC 7845): the OpusHead and OpusTags header pages, then audio pages.
//!
//! Pages are cut every few packets so a listener's player gets audio with little delay;
//! each cut returns the page bytes, which the broadcast hands to listeners as they are.

use ogg::writing::{PacketWriteEndInfo, PacketWriter};

/// Packets per page: 5 x 20 ms = 100 ms, a balance of delay and page overhead.
const PACKETS_PER_PAGE: u32 = 5;

pub struct OggOpus {
    writer: PacketWriter<'static, Vec<u8>>,
    serial: u32,
    /// Samples at 48 kHz written so far, including the pre-skip (RFC 7845 granule position).
    granule: u64,
    in_page: u32,
    headers: Vec<u8>,
}

/// The OpusHead and OpusTags pages of stream `serial` (page numbers 0 and 1). The tags
/// may differ from those the stream started with: a listener who joins after the station
/// was renamed gets the new name, then the same audio pages as everyone.
pub fn header_pages(serial: u32, channels: u8, pre_skip: u16, tags: &[String]) -> Vec<u8> {
    write_headers(
        &mut PacketWriter::new(Vec::new()),
        serial,
        channels,
        pre_skip,
        tags,
    )
}

/// Writes the two header pages with `writer` (whose page numbers then go on from them)
/// and returns their bytes.
fn write_headers(
    writer: &mut PacketWriter<'static, Vec<u8>>,
    serial: u32,
    channels: u8,
    pre_skip: u16,
    tags: &[String],
) -> Vec<u8> {
    let mut head = b"OpusHead".to_vec();
    head.push(1); // version
    head.push(channels);
    head.extend_from_slice(&pre_skip.to_le_bytes());
    head.extend_from_slice(&48_000u32.to_le_bytes()); // input rate, informational
    head.extend_from_slice(&0i16.to_le_bytes()); // output gain
    head.push(0); // channel mapping family 0: mono or stereo
    let mut comments = b"OpusTags".to_vec();
    let vendor = concat!("streamp2p ", env!("CARGO_PKG_VERSION"));
    comments.extend_from_slice(&(vendor.len() as u32).to_le_bytes());
    comments.extend_from_slice(vendor.as_bytes());
    comments.extend_from_slice(&(tags.len() as u32).to_le_bytes());
    for t in tags {
        comments.extend_from_slice(&(t.len() as u32).to_le_bytes());
        comments.extend_from_slice(t.as_bytes());
    }
    // Each header packet ends its own page, as RFC 7845 requires; writing to a Vec
    // cannot fail.
    let _ = writer.write_packet(head, serial, PacketWriteEndInfo::EndPage, 0);
    let _ = writer.write_packet(comments, serial, PacketWriteEndInfo::EndPage, 0);
    std::mem::take(writer.inner_mut())
}

impl OggOpus {
    /// `pre_skip`: the encoder's lookahead in 48 kHz samples. `tags`: Vorbis comments such
    /// as `TITLE=...`.
    pub fn new(channels: u8, pre_skip: u16, tags: &[String]) -> Self {
        let serial = rand::random();
        let mut writer = PacketWriter::new(Vec::new());
        let headers = write_headers(&mut writer, serial, channels, pre_skip, tags);
        Self {
            writer,
            serial,
            granule: u64::from(pre_skip),
            in_page: 0,
            headers,
        }
    }

    /// The logical stream's serial number: header pages made later with
    /// [`header_pages`] must carry it to lead this stream's audio pages.
    pub fn serial(&self) -> u32 {
        self.serial
    }

    /// The two header pages every listener gets first.
    pub fn headers(&self) -> &[u8] {
        &self.headers
    }

    /// Adds one Opus packet of `samples` 48 kHz samples; returns a finished page, if any.
    pub fn push(&mut self, packet: Vec<u8>, samples: u64) -> Option<Vec<u8>> {
        self.granule += samples;
        self.in_page += 1;
        let end = if self.in_page >= PACKETS_PER_PAGE {
            self.in_page = 0;
            PacketWriteEndInfo::EndPage
        } else {
            PacketWriteEndInfo::NormalPacket
        };
        let _ = self
            .writer
            .write_packet(packet, self.serial, end, self.granule);
        let out = std::mem::take(self.writer.inner_mut());
        (!out.is_empty()).then_some(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_then_pages_parse_back() {
        let mut o = OggOpus::new(2, 312, &["TITLE=Test".into()]);
        let mut bytes = o.headers().to_vec();
        assert!(bytes.starts_with(b"OggS"));
        let mut pages = 0;
        for _ in 0..10 {
            if let Some(p) = o.push(vec![0xfc, 0xff, 0xfe], 960) {
                pages += 1;
                bytes.extend_from_slice(&p);
            }
        }
        assert_eq!(pages, 2);
        let mut r = ogg::reading::PacketReader::new(std::io::Cursor::new(bytes));
        let head = r.read_packet_expected().unwrap();
        assert!(head.data.starts_with(b"OpusHead"));
        assert_eq!(head.data[9], 2);
        let tags = r.read_packet_expected().unwrap();
        assert!(tags.data.starts_with(b"OpusTags"));
        assert!(tags.data.windows(10).any(|w| w == b"TITLE=Test"));
        let mut last = 0;
        while let Ok(Some(p)) = r.read_packet() {
            last = p.absgp_page();
        }
        assert_eq!(last, 312 + 10 * 960);
    }

    #[test]
    fn later_headers_lead_the_same_stream() {
        let o = OggOpus::new(2, 312, &["TITLE=Old".into()]);
        let again = header_pages(o.serial(), 2, 312, &["TITLE=Old".into()]);
        assert_eq!(again, o.headers(), "the same tags make the same pages");
        let renamed = header_pages(o.serial(), 2, 312, &["TITLE=New".into()]);
        let mut r = ogg::reading::PacketReader::new(std::io::Cursor::new(renamed));
        let head = r.read_packet_expected().unwrap();
        assert_eq!(head.stream_serial(), o.serial());
        let tags = r.read_packet_expected().unwrap();
        assert!(tags.data.windows(9).any(|w| w == b"TITLE=New"));
    }
}
