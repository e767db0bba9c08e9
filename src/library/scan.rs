//! Walks the library roots and lists the audio files worth seeding.
//!
//! Skipped, each with a reason kept for the operator: hidden files and folders, partial
//! downloads (their extension is not an audio one), empty files, symlinks that lead outside
//! their root or nowhere, and anything unreadable. Blocking: run it off the async runtime.

use std::{
    collections::BTreeMap,
    os::unix::fs::MetadataExt,
    path::{Path, PathBuf},
};

use super::problem::Problem;

/// Extensions seeded, with the MIME type served for them. Browsers play `audio/ogg` for
/// Opus in Ogg, so `.opus` is given that type rather than `audio/opus`.
const AUDIO_TYPES: &[(&str, &str)] = &[
    ("mp3", "audio/mpeg"),
    ("ogg", "audio/ogg"),
    ("oga", "audio/ogg"),
    ("opus", "audio/ogg"),
    ("flac", "audio/flac"),
    ("m4a", "audio/mp4"),
    ("aac", "audio/aac"),
    ("wav", "audio/wav"),
    ("mp4", "video/mp4"),
    ("webm", "video/webm"),
];

/// The MIME type of a library file name, if it is one the library seeds.
pub fn audio_mime(name: &str) -> Option<&'static str> {
    let ext = name.rsplit_once('.')?.1.to_ascii_lowercase();
    AUDIO_TYPES
        .iter()
        .find(|(e, _)| *e == ext)
        .map(|(_, mime)| *mime)
}

/// A file found on disk, identified for the index by path, size and modification time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Found {
    pub path: PathBuf,
    pub size: u64,
    pub mtime_ns: i128,
}

/// What one pass over the roots saw.
#[derive(Debug, Default)]
pub struct ScanResult {
    pub files: Vec<Found>,
    /// Roots that are missing, unreadable or empty (a USB stick not plugged in): their
    /// index records are kept, so the files are not rehashed when the stick comes back.
    pub absent_roots: Vec<PathBuf>,
    /// Skipped files and why, for the operator.
    pub problems: BTreeMap<PathBuf, Problem>,
}

pub fn scan(roots: &[PathBuf]) -> ScanResult {
    let mut out = ScanResult::default();
    for root in roots {
        scan_root(root, &mut out);
    }
    out
}

/// Top-level folders of present roots that held indexed files and are now missing or empty.
///
/// A root may be a folder of mount points (`/media/streamp2p/<label>`, one per USB stick,
/// made and removed by systemd-mount): a pulled stick takes its folder away while the root
/// stays. Such a folder counts as an absent root, so its records are kept and its files are
/// not hashed again when the stick returns. Files directly in a root are not concerned.
pub fn absent_children(
    roots: &[PathBuf],
    absent_roots: &[PathBuf],
    indexed: &[PathBuf],
) -> Vec<PathBuf> {
    let mut checked: BTreeMap<PathBuf, bool> = BTreeMap::new();
    for path in indexed {
        let Some(root) = roots
            .iter()
            .find(|r| path.starts_with(r) && !absent_roots.contains(r))
        else {
            continue;
        };
        let mut rel = path.strip_prefix(root).unwrap_or(path).components();
        let (Some(first), Some(_)) = (rel.next(), rel.next()) else {
            continue;
        };
        let child = root.join(first);
        if let std::collections::btree_map::Entry::Vacant(e) = checked.entry(child) {
            let absent = !dir_has_entries(e.key());
            e.insert(absent);
        }
    }
    checked
        .into_iter()
        .filter_map(|(child, absent)| absent.then_some(child))
        .collect()
}

