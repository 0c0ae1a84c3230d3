//! Hourly digest files: the signed, chained attestations of what was delivered.
//!
//! One chain per account, region and trail. Each digest lists the log files delivered in
//! `[digestStartTime, digestEndTime)` with the SHA-256 of their uncompressed bytes, names its
//! predecessor (object, hash of its uncompressed bytes, signature) and is signed over
//! `{end}\n{bucket}/{object}\n{sha256}\n{previous signature}`. An empty `logFiles` attests that
//! nothing was delivered. Logging stops end a chain (after a last digest covering the final
//! flush); a restart begins a new one with every `previous*` field null. This is what validators
//! and gap reports are tested against, so every rule of CloudTrail's digest format (AWS CloudTrail User Guide) is kept here.

use chrono::{DateTime, TimeZone, Utc};
use rand::Rng;
use rsa::RsaPrivateKey;
use serde::Serialize;
use sha2::{Digest, Sha256};

use super::catalog::AccountProfile;
use super::delivery::{LogFileMeta, ObjectWriter};
use super::ids::{self, GenRng};
use super::keys::{self, SIGNATURE_ALGORITHM};
use super::schedule::{self, Segment};
use crate::archive::layout::digest_file_key;
use crate::error::Result;

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct DigestDoc<'a> {
    aws_account_id: &'a str,
    digest_start_time: String,
    digest_end_time: String,
    #[serde(rename = "digestS3Bucket")]
    digest_s3_bucket: &'a str,
    #[serde(rename = "digestS3Object")]
    digest_s3_object: &'a str,
    digest_public_key_fingerprint: &'a str,
    digest_signature_algorithm: &'static str,
    newest_event_time: Option<String>,
    oldest_event_time: Option<String>,
    #[serde(rename = "previousDigestS3Bucket")]
    previous_digest_s3_bucket: Option<&'a str>,
    #[serde(rename = "previousDigestS3Object")]
    previous_digest_s3_object: Option<&'a str>,
    previous_digest_hash_value: Option<&'a str>,
    previous_digest_hash_algorithm: Option<&'static str>,
    previous_digest_signature: Option<&'a str>,
    log_files: Vec<LogFileEntry<'a>>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct LogFileEntry<'a> {
    #[serde(rename = "s3Bucket")]
    s3_bucket: &'a str,
    #[serde(rename = "s3Object")]
    s3_object: &'a str,
    hash_value: &'a str,
    hash_algorithm: &'static str,
    newest_event_time: String,
    oldest_event_time: String,
}

/// The chain of one account and region.
pub struct ChainPlan<'a> {
    pub account: &'a AccountProfile,
    pub region: &'a str,
    pub bucket: &'a str,
    pub segments: &'a [Segment],
    pub run_end: DateTime<Utc>,
    /// Seconds from the run start to the first digest end (the trail's hourly phase), 1..=3600.
    pub phase_secs: i64,
}

/// A written digest: its key and the signature S3 would hold as `x-amz-meta-signature`.
pub struct SignedDigest {
    pub key: String,
    pub signature: String,
}

struct Previous {
    key: String,
    hash: String,
    signature: String,
}

fn at(secs: i64) -> DateTime<Utc> {
    Utc.timestamp_opt(secs, 0).single().unwrap_or_default()
}

/// The `[start, end)` periods of one logging segment.
fn periods(
    plan: &ChainPlan<'_>,
    seg: &Segment,
    first_end: i64,
    files: &[LogFileMeta],
    rng: &mut GenRng,
) -> Vec<(i64, i64)> {
    let mut out = Vec::new();
    let mut start = seg.start.timestamp();
    let mut end = first_end;
    match seg.stop {
        Some(stop) => {
            // Regular hours up to the stop, then one last digest right after the final flush.
            while end <= stop.timestamp() {
                out.push((start, end));
                (start, end) = (end, end + 3600);
            }
            let last = schedule::flush_after(stop).timestamp() + rng.gen_range(5..=55);
            out.push((start, last));
        }
        None => {
            let last_stamp = files
                .iter()
                .filter(|f| f.stamp >= seg.start)
                .map(|f| f.stamp.timestamp() + 1)
                .max()
                .unwrap_or(0);
            let horizon = plan.run_end.timestamp().max(last_stamp);
            loop {
                out.push((start, end));
                if end >= horizon {
                    break;
                }
                (start, end) = (end, end + 3600);
            }
        }
    }
    out
}

