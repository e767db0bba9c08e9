//! The operator's certificate files (`tls.cert_file`, `tls.key_file`), read again when they
//! change on disk: a certificate renewed by another program (certbot, a router's ACME
//! client, one copied in by hand) is served without restarting the box. A change the node
//! cannot use (a key that does not match the certificate, a half-written file) is reported
//! on the dashboard, and the certificate in use stays until the files are whole again.

use std::{
    fs,
    path::{Path, PathBuf},
    sync::{Arc, PoisonError, RwLock},
    time::{Duration, SystemTime},
};

use rustls::{
    crypto::CryptoProvider,
    server::{ClientHello, ResolvesServerCert},
    sign::CertifiedKey,
};
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use super::{
    cert,
    status::{CertInfo, Problem, ProblemKind, TlsStatus},
    TlsError,
};

/// What the files looked like when last read: a renewal changes the time or the size.
type Stamp = [Option<(SystemTime, u64)>; 2];

/// The certificate the handshakes present, and the files it came from.
#[derive(Debug)]
pub struct Files {
    cert: PathBuf,
    key: PathBuf,
    provider: Arc<CryptoProvider>,
    current: RwLock<Arc<CertifiedKey>>,
}

impl Files {
    /// Reads the files; the node does not start https with files it cannot use.
    pub fn load(
        cert: &Path,
        key: &Path,
        provider: Arc<CryptoProvider>,
    ) -> Result<(Arc<Self>, CertInfo), TlsError> {
        let (certified, info) = read(cert, key, &provider)?;
        let files = Self {
            cert: cert.to_path_buf(),
            key: key.to_path_buf(),
            provider,
            current: RwLock::new(certified),
        };
        Ok((Arc::new(files), info))
    }

    fn stamp(&self) -> Stamp {
        let of = |p: &Path| {
            let m = fs::metadata(p).ok()?;
            Some((m.modified().ok()?, m.len()))
        };
        [of(&self.cert), of(&self.key)]
    }

    /// Every `every`, reads the files again if they changed, until `shutdown`.
    pub async fn watch(
        self: Arc<Self>,
        every: Duration,
        status: watch::Sender<TlsStatus>,
        shutdown: CancellationToken,
    ) {
        let mut seen = self.stamp();
        loop {
            tokio::select! {
                _ = shutdown.cancelled() => return,
                _ = tokio::time::sleep(every) => {}
            }
            // Taken before reading: a file replaced while it is read changes it again,
            // and the next look reads the files once more.
            let now = self.stamp();
            if now == seen {
                continue;
            }
            seen = now;
            match read(&self.cert, &self.key, &self.provider) {
                Ok((certified, info)) => {
                    *self.current.write().unwrap_or_else(PoisonError::into_inner) = certified;
                    tracing::info!(serial = %info.serial, "https: certificate files read again");
                    status.send_modify(|s| {
                        s.certificate = Some(info);
                        s.problem = None;
                    });
                }
                Err(e) => {
                    tracing::warn!("https: the certificate files changed but cannot be used: {e}");
                    let kind = match e {
                        TlsError::Read { .. } => ProblemKind::Storage,
                        _ => ProblemKind::BadCertificate,
                    };
                    let detail = e.to_string();
                    status.send_modify(|s| {
                        s.problem = Some(Problem {
                            kind,
                            detail,
                            at: super::now(),
                        })
                    });
                }
            }
        }
    }
}

impl ResolvesServerCert for Files {
    fn resolve(&self, _: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(
            self.current
                .read()
                .unwrap_or_else(PoisonError::into_inner)
                .clone(),
        )
    }
}

/// The chain and key from the files, checked to belong together.
fn read(
    cert: &Path,
    key: &Path,
    provider: &CryptoProvider,
) -> Result<(Arc<CertifiedKey>, CertInfo), TlsError> {
    let (chain, key) = cert::load_files(cert, key)?;
    let info = cert::info(chain.first().ok_or(TlsError::NoCertificate)?)?;
    let certified = CertifiedKey::from_der(chain, key, provider).map_err(TlsError::Rustls)?;
    Ok((Arc::new(certified), info))
}
