//! What the dashboard shows, gathered before any HTML is written: the renderers in
//! [`super::sections`] only format these values, so reading the box (disk space, sound
//! cards, the catalog) happens here, once per page.

use std::{
    collections::{BTreeMap, BTreeSet, HashSet},
    path::{Path, PathBuf},
    sync::Arc,
};

use serde::Serialize;

use super::{error::FormError, extract::Fields, share::Audience, tasks::Task};
use crate::{
    config::{operator::Show, AudioSource, Settings},
    federation::{health::TrackerStat, mirrors::MirrorsView, FollowStatus},
    i18n::{
        format::{number, size, span, speed, time},
        Tr,
    },
    library::Catalog,
    live::{
        push::{PushProblem, PushState, PushStatus},
        switch::OnAir as Programme,
        LiveState, LiveStatus,
    },
    station::{settings::StartupProblem, Day, TwoDays},
    status::{Listeners, NodeStatus},
    system::{
        portmap::PortMapStatus,
        uplink::{about, room},
    },
    t,
    tls::TlsStatus,
    web::{
        api::{trackers, ItemView},
        AppState,
    },
};

/// The whole dashboard, section by section.
pub struct Dashboard<'a> {
    /// The language the page is written in.
    pub tr: Tr,
    pub settings: Arc<Settings>,
    /// The session's token, for every form's hidden `csrf` field.
    pub csrf: String,
    /// What the last change did (fixed texts chosen by a code in the query).
    pub notice: String,
    /// The page is a step of the first run (the sound input, how listeners reach the box).
    pub welcome: bool,
    /// The form just posted, when it could not be saved.
    pub err: Option<&'a FormError>,
    /// What was typed into that form, shown again as typed (see [`Dashboard::shown`]).
    pub typed: Option<&'a Fields>,
    /// The lines the script refreshes, as they read when the page is made.
    pub live: LiveWords,
    pub air: OnAir,
    pub library: LibraryView,
    /// The station's addresses to give out, best first, and who can open each.
    pub share: Vec<(Audience, String)>,
    pub episodes: Vec<Episode>,
    /// The library's audio, to choose the music between shows from.
    pub music: Vec<TrackChoice>,
    pub schedule: Vec<Show>,
    /// The size of the station's logo, if it has one: a version for the preview's URL (the
    /// icons are cached for a day).
    pub logo: Option<usize>,
    pub sisters: Sisters,
    /// The sound inputs to choose from: value and label.
    pub audio_choices: Vec<(String, String)>,
    /// The USB sticks, plugged in or awaited.
    pub sticks: Vec<Stick>,
    /// The ports on the home router; `None` when port mapping is off.
    pub reach: Option<PortMapStatus>,
    /// The padlock's certificate and its last problem; `None` when https is off.
    pub https: Option<TlsStatus>,
    pub update: crate::update::UpdateView,
}

pub struct OnAir {
    /// The live input is on (the level meter makes sense).
    pub on: bool,
    pub listeners: Listeners,
}

/// The dashboard's lines that change while it is open, in the page's language: the page
/// shows them first, then its script takes them from `/admin/status` every few seconds
/// (the script writes no words of its own about the box's state).
#[derive(Debug, Clone, Serialize)]
pub struct LiveWords {
    /// What goes out: live from the line-in, the test tone, silence, ... ([`air_state`]).
    pub air: String,
    /// The badge's look: `ok`, `warn` or `off`.
    pub air_look: &'static str,
    pub listen_ways: String,
    /// How many more listeners the uplink carries, from what the box has sent ([`room_for`]).
    pub room: String,
    pub uptime: String,
    pub upload_rate: String,
    pub tracker: String,
    /// Files being read for sharing, when some are.
    pub hashing: Option<String>,
    /// Who listened yesterday: the most at once and when ([`yesterday`]).
    pub yesterday: String,
    /// What each chart shows, today against yesterday, as a sentence: under the chart,
    /// for everyone and for screen readers.
    pub listeners_chart: String,
    pub upload_chart: String,
    /// The Icecast servers the stream is sent to, and their state.
    pub pushes: Option<String>,
    /// What the system updater is doing.
    pub update: super::update::UpdateWords,
    pub warnings: Vec<String>,
}

