//! Digest files: the JSON CloudTrail writes every hour, and the exact string it signs.
//!
//! Every field is optional here: a digest is evidence, and a tampered or truncated one must be
//! reported with what can be read from it rather than rejected wholesale. Hashes are computed over
//! the uncompressed bytes as stored (CloudTrail writes `\/` escapes; re-serialising would change
//! the hash), so the parsed document is only ever used to read fields.

use chrono::{DateTime, Utc};
use serde::Deserialize;
use sha2::{Digest, Sha256};

/// One digest file's fields (the AWS CloudTrail User Guide, "CloudTrail digest file structure").
#[derive(Debug, Clone, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct DigestDoc {
    pub aws_account_id: Option<String>,
    pub digest_start_time: Option<String>,
    pub digest_end_time: Option<String>,
    #[serde(rename = "digestS3Bucket")]
    pub digest_s3_bucket: Option<String>,
    #[serde(rename = "digestS3Object")]
    pub digest_s3_object: Option<String>,
    pub digest_public_key_fingerprint: Option<String>,
    pub digest_signature_algorithm: Option<String>,
    pub newest_event_time: Option<String>,
    pub oldest_event_time: Option<String>,
    #[serde(rename = "previousDigestS3Bucket")]
    pub previous_digest_s3_bucket: Option<String>,
    #[serde(rename = "previousDigestS3Object")]
    pub previous_digest_s3_object: Option<String>,
    pub previous_digest_hash_value: Option<String>,
    pub previous_digest_hash_algorithm: Option<String>,
    pub previous_digest_signature: Option<String>,
    /// `None` when the field is absent (a broken digest); `Some([])` attests an empty hour.
    pub log_files: Option<Vec<ListedLogFile>>,
}

/// One entry of a digest's `logFiles`.
#[derive(Debug, Clone, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct ListedLogFile {
    #[serde(rename = "s3Bucket")]
    pub s3_bucket: Option<String>,
    #[serde(rename = "s3Object")]
    pub s3_object: Option<String>,
    pub hash_value: Option<String>,
    pub hash_algorithm: Option<String>,
    pub newest_event_time: Option<String>,
    pub oldest_event_time: Option<String>,
}

impl DigestDoc {
    /// Parses an uncompressed digest body.
    pub fn parse(bytes: &[u8]) -> Result<DigestDoc, String> {
        serde_json::from_slice(bytes).map_err(|e| format!("not a digest document: {e}"))
    }

    pub fn start_time(&self) -> Option<DateTime<Utc>> {
        self.digest_start_time
            .as_deref()
            .and_then(crate::time::parse_rfc3339)
    }

    pub fn end_time(&self) -> Option<DateTime<Utc>> {
        self.digest_end_time
            .as_deref()
            .and_then(crate::time::parse_rfc3339)
    }

    /// True when every `previous*` field is null: the first digest after validation or logging
    /// (re)started.
    pub fn starts_chain(&self) -> bool {
        self.previous_digest_s3_object.is_none()
            && self.previous_digest_hash_value.is_none()
            && self.previous_digest_signature.is_none()
    }

    pub fn log_file_count(&self) -> usize {
        self.log_files.as_ref().map_or(0, Vec::len)
    }

    /// The string CloudTrail signed for this digest, given the SHA-256 of its uncompressed bytes.
    /// `None` when a field the string needs is missing (the digest cannot be verified).
    pub fn string_to_sign(&self, uncompressed_sha256_hex: &str) -> Option<String> {
        Some(format!(
            "{}\n{}/{}\n{}\n{}",
            self.digest_end_time.as_deref()?,
            self.digest_s3_bucket.as_deref()?,
            self.digest_s3_object.as_deref()?,
            uncompressed_sha256_hex,
            self.previous_digest_signature.as_deref().unwrap_or("null"),
        ))
    }
}

/// The string to sign from its parts (aws-cli's `_create_string_to_sign`).
pub fn string_to_sign(
    end_time: &str,
    bucket: &str,
    object: &str,
    uncompressed: &[u8],
    previous_signature: Option<&str>,
) -> String {
    format!(
        "{end_time}\n{bucket}/{object}\n{}\n{}",
        sha256_hex(uncompressed),
        previous_signature.unwrap_or("null")
    )
}

pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    const REAL: &str = "testdata/samples/llm-guard/extracted/real_digest_327878933619_ap-northeast-1_20231015T230404Z.json";

    #[test]
    fn aws_cli_string_to_sign_vector() {
        assert_eq!(
            string_to_sign("a", "b", "c", b"abc", None),
            "a\nb/c\nba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad\nnull"
        );
        let doc = DigestDoc {
            digest_end_time: Some("a".into()),
            digest_s3_bucket: Some("b".into()),
            digest_s3_object: Some("c".into()),
            previous_digest_signature: Some("ff".into()),
            ..DigestDoc::default()
        };
        assert_eq!(
            doc.string_to_sign(&sha256_hex(b"abc")).unwrap(),
            "a\nb/c\nba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad\nff"
        );
        assert_eq!(DigestDoc::default().string_to_sign("00"), None);
    }

    #[test]
    fn real_digest_body_parses() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(REAL);
        let bytes = std::fs::read(&path).unwrap();
        let doc = DigestDoc::parse(&bytes).unwrap();
        assert_eq!(doc.aws_account_id.as_deref(), Some("327878933619"));
        assert_eq!(
            doc.end_time().unwrap().to_rfc3339(),
            "2023-10-15T23:04:04+00:00"
        );
        assert_eq!(
            doc.start_time().unwrap().to_rfc3339(),
            "2023-10-15T22:04:04+00:00"
        );
        // `\/` escapes are JSON: the parsed object key has plain slashes.
        assert!(
            doc.digest_s3_object
                .as_deref()
                .unwrap()
                .starts_with("AWSLogs/327878933619/CloudTrail-Digest/ap-northeast-1/")
        );
        assert_eq!(
            doc.digest_public_key_fingerprint.as_deref(),
            Some("be2f0b997552f44942837300ba1aba9d")
        );
        assert!(!doc.starts_chain());
        assert_eq!(
            doc.previous_digest_signature.as_deref().map(str::len),
            Some(512)
        );
        let files = doc.log_files.as_ref().unwrap();
        assert!(files.len() >= 4);
        assert!(
            files
                .iter()
                .all(|f| f.hash_value.as_deref().map(str::len) == Some(64))
        );
        assert!(doc.string_to_sign(&sha256_hex(&bytes)).is_some());
    }

    #[test]
    fn broken_documents_are_errors_not_panics() {
        assert!(DigestDoc::parse(b"not json").is_err());
        let doc = DigestDoc::parse(br#"{"logFiles":[],"previousDigestSignature":null}"#).unwrap();
        assert_eq!(doc.log_files, Some(Vec::new()));
        assert!(doc.starts_chain());
        assert_eq!(doc.end_time(), None);
    }
}
