//! The swarms in which listen pages share live HLS segments (p2p-media-loader 2.x), so the
//! node's tracker can admit exactly them in `library` mode.
//!
//! p2p-media-loader announces one swarm per variant. Its tracker infohash is the 20 ASCII
//! bytes of `base64(sha1(stream swarm id)[..15])`, where the stream swarm id is
//! `v2-<swarmId>-main-<index>` and `index` is `base64(sha1("<BANDWIDTH>--------"))` for an
//! audio-only variant (the hls.js integration builds it from the bitrate, video codec,
//! size, frame rate and video range, all empty here but the bitrate).
//! See `p2p-media-loader-core` `src/utils/peer.ts` (`getStreamHash`) and
//! `src/utils/stream.ts` (`generateStreamShortId`, `getStreamSwarmId`), and
//! `p2p-media-loader-hlsjs` `src/segment-manager.ts`.
//!
//! Left alone, `swarmId` would be the master playlist's URL, which depends on the name the
//! listener used to reach the box (its LAN address, `radio.local`, a public name): the
//! node could not know which swarms to admit, and listeners arriving by different names
//! would not share. So the listen page passes this fixed [`SWARM_ID`].

use base64::{engine::general_purpose::STANDARD, Engine};
use sha1::{Digest, Sha1};

use super::hls::Variant;

/// A BitTorrent tracker's swarm key.
pub type InfoHash = [u8; 20];

/// The `swarmId` the listen page gives p2p-media-loader. Swarms are per tracker, and the
/// page announces only to this node's tracker, so it need not name the station.
pub const SWARM_ID: &str = "streamp2p-live";

/// The tracker infohash of one variant's swarm.
pub fn infohash(swarm_id: &str, bandwidth: u32) -> InfoHash {
    // Bitrate, codecs, width, height, language, channels, name, frame rate, video range.
    let index = STANDARD.encode(Sha1::digest(format!("{bandwidth}--------")));
    let stream = format!("v2-{swarm_id}-main-{index}");
    let digest = Sha1::digest(stream);
    let text = STANDARD.encode(&digest[..15]);
    let mut ih = [0u8; 20];
    // 15 bytes are exactly 20 base64 characters, without padding.
    ih.copy_from_slice(&text.as_bytes()[..20]);
    ih
}

/// The infohashes of every live variant's swarm, for a stream of `kbps`.
pub fn infohashes(kbps: u32) -> Vec<InfoHash> {
    Variant::ALL
        .iter()
        .map(|v| infohash(SWARM_ID, v.bandwidth(kbps)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Values computed with p2p-media-loader-core 2.3.1's own functions in Node.js.
    #[test]
    fn matches_p2p_media_loader() {
        assert_eq!(
            &infohash("streamp2p-live", 132_000),
            b"WhUnN4akVT+F0SyQKnxN"
        );
        assert_eq!(
            &infohash("streamp2p-live", 136_000),
            b"gy4Enq6g029zjJjVj3kk"
        );
        let all = infohashes(128);
        assert_eq!(all.len(), 2);
        assert_ne!(all[0], all[1], "each variant has its own swarm");
    }
}
