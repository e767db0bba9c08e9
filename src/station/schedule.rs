//! The weekly schedule: which show is on air when, for titling recordings and now playing,
//! and the slots that put the library on air.

use std::time::SystemTime;

use super::{Error, Station};
use crate::{
    config::operator::{Show, ShowKind},
    store::Setting,
};

impl Station {
    /// The shows, as saved; an unreadable record is reported and read as none.
    pub fn schedule(&self) -> Vec<Show> {
        match self.store.setting(Setting::Schedule) {
            Ok(s) => s.unwrap_or_default(),
            Err(e) => {
                tracing::warn!("schedule: {e}");
                Vec::new()
            }
        }
    }

    pub fn save_schedule(&self, shows: &[Show]) -> Result<(), Error> {
        Ok(self.store.set_setting(Setting::Schedule, &shows)?)
    }

    /// The slot of the schedule at `t` (the box's local time), if any.
    pub fn slot_at(&self, t: SystemTime) -> Option<Show> {
        Show::at_time(&self.schedule(), t).cloned()
    }

    /// The name of the show on air at `t`, if any.
    pub fn show_at(&self, t: SystemTime) -> Option<String> {
        self.slot_at(t).map(|s| s.name)
    }

    /// Whether `t` is in a playlist slot (the library on air on purpose).
    pub fn playlist_at(&self, t: SystemTime) -> bool {
        self.slot_at(t)
            .is_some_and(|s| s.kind == ShowKind::Playlist)
    }
}

#[cfg(test)]
mod tests {
    use crate::{
        config::operator::{Show, ShowKind},
        station::testing::station,
    };

    #[test]
    fn the_show_on_air_is_found() {
        let (_dir, station) = station();
        assert!(station.schedule().is_empty());
        let all_week: Vec<Show> = (0..7)
            .map(|day| {
                Show::parse(
                    crate::config::operator::DAYS[day],
                    "00:00",
                    "24:00",
                    "Night",
                )
                .unwrap()
            })
            .collect();
        station.save_schedule(&all_week).unwrap();
        assert_eq!(station.schedule(), all_week);
        let now = std::time::SystemTime::now();
        assert_eq!(station.show_at(now).as_deref(), Some("Night"));
        assert!(!station.playlist_at(now));
        let playlist: Vec<Show> = all_week
            .into_iter()
            .map(|s| Show {
                kind: ShowKind::Playlist,
                ..s
            })
            .collect();
        station.save_schedule(&playlist).unwrap();
        assert!(station.playlist_at(now));
    }

    #[test]
    fn a_schedule_saved_before_slots_had_a_kind_is_all_live_shows() {
        let old = r#"{"day":0,"start":60,"end":120,"name":"Jazz"}"#;
        let show: Show = serde_json::from_str(old).unwrap();
        assert_eq!(show.kind, ShowKind::Live);
    }
}
