//! Hashes one library file into its info dictionary and its whole-file SHA-256. Blocking:
//! runs on a blocking thread.
//!
//! The file is read once, piece by piece. Each piece goes through SHA-1 (the piece hashes)
//! on this thread and then, on a second thread, into the running SHA-256 of the whole file
//! (the feed's `podcast:integrity`): no second read, and on a box with several cores the
//! pair takes about the time of the slower digest rather than of both (on the Pi 4, whose
//! cores have no SHA instructions, SHA-256 costs about twice SHA-1). Two piece buffers take
//! turns between the threads. If the file changes while being read (a copy still in
//! progress, a stick pulled out), the result is thrown away: an index entry must describe
//! exactly the bytes that were hashed.

use std::{
    fs::File,
    io::{ErrorKind, Read},
    sync::mpsc::{sync_channel, Receiver, SyncSender},
};

use sha1::{Digest, Sha1};
use sha2::Sha256;

use super::{
    scan::{mtime_ns, Found},
    torrent::{piece_length, Info},
};

#[derive(Debug, thiserror::Error)]
pub enum HashError {
    #[error("cannot read: {0}")]
    Io(#[from] std::io::Error),
    #[error("changed while being hashed (still being copied?); will retry at the next scan")]
    Changed,
    #[error("file name is not valid UTF-8")]
    BadName,
}

/// What one read of a file gives.
#[derive(Debug)]
pub struct Hashed {
    pub info: Info,
    pub sha256: [u8; 32],
}

/// Hashes `file`; `progress` is called with each piece's byte count as it is read.
pub fn hash_file(file: &Found, progress: impl FnMut(u64)) -> Result<Hashed, HashError> {
    let name = file
        .path
        .file_name()
        .and_then(|n| n.to_str())
        .ok_or(HashError::BadName)?
        .to_string();
    let mut f = File::open(&file.path)?;
    if !same_as_found(&f, file)? {
        return Err(HashError::Changed);
    }
    let piece_len = piece_length(file.size);
    let (pieces, sha256) = std::thread::scope(|s| {
        // Filled pieces go to the SHA-256 thread, which hands each buffer back once hashed.
        let (full_tx, full_rx) = sync_channel::<(Vec<u8>, usize)>(1);
        let (empty_tx, empty_rx) = sync_channel::<Vec<u8>>(2);
        for _ in 0..2 {
            // Cannot fail: the channel has room for both and its receiver is held here.
            let _ = empty_tx.send(vec![0u8; piece_len as usize]);
        }
        let whole = s.spawn(move || {
            let mut h = Sha256::new();
            for (buf, n) in full_rx {
                h.update(&buf[..n]);
                // Fails once the reader is done (it needs no more buffers) while the last
                // piece may still be queued here: keep hashing until the queue ends.
                let _ = empty_tx.send(buf);
            }
            <[u8; 32]>::from(h.finalize())
        });
        // Returning drops `full_tx`, which ends the SHA-256 thread's loop.
        let pieces = read_pieces(&mut f, file.size, piece_len, full_tx, empty_rx, progress)?;
        let sha256 = whole
            .join()
            .map_err(|_| std::io::Error::other("the SHA-256 thread stopped"))?;
        Ok::<_, HashError>((pieces, sha256))
    })?;
    // Bytes past the expected end, or a new mtime, mean the file moved under us.
    if f.read(&mut [0u8; 1])? != 0 || !same_as_found(&f, file)? {
        return Err(HashError::Changed);
    }
    Ok(Hashed {
        info: Info {
            length: file.size,
            name,
            piece_length: piece_len,
            pieces,
        },
        sha256,
    })
}

/// Reads `size` bytes of `f` piece by piece into the buffers of `empty`, SHA-1s each piece
/// and passes it on to `full`; returns the piece hashes.
fn read_pieces(
    f: &mut File,
    size: u64,
    piece_len: u64,
    full: SyncSender<(Vec<u8>, usize)>,
    empty: Receiver<Vec<u8>>,
    mut progress: impl FnMut(u64),
) -> Result<Vec<u8>, HashError> {
    let stopped = || std::io::Error::other("the SHA-256 thread stopped");
    let mut pieces = Vec::with_capacity(size.div_ceil(piece_len) as usize * 20);
    let mut left = size;
    while left > 0 {
        let n = left.min(piece_len) as usize;
        let mut buf = empty.recv().map_err(|_| stopped())?;
        f.read_exact(&mut buf[..n]).map_err(|e| match e.kind() {
            ErrorKind::UnexpectedEof => HashError::Changed,
            _ => HashError::Io(e),
        })?;
        pieces.extend_from_slice(&Sha1::digest(&buf[..n]));
        full.send((buf, n)).map_err(|_| stopped())?;
        left -= n as u64;
        progress(n as u64);
    }
    Ok(pieces)
}

fn same_as_found(f: &File, found: &Found) -> std::io::Result<bool> {
    let m = f.metadata()?;
    Ok(m.len() == found.size && mtime_ns(&m) == found.mtime_ns)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::library::torrent::infohash_hex;
    use std::path::Path;

    fn found(path: &Path) -> std::io::Result<Found> {
        let m = std::fs::metadata(path)?;
        Ok(Found {
            path: path.to_path_buf(),
            size: m.len(),
            mtime_ns: mtime_ns(&m),
        })
    }

    fn write(dir: &Path, name: &str, len: usize) -> Found {
        let p = dir.join(name);
        let data: Vec<u8> = (0..len).map(|i| (i * 7 % 251) as u8).collect();
        std::fs::write(&p, data).unwrap();
        found(&p).unwrap()
    }

    #[test]
    fn pieces_match_direct_sha1_and_whole_file_sha256() {
        let dir = tempfile::tempdir().unwrap();
        let f = write(dir.path(), "a.mp3", 40_000);
        let mut seen = 0;
        let Hashed { info, sha256 } = hash_file(&f, |n| seen += n).unwrap();
        assert_eq!(seen, 40_000);
        assert_eq!(info.piece_length, 16384);
        let data = std::fs::read(&f.path).unwrap();
        let expected: Vec<u8> = data
            .chunks(16384)
            .flat_map(|c| Sha1::digest(c).to_vec())
            .collect();
        assert_eq!(info.pieces, expected);
        // Several pieces, the last one short: the running digest covers all of them.
        assert_eq!(sha256, <[u8; 32]>::from(Sha256::digest(&data)));
    }

    #[test]
    fn whole_file_sha256_for_one_piece_and_exact_multiples() {
        let dir = tempfile::tempdir().unwrap();
        for len in [1, 16384, 3 * 16384, 5 * 16384 + 1] {
            let f = write(dir.path(), &format!("{len}.mp3"), len);
            let data = std::fs::read(&f.path).unwrap();
            let want = <[u8; 32]>::from(Sha256::digest(&data));
            // Repeated: the reader may finish before the SHA-256 thread has taken the last
            // piece, and that piece must still count (it once did not, now and then).
            for _ in 0..25 {
                assert_eq!(hash_file(&f, |_| {}).unwrap().sha256, want, "{len} bytes");
            }
        }
    }

    #[test]
    fn same_bytes_and_name_elsewhere_same_infohash() {
        let a = tempfile::tempdir().unwrap();
        let b = tempfile::tempdir().unwrap();
        let fa = write(a.path(), "ep.ogg", 100_000);
        std::fs::create_dir(b.path().join("sub")).unwrap();
        let fb = write(&b.path().join("sub"), "ep.ogg", 100_000);
        let ia = hash_file(&fa, |_| {}).unwrap().info.to_bytes();
        let ib = hash_file(&fb, |_| {}).unwrap().info.to_bytes();
        assert_eq!(infohash_hex(&ia), infohash_hex(&ib));
    }

    #[test]
    fn file_changed_before_hashing_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let f = write(dir.path(), "a.mp3", 50_000);
        std::fs::write(&f.path, b"shorter").unwrap();
        assert!(matches!(hash_file(&f, |_| {}), Err(HashError::Changed)));
    }

