//! Finding controls: the built-in catalog (embedded at build time) and users' directories.
//!
//! A control is two files side by side, named after its id: `<ID>.sql` (one SELECT) and
//! `<ID>.json` (its metadata, see [`super::meta`]). Areas are just folders. A user control with a
//! built-in's id replaces the built-in, so a team can tune a check without forking.

use std::collections::BTreeMap;
use std::path::Path;

use super::meta::ControlMeta;
use crate::error::{Error, Result};

/// A loaded control.
#[derive(Debug, Clone)]
pub struct Control {
    pub meta: ControlMeta,
    pub sql: String,
    /// Where it came from (`builtin:area/ID.sql` or a path), for messages.
    pub origin: String,
}

static BUILTIN: &[(&str, &str, &str)] = include!(concat!(env!("OUT_DIR"), "/builtin_controls.rs"));

fn parse(origin: &str, stem: &str, sql: &str, meta_text: &str) -> Result<Control> {
    let meta: ControlMeta = serde_json::from_str(meta_text).map_err(|e| {
        Error::usage(format!(
            "control {origin}: metadata {stem}.json: {e} (see queries/controls/README.md)"
        ))
    })?;
    if meta.id != stem {
        return Err(Error::usage(format!(
            "control {origin}: metadata id {:?} differs from the file name {stem:?}; name the files <ID>.sql and <ID>.json",
            meta.id
        )));
    }
    Ok(Control {
        meta,
        sql: sql.to_string(),
        origin: origin.to_string(),
    })
}

/// The catalog shipped with trailscope.
pub fn builtin() -> Result<Vec<Control>> {
    BUILTIN
        .iter()
        .map(|(rel, sql, meta)| {
            let stem = Path::new(rel)
                .file_stem()
                .map(|s| s.to_string_lossy().to_string())
                .unwrap_or_default();
            parse(&format!("builtin:{rel}"), &stem, sql, meta)
        })
        .collect()
}

/// Every control under `dir` (recursively).
pub fn from_dir(dir: &Path) -> Result<Vec<Control>> {
    if !dir.is_dir() {
        return Err(Error::input(
            crate::Input::Controls,
            dir.display(),
            "not a directory; give a folder of <ID>.sql + <ID>.json pairs",
        ));
    }
    let mut sql_files = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let entries = std::fs::read_dir(&d).map_err(|e| Error::io(d.display(), e))?;
        for entry in entries {
            let path = entry.map_err(|e| Error::io(d.display(), e))?.path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|e| e == "sql") {
                sql_files.push(path);
            } else if path.extension().is_some_and(|e| e == "json")
                && !path.with_extension("sql").exists()
            {
                return Err(Error::usage(format!(
                    "control metadata {} has no {} beside it",
                    path.display(),
                    path.with_extension("sql").display()
                )));
            }
        }
    }
    sql_files.sort();
    sql_files
        .iter()
        .map(|path| {
            let read = |p: &Path| std::fs::read_to_string(p).map_err(|e| Error::io(p.display(), e));
            let meta_path = path.with_extension("json");
            if !meta_path.exists() {
                return Err(Error::usage(format!(
                    "control {}: metadata {} is missing",
                    path.display(),
                    meta_path.display()
                )));
            }
            let stem = path
                .file_stem()
                .map(|s| s.to_string_lossy().to_string())
                .unwrap_or_default();
            parse(
                &path.display().to_string(),
                &stem,
                &read(path)?,
                &read(&meta_path)?,
            )
        })
        .collect()
}

/// The built-in catalog plus users' directories; a later control with the same id replaces an
/// earlier one. Two controls with one id inside the same user directory are an error.
pub fn catalog(user_dirs: &[impl AsRef<Path>]) -> Result<Vec<Control>> {
    let mut by_id: BTreeMap<String, Control> = BTreeMap::new();
    for c in builtin()? {
        by_id.insert(c.meta.id.clone(), c);
    }
    for dir in user_dirs {
        let mut seen = std::collections::BTreeSet::new();
        for c in from_dir(dir.as_ref())? {
            if !seen.insert(c.meta.id.clone()) {
                return Err(Error::usage(format!(
                    "control id {} appears twice under {}",
                    c.meta.id,
                    dir.as_ref().display()
                )));
            }
            by_id.insert(c.meta.id.clone(), c);
        }
    }
    Ok(by_id.into_values().collect())
}
