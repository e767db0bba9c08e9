//! Helpers for unit tests.

use std::{
    io::Write,
    sync::{Arc, Mutex},
};

/// Runs `f` with every log line (debug and up) written to a string, and returns both.
/// Only what `f` logs on this thread is captured, so tests running in parallel do not mix.
pub fn capture_logs<R>(f: impl FnOnce() -> R) -> (R, String) {
    let buf = Shared::default();
    let writer = buf.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::DEBUG)
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .finish();
    let r = tracing::subscriber::with_default(subscriber, f);
    let text = buf
        .0
        .lock()
        .map(|b| String::from_utf8_lossy(&b).into_owned())
        .unwrap_or_default();
    (r, text)
}

#[derive(Clone, Default)]
struct Shared(Arc<Mutex<Vec<u8>>>);

impl Write for Shared {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        if let Ok(mut b) = self.0.lock() {
            b.extend_from_slice(data);
        }
        Ok(data.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}
