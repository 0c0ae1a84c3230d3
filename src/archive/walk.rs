//! Listing a local directory as an S3 prefix lists, while naming every entry that cannot be an
//! object instead of failing on it.
//!
//! object_store's local listing stops the whole listing at the first entry it cannot turn into
//! a path (a newline or invalid UTF-8 in a name, a symlink loop), skips dangling symlinks without
//! a word, follows folder symlinks wherever they lead, and lists a FIFO as an object that then
//! blocks whoever reads it. One hostile file must
//! not deny an investigator the rest of the archive, nor hide itself, so local archives are
//! walked here: regular files become objects, everything else odd becomes a named entry.

use std::fs;
use std::path::{Path as FsPath, PathBuf};

use chrono::{DateTime, Utc};
use object_store::ObjectMeta;
use object_store::path::Path;

/// What a walk found: the objects, and the entries that cannot be objects (key, reason).
#[derive(Debug, Default)]
pub(crate) struct Walked {
    pub objects: Vec<ObjectMeta>,
    pub odd: Vec<(String, String)>,
}

/// The sub-folders of `prefix` under the directory `root`, as store paths. Entries that are not
/// folders, or whose names cannot be keys, are left to the walk of their folder to name.
pub(crate) fn subfolders(root: &FsPath, prefix: &Path) -> std::io::Result<Vec<Path>> {
    let dir = fs_path(root, prefix);
    let entries = match fs::read_dir(&dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e),
    };
    let mut out = Vec::new();
    for entry in entries.flatten() {
        let Ok(name) = entry.file_name().into_string() else {
            continue;
        };
        // `metadata` follows symlinks: a linked folder is a folder, as a mirror may use them.
        if fs::metadata(entry.path()).is_ok_and(|m| m.is_dir()) && key_problem(&name).is_none() {
            out.push(prefix.clone().join(name.as_str()));
        }
    }
    out.sort();
    Ok(out)
}

/// Every regular file at or below `prefix`, recursively. Symlinks to files are followed; symlinks
/// to folders are named, not followed.
pub(crate) fn walk(root: &FsPath, prefix: &Path) -> Walked {
    let mut walked = Walked::default();
    let start = fs_path(root, prefix);
    let mut stack = vec![(start, prefix.as_ref().to_string())];
    while let Some((dir, key)) = stack.pop() {
        let entries = match fs::read_dir(&dir) {
            Ok(entries) => entries,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => {
                walked
                    .odd
                    .push((key, format!("folder cannot be listed: {e}")));
                continue;
            }
        };
        for entry in entries {
            let entry = match entry {
                Ok(entry) => entry,
                Err(e) => {
                    walked
                        .odd
                        .push((key.clone(), format!("folder entry unreadable: {e}")));
                    continue;
                }
            };
            let name = entry.file_name();
            let child_key = join(&key, &name.to_string_lossy());
            let Some(name) = name.to_str() else {
                walked
                    .odd
                    .push((child_key, "file name is not valid UTF-8".into()));
                continue;
            };
            if let Some(problem) = key_problem(name) {
                walked.odd.push((child_key, problem));
                continue;
            }
            let path = entry.path();
            let linked = entry.file_type().is_ok_and(|t| t.is_symlink());
            // A plain entry is looked up in its open folder (`fstatat`), not by its whole path
            // from the root again: a recent-folder listing stats a few thousand log files.
            let meta = if linked {
                fs::metadata(&path)
            } else {
                entry.metadata()
            };
            let meta = match meta {
                Ok(meta) => meta,
                Err(e) => {
                    let reason = match fs::symlink_metadata(&path) {
                        Ok(link) if link.file_type().is_symlink() => {
                            format!("symlink that leads nowhere readable: {e}")
                        }
                        _ => format!("cannot be read: {e}"),
                    };
                    walked.odd.push((child_key, reason));
                    continue;
                }
            };
            if meta.is_dir() && linked {
                walked.odd.push((
                    child_key,
                    "symlink to a folder: not followed (it may loop, or lead outside the archive)"
                        .into(),
                ));
            } else if meta.is_dir() {
                if super::layout::has_log_extension(name) {
                    walked.odd.push((
                        child_key.clone(),
                        "a folder named like a log file (what it holds is listed)".into(),
                    ));
                }
                stack.push((path, child_key));
            } else if meta.is_file() {
                match Path::parse(&child_key) {
                    Ok(location) => walked.objects.push(ObjectMeta {
                        location,
                        last_modified: meta
                            .modified()
                            .map(DateTime::<Utc>::from)
                            .unwrap_or_default(),
                        size: meta.len(),
                        e_tag: None,
                        version: None,
                    }),
                    Err(e) => walked
                        .odd
                        .push((child_key, format!("not a valid key: {e}"))),
                }
            } else {
                walked.odd.push((
                    child_key,
                    "not a regular file (a FIFO, socket or device): not read".into(),
                ));
            }
        }
    }
    walked
}

