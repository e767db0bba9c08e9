//! `[tls]`: where the https listener's certificate comes from.
//!
//! https is on when `public_url` is an `https://` address (the certificate is then asked
//! for that name from an ACME service, Let's Encrypt by default) or when certificate files
//! are given (then no ACME at all). Otherwise the node serves plain http only.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::ConfigError;

/// Let's Encrypt's production directory.
pub const LETS_ENCRYPT: &str = "https://acme-v02.api.letsencrypt.org/directory";

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TlsConfig {
    /// Get and renew the certificate for `public_url`'s name from `acme_directory`.
    pub acme: bool,
    /// The ACME service's directory URL.
    pub acme_directory: String,
    /// An email address the ACME service may write to about the certificate (optional).
    pub acme_contact: String,
    /// A PEM root to trust for the ACME directory besides the system's (a test CA).
    pub acme_ca_file: Option<PathBuf>,
    /// A PEM certificate chain to serve instead of asking an ACME service.
    pub cert_file: Option<PathBuf>,
    /// The PEM private key of `cert_file`.
    pub key_file: Option<PathBuf>,
    /// How often the node looks whether `cert_file` or `key_file` changed, in seconds; a
    /// renewed certificate is then served without a restart.
    pub files_check_secs: u64,
}

impl Default for TlsConfig {
    fn default() -> Self {
        Self {
            acme: true,
            acme_directory: LETS_ENCRYPT.into(),
            acme_contact: String::new(),
            acme_ca_file: None,
            cert_file: None,
            key_file: None,
            files_check_secs: 60,
        }
    }
}

/// Where the certificate comes from, after validation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Certificate {
    /// Asked from an ACME service for `domain` and renewed by the node.
    Acme {
        domain: String,
        directory: String,
        /// `mailto:` addresses.
        contact: Vec<String>,
        ca_file: Option<PathBuf>,
    },
    /// Files the operator keeps up to date, looked at every `check_secs`.
    Files {
        cert: PathBuf,
        key: PathBuf,
        check_secs: u64,
    },
}

impl TlsConfig {
    /// The certificate source, or `None` when https is off. `public_url` is already
    /// checked to be an http(s) address.
    pub fn certificate(
        &self,
        public_url: Option<&str>,
    ) -> Result<Option<Certificate>, ConfigError> {
        match (&self.cert_file, &self.key_file) {
            (Some(cert), Some(key)) => {
                for (k, path) in [("tls.cert_file", cert), ("tls.key_file", key)] {
                    readable(k, path)?;
                }
                if self.files_check_secs == 0 {
                    return Err(ConfigError::new(
                        "tls.files_check_secs",
                        "0 would look at the certificate files without pause",
                        "leave it out (every 60 seconds) or give at least 1",
                    ));
                }
                return Ok(Some(Certificate::Files {
                    cert: cert.clone(),
                    key: key.clone(),
                    check_secs: self.files_check_secs,
                }));
            }
            (Some(_), None) | (None, Some(_)) => {
                return Err(ConfigError::new(
                    "tls.cert_file",
                    "only one of tls.cert_file and tls.key_file is set",
                    "set both (the certificate chain and its private key, as PEM files) or neither",
                ))
            }
            (None, None) => {}
        }
        let Some(rest) = public_url.and_then(|u| u.strip_prefix("https://")) else {
            return Ok(None);
        };
        if !self.acme {
            return Err(ConfigError::new(
                "tls.acme",
                "public_url is an https address, but tls.acme is off and no certificate files \
                 are set",
                "turn tls.acme on, or set tls.cert_file and tls.key_file",
            ));
        }
        let domain = host_of(rest);
        if !is_dns_name(domain) {
            return Err(ConfigError::new(
                "public_url",
                format!("'{domain}' is not a name a certificate can be issued for"),
                "use the station's domain name, such as https://radio.example.org",
            ));
        }
        if !self.acme_directory.starts_with("https://") {
            return Err(ConfigError::new(
                "tls.acme_directory",
                format!("'{}' is not an https address", self.acme_directory),
                format!("leave it out for Let's Encrypt ({LETS_ENCRYPT})"),
            ));
        }
        let contact = match self.acme_contact.trim() {
            "" => Vec::new(),
            c if is_email(c) => vec![format!("mailto:{c}")],
            c => {
                return Err(ConfigError::new(
                    "tls.acme_contact",
                    format!("'{c}' is not an email address"),
                    "write one address such as radio@example.org, or leave it empty",
                ))
            }
        };
        if let Some(ca) = &self.acme_ca_file {
            readable("tls.acme_ca_file", ca)?;
        }
        Ok(Some(Certificate::Acme {
            domain: domain.to_ascii_lowercase(),
            directory: self.acme_directory.clone(),
            contact,
            ca_file: self.acme_ca_file.clone(),
        }))
    }
}

