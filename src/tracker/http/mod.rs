//! The HTTP tracker's wire format: `request` (pure parsing of the `/announce` and `/scrape`
//! queries) and `response` (bencoded replies). The web front end serves them on its port
//! over the peer table.

pub mod request;
pub mod response;
