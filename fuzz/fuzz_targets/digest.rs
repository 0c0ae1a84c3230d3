//! The digest parser on any bytes: an error, or a document whose accessors do not panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use trailscope::integrity::digest::DigestDoc;

fuzz_target!(|data: &[u8]| {
    if let Ok(doc) = DigestDoc::parse(data) {
        let _ = doc.start_time();
        let _ = doc.end_time();
        let _ = doc.starts_chain();
        let _ = doc.log_file_count();
        let _ = doc.string_to_sign(&"0".repeat(64));
    }
});
