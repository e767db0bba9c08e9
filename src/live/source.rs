//! Where live audio comes from: an ALSA capture device, a generated tone, or a WAV file.
//!
//! Every source delivers interleaved 16-bit frames at 48 kHz with the configured channel
//! count, 20 ms at a time, in real time: ALSA paces itself, the others sleep to the clock.
//! A card that cannot record at 48 kHz records at its own rate, resampled (`resample`).
//! Sources run on the capture thread (blocking), never on the async runtime.

use std::{
    path::Path,
    time::{Duration, Instant},
};

use alsa::{
    pcm::{Access, Format, HwParams, PCM},
    Direction, ValueOr,
};

use super::{
    format::{FRAME, RATE},
    resample::{Resample, ResampleError},
};
use crate::config::AudioSource;

#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    #[error("cannot open capture device {device}: {source}")]
    Open { device: String, source: alsa::Error },
    #[error("capture device {device} cannot record at {rate} Hz: {source}")]
    Rate {
        device: String,
        rate: u32,
        source: alsa::Error,
    },
    #[error(transparent)]
    Resample(#[from] ResampleError),
    #[error("capture device stopped: {0}")]
    Gone(alsa::Error),
    #[error("cannot read {path}: {reason}")]
    File { path: String, reason: String },
}

pub trait Source: Send {
    /// Fills `frame` (FRAME x channels samples), blocking until they are there.
    fn read(&mut self, frame: &mut [i16]) -> Result<(), SourceError>;
}

/// Opens `src`. `capture_rate` asks an ALSA card for that rate instead of 48 kHz.
pub fn open(
    src: &AudioSource,
    channels: usize,
    capture_rate: Option<u32>,
) -> Result<Box<dyn Source>, SourceError> {
    Ok(match src {
        AudioSource::Alsa(dev) => Box::new(Alsa::open(dev, channels, capture_rate)?),
        AudioSource::Sine => Box::new(Paced::new(Sine::default(), channels)),
        AudioSource::File(p) => Box::new(Paced::new(Wav::load(p, channels)?, channels)),
        // `node` starts no capture for `none`; this is only reached by mistake.
        AudioSource::None => Box::new(Paced::new(
            Sine {
                hz: 0.0,
                ..Sine::default()
            },
            channels,
        )),
    })
}

/// A sample generator that is not paced by hardware.
trait Generate: Send {
    fn fill(&mut self, frame: &mut [i16], channels: usize);
}

/// Sleeps so frames come out in real time, like a sound card's.
struct Paced<G> {
    gen: G,
    channels: usize,
    next: Option<Instant>,
}

impl<G> Paced<G> {
    fn new(gen: G, channels: usize) -> Self {
        Self {
            gen,
            channels,
            next: None,
        }
    }
}

impl<G: Generate> Source for Paced<G> {
    fn read(&mut self, frame: &mut [i16]) -> Result<(), SourceError> {
        let now = Instant::now();
        let due = *self.next.get_or_insert(now);
        if due > now {
            std::thread::sleep(due - now);
        }
        // Fell far behind (machine suspended): start the clock again instead of bursting.
        let step = Duration::from_millis(20);
        self.next = Some(if now > due + 10 * step {
            now + step
        } else {
            due + step
        });
        self.gen.fill(frame, self.channels);
        Ok(())
    }
}

/// The demo's test tone: a 440 Hz sine at -12 dBFS on every channel.
pub struct Sine {
    hz: f64,
    n: u64,
}

impl Default for Sine {
    fn default() -> Self {
        Self { hz: 440.0, n: 0 }
    }
}

impl Generate for Sine {
    fn fill(&mut self, frame: &mut [i16], channels: usize) {
        for f in frame.chunks_exact_mut(channels) {
            let t = self.n as f64 / f64::from(RATE);
            let v = (0.25 * (std::f64::consts::TAU * self.hz * t).sin() * 32767.0) as i16;
            f.fill(v);
            self.n += 1;
        }
    }
}

/// A 48 kHz 16-bit WAV file, looped.
struct Wav {
    samples: Vec<i16>,
    pos: usize,
}

impl Wav {
    fn load(path: &Path, channels: usize) -> Result<Self, SourceError> {
        let err = |reason: String| SourceError::File {
            path: path.display().to_string(),
            reason,
        };
        let mut r = hound::WavReader::open(path).map_err(|e| err(e.to_string()))?;
        let spec = r.spec();
        if spec.sample_rate != RATE || spec.bits_per_sample != 16 {
            return Err(err(format!(
                "need 48000 Hz 16-bit, file is {} Hz {}-bit",
                spec.sample_rate, spec.bits_per_sample
            )));
        }
        let raw: Vec<i16> = r
            .samples::<i16>()
            .collect::<Result<_, _>>()
            .map_err(|e| err(e.to_string()))?;
        let from = usize::from(spec.channels.max(1));
        // Map the file's channels onto ours: duplicate mono, or take the first ones.
        let samples: Vec<i16> = raw
            .chunks_exact(from)
            .flat_map(|f| (0..channels).map(move |c| f[c.min(from - 1)]))
            .collect();
        if samples.is_empty() {
            return Err(err("no audio in the file".into()));
        }
        Ok(Self { samples, pos: 0 })
    }
}

impl Generate for Wav {
    fn fill(&mut self, frame: &mut [i16], _channels: usize) {
        for s in frame.iter_mut() {
            *s = self.samples[self.pos];
            self.pos = (self.pos + 1) % self.samples.len();
        }
    }
}

