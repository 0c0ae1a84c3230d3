//! The fuzz targets' properties (see `fuzz/`), checked in every test run on seeded mutations of
//! real inputs, so CI fuzzes on the stable toolchain: log files, digests, object keys, metric
//! filter patterns and Sigma rules, each cut, spliced and salted with the bytes parsers trip on.
//! `cargo fuzz` explores far more; this keeps what it found from coming back.
//!
//! The seed is fixed, so a failure is reproducible; `TRAILSCOPE_MUTATION_SEED` and
//! `TRAILSCOPE_MUTATION_ROUNDS` (a multiplier) explore further by hand.

use std::io::{Read, Write};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::Path;

use arrow::compute::concat_batches;
use arrow::record_batch::RecordBatch;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use trailscope::archive::{SourceObject, parse_key};
use trailscope::decode::Decoder;
use trailscope::detect::load;
use trailscope::integrity::digest::DigestDoc;
use trailscope::table::filter_pattern::Pattern;

use crate::util::{keys_under, testdata};

/// What parsers of JSON, keys and patterns trip on.
const TOKENS: &[&[u8]] = &[
    b"\"",
    b"\\",
    b"{",
    b"}",
    b"[",
    b"]",
    b",",
    b":",
    b"\\u",
    b"\\ud800",
    b"\\uDFFF",
    b"null",
    b"true",
    b"1e999999",
    b"-0",
    b"18446744073709551616",
    b"\"Records\":[",
    b"\xff",
    b"\xc3",
    b"\x00",
    b"\n",
    b"*",
    b"?",
    b"|",
    b"'",
    b"/",
    b"//",
    b"..",
    b"%",
    b"$.",
    b"&&",
    b"||",
    b"(",
    b")",
    b"=",
    b"!=",
    b"- ",
    b"  ",
    b"\t",
    b"&a",
    b"*a",
    b"!!binary",
    b"---",
];

struct Mutator {
    rng: ChaCha8Rng,
}

impl Mutator {
    fn new(salt: u64) -> Mutator {
        let seed: u64 = std::env::var("TRAILSCOPE_MUTATION_SEED")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or(20261203);
        Mutator {
            rng: ChaCha8Rng::seed_from_u64(seed ^ salt),
        }
    }

    /// One to four edits of `seed`: a byte changed, a token inserted, a span deleted or
    /// repeated, the end cut off, or a piece of `other` spliced in.
    fn mutate(&mut self, seed: &[u8], other: &[u8]) -> Vec<u8> {
        let mut out = seed.to_vec();
        for _ in 0..self.rng.gen_range(1..=4) {
            let at = self.rng.gen_range(0..=out.len());
            match self.rng.gen_range(0..6) {
                0 if !out.is_empty() => {
                    let i = at.min(out.len() - 1);
                    out[i] = self.rng.r#gen();
                }
                1 => {
                    let token = TOKENS[self.rng.gen_range(0..TOKENS.len())];
                    out.splice(at..at, token.iter().copied());
                }
                2 => {
                    let end = (at + self.rng.gen_range(1..64)).min(out.len());
                    out.drain(at..end);
                }
                3 => {
                    let end = (at + self.rng.gen_range(1..256)).min(out.len());
                    let span = out[at..end].to_vec();
                    out.splice(at..at, span);
                }
                4 => out.truncate(at),
                _ if !other.is_empty() => {
                    let from = self.rng.gen_range(0..other.len());
                    let end = (from + self.rng.gen_range(1..512)).min(other.len());
                    out.splice(at..at, other[from..end].iter().copied());
                }
                _ => {}
            }
        }
        out
    }

    fn pick<'a, T>(&mut self, seeds: &'a [T]) -> &'a T {
        &seeds[self.rng.gen_range(0..seeds.len())]
    }
}

