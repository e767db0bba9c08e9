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
        serial: serial_hex(cert.raw_serial()),
    })
}

/// A serial number as certificate viewers (and openssl) write it: the DER integer's bytes
/// without the zero byte that keeps a high first bit from reading as negative.
fn serial_hex(raw: &[u8]) -> String {
    let start = raw
        .iter()
        .position(|b| *b != 0)
        .unwrap_or(raw.len().saturating_sub(1));
    hex::encode(&raw[start..])
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

#[cfg(test)]
mod tests {
    use super::serial_hex;

    #[test]
    fn serials_are_written_without_the_sign_byte() {
        assert_eq!(serial_hex(&[0x00, 0x9a, 0x01]), "9a01");
        assert_eq!(serial_hex(&[0x7f, 0x00]), "7f00");
        assert_eq!(serial_hex(&[0x00]), "00");
    }
}
