//! The live stream's audio format, shared by every stage from capture to the HLS segments.
//!
//! A leaf: sources deliver frames in it, the resampler converts a card's rate to it, and
//! the encoders and muxers time their output by it, so none of them imports another for it.

/// Sample rate of the stream, in Hz: Opus's native rate.
pub const RATE: u32 = 48_000;
/// Samples per channel in one 20 ms frame (Opus's usual frame size).
pub const FRAME: usize = 960;
