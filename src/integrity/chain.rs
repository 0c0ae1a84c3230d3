//! Walking one digest chain: links, hashes, signatures, moves and missing digests.
//!
//! Pure and synchronous (no I/O), so every rule is testable with hand-made chains and chains can
//! be checked on all cores. A chain is one (account, region, trail) in digest-end-time order,
//! across logging restarts.
//!
//! Where aws-cli falls short (the AWS CloudTrail User Guide's digest file rules) this does more: it checks
//! `previousDigestHashValue`, it checks offline (a digest's signature is also its successor's
//! `previousDigestSignature`), and it reports every missing digest on its own, inferring the ones
//! the pointers cannot name from the hourly cadence (aws-cli#7054 reports a run as one).

use std::collections::HashMap;

use chrono::{DateTime, Duration, Utc};
use serde::Serialize;

use super::digest::DigestDoc;
use super::keys::KeyRing;
use crate::archive::layout::{ParsedKey, digest_file_key, parse_key};

/// CloudTrail writes one digest per hour per chain.
pub const CADENCE: Duration = Duration::hours(1);

/// What a digest check concluded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DigestStatus {
    Valid,
    InvalidSignature,
    InvalidHash,
    Missing,
    Moved,
    Unsigned,
    Unreadable,
    /// Its bytes could not be fetched from the store (after retries): nothing is known of it.
    Unfetched,
}

impl DigestStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            DigestStatus::Valid => "valid",
            DigestStatus::InvalidSignature => "invalid_signature",
            DigestStatus::InvalidHash => "invalid_hash",
            DigestStatus::Missing => "missing",
            DigestStatus::Moved => "moved",
            DigestStatus::Unsigned => "unsigned",
            DigestStatus::Unreadable => "unreadable",
            DigestStatus::Unfetched => "unfetched",
        }
    }

    /// Which of several findings names the digest's status: the most damning first.
    fn rank(self) -> u8 {
        match self {
            DigestStatus::Unreadable | DigestStatus::Unfetched => 0,
            DigestStatus::Missing => 1,
            DigestStatus::InvalidSignature => 2,
            DigestStatus::InvalidHash => 3,
            DigestStatus::Moved => 4,
            DigestStatus::Unsigned => 5,
            DigestStatus::Valid => 6,
        }
    }
}

/// A digest as read from the archive, ready for the chain walk.
#[derive(Debug, Clone)]
pub struct DigestInput {
    /// The object's key in the store (for S3 the bucket key; locally the path under the folder).
    pub key: String,
    pub parsed: ParsedKey,
    /// The parsed document and the hex SHA-256 of its uncompressed bytes, or why it is unreadable.
    pub body: Result<(DigestDoc, String), String>,
    /// `x-amz-meta-signature`, when the store kept it (or a signatures file gave it).
    pub metadata_signature: Option<String>,
    /// The body is missing because its bytes could not be fetched, not because they are bad.
    pub unfetched: bool,
}

impl DigestInput {
    fn doc(&self) -> Option<&DigestDoc> {
        self.body.as_ref().ok().map(|(d, _)| d)
    }

    pub fn end_time(&self) -> Option<DateTime<Utc>> {
        self.doc()
            .and_then(DigestDoc::end_time)
            .or(self.parsed.stamp)
    }

    /// Where the digest says it lives, else where it is.
    fn claimed_object(&self) -> &str {
        self.doc()
            .and_then(|d| d.digest_s3_object.as_deref())
            .unwrap_or(&self.key)
    }
}

/// Whether the bucket key `claimed` names the object stored at `key`. A local copy may hold only
/// part of the bucket (a folder below its root), so `key` may be a tail of `claimed`.
pub fn names_object(claimed: &str, key: &str) -> bool {
    claimed == key
        || claimed
            .strip_suffix(key)
            .is_some_and(|head| head.ends_with('/'))
}