impl LiveWords {
    pub fn new(tr: Tr, app: &AppState, st: &NodeStatus, days: &TwoDays) -> LiveWords {
        let h = &st.library.hashing;
        let hashing = (h.files_total > 0 && h.files_done < h.files_total).then(|| {
            t!(
                tr,
                "dash-hashing-progress",
                done = number(tr, h.files_done),
                total = number(tr, h.files_total),
                bytes_done = size(tr, h.bytes_done),
                bytes_total = size(tr, h.bytes_total),
            )
        });
        let (air, air_look) = air_state(
            tr,
            &st.live,
            app.live.now_playing().on_air,
            &app.station.settings().audio,
        );
        LiveWords {
            air,
            air_look,
            listen_ways: listen_ways(tr, &st.listeners),
            room: room_for(tr, st, days, app.station.settings().live.bytes_per_sec()),
            uptime: span(tr, st.uptime_secs),
            upload_rate: speed(tr, st.swarm.map_or(0, |s| s.upload_bps)),
            tracker: t!(
                tr,
                "dash-tracker-line",
                swarms = number(tr, st.tracker.swarms as u64),
                peers = number(tr, st.tracker.peers as u64),
            ),
            hashing,
            yesterday: yesterday(tr, &days.yesterday),
            listeners_chart: chart(
                tr,
                days,
                |d| &d.listeners,
                |n| number(tr, n),
                |peak, now| t!(tr, "dash-chart-listeners-today", peak = peak, now = now),
            ),
            upload_chart: chart(
                tr,
                days,
                |d| &d.upload_bps,
                |n| speed(tr, n),
                |peak, now| t!(tr, "dash-chart-upload-today", peak = peak, now = now),
            ),
            pushes: pushes(tr, &st.live.pushes),
            update: super::update::words(tr, &app.updates.view()),
            warnings: warnings(tr, app),
        }
    }
}

/// Each Icecast server the stream is sent to, and how that goes; `None` without any.
fn pushes(tr: Tr, pushes: &[PushStatus]) -> Option<String> {
    let words: Vec<String> = pushes
        .iter()
        .map(|p| {
            let server = p.target.clone();
            match p.state {
                PushState::Sending => t!(tr, "dash-push-sending", server = server),
                PushState::Connecting => t!(tr, "dash-push-connecting", server = server),
                PushState::Failed { .. } => t!(tr, "dash-push-failed", server = server),
            }
        })
        .collect();
    (!words.is_empty()).then(|| words.join(" · "))
}

/// The room left on the uplink, in listeners: the fastest the box has sent in two days (the
/// history keeps each minute's fastest) against what it sends steadily now (the last
/// minute's median: a moment's burst is not what listeners cost) and to how many
/// (`system::uplink::room`); `stream` is a full live stream, bytes a second.
fn room_for(tr: Tr, st: &NodeStatus, days: &TwoDays, stream: u64) -> String {
    let best = [&days.today, &days.yesterday]
        .iter()
        .filter_map(|d| Day::peak(&d.upload_bps))
        .fold(st.uplink.minute_peak, u64::max);
    match room(best, st.uplink.steady, st.listeners.total as u64, stream) {
        None => t!(tr, "dash-room-unknown"),
        Some(more) => t!(
            tr,
            "dash-room",
            n = about(more),
            more = number(tr, about(more)),
            now = speed(tr, st.uplink.steady),
            best = speed(tr, best),
        ),
    }
}

/// Yesterday's listeners in a line: the most at once and the quarter hour they came,
/// "nobody", or no figure at all for a day the box was off (never a made-up 0).
fn yesterday(tr: Tr, day: &Day) -> String {
    match day.peak_listeners() {
        None => t!(tr, "dash-yesterday-none"),
        Some((0, _)) => t!(tr, "dash-yesterday-nobody"),
        Some((peak, minute)) => t!(
            tr,
            "dash-yesterday-peak",
            peak = number(tr, peak),
            time = time(minute / 60, minute % 60),
        ),
    }
}

/// A chart's sentence: today's peak and latest value (`today` writes them), then
/// yesterday's peak. `values` picks the chart's series from a day, `show` writes a value.
fn chart(
    tr: Tr,
    days: &TwoDays,
    values: impl Fn(&Day) -> &[Option<u64>],
    show: impl Fn(u64) -> String,
    today: impl Fn(String, String) -> String,
) -> String {
    let points = values(&days.today);
    let first = match (Day::peak(points), points.iter().rev().flatten().next()) {
        (Some(peak), Some(&now)) => today(show(peak), show(now)),
        _ => t!(tr, "dash-chart-today-none"),
    };
    let second = match Day::peak(values(&days.yesterday)) {
        Some(peak) => t!(tr, "dash-chart-yesterday", peak = show(peak)),
        None => t!(tr, "dash-chart-yesterday-none"),
    };
    format!("{first} {second}")
}

