//! Listeners and upload rate over today and yesterday, for the home screen's charts and
//! its "yesterday" figure: a sample a minute (taken by `status`), kept in the store so a
//! power cut keeps them.

use chrono::{DateTime, Days, TimeZone};
use serde::{Deserialize, Serialize};

use super::Error;
use super::Station;
use crate::store::{unix_secs as now_secs, Tree};

/// Two days, so that all of yesterday is kept whatever the time is now.
const KEEP_SECS: u64 = 2 * 24 * 3600;

/// A day's chart has a point a quarter of an hour: 96 reads at 320 px, and the page gets
/// two days in about 2 kB where a point a minute would cost 30.
const SLOT_MINUTES: u32 = 15;
const SLOTS: usize = (24 * 60 / SLOT_MINUTES) as usize;

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Sample {
    /// Unix seconds.
    pub t: u64,
    /// Every listener, however they listen (see `status::Listeners::total`).
    pub listeners: u64,
    pub upload_bps: u64,
}

/// A calendar day in slots of [`SLOT_MINUTES`] from its midnight: the most listeners and
/// the fastest upload seen in each slot, `None` where the box took no sample (it was off,
/// or the slot is still to come).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Day {
    pub listeners: Vec<Option<u64>>,
    pub upload_bps: Vec<Option<u64>>,
}

/// Today and yesterday, in the station's time zone.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TwoDays {
    pub today: Day,
    pub yesterday: Day,
}

impl Day {
    fn empty() -> Day {
        Day {
            listeners: vec![None; SLOTS],
            upload_bps: vec![None; SLOTS],
        }
    }

    /// The most listeners at once and the minute of the day (from midnight) of the first
    /// slot that had them; `None` for a day with no sample.
    pub fn peak_listeners(&self) -> Option<(u64, u32)> {
        let mut best: Option<(u64, u32)> = None;
        for (slot, n) in self.listeners.iter().enumerate() {
            if let Some(n) = *n {
                if best.is_none_or(|(b, _)| n > b) {
                    best = Some((n, slot as u32 * SLOT_MINUTES));
                }
            }
        }
        best
    }

    /// The largest of `values`, `None` for a day with no sample.
    pub fn peak(values: &[Option<u64>]) -> Option<u64> {
        values.iter().flatten().copied().max()
    }
}

/// `samples` laid out as today and yesterday as seen at `now`: each sample goes to the
/// slot of its local time. A pure function of its arguments, so that a test can hold the
/// clock and the time zone still.
pub fn two_days<Tz: TimeZone>(samples: &[Sample], now: &DateTime<Tz>) -> TwoDays {
    let tz = now.timezone();
    let today = now.date_naive();
    // Local midnight; on a day that starts with a time change, the first instant of it.
    let midnight = |date: chrono::NaiveDate| {
        date.and_hms_opt(0, 0, 0)
            .and_then(|m| tz.from_local_datetime(&m).earliest())
            .map(|m| m.timestamp())
    };
    let yesterday = today.checked_sub_days(Days::new(1)).unwrap_or(today);
    let starts = [midnight(yesterday), midnight(today)];
    let mut days = [Day::empty(), Day::empty()];
    for s in samples {
        let t = i64::try_from(s.t).unwrap_or(i64::MAX);
        // The later day whose midnight the sample follows, then its slot; a day made
        // longer by a time change puts its last hour in the last slot.
        let Some((day, start)) = starts
            .iter()
            .enumerate()
            .rev()
            .find_map(|(i, m)| m.filter(|m| t >= *m).map(|m| (i, m)))
        else {
            continue;
        };
        let slot = (((t - start) / 60) as usize / SLOT_MINUTES as usize).min(SLOTS - 1);
        let d = &mut days[day];
        d.listeners[slot] = Some(d.listeners[slot].unwrap_or(0).max(s.listeners));
        d.upload_bps[slot] = Some(d.upload_bps[slot].unwrap_or(0).max(s.upload_bps));
    }
    let [yesterday, today] = days;
    TwoDays { today, yesterday }
}