    #[test]
    fn file_truncated_mid_hash_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let f = write(dir.path(), "a.mp3", 100_000);
        let path = f.path.clone();
        let r = hash_file(&f, |_| {
            std::fs::OpenOptions::new()
                .write(true)
                .open(&path)
                .unwrap()
                .set_len(20_000)
                .unwrap();
        });
        assert!(matches!(r, Err(HashError::Changed)), "{r:?}");
    }

    #[test]
    fn file_removed_mid_hash_is_refused_or_consistent() {
        // On Linux an open file stays readable after unlink; what matters is that the
        // missing file is then dropped by the next scan, and that nothing panics here.
        let dir = tempfile::tempdir().unwrap();
        let f = write(dir.path(), "a.mp3", 100_000);
        let path = f.path.clone();
        let r = hash_file(&f, |_| {
            let _ = std::fs::remove_file(&path);
        });
        assert!(r.is_ok() || matches!(r, Err(HashError::Changed)));
        assert!(matches!(hash_file(&f, |_| {}), Err(HashError::Io(_))));
    }

    #[tokio::test]
    async fn infohash_matches_librqbit() {
        let dir = tempfile::tempdir().unwrap();
        let f = write(dir.path(), "show.mp3", 3 * 1024 * 1024 + 17);
        let ours = hash_file(&f, |_| {}).unwrap().info;
        let theirs = librqbit::create_torrent(
            &f.path,
            librqbit::CreateTorrentOptions {
                name: None,
                trackers: vec![],
                piece_length: Some(ours.piece_length as u32),
            },
            &librqbit::spawn_utils::BlockingSpawner::new(1),
        )
        .await
        .unwrap();
        assert_eq!(
            infohash_hex(&ours.to_bytes()),
            theirs.info_hash().as_string()
        );
    }
}
