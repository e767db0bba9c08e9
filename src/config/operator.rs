//! What the operator changes on the config page, over the config file.
//!
//! The file (and the command line) is the box's base; the page's choices are kept in sled
//! as an [`Operator`] record of the fields that were changed, and laid over the base every
//! time the node starts. The merged configuration goes through the same validation as the
//! file, so the page can never save what the node would refuse.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::{i18n::Lang, msg};

use super::{AudioSource, Config, ConfigError, PushTarget, Settings};

/// The fields the page may change; `None` keeps the config file's value.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Operator {
    pub station_name: Option<String>,
    pub station_description: Option<String>,
    pub station_language: Option<Lang>,
    pub public_url: Option<String>,
    pub audio: Option<String>,
    pub bitrate_kbps: Option<u32>,
    pub library: Option<Vec<PathBuf>>,
    pub upload_limit_kib: Option<u32>,
    pub trackers: Option<Vec<String>>,
    pub allow_remote_admin: Option<bool>,
    pub max_upload_mb: Option<u64>,
    pub follow: Option<Vec<String>>,
    pub approve_mirrors: Option<bool>,
    pub source_password: Option<String>,
    pub fallback_folder: Option<String>,
    pub fallback_tracks: Option<Vec<String>>,
    pub push: Option<Vec<PushTarget>>,
    pub update_automatic: Option<bool>,
}

impl Operator {
    /// The config with these choices laid over it.
    pub fn over(&self, mut cfg: Config) -> Config {
        fn set<T: Clone>(to: &mut T, from: &Option<T>) {
            if let Some(v) = from {
                *to = v.clone();
            }
        }
        set(&mut cfg.station.name, &self.station_name);
        set(&mut cfg.station.description, &self.station_description);
        set(&mut cfg.station.language, &self.station_language);
        set(&mut cfg.public_url, &self.public_url);
        set(&mut cfg.audio, &self.audio);
        set(&mut cfg.live.bitrate_kbps, &self.bitrate_kbps);
        set(&mut cfg.library, &self.library);
        set(&mut cfg.swarm.upload_limit_kib, &self.upload_limit_kib);
        set(&mut cfg.swarm.trackers, &self.trackers);
        set(&mut cfg.admin.allow_remote, &self.allow_remote_admin);
        set(&mut cfg.admin.max_upload_mb, &self.max_upload_mb);
        set(&mut cfg.federation.follow, &self.follow);
        set(&mut cfg.federation.approve_mirrors, &self.approve_mirrors);
        set(&mut cfg.live.source_password, &self.source_password);
        set(&mut cfg.live.fallback_folder, &self.fallback_folder);
        set(&mut cfg.live.fallback_tracks, &self.fallback_tracks);
        set(&mut cfg.live.push, &self.push);
        set(&mut cfg.update.automatic, &self.update_automatic);
        cfg
    }

    /// The settings the node runs with: `base` with these choices, validated.
    pub fn settings(&self, base: &Config) -> Result<Settings, ConfigError> {
        self.over(base.clone()).validate()
    }
}

/// Whether going from `old` to `new` needs the services restarted: the audio pipeline,
/// the library roots, the BitTorrent session and the pushes to Icecast servers take their
/// settings when they start.
/// Names, addresses and page limits are read on every request.
pub fn needs_restart(old: &Settings, new: &Settings) -> bool {
    old.audio != new.audio
        || old.live.bitrate_kbps != new.live.bitrate_kbps
        || old.library != new.library
        || old.swarm.upload_limit_kib != new.swarm.upload_limit_kib
        || old.swarm.trackers != new.swarm.trackers
        || old.federation.follow != new.federation.follow
        || old.live.push != new.live.push
}

/// One weekly show of the schedule: it titles recordings and now playing, and a playlist
/// slot puts the library on air on purpose.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Show {
    /// 0 = Monday ... 6 = Sunday.
    pub day: u8,
    /// Minutes after midnight (local time of the box).
    pub start: u16,
    pub end: u16,
    pub name: String,
    /// Schedules saved before slots had a kind are all live shows.
    #[serde(default)]
    pub kind: ShowKind,
}

/// What a slot of the schedule puts on air.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ShowKind {
    /// The line-in or a studio PC, with the fallback covering silence.
    #[default]
    Live,
    /// The fallback playlist, whatever the line-in has (a studio PC that connects still
    /// goes on air: someone started it on purpose).
    Playlist,
}

impl ShowKind {
    /// The page's value for a row's kind; anything else (older pages send none) is live.
    pub fn from_form(v: &str) -> ShowKind {
        if v.trim() == "playlist" {
            ShowKind::Playlist
        } else {
            ShowKind::Live
        }
    }
}

pub const DAYS: [&str; 7] = [
    "Monday",
    "Tuesday",
    "Wednesday",
    "Thursday",
    "Friday",
    "Saturday",
    "Sunday",
];

