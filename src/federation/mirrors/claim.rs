//! The claim a mirror sends its origin (`POST /api/federation/mirrors`): what travels, the
//! text the mirror's key signs, how the mirror side makes one and how often it sends it
//! again, and the one spelling of an address it may carry. Whether the origin takes it is
//! for the book (the checks that fetch nothing) and then for `checking` (its pieces).

use serde::{Deserialize, Serialize};

use super::Refusal;
use crate::{federation::identity, outbound::Origin};

/// A mirror claims again this often (sooner when it holds other episodes).
pub const RECLAIM_SECS: u64 = 600;

/// A mirror's claim as it travels (`POST /api/federation/mirrors`, JSON).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct MirrorClaim {
    /// The mirror's base address: `scheme://host[:port]`, nothing more.
    pub url: String,
    /// The mirror's public key (hex ed25519).
    pub key: String,
    /// Unix seconds when the claim was made. Claims of the first format had none.
    #[serde(default)]
    pub time: Option<u64>,
    /// Infohashes (hex) of this station's episodes the mirror holds and serves.
    #[serde(default)]
    pub holds: Vec<String>,
    pub signature: String,
}

/// The signed text: the origin's key (a claim for one station is worth nothing at
/// another), the address, the time and the episodes.
pub(super) fn claim_text(origin_key: &str, url: &str, time: u64, holds: &[String]) -> String {
    format!(
        "streamp2p mirror claim 2\norigin {origin_key}\nmirror {url}\ntime {time}\nholds {}",
        holds.join(",")
    )
}

impl MirrorClaim {
    /// A claim made and signed by this node (the mirror side).
    pub fn new(
        me: &identity::Identity,
        origin_key: &str,
        url: &str,
        time: u64,
        holds: Vec<String>,
    ) -> Self {
        Self {
            url: url.to_string(),
            key: me.public_hex(),
            time: Some(time),
            signature: me.sign(claim_text(origin_key, url, time, &holds).as_bytes()),
            holds,
        }
    }
}

/// The address a claim may carry: `scheme://host[:port]` exactly as the outbound rules
/// rebuild it, so the address listed is the address checked (no path, query, fragment or
/// login to steer either, nothing spelled two ways).
pub(super) fn canonical_url(url: &str) -> Result<Origin, Refusal> {
    match Origin::learned(url) {
        Ok(origin) if origin.base() == url => Ok(origin),
        _ => Err(Refusal::BadUrl),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_must_be_plain() {
        for ok in [
            "http://radio.example.org",
            "https://radio.example.org:8443",
            "http://127.0.0.1:8080",
            "http://[::1]:8080",
        ] {
            assert_eq!(
                canonical_url(ok).map(|o| o.base()).as_deref(),
                Ok(ok),
                "{ok}"
            );
        }
        for bad in [
            "http://radio.example.org/",
            "http://radio.example.org/x",
            "http://lan.local/cgi-bin/reboot.cgi?action=reboot&x=",
            "http://evil.example#",
            "http://evil.example?",
            "http://user@lan.local",
            "http://evil.example@192.168.1.1",
            "ftp://radio.example.org",
            "HTTP://radio.example.org",
            "http://radio.example.org:80",
            "radio.example.org",
        ] {
            assert!(canonical_url(bad).is_err(), "{bad}");
        }
    }
}
