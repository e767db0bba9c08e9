//! HTTP tracker query strings: any bytes must parse to a request or an error, never panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use streamp2p::tracker::http::request::{parse_scrape, AnnounceRequest};

fuzz_target!(|data: &[u8]| {
    let q = String::from_utf8_lossy(data);
    if let Ok(r) = AnnounceRequest::parse(&q) {
        assert_ne!(r.port, 0);
    }
    if let Ok(h) = parse_scrape(&q, 64) {
        assert!(!h.is_empty() && h.len() <= 64);
    }
});
