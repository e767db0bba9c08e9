//! Child processes of a test: waiting for them with a timeout, and their logs shown when
//! the test fails.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Child, ExitStatus};
use std::time::{Duration, Instant};

/// Prints the tail of a log file if the current thread is panicking when this is dropped.
pub struct ShowLogOnPanic {
    label: String,
    path: PathBuf,
}

impl ShowLogOnPanic {
    pub fn new(label: impl Into<String>, path: impl Into<PathBuf>) -> Self {
        ShowLogOnPanic {
            label: label.into(),
            path: path.into(),
        }
    }
}

impl Drop for ShowLogOnPanic {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!(
                "----- {} ({}) -----\n{}\n----- end of {} -----",
                self.label,
                self.path.display(),
                tail_of_file(&self.path, 300, 40_000),
                self.label
            );
        }
    }
}

/// The last `max_lines` lines (at most `max_bytes` bytes) of a file.
pub fn tail_of_file(path: &Path, max_lines: usize, max_bytes: usize) -> String {
    let Ok(bytes) = fs::read(path) else {
        return format!("(no file {})", path.display());
    };
    let text = String::from_utf8_lossy(&bytes);
    let lines: Vec<&str> = text.lines().collect();
    let start = lines.len().saturating_sub(max_lines);
    let mut out = lines[start..].join("\n");
    if out.len() > max_bytes {
        let mut cut = out.len() - max_bytes;
        while !out.is_char_boundary(cut) {
            cut += 1;
        }
        out = format!("[...]{}", &out[cut..]);
    }
    out
}

/// Waits for `child` up to `timeout`; kills it and returns None on timeout.
pub fn wait_child(child: &mut Child, timeout: Duration) -> Option<ExitStatus> {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return Some(status);
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            return None;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}
