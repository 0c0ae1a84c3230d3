//! `verify`: every digest chain and every log file in a range, over any object store.
//!
//! Digests are fetched concurrently (with their `x-amz-meta-signature` when the store keeps it),
//! inflated, hashed and parsed off the async threads; chains are walked in parallel
//! ([`super::chain`]); then the log files the in-range digests list are fetched and hashed in one
//! pass each ([`super::logs`]), and finally the log files nobody lists are looked for. Digests just
//! outside the range are read too, as context: the successor of the last digest in range holds its
//! signature, and the predecessor of the first one its link.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::sync::Arc;

use chrono::Duration;
use futures::{StreamExt, TryStreamExt};

use super::chain::{DigestCheck, DigestInput, DigestStatus, Range, check_chain, names_object};
use super::coverage::{Coverage, unlisted_verdicts};
use super::digest::{DigestDoc, sha256_hex};
use super::keys::{KeyRing, list_public_keys};
use super::logs::{LogFileCheck, LogFileStatus, judge, judge_hashed};
use crate::archive::fetch::checked::{Outcome, check_each};
use crate::archive::layout::parse_key;
use crate::archive::{Location, ObjectKind, Reading, Readings, S3Options, Scope, list_objects};
use crate::decode::gzip::{MAX_DIGEST_INFLATED, inflate};
use crate::error::{Error, Result};

/// Where the public keys come from.
#[derive(Debug, Clone, Default)]
pub enum KeySource {
    /// A keys file already read (`--public-keys`).
    Ring(KeyRing),
    /// `cloudtrail:ListPublicKeys` in each region that has digests.
    ListPublicKeys(S3Options),
    /// Do not check signatures (gap analysis, SQL tables without keys).
    #[default]
    Skip,
}

#[derive(Debug, Clone)]
pub struct VerifyOptions {
    /// Report only this trail's chains (all chains are still read: unlisted-file detection needs
    /// every trail's lists).
    pub trail: Option<String>,
    pub keys: KeySource,
    /// Signatures by digest key, standing in for S3 metadata a local copy lost.
    pub signatures: HashMap<String, String>,
    /// Objects fetched at once.
    pub concurrency: usize,
    /// Whether a digest or log file that cannot be fetched (after retries) gets the verdict
    /// `unfetched` instead of failing the run.
    pub allow_partial: bool,
    /// Hashes a scan of the same command already took (the report's): log files found there
    /// are judged from them instead of being read again.
    pub readings: Option<Arc<Readings>>,
    /// The scope's digests, already read for another check of the same command (the report's
    /// gap analysis): not read again.
    pub digests: Option<DigestReadings>,
}

impl Default for VerifyOptions {
    fn default() -> Self {
        VerifyOptions {
            trail: None,
            keys: KeySource::Skip,
            signatures: HashMap::new(),
            concurrency: 64,
            allow_partial: false,
            readings: None,
            digests: None,
        }
    }
}

/// Everything `verify` found: in-range digests (present and inferred missing) and log files.
#[derive(Debug, Clone)]
pub struct VerifyReport {
    pub range: Range,
    pub digests: Vec<DigestCheck>,
    pub log_files: Vec<LogFileCheck>,
    /// Whether signatures were checked.
    pub signatures_checked: bool,
    /// Why ListPublicKeys gave no keys, when signatures were skipped for want of credentials.
    pub signatures_skipped: Option<String>,
}

impl VerifyReport {
    /// (valid, total) digests.
    pub fn digest_counts(&self) -> (usize, usize) {
        let valid = self
            .digests
            .iter()
            .filter(|d| d.status == DigestStatus::Valid);
        (valid.count(), self.digests.len())
    }

    /// (valid, total) log files.
    pub fn log_file_counts(&self) -> (usize, usize) {
        let valid = self
            .log_files
            .iter()
            .filter(|l| l.status == LogFileStatus::Valid);
        (valid.count(), self.log_files.len())
    }

    /// Every digest and log file is valid. An unattested log file does not count against it
    /// on its own: the digest it depends on carries the finding, if there is one.
    pub fn is_valid(&self) -> bool {
        self.digests.iter().all(|d| d.status == DigestStatus::Valid)
            && self
                .log_files
                .iter()
                .all(|l| matches!(l.status, LogFileStatus::Valid | LogFileStatus::Unattested))
    }
}

