//! Chain rules on hand-made chains signed with the generator's public test key.

use chrono::{DateTime, Duration, Utc};
use serde_json::json;

use super::*;
use crate::archive::layout::digest_file_key;
use crate::generate::{sign_digest, test_key_fingerprint, test_public_key_der, test_signing_key};
use crate::integrity::digest::sha256_hex;
use crate::integrity::keys::PublicKey;

const ACCOUNT: &str = "111122223333";
const BUCKET: &str = "b";

fn t0() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2026-10-01T00:17:05Z")
        .unwrap()
        .to_utc()
}

fn keys() -> KeyRing {
    let mut ring = KeyRing::default();
    ring.insert(PublicKey::from_der(&test_public_key_der()).unwrap());
    ring
}

struct Built {
    input: DigestInput,
    signature: String,
}

/// Signed digests ending at `t0 + h` hours for each `h`; a `None` in `restarts_at` position
/// starts a new chain (previous* null).
fn chain(hours: &[i64], restarts: &[i64]) -> Vec<Built> {
    let key = test_signing_key();
    let mut out: Vec<Built> = Vec::new();
    let mut prev: Option<(String, String, String)> = None;
    for &h in hours {
        if restarts.contains(&h) {
            prev = None;
        }
        let end = t0() + Duration::hours(h);
        let object = digest_file_key("", None, ACCOUNT, "eu-west-1", "t", "us-east-1", end);
        let iso = |t: DateTime<Utc>| t.format("%Y-%m-%dT%H:%M:%SZ").to_string();
        let body = json!({
            "awsAccountId": ACCOUNT,
            "digestStartTime": iso(end - Duration::hours(1)),
            "digestEndTime": iso(end),
            "digestS3Bucket": BUCKET,
            "digestS3Object": object,
            "digestPublicKeyFingerprint": test_key_fingerprint(),
            "digestSignatureAlgorithm": "SHA256withRSA",
            "previousDigestS3Bucket": prev.as_ref().map(|_| BUCKET),
            "previousDigestS3Object": prev.as_ref().map(|p| p.0.clone()),
            "previousDigestHashValue": prev.as_ref().map(|p| p.1.clone()),
            "previousDigestHashAlgorithm": prev.as_ref().map(|_| "SHA-256"),
            "previousDigestSignature": prev.as_ref().map(|p| p.2.clone()),
            "logFiles": [],
        })
        .to_string()
        .into_bytes();
        let sha = sha256_hex(&body);
        let doc = DigestDoc::parse(&body).unwrap();
        let signature = sign_digest(&key, &doc.string_to_sign(&sha).unwrap());
        prev = Some((object.clone(), sha.clone(), signature.clone()));
        out.push(Built {
            input: DigestInput {
                key: object.clone(),
                parsed: parse_key(&object).unwrap(),
                body: Ok((doc, sha)),
                metadata_signature: None,
                unfetched: false,
            },
            signature,
        });
    }
    out
}

fn inputs(built: Vec<Built>) -> Vec<DigestInput> {
    built.into_iter().map(|b| b.input).collect()
}

/// (status, end hour) of every non-valid check.
fn problems(checks: &[DigestCheck]) -> Vec<(DigestStatus, i64)> {
    checks
        .iter()
        .filter(|c| c.status != DigestStatus::Valid)
        .map(|c| (c.status, (c.end_time.unwrap() - t0()).num_hours()))
        .collect()
}

#[test]
fn intact_chain_offline_leaves_only_the_newest_unsigned() {
    let checks = check_chain(
        inputs(chain(&[1, 2, 3, 4], &[])),
        Some(&keys()),
        Range::default(),
    );
    assert_eq!(checks.len(), 4);
    assert_eq!(problems(&checks), [(DigestStatus::Unsigned, 4)]);
    assert!(checks[0].chain_start && !checks[1].chain_start);
}

#[test]
fn metadata_signatures_verify_the_newest_too() {
    let built = chain(&[1, 2, 3], &[]);
    let with_meta: Vec<DigestInput> = built
        .into_iter()
        .map(|b| DigestInput {
            metadata_signature: Some(b.signature),
            ..b.input
        })
        .collect();
    let checks = check_chain(with_meta, Some(&keys()), Range::default());
    assert_eq!(problems(&checks), []);
}

