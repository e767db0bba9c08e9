//! Peak and RMS levels per channel, in dBFS, for the level meter and silence detection.
//! Pure.

use serde::Serialize;

/// The floor reported for digital silence.
pub const FLOOR_DB: f32 = -96.0;

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Levels {
    pub peak_db: Vec<f32>,
    pub rms_db: Vec<f32>,
}

impl Levels {
    /// The loudest channel's RMS, to tell silence.
    pub fn loudest_rms_db(&self) -> f32 {
        self.rms_db.iter().copied().fold(FLOOR_DB, f32::max)
    }
}

fn db(v: f64) -> f32 {
    if v <= 0.0 {
        FLOOR_DB
    } else {
        ((20.0 * v.log10()) as f32).max(FLOOR_DB)
    }
}

/// Levels of interleaved 16-bit samples with `channels` channels.
pub fn measure(samples: &[i16], channels: usize) -> Levels {
    let channels = channels.max(1);
    let mut peak = vec![0f64; channels];
    let mut sum = vec![0f64; channels];
    for frame in samples.chunks_exact(channels) {
        for (c, &s) in frame.iter().enumerate() {
            let v = f64::from(s) / 32768.0;
            peak[c] = peak[c].max(v.abs());
            sum[c] += v * v;
        }
    }
    let n = (samples.len() / channels).max(1) as f64;
    Levels {
        peak_db: peak.iter().map(|&p| db(p)).collect(),
        rms_db: sum.iter().map(|&s| db((s / n).sqrt())).collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn full_scale_sine_and_silence() {
        let sine: Vec<i16> = (0..4800)
            .flat_map(|i| {
                let v = ((i as f64 * 0.1).sin() * 32767.0) as i16;
                [v, 0]
            })
            .collect();
        let l = measure(&sine, 2);
        assert!(l.peak_db[0] > -0.1, "{l:?}");
        assert!((l.rms_db[0] + 3.01).abs() < 0.1, "{l:?}");
        assert_eq!(l.peak_db[1], FLOOR_DB);
        assert_eq!(l.loudest_rms_db(), l.rms_db[0]);
        assert_eq!(measure(&[], 2).rms_db, vec![FLOOR_DB, FLOOR_DB]);
    }
}
