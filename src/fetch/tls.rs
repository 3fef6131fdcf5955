//! TLS for https: rustls with the ring provider, trusting the webpki roots
//! (Mozilla's list) plus any `--cacert` file, or nothing at all with
//! `--insecure`. SNI and the certificate's name check work as in browsers:
//! a host name is checked against DNS names, an IP address against IP SANs.

use std::path::Path;
use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use tokio_rustls::client::TlsStream;

use super::request::Target;
use crate::error::Error;

/// Builds the client configuration once per run.
pub fn config(cacert: Option<&Path>, insecure: bool) -> Result<Arc<ClientConfig>, Error> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut roots = RootCertStore::empty();
    roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    if let Some(path) = cacert {
        let shown = path.display();
        let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(path)
            .map_err(|e| pem_error(path, e))?
            .collect::<Result<_, _>>()
            .map_err(|e| pem_error(path, e))?;
        if certs.is_empty() {
            return Err(Error::local(format!(
                "--cacert {shown} holds no PEM certificates (expected -----BEGIN CERTIFICATE-----)"
            )));
        }
        for cert in certs {
            roots.add(cert).map_err(|e| {
                Error::local(format!("--cacert {shown}: unusable certificate: {e}"))
            })?;
        }
    }
    let builder = ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| tls_error("cannot set up TLS", e))?;
    let mut config = if insecure {
        builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(AcceptAnyCertificate(provider)))
            .with_no_client_auth()
    } else {
        builder.with_root_certificates(roots).with_no_client_auth()
    };
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

/// A TLS set-up error with its cause.
fn tls_error(
    message: impl Into<String>,
    e: impl std::error::Error + Send + Sync + 'static,
) -> Error {
    Error::Tls {
        message: message.into(),
        hint: String::new(),
        source: Some(std::io::Error::other(e)),
    }
}

/// A `--cacert` file that cannot be read, with the reader's error as cause.
fn pem_error(path: &Path, e: rustls::pki_types::pem::Error) -> Error {
    let source = match e {
        rustls::pki_types::pem::Error::Io(e) => e,
        other => std::io::Error::new(std::io::ErrorKind::InvalidData, other.to_string()),
    };
    Error::local_file(format!("cannot read --cacert {}", path.display()), source)
}

/// Runs the TLS handshake over a connected socket.
pub async fn handshake(
    tcp: TcpStream,
    target: &Target,
    config: Arc<ClientConfig>,
) -> Result<TlsStream<TcpStream>, Error> {
    let name = match target.ip {
        Some(ip) => ServerName::IpAddress(ip.into()),
        None => ServerName::try_from(target.host.clone())
            .map_err(|e| tls_error(format!("'{}' is not a valid TLS name", target.host), e))?,
    };
    TlsConnector::from(config)
        .connect(name, tcp)
        .await
        .map_err(|e| {
            let hint = match e
                .get_ref()
                .and_then(|inner| inner.downcast_ref::<rustls::Error>())
            {
                Some(rustls::Error::InvalidCertificate(cert)) => match cert {
                    rustls::CertificateError::UnknownIssuer => {
                        " (no trusted CA signed it: use --cacert FILE to trust a private CA, \
                         or --insecure to skip the check)"
                    }
                    rustls::CertificateError::NotValidForName
                    | rustls::CertificateError::NotValidForNameContext { .. } => {
                        " (the certificate is for another name: check the URL's host)"
                    }
                    rustls::CertificateError::Expired
                    | rustls::CertificateError::ExpiredContext { .. } => {
                        " (check this machine's clock)"
                    }
                    _ => "",
                },
                Some(rustls::Error::InvalidMessage(_)) => {
                    " (is it an https server on that port? it may speak plain http)"
                }
                Some(_) => "",
                None => " (is it an https server on that port?)",
            };
            Error::Tls {
                message: format!("TLS handshake with {} failed", target.host_port()),
                hint: hint.to_string(),
                source: Some(e),
            }
        })
}

/// `--insecure`: accepts any certificate, but still checks that the server
/// holds its key (the handshake signature), as curl -k does.
#[derive(Debug)]
struct AcceptAnyCertificate(Arc<rustls::crypto::CryptoProvider>);

impl ServerCertVerifier for AcceptAnyCertificate {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}
