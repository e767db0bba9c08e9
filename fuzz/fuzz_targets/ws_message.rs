//! WebTorrent tracker messages: any text must parse to a message or an error.
#![no_main]

use libfuzzer_sys::fuzz_target;
use streamp2p::tracker::ws::protocol::{Message, MAX_OFFERS};

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        if let Ok(Message::Announce { offers, .. }) = Message::parse(text) {
            assert!(offers.len() <= MAX_OFFERS);
        }
    }
});
