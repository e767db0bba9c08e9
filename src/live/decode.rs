//! Audio into the stream's format: library files for the fallback and studio PCs' Icecast
//! streams, decoded and cut into 20 ms frames at 48 kHz with the stream's channel count.
//!
//! symphonia demuxes and decodes MP3, AAC (ADTS or MP4), Vorbis, FLAC and WAV; Ogg Opus,
//! which symphonia demuxes but does not decode, goes to the opus crate (libopus, which
//! the encoder already links). Blocking: runs on the fallback's or a source's own thread.

use std::io::Read;

use symphonia::core::{
    audio::SampleBuffer,
    codecs::{DecoderOptions, CODEC_TYPE_NULL, CODEC_TYPE_OPUS},
    errors::Error as SymphoniaError,
    formats::{FormatOptions, FormatReader},
    io::{MediaSource, MediaSourceStream, ReadOnlySource},
    meta::{MetadataOptions, StandardTagKey},
    probe::Hint,
};

use super::{
    format::{FRAME, RATE},
    resample::{Resample, ResampleError},
};

#[derive(Debug, thiserror::Error)]
pub enum DecodeError {
    #[error("not a format the box can play: {0}")]
    Format(String),
    #[error("no audio track")]
    NoTrack,
    #[error("cannot decode {codec}: {reason}")]
    Codec { codec: String, reason: String },
    #[error("read failed: {0}")]
    Read(String),
    #[error(transparent)]
    Resample(#[from] ResampleError),
}

/// Title and artist found in the file's or stream's own tags.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Tagged {
    pub title: Option<String>,
    pub artist: Option<String>,
}

enum Codec {
    Symphonia(Box<dyn symphonia::core::codecs::Decoder>),
    Opus {
        decoder: opus::Decoder,
        /// The stream's pre-skip, dropped from its start.
        skip: usize,
        pcm: Vec<f32>,
    },
}

/// One file or stream being decoded.
pub struct Decoder {
    format: Box<dyn FormatReader>,
    track: u32,
    codec: Codec,
    framer: Framer,
    tagged: Tagged,
    /// The tags changed and nobody has asked for them yet.
    retagged: bool,
}

/// Turns `Read` into a source symphonia can probe (no seeking: a network stream).
pub fn stream<R: Read + Send + Sync + 'static>(r: R) -> Box<dyn MediaSource> {
    Box::new(ReadOnlySource::new(r))
}

impl Decoder {
    /// Probes `source` (`extension` and `mime` are hints: a file name's, a stream's
    /// `Content-Type`) and readies its first audio track for `channels` output channels.
    pub fn open(
        source: Box<dyn MediaSource>,
        extension: Option<&str>,
        mime: Option<&str>,
        channels: usize,
    ) -> Result<Self, DecodeError> {
        let mut hint = Hint::new();
        if let Some(e) = extension {
            hint.with_extension(e);
        }
        if let Some(m) = mime {
            hint.mime_type(m);
        }
        let mss = MediaSourceStream::new(source, Default::default());
        let mut probed = symphonia::default::get_probe()
            .format(
                &hint,
                mss,
                &FormatOptions::default(),
                &MetadataOptions::default(),
            )
            .map_err(|e| DecodeError::Format(e.to_string()))?;
        let mut tagged = Tagged::default();
        if let Some(rev) = probed.metadata.get().as_ref().and_then(|m| m.current()) {
            read_tags(rev.tags(), &mut tagged);
        }
        let mut format = probed.format;
        if let Some(rev) = format.metadata().current() {
            read_tags(rev.tags(), &mut tagged);
        }
        let (track, codec, rate, in_channels) = first_track(format.as_ref())?;
        Ok(Self {
            track,
            framer: Framer::new(rate, in_channels, channels)?,
            format,
            codec,
            tagged,
            retagged: false,
        })
    }

    /// A chained Ogg stream went on to its next link (a source's next song, as Liquidsoap,
    /// ezstream, BUTT and Mixxx send it): decode its track, with its own tags. False when
    /// the new link has no audio.
    fn next_link(&mut self) -> Result<bool, DecodeError> {
        let (track, codec, rate, in_channels) = match first_track(self.format.as_ref()) {
            Ok(t) => t,
            Err(DecodeError::NoTrack) => return Ok(false),
            Err(e) => return Err(e),
        };
        if (rate, in_channels) != (self.framer.rate, self.framer.in_channels) {
            // A few milliseconds of the old link's end are dropped with its framer.
            self.framer = Framer::new(rate, in_channels, self.framer.out_channels)?;
        }
        (self.track, self.codec) = (track, codec);
        let mut metadata = self.format.metadata();
        metadata.skip_to_latest();
        let mut tagged = Tagged::default();
        if let Some(rev) = metadata.current() {
            read_tags(rev.tags(), &mut tagged);
        }
        if tagged != self.tagged {
            self.tagged = tagged;
            self.retagged = true;
        }
        Ok(true)
    }