impl Show {
    /// Reads a show from the page's fields: a day (its number, 0 = Monday, as the page's
    /// list sends it, or its English name, as older pages did), `HH:MM` start and end, a name.
    pub fn parse(day: &str, start: &str, end: &str, name: &str) -> Result<Show, ConfigError> {
        let day = day.trim();
        let day = day
            .parse::<u8>()
            .ok()
            .filter(|d| usize::from(*d) < DAYS.len())
            .or_else(|| {
                DAYS.iter()
                    .position(|d| d.eq_ignore_ascii_case(day))
                    .and_then(|d| u8::try_from(d).ok())
            })
            .ok_or_else(|| {
                ConfigError::new(
                    "schedule",
                    msg!("admin-schedule-day", value = day),
                    msg!("admin-schedule-day-fix"),
                )
            })?;
        let time = |t: &str| -> Result<u16, ConfigError> {
            let bad = || {
                ConfigError::new(
                    "schedule",
                    msg!("admin-schedule-time", value = t.trim()),
                    msg!("admin-schedule-time-fix"),
                )
            };
            let (h, m) = t.trim().split_once(':').ok_or_else(bad)?;
            let (h, m) = (
                h.parse::<u16>().map_err(|_| bad())?,
                m.parse::<u16>().map_err(|_| bad())?,
            );
            if h > 24 || m > 59 || (h == 24 && m > 0) {
                return Err(bad());
            }
            Ok(h * 60 + m)
        };
        let (start, end) = (time(start)?, time(end)?);
        if end <= start {
            return Err(ConfigError::new(
                "schedule",
                msg!("admin-schedule-order"),
                msg!("admin-schedule-order-fix"),
            ));
        }
        let name = name.trim();
        if name.is_empty() || name.chars().count() > 80 {
            return Err(ConfigError::new(
                "schedule",
                msg!("admin-schedule-name"),
                msg!("admin-schedule-name-fix"),
            ));
        }
        Ok(Show {
            day,
            start,
            end,
            name: name.to_string(),
            kind: ShowKind::Live,
        })
    }

    pub fn hhmm(minutes: u16) -> String {
        format!("{:02}:{:02}", minutes / 60, minutes % 60)
    }

    /// The show on air at `minute` of weekday `day`, if any.
    pub fn at(shows: &[Show], day: u8, minute: u16) -> Option<&Show> {
        shows
            .iter()
            .find(|s| s.day == day && s.start <= minute && minute < s.end)
    }

    /// The show on air at `t`, in the box's local time (the schedule is written in it).
    pub fn at_time(shows: &[Show], t: std::time::SystemTime) -> Option<&Show> {
        use chrono::{Datelike, Timelike};
        let local: chrono::DateTime<chrono::Local> = t.into();
        let minute = (local.hour() * 60 + local.minute()) as u16;
        Self::at(shows, local.weekday().num_days_from_monday() as u8, minute)
    }
}

/// An audio source the page offers, checked like the config file's.
pub fn parse_audio(s: &str) -> Result<AudioSource, ConfigError> {
    s.parse::<AudioSource>()
        .map_err(|e| ConfigError::new("audio", e, msg!("admin-config-audio-pick")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn choices_override_the_file_and_are_validated() {
        let base = Config {
            data_dir: "/tmp/x".into(),
            ..Config::default()
        };
        let op = Operator {
            station_name: Some("Radio Dunas".into()),
            bitrate_kbps: Some(96),
            ..Default::default()
        };
        let s = op.settings(&base).unwrap();
        assert_eq!(s.station.name, "Radio Dunas");
        assert_eq!(s.live.bitrate_kbps, 96);
        let bad = Operator {
            public_url: Some("ftp://x".into()),
            ..Default::default()
        };
        assert_eq!(bad.settings(&base).unwrap_err().key, "public_url");
        let base_s = base.clone().validate().unwrap();
        assert!(needs_restart(&base_s, &s));
        let renamed = Operator {
            station_name: Some("Other".into()),
            ..Default::default()
        };
        assert!(!needs_restart(&base_s, &renamed.settings(&base).unwrap()));
    }

    #[test]
    fn shows_parse_and_are_found() {
        let s = Show::parse("monday", "18:00", "19:30", " Morning Jazz ").unwrap();
        assert_eq!(
            (s.day, s.start, s.end, s.name.as_str()),
            (0, 1080, 1170, "Morning Jazz")
        );
        assert_eq!(Show::parse("1", "18:00", "19:30", "x").unwrap().day, 1);
        assert_eq!(Show::parse(" 6 ", "18:00", "19:30", "x").unwrap().day, 6);
        assert!(Show::parse("7", "1:00", "2:00", "x").is_err());
        assert!(Show::parse("Funday", "1:00", "2:00", "x").is_err());
        assert!(Show::parse("Monday", "19:00", "18:00", "x").is_err());
        assert!(Show::parse("Monday", "25:00", "26:00", "x").is_err());
        assert!(Show::parse("Monday", "18:00", "19:00", "").is_err());
        let shows = [s];
        assert!(Show::at(&shows, 0, 1100).is_some());
        assert!(Show::at(&shows, 0, 1170).is_none());
        assert!(Show::at(&shows, 1, 1100).is_none());
    }
}
