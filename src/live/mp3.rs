//! MP3 for the players that take no Opus: `/live.mp3` and the HLS variant every iPhone
//! plays. LAME encodes; `Frames` cuts its output into whole MPEG audio frames, so an HLS
//! segment or a new listener's burst always starts on a frame.

use mp3lame_encoder::{Bitrate, Builder, Encoder, InterleavedPcm, Mode, Quality};

use super::format::RATE;

/// MPEG-1 Layer III at 48 kHz: 1152 samples per frame (24 ms).
pub const FRAME_SAMPLES: u64 = 1152;

#[derive(Debug, thiserror::Error)]
#[error("MP3 encoder: {0}")]
pub struct Mp3Error(String);

pub struct Mp3 {
    encoder: Encoder,
    out: Vec<u8>,
    frames: Frames,
}

impl Mp3 {
    pub fn new(channels: u8, kbps: u32) -> Result<Self, Mp3Error> {
        let err = |e: &dyn std::fmt::Display| Mp3Error(e.to_string());
        let mut b = Builder::new().ok_or_else(|| Mp3Error("cannot create LAME".into()))?;
        b.set_num_channels(channels).map_err(|e| err(&e))?;
        b.set_sample_rate(RATE).map_err(|e| err(&e))?;
        b.set_brate(bitrate(kbps)).map_err(|e| err(&e))?;
        b.set_mode(if channels == 1 {
            Mode::Mono
        } else {
            Mode::JointStereo
        })
        .map_err(|e| err(&e))?;
        // "Decent" is LAME's -q 5-ish: cheap enough for a Pi core beside Opus.
        b.set_quality(Quality::Decent).map_err(|e| err(&e))?;
        // A live stream has no end to describe: no Xing/LAME info frame in front.
        b.set_to_write_vbr_tag(false).map_err(|e| err(&e))?;
        Ok(Self {
            encoder: b.build().map_err(|e| err(&e))?,
            out: Vec::with_capacity(16 * 1024),
            frames: Frames::default(),
        })
    }

    /// Encodes interleaved samples; returns the MPEG frames completed by them.
    pub fn encode(&mut self, pcm: &[i16]) -> Vec<Vec<u8>> {
        self.out.clear();
        if let Err(e) = self
            .encoder
            .encode_to_vec(InterleavedPcm(pcm), &mut self.out)
        {
            tracing::warn!("MP3 encode failed: {e}");
            return Vec::new();
        }
        self.frames.push(&self.out)
    }

    #[cfg(test)]
    fn flush(&mut self) -> Vec<Vec<u8>> {
        self.out.clear();
        let _ = self
            .encoder
            .flush_to_vec::<mp3lame_encoder::FlushNoGap>(&mut self.out);
        self.frames.push(&self.out)
    }
}

fn bitrate(kbps: u32) -> Bitrate {
    match kbps {
        0..=64 => Bitrate::Kbps64,
        65..=96 => Bitrate::Kbps96,
        97..=128 => Bitrate::Kbps128,
        129..=160 => Bitrate::Kbps160,
        161..=192 => Bitrate::Kbps192,
        193..=256 => Bitrate::Kbps256,
        _ => Bitrate::Kbps320,
    }
}

/// Length of the MPEG-1 Layer III frame whose 4-byte header is `h`, if it is one.
fn frame_len(h: &[u8]) -> Option<usize> {
    const KBPS: [u32; 16] = [
        0, 32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320, 0,
    ];
    const RATES: [u32; 4] = [44_100, 48_000, 32_000, 0];
    let [0xff, b1, b2, _] = *h.get(..4)? else {
        return None;
    };
    // Sync, MPEG-1, Layer III.
    if b1 & 0xfe != 0xfa {
        return None;
    }
    let kbps = KBPS[usize::from(b2 >> 4)];
    let rate = RATES[usize::from((b2 >> 2) & 3)];
    if kbps == 0 || rate == 0 {
        return None;
    }
    Some((144_000 * kbps / rate + u32::from((b2 >> 1) & 1)) as usize)
}

/// Cuts a byte stream into whole MPEG frames, skipping anything between them.
#[derive(Default)]
struct Frames {
    buf: Vec<u8>,
}

impl Frames {
    fn push(&mut self, bytes: &[u8]) -> Vec<Vec<u8>> {
        self.buf.extend_from_slice(bytes);
        let mut out = Vec::new();
        let mut at = 0;
        while at + 4 <= self.buf.len() {
            match frame_len(&self.buf[at..]) {
                Some(n) if at + n <= self.buf.len() => {
                    out.push(self.buf[at..at + n].to_vec());
                    at += n;
                }
                Some(_) => break,
                None => at += 1,
            }
        }
        self.buf.drain(..at);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes_whole_frames() {
        let mut m = Mp3::new(2, 128).unwrap();
        let pcm: Vec<i16> = (0..48_000 * 2)
            .map(|i| ((i as f32 * 0.03).sin() * 8000.0) as i16)
            .collect();
        let mut frames = Vec::new();
        for chunk in pcm.chunks(1920) {
            frames.extend(m.encode(chunk));
        }
        frames.extend(m.flush());
        assert!(frames.len() >= 38, "{} frames for 1 s", frames.len());
        for f in &frames {
            assert_eq!(f.len(), 384, "128 kb/s at 48 kHz, no padding");
            assert_eq!(frame_len(f), Some(384));
        }
    }

    #[test]
    fn splitter_skips_garbage_and_waits_for_whole_frames() {
        let mut header = vec![0xff, 0xfb, 0x94, 0x64];
        header.resize(384, 0);
        let mut f = Frames::default();
        let mut input = vec![1, 2, 3];
        input.extend_from_slice(&header[..100]);
        assert!(f.push(&input).is_empty());
        assert_eq!(f.push(&header[100..]).len(), 1);
        assert!(f.push(&[0xff]).is_empty());
    }
}