/// The live input's state in words.
/// What goes out, in words that tell the truth (never "on air" for the test tone), and how
/// the badge looks: `ok` when the programme goes out as the operator means it, `warn` when
/// something goes out that listeners should not get (the test tone, silence), `off` when
/// nothing does.
pub fn air_state(
    tr: Tr,
    live: &LiveStatus,
    on_air: Option<Programme>,
    audio: &AudioSource,
) -> (String, &'static str) {
    match &live.state {
        LiveState::Off => (t!(tr, "dash-air-off"), "off"),
        LiveState::Starting => (t!(tr, "dash-air-starting"), "warn"),
        LiveState::NoInput { .. } => (t!(tr, "dash-air-no-card"), "off"),
        LiveState::OnAir => match on_air {
            Some(Programme::Source) => (t!(tr, "dash-air-studio"), "ok"),
            Some(Programme::Fallback) => (t!(tr, "dash-air-music"), "ok"),
            Some(Programme::Silence) => (t!(tr, "dash-air-dead"), "off"),
            Some(Programme::LineIn) | None => match (audio, live.silent_for_secs) {
                (AudioSource::Sine, _) => (t!(tr, "dash-air-test-tone"), "warn"),
                (_, Some(secs)) => (t!(tr, "dash-air-silent", minutes = secs / 60), "warn"),
                _ => (t!(tr, "dash-air-line-in"), "ok"),
            },
        },
    }
}

pub struct LibraryView {
    pub items: usize,
    pub roots: Vec<Root>,
    /// Files that could not be read, and why.
    pub problems: BTreeMap<PathBuf, String>,
}

/// One library folder: plugged in or not, and its free space.
pub struct Root {
    pub path: PathBuf,
    pub present: bool,
    pub free: Option<u64>,
}

pub struct Episode {
    pub infohash: String,
    /// The title shown: the operator's, the file's tag, or its name.
    pub title: String,
    /// The operator's own title and notes, as the edit form shows them.
    pub own_title: String,
    pub own_notes: String,
    /// The title from the file, shown as the edit field's placeholder.
    pub file_title: String,
    pub magnet: String,
    /// The day it was recorded, in words.
    pub recorded: String,
    /// A recording of the box's (the free-space keeper may remove it unless kept).
    pub recording: bool,
    pub keep: bool,
    /// The edit form's digest of what it shows ([`super::stale::item`]).
    pub seen: String,
}

/// An audio file of the library, ticked or not for the music between shows.
pub struct TrackChoice {
    /// Where it is in the library (`STICK/music/a.mp3`), as the list keeps it
    /// (`live.fallback_tracks`).
    pub place: String,
    /// The title shown: the operator's, the file's tag, or its name.
    pub label: String,
    pub chosen: bool,
}

pub struct Sisters {
    pub fingerprint: String,
    pub follows: Vec<FollowStatus>,
    pub mirrors: MirrorsView,
    /// Now, in Unix seconds, to say how long ago mirrors were checked.
    pub now: u64,
    pub trackers: BTreeMap<String, TrackerStat>,
}

impl<'a> Dashboard<'a> {
    /// A field's value on the page: as typed into the form just refused (so a mistake in
    /// one field loses none of the others), else as saved.
    pub fn shown(&self, name: &str, saved: impl ToString) -> String {
        self.typed
            .and_then(|f| f.get(name))
            .map_or_else(|| saved.to_string(), str::to_string)
    }

    /// A box's tick on `task`'s page: as the refused form of that page sent it (an unticked
    /// box sends nothing), else as saved.
    pub fn ticked(&self, task: Task, name: &str, saved: bool) -> bool {
        match self.typed {
            Some(f) if f.get("page") == Some(task.form_name()) => f.get(name).is_some(),
            _ => saved,
        }
    }