/// Reads a signatures file: `{"<digest key>": "<hex>"}` or the generator's
/// `{"<digest key>": {"signature": "<hex>", ...}}` (the S3 metadata a local copy loses).
pub fn load_signatures(path: &std::path::Path) -> Result<HashMap<String, String>> {
    let bytes = std::fs::read(path).map_err(|e| Error::io(path.display(), e))?;
    let bad = |m: String| Error::input(crate::Input::Signatures, path.display(), m);
    let doc: serde_json::Value = serde_json::from_slice(&bytes).map_err(|e| bad(e.to_string()))?;
    let map = doc
        .as_object()
        .ok_or_else(|| bad("expected an object keyed by digest key".into()))?;
    let mut out = HashMap::new();
    for (key, v) in map {
        let sig = v
            .as_str()
            .or_else(|| v.get("signature").and_then(|s| s.as_str()))
            .ok_or_else(|| bad(format!("{key}: no signature")))?;
        out.insert(key.clone(), sig.to_string());
    }
    Ok(out)
}

/// Verifies every digest chain and log file of `scope` (all accounts, regions and trails found).
pub async fn verify(
    location: &Location,
    scope: &Scope,
    options: &VerifyOptions,
) -> Result<VerifyReport> {
    let mut logs_scope = scope.clone();
    logs_scope.late_margin = Duration::zero();
    // Listing the log files needs nothing from the digests: it runs while they are read.
    let (phase, logs) = tokio::try_join!(
        digests_of(location, scope, options),
        list_objects(location, ObjectKind::Log, &logs_scope),
    )?;
    let logs = logs.objects;
    let mut signatures_skipped = None;
    let ring = match &options.keys {
        KeySource::Ring(r) => Some(r.clone()),
        KeySource::Skip => None,
        KeySource::ListPublicKeys(opts) => match keys_for(opts, &phase.inputs).await {
            Ok(ring) => Some(ring),
            // A local copy verified on a machine without AWS access (the first run of the
            // bundled demo, an offline lab): everything but the signatures is still checked,
            // and the report says why they were not.
            Err(Error::NoCredentials(cause)) if location.local_dir.is_some() => {
                signatures_skipped = Some(cause);
                None
            }
            Err(e) => return Err(e),
        },
    };
    let signatures_checked = ring.is_some();
    // Hashing the listed log files needs only the digests' lists, not their verdicts: the chains
    // are walked (and their signatures checked) meanwhile.
    let (mut checks, mut log_files) = tokio::try_join!(
        check_all(phase.inputs.clone(), ring.map(Arc::new), phase.range),
        hash_listed(location, &phase, scope, options),
    )?;
    let mut latest: super::tail::LatestLogs = HashMap::new();
    for o in &logs {
        if let Some(stamp) = o.parsed.stamp {
            let e = latest
                .entry((o.parsed.account_id.clone(), o.parsed.region.clone()))
                .or_insert(stamp);
            *e = (*e).max(stamp);
        }
    }
    let tail = super::tail::missing_tail(&checks, &latest, phase.range);
    let known: HashSet<String> = checks.iter().map(|c| c.key.clone()).collect();
    checks.extend(tail.into_iter().filter(|c| !known.contains(&c.key)));
    let reported: HashSet<&str> = log_files.iter().map(|l| l.key.as_str()).collect();
    let unreported = logs
        .into_iter()
        .filter(|o| !reported.contains(o.key.as_str()))
        .collect();
    let coverage = Coverage::new(&checks, options.trail.as_deref());
    log_files.extend(unlisted_verdicts(
        unreported,
        &coverage,
        scope,
        options.trail.is_some(),
    ));
    if !options.allow_partial
        && let Some(l) = log_files
            .iter()
            .find(|l| l.status == LogFileStatus::Unfetched)
    {
        return Err(unfetched(&l.key, &l.detail));
    }
    log_files.sort_by(|a, b| a.key.cmp(&b.key).then(a.digest_key.cmp(&b.digest_key)));
    let digests = checks
        .into_iter()
        .filter(|d| d.in_range && wanted_trail(options, &d.trail))
        .collect();
    Ok(VerifyReport {
        range: phase.range,
        digests,
        log_files,
        signatures_checked,
        signatures_skipped,
    })
}

