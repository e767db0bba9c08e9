//! What a form showed when its page was made, so that a save from a page gone stale is
//! refused rather than silently undoing what another phone saved meanwhile.
//!
//! Each form carries `seen`: a digest of the values its fields stand for. The save compares
//! it with a digest of the values as they are now; a form without `seen` (a script, an
//! older page) is taken as it comes.

use sha2::{Digest, Sha256};

use super::tasks::Task;
use crate::{
    config::{operator::Show, Settings},
    station::ItemMeta,
};

/// The digest of the values `task`'s form shows: 16 hex digits.
pub fn fingerprint(task: Task, s: &Settings, schedule: &[Show]) -> String {
    let values: Vec<String> = match task {
        Task::Sound => vec![
            s.audio.to_string(),
            s.live.bitrate_kbps.to_string(),
            s.live.source_password.clone(),
        ],
        Task::Share => vec![s.public_url.clone().unwrap_or_default()],
        Task::Sisters => vec![
            s.federation.follow.join("\n"),
            s.federation.approve_mirrors.to_string(),
        ],
        Task::Settings => vec![
            s.station.name.clone(),
            s.station.description.clone(),
            s.station.language.code().to_string(),
            s.admin.max_upload_mb.to_string(),
            s.admin.allow_remote.to_string(),
        ],
        Task::Technical => vec![
            s.library
                .iter()
                .map(|p| p.display().to_string())
                .collect::<Vec<_>>()
                .join("\n"),
            s.swarm.upload_limit_kib.to_string(),
            s.swarm.trackers.join("\n"),
            s.live.fallback_folder.clone(),
            s.live
                .push
                .iter()
                .map(|p| p.line())
                .collect::<Vec<_>>()
                .join("\n"),
        ],
        Task::Schedule => schedule.iter().map(|show| format!("{show:?}")).collect(),
        Task::Home | Task::Episodes | Task::Storage => Vec::new(),
    };
    digest(&values)
}

/// The digest of the music form (the tracks ticked for between shows).
pub fn music(s: &Settings) -> String {
    digest(&s.live.fallback_tracks)
}

/// The digest of an episode's edit form: its title, notes and whether it is kept.
pub fn item(meta: &ItemMeta) -> String {
    digest(&[
        meta.title.clone().unwrap_or_default(),
        meta.description.clone().unwrap_or_default(),
        meta.keep.to_string(),
    ])
}

/// 16 hex digits of SHA-256 over `values`, each with its length first, so that no two
/// lists of values read the same.
fn digest(values: &[String]) -> String {
    let mut h = Sha256::new();
    for v in values {
        h.update((v.len() as u64).to_le_bytes());
        h.update(v.as_bytes());
    }
    h.finalize()[..8]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_changed_value_changes_its_page_digest_only() {
        let s = crate::config::Config::from_toml("")
            .unwrap()
            .validate()
            .unwrap();
        let mut t = s.clone();
        t.public_url = Some("http://radio.example.org".into());
        let (a, b) = (
            |task| fingerprint(task, &s, &[]),
            |task| fingerprint(task, &t, &[]),
        );
        assert_ne!(a(Task::Share), b(Task::Share));
        for other in [Task::Sound, Task::Sisters, Task::Settings, Task::Technical] {
            assert_eq!(a(other), b(other), "{other:?}");
        }
        assert_eq!(a(Task::Share).len(), 16);
    }
}