    pub async fn gather(
        tr: Tr,
        app: &AppState,
        base: &str,
        csrf: &str,
        done: &str,
        err: Option<&'a FormError>,
    ) -> Dashboard<'a> {
        let settings = app.station.settings();
        let catalog = app.library.catalog();
        let st = app.status();
        let live = LiveWords::new(tr, app, &st, &app.station.two_days());
        let air = OnAir {
            // The input chosen, not the moment's state: the page made just after a new
            // input is saved, while the sound restarts, still has its meter.
            on: app.live.is_on() || !matches!(settings.audio, AudioSource::None),
            listeners: st.listeners,
        };
        let library = LibraryView {
            items: catalog.items.len(),
            roots: settings
                .library
                .iter()
                .map(|r| Root {
                    path: r.clone(),
                    present: r.is_dir(),
                    free: crate::system::disk_space(r).map(|(free, _)| free),
                })
                .collect(),
            problems: app
                .library
                .problems()
                .into_iter()
                .map(|(path, why)| (path, tr.say(&why.said())))
                .collect(),
        };
        let sticks = with_skipped(
            sticks(&settings.usb_root, &catalog, &app.station.usb_stopped()),
            &settings.usb_root,
            &library.problems,
        );
        let share = super::share::links(
            settings.public_url.as_deref(),
            settings.http,
            &super::host::interface_addresses(),
            super::host::local_name().as_deref(),
        );

        let metas = app.station.item_meta();
        let recordings = crate::live::recorder::dir(&settings.data_dir);
        let trackers = trackers(app, base);
        let chosen: HashSet<&str> = settings
            .live
            .fallback_tracks
            .iter()
            .map(String::as_str)
            .collect();
        // One pass: every item is an episode, and its audio a choice for the music
        // between shows, under the same title.
        let (mut episodes, mut music) = (Vec::new(), Vec::new());
        for item in catalog.newest_first() {
            let v = ItemView::new(item, base, &trackers);
            let meta = metas.get(&item.infohash).cloned().unwrap_or_default();
            let title = v.clone().with_meta(Some(&meta)).display_title().to_string();
            if item.mime.starts_with("audio/") {
                let place = item.place(&settings.library);
                music.push(TrackChoice {
                    label: title.clone(),
                    chosen: chosen.contains(place.as_str()),
                    place,
                });
            }
            episodes.push(Episode {
                infohash: item.infohash.clone(),
                title,
                own_title: meta.title.clone().unwrap_or_default(),
                own_notes: meta.description.clone().unwrap_or_default(),
                file_title: v.title.unwrap_or(v.name).to_string(),
                magnet: v.magnet,
                recorded: crate::web::page::recorded_day(tr, v.recorded).unwrap_or_default(),
                recording: item.path().starts_with(&recordings),
                keep: meta.keep,
                seen: super::stale::item(&meta),
            });
        }
        music.sort_by_cached_key(|t: &TrackChoice| (t.label.to_lowercase(), t.place.clone()));

        let fed = &app.federation;
        let sisters = Sisters {
            fingerprint: fed.fingerprint(),
            follows: fed.follows(),
            mirrors: fed.mirrors_view(),
            now: std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_secs())
                .unwrap_or(0),
            trackers: fed.health.stats(),
        };

        // Listing sound cards opens devices: off the async threads.
        let devices = tokio::task::spawn_blocking(crate::live::source::capture_devices)
            .await
            .unwrap_or_default();
        let current_audio = settings.audio.to_string();
        let mut audio_choices: Vec<(String, String)> = vec![
            ("none".into(), t!(tr, "dash-audio-none")),
            ("sine".into(), t!(tr, "dash-audio-sine")),
        ];
        audio_choices.extend(
            devices
                .into_iter()
                .map(|(d, desc)| (format!("alsa:{d}"), format!("{desc} ({d})"))),
        );
        if !audio_choices.iter().any(|(v, _)| *v == current_audio) {
            audio_choices.push((current_audio.clone(), current_audio));
        }

        Dashboard {
            tr,
            csrf: csrf.to_string(),
            notice: notice(tr, done),
            welcome: false,
            typed: None,
            err,
            live,
            air,
            library,
            share,
            episodes,
            music,
            schedule: app.station.schedule(),
            logo: app.station.logo().map(|l| l.len()),
            sisters,
            audio_choices,
            sticks,
            reach: st.port_mapping.clone(),
            https: st.https.clone(),
            update: app.updates.view(),
            settings,
        }
    }
}

/// The notice for a `done` code in the page's query (never the operator's input).
fn notice(tr: Tr, done: &str) -> String {
    match done {
        "saved" => t!(tr, "dash-done-saved"),
        "restarting" => t!(tr, "dash-done-restarting"),
        "schedule" => t!(tr, "dash-done-schedule"),
        "music" => t!(tr, "dash-done-music"),
        "logo" => t!(tr, "dash-done-logo"),
        "logo_removed" => t!(tr, "dash-done-logo-removed"),
        "episode" => t!(tr, "dash-done-episode"),
        "mirror_approved" => t!(tr, "dash-done-mirror-approved"),
        "mirror_removed" => t!(tr, "dash-done-mirror-removed"),
        "mirror_allowed" => t!(tr, "dash-done-mirror-allowed"),
        "update" => t!(tr, "dash-done-update"),
        "update_check" => t!(tr, "dash-done-update-check"),
        "usb" => t!(tr, "dash-done-usb"),
        _ => String::new(),
    }
}

