//! The server's certificate: read from PEM files (`--tls-cert`,
//! `--tls-key`) or made at start (`--tls-self-signed`), swapped for new
//! handshakes by [`ServerTls::reload`] (the binary calls it on SIGHUP),
//! and named by its SHA-256 fingerprint so a client can pin or trust it.
//!
//! TLS 1.2 and 1.3, no client certificates, ALPN not required. Sessions
//! resume both ways: a session cache (TLS 1.2 ids, TLS 1.3 stateful) and
//! stateless tickets from ring's ticketer.

use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use rustls::ServerConfig;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};

use super::tls_error;
use crate::error::Error;
use crate::setting::Setting;

/// How long a `--tls-self-signed` certificate is valid by default.
pub const SELF_SIGNED_VALIDITY: Duration = Duration::from_secs(30 * 24 * 3600);

/// Sessions remembered for resumption (each costs a few hundred bytes).
const SESSION_CACHE: usize = 4096;

/// The certificate in use and where a reload reads the next one.
pub struct ServerTls {
    /// The PEM files to read again on reload; `None` for a self-signed one.
    files: Option<(PathBuf, PathBuf)>,
    /// What new handshakes use.
    current: RwLock<Current>,
}

#[derive(Clone)]
struct Current {
    config: Arc<ServerConfig>,
    fingerprint: String,
}

/// A certificate made at start: its PEM (to hand to clients) and key.
pub struct SelfSigned {
    /// The certificate, PEM-encoded: what a client trusts (`--cacert`).
    pub cert_pem: String,
    /// The names and addresses it is valid for.
    pub names: Vec<String>,
}

impl std::fmt::Debug for ServerTls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServerTls")
            .field("files", &self.files)
            .field("fingerprint", &self.fingerprint())
            .finish()
    }
}

impl ServerTls {
    /// Reads a PEM certificate chain (leaf first) and its private key.
    pub fn from_files(cert: &Path, key: &Path) -> Result<ServerTls, Error> {
        let current = load(cert, key)?;
        Ok(ServerTls {
            files: Some((cert.to_path_buf(), key.to_path_buf())),
            current: RwLock::new(current),
        })
    }

    /// Makes a self-signed certificate for `names` (host names and IP
    /// addresses), valid from an hour ago (clocks differ) for `validity`.
    pub fn self_signed(
        names: &[String],
        validity: Duration,
    ) -> Result<(ServerTls, SelfSigned), Error> {
        let made = |e| tls_error("cannot make a self-signed certificate", e);
        let key = rcgen::KeyPair::generate().map_err(made)?;
        let mut params = rcgen::CertificateParams::new(names.to_vec()).map_err(made)?;
        let now = time::OffsetDateTime::now_utc();
        params.not_before = now - time::Duration::hours(1);
        params.not_after = now + validity;
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, "tcpkit self-signed");
        params.extended_key_usages = vec![rcgen::ExtendedKeyUsagePurpose::ServerAuth];
        let cert = params.self_signed(&key).map_err(made)?;
        let der = cert.der().clone();
        let key_der = PrivateKeyDer::try_from(key.serialize_der()).map_err(|e| {
            tls_error(
                "cannot use the self-signed certificate's key",
                std::io::Error::other(e),
            )
        })?;
        let current = build(vec![der], key_der)?;
        let tls = ServerTls {
            files: None,
            current: RwLock::new(current),
        };
        let made = SelfSigned {
            cert_pem: cert.pem(),
            names: names.to_vec(),
        };
        Ok((tls, made))
    }

    /// Reads the files again and uses them for new handshakes; sessions
    /// already open go on with the old certificate. On failure the old
    /// certificate stays. The new fingerprint.
    pub fn reload(&self) -> Result<String, Error> {
        let Some((cert, key)) = &self.files else {
            return Err(Error::InvalidInput(
                "a self-signed certificate has no files to reload".into(),
            ));
        };
        let next = load(cert, key)?;
        let fingerprint = next.fingerprint.clone();
        match self.current.write() {
            Ok(mut current) => *current = next,
            Err(poisoned) => *poisoned.into_inner() = next,
        }
        Ok(fingerprint)
    }

    /// The configuration new handshakes use.
    pub fn config(&self) -> Arc<ServerConfig> {
        self.read().config
    }

    /// The SHA-256 fingerprint of the certificate in use.
    pub fn fingerprint(&self) -> String {
        self.read().fingerprint
    }

    /// The certificate file, when there is one.
    pub fn cert_file(&self) -> Option<&Path> {
        self.files.as_ref().map(|(cert, _)| cert.as_path())
    }

    fn read(&self) -> Current {
        match self.current.read() {
            Ok(current) => current.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }
}

/// Reads and checks a certificate chain and its key.
fn load(cert: &Path, key: &Path) -> Result<Current, Error> {
    let unreadable = |flag: Setting, path: &Path, e: rustls::pki_types::pem::Error| {
        let source = match e {
            rustls::pki_types::pem::Error::Io(e) => e,
            other => std::io::Error::new(std::io::ErrorKind::InvalidData, other.to_string()),
        };
        Error::local_file(
            crate::words!("cannot read {} {}", flag, path.display()),
            source,
        )
    };
    let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(cert)
        .map_err(|e| unreadable(Setting::TlsCert, cert, e))?
        .collect::<Result<_, _>>()
        .map_err(|e| unreadable(Setting::TlsCert, cert, e))?;
    if chain.is_empty() {
        return Err(Error::local(crate::words!(
            "{} {} holds no PEM certificate (expected -----BEGIN CERTIFICATE-----)",
            Setting::TlsCert,
            cert.display()
        )));
    }
    let key_der = PrivateKeyDer::from_pem_file(key).map_err(|e| match e {
        rustls::pki_types::pem::Error::NoItemsFound => Error::local(crate::words!(
            "{} {} holds no PEM private key (expected -----BEGIN PRIVATE KEY----- or an RSA \
             or EC key)",
            Setting::TlsKey,
            key.display()
        )),
        e => unreadable(Setting::TlsKey, key, e),
    })?;
    build(chain, key_der).map_err(|e| match e {
        Error::Tls { source, .. } => Error::Tls {
            message: crate::words!(
                "cannot use {} {} with {} {}",
                Setting::TlsCert,
                cert.display(),
                Setting::TlsKey,
                key.display()
            ),
            hint: " (is the key the certificate's own? the first certificate in the file must \
                   be the server's)"
                .into(),
            source,
        },
        other => other,
    })
}

/// A server configuration for this chain and key.
fn build(
    chain: Vec<CertificateDer<'static>>,
    key: PrivateKeyDer<'static>,
) -> Result<Current, Error> {
    let fingerprint = super::fingerprint(chain[0].as_ref());
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| tls_error("cannot set up TLS", e))?
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .map_err(|e| tls_error("cannot use the certificate", e))?;
    config.session_storage = rustls::server::ServerSessionMemoryCache::new(SESSION_CACHE);
    config.ticketer = rustls::crypto::ring::Ticketer::new()
        .map_err(|e| tls_error("cannot set up TLS tickets", e))?;
    Ok(Current {
        config: Arc::new(config),
        fingerprint,
    })
}