/// The host of an address's part after `scheme://`: up to the path, without a port.
pub fn host_of(rest: &str) -> &str {
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    match authority.rsplit_once(':') {
        Some((h, port)) if port.bytes().all(|b| b.is_ascii_digit()) => h,
        _ => authority,
    }
}

/// A name an ACME service issues for: dotted labels of letters, digits and hyphens, not an
/// IP address.
fn is_dns_name(s: &str) -> bool {
    s.len() <= 253
        && s.contains('.')
        && s.parse::<std::net::IpAddr>().is_err()
        && s.split('.').all(|l| {
            !l.is_empty()
                && l.len() <= 63
                && !l.starts_with('-')
                && !l.ends_with('-')
                && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
        })
}

fn is_email(s: &str) -> bool {
    s.split_once('@').is_some_and(|(user, domain)| {
        !user.is_empty()
            && is_dns_name(domain)
            && !s.contains(|c: char| c.is_whitespace() || c == ',')
    })
}

fn readable(key: &str, path: &Path) -> Result<(), ConfigError> {
    std::fs::File::open(path).map(drop).map_err(|e| {
        ConfigError::new(
            key,
            format!("cannot read {}: {e}", path.display()),
            "give the path of a readable PEM file",
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn https_is_off_without_an_https_address_or_files() {
        let c = TlsConfig::default();
        assert_eq!(c.certificate(None).unwrap(), None);
        assert_eq!(
            c.certificate(Some("http://radio.example.org")).unwrap(),
            None
        );
    }

    #[test]
    fn an_https_address_asks_lets_encrypt_for_its_name() {
        let c = TlsConfig {
            acme_contact: "radio@example.org".into(),
            ..TlsConfig::default()
        };
        assert_eq!(
            c.certificate(Some("https://Radio.Example.org:8443/x"))
                .unwrap(),
            Some(Certificate::Acme {
                domain: "radio.example.org".into(),
                directory: LETS_ENCRYPT.into(),
                contact: vec!["mailto:radio@example.org".into()],
                ca_file: None,
            })
        );
    }

    #[test]
    fn bad_tls_settings_name_their_key() {
        let key = |c: TlsConfig, url: &str| c.certificate(Some(url)).unwrap_err().key;
        let https = "https://radio.example.org";
        let off = TlsConfig {
            acme: false,
            ..TlsConfig::default()
        };
        assert_eq!(key(off, https), "tls.acme");
        assert_eq!(
            key(TlsConfig::default(), "https://192.168.1.20"),
            "public_url"
        );
        assert_eq!(key(TlsConfig::default(), "https://localhost"), "public_url");
        let contact = TlsConfig {
            acme_contact: "not mail".into(),
            ..TlsConfig::default()
        };
        assert_eq!(key(contact, https), "tls.acme_contact");
        let dir = TlsConfig {
            acme_directory: "http://ca/dir".into(),
            ..TlsConfig::default()
        };
        assert_eq!(key(dir, https), "tls.acme_directory");
        let half = TlsConfig {
            cert_file: Some("/etc/hostname".into()),
            ..TlsConfig::default()
        };
        assert_eq!(key(half, https), "tls.cert_file");
        let missing = TlsConfig {
            cert_file: Some("/nonexistent/cert.pem".into()),
            key_file: Some("/nonexistent/key.pem".into()),
            ..TlsConfig::default()
        };
        assert_eq!(key(missing, https), "tls.cert_file");
        let restless = TlsConfig {
            cert_file: Some("/etc/hostname".into()),
            key_file: Some("/etc/hostname".into()),
            files_check_secs: 0,
            ..TlsConfig::default()
        };
        assert_eq!(key(restless, https), "tls.files_check_secs");
    }
}
