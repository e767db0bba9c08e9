//! What the https side is doing, as the front ends read it: the certificate in use and the
//! last problem getting one. Published through a `watch` channel by [`super::Tls`].

use serde::Serialize;
use tokio::sync::watch;

/// Where the certificate comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Source {
    /// Asked from an ACME service and renewed by the node.
    Acme,
    /// The operator's files.
    Files,
}

/// The certificate being served.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CertInfo {
    /// Unix seconds.
    pub not_before: i64,
    /// Unix seconds.
    pub not_after: i64,
    /// Hexadecimal, as certificate viewers show it.
    pub serial: String,
}

/// Why there is no (new) certificate, in kinds the dashboard can say in plain words.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ProblemKind {
    /// The certificate service could not reach the box under its name (the name points
    /// elsewhere, or the router does not forward the port).
    ChallengeFailed,
    /// The node could not reach the certificate service.
    Unreachable,
    /// The service answered with a refusal (too many requests, a name it will not serve).
    Refused,
    /// The certificate or key could not be read or saved on the box.
    Storage,
    /// The certificate is not one the node can use.
    BadCertificate,
}

/// The last failure, until a certificate comes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Problem {
    pub kind: ProblemKind,
    /// The error in English, for the log and the JSON status.
    pub detail: String,
    /// Unix seconds.
    pub at: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TlsStatus {
    pub source: Source,
    /// The name the certificate is for (ACME); `None` for files.
    pub domain: Option<String>,
    pub certificate: Option<CertInfo>,
    pub problem: Option<Problem>,
    /// Certificates issued to this node since it started (the first and each renewal).
    pub issued: u32,
}

impl TlsStatus {
    pub fn new(source: Source, domain: Option<String>) -> Self {
        Self {
            source,
            domain,
            certificate: None,
            problem: None,
            issued: 0,
        }
    }

    /// A certificate is being served and has not expired: pages may be sent to https.
    pub fn ready(&self, now: i64) -> bool {
        self.certificate.as_ref().is_some_and(|c| c.not_after > now)
    }
}

/// The receiving end the front ends hold.
pub type TlsWatch = watch::Receiver<TlsStatus>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ready_only_with_an_unexpired_certificate() {
        let mut s = TlsStatus::new(Source::Acme, Some("radio.example.org".into()));
        assert!(!s.ready(100));
        s.certificate = Some(CertInfo {
            not_before: 0,
            not_after: 200,
            serial: "01".into(),
        });
        assert!(s.ready(100));
        assert!(!s.ready(200));
    }
}
