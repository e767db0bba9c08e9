//! `streamp2p demo`: a small library of real, decodable episodes, generated on the spot.
//!
//! Three WAV episodes of a few minutes (a melody, chords, and a speech-like voice), tagged
//! with titles, so the whole node can be tried with no USB stick and no sound card. The
//! signals are deterministic: every demo run gives the same files and infohashes.

use std::{
    f32::consts::TAU,
    path::{Path, PathBuf},
};

use lofty::{
    config::WriteOptions,
    prelude::*,
    tag::{Tag, TagType},
};

const RATE: u32 = 22_050;

struct Episode {
    file: &'static str,
    title: &'static str,
    secs: u32,
    signal: fn(f32) -> f32,
}

const EPISODES: &[Episode] = &[
    Episode {
        file: "2026-11-02 Morning melody.wav",
        title: "Morning melody",
        secs: 150,
        signal: melody,
    },
    Episode {
        file: "2026-11-09 Evening chords.wav",
        title: "Evening chords",
        secs: 180,
        signal: chords,
    },
    Episode {
        file: "2026-11-16 The talk show.wav",
        title: "The talk show",
        secs: 120,
        signal: voice,
    },
];

/// A pentatonic tune, one note every half second, with a soft attack and decay.
fn melody(t: f32) -> f32 {
    const NOTES: [f32; 8] = [261.6, 293.7, 329.6, 392.0, 440.0, 392.0, 329.6, 293.7];
    let step = (t * 2.0) as usize;
    let f = NOTES[(step * 5 + step / 8) % NOTES.len()];
    let phase = t * 2.0 - step as f32;
    let env = (phase * 20.0).min(1.0) * (1.0 - phase).powf(0.5);
    0.4 * env * (TAU * f * t).sin()
}

/// Slow major and minor triads, four seconds each.
fn chords(t: f32) -> f32 {
    const ROOTS: [f32; 4] = [220.0, 174.6, 261.6, 196.0];
    let i = (t / 4.0) as usize % ROOTS.len();
    let r = ROOTS[i];
    let third = if i.is_multiple_of(2) { 1.26 } else { 1.189 };
    let s = (TAU * r * t).sin() + (TAU * r * third * t).sin() + (TAU * r * 1.498 * t).sin();
    0.2 * s
}

/// A buzzing voice: a 120 Hz pulse shaped by two vowel formants, in syllables and pauses.
fn voice(t: f32) -> f32 {
    const VOWELS: [(f32, f32); 4] = [
        (730.0, 1090.0),
        (270.0, 2290.0),
        (570.0, 840.0),
        (530.0, 1840.0),
    ];
    let syllable = (t * 4.0) as usize;
    let in_pause = (syllable % 11) >= 9;
    if in_pause {
        return 0.0;
    }
    let (f1, f2) = VOWELS[syllable % VOWELS.len()];
    let f0 = 120.0 + 15.0 * (TAU * 0.3 * t).sin();
    let mut s = 0.0;
    for h in 1..=25 {
        let f = f0 * h as f32;
        let gain =
            1.0 / (1.0 + ((f - f1) / 90.0).powi(2)) + 0.6 / (1.0 + ((f - f2) / 120.0).powi(2));
        s += gain * (TAU * f * t).sin() / h as f32;
    }
    let phase = t * 4.0 - syllable as f32;
    0.5 * s * (std::f32::consts::PI * phase).sin()
}

fn write_episode(dir: &Path, ep: &Episode, station: &str) -> anyhow::Result<PathBuf> {
    let path = dir.join(ep.file);
    let spec = hound::WavSpec {
        channels: 1,
        sample_rate: RATE,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    let mut w = hound::WavWriter::create(&path, spec)?;
    for n in 0..ep.secs * RATE {
        let v = (ep.signal)(n as f32 / RATE as f32).clamp(-1.0, 1.0);
        w.write_sample((v * i16::MAX as f32) as i16)?;
    }
    w.finalize()?;
    let mut tag = Tag::new(TagType::RiffInfo);
    tag.set_title(ep.title.to_string());
    tag.set_artist(station.to_string());
    tag.set_album("Demo episodes".to_string());
    tag.save_to_path(&path, WriteOptions::default())?;
    Ok(path)
}

/// Writes the demo episodes into `dir` (skipping those already there).
pub fn make_library(dir: &Path, station: &str) -> anyhow::Result<()> {
    std::fs::create_dir_all(dir)?;
    for ep in EPISODES {
        if !dir.join(ep.file).exists() {
            write_episode(dir, ep, station)?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn episodes_are_tagged_wav_of_the_right_length() {
        let dir = tempfile::tempdir().unwrap();
        let ep = Episode {
            file: "t.wav",
            title: "Test",
            secs: 2,
            signal: voice,
        };
        let p = write_episode(dir.path(), &ep, "Radio").unwrap();
        let tags = crate::library::tags::read_tags(&p);
        assert_eq!(tags.title.as_deref(), Some("Test"));
        assert_eq!(tags.artist.as_deref(), Some("Radio"));
        assert!((tags.duration_secs.unwrap() - 2.0).abs() < 0.05);
        let r = hound::WavReader::open(&p).unwrap();
        assert_eq!(r.len(), 2 * RATE);
    }
}