/// The verdict on one digest (present or inferred missing), with what it says about itself.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DigestCheck {
    pub key: String,
    pub account_id: String,
    pub region: String,
    pub trail: String,
    pub home_region: String,
    pub org_id: Option<String>,
    pub backfill: bool,
    pub start_time: Option<DateTime<Utc>>,
    pub end_time: Option<DateTime<Utc>>,
    pub bucket: Option<String>,
    pub object: Option<String>,
    pub fingerprint: Option<String>,
    pub previous_object: Option<String>,
    pub previous_hash: Option<String>,
    pub previous_signature: Option<String>,
    /// `None` when the digest is missing or unreadable.
    pub log_file_count: Option<usize>,
    /// All `previous*` fields null: logging or validation (re)started here.
    pub chain_start: bool,
    pub status: DigestStatus,
    pub detail: String,
    /// Inside the requested range (context digests outside it are read for links only).
    pub in_range: bool,
}

/// The requested time range: a digest is in range when its hour overlaps `[from, to)`.
#[derive(Debug, Clone, Copy, Default)]
pub struct Range {
    pub from: Option<DateTime<Utc>>,
    pub to: Option<DateTime<Utc>>,
}

impl Range {
    pub fn holds_end(&self, end: Option<DateTime<Utc>>) -> bool {
        let Some(end) = end else { return true };
        self.from.is_none_or(|f| end > f) && self.to.is_none_or(|t| end <= t + CADENCE)
    }
}