    pub fn tagged(&self) -> &Tagged {
        &self.tagged
    }

    /// The new tags, once, after a chained stream's next link brought different ones.
    pub fn retagged(&mut self) -> Option<&Tagged> {
        std::mem::take(&mut self.retagged).then_some(&self.tagged)
    }

    /// Fills `frame` with the next 20 ms; false at the end of the stream. A damaged packet
    /// is skipped, as players do.
    pub fn next_frame(&mut self, frame: &mut [i16]) -> Result<bool, DecodeError> {
        loop {
            if self.framer.take(frame) {
                return Ok(true);
            }
            let packet = match self.format.next_packet() {
                Ok(p) => p,
                Err(SymphoniaError::IoError(e))
                    if e.kind() == std::io::ErrorKind::UnexpectedEof =>
                {
                    return Ok(false)
                }
                Err(SymphoniaError::ResetRequired) => {
                    if self.next_link()? {
                        continue;
                    }
                    return Ok(false);
                }
                Err(e) => return Err(DecodeError::Read(e.to_string())),
            };
            if packet.track_id() != self.track {
                continue;
            }
            match &mut self.codec {
                Codec::Symphonia(d) => match d.decode(&packet) {
                    Ok(buf) => {
                        let mut samples =
                            SampleBuffer::<f32>::new(buf.capacity() as u64, *buf.spec());
                        samples.copy_interleaved_ref(buf);
                        self.framer.push(samples.samples())?;
                    }
                    Err(SymphoniaError::DecodeError(e)) => {
                        tracing::debug!("damaged packet skipped: {e}");
                    }
                    Err(e) => {
                        return Err(DecodeError::Codec {
                            codec: "audio".into(),
                            reason: e.to_string(),
                        })
                    }
                },
                Codec::Opus { decoder, skip, pcm } => {
                    match decoder.decode_float(&packet.data, pcm, false) {
                        Ok(n) => {
                            let c = self.framer.in_channels;
                            let drop = (*skip).min(n);
                            *skip -= drop;
                            self.framer.push(&pcm[drop * c..n * c])?;
                        }
                        Err(e) => tracing::debug!("damaged Opus packet skipped: {e}"),
                    }
                }
            }
        }
    }
}

/// The reader's first audio track, with its decoder, rate and channel count.
fn first_track(format: &dyn FormatReader) -> Result<(u32, Codec, u32, usize), DecodeError> {
    let track = format
        .tracks()
        .iter()
        .find(|t| t.codec_params.codec != CODEC_TYPE_NULL)
        .ok_or(DecodeError::NoTrack)?;
    let params = &track.codec_params;
    let in_channels = params.channels.map_or(2, |c| c.count()).max(1);
    if params.codec == CODEC_TYPE_OPUS {
        // libopus decodes any Opus stream at 48 kHz, mono or stereo as asked.
        let out = if in_channels == 1 {
            opus::Channels::Mono
        } else {
            opus::Channels::Stereo
        };
        let decoder = opus::Decoder::new(RATE, out).map_err(|e| DecodeError::Codec {
            codec: "opus".into(),
            reason: e.to_string(),
        })?;
        let codec = Codec::Opus {
            decoder,
            skip: params.delay.unwrap_or(0) as usize,
            pcm: vec![0.0; 5760 * 2],
        };
        return Ok((track.id, codec, RATE, in_channels.min(2)));
    }
    let decoder = symphonia::default::get_codecs()
        .make(params, &DecoderOptions::default())
        .map_err(|e| DecodeError::Codec {
            codec: format!("{:?}", params.codec),
            reason: e.to_string(),
        })?;
    let rate = params.sample_rate.unwrap_or(RATE);
    Ok((track.id, Codec::Symphonia(decoder), rate, in_channels))
}

fn read_tags(tags: &[symphonia::core::meta::Tag], into: &mut Tagged) {
    for t in tags {
        let value = t.value.to_string();
        if value.trim().is_empty() {
            continue;
        }
        match t.std_key {
            Some(StandardTagKey::TrackTitle) => into.title = Some(value),
            Some(StandardTagKey::Artist) => into.artist = Some(value),
            _ => {}
        }
    }
}