fn rounds(n: usize) -> usize {
    let times: usize = std::env::var("TRAILSCOPE_MUTATION_ROUNDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1);
    n * times.max(1)
}

/// Runs `check` on `input`; a panic fails the test naming the case, so it can be replayed.
fn case(target: &str, round: usize, input: &[u8], check: impl FnOnce()) {
    if catch_unwind(AssertUnwindSafe(check)).is_err() {
        let shown: String = String::from_utf8_lossy(input).chars().take(400).collect();
        panic!(
            "{target}: round {round} failed on input ({} bytes): {shown:?}",
            input.len()
        );
    }
}

fn gunzip(bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    flate2::read::MultiGzDecoder::new(bytes)
        .read_to_end(&mut out)
        .unwrap();
    out
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(bytes).unwrap();
    gz.finish().unwrap()
}

/// The bundled archive's small files of one kind (`CloudTrail/` or `CloudTrail-Digest/`),
/// inflated.
fn bundled(kind: &str) -> Vec<Vec<u8>> {
    let root = testdata().join("archive");
    let mut seeds: Vec<Vec<u8>> = keys_under(&root)
        .into_iter()
        .filter(|k| k.contains(&format!("/{kind}/")) && k.ends_with(".json.gz"))
        .filter_map(|k| {
            let bytes = std::fs::read(root.join(&k)).ok()?;
            (bytes.len() < 8 << 10).then(|| gunzip(&bytes))
        })
        .collect();
    seeds.sort();
    seeds.truncate(40);
    assert!(
        !seeds.is_empty(),
        "no {kind} seeds under {}",
        root.display()
    );
    seeds
}

#[test]
fn mutated_log_files_are_read_or_named_never_a_panic() {
    let seeds = bundled("CloudTrail");
    let mut m = Mutator::new(1);
    for round in 0..rounds(12_000) {
        let (seed, other) = (m.pick(&seeds), m.pick(&seeds));
        let json = m.mutate(seed, other);
        let gzipped = round % 3 != 2;
        // Most rounds gzip the mutated JSON (the record reader meets it); the others mutate the
        // gzip stream itself.
        let bytes = if gzipped {
            gzip(&json)
        } else {
            {
                let seed: &Vec<u8> = m.pick(&seeds);
                let seed = gzip(seed);
                m.mutate(&seed, &[])
            }
        };
        let object = SourceObject {
            key: "AWSLogs/111122223333/CloudTrail/us-east-1/2024/01/01/m.json.gz".into(),
            account_id: "111122223333".into(),
            region: "us-east-1".into(),
            bytes: bytes.clone().into(),
        };
        case("decode", round, &json, || {
            let mut decoder = Decoder::new(None, None, None);
            if round % 2 == 1 {
                decoder = decoder.with_record_json();
            }
            let decoded = decoder.decode(std::slice::from_ref(&object));
            // Every object gets a verdict: read, named as unreadable with a reason, or both (a
            // partly read object keeps its rows and is named).
            assert!(decoded.objects_read + decoded.errors.len() >= 1);
            for e in &decoded.errors {
                assert_eq!(e.key, object.key);
                assert!(!e.reason.trim().is_empty());
            }
            // Read in slices, as an object too large to inflate whole is: the same verdict and
            // the same rows.
            let read_whole = decoded.objects_read == 1;
            match trailscope::decode::slices::check(&object, true) {
                Ok(_) => {
                    assert!(
                        read_whole,
                        "read in slices, not whole: {:?}",
                        decoded.errors
                    );
                    let slices: Vec<RecordBatch> = decoder
                        .slices(object.clone())
                        .with_slice_bytes(4096)
                        .collect::<Result<_, _>>()
                        .expect("an object its check accepted reads");
                    let schema = decoder.schema();
                    assert_eq!(
                        concat_batches(&schema, &slices).unwrap(),
                        concat_batches(&schema, &decoded.batches).unwrap()
                    );
                }
                Err(why) => assert!(!read_whole, "read whole, but in slices: {why}"),
            }
        });
    }
}

#[test]
fn mutated_digests_parse_or_are_refused() {
    let seeds = bundled("CloudTrail-Digest");
    let mut m = Mutator::new(2);
    for round in 0..rounds(15_000) {
        let (seed, other) = (m.pick(&seeds), m.pick(&seeds));
        let body = m.mutate(seed, other);
        case("digest", round, &body, || {
            if let Ok(doc) = DigestDoc::parse(&body) {
                let _ = doc.start_time();
                let _ = doc.end_time();
                let _ = doc.starts_chain();
                let _ = doc.log_file_count();
                let _ = doc.string_to_sign(&"0".repeat(64));
            }
        });
    }
}

#[test]
fn mutated_object_keys_are_parsed_to_what_they_hold_or_refused() {
    let root = testdata().join("archive");
    let seeds: Vec<Vec<u8>> = keys_under(&root)
        .into_iter()
        .take(200)
        .map(String::into_bytes)
        .collect();
    let mut m = Mutator::new(3);
    for round in 0..rounds(40_000) {
        let (seed, other) = (m.pick(&seeds), m.pick(&seeds));
        let bytes = m.mutate(seed, other);
        let Ok(key) = std::str::from_utf8(&bytes) else {
            continue;
        };
        case("object_key", round, &bytes, || {
            if let Some(parsed) = parse_key(key) {
                assert!(key.contains(&parsed.account_id));
                assert!(key.contains(&parsed.region));
                assert!(key.ends_with(&parsed.file_name));
            }
        });
    }
}

#[test]
fn mutated_filter_patterns_parse_or_are_refused_and_match_without_panics() {
    let snapshot = std::fs::read_to_string(testdata().join("snapshot-566424620868.json")).unwrap();
    let mut seeds: Vec<Vec<u8>> = Vec::new();
    collect_patterns(&serde_json::from_str(&snapshot).unwrap(), &mut seeds);
    seeds.extend([
        b"{ $.userIdentity.type = \"Root\" && $.eventType != \"AwsServiceEvent\" }".to_vec(),
        b"{ ($.errorCode = \"*UnauthorizedOperation\") || ($.errorCode = \"AccessDenied*\") }"
            .to_vec(),
        b"{ $.requestParameters.count > 10 }".to_vec(),
        b"ERROR -DEBUG \"exact phrase\"".to_vec(),
    ]);
    let events = bundled("CloudTrail");
    let mut m = Mutator::new(4);
    for round in 0..rounds(20_000) {
        let (seed, other) = (m.pick(&seeds), m.pick(&seeds));
        let bytes = m.mutate(seed, other);
        let Ok(pattern) = std::str::from_utf8(&bytes) else {
            continue;
        };
        let event: &Vec<u8> = m.pick(&events);
        let event = String::from_utf8_lossy(event).into_owned();
        case("filter_pattern", round, &bytes, || {
            if let Ok(p) = Pattern::parse(pattern) {
                let _ = p.matches(&event);
                let _ = p.matches("{}");
            }
        });
    }
}

fn collect_patterns(v: &serde_json::Value, out: &mut Vec<Vec<u8>>) {
    match v {
        serde_json::Value::Object(map) => {
            for (k, v) in map {
                match (k.as_str(), v) {
                    ("filterPattern", serde_json::Value::String(s)) => {
                        out.push(s.clone().into_bytes())
                    }
                    _ => collect_patterns(v, out),
                }
            }
        }
        serde_json::Value::Array(items) => items.iter().for_each(|v| collect_patterns(v, out)),
        _ => {}
    }
}

#[test]
fn mutated_sigma_rules_compile_are_skipped_or_fail_with_a_reason() {
    let pack = Path::new(env!("CARGO_MANIFEST_DIR")).join("queries/detections");
    let mut seeds: Vec<Vec<u8>> = keys_under(&pack)
        .into_iter()
        .filter(|k| k.ends_with(".yml"))
        .map(|k| std::fs::read(pack.join(k)).unwrap())
        .collect();
    seeds.sort();
    assert!(seeds.len() > 10);
    let mut m = Mutator::new(5);
    for round in 0..rounds(3_000) {
        let (seed, other) = (m.pick(&seeds), m.pick(&seeds));
        let bytes = m.mutate(seed, other);
        let Ok(text) = String::from_utf8(bytes.clone()) else {
            continue;
        };
        case("sigma_rule", round, &bytes, || {
            let set = load::load(&[("m.yml".to_string(), text)]);
            for c in &set.compiled {
                assert!(c.sql.starts_with("SELECT") || c.sql.starts_with("WITH"));
            }
        });
    }
}