/// Checks one chain. `digests` must belong to one chain; they are sorted here. `keys = None`
/// skips signatures (gap analysis needs only links and coverage).
pub fn check_chain(
    mut digests: Vec<DigestInput>,
    keys: Option<&KeyRing>,
    range: Range,
) -> Vec<DigestCheck> {
    digests.sort_by(|a, b| (a.end_time(), &a.key).cmp(&(b.end_time(), &b.key)));
    let n = digests.len();
    let mut findings: Vec<Vec<(DigestStatus, String)>> = vec![Vec::new(); n];
    let mut successor_signature: Vec<Option<String>> = vec![None; n];
    let mut restart_notes: Vec<Option<String>> = vec![None; n];
    // Offline, a digest whose successor is gone has lost the only copy of its signature.
    let mut successor_missing: Vec<bool> = vec![false; n];
    let mut missing: Vec<DigestCheck> = Vec::new();
    let by_claim: HashMap<&str, usize> = digests
        .iter()
        .enumerate()
        .map(|(i, d)| (d.claimed_object(), i))
        .collect();

    for i in 0..n {
        let d = &digests[i];
        let (doc, _) = match &d.body {
            Ok(body) => body,
            Err(reason) => {
                let status = if d.unfetched {
                    DigestStatus::Unfetched
                } else {
                    DigestStatus::Unreadable
                };
                findings[i].push((status, reason.clone()));
                continue;
            }
        };
        if let Some(claimed) = doc.digest_s3_object.as_deref()
            && !names_object(claimed, &d.key)
        {
            findings[i].push((
                DigestStatus::Moved,
                format!("stored at {} but claims to be {claimed}", d.key),
            ));
        }
        let Some(pointer) = doc.previous_digest_s3_object.as_deref() else {
            if i > 0 && !doc.starts_chain() {
                findings[i].push((
                    DigestStatus::InvalidSignature,
                    "previousDigestS3Object is null but other previous* fields are set".into(),
                ));
            }
            if i > 0 {
                let since = digests[i - 1].end_time();
                restart_notes[i] = Some(match (since, doc.start_time()) {
                    (Some(a), Some(b)) => format!(
                        "chain restarts (previous* null) {} after the last digest",
                        human(b - a)
                    ),
                    _ => "chain restarts (previous* null)".into(),
                });
            }
            continue;
        };
        let predecessor = if i > 0
            && (names_object(pointer, &digests[i - 1].key)
                || digests[i - 1].claimed_object() == pointer)
        {
            Some(i - 1)
        } else {
            by_claim.get(pointer).copied().filter(|&j| j < i)
        };
        match predecessor {
            Some(j) => {
                if let Ok((_, sha)) = &digests[j].body
                    && let Some(recorded) = doc.previous_digest_hash_value.as_deref()
                    && !recorded.eq_ignore_ascii_case(sha)
                {
                    findings[j].push((
                        DigestStatus::InvalidHash,
                        format!("SHA-256 {sha} but successor {} recorded {recorded}", d.key),
                    ));
                }
                if let Some(sig) = doc.previous_digest_signature.as_deref() {
                    if let Some(meta) = digests[j].metadata_signature.as_deref()
                        && !meta.eq_ignore_ascii_case(sig)
                    {
                        findings[j].push((
                            DigestStatus::InvalidSignature,
                            format!(
                                "S3 metadata signature differs from previousDigestSignature in {}",
                                d.key
                            ),
                        ));
                    }
                    successor_signature[j] = Some(sig.to_string());
                }
            }
            None => {
                let lower = (i > 0).then(|| digests[i - 1].end_time()).flatten();
                if i > 0 {
                    successor_missing[i - 1] = true;
                }
                missing.extend(infer_missing(d, doc, pointer, lower, range));
            }
        }
    }

    let mut out: Vec<DigestCheck> = digests
        .iter()
        .enumerate()
        .map(|(i, d)| {
            let mut found = std::mem::take(&mut findings[i]);
            if let (Ok((doc, sha)), Some(keys)) = (&d.body, keys) {
                let signature = d
                    .metadata_signature
                    .as_deref()
                    .or(successor_signature[i].as_deref());
                if let Some(mut problem) = check_signature(doc, sha, signature, keys) {
                    if problem.0 == DigestStatus::Unsigned && successor_missing[i] {
                        problem.1 = "no signature to check: no x-amz-meta-signature, and the successor that held it is missing".into();
                    }
                    found.push(problem);
                }
            }
            let doc = d.doc();
            found.sort_by_key(|(s, _)| s.rank());
            let status = found.first().map_or(DigestStatus::Valid, |(s, _)| *s);
            let mut detail: Vec<String> = found.into_iter().map(|(_, m)| m).collect();
            if d.parsed.backfill {
                detail.push("backfill digest".into());
            }
            if let Some(note) = restart_notes[i].take() {
                detail.push(note);
            }
            let p = &d.parsed;
            DigestCheck {
                key: d.key.clone(),
                account_id: p.account_id.clone(),
                region: p.region.clone(),
                trail: p.trail.clone().unwrap_or_default(),
                home_region: p.home_region.clone().unwrap_or_default(),
                org_id: p.org_id.clone(),
                backfill: p.backfill,
                start_time: doc.and_then(DigestDoc::start_time),
                end_time: d.end_time(),
                bucket: doc.and_then(|x| x.digest_s3_bucket.clone()),
                object: doc.and_then(|x| x.digest_s3_object.clone()),
                fingerprint: doc.and_then(|x| x.digest_public_key_fingerprint.clone()),
                previous_object: doc.and_then(|x| x.previous_digest_s3_object.clone()),
                previous_hash: doc.and_then(|x| x.previous_digest_hash_value.clone()),
                previous_signature: doc.and_then(|x| x.previous_digest_signature.clone()),
                log_file_count: doc.map(DigestDoc::log_file_count),
                chain_start: doc.is_some_and(DigestDoc::starts_chain),
                status,
                detail: detail.join("; "),
                in_range: range.holds_end(d.end_time()),
            }
        })
        .collect();
    out.extend(missing);
    out.sort_by(|a, b| (a.end_time, &a.key).cmp(&(b.end_time, &b.key)));
    out
}

