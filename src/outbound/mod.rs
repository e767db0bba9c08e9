//! Requests the node sends to addresses it did not choose: a mirror's claimed address, the
//! trackers and mirrors a followed station lists, the tracker probes, the `.torrent` and
//! catalog downloads. Every one goes through here, so none can be steered into the
//! station's own network or made to hold the node's memory.
//!
//! The rules, for an address learned from others:
//! - the URL is taken apart into scheme, host and port; anything else in it (a path, a `?`,
//!   a `#`, a user name before `@`) is refused, and the request URL is rebuilt from those
//!   three parts and the node's own fixed path, so no part of the learned text reaches the
//!   wire but the host;
//! - the host is resolved here, and private, loopback, link-local, carrier-grade NAT,
//!   unique-local, multicast, unspecified and broadcast addresses (and IPv4 addresses
//!   dressed as IPv6) are refused unless `federation.allow_private_addresses` is on; the
//!   connection goes to the checked address, as the check and the connection share one
//!   lookup (the resolver given to the HTTP client does both), so DNS rebinding between
//!   them is impossible;
//! - no redirect is followed (a 3xx answer is refused), no proxy is used, connect and read
//!   timeouts are short, and every body is read with a cap counted as it streams, never
//!   trusting `Content-Length`.
//!
//! Addresses the operator typed (the followed stations, the configured trackers) are the
//! operator's choice: they may be private and may carry a path, but get the same
//! redirect, timeout and size rules ([`Origin::operator`]).
//!
//! Errors say only "refused" or "unreachable" when shown ([`OutboundError`]'s `Display`):
//! what exactly happened ([`OutboundError::detail`]) is for the log and the config page,
//! never for whoever sent the address.
//!
//! Parts: `origin` (a URL taken apart into scheme, host and port, and put back together),
//! `address` (which addresses are forbidden, and the resolver that checks them), `body`
//! (an answer's body, read within its cap).

mod address;
mod body;
mod origin;

pub use body::Fetched;
pub use origin::{Origin, Scheme};

use std::{net::SocketAddr, ops::Range, sync::Arc, time::Duration};

use address::{is_forbidden, resolve, Blocked, CheckedResolver};
use body::read_capped;
use origin::{Host, Trust};

/// Time to open a connection (DNS included).
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// Longest silence while reading an answer.
const READ_TIMEOUT: Duration = Duration::from_secs(10);
/// Longest a whole request may take, answer included (a server trickling bytes ends here).
const TOTAL_TIMEOUT: Duration = Duration::from_secs(60);
/// A live stream relayed from a followed station never ends by itself.
const STREAM_TIMEOUT: Duration = Duration::from_secs(24 * 3600);

/// Why a request was not made or failed. Shown to the public, it says only "refused" or
/// "unreachable"; [`OutboundError::detail`] says why, for the log and the config page.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OutboundError {
    /// The address or the answer breaks a rule (private address, path in a learned URL,
    /// redirect, answer over its cap).
    #[error("refused")]
    Refused(String),
    /// Nobody answered in time, or the name does not resolve.
    #[error("unreachable")]
    Unreachable(String),
}

impl OutboundError {
    /// What happened, in words, for the log and the config page only.
    pub fn detail(&self) -> &str {
        match self {
            Self::Refused(d) | Self::Unreachable(d) => d,
        }
    }
}

fn refused(why: impl Into<String>) -> OutboundError {
    OutboundError::Refused(why.into())
}

fn unreachable(why: impl Into<String>) -> OutboundError {
    OutboundError::Unreachable(why.into())
}

/// The one way out for requests to other nodes. Cheap to clone (the clients are shared).
#[derive(Clone)]
pub struct Outbound {
    /// For learned addresses: its resolver refuses forbidden ones (unless allowed).
    learned: reqwest::Client,
    /// For the operator's addresses: any address, the other rules alike.
    operator: reqwest::Client,
    allow_private: bool,
}

