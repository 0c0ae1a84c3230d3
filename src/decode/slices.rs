//! Log objects too large to hold inflated, read in slices.
//!
//! An object that inflates past [`gzip::MAX_LOG_INFLATED`] is legal JSON more often than not (a
//! busy trail's five minutes can be large), so it is not refused: it is read twice as a stream,
//! never whole. The first pass inflates it, checks every record as the whole-object path would
//! (so the object still gets one verdict: read whole, or named and left out whole) and hashes its
//! content for the integrity checks. The second pass hands out its records a slice at a time,
//! each slice a small document of whole records decoded by the same code as any object. Memory
//! follows the slice, not the object.
//!
//! [`Splitter`] walks the document's outer structure (an object with one `"Records"` array, or a
//! bare array), checking it as serde_json would, and copies each record's bytes verbatim; serde
//! checks the records themselves when their slice is decoded. Each slice is wrapped as the
//! original was (`{"Records":[...]}` or `[...]`) so nesting limits apply at the same depth.

use std::io::Read;

use arrow::record_batch::RecordBatch;
use sha2::{Digest, Sha256};

use super::builder::Checked;
use super::{Decoder, gzip};
use crate::archive::{ContentHash, SourceObject};

/// What the first pass learnt of an object it accepted.
pub struct Accepted {
    /// Bytes after the first gzip member (reported, not read).
    pub trailing_bytes: usize,
    /// Its content's hash, when asked for.
    pub content: Option<ContentHash>,
}

/// The first pass over an object too large to inflate whole: every record checked as its slice
/// would be decoded (with no column built), the content hashed when `hash`. `Ok` means the
/// second pass ([`Slices`]) reads it whole.
pub fn check(object: &SourceObject, hash: bool) -> Result<Accepted, String> {
    // One large object at a time, as for inflating whole.
    let _turn = gzip::LargeTurn::wait();
    let checker = Decoder::new(Some(&[]), None, None);
    let mut input: &[u8] = &object.bytes;
    let gzipped = gzip::is_gzip(input);
    let inner: Box<dyn Read + '_> = if gzipped {
        Box::new(flate2::bufread::GzDecoder::new(&mut input))
    } else {
        Box::new(object.bytes.as_ref())
    };
    let mut splitter = Splitter::new(Hashing {
        inner,
        hash: hash.then(Sha256::new),
        len: 0,
    });
    while let Some(slice) = splitter.next_slice()? {
        checker.decode_document(object, slice)?;
    }
    let Hashing { hash, len, inner } = splitter.into_inner();
    drop(inner);
    let trailing_bytes = if gzipped { input.len() } else { 0 };
    Ok(Accepted {
        trailing_bytes,
        content: hash.map(|h| ContentHash {
            sha256: hex::encode(h.finalize()),
            uncompressed_len: len,
            trailing_bytes,
        }),
    })
}

/// A reader that counts (and, given a hasher, hashes) what passes through it.
struct Hashing<R> {
    inner: R,
    hash: Option<Sha256>,
    len: u64,
}

impl<R: Read> Read for Hashing<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        if let Some(hash) = &mut self.hash {
            hash.update(&buf[..n]);
        }
        self.len += n as u64;
        Ok(n)
    }
}

/// The second pass: an object [`check`] accepted, as batches of at most a slice's records.
pub struct Slices {
    decoder: Decoder,
    object: SourceObject,
    splitter: Splitter<Box<dyn Read + Send>>,
}

impl Slices {
    pub(super) fn new(decoder: Decoder, object: SourceObject) -> Slices {
        let splitter = Splitter::new(gzip::stream(object.bytes.clone()));
        Slices {
            decoder,
            object,
            splitter,
        }
    }

    pub fn key(&self) -> &str {
        &self.object.key
    }

    /// The same reading in slices of about `bytes` (tests slice small documents).
    pub fn with_slice_bytes(mut self, bytes: usize) -> Self {
        self.splitter.slice_bytes = bytes.max(1);
        self
    }
}

impl Iterator for Slices {
    /// A batch, or why the object could not be read this time although its check passed (the
    /// object changed, or a bug): rows of it have been handed out, so the caller must fail.
    type Item = Result<RecordBatch, String>;

    fn next(&mut self) -> Option<Self::Item> {
        // A turn per slice, never across slices: the consumer may wait on another partition.
        let _turn = gzip::LargeTurn::wait();
        let slice = match self.splitter.next_slice() {
            Ok(slice) => slice?,
            Err(e) => return Some(Err(e)),
        };
        Some(self.decoder.decode_document(&self.object, slice))
    }
}

