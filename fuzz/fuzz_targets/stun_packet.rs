//! STUN datagrams to the box's STUN server: any bytes get an answer or none, never a panic,
//! and an answer is never larger than a Binding success for an IPv6 source.
#![no_main]

use libfuzzer_sys::fuzz_target;
use std::net::SocketAddr;

fuzz_target!(|data: &[u8]| {
    for from in ["198.51.100.7:40123", "[2001:db8::5]:3333"] {
        let from: SocketAddr = from.parse().unwrap();
        if let Some(reply) = streamp2p::stun::answer(data, from) {
            assert!(reply.len() <= 52, "answer of {} bytes", reply.len());
        }
    }
});
