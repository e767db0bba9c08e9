//! What the dashboard shows, gathered before any HTML is written: the renderers in
//! [`super::sections`] only format these values, so reading the box (disk space, sound
//! cards, the catalog) happens here, once per page.

use std::{collections::BTreeMap, path::PathBuf, sync::Arc, time::Instant};

use super::{error::FormError, upload};
use crate::{
    config::{operator::Show, Settings},
    federation::{health::TrackerStat, mirrors::MirrorsView, FollowStatus},
    i18n::Tr,
    live::LiveState,
    status::Listeners,
    web::{
        api::{trackers, ItemView},
        page::size,
        AppState,
    },
};

/// Where USB storage is mounted on the appliance (one folder per volume).
const USB_MOUNTS: &str = "/media/streamp2p";

/// The whole dashboard, section by section.
pub struct Dashboard<'a> {
    /// The language the page is written in.
    pub tr: Tr,
    pub settings: Arc<Settings>,
    /// The session's token, for every form's hidden `csrf` field.
    pub csrf: String,
    /// What the last change did (fixed texts chosen by a code in the query).
    pub notice: &'static str,
    /// The form just posted, when it could not be saved.
    pub err: Option<&'a FormError>,
    pub warnings: Vec<String>,
    pub air: OnAir,
    pub library: LibraryView,
    /// The addresses to share, with their labels.
    pub share: Vec<(&'static str, String)>,
    pub episodes: Vec<Episode>,
    pub schedule: Vec<Show>,
    pub sisters: Sisters,
    /// The sound inputs to choose from: value and label.
    pub audio_choices: Vec<(String, String)>,
    /// USB volumes mounted now, as a hint beside the library folders.
    pub usb: Vec<PathBuf>,
}

pub struct OnAir {
    /// The live input is on (the level meter makes sense).
    pub on: bool,
    pub state: &'static str,
    pub listeners: Listeners,
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
        let live = app.live.status();
        let air = OnAir {
            on: app.live.is_on(),
            state: match live.state {
                LiveState::OnAir => "On air",
                LiveState::Starting => "Starting",
                LiveState::NoInput { .. } => "No input",
                LiveState::Off => "No live input set",
            },
            listeners: app.sources().listeners(Instant::now()),
        };
        let library = LibraryView {
            items: catalog.items.len(),
            roots: settings
                .library
                .iter()
                .map(|r| Root {
                    path: r.clone(),
                    present: r.is_dir(),
                    free: upload::disk_space(r).map(|(free, _)| free),
                })
                .collect(),
            problems: app.library.problems(),
        };
        let mut share = vec![("Listen page", format!("{base}/"))];
        if air.on {
            share.push(("Live stream", format!("{base}/live.mp3")));
        }
        share.push(("Podcast feed", format!("{base}/feed.xml")));

        let metas = app.station.item_meta();
        let trackers = trackers(app, base);
        let episodes = catalog
            .items
            .values()
            .map(|item| {
                let v = ItemView::new(item, base, &trackers);
                let meta = metas.get(&item.infohash).cloned().unwrap_or_default();
                Episode {
                    infohash: item.infohash.clone(),
                    title: v.clone().with_meta(Some(&meta)).display_title().to_string(),
                    own_title: meta.title.clone().unwrap_or_default(),
                    own_notes: meta.description.clone().unwrap_or_default(),
                    file_title: v.title.unwrap_or(v.name).to_string(),
                    magnet: v.magnet,
                }
            })
            .collect();

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
            ("none".into(), "No live input".into()),
            ("sine".into(), "Test tone".into()),
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
            notice: notice(done),
            err,
            warnings: warnings(app),
            air,
            library,
            share,
            episodes,
            schedule: app.station.schedule(),
            sisters,
            audio_choices,
            usb: usb_volumes(),
            settings,
        }
    }
}

/// The notice for a `done` code in the page's query (never the operator's input).
fn notice(done: &str) -> &'static str {
    match done {
        "saved" => "Saved. The change is in use now.",
        "restarting" => {
            "Saved. The station restarts its audio and library services to use it: back \
             in a few seconds."
        }
        "schedule" => "The schedule is saved; the next recordings are named after it.",
        "episode" => "The episode's title and notes are saved.",
        "mirror_approved" => "The mirror is approved: listeners' apps can download from it now.",
        "mirror_removed" => {
            "The mirror is removed. It is not listed again until you allow it under Sister \
             stations."
        }
        "mirror_allowed" => "The box may mirror this station again once it proves it.",
        _ => "",
    }
}

/// USB volumes mounted by the appliance's udev rule, for the settings section.
fn usb_volumes() -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(USB_MOUNTS)
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.is_dir())
        .collect();
    v.sort();
    v
}

/// Plain-language warnings: what is wrong and what to do.
pub fn warnings(app: &AppState) -> Vec<String> {
    let mut w = Vec::new();
    let running = app.station.settings();
    if let Some(p) = app.station.startup_problem() {
        w.push(format!("Settings: {p}."));
    }
    if app.live.is_on() {
        let st = app.live.status();
        if matches!(st.state, LiveState::NoInput { .. }) {
            w.push(
                "No sound input: the sound card is not answering. Check that it is plugged \
                 in; the box tries again every few seconds and goes back on air by itself."
                    .into(),
            );
        }
        if let Some(s) = st.silent_for_secs {
            w.push(format!(
                "Silence on air for {s} seconds. Is the mixer's output muted or its fader down?"
            ));
        }
    }
    for root in &running.library {
        if !root.is_dir() {
            w.push(format!(
                "USB storage missing: {}. Plug it back in: its episodes come back without \
                 being read again.",
                root.display()
            ));
        }
    }
    if let Some((free, total)) = upload::disk_space(&running.data_dir) {
        if free < 200 * 1024 * 1024 || free * 20 < total {
            w.push(format!(
                "The box's own storage is almost full ({} left). Delete old recordings or \
                 uploads, or use a bigger card.",
                size(free)
            ));
        }
    }
    if let Some(wt) = &app.webtorrent {
        if wt.stats().trackers_connected == 0 && app.started.elapsed().as_secs() > 30 {
            w.push(
                "The browser tracker cannot be reached, so web listeners may not find each \
                 other. Check the box's internet connection."
                    .into(),
            );
        }
    }
    let problems = app.library.problems().len();
    if problems > 0 {
        w.push(format!(
            "{problems} file(s) in the library could not be read; they are listed under \
             Library. The others are fine."
        ));
    }
    w
}

/// Listeners by way of listening, in words (the script writes the same line).
pub fn listen_ways(l: &Listeners) -> String {
    format!(
        "{} on the stream · {} in players ({} sharing)",
        l.progressive(),
        l.hls,
        l.sharing
    )
}
