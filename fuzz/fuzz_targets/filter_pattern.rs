//! CloudWatch Logs filter patterns (metric filters of the alarm controls) on any text: parsed or
//! refused, and a parsed pattern matches any event text without panicking.
#![no_main]

use libfuzzer_sys::fuzz_target;
use trailscope::table::filter_pattern::Pattern;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    // The first line is the pattern, the rest the event it is tried on.
    let (pattern, event) = text.split_once('\n').unwrap_or((text, "{}"));
    if let Ok(p) = Pattern::parse(pattern) {
        let _ = p.matches(event);
        let _ = p.matches(r#"{"eventName":"StopLogging","errorCode":"AccessDenied","userIdentity":{"type":"Root"}}"#);
    }
});
