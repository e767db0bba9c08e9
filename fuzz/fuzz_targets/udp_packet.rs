//! UDP tracker packets (BEP 15): any datagram must parse to a request or an error.
#![no_main]

use libfuzzer_sys::fuzz_target;
use streamp2p::tracker::udp::protocol::{Request, MAX_SCRAPE};

fuzz_target!(|data: &[u8]| {
    match Request::parse(data) {
        Ok(Request::Scrape { hashes, .. }) => assert!(!hashes.is_empty() && hashes.len() <= MAX_SCRAPE),
        Ok(Request::Announce { port, .. }) => assert_ne!(port, 0),
        Ok(Request::Connect { .. }) | Err(_) => {}
    }
});
