//! Inflating a log object: exactly one gzip member, as CloudTrail writes.
//!
//! Bytes after the first member are never part of what CloudTrail delivered (its digests hash the
//! first member's content only), so they are reported, not silently concatenated as a
//! multi-member decoder would. Objects without the gzip magic are taken as plain JSON: local
//! mirrors sometimes hold uncompressed `.json` copies.

use std::io::Read;
use std::sync::{Condvar, Mutex};

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

/// The most a log object may inflate to and still be decoded whole. Every inflated byte is held
/// while the object is decoded, and its rows stay in one batch until the engine has consumed
/// them; a few KiB of gzip can inflate to gigabytes. A larger object is read in slices (see
/// [`super::slices`]). A few of these per core (one decoding, one decoded ahead, one being
/// consumed) stay well under the 1 GiB a command may use.
pub const MAX_LOG_INFLATED: usize = 64 << 20;
/// The most a digest may inflate to (they list log files: a few KiB to a few MiB).
pub const MAX_DIGEST_INFLATED: usize = 64 << 20;

/// Inflated output grows this much at a time.
const CHUNK: u64 = 1 << 20;
/// Past this size an inflation waits for its turn: one large inflation runs at a time, so a
/// handful of bombs met by every core at once cost one cap of memory, not one per core.
const LARGE: usize = 16 << 20;

static LARGE_TURN: (Mutex<bool>, Condvar) = (Mutex::new(false), Condvar::new());

/// The turn of one large inflation, given back when dropped.
pub(super) struct LargeTurn;

impl LargeTurn {
    pub(super) fn wait() -> LargeTurn {
        let (busy, freed) = &LARGE_TURN;
        let mut busy = busy.lock().unwrap_or_else(|e| e.into_inner());
        while *busy {
            busy = freed.wait(busy).unwrap_or_else(|e| e.into_inner());
        }
        *busy = true;
        LargeTurn
    }
}

impl Drop for LargeTurn {
    fn drop(&mut self) {
        let (busy, freed) = &LARGE_TURN;
        *busy.lock().unwrap_or_else(|e| e.into_inner()) = false;
        freed.notify_one();
    }
}

/// Why an object was not inflated.
#[derive(Debug, Clone, PartialEq)]
pub enum InflateError {
    /// It inflates to more than the cap given: a bomb, or a log file to read as a stream.
    TooLarge {
        cap: usize,
    },
    Bad(String),
}

impl std::fmt::Display for InflateError {
    fn fmt(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        match self {
            InflateError::TooLarge { cap } => write!(
                f,
                "inflates to more than {} MiB (a decompression bomb, or far larger than \
                 CloudTrail writes): not read",
                cap >> 20
            ),
            InflateError::Bad(why) => f.write_str(why),
        }
    }
}

impl From<InflateError> for String {
    fn from(e: InflateError) -> String {
        e.to_string()
    }
}

/// The inflated content of `bytes` as a stream (plain bytes as they are): for objects too large
/// to inflate whole (see [`super::slices`]). Bytes after the first gzip member are not read.
pub fn stream(bytes: bytes::Bytes) -> Box<dyn Read + Send> {
    if is_gzip(&bytes) {
        Box::new(GzDecoder::new(std::io::Cursor::new(bytes)))
    } else {
        Box::new(std::io::Cursor::new(bytes))
    }
}

/// What `bytes` say they inflate to: the gzip trailer's ISIZE (the size modulo 2^32, right for
/// real log files), or their length when they are plain. The object's own number, so a hint for
/// planning and capacity, never a limit.
pub fn size_hint(bytes: &[u8]) -> usize {
    if !is_gzip(bytes) {
        return bytes.len();
    }
    match bytes.len().checked_sub(4) {
        Some(at) => {
            u32::from_le_bytes([bytes[at], bytes[at + 1], bytes[at + 2], bytes[at + 3]]) as usize
        }
        None => 0,
    }
}

/// Inflates the first gzip member of `bytes` (or returns plain bytes as they are), refusing
/// more than `cap` bytes of output.
pub fn inflate(bytes: &[u8], cap: usize) -> Result<Inflated, InflateError> {
    if bytes.is_empty() {
        return Err(InflateError::Bad("empty object (0 bytes)".into()));
    }
    let too_big = || InflateError::TooLarge { cap };
    if !is_gzip(bytes) {
        if bytes.len() > cap {
            return Err(too_big());
        }
        return Ok(Inflated {
            bytes: bytes.to_vec(),
            trailing_bytes: 0,
        });
    }
    let mut input = bytes;
    // Never trusted past what needs no turn: it is the attacker's number.
    let hint = size_hint(bytes).min(LARGE.min(cap));
    let mut out = Vec::with_capacity(hint);
    let mut decoder = GzDecoder::new(&mut input);
    let mut turn = None;
    loop {
        let read = (&mut decoder)
            .take(CHUNK)
            .read_to_end(&mut out)
            .map_err(|e| InflateError::Bad(format!("gzip: {e}")))?;
        if read == 0 {
            break;
        }
        if out.len() > cap {
            return Err(too_big());
        }
        if out.len() > LARGE && turn.is_none() {
            turn = Some(LargeTurn::wait());
            // Room for the rest up to the cap at once: growing by doubling would hold the old
            // buffer and the new one together at every step (virtual until written).
            out.reserve_exact(cap + CHUNK as usize - out.len());
        }
    }
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
        let got = inflate(&gzip(b"{\"Records\":[]}"), MAX_LOG_INFLATED).unwrap();
        assert_eq!(got.bytes, b"{\"Records\":[]}");
        assert_eq!(got.trailing_bytes, 0);
    }

    #[test]
    fn second_member_is_reported_not_read() {
        let mut data = gzip(b"first");
        let second = gzip(b"second");
        data.extend_from_slice(&second);
        let got = inflate(&data, MAX_LOG_INFLATED).unwrap();
        assert_eq!(got.bytes, b"first");
        assert_eq!(got.trailing_bytes, second.len());
    }

    #[test]
    fn plain_and_broken_inputs() {
        assert_eq!(inflate(b"{}", MAX_LOG_INFLATED).unwrap().bytes, b"{}");
        assert!(
            inflate(b"", MAX_LOG_INFLATED)
                .unwrap_err()
                .to_string()
                .contains("empty")
        );
        let mut truncated = gzip(b"some longer content here");
        truncated.truncate(truncated.len() - 6);
        assert!(
            inflate(&truncated, MAX_LOG_INFLATED)
                .unwrap_err()
                .to_string()
                .starts_with("gzip")
        );
    }

    #[test]
    fn output_past_the_cap_is_refused_not_held() {
        let bomb = gzip(&vec![b' '; 100_000]);
        assert!(bomb.len() < 1_000);
        let e = inflate(&bomb, 10_000).unwrap_err().to_string();
        assert!(e.contains("decompression bomb"), "{e}");
        assert_eq!(inflate(&bomb, 100_000).unwrap().bytes.len(), 100_000);
        assert_eq!(
            inflate(&[b'{'; 20], 10).unwrap_err(),
            InflateError::TooLarge { cap: 10 }
        );
    }
}
