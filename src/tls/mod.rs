//! HTTPS: the certificate the https listener serves and where it comes from.
//!
//! With `public_url = "https://..."` the node asks an ACME service (Let's Encrypt by
//! default) for a certificate for that name, proves it holds the name by answering the
//! TLS-ALPN-01 challenge on the https port itself, and renews it; with `tls.cert_file` and
//! `tls.key_file` it serves those files instead. The account key and the certificates stay
//! in the data dir (`tls/`), the only place the box writes.
//!
//! The web server takes [`Tls::server_config`] for its handshakes; the front ends read
//! [`TlsStatus`] (certificate dates, the last problem) through a `watch` channel.

mod acme;
mod cert;
mod files;
pub mod status;

use std::{path::Path, sync::Arc, time::Duration};

use rustls::ServerConfig;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

pub use status::{CertInfo, Problem, ProblemKind, Source, TlsStatus, TlsWatch};

use crate::config::Certificate;

/// The ALPN name of a TLS-ALPN-01 validation handshake: the connection ends after it.
pub const CHALLENGE_ALPN: &[u8] = rustls_acme::acme::ACME_TLS_ALPN_NAME;

#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("not a PEM certificate or key: {0}")]
    Pem(String),
    #[error("no certificate in the file")]
    NoCertificate,
    #[error("TLS setup: {0}")]
    Rustls(rustls::Error),
}

/// The https side: the server's TLS settings, its status, and the task that keeps the
/// certificate current.
pub struct Tls {
    config: Arc<ServerConfig>,
    status: TlsWatch,
    keeper: Keeper,
}

/// What keeps the certificate current.
enum Keeper {
    /// Gets and renews it.
    Acme(acme::Acme),
    /// Reads the operator's files again when they change.
    Files {
        files: Arc<files::Files>,
        every: Duration,
        status: watch::Sender<TlsStatus>,
    },
}

impl Tls {
    /// Ready to serve: certificate files read, or the ACME client set up (its first
    /// certificate comes once [`Tls::run`] runs). `data_dir` holds the ACME state.
    pub fn new(certificate: &Certificate, data_dir: &Path) -> Result<Self, TlsError> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let builder = ServerConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()
            .map_err(TlsError::Rustls)?
            .with_no_client_auth();
        let (mut config, status, keeper) = match certificate {
            Certificate::Files {
                cert,
                key,
                check_secs,
            } => {
                let (files, info) = files::Files::load(cert, key, provider)?;
                let mut status = TlsStatus::new(Source::Files, None);
                status.certificate = Some(info);
                let (tx, rx) = watch::channel(status);
                let config = builder.with_cert_resolver(files.clone());
                let keeper = Keeper::Files {
                    files,
                    every: Duration::from_secs(*check_secs),
                    status: tx,
                };
                (config, rx, keeper)
            }
            Certificate::Acme {
                domain,
                directory,
                contact,
                ca_file,
            } => {
                let (tx, rx) = watch::channel(TlsStatus::new(Source::Acme, Some(domain.clone())));
                let acme = acme::Acme::new(
                    domain,
                    directory,
                    contact,
                    ca_file.as_deref(),
                    data_dir.join("tls"),
                    provider,
                    tx,
                )?;
                let mut config = builder.with_cert_resolver(acme.resolver());
                config.alpn_protocols.push(CHALLENGE_ALPN.to_vec());
                (config, rx, Keeper::Acme(acme))
            }
        };
        // http/1.1 first: browsers offer h2 too, and the server speaks HTTP/1 only.
        config.alpn_protocols.insert(0, b"http/1.1".to_vec());
        Ok(Self {
            config: Arc::new(config),
            status,
            keeper,
        })
    }

    pub fn server_config(&self) -> Arc<ServerConfig> {
        self.config.clone()
    }

    pub fn status(&self) -> TlsWatch {
        self.status.clone()
    }

    /// Keeps the certificate current until `shutdown`: gets and renews it, or reads the
    /// files again when they change.
    pub async fn run(self, shutdown: CancellationToken) {
        match self.keeper {
            Keeper::Acme(acme) => acme.run(shutdown).await,
            Keeper::Files {
                files,
                every,
                status,
            } => files.watch(every, status, shutdown).await,
        }
    }
}

/// Unix seconds now.
fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}
