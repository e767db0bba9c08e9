//! Mirroring a followed station's episodes: each one is downloaded with librqbit (from the
//! origin node, which its own tracker lists, and from the swarm) into a folder outside the
//! library, then moved into `<data>/mirrors/<origin>/`, a library root: the library hashes
//! it (same bytes and name, so the same infohash) and the node seeds it, serves it as a web
//! seed and tracks it like its own.
//!
//! The [`Downloader`] fetches any single file a followed station shares over BitTorrent:
//! the updater gets a station's system update bundle with it too (`update::sister`).

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
use crate::{
    library::torrent,
    outbound::{Origin, Outbound},
};

/// How long one file may take before the next poll tries again: this long at least...
const DOWNLOAD_TIMEOUT: Duration = Duration::from_secs(30 * 60);
/// ...and as long as it takes at this rate (bytes a second): a 700 MB system update from
/// a station with a slow upload takes more than half an hour, and is no less wanted.
const SLOWEST_RATE: u64 = 100_000;
/// How often a download's progress is reported.
const PROGRESS_EVERY: Duration = Duration::from_secs(1);
/// Largest `.torrent` read from a followed station (counted as it comes).
const MAX_TORRENT_BYTES: usize = 16 * 1024 * 1024;
/// Room in a `.torrent` for everything but the piece hashes (name, keys, trackers, web
/// seeds).
const TORRENT_OVERHEAD: u64 = 64 * 1024;

/// Most bytes the `.torrent` of a `size`-byte file can take: a 20-byte hash per piece at
/// the smallest piece length (16 KiB, as the library's own torrents use at least), plus
/// the rest; [`MAX_TORRENT_BYTES`] at most. A 100 MB episode's is about 190 KiB, so a
/// hostile station cannot make each fetch hold 16 MiB.
fn torrent_cap(size: u64) -> usize {
    let hashes = size.div_ceil(torrent::MIN_PIECE).saturating_mul(20);
    usize::try_from(hashes.saturating_add(TORRENT_OVERHEAD))
        .unwrap_or(usize::MAX)
        .min(MAX_TORRENT_BYTES)
}

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

/// The single file a .torrent holds, its name and length (`None` for a multi-file torrent
/// or one that does not parse): what will be downloaded, checked against what the catalog
/// or the manifest says.
fn single_file(torrent: &[u8]) -> Option<(String, u64)> {
    #[derive(serde::Deserialize)]
    struct Info {
        name: String,
        length: Option<u64>,
    }
    #[derive(serde::Deserialize)]
    struct Meta {
        info: Info,
    }
    let info = serde_bencode::from_bytes::<Meta>(torrent).ok()?.info;
    Some((info.name, info.length?))
}

/// The bencoded info dictionary of a .torrent, byte for byte (what its infohash is taken
/// over); `None` when it is not a bencoded dictionary with an `info` dictionary.
fn info_dict(torrent: &[u8]) -> Option<&[u8]> {
    let mut at = 1;
    if torrent.first() != Some(&b'd') {
        return None;
    }
    while *torrent.get(at)? != b'e' {
        let key_end = bencode_end(torrent, at)?;
        let key = &torrent[at..key_end];
        let value_end = bencode_end(torrent, key_end)?;
        if key == b"4:info" && torrent.get(key_end) == Some(&b'd') {
            return Some(&torrent[key_end..value_end]);
        }
        at = value_end;
    }
    None
}

/// The torrent with nothing but its info dict, byte for byte (so the same infohash): the
/// trackers and web seeds a followed station's `.torrent` lists are addresses learned from
/// others, which the download session would otherwise ask, redirects and all. The
/// download asks the origin's own tracker instead.
fn only_info(info: &[u8]) -> Vec<u8> {
    [&b"d4:info"[..], info, b"e"].concat()
}

/// Where the bencoded value starting at `at` ends (exclusive); `None` if it is malformed
/// or runs past the end. Nesting is walked with a counter, not recursion, so a hostile
/// torrent of deep lists cannot exhaust the stack.
fn bencode_end(b: &[u8], mut at: usize) -> Option<usize> {
    let mut depth = 0usize;
    loop {
        match *b.get(at)? {
            b'd' | b'l' => {
                depth += 1;
                at += 1;
                continue;
            }
            b'e' if depth > 0 => {
                depth -= 1;
                at += 1;
            }
            b'i' => {
                let len = b.get(at + 1..)?.iter().position(|&c| c == b'e')?;
                at += len + 2;
            }
            c if c.is_ascii_digit() => {
                let colon = b.get(at..)?.iter().position(|&c| c == b':')?;
                let len: usize = std::str::from_utf8(&b[at..at + colon]).ok()?.parse().ok()?;
                at = at.checked_add(colon + 1)?.checked_add(len)?;
                if at > b.len() {
                    return None;
                }
            }
            _ => return None,
        }
        if depth == 0 {
            return Some(at);
        }
    }
}

/// A file name from a catalog is someone else's input: one plain path segment only.
pub fn safe_name(name: &str) -> Option<&str> {
    let ok = !name.is_empty()
        && name.len() <= 255
        && !name.starts_with('.')
        && !name.contains(['/', '\\', '\0']);
    ok.then_some(name)
}

/// One file a followed station shares over BitTorrent, as this node expects it.
pub struct Wanted<'a> {
    /// Where the station serves its `.torrent` (`/t/<infohash>.torrent`).
    pub torrent: &'a str,
    /// The file's name and size, as the catalog or the signed manifest gives them: the
    /// torrent must be this one file.
    pub name: &'a str,
    pub size: u64,
    /// The infohash the catalog gives, when there is one.
    pub infohash: Option<&'a str>,
}

