//! Reading certificates: the dates and serial the dashboard shows, and the operator's
//! certificate files.

use std::path::Path;

use rustls::pki_types::{pem::PemObject, CertificateDer, PrivateKeyDer};

use super::{status::CertInfo, TlsError};

/// The first certificate in a PEM bundle (the leaf; a key may come before it, as the ACME
/// store writes them).
pub fn info_from_pem(pem: &[u8]) -> Result<CertInfo, TlsError> {
    let leaf = CertificateDer::pem_slice_iter(pem)
        .next()
        .ok_or(TlsError::NoCertificate)?
        .map_err(|e| TlsError::Pem(e.to_string()))?;
    info(&leaf)
}

/// Validity and serial of one DER certificate.
pub fn info(der: &CertificateDer<'_>) -> Result<CertInfo, TlsError> {
    let (_, cert) =
        x509_parser::parse_x509_certificate(der).map_err(|e| TlsError::Pem(e.to_string()))?;
    let v = cert.validity();
    Ok(CertInfo {
        not_before: v.not_before.timestamp(),
        not_after: v.not_after.timestamp(),
        serial: hex::encode(cert.raw_serial()),
    })
}

/// The operator's chain and key.
pub fn load_files(
    cert: &Path,
    key: &Path,
) -> Result<(Vec<CertificateDer<'static>>, PrivateKeyDer<'static>), TlsError> {
    let read = |p: &Path| {
        std::fs::read(p).map_err(|source| TlsError::Read {
            path: p.display().to_string(),
            source,
        })
    };
    let chain = CertificateDer::pem_slice_iter(&read(cert)?)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| TlsError::Pem(format!("{}: {e}", cert.display())))?;
    if chain.is_empty() {
        return Err(TlsError::NoCertificate);
    }
    let key = PrivateKeyDer::from_pem_slice(&read(key)?)
        .map_err(|e| TlsError::Pem(format!("{}: {e}", key.display())))?;
    Ok((chain, key))
}
