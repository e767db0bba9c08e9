//! Title, artist, album and duration of an audio file, read with lofty. Blocking.
//!
//! A file whose tags cannot be read is still seeded: its bytes are what listeners want.
//! The failure is only logged, and the item falls back to its file name.

use std::path::Path;

use lofty::prelude::*;

use crate::store::Tags;

pub fn read_tags(path: &Path) -> Tags {
    let tagged = match lofty::read_from_path(path) {
        Ok(t) => t,
        Err(e) => {
            tracing::info!(path = %path.display(), "no readable tags: {e}");
            return Tags::default();
        }
    };
    let duration = tagged.properties().duration().as_secs_f64();
    let tag = tagged.primary_tag().or_else(|| tagged.first_tag());
    let text = |v: Option<std::borrow::Cow<'_, str>>| {
        v.map(|s| s.trim().to_string()).filter(|s| !s.is_empty())
    };
    Tags {
        title: tag.and_then(|t| text(t.title())),
        artist: tag.and_then(|t| text(t.artist())),
        album: tag.and_then(|t| text(t.album())),
        duration_secs: (duration > 0.0).then_some(duration),
    }
}
