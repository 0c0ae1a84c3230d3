//! The key parser on any text: a key it accepts names an account, a region and a date that
//! round-trip into the key itself.
#![no_main]

use libfuzzer_sys::fuzz_target;
use trailscope::archive::parse_key;

fuzz_target!(|data: &[u8]| {
    let Ok(key) = std::str::from_utf8(data) else {
        return;
    };
    if let Some(parsed) = parse_key(key) {
        assert!(key.contains(&parsed.account_id));
        assert!(key.contains(&parsed.region));
        assert!(key.ends_with(&parsed.file_name));
    }
});
