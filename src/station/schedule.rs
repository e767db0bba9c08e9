//! The weekly schedule: which show is on air when, for titling recordings.

use std::time::SystemTime;

use super::{Error, Station};
use crate::{config::operator::Show, store::Setting};

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

    /// The name of the show on air at `t` (the box's local time), if any.
    pub fn show_at(&self, t: SystemTime) -> Option<String> {
        Show::at_time(&self.schedule(), t).map(|s| s.name.clone())
    }
}

#[cfg(test)]
mod tests {
    use crate::{config::operator::Show, station::testing::station};

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
        assert_eq!(
            station.show_at(std::time::SystemTime::now()).as_deref(),
            Some("Night")
        );
    }
}
