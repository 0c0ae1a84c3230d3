//! Log file checks: each file a digest lists is present, hashes to what the digest recorded, and
//! is exactly one gzip member.
//!
//! The hash is taken while inflating (one pass, no copy of the uncompressed document), and the
//! bytes left after the first member are counted: CloudTrail never writes them, and a
//! multi-member decoder would silently hash or parse an attacker's appended records.

use std::io::Read;

use chrono::{DateTime, Utc};
use flate2::bufread::GzDecoder;
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::decode::gzip::is_gzip;

/// What a log file check concluded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum LogFileStatus {
    Valid,
    Missing,
    InvalidHash,
    TrailingData,
    Unreadable,
    /// Present in the archive, inside an hour a digest attests, but listed by no digest.
    Unlisted,
    /// Its bytes could not be fetched from the store (after retries): not judged.
    Unfetched,
    /// Present, but the digest that would list it is missing, unreadable or unfetched, or no
    /// digest covers its hour: nothing attests it (the digest is the finding, if any).
    Unattested,
}

impl LogFileStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            LogFileStatus::Valid => "valid",
            LogFileStatus::Missing => "missing",
            LogFileStatus::InvalidHash => "invalid_hash",
            LogFileStatus::TrailingData => "trailing_data",
            LogFileStatus::Unreadable => "unreadable",
            LogFileStatus::Unlisted => "unlisted",
            LogFileStatus::Unfetched => "unfetched",
            LogFileStatus::Unattested => "unattested",
        }
    }
}

/// The verdict on one log file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LogFileCheck {
    /// The store key (the listed S3 object, mapped into the archive).
    pub key: String,
    pub account_id: String,
    pub region: String,
    /// The delivery stamp from the file name.
    pub delivered: Option<DateTime<Utc>>,
    /// The digest that lists it (`None` for unlisted files).
    pub digest_key: Option<String>,
    /// The S3 object as the digest names it.
    pub s3_object: Option<String>,
    pub expected_hash: Option<String>,
    pub oldest_event_time: Option<String>,
    pub newest_event_time: Option<String>,
    pub status: LogFileStatus,
    pub detail: String,
}

/// The SHA-256 of an object's first gzip member's content, and the bytes after it (the same
/// hashes a scan records in its readings).
pub type Hashed = crate::archive::ContentHash;

thread_local! {
    /// Inflated bytes pass through here on their way to the hash. One per thread, reused: a
    /// fresh zeroed 64 KiB per file cost more than hashing a typical 6 KiB file.
    static INFLATE_BUFFER: std::cell::RefCell<Vec<u8>> = std::cell::RefCell::new(vec![0; 64 * 1024]);
}

/// Hashes while inflating. Objects without the gzip magic are hashed as they are (mirrors keep
/// uncompressed `.json` copies; CloudTrail hashes the uncompressed content either way).
pub fn hash_object(bytes: &[u8]) -> Result<Hashed, String> {
    if bytes.is_empty() {
        return Err("empty object (0 bytes)".into());
    }
    if !is_gzip(bytes) {
        return Ok(Hashed {
            sha256: hex::encode(Sha256::digest(bytes)),
            uncompressed_len: bytes.len() as u64,
            trailing_bytes: 0,
        });
    }
    let mut input = bytes;
    let mut decoder = GzDecoder::new(&mut input);
    let mut hasher = Sha256::new();
    let mut total = 0u64;
    INFLATE_BUFFER.with_borrow_mut(|buf| -> Result<(), String> {
        loop {
            let n = decoder.read(buf).map_err(|e| format!("gzip: {e}"))?;
            if n == 0 {
                return Ok(());
            }
            hasher.update(&buf[..n]);
            total += n as u64;
        }
    })?;
    drop(decoder);
    Ok(Hashed {
        sha256: hex::encode(hasher.finalize()),
        uncompressed_len: total,
        trailing_bytes: input.len(),
    })
}

/// The status of a fetched log file against the hash its digest recorded.
pub fn judge(bytes: &[u8], expected: Option<&str>) -> (LogFileStatus, String) {
    judge_hashed(hash_object(bytes), expected)
}

/// The status of a log file whose content was hashed (by [`hash_object`], or by the scan that
/// decoded it) against the hash its digest recorded.
pub fn judge_hashed(
    hashed: Result<Hashed, String>,
    expected: Option<&str>,
) -> (LogFileStatus, String) {
    match hashed {
        Err(e) => (LogFileStatus::Unreadable, e),
        Ok(h) => {
            let Some(expected) = expected else {
                return (
                    LogFileStatus::InvalidHash,
                    "the digest records no hashValue for it".into(),
                );
            };
            if !expected.eq_ignore_ascii_case(&h.sha256) {
                (
                    LogFileStatus::InvalidHash,
                    format!("SHA-256 {} but the digest recorded {expected}", h.sha256),
                )
            } else if h.trailing_bytes > 0 {
                (
                    LogFileStatus::TrailingData,
                    format!(
                        "{} bytes after the end of the gzip member (the first member matches the digest)",
                        h.trailing_bytes
                    ),
                )
            } else {
                (LogFileStatus::Valid, String::new())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use flate2::{Compression, write::GzEncoder};
    use std::io::Write;

    fn gzip(data: &[u8]) -> Vec<u8> {
        let mut e = GzEncoder::new(Vec::new(), Compression::default());
        e.write_all(data).unwrap();
        e.finish().unwrap()
    }

    const ABC: &str = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";

    #[test]
    fn hashes_uncompressed_content() {
        let h = hash_object(&gzip(b"abc")).unwrap();
        assert_eq!(
            (h.sha256.as_str(), h.uncompressed_len, h.trailing_bytes),
            (ABC, 3, 0)
        );
        assert_eq!(hash_object(b"abc").unwrap().sha256, ABC);
        assert_eq!(judge(&gzip(b"abc"), Some(ABC)).0, LogFileStatus::Valid);
        assert_eq!(
            judge(&gzip(b"abd"), Some(ABC)).0,
            LogFileStatus::InvalidHash
        );
    }

    #[test]
    fn appended_member_is_trailing_data() {
        let mut data = gzip(b"abc");
        data.extend(gzip(b"{\"Records\":[{\"eventName\":\"Forged\"}]}"));
        let (status, detail) = judge(&data, Some(ABC));
        assert_eq!(status, LogFileStatus::TrailingData, "{detail}");
    }

    #[test]
    fn broken_gzip_is_unreadable() {
        let mut data = gzip(b"abcdefghijklmnopqrstuvwxyz");
        data.truncate(data.len() - 8);
        assert_eq!(judge(&data, Some(ABC)).0, LogFileStatus::Unreadable);
        assert_eq!(judge(b"", Some(ABC)).0, LogFileStatus::Unreadable);
    }
}