/// Why a file name cannot be part of a key, if it cannot.
fn key_problem(name: &str) -> Option<String> {
    if name.chars().any(char::is_control) {
        return Some("file name contains control characters (a newline, ...)".into());
    }
    None
}

fn fs_path(root: &FsPath, prefix: &Path) -> PathBuf {
    prefix
        .parts()
        .fold(root.to_path_buf(), |path, part| path.join(part.as_ref()))
}

fn join(key: &str, name: &str) -> String {
    if key.is_empty() {
        name.to_string()
    } else {
        format!("{key}/{name}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn touch(path: &FsPath) {
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(path, b"x").unwrap();
    }

    #[test]
    fn odd_entries_are_named_and_do_not_stop_the_walk() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        touch(&root.join("a/good.json.gz"));
        touch(&root.join("a/new\nline.json.gz"));
        fs::create_dir_all(root.join("a/dir.json.gz")).unwrap();
        touch(&root.join("a/dir.json.gz/inner.json.gz"));
        #[cfg(unix)]
        {
            use std::os::unix::ffi::OsStrExt;
            std::os::unix::fs::symlink(root.join("nowhere"), root.join("a/dangling.json.gz"))
                .unwrap();
            std::os::unix::fs::symlink(root.join("a"), root.join("a/loop")).unwrap();
            std::os::unix::fs::symlink("self.json.gz", root.join("a/self.json.gz")).unwrap();
            touch(&root.join(std::ffi::OsStr::from_bytes(b"a/bad\xff.json.gz")));
            let made = std::process::Command::new("mkfifo")
                .arg(root.join("a/fifo.json.gz"))
                .status()
                .unwrap();
            assert!(made.success());
        }
        let walked = walk(root, &Path::default());
        let mut keys: Vec<String> = walked
            .objects
            .iter()
            .map(|o| o.location.to_string())
            .collect();
        keys.sort();
        assert_eq!(keys, ["a/dir.json.gz/inner.json.gz", "a/good.json.gz"]);
        let odd: std::collections::BTreeMap<String, String> = walked.odd.into_iter().collect();
        assert!(odd["a/new\nline.json.gz"].contains("control characters"));
        assert!(odd["a/dir.json.gz"].contains("folder named like a log file"));
        #[cfg(unix)]
        {
            assert!(odd["a/dangling.json.gz"].contains("symlink"), "{odd:?}");
            assert!(odd["a/self.json.gz"].contains("symlink"), "{odd:?}");
            assert!(odd["a/loop"].contains("loop"), "{odd:?}");
            assert!(odd["a/bad\u{fffd}.json.gz"].contains("UTF-8"), "{odd:?}");
            assert!(odd["a/fifo.json.gz"].contains("FIFO"), "{odd:?}");
        }
    }

    #[test]
    fn subfolders_skip_files_and_missing_folders() {
        let dir = tempfile::tempdir().unwrap();
        touch(&dir.path().join("AWSLogs/111122223333/x"));
        touch(&dir.path().join("AWSLogs/file"));
        let got = subfolders(dir.path(), &Path::from("AWSLogs")).unwrap();
        assert_eq!(got, [Path::from("AWSLogs/111122223333")]);
        assert!(
            subfolders(dir.path(), &Path::from("nope"))
                .unwrap()
                .is_empty()
        );
    }
}
