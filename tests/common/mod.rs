//! Shared helpers for the integration tests, one module per concern; tests `use common::*`.
//!
//! Every helper is synchronous (std only): the node under test is a separate process.
//!
//! - `node`: the `streamp2p` process under test (data dir, ports, config, waits on its health);
//! - `ports`, `fixtures`, `process`: free ports, library files, child processes and their logs;
//! - `http`, `bencode`, `udp`, `ws`: clients of the node's wire protocols;
//! - `feed`: the podcast feed as a podcast app's XML reader sees it;
//! - `admin`: a browser-like client of the config page;
//! - `bt_clients`, `js`: real BitTorrent clients, and the Node.js drivers in tests/js;
//! - `live`: the live stream as a listener hears it;
//! - `netns`: network namespaces, for tests that must never reach a real host;
//! - `words`: the box's words, from its message catalogs.
// Each test binary compiles this module and uses only part of it.
#![allow(dead_code)]

mod admin;
mod bencode;
mod bt_clients;
mod feed;
mod fixtures;
mod http;
mod js;
mod live;
mod netns;
mod node;
mod ports;
mod process;
mod udp;
mod words;
mod ws;

// A test binary that uses nothing of a module would warn of its re-export.
#[allow(unused_imports)]
pub use self::{
    admin::*, bencode::*, bt_clients::*, feed::*, fixtures::*, http::*, js::*, live::*, netns::*,
    node::*, ports::*, process::*, udp::*, words::*, ws::*,
};