/// A USB stick in the sticks' folder (`usb_root`), by its label.
pub struct Stick {
    pub label: String,
    /// Plugged in now; else pulled out, its episodes offline until it comes back.
    pub present: bool,
    pub shared: bool,
    /// Its size and free space, when plugged in.
    pub space: Option<(u64, u64)>,
    /// Audio files shared from it now.
    pub files: usize,
    /// Its episodes offline while it is away or not shared.
    pub offline: usize,
    /// Its files that could not be read: each one's place on the stick and why, in the
    /// page's language (filled by [`Dashboard::gather`], which has the reasons said).
    pub skipped: Vec<(String, String)>,
}

/// The sticks plugged in (a folder of `usb_root` with something in it), then those pulled
/// out or stopped that the library still waits for, each by label.
pub fn sticks(usb_root: &Path, catalog: &Catalog, stopped: &BTreeSet<String>) -> Vec<Stick> {
    let mut labels: BTreeSet<String> = std::fs::read_dir(usb_root)
        .into_iter()
        .flatten()
        .flatten()
        .filter(|e| e.path().is_dir())
        .filter_map(|e| e.file_name().to_str().map(String::from))
        .filter(|l| !l.starts_with('.'))
        .collect();
    labels.extend(
        catalog
            .absent
            .iter()
            .filter(|(dir, n)| dir.parent() == Some(usb_root) && **n > 0)
            .filter_map(|(dir, _)| dir.file_name()?.to_str().map(String::from)),
    );
    labels.extend(stopped.iter().cloned());
    labels
        .into_iter()
        .map(|label| {
            let dir = usb_root.join(&label);
            let present = std::fs::read_dir(&dir).is_ok_and(|mut d| d.next().is_some());
            Stick {
                shared: !stopped.contains(&label),
                space: present
                    .then(|| crate::system::disk_space(&dir).map(|(free, total)| (total, free)))
                    .flatten(),
                files: catalog
                    .items
                    .values()
                    .filter(|i| i.paths.iter().any(|p| p.starts_with(&dir)))
                    .count(),
                offline: catalog.absent.get(&dir).copied().unwrap_or(0),
                skipped: Vec::new(),
                present,
                label,
            }
        })
        .collect()
}

/// `sticks`, each with the files of it that could not be read (`problems`, said).
fn with_skipped(
    mut sticks: Vec<Stick>,
    usb_root: &Path,
    problems: &BTreeMap<PathBuf, String>,
) -> Vec<Stick> {
    for stick in &mut sticks {
        let dir = usb_root.join(&stick.label);
        stick.skipped = problems
            .iter()
            .filter_map(|(path, why)| {
                let on_stick = path.strip_prefix(&dir).ok()?;
                Some((on_stick.display().to_string(), why.clone()))
            })
            .collect();
    }
    sticks
}