fn check_signature(
    doc: &DigestDoc,
    sha: &str,
    signature: Option<&str>,
    keys: &KeyRing,
) -> Option<(DigestStatus, String)> {
    let Some(signature) = signature else {
        return Some((
            DigestStatus::Unsigned,
            "no signature to check: no x-amz-meta-signature and no successor names it (offline, the newest digest of a chain)".into(),
        ));
    };
    let invalid = |m: String| Some((DigestStatus::InvalidSignature, m));
    if let Some(alg) = doc.digest_signature_algorithm.as_deref()
        && alg != "SHA256withRSA"
    {
        return invalid(format!("unsupported signature algorithm {alg}"));
    }
    let Some(fingerprint) = doc.digest_public_key_fingerprint.as_deref() else {
        return invalid("no digestPublicKeyFingerprint".into());
    };
    let Some(key) = keys.get(fingerprint) else {
        return invalid(format!(
            "no public key with fingerprint {fingerprint} among the {} known",
            keys.len()
        ));
    };
    let Some(message) = doc.string_to_sign(sha) else {
        return invalid("digestEndTime, digestS3Bucket or digestS3Object missing".into());
    };
    match key.verify(message.as_bytes(), signature) {
        Ok(()) => None,
        Err(e) => invalid(e),
    }
}

/// The digests missing before `d`, whose `previousDigestS3Object` (`pointer`) is absent: the one
/// it names, and every earlier hour back to the last present digest (ending at `lower`). Their
/// ends step back from the named one by exactly an hour, as CloudTrail's cadence does.
fn infer_missing(
    d: &DigestInput,
    doc: &DigestDoc,
    pointer: &str,
    lower: Option<DateTime<Utc>>,
    range: Range,
) -> Vec<DigestCheck> {
    let named = parse_key(pointer);
    let base = named.as_ref().unwrap_or(&d.parsed);
    let named_end = named
        .as_ref()
        .and_then(|k| k.stamp)
        .or_else(|| doc.start_time());
    let mut out = Vec::new();
    let Some(named_end) = named_end else {
        return out;
    };
    let mut k = 0;
    loop {
        let end = named_end - CADENCE * k;
        // The first missing one is certain (named); earlier ones exist only if a whole hour
        // separates them from the last present digest (or the range start, without one).
        let floor = lower.or(range.from);
        if k > 0 && floor.is_none_or(|f| end - f < CADENCE / 2) {
            break;
        }
        if k > 10_000 {
            break;
        }
        let key = if k == 0 {
            pointer.to_string()
        } else {
            digest_file_key(
                &base.prefix,
                base.org_id.as_deref(),
                &base.account_id,
                &base.region,
                base.trail.as_deref().unwrap_or_default(),
                base.home_region.as_deref().unwrap_or_default(),
                end,
            )
        };
        let detail = if k == 0 {
            format!("named by previousDigestS3Object of {}", d.key)
        } else {
            format!(
                "inferred from the hourly cadence: {k} hour(s) before the digest {} names",
                pointer
            )
        };
        out.push(DigestCheck {
            key,
            account_id: base.account_id.clone(),
            region: base.region.clone(),
            trail: base.trail.clone().unwrap_or_default(),
            home_region: base.home_region.clone().unwrap_or_default(),
            org_id: base.org_id.clone(),
            backfill: false,
            start_time: Some(end - CADENCE),
            end_time: Some(end),
            bucket: None,
            object: None,
            fingerprint: None,
            previous_object: None,
            previous_hash: None,
            previous_signature: None,
            log_file_count: None,
            chain_start: false,
            status: DigestStatus::Missing,
            detail,
            in_range: range.holds_end(Some(end)),
        });
        k += 1;
    }
    out
}

/// `3h 5m`, `12m`, `40s`.
pub fn human(d: Duration) -> String {
    let secs = d.num_seconds().max(0);
    match (secs / 3600, (secs % 3600) / 60) {
        (0, 0) => format!("{secs}s"),
        (0, m) => format!("{m}m"),
        (h, 0) => format!("{h}h"),
        (h, m) => format!("{h}h {m}m"),
    }
}

#[cfg(test)]
mod tests;