/// The public keys from `cloudtrail:ListPublicKeys`, in every region with digests, for the span
/// of their end times (padded by an hour for a key rotated mid-hour).
async fn keys_for(opts: &S3Options, inputs: &[DigestInput]) -> Result<KeyRing> {
    let ends = inputs.iter().filter_map(DigestInput::end_time);
    let (Some(first), Some(last)) = (ends.clone().min(), ends.max()) else {
        return Ok(KeyRing::default());
    };
    let regions: BTreeSet<String> = inputs.iter().map(|d| d.parsed.region.clone()).collect();
    list_public_keys(opts, &regions, first - Duration::hours(1), last).await
}

fn unfetched(key: &str, reason: &str) -> Error {
    Error::Unfetched {
        key: key.to_string(),
        reason: reason.to_string(),
    }
}

fn wanted_trail(options: &VerifyOptions, trail: &str) -> bool {
    options.trail.as_deref().is_none_or(|t| t == trail)
}

/// A log file as a digest lists it.
#[derive(Debug, Clone)]
pub(crate) struct Listed {
    pub digest_key: String,
    pub digest_in_range: bool,
    pub trail: String,
    /// The S3 object the digest names, and where that is in this store.
    pub object: String,
    pub store_key: String,
    pub hash: Option<String>,
    pub oldest: Option<String>,
    pub newest: Option<String>,
}

/// Digests read from the store, before any judgement.
pub(crate) struct DigestPhase {
    pub range: Range,
    pub inputs: Vec<DigestInput>,
    pub listed: Vec<Listed>,
}

/// A scope's digests read once, for the checks of one command that all need them (the report's
/// gap analysis and verify): given in their options, they are not read again.
#[derive(Clone)]
pub struct DigestReadings(Arc<DigestPhase>);

impl std::fmt::Debug for DigestReadings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "DigestReadings({} digests)", self.0.inputs.len())
    }
}

/// Reads the digests of `scope` for [`VerifyOptions::digests`] and `GapOptions::digests`, with
/// `options`' signatures file and concurrency.
pub async fn read_digests_once(
    location: &Location,
    scope: &Scope,
    options: &VerifyOptions,
) -> Result<DigestReadings> {
    Ok(DigestReadings(Arc::new(
        read_digests(location, scope, options).await?,
    )))
}

/// The digests `options` carry, or those of `scope` read now.
pub(crate) async fn digests_of(
    location: &Location,
    scope: &Scope,
    options: &VerifyOptions,
) -> Result<Arc<DigestPhase>> {
    match &options.digests {
        Some(DigestReadings(phase)) => Ok(Arc::clone(phase)),
        None => Ok(read_digests_once(location, scope, options).await?.0),
    }
}

