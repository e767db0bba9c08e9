//! RAUC, the update controller of the box's system (Debian's `rauc`): its command line,
//! which talks to the `rauc` service over D-Bus (the image lets the node's group do so).
//! RAUC checks each bundle's signature and compatible string, writes the slot the box is
//! not running from, and switches the boot order; the node only asks and reports.
//!
//! The parsers of its output are pure and tested on text RAUC 1.8 printed.

use std::{path::PathBuf, process::Stdio, time::Duration};

use serde_json::Value;
use tokio::io::{AsyncBufReadExt, BufReader};

/// Longest a status or mark call may take.
const CALL_TIMEOUT: Duration = Duration::from_secs(30);
/// How much of RAUC's complaint is kept.
const MAX_MESSAGE: usize = 600;

/// One of the system's slots, as RAUC sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Slot {
    /// RAUC's name (`rootfs.0`).
    pub name: String,
    /// The boot loader's name (`A`).
    pub bootname: String,
    /// `good` or `bad`, as the boot loader has it.
    pub boot_status: String,
    /// The version of the bundle RAUC last installed into it; `None` for a slot written
    /// when the card was made.
    pub version: Option<String>,
}

/// What `rauc status` says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct System {
    pub compatible: String,
    /// The boot name of the slot running now.
    pub booted: String,
    pub slots: Vec<Slot>,
}

impl System {
    pub fn booted_slot(&self) -> Option<&Slot> {
        self.slots.iter().find(|s| s.bootname == self.booted)
    }
}

/// The command and its answers.
#[derive(Debug, Clone)]
pub struct Rauc {
    bin: PathBuf,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RaucError {
    /// No RAUC here (a computer that is not the appliance): updates come another way.
    #[error("RAUC is not available: {0}")]
    Missing(String),
    /// RAUC ran and said no; its own words.
    #[error("{0}")]
    Said(String),
}

impl Rauc {
    pub fn new(bin: PathBuf) -> Self {
        Self { bin }
    }

    /// `rauc status --detailed --output-format=json`.
    pub async fn status(&self) -> Result<System, RaucError> {
        let out = self
            .call(&["status", "--detailed", "--output-format=json"])
            .await?;
        parse_status(&out)
    }

    /// Marks the running slot good: the boot loader stops counting its attempts.
    pub async fn mark_good(&self) -> Result<(), RaucError> {
        self.call(&["status", "mark-good", "booted"])
            .await
            .map(drop)
    }

    /// Marks slot `bootname`'s RAUC slot bad: the boot loader never tries it again until
    /// something is installed into it.
    pub async fn mark_bad(&self, slot: &str) -> Result<(), RaucError> {
        self.call(&["status", "mark-bad", slot]).await.map(drop)
    }

    async fn call(&self, args: &[&str]) -> Result<String, RaucError> {
        let run = tokio::process::Command::new(&self.bin)
            .args(args)
            .stdin(Stdio::null())
            .kill_on_drop(true)
            .output();
        let out = match tokio::time::timeout(CALL_TIMEOUT, run).await {
            Err(_) => return Err(RaucError::Said("RAUC did not answer in time".into())),
            Ok(Err(e)) => return Err(RaucError::Missing(e.to_string())),
            Ok(Ok(out)) => out,
        };
        if out.status.success() {
            Ok(String::from_utf8_lossy(&out.stdout).into_owned())
        } else {
            Err(RaucError::Said(complaint(&String::from_utf8_lossy(
                &out.stderr,
            ))))
        }
    }

    /// `rauc install FILE`: `progress` gets each step as RAUC reports it (percent, words).
    /// RAUC writes the other slot and makes it the next to boot only when all went well.
    pub async fn install(
        &self,
        bundle: &std::path::Path,
        mut progress: impl FnMut(u8, &str),
    ) -> Result<(), RaucError> {
        let mut child = tokio::process::Command::new(&self.bin)
            .arg("install")
            .arg(bundle)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| RaucError::Missing(e.to_string()))?;
        let (Some(stdout), Some(stderr)) = (child.stdout.take(), child.stderr.take()) else {
            return Err(RaucError::Said("RAUC's output is not readable".into()));
        };
        // Its complaint comes on stderr, read beside the progress so neither pipe fills.
        let errors = tokio::spawn(async move {
            let mut lines = BufReader::new(stderr).lines();
            let mut all = String::new();
            while let Ok(Some(line)) = lines.next_line().await {
                if all.len() < 4 * MAX_MESSAGE {
                    all.push_str(&line);
                    all.push('\n');
                }
            }
            all
        });
        let mut lines = BufReader::new(stdout).lines();
        let mut said = String::new();
        while let Ok(Some(line)) = lines.next_line().await {
            match parse_progress(&line) {
                Some((percent, step)) => progress(percent, step),
                None => {
                    if said.len() < 4 * MAX_MESSAGE {
                        said.push_str(&line);
                        said.push('\n');
                    }
                }
            }
        }
        let status = child
            .wait()
            .await
            .map_err(|e| RaucError::Said(e.to_string()))?;
        let errors = errors.await.unwrap_or_default();
        if status.success() {
            Ok(())
        } else {
            Err(RaucError::Said(complaint(&format!("{errors}{said}"))))
        }
    }
}