fn scan_root(root: &Path, out: &mut ScanResult) {
    let canon_root = match std::fs::canonicalize(root) {
        Ok(r) if dir_has_entries(&r) => r,
        _ => {
            out.absent_roots.push(root.to_path_buf());
            return;
        }
    };
    // Symlinks are followed so a library may link to files and folders on the same stick;
    // where they lead is checked against the root below, and a folder that leads out is
    // not entered at all.
    let mut walker = walkdir::WalkDir::new(root)
        .follow_links(true)
        .sort_by_file_name()
        .into_iter()
        .filter_entry(|e| e.depth() == 0 || !is_hidden(e.file_name()));
    while let Some(entry) = walker.next() {
        let entry = match entry {
            Ok(e) => e,
            Err(e) => {
                let path = e.path().unwrap_or(root).to_path_buf();
                out.problems.insert(path, walk_problem(&e));
                continue;
            }
        };
        if entry.file_type().is_dir() {
            if entry.path_is_symlink() && !leads_inside(entry.path(), &canon_root) {
                out.problems
                    .insert(entry.path().into(), Problem::FolderLinkOutside);
                walker.skip_current_dir();
            }
            continue;
        }
        let path = entry.path();
        let name = entry.file_name().to_string_lossy();
        if audio_mime(&name).is_none() {
            continue;
        }
        if entry.file_name().to_str().is_none() {
            out.problems.insert(path.into(), Problem::NameNotUtf8);
            continue;
        }
        if entry.path_is_symlink() {
            match std::fs::canonicalize(path) {
                Ok(target) if target.starts_with(&canon_root) => {}
                Ok(_) => {
                    out.problems.insert(path.into(), Problem::LinkOutside);
                    continue;
                }
                Err(e) => {
                    out.problems
                        .insert(path.into(), Problem::LinkNowhere(e.to_string()));
                    continue;
                }
            }
        }
        // Metadata of the target (walkdir follows links), which is what gets read.
        let meta = match entry.metadata() {
            Ok(m) => m,
            Err(e) => {
                out.problems
                    .insert(path.into(), Problem::Unreadable(e.to_string()));
                continue;
            }
        };
        if !meta.is_file() {
            out.problems.insert(path.into(), Problem::NotAFile);
            continue;
        }
        if meta.len() == 0 {
            out.problems.insert(path.into(), Problem::Empty);
            continue;
        }
        if let Err(e) = std::fs::File::open(path) {
            out.problems
                .insert(path.into(), Problem::Unreadable(e.to_string()));
            continue;
        }
        out.files.push(Found {
            path: path.to_path_buf(),
            size: meta.len(),
            mtime_ns: mtime_ns(&meta),
        });
    }
}

/// Whether `path` resolves to somewhere under `canon_root` (which is canonical).
fn leads_inside(path: &Path, canon_root: &Path) -> bool {
    std::fs::canonicalize(path).is_ok_and(|target| target.starts_with(canon_root))
}

/// Why walking stopped at an entry, without the path (walkdir's message names it, and the
/// problems are shown by their place in the library, not by where it is mounted).
fn walk_problem(e: &walkdir::Error) -> Problem {
    if e.loop_ancestor().is_some() {
        return Problem::FolderLinkLoop;
    }
    Problem::Unreadable(e.to_string())
}

/// Modification time in nanoseconds: with the size, what tells that a file changed.
pub fn mtime_ns(m: &std::fs::Metadata) -> i128 {
    i128::from(m.mtime()) * 1_000_000_000 + i128::from(m.mtime_nsec())
}

fn is_hidden(name: &std::ffi::OsStr) -> bool {
    name.as_encoded_bytes().first() == Some(&b'.')
}