impl Outbound {
    /// `allow_private`: `federation.allow_private_addresses` (stations sharing a LAN, tests).
    pub fn new(allow_private: bool) -> Result<Self, OutboundError> {
        let client = |allow_private: bool| {
            reqwest::Client::builder()
                .dns_resolver(Arc::new(CheckedResolver { allow_private }))
                .redirect(reqwest::redirect::Policy::none())
                // A proxy would do the lookup and the connection itself, past the check.
                .no_proxy()
                .connect_timeout(CONNECT_TIMEOUT)
                .read_timeout(READ_TIMEOUT)
                .timeout(TOTAL_TIMEOUT)
                .user_agent(concat!("streamp2p/", env!("CARGO_PKG_VERSION")))
                .build()
                .map_err(|e| unreachable(format!("cannot set up the HTTP client: {e}")))
        };
        Ok(Self {
            learned: client(allow_private)?,
            operator: client(true)?,
            allow_private,
        })
    }

    /// Whether a learned address may be private (`federation.allow_private_addresses`).
    pub fn allows_private(&self) -> bool {
        self.allow_private
    }

    fn client(&self, origin: &Origin) -> Result<&reqwest::Client, OutboundError> {
        if !origin.scheme.is_http() {
            return Err(refused(format!(
                "{} is not an http(s) address",
                origin.base()
            )));
        }
        self.check_literal(origin)?;
        Ok(match origin.trust {
            Trust::Learned => &self.learned,
            Trust::Operator => &self.operator,
        })
    }

    /// An address written as such is never resolved, so the resolver cannot check it:
    /// checked here instead.
    fn check_literal(&self, origin: &Origin) -> Result<(), OutboundError> {
        match origin.host {
            Host::Ip(ip) if origin.trust == Trust::Learned && !self.allow_private => {
                if is_forbidden(ip) {
                    return Err(refused(format!("{ip} is a private or special address")));
                }
                Ok(())
            }
            _ => Ok(()),
        }
    }

    /// The address to open a socket to for `origin` (UDP and WebSocket probes), checked
    /// by the same rules as the HTTP requests.
    pub async fn socket_addr(&self, origin: &Origin) -> Result<SocketAddr, OutboundError> {
        self.check_literal(origin)?;
        let allow_private = self.allow_private || origin.trust == Trust::Operator;
        match &origin.host {
            Host::Ip(ip) => Ok(SocketAddr::new(*ip, origin.port)),
            Host::Name(name) => resolve(name, origin.port, allow_private)
                .await?
                .into_iter()
                .next()
                .ok_or_else(|| unreachable(format!("{name} has no address"))),
        }
    }

    /// `GET path` on `origin`, optionally a byte `range` (end exclusive), reading at most
    /// `cap` bytes of body. Any status but a redirect is returned with its body.
    pub async fn get(
        &self,
        origin: &Origin,
        path: &str,
        range: Option<Range<u64>>,
        cap: usize,
    ) -> Result<Fetched, OutboundError> {
        let mut req = self.client(origin)?.get(origin.url(path));
        if let Some(r) = range {
            if r.start >= r.end {
                return Err(refused("an empty byte range"));
            }
            req = req.header(
                reqwest::header::RANGE,
                format!("bytes={}-{}", r.start, r.end - 1),
            );
        }
        read_capped(send(req).await?, cap).await
    }

    /// `POST path` on `origin` with `body` as JSON, reading at most `cap` bytes of answer.
    pub async fn post_json<T: serde::Serialize + ?Sized>(
        &self,
        origin: &Origin,
        path: &str,
        body: &T,
        cap: usize,
    ) -> Result<Fetched, OutboundError> {
        let req = self.client(origin)?.post(origin.url(path)).json(body);
        read_capped(send(req).await?, cap).await
    }

    /// `GET path` on `origin` for an answer that does not end (a live stream): the caller
    /// reads it chunk by chunk and bounds what it keeps. Silence still ends it.
    pub async fn stream(
        &self,
        origin: &Origin,
        path: &str,
    ) -> Result<reqwest::Response, OutboundError> {
        let req = self
            .client(origin)?
            .get(origin.url(path))
            .timeout(STREAM_TIMEOUT);
        let resp = send(req).await?;
        let status = resp.status();
        if status.is_success() {
            Ok(resp)
        } else {
            Err(unreachable(format!("answered HTTP {}", status.as_u16())))
        }
    }
}