/// A progress line of `rauc install`: `" 40% Checking bundle done."`.
pub fn parse_progress(line: &str) -> Option<(u8, &str)> {
    let (n, rest) = line.trim_start().split_once("% ")?;
    let n: u8 = n.parse().ok()?;
    (n <= 100).then_some((n, rest.trim()))
}

/// The useful part of what RAUC printed on failure: the `LastError:` line when there is
/// one, else its last non-empty lines, cut to a readable length.
pub fn complaint(text: &str) -> String {
    let last_error = text
        .lines()
        .find_map(|l| l.trim().strip_prefix("LastError:"))
        .map(str::trim);
    let picked = match last_error {
        Some(e) => e.to_string(),
        None => text
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty() && !l.eq_ignore_ascii_case("idle"))
            .filter(|l| !l.eq_ignore_ascii_case("installing"))
            .collect::<Vec<_>>()
            .join(" "),
    };
    let picked = picked.trim();
    if picked.is_empty() {
        return "RAUC gave no reason".into();
    }
    picked.chars().take(MAX_MESSAGE).collect()
}

/// Reads `rauc status --detailed --output-format=json`.
pub fn parse_status(json: &str) -> Result<System, RaucError> {
    let v: Value = serde_json::from_str(json)
        .map_err(|e| RaucError::Said(format!("RAUC's status is not JSON: {e}")))?;
    let text = |v: &Value, key: &str| v.get(key).and_then(Value::as_str).map(str::to_string);
    let booted = text(&v, "booted")
        .ok_or_else(|| RaucError::Said("RAUC does not know which slot booted".into()))?;
    let mut slots = Vec::new();
    // A list of one-key objects: [{"rootfs.0": {...}}, ...].
    for entry in v
        .get("slots")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let Some(map) = entry.as_object() else {
            continue;
        };
        for (name, s) in map {
            let Some(bootname) = text(s, "bootname") else {
                continue;
            };
            let status = s.get("slot_status");
            let version = status
                .and_then(|st| st.get("bundle"))
                .and_then(|b| text(b, "version"))
                .or_else(|| status.and_then(|st| text(st, "bundle.version")));
            slots.push(Slot {
                name: name.clone(),
                bootname,
                boot_status: text(s, "boot_status").unwrap_or_default(),
                version,
            });
        }
    }
    Ok(System {
        compatible: text(&v, "compatible").unwrap_or_default(),
        booted,
        slots,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// As RAUC 1.8 printed it on the test image after installing version 2 into slot B.
    const STATUS: &str = r#"{"compatible":"streamp2p-amd64","variant":"","booted":"B","boot_primary":"rootfs.1","slots":[{"rootfs.0":{"class":"rootfs","device":"/dev/disk/by-partlabel/rootfs-a","type":"ext4","bootname":"A","state":"inactive","parent":null,"mountpoint":null,"boot_status":"good","slot_status":{"status":"ok"}}},{"rootfs.1":{"class":"rootfs","device":"/dev/disk/by-partlabel/rootfs-b","type":"ext4","bootname":"B","state":"booted","parent":null,"mountpoint":"/","boot_status":"good","slot_status":{"bundle":{"compatible":"streamp2p-amd64","version":"2","description":null,"build":null,"hash":"ab12"},"checksum":{"sha256":"cd34","size":734003200},"installed":{"timestamp":"2026-12-04T15:00:00Z","count":1},"activated":{"timestamp":"2026-12-04T15:00:01Z","count":1},"status":"ok"}}}]}"#;

    #[test]
    fn the_status_names_the_booted_slot_and_its_version() {
        let s = parse_status(STATUS).unwrap();
        assert_eq!(s.compatible, "streamp2p-amd64");
        assert_eq!(s.booted, "B");
        let b = s.booted_slot().unwrap();
        assert_eq!(b.name, "rootfs.1");
        assert_eq!(b.version.as_deref(), Some("2"));
        assert_eq!(b.boot_status, "good");
        assert_eq!(s.slots[0].version, None);
        assert!(parse_status("{}").is_err());
        assert!(parse_status("not json").is_err());
    }

    #[test]
    fn progress_lines_are_read_and_the_rest_is_not() {
        assert_eq!(parse_progress("  0% Installing"), Some((0, "Installing")));
        assert_eq!(
            parse_progress(" 40% Checking bundle done."),
            Some((40, "Checking bundle done."))
        );
        assert_eq!(
            parse_progress("100% Installing done."),
            Some((100, "Installing done."))
        );
        assert_eq!(parse_progress("installing"), None);
        assert_eq!(parse_progress("250% odd"), None);
    }

    #[test]
    fn the_complaint_is_rauc_s_last_error() {
        let out = "installing\n  0% Installing\nLastError: Failed to check bundle identifier: Compatible mismatch: Expected 'streamp2p-amd64' but bundle manifest has 'other-board'\nidle\nInstalling `/x.raucb` failed\n";
        assert_eq!(
            complaint(out),
            "Failed to check bundle identifier: Compatible mismatch: Expected 'streamp2p-amd64' but bundle manifest has 'other-board'"
        );
        assert_eq!(complaint("\n\n"), "RAUC gave no reason");
        assert_eq!(complaint("x".repeat(5000).as_str()).len(), MAX_MESSAGE);
    }
}