/// The download side: a librqbit session of its own (the seeding session only reads the
/// library), made when the first file is fetched.
pub struct Downloader {
    data_dir: PathBuf,
    dht: bool,
    session: OnceCell<Arc<Session>>,
    out: Outbound,
}

impl Downloader {
    pub fn new(data_dir: PathBuf, dht: bool, out: Outbound) -> Self {
        Self {
            data_dir,
            dht,
            session: OnceCell::new(),
            out,
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
        origin: &Origin,
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
        let wanted = Wanted {
            torrent: &format!("/t/{}.torrent", item.infohash),
            name,
            size: item.size,
            infohash: Some(&item.infohash),
        };
        self.download(origin, &wanted, &dest, |_| {}).await?;
        Ok(true)
    }

    /// Downloads `wanted` from `origin` and its swarm to `dest` (on the data partition):
    /// through a folder of its own outside the library, moved there once complete and
    /// checked piece by piece against the torrent. `progress` gets the bytes so far.
    pub async fn download(
        &self,
        origin: &Origin,
        wanted: &Wanted<'_>,
        dest: &Path,
        mut progress: impl FnMut(u64),
    ) -> anyhow::Result<()> {
        let torrent = self
            .out
            .get(origin, wanted.torrent, None, torrent_cap(wanted.size))
            .await
            .and_then(|f| f.success())
            .map_err(|e| anyhow::anyhow!("the torrent file: {}", e.detail()))?;
        // The size was counted against a budget or the disk's room: the torrent must agree.
        match single_file(&torrent) {
            Some((name, size)) if name == wanted.name && size == wanted.size => {}
            _ => anyhow::bail!(
                "the torrent is not the single {}-byte file {}",
                wanted.size,
                wanted.name
            ),
        }
        let info = info_dict(&torrent).ok_or_else(|| anyhow::anyhow!("not a torrent"))?;
        let infohash = torrent::infohash_hex(info);
        if wanted
            .infohash
            .is_some_and(|ih| !ih.eq_ignore_ascii_case(&infohash))
        {
            anyhow::bail!("the station's torrent has another infohash than its catalog");
        }
        let session = self.session().await?;
        let folder = incoming_dir(&self.data_dir).join(&infohash);
        let opts = AddTorrentOptions {
            output_folder: Some(folder.to_string_lossy().into_owned()),
            overwrite: true,
            // The origin's tracker (the operator's choice) lists the origin and its
            // mirrors: the torrent's own lists were dropped (`only_info`).
            trackers: Some(vec![origin.url("/announce")]),
            ..Default::default()
        };
        let (id, handle) = match session
            .add_torrent(AddTorrent::from_bytes(only_info(info)), Some(opts))
            .await?
        {
            AddTorrentResponse::Added(id, h) | AddTorrentResponse::AlreadyManaged(id, h) => (id, h),
            AddTorrentResponse::ListOnly(_) => anyhow::bail!("librqbit listed the torrent only"),
        };
        let completed = async {
            let mut done = std::pin::pin!(handle.wait_until_completed());
            let mut tick = tokio::time::interval(PROGRESS_EVERY);
            loop {
                tokio::select! {
                    r = &mut done => break r,
                    _ = tick.tick() => progress(handle.stats().progress_bytes),
                }
            }
        };
        let limit = DOWNLOAD_TIMEOUT.max(Duration::from_secs(wanted.size / SLOWEST_RATE));
        let done = tokio::time::timeout(limit, completed).await;
        // The file stays; the download session forgets the torrent either way.
        let _ = session.delete(TorrentIdOrHash::Id(id), false).await;
        match done {
            Ok(Ok(())) => {}
            Ok(Err(e)) => anyhow::bail!("download failed: {e:#}"),
            Err(_) => anyhow::bail!("download took too long"),
        }
        progress(wanted.size);
        let dest_dir = dest.parent().unwrap_or(Path::new("."));
        std::fs::create_dir_all(dest_dir)?;
        std::fs::rename(folder.join(wanted.name), dest)?;
        let _ = std::fs::remove_dir_all(&folder);
        if let Ok(d) = std::fs::File::open(dest_dir) {
            let _ = d.sync_all();
        }
        Ok(())
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
        let t =
            b"d8:announce21:http://10.0.0.1/admin4:infod6:lengthi5e4:name1:xe8:url-listl3:abcee";
        let info = info_dict(t).unwrap();
        assert_eq!(only_info(info), b"d4:infod6:lengthi5e4:name1:xee");
        assert_eq!(single_file(&only_info(info)), Some(("x".into(), 5)));
        assert_eq!(
            single_file(b"d4:infod5:filesle4:name1:xee"),
            None,
            "a folder of files is not one file"
        );
        for bad in [
            &b"d4:infoi3ee"[..],
            b"d4:infod",
            b"l4:infoe",
            b"d99:x",
            b"d4:infod1:xi9",
        ] {
            assert_eq!(info_dict(bad), None, "{}", String::from_utf8_lossy(bad));
        }
        assert_eq!(torrent_cap(1000), 64 * 1024 + 20);
        assert!(torrent_cap(100_000_000) < 200 * 1024);
        assert_eq!(torrent_cap(u64::MAX), MAX_TORRENT_BYTES);
        let deep = [&b"d4:info"[..], &[b'l'; 100_000]].concat();
        assert_eq!(info_dict(&deep), None, "deep nesting is no trouble");
        let huge = [item("x", u64::MAX, 9), item("y", 5, 1)];
        assert_eq!(
            choose(&huge, 100).len(),
            1,
            "an absurd size cannot overflow the budget"
        );
        assert_eq!(safe_name("show 1.mp3"), Some("show 1.mp3"));
    }
}
