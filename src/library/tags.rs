//! Title, artist, album and duration of an audio file, read with lofty. Blocking.
//!
//! A file whose tags cannot be read is still seeded: its bytes are what listeners want.
//! The failure is only logged, and the item falls back to its file name.

use std::path::Path;

use lofty::prelude::*;

use crate::store::Tags;

/// Whether the first bytes are those of a container or stream lofty reads. lofty scans a
/// whole file for MPEG frames when it finds none, which takes seconds on a large file that
/// is not audio at all; such a file is seeded with no tags instead.
fn looks_like_audio(head: &[u8]) -> bool {
    let at = |off: usize, magic: &[u8]| head.get(off..off + magic.len()) == Some(magic);
    let mpeg_frame = match head {
        // Frame sync, then a version, layer, bitrate and sample rate that are not reserved.
        [0xff, b1, b2, ..] => {
            b1 & 0xe0 == 0xe0
                && b1 & 0x18 != 0x08
                && (b1 & 0x06 != 0 || b1 & 0xf6 == 0xf0)
                && b2 >> 4 != 0xf
                && b2 & 0x0c != 0x0c
        }
        _ => false,
    };
    mpeg_frame
        || at(0, b"ID3")
        || at(0, b"OggS")
        || at(0, b"fLaC")
        || (at(0, b"RIFF") && at(8, b"WAVE"))
        || at(4, b"ftyp")
        || at(0, &[0x1a, 0x45, 0xdf, 0xa3])
}

fn head(path: &Path) -> std::io::Result<Vec<u8>> {
    use std::io::Read;
    let mut buf = Vec::with_capacity(12);
    std::fs::File::open(path)?.take(12).read_to_end(&mut buf)?;
    Ok(buf)
}

pub fn read_tags(path: &Path) -> Tags {
    match head(path) {
        Ok(h) if looks_like_audio(&h) => {}
        _ => {
            tracing::info!(path = %path.display(), "not recognised as audio; seeded without tags");
            return Tags::default();
        }
    }
    // The content decides the format, not the extension: `.ogg` may hold Opus, not Vorbis.
    let probed =
        lofty::probe::Probe::open(path).and_then(|p| p.guess_file_type().map_err(Into::into));
    let tagged = match probed.and_then(|p| p.read()) {
        Ok(t) => t,
        Err(e) => {
            tracing::info!(path = %path.display(), "no readable tags: {e}");
            return Tags::default();
        }
    };
    let duration = tagged.properties().duration().as_secs_f64();
    let tag = tagged.primary_tag().or_else(|| tagged.first_tag());
    let text = |v: Option<std::borrow::Cow<'_, str>>| {
        v.map(|s| s.trim().to_string()).filter(|s| !s.is_empty())
    };
    Tags {
        title: tag.and_then(|t| text(t.title())),
        artist: tag.and_then(|t| text(t.artist())),
        album: tag.and_then(|t| text(t.album())),
        duration_secs: (duration > 0.0).then_some(duration),
        recorded: tag.and_then(|t| {
            text(
                t.get_string(&lofty::tag::ItemKey::RecordingDate)
                    .map(std::borrow::Cow::Borrowed),
            )
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::{looks_like_audio, read_tags};

    /// A second of silence as ffmpeg (the tool podcasters and stations use) tags it, in
    /// each tag format a station's archive holds: ID3v2.4 `TDRC`, ID3v2.3 `TYER`, a Vorbis
    /// comment `DATE`, an MP4 `©day`.
    #[test]
    fn reads_the_recording_date_of_each_tag_kind() {
        let dir = tempfile::tempdir().unwrap();
        let cases: [(&str, &[&str], &str); 4] = [
            (
                "id3v24.mp3",
                &["-id3v2_version", "4", "-metadata", "date=2019-03-08"],
                "2019-03-08",
            ),
            (
                "id3v23.mp3",
                &["-id3v2_version", "3", "-metadata", "date=2016"],
                "2016",
            ),
            (
                "vorbis.ogg",
                &["-c:a", "libvorbis", "-metadata", "date=2018-11-02"],
                "2018-11-02",
            ),
            (
                "mp4.m4a",
                &["-c:a", "aac", "-metadata", "date=2017-05-01"],
                "2017-05-01",
            ),
        ];
        for (name, args, want) in cases {
            let path = dir.path().join(name);
            let out = std::process::Command::new("ffmpeg")
                .args([
                    "-v",
                    "error",
                    "-f",
                    "lavfi",
                    "-i",
                    "anullsrc=r=44100:cl=mono",
                    "-t",
                    "1",
                ])
                .args(args)
                .arg(&path)
                .output()
                .expect("ffmpeg (the test command installs it)");
            assert!(
                out.status.success(),
                "{name}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
            let tags = read_tags(&path);
            assert_eq!(tags.recorded.as_deref(), Some(want), "{name}");
        }
        // The ID3v2.3 file really carries TYER (ffmpeg writes the year there for v2.3).
        let v23 = std::fs::read(dir.path().join("id3v23.mp3")).unwrap();
        assert!(
            v23.windows(4).any(|w| w == b"TYER"),
            "no TYER frame in the v2.3 file"
        );
    }

    #[test]
    fn recognises_audio_heads() {
        assert!(looks_like_audio(b"ID3\x04\0\0\0\0\0\0\0\0"));
        assert!(looks_like_audio(b"OggS\0\x02"));
        assert!(looks_like_audio(b"RIFF\x10\0\0\0WAVEfmt "));
        assert!(looks_like_audio(b"\0\0\0\x20ftypM4A "));
        // MPEG-1 layer III, 128 kb/s, 44.1 kHz; and ADTS AAC.
        assert!(looks_like_audio(&[0xff, 0xfb, 0x90, 0x64]));
        assert!(looks_like_audio(&[0xff, 0xf1, 0x50, 0x80]));
        assert!(!looks_like_audio(&[0xff, 0xfb, 0xf0, 0x64]));
        assert!(!looks_like_audio(b"hello world!"));
        assert!(!looks_like_audio(b""));
    }
}