/// Records are handed out in documents of about this many bytes.
pub const SLICE_BYTES: usize = 32 << 20;
/// The most a streamed object may inflate to: past this it is named and not read (a
/// decompression bomb of gigabytes would otherwise cost minutes of inflating).
pub const MAX_STREAMED: u64 = 4 << 30;
/// The largest record (or other top-level value) held: as large as any object read whole, and
/// 64 times CloudTrail's own limit on an event (1 MB, an event data store's `Large` size).
pub const MAX_VALUE_BYTES: usize = gzip::MAX_LOG_INFLATED;
/// The longest run of whitespace between values: CloudTrail writes none, and gigabytes of it
/// compress to almost nothing (a bomb that is legal JSON).
pub const MAX_WHITESPACE_RUN: usize = 1 << 20;

/// The outer structure's state between slices.
#[derive(Debug, Clone, Copy, PartialEq)]
enum At {
    Start,
    /// Inside the top-level object, before a key (or its end).
    ObjectKey {
        first: bool,
    },
    /// Inside the records array, before an element (or its end).
    Element {
        first: bool,
    },
    Done,
}

/// The outer structure of a log document read from a stream, record by record.
pub struct Splitter<R> {
    input: R,
    buf: Box<[u8]>,
    pos: usize,
    end: usize,
    /// Inflated bytes taken from `input` so far.
    read: u64,
    at: At,
    /// Records are handed out in documents of about this many bytes ([`SLICE_BYTES`]).
    slice_bytes: usize,
    /// A bare array (as `lookup-events` exports) rather than `{"Records": [...]}`.
    bare: bool,
    found_records: bool,
}

impl<R: Read> Splitter<R> {
    pub fn new(input: R) -> Self {
        Splitter {
            input,
            buf: vec![0; 64 << 10].into_boxed_slice(),
            pos: 0,
            end: 0,
            read: 0,
            at: At::Start,
            slice_bytes: SLICE_BYTES,
            bare: false,
            found_records: false,
        }
    }

    pub fn into_inner(self) -> R {
        self.input
    }

    /// The next slice of records as a document, `None` once the document has ended (and been
    /// checked to its last byte).
    pub fn next_slice(&mut self) -> Result<Option<Vec<u8>>, String> {
        let mut records: Vec<u8> = Vec::new();
        loop {
            match self.at {
                At::Done => break,
                At::Start => self.start()?,
                At::ObjectKey { first } => self.object_key(first)?,
                At::Element { first } => {
                    self.skip_whitespace()?;
                    match self.peek()? {
                        Some(b']') if first => {
                            self.pos += 1;
                            self.end_records()?;
                        }
                        _ => {
                            if !first {
                                match self.next_byte()? {
                                    Some(b',') => {}
                                    Some(b']') => {
                                        self.end_records()?;
                                        continue;
                                    }
                                    other => return Err(unexpected(other, "',' or ']'")),
                                }
                            }
                            self.skip_whitespace()?;
                            records.push(if records.is_empty() { b'[' } else { b',' });
                            self.value(&mut records)?;
                            self.at = At::Element { first: false };
                            if records.len() >= self.slice_bytes {
                                break;
                            }
                        }
                    }
                }
            }
        }
        if records.is_empty() {
            return Ok(None);
        }
        records.push(b']');
        if self.bare {
            return Ok(Some(records));
        }
        let mut document = b"{\"Records\":".to_vec();
        document.extend_from_slice(&records);
        document.push(b'}');
        Ok(Some(document))
    }

    fn start(&mut self) -> Result<(), String> {
        self.skip_whitespace()?;
        match self.next_byte()? {
            Some(b'{') => self.at = At::ObjectKey { first: true },
            Some(b'[') => {
                self.bare = true;
                self.found_records = true;
                self.at = At::Element { first: true };
            }
            other => return Err(unexpected(other, "a JSON object or array")),
        }
        Ok(())
    }

