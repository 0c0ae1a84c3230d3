//! End-to-end tests of the generator: small archives written to a temp dir, read back, and
//! checked against the rules of CloudTrail's archive format (AWS CloudTrail User Guide). This file holds the shared reader;
//! [`archive`] checks layout, determinism and delivery, [`chain`] digests and stop episodes,
//! [`records`] record shapes.

mod archive;
mod chain;
mod records;

use std::collections::{BTreeMap, HashMap, HashSet};
use std::io::Read as _;
use std::path::Path;

use base64::Engine as _;
use chrono::{DateTime, NaiveDate, TimeZone, Utc};
use md5::Md5;
use rsa::pkcs1::DecodeRsaPublicKey;
use rsa::{Pkcs1v15Sign, RsaPublicKey};
use serde_json::Value;
use sha2::{Digest, Sha256};

use super::*;
use crate::archive::layout::{ObjectKind, ParsedKey, parse_key};

fn small() -> GenerateOptions {
    GenerateOptions {
        start: NaiveDate::from_ymd_opt(2026, 10, 1).unwrap(),
        days: 2,
        accounts: 2,
        regions: vec!["us-east-1".into(), "eu-west-1".into()],
        events_per_day: 600,
        ..GenerateOptions::default()
    }
}

struct Object {
    key: String,
    parsed: ParsedKey,
    body: Vec<u8>,
    json: Value,
}

struct Archive {
    logs: Vec<Object>,
    digests: Vec<Object>,
    signatures: Value,
    public_keys: Value,
}

fn walk(dir: &Path, root: &Path, out: &mut Vec<(String, Vec<u8>)>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            walk(&path, root, out);
        } else {
            let key = path
                .strip_prefix(root)
                .unwrap()
                .to_string_lossy()
                .replace('\\', "/");
            out.push((key, std::fs::read(&path).unwrap()));
        }
    }
}

fn files(root: &Path) -> BTreeMap<String, Vec<u8>> {
    let mut all = Vec::new();
    walk(root, root, &mut all);
    all.into_iter().collect()
}

fn gunzip(bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    flate2::read::GzDecoder::new(bytes)
        .read_to_end(&mut out)
        .unwrap();
    out
}

fn load(root: &Path) -> Archive {
    let mut archive = Archive {
        logs: Vec::new(),
        digests: Vec::new(),
        signatures: Value::Null,
        public_keys: Value::Null,
    };
    for (key, bytes) in files(root) {
        if key == SIGNATURES_FILE {
            archive.signatures = serde_json::from_slice(&bytes).unwrap();
            continue;
        }
        if key == PUBLIC_KEYS_FILE {
            archive.public_keys = serde_json::from_slice(&bytes).unwrap();
            continue;
        }
        let parsed = parse_key(&key).unwrap_or_else(|| panic!("unparsable key {key}"));
        let body = gunzip(&bytes);
        let json: Value = serde_json::from_slice(&body).unwrap();
        let object = Object {
            key,
            parsed,
            body,
            json,
        };
        match object.parsed.kind {
            ObjectKind::Log => archive.logs.push(object),
            ObjectKind::Digest => archive.digests.push(object),
            ObjectKind::Insight => panic!("no insights expected"),
        }
    }
    archive
}

fn time(v: &Value) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(v.as_str().unwrap())
        .unwrap()
        .to_utc()
}

fn records(o: &Object) -> &Vec<Value> {
    o.json["Records"].as_array().unwrap()
}

fn utc(y: i32, mo: u32, d: u32, h: u32, mi: u32, s: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(y, mo, d, h, mi, s).unwrap()
}
