//! The evidence manifest: every input of a report, hashed, and the report's own hash.
//!
//! An auditor handed a report can check it two ways: that the inputs are the ones named (each log
//! file and digest by key, size and SHA-256 of the object as stored, each snapshot by SHA-256, the
//! control catalog by one hash over every control's SQL and metadata), and that the report was not
//! edited since (`report_sha256`, see [`seal`]).

use std::sync::Arc;

use futures::{StreamExt, TryStreamExt, stream};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::{ComplianceReport, ReportInputs};
use crate::archive::{Location, ObjectEntry, ObjectKind, Readings, list_objects};
use crate::error::{Error, Result};
use crate::table::ArchiveSource;

/// Objects hashed at once.
const CONCURRENCY: usize = 64;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    pub log_files: Vec<InputObject>,
    pub digests: Vec<InputObject>,
    pub snapshots: Vec<SnapshotInput>,
    /// SHA-256 over every control's id, SQL and metadata, in id order.
    pub controls_sha256: String,
    pub controls: usize,
    /// The enrichment data files given (`--geoip`, `--asn`, ...), so the report's places can be
    /// reproduced; absent without them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub enrichment: Vec<crate::enrich::DataFile>,
    /// SHA-256 of this report's JSON with this field set to null (docs/report-json.md).
    pub report_sha256: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InputObject {
    pub key: String,
    pub size: u64,
    pub e_tag: Option<String>,
    /// SHA-256 of the object's bytes as stored (compressed).
    pub sha256: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SnapshotInput {
    /// The file name as given (no directories: they differ between machines).
    pub file: String,
    pub sha256: String,
    pub account_id: String,
    pub captured_at: Option<String>,
}

/// The enrichment files given, by file name: directories differ between machines, and the
/// SHA-256 says which file it was.
pub fn enrichment_files(enrichment: &crate::enrich::Enrichment) -> Vec<crate::enrich::DataFile> {
    enrichment
        .files()
        .iter()
        .map(|f| crate::enrich::DataFile {
            path: file_name(&f.path),
            ..f.clone()
        })
        .collect()
}

/// The last component of `path` as given (the whole of it when it has none).
fn file_name(path: &str) -> String {
    std::path::Path::new(path)
        .file_name()
        .map_or_else(|| path.to_string(), |n| n.to_string_lossy().to_string())
}

pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// Lists and hashes every log file and digest in the report's scope.
pub async fn collect(source: &ArchiveSource, inputs: &ReportInputs) -> Result<Manifest> {
    let logs = list_objects(&source.location, ObjectKind::Log, &source.scope).await?;
    let digests = list_objects(&source.location, ObjectKind::Digest, &source.scope).await?;
    let location = &source.location;
    let readings = source.readings.as_deref();
    // A local file's ETag is made from its inode and mtime: it differs between copies of the
    // same bytes, so only an object store's ETag is recorded.
    let keep_e_tag = source.location.local_dir.is_none();
    let mut controls: Vec<_> = inputs.controls.iter().collect();
    controls.sort_by(|a, b| a.meta.id.cmp(&b.meta.id));
    let mut hasher = Sha256::new();
    for c in &controls {
        let meta = serde_json::to_string(&c.meta).unwrap_or_default();
        for part in [c.meta.id.as_str(), c.sql.as_str(), meta.as_str()] {
            hasher.update((part.len() as u64).to_be_bytes());
            hasher.update(part.as_bytes());
        }
    }
    Ok(Manifest {
        log_files: hash_all(location, logs.objects, keep_e_tag, readings).await?,
        digests: hash_all(location, digests.objects, keep_e_tag, readings).await?,
        snapshots: inputs
            .snapshots
            .iter()
            .map(|(name, snapshot, bytes)| SnapshotInput {
                file: file_name(name),
                sha256: sha256_hex(bytes),
                account_id: snapshot.account_id.clone(),
                captured_at: snapshot.captured_at.clone(),
            })
            .collect(),
        controls_sha256: hex::encode(hasher.finalize()),
        controls: controls.len(),
        enrichment: Vec::new(),
        report_sha256: None,
    })
}

/// Hashes each object as stored, fetched with the archive's retries: one that still cannot be
/// fetched fails the report (a manifest that leaves an object out would not be the evidence).
async fn hash_all(
    location: &Location,
    objects: Vec<ObjectEntry>,
    keep_e_tag: bool,
    readings: Option<&Readings>,
) -> Result<Vec<InputObject>> {
    let mut out: Vec<InputObject> = stream::iter(objects)
        .map(|o| {
            let store = Arc::clone(&location.store);
            let retry = location.retry;
            // The report's scan hashed the log files it read, and the digests' reading the digests:
            // the same object (same size) is not read again.
            let read = readings
                .and_then(|r| r.get(&o.key))
                .filter(|r| r.size == o.size);
            async move {
                let (key, size, e_tag) = (o.key.clone(), o.size, o.e_tag.clone());
                if let Some(read) = read {
                    return Ok(InputObject {
                        key,
                        size,
                        e_tag: e_tag.filter(|_| keep_e_tag),
                        sha256: read.stored_sha256.clone(),
                    });
                }
                let bytes = crate::archive::fetch::fetch(store, retry, o)
                    .await
                    .map_err(|e| Error::Unfetched {
                        key: e.key,
                        reason: e.reason,
                    })?
                    .bytes;
                let sha256 = tokio::task::spawn_blocking(move || sha256_hex(&bytes))
                    .await
                    .map_err(|e| Error::Runtime(format!("hashing {key}: {e}")))?;
                Ok::<_, Error>(InputObject {
                    key,
                    size,
                    e_tag: e_tag.filter(|_| keep_e_tag),
                    sha256,
                })
            }
        })
        .buffer_unordered(CONCURRENCY)
        .try_collect()
        .await?;
    out.sort_by(|a, b| a.key.cmp(&b.key));
    Ok(out)
}

/// Sets `manifest.report_sha256` to the SHA-256 of the report's canonical JSON: compact, object
/// keys sorted, with `manifest.report_sha256` null. Any JSON library can check it, e.g. Python's
/// `json.dumps(doc, sort_keys=True, separators=(",", ":"), ensure_ascii=False)`.
pub fn seal(report: &mut ComplianceReport) -> Result<()> {
    report.manifest.report_sha256 = None;
    let value = serde_json::to_value(&*report)
        .map_err(|e| Error::Runtime(format!("serializing the report: {e}")))?;
    report.manifest.report_sha256 = Some(canonical_sha256(&value));
    Ok(())
}

/// The SHA-256 of `value` as canonical JSON (serde_json's maps are sorted by key).
pub fn canonical_sha256(value: &serde_json::Value) -> String {
    sha256_hex(&serde_json::to_vec(value).unwrap_or_default())
}
