//! CloudTrail's digest-signing public keys: the keys file, DER decoding, fingerprints, and
//! `cloudtrail:ListPublicKeys`.
//!
//! A key's `Value` is base64 DER. AWS documents PKCS#1 `RSAPublicKey`, but one of the keys in its
//! own documentation is an X.509 `SubjectPublicKeyInfo`, so both are accepted. Digests name their
//! key by `digestPublicKeyFingerprint` = hex MD5 of those DER bytes; the fingerprint is recomputed
//! here rather than trusted from the file, so a keys file cannot pair a fingerprint with a
//! different key.

use std::collections::{BTreeSet, HashMap};

use base64::Engine as _;
use chrono::{DateTime, Duration, TimeZone, Utc};
use md5::Md5;
use ring::signature::{RSA_PKCS1_2048_8192_SHA256, RsaPublicKeyComponents};
use rsa::RsaPublicKey;
use rsa::pkcs1::DecodeRsaPublicKey;
use rsa::pkcs8::DecodePublicKey;
use rsa::traits::PublicKeyParts;
use serde_json::Value;
use sha2::Digest;

use crate::archive::S3Options;
use crate::error::{Error, Result};

/// One public key, decoded.
#[derive(Debug, Clone)]
pub struct PublicKey {
    /// Hex MD5 of `der`.
    pub fingerprint: String,
    pub der: Vec<u8>,
    pub valid_from: Option<DateTime<Utc>>,
    pub valid_to: Option<DateTime<Utc>>,
    /// Modulus and exponent, big-endian, as `ring` verifies with them.
    components: RsaPublicKeyComponents<Vec<u8>>,
}

impl PublicKey {
    /// Decodes DER in either encoding and computes its fingerprint.
    pub fn from_der(der: &[u8]) -> std::result::Result<PublicKey, String> {
        let key = RsaPublicKey::from_pkcs1_der(der)
            .or_else(|_| RsaPublicKey::from_public_key_der(der))
            .map_err(|e| {
                format!("not an RSA public key (neither PKCS#1 nor SubjectPublicKeyInfo): {e}")
            })?;
        Ok(PublicKey {
            fingerprint: fingerprint(der),
            der: der.to_vec(),
            valid_from: None,
            valid_to: None,
            components: RsaPublicKeyComponents {
                n: key.n().to_bytes_be(),
                e: key.e().to_bytes_be(),
            },
        })
    }

    /// Checks a hex RSA PKCS#1 v1.5 / SHA-256 signature over `message`.
    ///
    /// `ring` does the arithmetic: a verification costs ~20 µs there against ~150 µs in the
    /// pure-Rust `rsa` crate, which adds up over a year of hourly digests per region.
    pub fn verify(&self, message: &[u8], signature_hex: &str) -> std::result::Result<(), String> {
        let bytes =
            hex::decode(signature_hex.trim()).map_err(|e| format!("signature is not hex: {e}"))?;
        if bytes.len() != self.components.n.len() {
            return Err(format!(
                "malformed signature: {} bytes for a {}-bit key",
                bytes.len(),
                self.components.n.len() * 8
            ));
        }
        self.components
            .verify(&RSA_PKCS1_2048_8192_SHA256, message, &bytes)
            .map_err(|_| "RSA signature does not match".to_string())
    }
}

/// Hex MD5 of DER bytes: CloudTrail's key fingerprint.
pub fn fingerprint(der: &[u8]) -> String {
    hex::encode(Md5::digest(der))
}

/// Keys by fingerprint.
#[derive(Debug, Clone, Default)]
pub struct KeyRing {
    keys: HashMap<String, PublicKey>,
}

impl KeyRing {
    pub fn insert(&mut self, key: PublicKey) {
        self.keys.insert(key.fingerprint.clone(), key);
    }

    pub fn get(&self, fingerprint: &str) -> Option<&PublicKey> {
        self.keys.get(&fingerprint.trim().to_ascii_lowercase())
    }

