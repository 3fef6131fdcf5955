//! The client side: what a client trusts, and what a failed check means.
//! Trust is the webpki roots (Mozilla's list) plus any `--cacert` file, or
//! nothing at all with `--insecure`. SNI and the name check work as in
//! browsers: a host name is checked against DNS names, an IP address
//! against IP SANs.

use std::path::Path;
use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme};

use super::tls_error;
use crate::error::Error;
use crate::setting::{Setting, Words};

/// The name a client checks the certificate against (and sends as SNI):
/// an IP address is checked against IP SANs and sent as no SNI at all.
pub fn server_name(host: &str) -> Result<ServerName<'static>, Error> {
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    if let Ok(ip) = bare.parse::<std::net::IpAddr>() {
        return Ok(ServerName::IpAddress(ip.into()));
    }
    ServerName::try_from(host.to_string())
        .map_err(|e| tls_error(format!("'{host}' is not a valid TLS name"), e))
}

/// What to do about a failed handshake, written to follow the causes;
/// `name_hint` says how to name another host (`check the URL's host`,
/// `or set --servername`). Empty when there is nothing to add.
pub fn hint(error: Option<&rustls::Error>, name_hint: &Words) -> Words {
    match error {
        Some(rustls::Error::InvalidCertificate(cert)) => match cert {
            rustls::CertificateError::UnknownIssuer | rustls::CertificateError::BadSignature => {
                crate::words!(
                    " (use {} FILE to trust a private CA or a self-signed certificate, or {} \
                     to skip the check)",
                    Setting::Cacert,
                    Setting::Insecure
                )
            }
            rustls::CertificateError::NotValidForName
            | rustls::CertificateError::NotValidForNameContext { .. } => {
                crate::words!(" ({})", name_hint)
            }
            rustls::CertificateError::Other(other)
                if other.to_string().contains("CaUsedAsEndEntity") =>
            {
                crate::words!(
                    " (give that very certificate to {} (openssl req -x509 makes such \
                     certificates by default; -addext basicConstraints=critical,CA:FALSE makes a \
                     server certificate)",
                    Setting::Cacert
                )
            }
            rustls::CertificateError::Expired
            | rustls::CertificateError::ExpiredContext { .. }
            | rustls::CertificateError::NotValidYet
            | rustls::CertificateError::NotValidYetContext { .. } => {
                " (check this machine's clock, or renew the certificate)".into()
            }
            _ => Words::default(),
        },
        Some(rustls::Error::InvalidMessage(_)) => {
            " (is it a TLS server on that port? it may speak plain text)".into()
        }
        Some(_) => Words::default(),
        None => " (is it a TLS server on that port?)".into(),
    }
}

/// Runs a client handshake over a blocking socket, each read bounded by
/// the socket's read timeout; `spec` names the server in errors. For
/// `talk` and `bench`'s blocking side.
pub fn handshake_blocking(
    tcp: &std::net::TcpStream,
    config: Arc<ClientConfig>,
    name: ServerName<'static>,
    spec: &str,
) -> Result<rustls::ClientConnection, Error> {
    let mut conn = rustls::ClientConnection::new(config, name)
        .map_err(|e| tls_error("cannot start TLS", e))?;
    let limit = tcp.read_timeout().ok().flatten();
    while conn.is_handshaking() {
        if let Err(e) = conn.complete_io(&mut &*tcp) {
            return Err(handshake_failed(
                e,
                spec,
                limit,
                &crate::words!(
                    "connect by one of its names, or check another with {} NAME",
                    Setting::ServerName
                ),
            ));
        }
    }
    Ok(conn)
}

/// A handshake with `spec` that failed (`limit` was each read's bound,
/// `None` when the caller bounds it otherwise): a timeout, or a TLS error
/// with what to do about it; `name_hint` as for [`hint`].
pub fn handshake_failed(
    e: std::io::Error,
    spec: &str,
    limit: Option<std::time::Duration>,
    name_hint: &Words,
) -> Error {
    use std::io::ErrorKind;
    if let (true, Some(after)) = (
        matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut),
        limit,
    ) {
        return Error::Timeout {
            what: crate::words!("waiting for the TLS handshake with {spec} (is it a TLS server?)"),
            after,
            source: Some(e),
        };
    }
    let hint = match (rustls_error(&e), e.kind()) {
        (None, ErrorKind::UnexpectedEof | ErrorKind::ConnectionReset) => {
            " (it closed the connection: is it a TLS server? it may speak plain text)".into()
        }
        (error, _) => hint(error, name_hint),
    };
    // rustls's own words fall back to Debug forms; ours do not.
    let source = match rustls_error(&e) {
        Some(error) => std::io::Error::new(e.kind(), super::words::describe(error)),
        None => e,
    };
    Error::Tls {
        message: crate::words!("TLS handshake with {spec} failed"),
        hint,
        source: Some(source),
    }
}

/// The rustls error inside an I/O error from a handshake, if it is one.
pub fn rustls_error(e: &std::io::Error) -> Option<&rustls::Error> {
    e.get_ref()
        .and_then(|inner| inner.downcast_ref::<rustls::Error>())
}

