//! Enrichment named by the files it was loaded from, for another process to load: a cluster's
//! executors answer `ip_country()` and the others from the client's files (the same paths,
//! checked by SHA-256) or fail the task, so an answer never holds a NULL the client's own
//! files would not have given.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, LazyLock, Mutex};

use serde::{Deserialize, Serialize};

use super::{EnrichOptions, Enrichment};
use crate::error::{Error, Result};

/// One file: its role (`geoip`, `asn`, `ip-ranges`, `ip-list:<name>`), absolute path and SHA-256.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct PinnedFile {
    pub role: String,
    pub path: String,
    pub sha256: String,
}

/// The files of an [`Enrichment`] (none: every function answers NULL).
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Pinned {
    pub files: Vec<PinnedFile>,
}

/// What this process has loaded, by pin: an executor's tasks share one copy of each database.
static LOADED: LazyLock<Mutex<HashMap<Pinned, Arc<Enrichment>>>> = LazyLock::new(Mutex::default);

impl Enrichment {
    /// The files loaded, with absolute paths (another process starts in another directory; the
    /// path is not canonicalized, since a list is named by its file's stem, symlink or not).
    pub fn pinned(&self) -> Pinned {
        let absolute = |path: &str| {
            std::path::absolute(path)
                .map(|p| p.display().to_string())
                .unwrap_or_else(|_| path.to_string())
        };
        Pinned {
            files: self
                .files
                .iter()
                .map(|f| PinnedFile {
                    role: f.role.clone(),
                    path: absolute(&f.path),
                    sha256: f.sha256.clone(),
                })
                .collect(),
        }
    }
}

impl Pinned {
    /// The enrichment these files make, loaded once per process; an error names a file that is
    /// missing here, unreadable, or not the one pinned.
    pub fn load(&self) -> Result<Arc<Enrichment>> {
        let mut loaded = LOADED
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some(e) = loaded.get(self) {
            return Ok(Arc::clone(e));
        }
        let e = Arc::new(self.load_files()?);
        loaded.insert(self.clone(), Arc::clone(&e));
        Ok(e)
    }

    fn load_files(&self) -> Result<Enrichment> {
        let elsewhere = "each executor needs the client's enrichment files at the same paths";
        let mut options = EnrichOptions::default();
        for f in &self.files {
            let path = PathBuf::from(&f.path);
            match f.role.as_str() {
                "geoip" => options.geoip = Some(path),
                "asn" => options.asn = Some(path),
                "ip-ranges" => options.ip_ranges = Some(path),
                role if role.starts_with("ip-list:") => options.ip_lists.push(path),
                role => {
                    return Err(Error::usage(format!(
                        "enrichment file {} has a role this trailscope does not know ({role}); \
                         run the client's version on every executor",
                        f.path
                    )));
                }
            }
        }
        let enrichment =
            Enrichment::load(&options).map_err(|e| Error::usage(format!("{e} ({elsewhere})")))?;
        for want in &self.files {
            let got = enrichment
                .files()
                .iter()
                .find(|f| f.role == want.role && f.path == want.path);
            if got.map(|f| &f.sha256) != Some(&want.sha256) {
                return Err(Error::usage(format!(
                    "enrichment file {} ({}) is not the client's: sha256 {}, the client's {} ({elsewhere})",
                    want.path,
                    want.role,
                    got.map_or("missing", |f| f.sha256.as_str()),
                    want.sha256
                )));
            }
        }
        Ok(enrichment)
    }
}
