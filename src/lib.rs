//! streamp2p: a community radio's broadcaster, archive and tracker in one small box.
//!
//! Data flows one way: sources -> state -> front ends.
//! - `library` scans the library roots, hashes files into torrents and publishes a catalog;
//!   `store` keeps its index (and every other persistent state) in sled.
//! - `swarm` seeds the catalog to BitTorrent peers with librqbit; `tracker` keeps the peer
//!   table and admits the catalog's infohashes.
//! - `live` captures the line-in, encodes Opus and hands Ogg pages to listeners.
//! - `webtorrent` seeds the catalog to browsers over WebRTC, signalled through WebSocket
//!   trackers (the node's own first).
//! - `federation` follows other stations' nodes: checks their signed catalogs, mirrors
//!   their episodes into a library root, and publishes this station's catalog.
//! - `web` serves the JSON API, the web seed, the torrents, the tracker and the pages, over
//!   http and (with a certificate from `tls`: files, or ACME) https.
//! - `update` keeps the appliance's system up to date: signed manifests, RAUC installs into
//!   the other root slot, a restart at a quiet time, and the slot marked good once healthy.
//! - `node` builds and runs all of it from the `config`; `demo` makes a sample library.
//! - `system` tells systemd when the node serves, that it is alive, and that it stops; it
//!   names and watches the node's tasks (one that panics stops the node).

pub mod config;
pub mod demo;
pub mod federation;
pub mod i18n;
pub mod library;
pub mod live;
pub mod node;
pub mod outbound;
pub mod station;
pub mod status;
pub mod store;
pub mod stun;
pub mod swarm;
pub mod system;
pub mod tls;
pub mod tracker;
pub mod update;
pub mod web;
pub mod webtorrent;

#[cfg(test)]
mod testing;