impl Station {
    /// The samples of the last two days, oldest first.
    pub fn history(&self) -> Vec<Sample> {
        let from = now_secs().saturating_sub(KEEP_SECS);
        match self
            .store
            .scan::<Sample>(Tree::History, &from.to_be_bytes())
        {
            Ok(v) => v.into_iter().map(|(_, s)| s).collect(),
            Err(e) => {
                tracing::warn!("history: {e}");
                Vec::new()
            }
        }
    }

    /// Today and yesterday as the station's clock and time zone have them now.
    pub fn two_days(&self) -> TwoDays {
        two_days(&self.history(), &chrono::Local::now())
    }

    /// Keeps a sample, durably, and drops those older than two days. Flushes: call it from
    /// a blocking thread.
    pub fn record_sample(&self, s: &Sample) -> Result<(), Error> {
        self.store.put(Tree::History, &s.t.to_be_bytes(), s)?;
        let until = s.t.saturating_sub(KEEP_SECS).to_be_bytes();
        Ok(self.store.remove_before(Tree::History, &until)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::station::testing::station;

    #[test]
    fn two_days_are_kept() {
        let (_dir, station) = station();
        let now = now_secs();
        for t in [now - KEEP_SECS - 10, now - 60, now] {
            let s = Sample {
                t,
                listeners: 3,
                upload_bps: 1000,
            };
            station.record_sample(&s).unwrap();
        }
        let got = station.history();
        assert_eq!(got.iter().map(|s| s.t).collect::<Vec<_>>(), [now - 60, now]);
    }

    #[test]
    fn today_and_yesterday_are_calendar_days_in_the_station_time_zone() {
        use chrono::FixedOffset;
        let tz = FixedOffset::east_opt(3600).unwrap();
        let at = |d: u32, h: u32, m: u32| {
            tz.with_ymd_and_hms(2026, 6, d, h, m, 0)
                .unwrap()
                .timestamp() as u64
        };
        let sample = |t, listeners| Sample {
            t,
            listeners,
            upload_bps: listeners * 1000,
        };
        let samples = [
            // The day before yesterday: never shown, however many listened.
            sample(at(8, 22, 0), 99),
            sample(at(9, 0, 0), 2),
            sample(at(9, 20, 5), 14),
            sample(at(9, 20, 20), 9),
            sample(at(9, 23, 59), 1),
            sample(at(10, 8, 0), 5),
            sample(at(10, 8, 14), 3),
        ];
        let now = tz.with_ymd_and_hms(2026, 6, 10, 12, 0, 0).unwrap();
        let days = two_days(&samples, &now);
        assert_eq!(days.yesterday.peak_listeners(), Some((14, 20 * 60)));
        assert_eq!(Day::peak(&days.yesterday.upload_bps), Some(14_000));
        assert_eq!(days.yesterday.listeners[0], Some(2));
        assert_eq!(days.yesterday.listeners[95], Some(1));
        assert_eq!(days.yesterday.listeners.iter().flatten().count(), 4);
        // Two samples in one quarter of an hour: the most listeners of the two.
        assert_eq!(days.today.listeners[32], Some(5));
        assert_eq!(days.today.peak_listeners(), Some((5, 8 * 60)));
        assert_eq!(days.today.listeners.iter().flatten().count(), 1);
        // The same samples an hour further east: 20:05 there is 21:05.
        let east = FixedOffset::east_opt(7200).unwrap();
        let days = two_days(&samples, &now.with_timezone(&east));
        assert_eq!(days.yesterday.peak_listeners(), Some((14, 21 * 60)));
        // A box that was off all of yesterday has no figure for it, not a zero.
        let days = two_days(&samples[5..], &now);
        assert_eq!(days.yesterday.peak_listeners(), None);
    }
}