/// An ALSA capture device, resampled to 48 kHz when it records at another rate.
struct Alsa {
    pcm: PCM,
    device: String,
    resample: Option<Resample>,
    /// Frames at the card's rate, waiting for the resampler.
    raw: Vec<i16>,
}

impl Alsa {
    /// Opens `device` at `rate`, or at 48 kHz when the card has it and at the card's
    /// nearest rate when not.
    fn open(device: &str, channels: usize, rate: Option<u32>) -> Result<Self, SourceError> {
        let open_err = |source| SourceError::Open {
            device: device.to_string(),
            source,
        };
        let rate_err = |rate, source| SourceError::Rate {
            device: device.to_string(),
            rate,
            source,
        };
        let pcm = PCM::new(device, Direction::Capture, false).map_err(open_err)?;
        let rate = {
            let hw = HwParams::any(&pcm).map_err(open_err)?;
            hw.set_access(Access::RWInterleaved).map_err(open_err)?;
            hw.set_format(Format::s16()).map_err(open_err)?;
            hw.set_channels(channels as u32).map_err(open_err)?;
            match rate {
                Some(r) => hw
                    .set_rate(r, ValueOr::Nearest)
                    .map_err(|e| rate_err(r, e))?,
                None => {
                    if hw.set_rate(RATE, ValueOr::Nearest).is_err() {
                        hw.set_rate_near(RATE, ValueOr::Nearest)
                            .map_err(|e| rate_err(RATE, e))?;
                    }
                }
            }
            // A few periods of 20 ms: small enough for low delay, large enough that a
            // busy moment on the box does not overrun.
            hw.set_period_size_near(FRAME as alsa::pcm::Frames, ValueOr::Nearest)
                .map_err(open_err)?;
            hw.set_buffer_size_near(8 * FRAME as alsa::pcm::Frames)
                .map_err(open_err)?;
            pcm.hw_params(&hw).map_err(open_err)?;
            hw.get_rate().map_err(open_err)?
        };
        let resample = if rate == RATE {
            None
        } else {
            tracing::info!(
                device,
                rate,
                "capturing at the card's rate, resampled to 48 kHz"
            );
            Some(Resample::new(rate, channels)?)
        };
        pcm.start().map_err(open_err)?;
        Ok(Self {
            pcm,
            device: device.to_string(),
            resample,
            raw: Vec::new(),
        })
    }

    /// Fills `buf` with whole frames from the card.
    fn read_exact(&mut self, buf: &mut [i16], channels: usize) -> Result<(), SourceError> {
        let frames = buf.len() / channels;
        let mut done = 0;
        while done < frames {
            let io = self.pcm.io_i16().map_err(SourceError::Gone)?;
            match io.readi(&mut buf[done * channels..]) {
                Ok(0) => return Err(SourceError::Gone(alsa::Error::unsupported("readi"))),
                Ok(n) => done += n,
                // Overrun (the box was busy): recover and go on. Anything else, such as a
                // USB card pulled out, ends this device; the caller reopens it later.
                Err(e) => {
                    if self.pcm.try_recover(e, true).is_err() {
                        tracing::warn!(device = self.device, "capture failed: {e}");
                        return Err(SourceError::Gone(e));
                    }
                    tracing::debug!(device = self.device, "capture overrun recovered");
                }
            }
        }
        Ok(())
    }
}

impl Source for Alsa {
    fn read(&mut self, frame: &mut [i16]) -> Result<(), SourceError> {
        let channels = frame.len() / FRAME;
        let Some(mut resample) = self.resample.take() else {
            return self.read_exact(frame, channels);
        };
        let mut raw = std::mem::take(&mut self.raw);
        raw.resize(resample.input_frames() * channels, 0);
        let done = self
            .read_exact(&mut raw, channels)
            .and_then(|()| Ok(resample.process(&raw, frame)?));
        self.raw = raw;
        self.resample = Some(resample);
        done
    }
}

/// Capture-capable ALSA devices, for the config page.
pub fn capture_devices() -> Vec<(String, String)> {
    let Ok(hints) = alsa::device_name::HintIter::new_str(None, "pcm") else {
        return Vec::new();
    };
    hints
        .filter(|h| h.direction != Some(Direction::Playback))
        .filter_map(|h| {
            let name = h.name?;
            let desc = h.desc.unwrap_or_default().replace('\n', " — ");
            Some((name, desc))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sine_is_paced_in_real_time() {
        let mut s = Paced::new(Sine::default(), 2);
        let mut frame = vec![0i16; FRAME * 2];
        let start = Instant::now();
        for _ in 0..10 {
            s.read(&mut frame).unwrap();
        }
        let took = start.elapsed();
        assert!(took >= Duration::from_millis(170), "{took:?}");
        assert_eq!(frame[0], frame[1], "same on both channels");
        assert!(frame.iter().any(|&v| v > 8000));
    }

    #[test]
    fn wav_with_the_wrong_rate_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("x.wav");
        let spec = hound::WavSpec {
            channels: 1,
            sample_rate: 22_050,
            bits_per_sample: 16,
            sample_format: hound::SampleFormat::Int,
        };
        let mut w = hound::WavWriter::create(&p, spec).unwrap();
        w.write_sample(1i16).unwrap();
        w.finalize().unwrap();
        assert!(matches!(
            open(&AudioSource::File(p), 2, None),
            Err(SourceError::File { .. })
        ));
    }

    #[test]
    fn missing_alsa_device_is_an_error_not_a_panic() {
        assert!(open(&AudioSource::Alsa("hw:77,0".into()), 2, None).is_err());
    }
}