#[test]
fn each_missing_digest_is_reported_with_its_key() {
    let mut built = chain(&[1, 2, 3, 4, 5, 6], &[]);
    let gone: Vec<String> = built.drain(2..4).map(|b| b.input.key).collect();
    let checks = check_chain(inputs(built), Some(&keys()), Range::default());
    assert_eq!(
        problems(&checks),
        [
            (DigestStatus::Unsigned, 2),
            (DigestStatus::Missing, 3),
            (DigestStatus::Missing, 4),
            (DigestStatus::Unsigned, 6)
        ]
    );
    // Offline, the digest before the hole lost its signature with its successor.
    assert!(
        checks[1].detail.contains("successor"),
        "{}",
        checks[1].detail
    );
    let missing: Vec<&str> = checks
        .iter()
        .filter(|c| c.status == DigestStatus::Missing)
        .map(|c| c.key.as_str())
        .collect();
    assert_eq!(missing, gone.iter().map(String::as_str).collect::<Vec<_>>());
}

#[test]
fn edited_digest_fails_once() {
    let mut built = chain(&[1, 2, 3], &[]);
    let (doc, _) = built[1].input.body.as_mut().unwrap();
    doc.newest_event_time = Some("2026-10-01T01:00:00Z".into());
    // What an editor changes is the stored bytes, so the hash differs.
    let edited = sha256_hex(b"edited bytes");
    built[1].input.body.as_mut().unwrap().1 = edited;
    let checks = check_chain(inputs(built), Some(&keys()), Range::default());
    assert_eq!(
        problems(&checks),
        [
            (DigestStatus::InvalidSignature, 2),
            (DigestStatus::Unsigned, 3)
        ]
    );
    assert!(
        checks[1].detail.contains("recorded"),
        "{}",
        checks[1].detail
    );
}

#[test]
fn moved_digest_and_unknown_key() {
    let mut built = chain(&[1, 2, 3], &[]);
    built[0].input.key = format!("copies/{}", "elsewhere.json.gz");
    let checks = check_chain(inputs(built), Some(&keys()), Range::default());
    assert_eq!(
        problems(&checks),
        [(DigestStatus::Moved, 1), (DigestStatus::Unsigned, 3)]
    );
    let fresh = check_chain(
        inputs(chain(&[1, 2], &[])),
        Some(&KeyRing::default()),
        Range::default(),
    );
    assert_eq!(fresh[0].status, DigestStatus::InvalidSignature);
    assert!(fresh[0].detail.contains("no public key"));
}

#[test]
fn restart_is_not_a_missing_digest() {
    let checks = check_chain(
        inputs(chain(&[1, 2, 6, 7], &[6])),
        Some(&keys()),
        Range::default(),
    );
    // The digest before the restart has no successor naming it: offline it is unsigned too.
    assert_eq!(
        problems(&checks),
        [(DigestStatus::Unsigned, 2), (DigestStatus::Unsigned, 7)]
    );
    assert!(checks[2].chain_start);
    assert!(
        checks[2].detail.contains("restarts"),
        "{}",
        checks[2].detail
    );
}

#[test]
fn context_digests_outside_the_range_are_marked() {
    let range = Range {
        from: Some(t0() + Duration::hours(2)),
        to: Some(t0() + Duration::hours(3)),
    };
    let mut built = chain(&[1, 2, 3, 4, 5, 6], &[]);
    built.remove(0);
    let checks = check_chain(inputs(built), Some(&keys()), range);
    let in_range: Vec<i64> = checks
        .iter()
        .filter(|c| c.in_range)
        .map(|c| (c.end_time.unwrap() - t0()).num_hours())
        .collect();
    assert_eq!(in_range, [3, 4]);
    // The first digest's predecessor (hour 1) is before the range: missing, but not in range.
    let missing: Vec<&DigestCheck> = checks
        .iter()
        .filter(|c| c.status == DigestStatus::Missing)
        .collect();
    assert_eq!(missing.len(), 1);
    assert!(!missing[0].in_range);
}

#[test]
fn unreadable_digest_keeps_the_chain_linked() {
    let mut built = chain(&[1, 2, 3], &[]);
    built[1].input.body = Err("gzip: corrupt".into());
    let checks = check_chain(inputs(built), Some(&keys()), Range::default());
    assert_eq!(
        problems(&checks),
        [
            (DigestStatus::Unsigned, 1),
            (DigestStatus::Unreadable, 2),
            (DigestStatus::Unsigned, 3)
        ]
    );
}
