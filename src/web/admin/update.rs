//! The dashboard's Updates card: the running version, the last check, an available version
//! with its notes, an install's progress and the last outcome, in the page's language. The
//! state is the updater's ([`crate::update`]); this only says it (its form's answer is
//! `forms::update`).

use maud::{html, Markup};
use serde::Serialize;

use crate::{
    i18n::{
        format::{ago, size},
        Tr,
    },
    t,
    update::{Outcome, Phase, Problem, UpdateView},
};

/// The card's line that changes while the page is open (the script refreshes it), and the
/// progress bar's fill (0 to 1) while something is downloading or installing.
#[derive(Debug, Clone, Serialize)]
pub struct UpdateWords {
    pub text: String,
    pub progress: Option<f64>,
}

/// What the updater is doing now, in words.
pub fn words(tr: Tr, v: &UpdateView) -> UpdateWords {
    let (text, progress) = match &v.phase {
        Phase::Idle => (
            match (&v.available, &v.check_problem) {
                (Some(a), _) => t!(
                    tr,
                    "dash-update-available",
                    version = a.version.as_str(),
                    size = size(tr, a.size)
                ),
                (None, Some(p)) => t!(tr, "dash-update-check-failed", why = why(tr, p)),
                (None, None) if v.last_check.is_some() => t!(tr, "dash-update-newest"),
                (None, None) => t!(tr, "dash-update-never-checked"),
            },
            None,
        ),
        Phase::Checking => (t!(tr, "dash-update-checking"), None),
        Phase::Downloading {
            version,
            done,
            total,
        } => (
            t!(
                tr,
                "dash-update-downloading",
                version = version.as_str(),
                done = size(tr, *done),
                total = size(tr, *total)
            ),
            Some(if *total > 0 {
                *done as f64 / *total as f64
            } else {
                0.0
            }),
        ),
        Phase::Installing { version, percent } => (
            t!(
                tr,
                "dash-update-installing",
                version = version.as_str(),
                percent = u64::from(*percent)
            ),
            Some(f64::from(*percent) / 100.0),
        ),
        Phase::Waiting { version } => (
            t!(tr, "dash-update-waiting", version = version.as_str()),
            None,
        ),
        Phase::Restarting { version } => (
            t!(tr, "dash-update-restarting", version = version.as_str()),
            None,
        ),
    };
    UpdateWords { text, progress }
}

/// A problem's plain words (the detail goes in a folded part of the card).
fn why(tr: Tr, p: &Problem) -> String {
    match p {
        Problem::Unreachable { .. } => t!(tr, "dash-update-why-unreachable"),
        Problem::NotSigned { .. } => t!(tr, "dash-update-why-not-signed"),
        Problem::OtherBox { .. } => t!(tr, "dash-update-why-other-box"),
        Problem::Damaged { .. } => t!(tr, "dash-update-why-damaged"),
        Problem::NoSpace { need, free } => t!(
            tr,
            "dash-update-why-no-space",
            need = size(tr, *need),
            free = size(tr, *free)
        ),
        Problem::Install { .. } => t!(tr, "dash-update-why-install"),
        Problem::NeverHealthy { .. } => t!(tr, "dash-update-why-never-healthy"),
    }
}

/// The technical reason behind a problem, if it has one.
fn detail(p: &Problem) -> Option<String> {
    match p {
        Problem::Unreachable { detail }
        | Problem::NotSigned { detail }
        | Problem::Damaged { detail }
        | Problem::Install { detail }
        | Problem::NeverHealthy { detail } => Some(detail.clone()),
        Problem::OtherBox { compatible } => Some(compatible.clone()),
        Problem::NoSpace { .. } => None,
    }
    .filter(|d| !d.is_empty())
}

/// The last install's outcome in words, with its technical detail.
fn outcome(tr: Tr, o: &Outcome, now: u64) -> (String, Option<String>) {
    let when = |at: &u64| ago(tr, now.saturating_sub(*at));
    match o {
        Outcome::Updated { version, at } => (
            t!(
                tr,
                "dash-update-last-updated",
                version = version.as_str(),
                when = when(at)
            ),
            None,
        ),
        Outcome::RolledBack {
            version,
            back_to,
            problem,
            at,
        } => (
            t!(
                tr,
                "dash-update-last-rolled-back",
                version = version.as_str(),
                back = back_to.as_str(),
                when = when(at),
                why = why(tr, problem)
            ),
            detail(problem),
        ),
        Outcome::Failed {
            version,
            problem,
            at,
        } => (
            t!(
                tr,
                "dash-update-last-failed",
                version = version.as_str(),
                when = when(at),
                why = why(tr, problem)
            ),
            detail(problem),
        ),
    }
}

/// The card; `None` on a computer whose system RAUC does not manage.
pub fn card(tr: Tr, v: &UpdateView, live: &UpdateWords, csrf: &Markup) -> Option<Markup> {
    if !v.managed {
        return None;
    }
    // The card's "ago" words; a clock before 1970 reads as then.
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let busy = !matches!(v.phase, Phase::Idle);
    let last = v.outcome.as_ref().map(|o| outcome(tr, o, now));
    Some(html! {
        section id="updates" class="card" aria-labelledby="updates-title" {
            h2 id="updates-title" { (t!(tr, "dash-update-title")) }
            p class="big" { (t!(tr, "dash-update-running", version = v.running.as_str())) }
            p id="update-state" role="status" { (live.text) }
            progress id="update-bar" max="1" value=(live.progress.unwrap_or(0.0))
                aria-labelledby="update-state" hidden[live.progress.is_none()] {}
            @if let (Some(a), false) = (&v.available, a_notes_empty(v)) {
                details {
                    summary { (t!(tr, "dash-update-notes", version = a.version.as_str())) }
                    p { (a.notes) }
                }
            }
            @if let Some(at) = v.last_check {
                p class="hint" { (t!(tr, "dash-update-checked", when = ago(tr, now.saturating_sub(at)))) }
            }
            @if let Some(p) = v.check_problem.as_ref().and_then(detail) {
                details { summary { (t!(tr, "dash-update-details")) } p class="path" { (p) } }
            }
            @if let Some((text, more)) = &last {
                p id="update-outcome" { (text) }
                @if let Some(more) = more {
                    details { summary { (t!(tr, "dash-update-details")) } p class="path" { (more) } }
                }
            }
            form method="post" action="/admin/update" class="stack" {
                (csrf)
                p class="hint" {
                    @if v.automatic { (t!(tr, "dash-update-auto")) } @else { (t!(tr, "dash-update-manual")) }
                }
                @if v.automatic {
                    button type="submit" name="action" value="manual" class="quiet" { (t!(tr, "dash-update-make-manual")) }
                } @else {
                    button type="submit" name="action" value="automatic" class="quiet" { (t!(tr, "dash-update-make-automatic")) }
                }
            }
            form method="post" action="/admin/update" class="row" {
                (csrf)
                button type="submit" name="action" value="install" disabled[busy && !matches!(v.phase, Phase::Waiting { .. })] {
                    (t!(tr, "dash-update-now"))
                }
                button type="submit" name="action" value="check" class="quiet" disabled[busy] {
                    (t!(tr, "dash-update-check"))
                }
            }
        }
    })
}

fn a_notes_empty(v: &UpdateView) -> bool {
    v.available
        .as_ref()
        .is_none_or(|a| a.notes.trim().is_empty())
}