/// Sends, refusing a redirect.
async fn send(req: reqwest::RequestBuilder) -> Result<reqwest::Response, OutboundError> {
    let resp = req.send().await.map_err(from_reqwest)?;
    if resp.status().is_redirection() {
        return Err(refused(format!(
            "answered with a redirect (HTTP {}), which is not followed",
            resp.status().as_u16()
        )));
    }
    Ok(resp)
}

/// A client error as this module tells it: a blocked name is refused, the rest is
/// unreachable; the details (never the URL) go to the log.
fn from_reqwest(e: reqwest::Error) -> OutboundError {
    let e = e.without_url();
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(&e);
    let mut chain = Vec::new();
    while let Some(s) = source {
        if let Some(b) = s.downcast_ref::<Blocked>() {
            return refused(b.0.clone());
        }
        chain.push(s.to_string());
        source = s.source();
    }
    let what = if e.is_timeout() {
        "no answer in time".to_string()
    } else {
        chain.join(": ")
    };
    unreachable(what)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read, Write};

    /// A one-connection-per-answer HTTP server on loopback: each accepted connection gets
    /// `answer` (head and body). Returns its base URL.
    pub(super) fn serve(answer: impl Fn(&mut std::net::TcpStream) + Send + 'static) -> String {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", l.local_addr().unwrap());
        std::thread::spawn(move || {
            for mut s in l.incoming().flatten() {
                let mut buf = [0u8; 4096];
                let _ = s.read(&mut buf);
                answer(&mut s);
            }
        });
        url
    }

    #[tokio::test]
    async fn loopback_is_refused_before_any_connection_unless_allowed() {
        let hits = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let h = hits.clone();
        let url = serve(move |s| {
            h.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            let _ = s.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
        });
        let strict = Outbound::new(false).unwrap();
        let learned = Origin::learned(&url).unwrap();
        let e = strict.get(&learned, "/x", None, 100).await.unwrap_err();
        assert_eq!(e.to_string(), "refused");
        // By name: the resolver refuses it.
        let port = learned.port();
        let named = Origin::learned(&format!("http://localhost:{port}")).unwrap();
        let e = strict.get(&named, "/x", None, 100).await.unwrap_err();
        assert!(matches!(e, OutboundError::Refused(_)), "{e:?}");
        assert!(strict.socket_addr(&named).await.is_err());
        assert_eq!(hits.load(std::sync::atomic::Ordering::SeqCst), 0);
        // The operator's own address may be local; so may a learned one when allowed.
        let op = Origin::operator(&url).unwrap();
        let got = strict.get(&op, "/x", None, 100).await.unwrap();
        assert_eq!(&got.success().unwrap()[..], b"ok");
        let lenient = Outbound::new(true).unwrap();
        let got = lenient.get(&named, "/x", Some(0..2), 100).await.unwrap();
        assert_eq!((got.status, &got.body[..]), (200, &b"ok"[..]));
        assert_eq!(hits.load(std::sync::atomic::Ordering::SeqCst), 2);
    }

    #[tokio::test]
    async fn redirects_are_refused_and_closed_ports_unreachable() {
        let out = Outbound::new(true).unwrap();
        // A redirect is refused, its target never asked.
        let redirect = serve(|s| {
            let _ = s.write_all(
                b"HTTP/1.1 302 Found\r\nLocation: http://192.168.1.20/reboot\r\nContent-Length: 0\r\n\r\n",
            );
        });
        let e = out
            .get(&Origin::learned(&redirect).unwrap(), "/t", None, 100)
            .await
            .unwrap_err();
        assert!(e.detail().contains("redirect"), "{e:?}");
        assert_eq!(e.to_string(), "refused");
        // A closed port is unreachable, and says no more.
        let closed = {
            let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            format!("http://{}", l.local_addr().unwrap())
        };
        let e = out
            .get(&Origin::learned(&closed).unwrap(), "/t", None, 100)
            .await
            .unwrap_err();
        assert_eq!(e.to_string(), "unreachable");
    }
}
