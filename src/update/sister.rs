//! Updates from the stations this one follows: each followed station that installed an
//! update publishes its signed manifest and seeds the bundle (`share`), so a box whose
//! update server is down, or that has none, still gets it, over BitTorrent from its sister.
//!
//! The signature, not the sender, is what is trusted: a station's manifest is checked
//! against the same release keyring as the update server's, and the bundle against the
//! manifest's SHA-256 ([`fetch::check_file`]) before RAUC, which checks the bundle's own
//! signature again, gets it. The newest version any source offers is chosen; its bundle is
//! fetched from each source that offers the same bundle in turn, the one it was chosen
//! from first, and from the update server (HTTP) last when it was not among them.

use std::path::PathBuf;

use bytes::Bytes;

use super::{
    fetch,
    manifest::{self, Manifest},
    Phase, Problem, Updater,
};
use crate::{federation::mirror::Wanted, outbound::Origin};

/// Where a followed station publishes the manifest of the update it shares, and the
/// bundle's torrent.
pub const MANIFEST_PATH: &str = "/api/update/manifest";
pub const TORRENT_PATH: &str = "/api/update/bundle.torrent";

/// Where a verified manifest came from, and so where its bundle is fetched.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// The update server (`update.url`): the bundle beside the manifest, over HTTP.
    Server,
    /// A followed station (its address, as the operator typed it): over BitTorrent.
    Station(String),
}

/// A manifest a source served, verified.
#[derive(Debug, Clone)]
pub struct Found {
    pub source: Source,
    /// As signed: kept beside the bundle once installed, for this box's own followers.
    pub signed: Bytes,
    pub manifest: Manifest,
}

/// The version chosen, and where its bundle can be fetched, in the order to try.
#[derive(Debug, Clone)]
pub struct Offer {
    pub manifest: Manifest,
    pub signed: Bytes,
    pub from: Vec<Source>,
}

/// The newest version of what the sources offered. Every source offering the same bundle
/// (same SHA-256) is a place to fetch it: the update server first when it is one, as its
/// HTTP is the cheapest for everyone, and when it is not (it was down, or is late) last,
/// if there is one (`server`), as it may have the bundle all the same.
pub fn choose(found: Vec<Found>, server: bool) -> Option<Offer> {
    let newest = found.iter().fold(None::<&Found>, |best, f| match best {
        Some(b) if !manifest::is_newer(&f.manifest.version, &b.manifest.version) => Some(b),
        _ => Some(f),
    })?;
    let same = |f: &&Found| {
        f.manifest.version == newest.manifest.version && f.manifest.sha256 == newest.manifest.sha256
    };
    let chosen = found
        .iter()
        .filter(same)
        .find(|f| f.source == Source::Server)
        .unwrap_or(newest);
    let mut from = vec![chosen.source.clone()];
    for f in found.iter().filter(same) {
        if !from.contains(&f.source) {
            from.push(f.source.clone());
        }
    }
    if server && !from.contains(&Source::Server) {
        from.push(Source::Server);
    }
    Some(Offer {
        manifest: chosen.manifest.clone(),
        signed: chosen.signed.clone(),
        from,
    })
}

impl Updater {
    /// Asks the update server and every followed station; the newest version for this
    /// box, and the problem to show (the update server's, else a station's manifest that
    /// is not what it claims). A station that shares nothing, is down or is another kind
    /// of box is no problem of this box's.
    pub(super) async fn ask_all(&self, compatible: &str) -> (Option<Offer>, Option<Problem>) {
        let mut found = Vec::new();
        let mut problem = None;
        if !self.config.url.is_empty() {
            match self.fetch_manifest(&self.config.url, "", compatible).await {
                Ok((signed, manifest)) => found.push(Found {
                    source: Source::Server,
                    signed,
                    manifest,
                }),
                Err(p) => problem = Some(p),
            }
        }
        for station in self.stations() {
            match self
                .fetch_manifest(&station, MANIFEST_PATH, compatible)
                .await
            {
                Ok((signed, manifest)) => found.push(Found {
                    source: Source::Station(station),
                    signed,
                    manifest,
                }),
                Err(p @ (Problem::NotSigned { .. } | Problem::Damaged { .. })) => {
                    tracing::warn!(%station, "updates: a followed station's manifest is refused: {p:?}");
                    problem.get_or_insert(p);
                }
                Err(p) => tracing::debug!(%station, "updates: no update from this station: {p:?}"),
            }
        }
        (choose(found, !self.config.url.is_empty()), problem)
    }