    pub fn len(&self) -> usize {
        self.keys.len()
    }

    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    pub fn fingerprints(&self) -> BTreeSet<String> {
        self.keys.keys().cloned().collect()
    }

    /// Parses `aws cloudtrail list-public-keys --output json` output. Accepted variations, all
    /// seen in AWS's own examples: `PublicKeyList` or `publicKeyList`, times as epoch numbers,
    /// epoch strings (`"1436317441.0"`) or ISO 8601.
    pub fn from_json(bytes: &[u8]) -> std::result::Result<KeyRing, String> {
        let doc: Value = serde_json::from_slice(bytes).map_err(|e| format!("not JSON: {e}"))?;
        let list = doc
            .get("PublicKeyList")
            .or_else(|| doc.get("publicKeyList"))
            .and_then(Value::as_array)
            .ok_or("no PublicKeyList array (expected `aws cloudtrail list-public-keys --output json` output)")?;
        let mut ring = KeyRing::default();
        for (i, entry) in list.iter().enumerate() {
            let value = entry
                .get("Value")
                .and_then(Value::as_str)
                .ok_or_else(|| format!("key {i}: no Value"))?;
            let der = base64::engine::general_purpose::STANDARD
                .decode(value.trim())
                .map_err(|e| format!("key {i}: Value is not base64: {e}"))?;
            let mut key = PublicKey::from_der(&der).map_err(|e| format!("key {i}: {e}"))?;
            if let Some(claimed) = entry.get("Fingerprint").and_then(Value::as_str)
                && !claimed.eq_ignore_ascii_case(&key.fingerprint)
            {
                return Err(format!(
                    "key {i}: Fingerprint {claimed} is not the MD5 of its Value ({})",
                    key.fingerprint
                ));
            }
            key.valid_from = entry.get("ValidityStartTime").and_then(json_time);
            key.valid_to = entry.get("ValidityEndTime").and_then(json_time);
            ring.insert(key);
        }
        Ok(ring)
    }

    /// Reads a keys file.
    pub fn from_file(path: &std::path::Path) -> Result<KeyRing> {
        let bytes = std::fs::read(path).map_err(|e| Error::io(path.display(), e))?;
        KeyRing::from_json(&bytes)
            .map_err(|e| Error::input(crate::Input::PublicKeys, path.display(), e.to_string()))
    }
}

fn json_time(v: &Value) -> Option<DateTime<Utc>> {
    let epoch = |secs: f64| Utc.timestamp_opt(secs as i64, 0).single();
    match v {
        Value::Number(n) => n.as_f64().and_then(epoch),
        Value::String(s) => s
            .parse::<f64>()
            .ok()
            .and_then(epoch)
            .or_else(|| crate::time::parse_rfc3339(s)),
        _ => None,
    }
}

