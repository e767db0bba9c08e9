//! Getting and renewing the certificate with rustls-acme: TLS-ALPN-01 answered on the
//! https port itself, the account key and certificates kept in the data dir, renewal at
//! two thirds of the certificate's life (rustls-acme's rule), retries with a growing pause.

use std::{path::PathBuf, sync::Arc};

use async_trait::async_trait;
use futures::StreamExt as _;
use rustls::{
    pki_types::{pem::PemObject as _, CertificateDer},
    ClientConfig, RootCertStore,
};
use rustls_acme::{
    acme::{AcmeError, AuthStatus},
    caches::DirCache,
    AccountCache, AcmeConfig, AcmeState, CertCache, EventError, EventOk, OrderError,
    ResolvesServerCertAcme,
};
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use super::{
    cert,
    status::{Problem, ProblemKind, TlsStatus},
    TlsError,
};

/// The ACME side: built at start, then run until shutdown.
pub struct Acme {
    state: AcmeState<std::io::Error>,
    status: watch::Sender<TlsStatus>,
}

/// What an ACME event leaves in the log and the status.
type Event = Result<EventOk, EventError<std::io::Error, std::io::Error>>;

impl Acme {
    pub fn new(
        domain: &str,
        directory: &str,
        contact: &[String],
        ca_file: Option<&std::path::Path>,
        dir: PathBuf,
        provider: Arc<rustls::crypto::CryptoProvider>,
        status: watch::Sender<TlsStatus>,
    ) -> Result<Self, TlsError> {
        let mut roots = RootCertStore::empty();
        // The system's roots (Let's Encrypt's directory); a box without any still works
        // with `acme_ca_file`.
        let native = rustls_native_certs::load_native_certs();
        roots.add_parsable_certificates(native.certs);
        if let Some(ca) = ca_file {
            let pem = std::fs::read(ca).map_err(|source| TlsError::Read {
                path: ca.display().to_string(),
                source,
            })?;
            for c in CertificateDer::pem_slice_iter(&pem) {
                let c = c.map_err(|e| TlsError::Pem(format!("{}: {e}", ca.display())))?;
                roots.add(c).map_err(|e| TlsError::Pem(e.to_string()))?;
            }
        }
        let client = ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(TlsError::Rustls)?
            .with_root_certificates(roots)
            .with_no_client_auth();
        let state = AcmeConfig::new_with_client_config([domain], Arc::new(client))
            .directory(directory)
            .contact(contact)
            .cache(Store {
                dir: DirCache::new(dir),
                status: status.clone(),
            })
            .state();
        Ok(Self { state, status })
    }

    /// Picks the certificate for each handshake, the challenge's included.
    pub fn resolver(&self) -> Arc<ResolvesServerCertAcme> {
        self.state.resolver()
    }

    /// Orders, renews and retries until `shutdown`.
    pub async fn run(mut self, shutdown: CancellationToken) {
        loop {
            let event = tokio::select! {
                _ = shutdown.cancelled() => return,
                e = self.state.next() => e,
            };
            // The stream never ends (rustls-acme waits and retries instead).
            let Some(event) = event else { return };
            self.note(event);
        }
    }

    fn note(&self, event: Event) {
        match event {
            Ok(EventOk::DeployedNewCert) => tracing::info!("https: new certificate in use"),
            Ok(EventOk::DeployedCachedCert) => tracing::info!("https: saved certificate in use"),
            Ok(ok) => tracing::debug!("https: {ok:?}"),
            Err(e) => {
                let problem = problem(&e);
                tracing::warn!(kind = ?problem.kind, "https: certificate: {}", problem.detail);
                self.status.send_modify(|s| {
                    if matches!(e, EventError::CachedCertParse(_)) {
                        s.certificate = None;
                    }
                    s.problem = Some(problem);
                });
            }
        }
    }
}

/// An ACME failure as the dashboard says it.
fn problem(e: &EventError<std::io::Error, std::io::Error>) -> Problem {
    let kind = match e {
        EventError::Order(o) => match o {
            OrderError::BadAuth(_)
            | OrderError::BadOrder(_)
            | OrderError::TooManyAttemptsAuth(_) => ProblemKind::ChallengeFailed,
            // The service's "no" (rate limits, a name it will not serve) arrives as an
            // error status; rustls-acme does not export that error's type, only its words.
            OrderError::Acme(AcmeError::HttpRequest(h)) if h.to_string().starts_with("non 2xx") => {
                ProblemKind::Refused
            }
            OrderError::Acme(AcmeError::HttpRequest(_) | AcmeError::Io(_)) => {
                ProblemKind::Unreachable
            }
            _ => ProblemKind::Refused,
        },
        EventError::CertCacheLoad(_)
        | EventError::CertCacheStore(_)
        | EventError::AccountCacheLoad(_)
        | EventError::AccountCacheStore(_) => ProblemKind::Storage,
        EventError::CachedCertParse(_) | EventError::NewCertParse(_) => ProblemKind::BadCertificate,
    };
    Problem {
        kind,
        detail: detail(e),
        at: super::now(),
    }
}

/// The CA's own words on a failed challenge (e.g. "Connection refused"), else the error.
fn detail(e: &EventError<std::io::Error, std::io::Error>) -> String {
    if let EventError::Order(OrderError::BadAuth(auth)) = e {
        let said: Vec<String> = auth
            .challenges
            .iter()
            .filter_map(|c| c.error.as_ref()?.detail.clone())
            .collect();
        if !said.is_empty() && !matches!(auth.status, AuthStatus::Valid) {
            return format!(
                "the certificate service could not check the name: {}",
                said.join("; ")
            );
        }
    }
    e.to_string()
}

/// rustls-acme's directory cache under the data dir, noting each certificate it loads or
/// saves in the status (dates and serial for the dashboard).
struct Store {
    dir: DirCache<PathBuf>,
    status: watch::Sender<TlsStatus>,
}

impl Store {
    fn seen(&self, pem: &[u8], new: bool) {
        match cert::info_from_pem(pem) {
            Ok(info) => self.status.send_modify(|s| {
                tracing::info!(serial = %info.serial, not_after = info.not_after, new, "https: certificate");
                s.certificate = Some(info);
                s.problem = None;
                s.issued += u32::from(new);
            }),
            Err(e) => tracing::warn!("https: certificate not readable: {e}"),
        }
    }
}

#[async_trait]
impl CertCache for Store {
    type EC = std::io::Error;

    async fn load_cert(
        &self,
        domains: &[String],
        directory: &str,
    ) -> Result<Option<Vec<u8>>, Self::EC> {
        let pem = self.dir.load_cert(domains, directory).await?;
        if let Some(p) = &pem {
            self.seen(p, false);
        }
        Ok(pem)
    }

    async fn store_cert(
        &self,
        domains: &[String],
        directory: &str,
        pem: &[u8],
    ) -> Result<(), Self::EC> {
        // Noted before saving: the certificate is already being served.
        self.seen(pem, true);
        self.dir.store_cert(domains, directory, pem).await
    }
}

#[async_trait]
impl AccountCache for Store {
    type EA = std::io::Error;

    async fn load_account(
        &self,
        contact: &[String],
        directory: &str,
    ) -> Result<Option<Vec<u8>>, Self::EA> {
        self.dir.load_account(contact, directory).await
    }

    async fn store_account(
        &self,
        contact: &[String],
        directory: &str,
        key: &[u8],
    ) -> Result<(), Self::EA> {
        self.dir.store_account(contact, directory, key).await
    }
}