fn dir_has_entries(dir: &Path) -> bool {
    std::fs::read_dir(dir)
        .map(|mut d| d.next().is_some())
        .unwrap_or(false)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    /// The files a scan found, as paths inside the root `r`.
    fn found<'a>(res: &'a ScanResult, r: &Path) -> Vec<&'a str> {
        res.files
            .iter()
            .map(|f| f.path.strip_prefix(r).unwrap().to_str().unwrap())
            .collect()
    }

    #[test]
    fn mime_by_extension() {
        assert_eq!(audio_mime("a.MP3"), Some("audio/mpeg"));
        assert_eq!(audio_mime("x.opus"), Some("audio/ogg"));
        assert_eq!(audio_mime("a.mp3.part"), None);
        assert_eq!(audio_mime("mp3"), None);
    }

    #[test]
    fn skips_what_should_not_be_seeded() {
        let outside = tempfile::tempdir().unwrap();
        std::fs::write(outside.path().join("secret.mp3"), b"x").unwrap();
        let dir = tempfile::tempdir().unwrap();
        let r = dir.path();
        std::fs::create_dir_all(r.join("shows/.trash")).unwrap();
        std::fs::write(r.join("shows/one.mp3"), b"abc").unwrap();
        std::fs::write(r.join("shows/.trash/old.mp3"), b"abc").unwrap();
        std::fs::write(r.join(".hidden.flac"), b"abc").unwrap();
        std::fs::write(r.join("dl.mp3.part"), b"abc").unwrap();
        std::fs::write(r.join("empty.ogg"), b"").unwrap();
        std::fs::write(r.join("notes.txt"), b"abc").unwrap();
        symlink(outside.path().join("secret.mp3"), r.join("escape.mp3")).unwrap();
        symlink(r.join("nowhere.mp3"), r.join("dangling.mp3")).unwrap();
        symlink(r.join("shows/one.mp3"), r.join("inside.mp3")).unwrap();

        let res = scan(&[r.to_path_buf()]);
        let names = found(&res, r);
        assert_eq!(names, vec!["inside.mp3", "shows/one.mp3"]);
        for skipped in ["escape.mp3", "dangling.mp3", "empty.ogg"] {
            assert!(res.problems.contains_key(&r.join(skipped)), "{skipped}");
        }
        assert!(res.absent_roots.is_empty());
    }

    #[test]
    fn folder_symlink_out_of_the_library_is_not_followed() {
        let outside = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(outside.path().join("private/deeper")).unwrap();
        std::fs::write(outside.path().join("private/secret.mp3"), b"x").unwrap();
        std::fs::write(outside.path().join("private/deeper/more.mp3"), b"x").unwrap();
        let dir = tempfile::tempdir().unwrap();
        let r = dir.path();
        std::fs::create_dir_all(r.join("shows/season1")).unwrap();
        std::fs::write(r.join("shows/season1/one.mp3"), b"abc").unwrap();
        symlink(outside.path().join("private"), r.join("escape")).unwrap();
        symlink(outside.path().join("private"), r.join("shows/escape2")).unwrap();
        // A folder symlink that stays inside is followed, as a file symlink is.
        symlink(r.join("shows/season1"), r.join("latest")).unwrap();
        // One that leads to the root itself is a loop, not a way out.
        symlink(r, r.join("shows/again")).unwrap();

        let res = scan(&[r.to_path_buf()]);
        let names = found(&res, r);
        assert_eq!(names, vec!["latest/one.mp3", "shows/season1/one.mp3"]);
        for skipped in ["escape", "shows/escape2"] {
            assert_eq!(
                res.problems.get(&r.join(skipped)),
                Some(&Problem::FolderLinkOutside),
                "{skipped}: {:?}",
                res.problems
            );
        }
        assert!(
            res.problems
                .values()
                .all(|why| !why.to_string().contains('/')),
            "a reason names a path: {:?}",
            res.problems
        );
    }

    #[test]
    fn missing_or_empty_root_is_absent() {
        let dir = tempfile::tempdir().unwrap();
        let res = scan(&[dir.path().to_path_buf(), dir.path().join("nope")]);
        assert_eq!(res.absent_roots.len(), 2);
    }

    #[test]
    fn vanished_or_empty_top_folder_is_absent() {
        let tmp = tempfile::tempdir().unwrap();
        let media = tmp.path().join("media");
        std::fs::create_dir_all(media.join("STICK_A")).unwrap();
        std::fs::write(media.join("STICK_A/a.mp3"), b"x").unwrap();
        std::fs::create_dir_all(media.join("STICK_B")).unwrap();
        let gone_root = tmp.path().join("not-plugged");
        let indexed = [
            media.join("STICK_A/a.mp3"),
            media.join("STICK_A/sub/c.mp3"),
            // Emptied mount point, and a vanished one.
            media.join("STICK_B/b.mp3"),
            media.join("STICK_C/shows/c.mp3"),
            media.join("STICK_C/d.mp3"),
            // A file right in the root is not a stick: its removal is a removal.
            media.join("e.mp3"),
            // Under an absent root: handled as such already.
            gone_root.join("x/f.mp3"),
        ];
        let roots = [media.clone(), gone_root.clone()];
        let got = absent_children(&roots, std::slice::from_ref(&gone_root), &indexed);
        assert_eq!(got, vec![media.join("STICK_B"), media.join("STICK_C")]);
    }
}
