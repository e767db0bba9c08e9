//! The config page's pages, one per task an operator comes to do: the home screen and
//! what it links to. Each has its own address, and its forms save only their own fields.
//! Only names and addresses here: `sections` renders a page, `forms::task_page` serves it.

use crate::{i18n::Tr, t};

/// A page of the config page.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Task {
    /// Are we on the air, and does it sound right? Then a link to every task.
    Home,
    /// The sound input, the stream's quality, studio computers, the music between shows'
    /// folder, the Icecast relays.
    Sound,
    Episodes,
    Schedule,
    /// The station's addresses, the public one, the home router and the padlock.
    Share,
    Storage,
    Sisters,
    /// The station's name and language, remote access, the logo, system updates.
    Settings,
    /// Trackers, upload limit, the raw library folders, the swarm's figures.
    Technical,
}

impl Task {
    /// The tasks the home screen links to, in its order.
    pub const LINKED: [Task; 8] = [
        Task::Sound,
        Task::Episodes,
        Task::Schedule,
        Task::Share,
        Task::Storage,
        Task::Sisters,
        Task::Settings,
        Task::Technical,
    ];

    pub fn path(self) -> &'static str {
        match self {
            Task::Home => "/admin",
            Task::Sound => "/admin/sound",
            Task::Episodes => "/admin/episodes",
            Task::Schedule => "/admin/schedule",
            Task::Share => "/admin/share",
            Task::Storage => "/admin/storage",
            Task::Sisters => "/admin/sisters",
            Task::Settings => "/admin/settings",
            Task::Technical => "/admin/technical",
        }
    }

    /// Its name, in `tr`'s language.
    pub fn name(self, tr: Tr) -> String {
        match self {
            Task::Home => t!(tr, "dash-task-home"),
            Task::Sound => t!(tr, "dash-task-sound"),
            Task::Episodes => t!(tr, "dash-task-episodes"),
            Task::Schedule => t!(tr, "dash-task-schedule"),
            Task::Share => t!(tr, "dash-task-share"),
            Task::Storage => t!(tr, "dash-task-storage"),
            Task::Sisters => t!(tr, "dash-task-sisters"),
            Task::Settings => t!(tr, "dash-task-settings"),
            Task::Technical => t!(tr, "dash-task-technical"),
        }
    }

    /// The page a settings form names in its `page` field (the last part of its path).
    pub fn from_form(name: &str) -> Option<Task> {
        Task::LINKED
            .into_iter()
            .find(|t| t.path().rsplit('/').next() == Some(name))
    }

    /// The page whose form has the setting `field` (as a form error names it), so that a
    /// refused save comes back on the page where its message can sit beside the field.
    pub fn of_field(field: &str) -> Option<Task> {
        Some(match field {
            "audio" | "live.bitrate_kbps" | "bitrate_kbps" => Task::Sound,
            "public_url" => Task::Share,
            "federation.follow" => Task::Sisters,
            "station.name"
            | "station.description"
            | "station.language"
            | "admin.max_upload_mb"
            | "max_upload_mb" => Task::Settings,
            "library"
            | "upload_limit_kib"
            | "swarm.trackers"
            | "live.push"
            | "live.fallback_folder" => Task::Technical,
            _ => return None,
        })
    }

    /// The value of a settings form's `page` field.
    pub fn form_name(self) -> &'static str {
        self.path().rsplit('/').next().unwrap_or("admin")
    }
}

#[cfg(test)]
mod tests {
    use super::Task;

    #[test]
    fn a_form_names_its_page_by_the_end_of_its_path() {
        for t in Task::LINKED {
            assert_eq!(Task::from_form(t.form_name()), Some(t));
        }
        assert_eq!(Task::from_form("admin"), None);
        assert_eq!(Task::from_form("../etc"), None);
    }
}