    fn object_key(&mut self, first: bool) -> Result<(), String> {
        self.skip_whitespace()?;
        match self.next_byte()? {
            Some(b'}') if first => return self.end_document(),
            Some(b'"') if first => {}
            Some(b',') if !first => {
                self.skip_whitespace()?;
                match self.next_byte()? {
                    Some(b'"') => {}
                    other => return Err(unexpected(other, "a key")),
                }
            }
            Some(b'}') => return self.end_document(),
            other => {
                return Err(unexpected(
                    other,
                    if first { "a key or '}'" } else { "',' or '}'" },
                ));
            }
        }
        let mut key = vec![b'"'];
        self.string_rest(&mut key)?;
        let key: String = serde_json::from_slice(&key).map_err(|e| format!("a key: {e}"))?;
        self.skip_whitespace()?;
        match self.next_byte()? {
            Some(b':') => {}
            other => return Err(unexpected(other, "':'")),
        }
        self.skip_whitespace()?;
        if key == "Records" {
            if self.found_records {
                return Err("a second \"Records\" array (CloudTrail writes one)".into());
            }
            match self.next_byte()? {
                Some(b'[') => {}
                other => return Err(unexpected(other, "an array of records")),
            }
            self.found_records = true;
            self.at = At::Element { first: true };
        } else {
            let mut value = Vec::new();
            self.value(&mut value)?;
            // Checked one level down, as it is inside the document (nesting limits count).
            value.insert(0, b'[');
            value.push(b']');
            serde_json::from_slice::<Vec<Checked>>(&value).map_err(|e| format!("{key:?}: {e}"))?;
            self.at = At::ObjectKey { first: false };
        }
        Ok(())
    }

    /// After the records array's `]`.
    fn end_records(&mut self) -> Result<(), String> {
        self.at = if self.bare {
            return self.end_document();
        } else {
            At::ObjectKey { first: false }
        };
        Ok(())
    }

    /// After the document's last byte: only whitespace may follow.
    fn end_document(&mut self) -> Result<(), String> {
        if !self.found_records {
            return Err("JSON object without a \"Records\" array".into());
        }
        self.skip_whitespace()?;
        match self.next_byte()? {
            None => {
                self.at = At::Done;
                Ok(())
            }
            Some(b) => Err(format!(
                "unexpected data after the JSON document (byte {b:#04x})"
            )),
        }
    }

    /// Copies one JSON value's bytes into `out` as they are; serde checks them later.
    fn value(&mut self, out: &mut Vec<u8>) -> Result<(), String> {
        let start = out.len();
        match self.next_byte()? {
            None => return Err(unexpected(None, "a value")),
            Some(b @ (b',' | b']' | b'}' | b':')) => return Err(unexpected(Some(b), "a value")),
            Some(b'"') => {
                out.push(b'"');
                self.string_rest(out)?;
            }
            Some(open @ (b'{' | b'[')) => {
                out.push(open);
                let mut depth = 1usize;
                while depth > 0 {
                    let Some(b) = self.next_byte()? else {
                        return Err(unexpected(None, "the end of a value"));
                    };
                    out.push(b);
                    match b {
                        b'"' => self.string_rest(out)?,
                        b'{' | b'[' => depth += 1,
                        b'}' | b']' => depth -= 1,
                        _ => {}
                    }
                    self.check_size(out.len() - start)?;
                }
            }
            Some(first) => {
                // A number, true, false or null: up to the next delimiter.
                out.push(first);
                while let Some(b) = self.peek()? {
                    if matches!(b, b',' | b']' | b'}' | b' ' | b'\t' | b'\n' | b'\r') {
                        break;
                    }
                    out.push(b);
                    self.pos += 1;
                    self.check_size(out.len() - start)?;
                }
            }
        }
        self.check_size(out.len() - start)
    }

    /// The rest of a string whose opening quote was taken, escapes included, into `out`.
    fn string_rest(&mut self, out: &mut Vec<u8>) -> Result<(), String> {
        let start = out.len();
        loop {
            if self.pos == self.end && !self.fill()? {
                return Err(unexpected(None, "the end of a string"));
            }
            let chunk = &self.buf[self.pos..self.end];
            match chunk.iter().position(|&b| b == b'"' || b == b'\\') {
                None => {
                    out.extend_from_slice(chunk);
                    self.pos = self.end;
                }
                Some(i) => {
                    out.extend_from_slice(&chunk[..=i]);
                    self.pos += i + 1;
                    if chunk[i] == b'"' {
                        return self.check_size(out.len() - start);
                    }
                    match self.next_byte()? {
                        Some(escaped) => out.push(escaped),
                        None => return Err(unexpected(None, "the end of a string")),
                    }
                }
            }
            self.check_size(out.len() - start)?;
        }
    }

    fn check_size(&self, len: usize) -> Result<(), String> {
        if len > MAX_VALUE_BYTES {
            return Err(format!(
                "a record larger than {} MiB: not read",
                MAX_VALUE_BYTES >> 20
            ));
        }
        Ok(())
    }