/// Lists and reads the digests of `scope` plus a couple of hours of context on each side.
pub(crate) async fn read_digests(
    location: &Location,
    scope: &Scope,
    options: &VerifyOptions,
) -> Result<DigestPhase> {
    let range = Range {
        from: scope.from,
        to: scope.to,
    };
    let mut wide = scope.clone();
    wide.from = scope.from.map(|f| f - Duration::hours(2));
    // A digest's date folder and stamp are its end time: the last in-range hour ends up to an
    // hour after `to`, and its successor (which holds its signature) an hour later still.
    wide.late_margin = Duration::hours(3);
    let listing = list_objects(location, ObjectKind::Digest, &wide).await?;
    let items = listing
        .objects
        .into_iter()
        .map(|entry| (entry.key.clone(), entry))
        .collect();
    // The evidence manifest hashes every digest as stored: hashed here, it is not read again.
    let readings = options.readings.clone();
    let mut inputs: Vec<DigestInput> =
        check_each(location, items, options.concurrency, move |entry, bytes| {
            if let Some(readings) = &readings {
                let stored_sha256 = sha256_hex(bytes);
                let size = bytes.len() as u64;
                let reading = Reading {
                    size,
                    stored_sha256,
                    content: None,
                };
                readings.record(&entry.key, reading);
            }
            read_digest_body(bytes)
        })
        .map(|read| {
            let (entry, outcome) = read.map_err(Error::Runtime)?;
            let unfetched = matches!(outcome, Outcome::Unfetched(_));
            let (body, metadata_signature) = match outcome {
                Outcome::Checked { result, signature } => (result, signature),
                // A digest that cannot be read is still evidence: it stays, as unreadable (or
                // unfetched, when its bytes never arrived).
                Outcome::Missing => (Err("vanished while being read".into()), None),
                Outcome::Failed(e) | Outcome::Unfetched(e) => (Err(e), None),
            };
            Ok::<_, Error>(DigestInput {
                unfetched,
                metadata_signature: metadata_signature
                    .or_else(|| options.signatures.get(&entry.key).cloned()),
                key: entry.key,
                parsed: entry.parsed,
                body,
            })
        })
        .try_collect()
        .await?;
    // The signatures file may be keyed by the bucket key when the store key is a tail of it.
    if !options.signatures.is_empty() {
        for d in inputs.iter_mut().filter(|d| d.metadata_signature.is_none()) {
            if let Ok((doc, _)) = &d.body
                && let Some(obj) = &doc.digest_s3_object
            {
                d.metadata_signature = options.signatures.get(obj).cloned();
            }
        }
    }
    if !options.allow_partial
        && let Some(d) = inputs.iter().find(|d| d.unfetched)
    {
        return Err(unfetched(
            &d.key,
            d.body.as_ref().err().map_or("", String::as_str),
        ));
    }
    inputs.sort_by(|a, b| a.key.cmp(&b.key));
    let mut listed = Vec::new();
    for d in &inputs {
        let Ok((doc, _)) = &d.body else { continue };
        // The bucket prefix this store's root stands for, from where the digest says it lives.
        let offset = doc
            .digest_s3_object
            .as_deref()
            .filter(|claimed| names_object(claimed, &d.key))
            .map(|claimed| &claimed[..claimed.len() - d.key.len()])
            .unwrap_or("");
        let in_range = range.holds_end(d.end_time());
        for f in doc.log_files.iter().flatten() {
            let Some(object) = f.s3_object.clone() else {
                continue;
            };
            let store_key = object.strip_prefix(offset).unwrap_or(&object).to_string();
            listed.push(Listed {
                digest_key: d.key.clone(),
                digest_in_range: in_range,
                trail: d.parsed.trail.clone().unwrap_or_default(),
                object,
                store_key,
                hash: f.hash_value.clone(),
                oldest: f.oldest_event_time.clone(),
                newest: f.newest_event_time.clone(),
            });
        }
    }
    Ok(DigestPhase {
        range,
        inputs,
        listed,
    })
}

fn read_digest_body(bytes: &[u8]) -> std::result::Result<(DigestDoc, String), String> {
    let inflated = inflate(bytes, MAX_DIGEST_INFLATED)?;
    if inflated.trailing_bytes > 0 {
        return Err(format!(
            "{} bytes after the end of the gzip member",
            inflated.trailing_bytes
        ));
    }
    let doc = DigestDoc::parse(&inflated.bytes)?;
    Ok((doc, sha256_hex(&inflated.bytes)))
}

/// Groups digests into chains and walks them on the blocking pool, in parallel.
pub(crate) async fn check_all(
    inputs: Vec<DigestInput>,
    keys: Option<Arc<KeyRing>>,
    range: Range,
) -> Result<Vec<DigestCheck>> {
    let mut chains: BTreeMap<(String, String, String, String, String), Vec<DigestInput>> =
        BTreeMap::new();
    for d in inputs {
        let p = &d.parsed;
        let id = (
            p.account_id.clone(),
            p.region.clone(),
            p.trail.clone().unwrap_or_default(),
            p.home_region.clone().unwrap_or_default(),
            format!("{}{}", p.prefix, p.org_id.as_deref().unwrap_or_default()),
        );
        chains.entry(id).or_default().push(d);
    }
    let tasks: Vec<_> = chains
        .into_values()
        .map(|chain| {
            let keys = keys.clone();
            tokio::task::spawn_blocking(move || check_chain(chain, keys.as_deref(), range))
        })
        .collect();
    let mut out = Vec::new();
    for t in tasks {
        out.extend(
            t.await
                .map_err(|e| Error::Evidence(format!("chain check failed: {e}")))?,
        );
    }
    Ok(out)
}