/// Cuts decoded audio into the stream's frames: channels mapped (mono doubled, more than
/// the stream's folded down), converted to 16 bits, resampled to 48 kHz when needed.
pub struct Framer {
    rate: u32,
    in_channels: usize,
    out_channels: usize,
    resample: Option<Resample>,
    /// Samples at the input rate with the output's channels, waiting for a whole frame
    /// (or for the resampler's block).
    pending: Vec<i16>,
    /// Start of what `pending` has not given out yet.
    read: usize,
}

impl Framer {
    pub fn new(rate: u32, in_channels: usize, out_channels: usize) -> Result<Self, DecodeError> {
        let resample = if rate == RATE {
            None
        } else {
            Some(Resample::new(rate, out_channels)?)
        };
        Ok(Self {
            rate,
            in_channels: in_channels.max(1),
            out_channels,
            resample,
            pending: Vec::new(),
            read: 0,
        })
    }

    /// Adds interleaved samples with the input's channels.
    pub fn push(&mut self, samples: &[f32]) -> Result<(), DecodeError> {
        let (ci, co) = (self.in_channels, self.out_channels);
        let to_i16 = |v: f32| (v * 32767.0).round().clamp(-32768.0, 32767.0) as i16;
        if self.read > 0 && self.read * 2 >= self.pending.len() {
            self.pending.drain(..self.read);
            self.read = 0;
        }
        for f in samples.chunks_exact(ci) {
            match (ci, co) {
                (1, _) => self.pending.extend(std::iter::repeat_n(to_i16(f[0]), co)),
                (_, 1) => {
                    let sum: f32 = f.iter().sum();
                    self.pending.push(to_i16(sum / ci as f32));
                }
                _ => self.pending.extend(f.iter().take(co).map(|&v| to_i16(v))),
            }
        }
        Ok(())
    }

    /// Moves the next whole 20 ms frame into `frame`; false until there is one.
    pub fn take(&mut self, frame: &mut [i16]) -> bool {
        let co = self.out_channels;
        let available = &self.pending[self.read..];
        match self.resample.as_mut() {
            None => {
                let n = FRAME * co;
                if available.len() < n {
                    return false;
                }
                frame.copy_from_slice(&available[..n]);
                self.read += n;
                true
            }
            Some(r) => {
                let n = r.input_frames() * co;
                if available.len() < n {
                    return false;
                }
                if let Err(e) = r.process(&available[..n], frame) {
                    tracing::warn!("{e}");
                    frame.fill(0);
                }
                self.read += n;
                true
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A 44.1 kHz mono WAV comes out as 48 kHz stereo frames of the same pitch.
    #[test]
    fn decodes_and_resamples_a_wav_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("tone.wav");
        let spec = hound::WavSpec {
            channels: 1,
            sample_rate: 44_100,
            bits_per_sample: 16,
            sample_format: hound::SampleFormat::Int,
        };
        let mut w = hound::WavWriter::create(&path, spec).unwrap();
        for n in 0..44_100 {
            let t = f64::from(n) / 44_100.0;
            w.write_sample((0.5 * (std::f64::consts::TAU * 660.0 * t).sin() * 32767.0) as i16)
                .unwrap();
        }
        w.finalize().unwrap();
        let file = std::fs::File::open(&path).unwrap();
        let mut d = Decoder::open(Box::new(file), Some("wav"), None, 2).unwrap();
        let mut frame = vec![0i16; FRAME * 2];
        let mut left: Vec<i16> = Vec::new();
        let mut frames = 0;
        while d.next_frame(&mut frame).unwrap() {
            frames += 1;
            left.extend(frame.iter().step_by(2));
            assert_eq!(frame[0], frame[1], "mono goes to both channels");
        }
        assert!((48..=50).contains(&frames), "{frames} frames in one second");
        let tail = &left[4800..];
        let crossings = tail.windows(2).filter(|w| (w[0] < 0) != (w[1] < 0)).count();
        let hz = crossings as f64 / 2.0 / (tail.len() as f64 / 48_000.0);
        assert!((hz - 660.0).abs() < 5.0, "{hz} Hz");
    }

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        let junk = std::io::Cursor::new(vec![0x5au8; 10_000]);
        assert!(Decoder::open(stream(junk), None, None, 2).is_err());
    }
}