    fn skip_whitespace(&mut self) -> Result<(), String> {
        let mut run = 0;
        while let Some(b) = self.peek()? {
            if !matches!(b, b' ' | b'\t' | b'\n' | b'\r') {
                break;
            }
            self.pos += 1;
            run += 1;
            if run > MAX_WHITESPACE_RUN {
                return Err(format!(
                    "more than {} MiB of whitespace in a row (a decompression bomb; CloudTrail \
                     writes none): not read",
                    MAX_WHITESPACE_RUN >> 20
                ));
            }
        }
        Ok(())
    }

    fn peek(&mut self) -> Result<Option<u8>, String> {
        if self.pos == self.end && !self.fill()? {
            return Ok(None);
        }
        Ok(Some(self.buf[self.pos]))
    }

    fn next_byte(&mut self) -> Result<Option<u8>, String> {
        let b = self.peek()?;
        if b.is_some() {
            self.pos += 1;
        }
        Ok(b)
    }

    /// Refills the buffer; false at the end of the input.
    fn fill(&mut self) -> Result<bool, String> {
        let n = loop {
            match self.input.read(&mut self.buf) {
                Ok(n) => break n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(format!("gzip: {e}")),
            }
        };
        self.read += n as u64;
        if self.read > MAX_STREAMED {
            return Err(format!(
                "inflates to more than {} GiB (a decompression bomb, or far larger than \
                 CloudTrail writes): not read",
                MAX_STREAMED >> 30
            ));
        }
        self.pos = 0;
        self.end = n;
        Ok(n > 0)
    }
}

fn unexpected(found: Option<u8>, wanted: &str) -> String {
    let found = match found {
        None => "the end of the object".to_string(),
        Some(b) if b.is_ascii_graphic() => format!("'{}'", b as char),
        Some(b) => format!("byte {b:#04x}"),
    };
    format!("not a CloudTrail log document: {found} where {wanted} belongs")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn slices(text: &str) -> Result<Vec<String>, String> {
        let mut s = Splitter::new(text.as_bytes());
        let mut out = Vec::new();
        while let Some(slice) = s.next_slice()? {
            out.push(String::from_utf8(slice).expect("the tests' documents are UTF-8"));
        }
        Ok(out)
    }

    #[test]
    fn records_come_out_verbatim_in_their_wrapping() {
        let doc = r#" {"x": {"a": [1, "]}"]}, "Records" : [ {"e":"a\"b"} , {"e":[1,{"f":null}]} ] , "y":true } "#;
        assert_eq!(
            slices(doc).expect("a well-formed document"),
            [r#"{"Records":[{"e":"a\"b"},{"e":[1,{"f":null}]}]}"#]
        );
        assert_eq!(
            slices(r#"[{"e":1}, 2]"#).expect("a bare array"),
            [r#"[{"e":1},2]"#]
        );
        assert!(slices(r#"{"Records":[]}"#).expect("no records").is_empty());
        assert!(slices("[]").expect("an empty bare array").is_empty());
    }

    #[test]
    fn the_outer_structure_is_checked_to_the_last_byte() {
        for (doc, says) in [
            ("", "the end of the object"),
            ("   ", "the end of the object"),
            ("{}", "without a \"Records\""),
            (r#"{"Records":[{}],"Records":[]}"#, "a second"),
            (r#"{"Records":[{} {}]}"#, "',' or ']'"),
            (r#"{"Records":[{},]}"#, "where a value belongs"),
            (r#"{"Records":[{}]} x"#, "after the JSON document"),
            (r#"{"Records":{}}"#, "an array of records"),
            (r#"{"Records":[{}]"#, "the end of the object"),
            (r#"{"a":tru,"Records":[]}"#, "\"a\""),
            (
                r#"{"Records":[{"e":"unterminated}]}"#,
                "the end of a string",
            ),
            ("\u{feff}{\"Records\":[]}", "byte 0xef"),
        ] {
            let got = slices(doc).map(|_| ()).unwrap_err();
            assert!(got.contains(says), "{doc:?}: {got}");
        }
    }

    #[test]
    fn slices_hold_whole_records_of_about_the_slice_size() {
        let record = format!(r#"{{"e":"{}"}}"#, "x".repeat(1 << 20));
        let n = 70;
        let doc = format!(r#"{{"Records":[{}]}}"#, vec![record.as_str(); n].join(","));
        let got = slices(&doc).expect("a large well-formed document");
        assert!(got.len() >= 2, "{} slices", got.len());
        let mut seen = 0;
        for slice in &got {
            let v: serde_json::Value = serde_json::from_str(slice).expect("a slice is JSON");
            seen += v["Records"].as_array().expect("a slice has Records").len();
            assert!(slice.len() < SLICE_BYTES + record.len() + 32);
        }
        assert_eq!(seen, n);
    }
}
