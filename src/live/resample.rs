//! Converts a capture card's rate to the stream's 48 kHz, for cards (or digital inputs
//! clocked by the mixer) that record at another rate, such as 44.1 kHz.
//!
//! rubato's synchronous FFT resampler with a fixed output size: each call takes as many
//! input frames as it asks for and returns exactly one 20 ms frame at 48 kHz, which is what
//! the rest of the pipeline reads. Its delay is a few milliseconds.

use rubato::{
    audioadapter_buffers::direct::InterleavedSlice, Fft, FixedSync, Resampler,
    ResamplerConstructionError,
};

use super::format::{FRAME, RATE};

#[derive(Debug, thiserror::Error)]
pub enum ResampleError {
    #[error("cannot resample {from} Hz to 48 kHz: {source}")]
    Setup {
        from: u32,
        source: ResamplerConstructionError,
    },
    #[error("resampling failed: {0}")]
    Process(String),
}

pub struct Resample {
    fft: Fft<f32>,
    channels: usize,
    input: Vec<f32>,
    output: Vec<f32>,
}

impl Resample {
    pub fn new(from: u32, channels: usize) -> Result<Self, ResampleError> {
        let fft = Fft::new(
            from as usize,
            RATE as usize,
            FRAME,
            channels,
            FixedSync::Output,
        )
        .map_err(|source| ResampleError::Setup { from, source })?;
        Ok(Self {
            fft,
            channels,
            input: Vec::new(),
            output: vec![0.0; FRAME * channels],
        })
    }

    /// Frames (per channel) at the card's rate that the next [`Resample::process`] takes.
    pub fn input_frames(&self) -> usize {
        self.fft.input_frames_next()
    }

    /// Resamples `input` (exactly [`Resample::input_frames`] interleaved frames) into one
    /// 20 ms frame at 48 kHz (`out`, FRAME x channels samples).
    pub fn process(&mut self, input: &[i16], out: &mut [i16]) -> Result<(), ResampleError> {
        let c = self.channels;
        let frames = input.len() / c;
        self.input.clear();
        self.input
            .extend(input.iter().map(|&s| f32::from(s) / 32768.0));
        let fail = |e: &dyn std::fmt::Display| ResampleError::Process(e.to_string());
        let from = InterleavedSlice::new(&self.input, c, frames).map_err(|e| fail(&e))?;
        let mut to = InterleavedSlice::new_mut(&mut self.output, c, FRAME).map_err(|e| fail(&e))?;
        self.fft
            .process_into_buffer(&from, &mut to, None)
            .map_err(|e| fail(&e))?;
        for (o, &v) in out.iter_mut().zip(&self.output) {
            *o = (v * 32768.0).round().clamp(-32768.0, 32767.0) as i16;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A 1 kHz tone at 44.1 kHz comes out as a 1 kHz tone at 48 kHz.
    #[test]
    fn keeps_the_pitch() {
        let mut r = Resample::new(44_100, 2).unwrap();
        let mut n = 0u64;
        let mut out: Vec<i16> = Vec::new();
        let mut frame = vec![0i16; FRAME * 2];
        for _ in 0..50 {
            let input: Vec<i16> = (0..r.input_frames())
                .flat_map(|_| {
                    let t = n as f64 / 44_100.0;
                    n += 1;
                    let v = (0.5 * (std::f64::consts::TAU * 1000.0 * t).sin() * 32767.0) as i16;
                    [v, v]
                })
                .collect();
            r.process(&input, &mut frame).unwrap();
            out.extend(frame.iter().step_by(2));
        }
        // Past the resampler's start-up delay, count zero crossings.
        let tail = &out[4800..];
        let crossings = tail.windows(2).filter(|w| (w[0] < 0) != (w[1] < 0)).count();
        let hz = crossings as f64 / 2.0 / (tail.len() as f64 / 48_000.0);
        assert!((hz - 1000.0).abs() < 5.0, "{hz} Hz");
        // Input consumed matches the rate ratio: 50 x 20 ms at 44.1 kHz.
        assert!((n as i64 - 44_100).abs() < 1000, "{n} input frames");
    }
}
