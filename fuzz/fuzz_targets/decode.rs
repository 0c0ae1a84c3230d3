//! The gzip + record decoder on any bytes: it may refuse an object (named, with a reason) but
//! never panics, and an object it accepts keeps every row it reports.
#![no_main]

use std::io::Write;

use libfuzzer_sys::fuzz_target;
use trailscope::archive::SourceObject;
use trailscope::decode::Decoder;

fuzz_target!(|data: &[u8]| {
    let Some((&mode, body)) = data.split_first() else {
        return;
    };
    // Even modes gzip the body, so the JSON reader meets the fuzzer's bytes; odd modes give
    // the gzip reader the raw bytes.
    let bytes = if mode % 2 == 0 {
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        gz.write_all(body).unwrap();
        gz.finish().unwrap()
    } else {
        body.to_vec()
    };
    let object = SourceObject {
        key: "AWSLogs/111122223333/CloudTrail/us-east-1/2024/01/01/fuzz.json.gz".into(),
        account_id: "111122223333".into(),
        region: "us-east-1".into(),
        bytes: bytes.into(),
    };
    let mut decoder = Decoder::new(None, None, None);
    if mode & 2 != 0 {
        decoder = decoder.with_record_json();
    }
    let decoded = decoder.decode(std::slice::from_ref(&object));
    // One object, one verdict: read, or named as unreadable.
    assert!(decoded.objects_read + decoded.errors.len() >= 1);
    for error in &decoded.errors {
        assert_eq!(error.key, object.key);
        assert!(!error.reason.is_empty());
    }
});
