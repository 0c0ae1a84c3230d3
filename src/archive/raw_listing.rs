//! Listing an S3 prefix with the keys exactly as S3 returns them.
//!
//! object_store turns every key of a listing page into a `Path` and fails the whole page on one
//! that cannot be one (`..`, `.`, `//`, control characters): one hostile key would stop the
//! listing of everything beside it. When that happens, the prefix is listed again here with the
//! AWS SDK, and the odd keys are named instead.

use chrono::{DateTime, Utc};
use object_store::ObjectMeta;
use object_store::path::Path;

use super::location::{S3Access, load_sdk_config};
use crate::error::{Error, Result};

/// Every object under `prefix`: the ones whose keys are paths, and the others (key, reason).
pub(crate) async fn list_raw(
    s3: &S3Access,
    prefix: &str,
) -> Result<(Vec<ObjectMeta>, Vec<(String, String)>)> {
    let sdk = load_sdk_config(&s3.options).await;
    let config = aws_sdk_s3::config::Builder::from(&sdk)
        .region(aws_sdk_s3::config::Region::new(s3.region.clone()))
        .force_path_style(s3.options.endpoint_url.is_some() || s3.bucket.contains('.'))
        .build();
    let client = aws_sdk_s3::Client::from_conf(config);
    let mut objects = Vec::new();
    let mut odd = Vec::new();
    let mut pages = client
        .list_objects_v2()
        .bucket(&s3.bucket)
        .prefix(prefix)
        // Keys come URL-encoded: a control character in a key is not legal XML.
        .encoding_type(aws_sdk_s3::types::EncodingType::Url)
        .into_paginator()
        .send();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| Error::Archive {
            location: format!("s3://{}", s3.bucket),
            reason: format!(
                "listing the prefix '{prefix}' failed: {}",
                crate::error::causes(&e)
            ),
        })?;
        for object in page.contents() {
            let Some(encoded) = object.key() else {
                continue;
            };
            let key = decode_key(encoded);
            let key = key.as_str();
            match Path::parse(key) {
                Ok(location) => objects.push(ObjectMeta {
                    location,
                    last_modified: object
                        .last_modified()
                        .and_then(|t| DateTime::<Utc>::from_timestamp(t.secs(), t.subsec_nanos()))
                        .unwrap_or_default(),
                    size: object.size().unwrap_or(0).max(0) as u64,
                    e_tag: object.e_tag().map(str::to_string),
                    version: None,
                }),
                Err(e) => odd.push((
                    key.to_string(),
                    format!("the key cannot be read as an object path ({e}): not read"),
                )),
            }
        }
    }
    Ok((objects, odd))
}

/// A key as `encoding-type=url` returns it, decoded (`+` is a space there).
fn decode_key(encoded: &str) -> String {
    let spaced = encoded.replace('+', " ");
    percent_encoding::percent_decode_str(&spaced)
        .decode_utf8_lossy()
        .into_owned()
}

#[cfg(test)]
mod tests {
    #[test]
    fn keys_are_decoded_as_s3_encodes_them() {
        assert_eq!(
            super::decode_key("a/b%2Bc+d%01.json.gz"),
            "a/b+c d\u{1}.json.gz"
        );
    }
}