/// Hashes every log file the wanted trails' digests list that is in range: the files the
/// in-range digests list, and those in range that only a digest just outside it lists.
async fn hash_listed(
    location: &Location,
    phase: &DigestPhase,
    scope: &Scope,
    options: &VerifyOptions,
) -> Result<Vec<LogFileCheck>> {
    let delivered_in_range = |l: &Listed| {
        parse_key(&l.object)
            .and_then(|p| p.stamp)
            .is_some_and(|t| scope.from.is_none_or(|f| t >= f) && scope.to.is_none_or(|e| t < e))
    };
    let wanted = phase.listed.iter().filter(|l| {
        (l.digest_in_range || delivered_in_range(l)) && wanted_trail(options, &l.trail)
    });
    // Files the command's scan already inflated are judged from its hashes; the rest are read.
    let mut judged = Vec::new();
    let mut items = Vec::new();
    for l in wanted {
        let content = options
            .readings
            .as_ref()
            .and_then(|r| r.get(&l.store_key))
            .and_then(|r| r.content.clone());
        match content {
            Some(hashed) => {
                let (status, detail) = judge_hashed(Ok(hashed), l.hash.as_deref());
                judged.push(log_check(l.clone(), status, detail));
            }
            None => items.push((l.store_key.clone(), l.clone())),
        }
    }
    let read: Vec<LogFileCheck> =
        check_each(location, items, options.concurrency, |l: &Listed, bytes| {
            judge(bytes, l.hash.as_deref())
        })
        .map(|read| {
            let (listed, outcome) = read.map_err(Error::Runtime)?;
            let (status, detail) = match outcome {
                Outcome::Checked { result, .. } => result,
                Outcome::Missing => (
                    LogFileStatus::Missing,
                    "listed by its digest but not in the archive".to_string(),
                ),
                Outcome::Failed(e) => (LogFileStatus::Unreadable, e),
                Outcome::Unfetched(e) => (LogFileStatus::Unfetched, e),
            };
            Ok::<_, Error>(log_check(listed, status, detail))
        })
        .try_collect()
        .await?;
    judged.extend(read);
    Ok(judged)
}

fn log_check(l: Listed, status: LogFileStatus, detail: String) -> LogFileCheck {
    let parsed = parse_key(&l.object);
    LogFileCheck {
        account_id: parsed
            .as_ref()
            .map(|p| p.account_id.clone())
            .unwrap_or_default(),
        region: parsed
            .as_ref()
            .map(|p| p.region.clone())
            .unwrap_or_default(),
        delivered: parsed.and_then(|p| p.stamp),
        key: l.store_key,
        digest_key: Some(l.digest_key),
        s3_object: Some(l.object),
        expected_hash: l.hash,
        oldest_event_time: l.oldest,
        newest_event_time: l.newest,
        status,
        detail,
    }
}

/// The digests of `scope` (chain-checked, signatures not checked) and every log file they list,
/// with presence from listing alone: what the SQL tables serve without reading log files.
pub async fn digest_inventory(
    location: &Location,
    scope: &Scope,
) -> Result<(Vec<DigestCheck>, Vec<LogFileCheck>)> {
    let phase = read_digests(location, scope, &VerifyOptions::default()).await?;
    let checks: Vec<DigestCheck> = check_all(phase.inputs.clone(), None, phase.range)
        .await?
        .into_iter()
        .filter(|d| d.in_range)
        .collect();
    let mut wide = scope.clone();
    wide.from = scope.from.map(|f| f - Duration::hours(3));
    wide.late_margin = Duration::hours(3);
    let listing = list_objects(location, ObjectKind::Log, &wide).await?;
    let present: HashSet<&str> = listing.objects.iter().map(|o| o.key.as_str()).collect();
    let files = phase
        .listed
        .iter()
        .filter(|l| l.digest_in_range)
        .map(|l| {
            let (status, detail) = if present.contains(l.store_key.as_str()) {
                (LogFileStatus::Valid, "present (not hashed)".to_string())
            } else {
                (
                    LogFileStatus::Missing,
                    "listed by its digest but not in the archive".to_string(),
                )
            };
            log_check(l.clone(), status, detail)
        })
        .collect();
    Ok((checks, files))
}