/// Writes the whole chain; `files` must be sorted by stamp.
pub fn write_chain(
    plan: &ChainPlan<'_>,
    files: &[LogFileMeta],
    key: &RsaPrivateKey,
    fingerprint: &str,
    writer: &mut ObjectWriter<'_>,
    rng: &mut GenRng,
) -> Result<Vec<SignedDigest>> {
    let account = plan.account;
    let mut written = Vec::new();
    let mut next_file = 0usize;
    for (i, seg) in plan.segments.iter().enumerate() {
        let first_end = if i == 0 {
            seg.start.timestamp() + plan.phase_secs
        } else {
            seg.start.timestamp() + 3600
        };
        let mut previous: Option<Previous> = None;
        for (start, end) in periods(plan, seg, first_end, files, rng) {
            let from = next_file;
            while next_file < files.len() && files[next_file].stamp.timestamp() < end {
                next_file += 1;
            }
            let listed = &files[from..next_file];
            let object = digest_file_key(
                "",
                account.org_id.as_deref(),
                &account.id,
                plan.region,
                &account.trail_name,
                &account.home_region,
                at(end),
            );
            let iso = |t: i64| ids::iso_seconds(at(t));
            let doc = DigestDoc {
                aws_account_id: &account.id,
                digest_start_time: iso(start),
                digest_end_time: iso(end),
                digest_s3_bucket: plan.bucket,
                digest_s3_object: &object,
                digest_public_key_fingerprint: fingerprint,
                digest_signature_algorithm: SIGNATURE_ALGORITHM,
                newest_event_time: listed.iter().map(|f| f.newest).max().map(iso),
                oldest_event_time: listed.iter().map(|f| f.oldest).min().map(iso),
                previous_digest_s3_bucket: previous.as_ref().map(|_| plan.bucket),
                previous_digest_s3_object: previous.as_ref().map(|p| p.key.as_str()),
                previous_digest_hash_value: previous.as_ref().map(|p| p.hash.as_str()),
                previous_digest_hash_algorithm: previous.as_ref().map(|_| "SHA-256"),
                previous_digest_signature: previous.as_ref().map(|p| p.signature.as_str()),
                log_files: listed
                    .iter()
                    .map(|f| LogFileEntry {
                        s3_bucket: plan.bucket,
                        s3_object: &f.key,
                        hash_value: &f.hash,
                        hash_algorithm: "SHA-256",
                        newest_event_time: iso(f.newest),
                        oldest_event_time: iso(f.oldest),
                    })
                    .collect(),
            };
            let body = escape_slashes(&serde_json::to_vec(&doc).unwrap_or_default());
            let to_sign = keys::digest_string_to_sign(
                &iso(end),
                plan.bucket,
                &object,
                &body,
                previous.as_ref().map(|p| p.signature.as_str()),
            );
            let signature = keys::try_sign_digest(key, &to_sign)?;
            writer.write_gz(&object, &body)?;
            written.push(SignedDigest {
                key: object.clone(),
                signature: signature.clone(),
            });
            previous = Some(Previous {
                key: object,
                hash: hex::encode(Sha256::digest(&body)),
                signature,
            });
        }
    }
    Ok(written)
}

/// CloudTrail's digest writer escapes `/` as `\/` (see the real digest in testdata/samples/llm-guard); the
/// JSON means the same, but hashes are over bytes, so parsers must not assume either form.
fn escape_slashes(json: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(json.len() + json.len() / 8);
    for &b in json {
        if b == b'/' {
            out.push(b'\\');
        }
        out.push(b);
    }
    out
}