/// Plain-language warnings in the page's language: what is wrong and what to do.
pub fn warnings(tr: Tr, app: &AppState) -> Vec<String> {
    let mut w = Vec::new();
    let running = app.station.settings();
    match app.station.startup_problem() {
        Some(StartupProblem::Unreadable(_)) => w.push(t!(tr, "dash-warn-settings-unreadable")),
        Some(StartupProblem::Unusable(e)) => w.push(t!(
            tr,
            "dash-warn-settings-unusable",
            problem = e.problem.say(tr),
            fix = e.fix.say(tr),
        )),
        None => {}
    }
    // A stick pulled out with episodes on it: they are offline until it comes back.
    let catalog = app.library.catalog();
    for stick in sticks(&running.usb_root, &catalog, &app.station.usb_stopped()) {
        if !stick.present && stick.offline > 0 {
            w.push(t!(
                tr,
                "dash-warn-usb-removed",
                label = stick.label.as_str(),
                n = stick.offline as u64
            ));
        }
    }
    if app.live.is_on() {
        let st = app.live.status();
        if matches!(st.state, LiveState::NoInput { .. }) {
            w.push(t!(tr, "dash-warn-no-input"));
        }
        if let Some(s) = st.silent_for_secs {
            w.push(t!(tr, "dash-warn-silence", secs = s));
        }
        for push in &st.pushes {
            let PushState::Failed {
                problem,
                retry_secs,
                ..
            } = &push.state
            else {
                continue;
            };
            let (server, secs) = (push.target.clone(), *retry_secs);
            w.push(match problem {
                PushProblem::Unreachable => {
                    t!(
                        tr,
                        "dash-warn-push-unreachable",
                        server = server,
                        secs = secs
                    )
                }
                PushProblem::Refused => t!(tr, "dash-warn-push-refused", server = server),
                PushProblem::Dropped => {
                    t!(tr, "dash-warn-push-dropped", server = server, secs = secs)
                }
            });
        }
        if st.overflow.full {
            // Where new listeners go: the last one's relay, or else a push on air (of either
            // format: the warning names a server, not a stream).
            let relay = st.overflow.to.clone().or_else(|| {
                let sending = st.pushes.iter().find(|p| p.state == PushState::Sending);
                sending.map(|p| p.target.clone())
            });
            w.push(match relay {
                Some(server) => t!(
                    tr,
                    "dash-warn-overflow",
                    server = server,
                    n = st.overflow.redirected
                ),
                None => t!(tr, "dash-warn-full-no-relay"),
            });
        }
    }
    for root in &running.library {
        if !root.is_dir() {
            w.push(t!(
                tr,
                "dash-warn-usb-missing",
                path = root.display().to_string()
            ));
        }
    }
    if app.recordings.paused() {
        w.push(t!(tr, "dash-warn-recorder-paused"));
    }
    if let Some(hours) = app.recordings.report().full_in_hours {
        w.push(t!(tr, "dash-warn-disk-hours", hours = hours));
    }
    if let Some((free, total)) = crate::system::disk_space(&running.data_dir) {
        if free < 200 * 1024 * 1024 || free * 20 < total {
            w.push(t!(tr, "dash-warn-disk-full", free = size(tr, free)));
        }
    }
    if let Some(wt) = &app.webtorrent {
        if wt.stats().trackers_connected == 0 && app.started.elapsed().as_secs() > 30 {
            w.push(t!(tr, "dash-warn-browser-tracker"));
        }
    }
    let problems = app.library.problems().len();
    if problems > 0 {
        w.push(t!(tr, "dash-warn-unreadable", n = problems));
    }
    w
}

/// Listeners by way of listening, in words.
pub fn listen_ways(tr: Tr, l: &Listeners) -> String {
    t!(
        tr,
        "dash-listen-ways",
        stream = number(tr, l.progressive() as u64),
        players = number(tr, l.hls as u64),
        sharing = number(tr, l.sharing as u64),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::i18n::Lang;

    fn status(state: LiveState, silent_for_secs: Option<u64>) -> LiveStatus {
        LiveStatus {
            state,
            source: String::new(),
            silent_for_secs,
            listeners: 0,
            pushes: Vec::new(),
            overflow: Default::default(),
        }
    }

    /// The badge never says the station is live on the test tone, names silence with its
    /// length, and tells the studio computer from the line-in.
    #[test]
    fn the_air_badge_tells_the_truth() {
        let tr = Lang::En.tr();
        let alsa = AudioSource::Alsa("default".into());
        let on = status(LiveState::OnAir, None);
        let say = |st: &LiveStatus, who, audio| air_state(tr, st, who, audio);
        assert_eq!(
            say(&on, Some(Programme::LineIn), &AudioSource::Sine),
            ("Test tone, not your mixer".into(), "warn")
        );
        assert_eq!(
            say(&on, Some(Programme::LineIn), &alsa),
            ("Live from the line-in".into(), "ok")
        );
        assert_eq!(
            say(
                &status(LiveState::OnAir, Some(130)),
                Some(Programme::LineIn),
                &alsa
            ),
            ("Silence for 2 min: check the mixer".into(), "warn")
        );
        assert_eq!(
            say(&on, Some(Programme::Source), &AudioSource::Sine).1,
            "ok",
            "a studio computer on air is live, whatever the line-in is"
        );
        let gone = status(
            LiveState::NoInput {
                reason: "gone".into(),
            },
            None,
        );
        assert_eq!(
            say(&gone, None, &alsa),
            ("No sound card: check that it is plugged in".into(), "off")
        );
        assert_eq!(say(&on, Some(Programme::Silence), &alsa).1, "off");
    }
}