/// Builds a client configuration, once per run: the webpki roots plus
/// `cacert`'s certificates, or no check at all with `insecure`; `alpn`
/// lists the protocols to offer (none: no ALPN).
pub fn config(
    cacert: Option<&Path>,
    insecure: bool,
    alpn: &[&[u8]],
) -> Result<Arc<ClientConfig>, Error> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut roots = RootCertStore::empty();
    roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    let mut pinned = Vec::new();
    if let Some(path) = cacert {
        let shown = path.display();
        let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(path)
            .map_err(|e| pem_error(path, e))?
            .collect::<Result<_, _>>()
            .map_err(|e| pem_error(path, e))?;
        if certs.is_empty() {
            return Err(Error::local(crate::words!(
                "{} {shown} holds no PEM certificates (expected -----BEGIN CERTIFICATE-----)",
                Setting::Cacert
            )));
        }
        for cert in certs {
            roots.add(cert.clone()).map_err(|e| {
                Error::local(crate::words!(
                    "{} {shown}: unusable certificate: {}",
                    Setting::Cacert,
                    super::words::describe(&e)
                ))
            })?;
            pinned.push(cert);
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
        let webpki =
            rustls::client::WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider)
                .build()
                .map_err(|e| tls_error("cannot set up TLS", e))?;
        builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(Pinning { webpki, pinned }))
            .with_no_client_auth()
    };
    config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
    Ok(Arc::new(config))
}

/// A `--cacert` file that cannot be read, with the reader's error as cause.
fn pem_error(path: &Path, e: rustls::pki_types::pem::Error) -> Error {
    let source = match e {
        rustls::pki_types::pem::Error::Io(e) => e,
        other => std::io::Error::new(std::io::ErrorKind::InvalidData, other.to_string()),
    };
    Error::local_file(
        crate::words!("cannot read {} {}", Setting::Cacert, path.display()),
        source,
    )
}

/// The webpki check, and one exception: a server certificate that is byte
/// for byte one of `--cacert`'s is trusted as itself, as curl and
/// `openssl s_client -CAfile` trust it. `openssl req -x509` makes CA
/// certificates (CA:TRUE) by default, which webpki refuses as a server's
/// own (`CaUsedAsEndEntity`); pinned, it still has to be for the name
/// dialled and within its validity period.
#[derive(Debug)]
struct Pinning {
    webpki: Arc<rustls::client::WebPkiServerVerifier>,
    pinned: Vec<CertificateDer<'static>>,
}

impl ServerCertVerifier for Pinning {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let checked = self.webpki.verify_server_cert(
            end_entity,
            intermediates,
            server_name,
            ocsp_response,
            now,
        );
        if checked.is_ok()
            || !self
                .pinned
                .iter()
                .any(|p| p.as_ref() == end_entity.as_ref())
        {
            return checked;
        }
        let parsed = rustls::server::ParsedCertificate::try_from(end_entity)?;
        rustls::client::verify_server_name(&parsed, server_name)?;
        within_validity(end_entity, now)?;
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.webpki.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.webpki.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.webpki.supported_verify_schemes()
    }
}

/// A pinned certificate's notBefore..notAfter holds `now`.
fn within_validity(der: &CertificateDer<'_>, now: UnixTime) -> Result<(), rustls::Error> {
    use rustls::CertificateError;
    use x509_parser::prelude::{FromDer, X509Certificate};
    let (_, cert) = X509Certificate::from_der(der.as_ref())
        .map_err(|_| rustls::Error::InvalidCertificate(CertificateError::BadEncoding))?;
    let validity = cert.validity();
    let time = now.as_secs();
    let (from, until) = (
        validity.not_before.timestamp(),
        validity.not_after.timestamp(),
    );
    let at =
        |secs: i64| UnixTime::since_unix_epoch(std::time::Duration::from_secs(secs.max(0) as u64));
    if (time as i64) < from {
        return Err(rustls::Error::InvalidCertificate(
            CertificateError::NotValidYetContext {
                time: now,
                not_before: at(from),
            },
        ));
    }
    if (time as i64) > until {
        return Err(rustls::Error::InvalidCertificate(
            CertificateError::ExpiredContext {
                time: now,
                not_after: at(until),
            },
        ));
    }
    Ok(())
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

/// Whether `addr` speaks TLS: a second connection sends a ClientHello,
/// and what comes back, within `limit`, is handed to a TLS client to
/// judge. Only a ServerHello it accepts (it then knows the version the
/// server chose) or a TLS alert counts: a reply that merely starts like
/// a TLS record does not, so an echo server, which sends our own
/// ClientHello back, or a server of random bytes that happen to start
/// `16 03`, is not taken for TLS. For a client that waited in silence for
/// a plain welcome: a TLS server says nothing until the client speaks.
pub fn answers_tls(addr: std::net::SocketAddr, limit: std::time::Duration) -> bool {
    use std::io::Write;
    let started = std::time::Instant::now();
    let client = (|| {
        let config = config(None, true, &[]).ok()?;
        let name = ServerName::try_from("localhost").ok()?;
        rustls::ClientConnection::new(config, name).ok()
    })();
    let Some(mut client) = client else {
        return false;
    };
    let mut hello = Vec::new();
    if client.write_tls(&mut hello).is_err() {
        return false;
    }
    let Ok(mut stream) = std::net::TcpStream::connect_timeout(&addr, limit) else {
        return false;
    };
    if stream.write_all(&hello).is_err() {
        return false;
    }
    loop {
        let left = limit.saturating_sub(started.elapsed());
        if left.is_zero() || stream.set_read_timeout(Some(left)).is_err() {
            return false;
        }
        match client.read_tls(&mut stream) {
            Ok(0) | Err(_) => return false,
            Ok(_) => {}
        }
        match client.process_new_packets() {
            // A TLS server that refuses this hello still speaks TLS.
            Err(rustls::Error::AlertReceived(_)) => return true,
            Err(_) => return false,
            // A ServerHello was accepted: the version is chosen.
            Ok(_) if client.protocol_version().is_some() => return true,
            // Not a whole record yet.
            Ok(_) => {}
        }
    }
}