    /// The followed stations, as the federation polls them.
    fn stations(&self) -> Vec<String> {
        self.station
            .settings()
            .federation
            .follow
            .iter()
            .map(|u| u.trim_end_matches('/').to_string())
            .collect()
    }

    /// Fetches `offer`'s bundle into the downloads folder from each of its sources in turn
    /// until one gives the bytes the manifest signed; the first source's problem when none
    /// does.
    pub(super) async fn fetch_bundle(&self, offer: &Offer) -> Result<PathBuf, Problem> {
        let m = &offer.manifest;
        let mut first = None;
        for source in &offer.from {
            self.downloaded(0);
            let got = match source {
                Source::Server => {
                    let url = fetch::beside(&self.config.url, &m.bundle);
                    fetch::download(&self.outbound, &url, &self.downloads, m, |done| {
                        self.downloaded(done)
                    })
                    .await
                }
                Source::Station(station) => self.over_bittorrent(station, m).await,
            };
            match got {
                Ok(path) => return Ok(path),
                Err(p) => {
                    tracing::warn!(version = %m.version, ?source, "updates: the bundle did not come: {p:?}");
                    first.get_or_insert(p);
                }
            }
        }
        Err(first.unwrap_or(Problem::Unreachable {
            detail: "no source has the bundle".into(),
        }))
    }

    /// `m`'s bundle over BitTorrent from `station` (its tracker lists it as the seeder)
    /// and whoever else has it; removed again when it is not what `m` signed.
    async fn over_bittorrent(&self, station: &str, m: &Manifest) -> Result<PathBuf, Problem> {
        let origin = Origin::operator(station).map_err(|e| Problem::Unreachable {
            detail: e.detail().to_string(),
        })?;
        std::fs::create_dir_all(&self.downloads).map_err(|e| Problem::Install {
            detail: format!("cannot create {}: {e}", self.downloads.display()),
        })?;
        fetch::room_for(&self.downloads, m)?;
        let path = fetch::bundle_path(&self.downloads, m);
        let wanted = Wanted {
            torrent: TORRENT_PATH,
            name: &m.bundle,
            size: m.size,
            infohash: None,
        };
        self.downloader
            .download(&origin, &wanted, &path, |done| self.downloaded(done))
            .await
            .map_err(|e| Problem::Unreachable {
                detail: format!("over BitTorrent from {station}: {e:#}"),
            })?;
        if let Err(p) = fetch::check_file(&path, m).await {
            if let Err(e) = std::fs::remove_file(&path) {
                tracing::warn!("updates: cannot remove {}: {e}", path.display());
            }
            return Err(p);
        }
        tracing::info!(version = %m.version, %station, "updates: the bundle came over BitTorrent");
        Ok(path)
    }

    /// The download's progress, for the page.
    fn downloaded(&self, done: u64) {
        self.set(|v| {
            if let Phase::Downloading { done: d, .. } = &mut v.phase {
                *d = done;
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn found(source: Source, version: &str, sha: char) -> Found {
        Found {
            source,
            signed: Bytes::from(version.to_string()),
            manifest: Manifest {
                version: version.into(),
                compatible: "streamp2p-amd64".into(),
                bundle: format!("b-{version}.raucb"),
                sha256: sha.to_string().repeat(64),
                size: 1,
                notes: String::new(),
            },
        }
    }

    fn station(n: u8) -> Source {
        Source::Station(format!("http://station{n}"))
    }

    #[test]
    fn the_newest_version_is_chosen_and_fetched_from_each_source_that_has_it() {
        assert!(choose(Vec::new(), true).is_none());
        // A sister is ahead of the server: its bundle over BitTorrent, the server last.
        let o = choose(
            vec![
                found(Source::Server, "2", 'a'),
                found(station(1), "3", 'b'),
                found(station(2), "3", 'b'),
                found(station(3), "3", 'c'),
            ],
            true,
        )
        .unwrap();
        assert_eq!(o.manifest.version, "3");
        assert_eq!(o.from, [station(1), station(2), Source::Server]);
        assert_eq!(&o.signed[..], b"3");
        // The server has it too: over HTTP first, the sisters after.
        let o = choose(
            vec![found(station(1), "3", 'b'), found(Source::Server, "3", 'b')],
            true,
        )
        .unwrap();
        assert_eq!(o.from, [Source::Server, station(1)]);
        // No update server: only the sisters.
        let o = choose(
            vec![
                found(station(2), "1.10", 'b'),
                found(station(1), "1.9", 'c'),
            ],
            false,
        )
        .unwrap();
        assert_eq!(
            (o.manifest.version.as_str(), o.from),
            ("1.10", vec![station(2)])
        );
    }
}