/// Asks `cloudtrail:ListPublicKeys` in each region for the keys valid in `[start, end + 2h]`
/// (the padding is aws-cli's: a digest signed just before a rotation names the old key).
pub async fn list_public_keys(
    opts: &S3Options,
    regions: &BTreeSet<String>,
    start: DateTime<Utc>,
    end: DateTime<Utc>,
) -> Result<KeyRing> {
    use aws_sdk_cloudtrail::primitives::DateTime as SdkTime;
    let sdk = crate::archive::location::load_sdk_config(opts).await;
    let mut ring = KeyRing::default();
    let end = end + Duration::hours(2);
    for region in regions {
        let config = aws_sdk_cloudtrail::config::Builder::from(&sdk)
            .region(aws_sdk_cloudtrail::config::Region::new(region.clone()))
            .build();
        let client = aws_sdk_cloudtrail::Client::from_conf(config);
        let mut token: Option<String> = None;
        loop {
            let answer = client
                .list_public_keys()
                .start_time(SdkTime::from_secs(start.timestamp()))
                .end_time(SdkTime::from_secs(end.timestamp()))
                .set_next_token(token.take())
                .send()
                .await
                .map_err(|e| {
                    let cause = crate::error::causes(&e);
                    if cause.contains("credentials") {
                        return Error::NoCredentials(cause);
                    }
                    Error::usage(format!(
                        "cloudtrail:ListPublicKeys in {region}: {cause}; to verify offline, give a public keys file (from `aws cloudtrail list-public-keys --output json`)"
                    ))
                })?;
            for key in answer.public_key_list() {
                let Some(value) = key.value() else { continue };
                let mut decoded = PublicKey::from_der(value.as_ref()).map_err(|e| {
                    Error::Evidence(format!(
                        "ListPublicKeys in {region} returned a bad key: {e}"
                    ))
                })?;
                let time =
                    |t: Option<&SdkTime>| t.and_then(|t| Utc.timestamp_opt(t.secs(), 0).single());
                decoded.valid_from = time(key.validity_start_time());
                decoded.valid_to = time(key.validity_end_time());
                ring.insert(decoded);
            }
            match answer.next_token() {
                Some(t) if !t.is_empty() => token = Some(t.to_string()),
                _ => break,
            }
        }
    }
    Ok(ring)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(path: &str) -> Vec<u8> {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata/samples");
        std::fs::read(dir.join(path)).unwrap()
    }

    #[test]
    fn real_public_keys_fingerprint_as_md5_of_der() {
        let docs = KeyRing::from_json(&sample(
            "awsdocs-cloudtrail-user-guide/extracted/list-public-keys_sample_response.json",
        ))
        .unwrap();
        let cli =
            KeyRing::from_json(&sample("aws-cli/extracted/list-public-keys_output.json")).unwrap();
        let mut all = docs.fingerprints();
        all.extend(cli.fingerprints());
        let expected: BTreeSet<String> = [
            "8eba5db5bea9b640d1c96a77256fe7f2",
            "8933b39ddc64d26d8e14ffbf6566fee4",
            "31e8b5433410dfb61a9dc45cc65b22ff",
            "7f3f401420072e50a65a141430817ab3",
        ]
        .map(String::from)
        .into();
        assert_eq!(all, expected);
        // The SubjectPublicKeyInfo key decodes too, and its fingerprint is over the SPKI bytes.
        let spki = docs.get("31e8b5433410dfb61a9dc45cc65b22ff").unwrap();
        assert_eq!(spki.der.len(), 294);
        assert_eq!(
            spki.valid_from.unwrap().timestamp(),
            1434589370,
            "epoch strings parse"
        );
        assert_eq!(
            cli.get("7F3F401420072E50A65A141430817AB3")
                .unwrap()
                .der
                .len(),
            270
        );
        assert_eq!(
            cli.get("7f3f401420072e50a65a141430817ab3")
                .unwrap()
                .valid_to
                .unwrap()
                .timestamp(),
            1455668702
        );
    }

    #[test]
    fn rejects_fingerprint_that_is_not_the_keys() {
        let mut doc: Value =
            serde_json::from_slice(&sample("aws-cli/extracted/list-public-keys_output.json"))
                .unwrap();
        doc["PublicKeyList"][0]["Fingerprint"] = Value::from("00000000000000000000000000000000");
        let err = KeyRing::from_json(doc.to_string().as_bytes()).unwrap_err();
        assert!(err.contains("not the MD5"), "{err}");
        assert!(
            KeyRing::from_json(b"{}")
                .unwrap_err()
                .contains("PublicKeyList")
        );
        assert!(PublicKey::from_der(b"junk").is_err());
    }

    #[test]
    fn verifies_generator_signature() {
        let key = PublicKey::from_der(&crate::generate::test_public_key_der()).unwrap();
        assert_eq!(key.fingerprint, crate::generate::test_key_fingerprint());
        let sig = crate::generate::sign_digest(&crate::generate::test_signing_key(), "hello");
        key.verify(b"hello", &sig).unwrap();
        assert!(key.verify(b"hellO", &sig).is_err());
        assert!(key.verify(b"hello", "zz").unwrap_err().contains("hex"));
        assert!(key.verify(b"hello", "00").is_err());
    }
}
