//! Random identifiers in the shapes AWS uses, all drawn from a seeded generator.
//!
//! Everything the generator writes must be a pure function of the options, so no identifier may
//! come from the clock, the OS or a global RNG: every helper here takes the caller's `ChaCha8Rng`.

use chrono::{DateTime, Utc};
use rand::Rng;
use rand_chacha::ChaCha8Rng;

pub type GenRng = ChaCha8Rng;

const UPPER_ALNUM: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
const LOWER_ALNUM: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";
const MIXED_ALNUM: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
/// IAM unique ids and access keys use upper-case letters and the digits 2-7.
const IAM_CHARS: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
const HEX: &[u8] = b"0123456789abcdef";

fn from_alphabet(rng: &mut GenRng, alphabet: &[u8], len: usize) -> String {
    (0..len)
        .map(|_| alphabet[rng.gen_range(0..alphabet.len())] as char)
        .collect()
}

/// The 16 characters that make log file names unique (`..._20261001T1005Z_Ab3dEf...json.gz`).
pub fn file_suffix(rng: &mut GenRng) -> String {
    from_alphabet(rng, MIXED_ALNUM, 16)
}

/// `o-` and 10 lower-case alphanumerics.
pub fn org_id(rng: &mut GenRng) -> String {
    format!("o-{}", from_alphabet(rng, LOWER_ALNUM, 10))
}

/// A 12-digit account id that does not start with 0 (the archive layout parser accepts any 12
/// digits, but real ids rarely start with 0 and humans notice).
pub fn account_id(rng: &mut GenRng) -> String {
    format!(
        "{}",
        rng.gen_range(100_000_000_000u64..1_000_000_000_000u64)
    )
}

/// IAM unique ids (`AIDA...`, `AROA...`) and access key ids (`AKIA...`, `ASIA...`): 4-letter type
/// prefix and 16 characters.
pub fn iam_id(rng: &mut GenRng, prefix: &str) -> String {
    format!("{prefix}{}", from_alphabet(rng, IAM_CHARS, 16))
}

/// S3-style request ids: 16 upper-case alphanumerics.
pub fn s3_request_id(rng: &mut GenRng) -> String {
    from_alphabet(rng, UPPER_ALNUM, 16)
}

/// Base64-looking opaque token (S3's `x-amz-id-2`).
pub fn opaque_token(rng: &mut GenRng, len: usize) -> String {
    from_alphabet(rng, MIXED_ALNUM, len)
}

/// Lower-case hex, as in `i-0abc...`, `sg-0abc...`.
pub fn hex_id(rng: &mut GenRng, prefix: &str, len: usize) -> String {
    format!("{prefix}{}", from_alphabet(rng, HEX, len))
}

/// A version-4 UUID built from the generator (`eventID`, most `requestID`s).
pub fn uuid_v4(rng: &mut GenRng) -> String {
    let mut b: [u8; 16] = rng.r#gen();
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let h = hex::encode(b);
    format!(
        "{}-{}-{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    )
}

/// A public-looking IPv4 address (first octets from ranges cloud and ISP clients really use).
pub fn public_ip(rng: &mut GenRng) -> String {
    const FIRST: [u8; 10] = [3, 18, 34, 52, 54, 81, 88, 92, 185, 212];
    format!(
        "{}.{}.{}.{}",
        FIRST[rng.gen_range(0..FIRST.len())],
        rng.gen_range(1..=254u8),
        rng.gen_range(0..=255u8),
        rng.gen_range(1..=254u8)
    )
}

/// `YYYY-MM-DDTHH:MM:SSZ`, the only eventTime shape CloudTrail writes today.
pub fn iso_seconds(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

/// SplitMix64 finaliser: turns (seed, lane) pairs into well-spread, independent sub-seeds, so each
/// parallel task gets its own stream whatever the thread scheduling.
pub fn mix_seed(seed: u64, lane: u64) -> u64 {
    let mut z = seed ^ lane.wrapping_mul(0x9E37_79B9_7F4A_7C15);
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// Stable 64-bit hash of a string (FNV-1a), for seeds that must not depend on list positions.
pub fn stable_hash(s: &str) -> u64 {
    s.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}
