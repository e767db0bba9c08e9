//! The bundle's download: streamed to a file beside the node's data, never held in
//! memory, cut at the size the signed manifest gives, and kept only if its SHA-256 is the
//! manifest's. A bundle that came another way (over BitTorrent from a followed station,
//! `sister`) is checked by the same [`check_file`] before RAUC sees it.

use std::{
    io::Write,
    path::{Path, PathBuf},
};

use sha2::{Digest, Sha256};

use super::{manifest::Manifest, Problem};
use crate::outbound::{Origin, Outbound};

/// Room kept free on the data partition beyond the bundle (the database, recordings).
const SPARE: u64 = 64 * 1024 * 1024;
/// How often the progress is reported, in bytes.
const REPORT_EVERY: u64 = 1024 * 1024;

/// The address of `file` beside the manifest at `manifest_url` (its query dropped).
pub fn beside(manifest_url: &str, file: &str) -> String {
    let base = manifest_url
        .split(['?', '#'])
        .next()
        .unwrap_or(manifest_url);
    let after_scheme = base.find("://").map_or(0, |i| i + 3);
    match base[after_scheme..].rfind('/') {
        Some(i) => format!("{}{file}", &base[..after_scheme + i + 1]),
        None => format!("{base}/{file}"),
    }
}

/// Downloads `m`'s bundle from `url` into `dir`; its path once complete and checked.
/// `progress` gets the bytes so far.
pub async fn download(
    outbound: &Outbound,
    url: &str,
    dir: &Path,
    m: &Manifest,
    mut progress: impl FnMut(u64),
) -> Result<PathBuf, Problem> {
    let damaged = |detail: String| Problem::Damaged { detail };
    std::fs::create_dir_all(dir).map_err(|e| Problem::Install {
        detail: format!("cannot create {}: {e}", dir.display()),
    })?;
    let path = bundle_path(dir, m);
    // A bundle from an earlier try (a power cut before RAUC finished) is used again once
    // checked whole.
    if path.exists() {
        if check_file(&path, m).await.is_ok() {
            progress(m.size);
            return Ok(path);
        }
        let _ = std::fs::remove_file(&path);
    }
    room_for(dir, m)?;
    let unreachable = |e: crate::outbound::OutboundError| Problem::Unreachable {
        detail: e.detail().to_string(),
    };
    let origin = Origin::operator(url).map_err(unreachable)?;
    let mut resp = outbound.stream(&origin, "").await.map_err(unreachable)?;
    let part = path.with_extension("part");
    let mut file = std::fs::File::create(&part).map_err(|e| Problem::Install {
        detail: format!("cannot write {}: {e}", part.display()),
    })?;
    let mut hash = Sha256::new();
    let (mut done, mut reported) = (0u64, 0u64);
    let result = loop {
        match resp.chunk().await {
            Ok(Some(chunk)) => {
                done += chunk.len() as u64;
                if done > m.size {
                    break Err(damaged(format!("more than the {} bytes announced", m.size)));
                }
                hash.update(&chunk);
                if let Err(e) = file.write_all(&chunk) {
                    break Err(Problem::Install {
                        detail: format!("cannot write {}: {e}", part.display()),
                    });
                }
                if done - reported >= REPORT_EVERY {
                    reported = done;
                    progress(done);
                }
            }
            Ok(None) if done < m.size => {
                break Err(damaged(format!("{done} of {} bytes came", m.size)))
            }
            Ok(None) => break Ok(()),
            Err(e) => {
                break Err(Problem::Unreachable {
                    detail: format!("the download stopped: {}", e.without_url()),
                })
            }
        }
    };
    let result = result.and_then(|()| {
        file.sync_all().map_err(|e| Problem::Install {
            detail: format!("cannot write {}: {e}", part.display()),
        })?;
        same_sha256(&hex::encode(hash.finalize()), m)?;
        std::fs::rename(&part, &path).map_err(|e| Problem::Install {
            detail: format!("cannot rename {}: {e}", part.display()),
        })
    });
    if let Err(p) = result {
        let _ = std::fs::remove_file(&part);
        return Err(p);
    }
    progress(done);
    Ok(path)
}

/// Where `m`'s bundle is kept in `dir` while it waits for RAUC, however it came.
pub fn bundle_path(dir: &Path, m: &Manifest) -> PathBuf {
    dir.join(format!("{}.raucb", m.sha256))
}

/// Whether the data partition has room for `m`'s bundle in `dir`, and some to spare.
pub fn room_for(dir: &Path, m: &Manifest) -> Result<(), Problem> {
    let free = free_bytes(dir);
    if free < m.size + SPARE {
        return Err(Problem::NoSpace {
            need: m.size + SPARE,
            free,
        });
    }
    Ok(())
}

/// The signed manifest is what is trusted, not where the bytes came from: a bundle is
/// what RAUC gets only when its SHA-256 (`got`, hex) is the manifest's.
pub(super) fn same_sha256(got: &str, m: &Manifest) -> Result<(), Problem> {
    if got != m.sha256 {
        return Err(Problem::Damaged {
            detail: format!("its SHA-256 is {got}, not {}", m.sha256),
        });
    }
    Ok(())
}

/// Checks the bundle at `path` against `m` (read on a blocking thread).
pub async fn check_file(path: &Path, m: &Manifest) -> Result<(), Problem> {
    let again = path.to_path_buf();
    let got = tokio::task::spawn_blocking(move || hash_file(&again))
        .await
        .map_err(|e| Problem::Install {
            detail: format!("the check of {} stopped: {e}", path.display()),
        })?
        .map_err(|e| Problem::Damaged {
            detail: format!("cannot read {}: {e}", path.display()),
        })?;
    same_sha256(&got, m)
}

fn hash_file(path: &Path) -> std::io::Result<String> {
    let mut f = std::fs::File::open(path)?;
    let mut hash = Sha256::new();
    std::io::copy(&mut f, &mut hash)?;
    Ok(hex::encode(hash.finalize()))
}

/// Free bytes for the node in `dir`'s file system; 0 when unknown (so nothing is written).
fn free_bytes(dir: &Path) -> u64 {
    nix::sys::statvfs::statvfs(dir)
        .map(|s| s.blocks_available().saturating_mul(s.fragment_size()))
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_bundle_is_beside_the_manifest() {
        assert_eq!(
            beside("http://10.0.2.2:8517/updates/amd64.manifest", "b.raucb"),
            "http://10.0.2.2:8517/updates/b.raucb"
        );
        assert_eq!(
            beside("https://example.org/m.manifest?channel=stable", "b.raucb"),
            "https://example.org/b.raucb"
        );
        assert_eq!(
            beside("https://example.org", "b.raucb"),
            "https://example.org/b.raucb"
        );
    }
}
