//! Mirroring a followed station's episodes: each one is downloaded with librqbit (from the
//! origin node, which its own tracker lists, and from the swarm) into a folder outside the
//! library, then moved into `<data>/mirrors/<origin>/`, a library root: the library hashes
//! it (same bytes and name, so the same infohash) and the node seeds it, serves it as a web
//! seed and tracks it like its own.

use std::{
    path::{Path, PathBuf},
    sync::Arc,
    time::Duration,
};

use librqbit::{
    api::TorrentIdOrHash, AddTorrent, AddTorrentOptions, AddTorrentResponse, Session,
    SessionOptions,
};
use tokio::sync::OnceCell;

use super::catalog::CatalogItem;
use crate::library::torrent;

/// How long one episode may take before the next poll tries again.
const DOWNLOAD_TIMEOUT: Duration = Duration::from_secs(30 * 60);

pub fn mirrors_dir(data_dir: &Path) -> PathBuf {
    data_dir.join("mirrors")
}

fn incoming_dir(data_dir: &Path) -> PathBuf {
    data_dir.join("mirrors-incoming")
}

/// The folder of one origin's episodes: its key's fingerprint, without spaces.
pub fn origin_dir(data_dir: &Path, fingerprint: &str) -> PathBuf {
    mirrors_dir(data_dir).join(fingerprint.replace(' ', ""))
}

/// Which of `items` to keep within `budget` bytes: the newest first, as listeners want.
pub fn choose(items: &[CatalogItem], budget: u64) -> Vec<&CatalogItem> {
    let mut by_age: Vec<&CatalogItem> = items.iter().collect();
    by_age.sort_by(|a, b| b.added.cmp(&a.added).then(a.infohash.cmp(&b.infohash)));
    let mut used = 0u64;
    by_age
        .into_iter()
        .filter(|i| match used.checked_add(i.size) {
            Some(total) if total <= budget => {
                used = total;
                true
            }
            _ => false,
        })
        .collect()
}

/// The single file's length a .torrent announces (`None` for a multi-file torrent or one
/// that does not parse): what will be downloaded, checked against the catalog's size.
fn torrent_length(torrent: &[u8]) -> Option<u64> {
    #[derive(serde::Deserialize)]
    struct Info {
        length: Option<u64>,
    }
    #[derive(serde::Deserialize)]
    struct Meta {
        info: Info,
    }
    serde_bencode::from_bytes::<Meta>(torrent).ok()?.info.length
}

/// A file name from a catalog is someone else's input: one plain path segment only.
pub fn safe_name(name: &str) -> Option<&str> {
    let ok = !name.is_empty()
        && name.len() <= 255
        && !name.starts_with('.')
        && !name.contains(['/', '\\', '\0']);
    ok.then_some(name)
}

/// The download side: a librqbit session of its own (the seeding session only reads the
/// library), made when the first episode is fetched.
pub struct Downloader {
    data_dir: PathBuf,
    dht: bool,
    session: OnceCell<Arc<Session>>,
    http: reqwest::Client,
}

impl Downloader {
    pub fn new(data_dir: PathBuf, dht: bool, http: reqwest::Client) -> Self {
        Self {
            data_dir,
            dht,
            session: OnceCell::new(),
            http,
        }
    }

    async fn session(&self) -> anyhow::Result<&Arc<Session>> {
        self.session
            .get_or_try_init(|| async {
                let dir = incoming_dir(&self.data_dir);
                std::fs::create_dir_all(&dir)?;
                let opts = SessionOptions {
                    dht: if self.dht {
                        Some(Default::default())
                    } else {
                        None
                    },
                    listen: None,
                    persistence: None,
                    disable_local_service_discovery: true,
                    ..Default::default()
                };
                Session::new_with_opts(dir, opts).await
            })
            .await
    }

    /// Fetches one episode of `origin` into `dest_dir` unless it is there already.
    pub async fn fetch(
        &self,
        origin: &str,
        item: &CatalogItem,
        dest_dir: &Path,
    ) -> anyhow::Result<bool> {
        let name = safe_name(&item.name).ok_or_else(|| anyhow::anyhow!("unsafe file name"))?;
        // Someone else's input, before it names a folder or goes in a URL.
        if !torrent::is_infohash_hex(&item.infohash) {
            anyhow::bail!("not an infohash");
        }
        let dest = dest_dir.join(name);
        if dest.exists() {
            return Ok(false);
        }
        let url = format!("{origin}/t/{}.torrent", item.infohash);
        let resp = self.http.get(&url).send().await?.error_for_status()?;
        if resp.content_length().unwrap_or(0) > 16 * 1024 * 1024 {
            anyhow::bail!("torrent file too large");
        }
        let torrent = resp.bytes().await?;
        // The catalog's size was counted against the budget: the torrent must agree.
        if torrent_length(&torrent) != Some(item.size) {
            anyhow::bail!("the torrent's length differs from the catalog's size");
        }
        let session = self.session().await?;
        let folder = incoming_dir(&self.data_dir).join(&item.infohash);
        let opts = AddTorrentOptions {
            output_folder: Some(folder.to_string_lossy().into_owned()),
            overwrite: true,
            ..Default::default()
        };
        let (id, handle) = match session
            .add_torrent(AddTorrent::from_bytes(torrent), Some(opts))
            .await?
        {
            AddTorrentResponse::Added(id, h) | AddTorrentResponse::AlreadyManaged(id, h) => (id, h),
            AddTorrentResponse::ListOnly(_) => anyhow::bail!("librqbit listed the torrent only"),
        };
        if handle.info_hash().as_string() != item.infohash {
            let _ = session.delete(TorrentIdOrHash::Id(id), true).await;
            anyhow::bail!("the origin's torrent has another infohash than its catalog");
        }
        let done = tokio::time::timeout(DOWNLOAD_TIMEOUT, handle.wait_until_completed()).await;
        // The file stays; the download session forgets the torrent either way.
        let _ = session.delete(TorrentIdOrHash::Id(id), false).await;
        match done {
            Ok(Ok(())) => {}
            Ok(Err(e)) => anyhow::bail!("download failed: {e:#}"),
            Err(_) => anyhow::bail!("download took too long"),
        }
        std::fs::create_dir_all(dest_dir)?;
        std::fs::rename(folder.join(name), &dest)?;
        let _ = std::fs::remove_dir_all(&folder);
        if let Ok(d) = std::fs::File::open(dest_dir) {
            let _ = d.sync_all();
        }
        Ok(true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn item(ih: &str, size: u64, added: u64) -> CatalogItem {
        CatalogItem {
            infohash: ih.into(),
            name: format!("{ih}.mp3"),
            size,
            mime: "audio/mpeg".into(),
            title: None,
            duration_secs: None,
            added,
        }
    }

    #[test]
    fn newest_first_within_the_budget() {
        let items = [item("a", 50, 1), item("b", 60, 3), item("c", 30, 2)];
        let got: Vec<&str> = choose(&items, 100)
            .iter()
            .map(|i| i.infohash.as_str())
            .collect();
        assert_eq!(got, ["b", "c"]);
        assert!(safe_name("../x").is_none() && safe_name(".hidden").is_none());
        assert!(
            torrent::is_infohash_hex(&"ab".repeat(20))
                && !torrent::is_infohash_hex("../../etc/passwd000000000000000000000000")
        );
        let huge = [item("x", u64::MAX, 9), item("y", 5, 1)];
        assert_eq!(
            choose(&huge, 100).len(),
            1,
            "an absurd size cannot overflow the budget"
        );
        assert_eq!(safe_name("show 1.mp3"), Some("show 1.mp3"));
    }
}
