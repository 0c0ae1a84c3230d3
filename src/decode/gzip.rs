//! Inflating a log object: exactly one gzip member, as CloudTrail writes.
//!
//! Bytes after the first member are never part of what CloudTrail delivered (its digests hash the
//! first member's content only), so they are reported, not silently concatenated as a
//! multi-member decoder would. Objects without the gzip magic are taken as plain JSON: local
//! mirrors sometimes hold uncompressed `.json` copies.

use std::io::Read;

use flate2::bufread::GzDecoder;

/// The uncompressed content of an object.
#[derive(Debug)]
pub struct Inflated {
    pub bytes: Vec<u8>,
    /// Bytes found after the end of the first gzip member (0 for a well-formed file).
    pub trailing_bytes: usize,
}

pub fn is_gzip(bytes: &[u8]) -> bool {
    bytes.starts_with(&[0x1f, 0x8b])
}

/// Inflates the first gzip member of `bytes` (or returns plain bytes as they are).
pub fn inflate(bytes: &[u8]) -> Result<Inflated, String> {
    if bytes.is_empty() {
        return Err("empty object (0 bytes)".into());
    }
    if !is_gzip(bytes) {
        return Ok(Inflated {
            bytes: bytes.to_vec(),
            trailing_bytes: 0,
        });
    }
    let mut input = bytes;
    // The gzip trailer's ISIZE is the size modulo 2^32: a good capacity hint for real log files.
    let hint = bytes
        .len()
        .checked_sub(4)
        .map(|at| {
            u32::from_le_bytes([bytes[at], bytes[at + 1], bytes[at + 2], bytes[at + 3]]) as usize
        })
        .filter(|&n| n < 1 << 30)
        .unwrap_or(bytes.len() * 8);
    let mut out = Vec::with_capacity(hint);
    let mut decoder = GzDecoder::new(&mut input);
    decoder
        .read_to_end(&mut out)
        .map_err(|e| format!("gzip: {e}"))?;
    drop(decoder);
    Ok(Inflated {
        bytes: out,
        trailing_bytes: input.len(),
    })
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

    #[test]
    fn single_member_has_no_trailing_bytes() {
        let got = inflate(&gzip(b"{\"Records\":[]}")).unwrap();
        assert_eq!(got.bytes, b"{\"Records\":[]}");
        assert_eq!(got.trailing_bytes, 0);
    }

    #[test]
    fn second_member_is_reported_not_read() {
        let mut data = gzip(b"first");
        let second = gzip(b"second");
        data.extend_from_slice(&second);
        let got = inflate(&data).unwrap();
        assert_eq!(got.bytes, b"first");
        assert_eq!(got.trailing_bytes, second.len());
    }

    #[test]
    fn plain_and_broken_inputs() {
        assert_eq!(inflate(b"{}").unwrap().bytes, b"{}");
        assert!(inflate(b"").unwrap_err().contains("empty"));
        let mut truncated = gzip(b"some longer content here");
        truncated.truncate(truncated.len() - 6);
        assert!(inflate(&truncated).unwrap_err().starts_with("gzip"));
    }
}
