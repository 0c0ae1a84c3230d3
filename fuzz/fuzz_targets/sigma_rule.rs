//! Sigma rule files on any text: every document read, compiled to SQL, skipped or failed with a
//! reason; never a panic, a hang or unbounded memory (a broken YAML document once made the
//! loader loop for ever).
#![no_main]

use libfuzzer_sys::fuzz_target;
use trailscope::detect::load;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let set = load::load(&[("fuzz.yml".to_string(), text.to_string())]);
    for c in &set.compiled {
        assert!(c.sql.starts_with("SELECT") || c.sql.starts_with("WITH"));
    }
});
