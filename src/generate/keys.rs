//! The bundled, public test signing key and the digest signing rules.
//!
//! No public, verifiable CloudTrail digest chain exists (the signature lives in S3 object metadata,
//! which mirrors lose, and AWS's private keys are AWS's), so synthetic archives are signed with a
//! throw-away RSA-2048 key committed in `testdata/keys/`. Anybody can forge signatures with it: it
//! exists only so that validation code can be tested end to end.
//!
//! The signing rules follow the AWS CloudTrail User Guide (and aws-cli's `validate-logs`): the string to
//! sign is `{digestEndTime}\n{bucket}/{object}\n{hex SHA-256 of the uncompressed digest}\n{previous
//! signature or null}`, signed with RSA PKCS#1 v1.5 over SHA-256, hex encoded.

use std::sync::OnceLock;

use base64::Engine as _;
use chrono::{DateTime, Utc};
use md5::Md5;
use rsa::pkcs1::EncodeRsaPublicKey;
use rsa::pkcs8::DecodePrivateKey;
use rsa::{Pkcs1v15Sign, RsaPrivateKey};
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::error::{Error, Result};

/// The signature algorithm name CloudTrail writes into digests and S3 metadata.
pub const SIGNATURE_ALGORITHM: &str = "SHA256withRSA";

const TEST_KEY_PEM: &str = include_str!("../../testdata/keys/trailscope-test-signing-key.pem");

/// Parsing (and checking) an RSA key costs a few milliseconds; tests call this a lot.
fn parsed_key() -> &'static RsaPrivateKey {
    static KEY: OnceLock<RsaPrivateKey> = OnceLock::new();
    KEY.get_or_init(|| {
        // The PEM is a constant compiled into the binary, not input: if it did not parse, every
        // build would be broken and the first test would say so.
        RsaPrivateKey::from_pkcs8_pem(TEST_KEY_PEM).expect("bundled test key is valid PKCS#8")
    })
}

/// The bundled, publicly known RSA-2048 test key. Never use it for anything real.
pub fn test_signing_key() -> RsaPrivateKey {
    parsed_key().clone()
}

/// The test key's public half as PKCS#1 `RSAPublicKey` DER: the bytes CloudTrail's
/// `ListPublicKeys` returns (base64) in `Value`.
pub fn test_public_key_der() -> Vec<u8> {
    static DER: OnceLock<Vec<u8>> = OnceLock::new();
    DER.get_or_init(|| {
        parsed_key()
            .to_public_key()
            .to_pkcs1_der()
            .expect("an RSA public key always encodes")
            .as_bytes()
            .to_vec()
    })
    .clone()
}

/// Hex MD5 of [`test_public_key_der`]: what digests carry in `digestPublicKeyFingerprint`.
pub fn test_key_fingerprint() -> String {
    hex::encode(Md5::digest(test_public_key_der()))
}

/// The string CloudTrail signs for a digest file.
///
/// `uncompressed_digest` is the digest file's JSON after gunzip; `previous_signature` is the
/// predecessor's hex signature (`previousDigestSignature`), `None` for the first digest of a chain.
pub fn digest_string_to_sign(
    end_time: &str,
    bucket: &str,
    object: &str,
    uncompressed_digest: &[u8],
    previous_signature: Option<&str>,
) -> String {
    format!(
        "{end_time}\n{bucket}/{object}\n{}\n{}",
        hex::encode(Sha256::digest(uncompressed_digest)),
        previous_signature.unwrap_or("null")
    )
}

/// Hex RSA PKCS#1 v1.5 / SHA-256 signature of `string_to_sign`.
///
/// # Panics
/// Only when the key is too small to hold a SHA-256 PKCS#1 v1.5 block (under 62 bytes, about 496
/// bits); use [`try_sign_digest`] for keys that come from outside.
pub fn sign_digest(key: &RsaPrivateKey, string_to_sign: &str) -> String {
    try_sign_digest(key, string_to_sign).expect("RSA key large enough for SHA-256 PKCS#1 v1.5")
}

/// [`sign_digest`] that reports a key too small instead of panicking.
pub fn try_sign_digest(key: &RsaPrivateKey, string_to_sign: &str) -> Result<String> {
    let hashed = Sha256::digest(string_to_sign.as_bytes());
    key.sign(Pkcs1v15Sign::new::<Sha256>(), &hashed)
        .map(hex::encode)
        .map_err(|e| Error::usage(format!("cannot sign digest: {e}")))
}

/// One entry of `aws cloudtrail list-public-keys --output json` (field order as the CLI prints).
#[derive(Serialize)]
struct PublicKeyEntry {
    #[serde(rename = "Value")]
    value: String,
    #[serde(rename = "ValidityStartTime")]
    validity_start: String,
    #[serde(rename = "ValidityEndTime")]
    validity_end: String,
    #[serde(rename = "Fingerprint")]
    fingerprint: String,
}

#[derive(Serialize)]
struct PublicKeyList {
    #[serde(rename = "PublicKeyList")]
    list: Vec<PublicKeyEntry>,
}

/// The keys file offline validation needs, in the shape AWS CLI v2 prints
/// (`{"PublicKeyList":[...]}`, ISO-8601 times with `+00:00`, four-space indent).
pub fn public_keys_json(valid_from: DateTime<Utc>, valid_to: DateTime<Utc>) -> Vec<u8> {
    let iso = |t: DateTime<Utc>| t.format("%Y-%m-%dT%H:%M:%S+00:00").to_string();
    let doc = PublicKeyList {
        list: vec![PublicKeyEntry {
            value: base64::engine::general_purpose::STANDARD.encode(test_public_key_der()),
            validity_start: iso(valid_from),
            validity_end: iso(valid_to),
            fingerprint: test_key_fingerprint(),
        }],
    };
    super::to_pretty_json(&doc)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rsa::RsaPublicKey;
    use rsa::pkcs1::DecodeRsaPublicKey;

    #[test]
    fn string_to_sign_known_answer() {
        assert_eq!(
            digest_string_to_sign("a", "b", "c", b"abc", None),
            "a\nb/c\nba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad\nnull"
        );
        assert!(digest_string_to_sign("a", "b", "c", b"abc", Some("ff")).ends_with("\nff"));
    }

    #[test]
    fn signature_verifies_with_published_der_and_fingerprint_is_md5() {
        let sig = hex::decode(sign_digest(&test_signing_key(), "hello")).unwrap();
        assert_eq!(sig.len(), 256);
        let public = RsaPublicKey::from_pkcs1_der(&test_public_key_der()).unwrap();
        let hashed = Sha256::digest(b"hello");
        public
            .verify(Pkcs1v15Sign::new::<Sha256>(), &hashed, &sig)
            .unwrap();
        assert!(
            public
                .verify(
                    Pkcs1v15Sign::new::<Sha256>(),
                    &Sha256::digest(b"other"),
                    &sig
                )
                .is_err()
        );
        assert_eq!(test_key_fingerprint().len(), 32);
        assert_eq!(
            test_key_fingerprint(),
            hex::encode(Md5::digest(test_public_key_der()))
        );
    }
}
