//! Where a server's certificate comes from (`serve --tls-cert`/`--tls-key`,
//! or `--tls-self-signed` with its PEM file for clients to trust), made
//! ready to serve: [`TlsSource::load`] reads or makes it, logs what it is,
//! and keeps a made certificate's file for as long as the server runs.

use std::collections::BTreeSet;
use std::io::Write;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use tracing::info;

use super::ServerTls;
use crate::error::Error;
use crate::setting::Setting;

/// What a server speaks TLS with.
#[derive(Debug, Clone)]
pub enum TlsSource {
    /// A PEM chain and key from files (read again on reload).
    Files {
        /// The chain, server certificate first.
        cert: PathBuf,
        /// The key (PKCS#8, RSA or EC).
        key: PathBuf,
    },
    /// A certificate made at start for this machine's loopback names and
    /// the names and addresses the server binds; its PEM is written to
    /// `out`, or to a new file in the temporary directory that goes when
    /// the server does.
    SelfSigned {
        /// Where the PEM goes (`--tls-cert-out`).
        out: Option<PathBuf>,
    },
}

/// A certificate ready to serve with, and the file a made one's PEM is in.
#[derive(Debug)]
pub struct ServingTls {
    /// What new handshakes use (reload it with [`crate::server::reload_tls`]).
    pub tls: Arc<ServerTls>,
    /// The made certificate's PEM file, when there is one.
    pub made: Option<MadeCert>,
}

/// A made certificate's PEM file, held open and locked while the server
/// runs (its lock says "in use"); one in the temporary directory is
/// removed when this is dropped.
#[derive(Debug)]
pub struct MadeCert {
    path: PathBuf,
    temporary: bool,
    _file: std::fs::File,
}

impl MadeCert {
    /// Where the PEM is.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The file to remove if the process ends without dropping this
    /// (an exit at a second signal skips every destructor); `None` for a
    /// file the user named, which stays.
    pub fn removed_at_exit(&self) -> Option<&Path> {
        self.temporary.then_some(self.path.as_path())
    }
}

impl Drop for MadeCert {
    fn drop(&mut self) {
        if self.temporary {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

impl TlsSource {
    /// Reads or makes the certificate for listeners at `addrs`, bound
    /// from the words `binds` (`HOST:PORT`: a made certificate names the
    /// hosts too), and logs what it is (with its fingerprint; for a made
    /// one, where its PEM is).
    pub fn load(
        &self,
        addrs: &BTreeSet<SocketAddr>,
        binds: &[String],
    ) -> Result<ServingTls, Error> {
        match self {
            TlsSource::Files { cert, key } => {
                let tls = ServerTls::from_files(cert, key)?;
                info!(
                    "TLS with the certificate in {} (SHA-256 fingerprint {}); SIGHUP reads it \
                     again.",
                    cert.display(),
                    tls.fingerprint()
                );
                Ok(ServingTls {
                    tls: Arc::new(tls),
                    made: None,
                })
            }
            TlsSource::SelfSigned { out } => {
                let names = self_signed_names(binds, addrs);
                let (tls, made) =
                    ServerTls::self_signed(&names, super::server::SELF_SIGNED_VALIDITY)?;
                let made = write_cert(out.as_deref(), &made.cert_pem)?;
                info!(
                    "TLS with a self-signed certificate for {}, valid for 30 days, SHA-256 \
                     fingerprint {}. Its PEM is in {}.",
                    names.join(", "),
                    tls.fingerprint(),
                    made.path.display()
                );
                Ok(ServingTls {
                    tls: Arc::new(tls),
                    made: Some(made),
                })
            }
        }
    }
}

/// Logs, once the server listens at `addr`, how a client trusts the
/// certificate made here: commands to paste as they are, with the address
/// to dial (loopback for a wildcard bind) and the path quoted if needed.
pub fn log_trust_hint(pem: &Path, addr: SocketAddr) {
    let mut dial = addr;
    if dial.ip().is_unspecified() {
        dial.set_ip(match dial.ip() {
            std::net::IpAddr::V4(_) => std::net::Ipv4Addr::LOCALHOST.into(),
            std::net::IpAddr::V6(_) => std::net::Ipv6Addr::LOCALHOST.into(),
        });
    }
    let shown = pem.display().to_string();
    let path = if shown
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || "/._-+:@%".contains(c))
    {
        shown
    } else {
        format!("'{}'", shown.replace('\'', "'\\''"))
    };
    info!(
        "Trust the certificate with `tcpkit talk --tls --cacert {path} {dial}` or \
         `openssl s_client -connect {dial} -CAfile {path}`."
    );
}

/// What a self-signed certificate is made for: each bind's host name and
/// address the listeners have (not 0.0.0.0 or ::, which no client dials),
/// and this machine's loopback names.
pub fn self_signed_names(binds: &[String], addrs: &BTreeSet<SocketAddr>) -> Vec<String> {
    let mut names: Vec<String> = vec!["localhost".into(), "127.0.0.1".into(), "::1".into()];
    let hosts = binds.iter().filter_map(|spec| {
        let host = spec
            .rsplit_once(':')
            .map_or(spec.as_str(), |(host, _)| host);
        let host = host.trim_start_matches('[').trim_end_matches(']');
        (!host.is_empty() && host.parse::<std::net::IpAddr>().is_err()).then(|| host.to_string())
    });
    let ips = addrs
        .iter()
        .map(|a| a.ip())
        .filter(|ip| !ip.is_unspecified())
        .map(|ip| ip.to_string());
    for name in hosts.chain(ips) {
        if !names.contains(&name) {
            names.push(name);
        }
    }
    names
}

/// Writes a self-signed certificate's PEM where the user said, or to a new
/// file in the temporary directory, locked for as long as it is kept
/// open. A file another running server holds locked is its certificate,
/// which its clients trust: never overwritten. (One a stopped server left
/// is, as a restart with the same flags would.)
fn write_cert(to: Option<&Path>, pem: &str) -> Result<MadeCert, Error> {
    let (path, mut file, temporary) = match to {
        Some(path) => {
            // Not truncated on open: that would empty a running server's
            // file before its lock is seen.
            let file = std::fs::OpenOptions::new()
                .write(true)
                .create(true)
                .truncate(false)
                .open(path)
                .map_err(|e| cert_not_written(path, e))?;
            (path.to_path_buf(), file, false)
        }
        None => {
            let (path, file) = new_cert_file()?;
            (path, file, true)
        }
    };
    // Owned from here: a failure below still removes a temporary file.
    let made_path = path.clone();
    let remove = |e: Error| {
        if temporary {
            let _ = std::fs::remove_file(&made_path);
        }
        e
    };
    match file.try_lock() {
        Ok(()) => {}
        Err(std::fs::TryLockError::WouldBlock) => {
            return Err(remove(Error::LocalFile {
                message: crate::words!(
                    "{} {} is the certificate of another tcpkit serve that is running (it holds \
                     the file's lock), and its clients trust it: give this server another path, \
                     or stop that one first",
                    Setting::TlsCertOut,
                    path.display()
                ),
                source: None,
            }));
        }
        // A file system without locks: write as before.
        Err(std::fs::TryLockError::Error(_)) => {}
    }
    file.set_len(0)
        .and_then(|()| file.write_all(pem.as_bytes()))
        .map_err(|e| remove(cert_not_written(&path, e)))?;
    Ok(MadeCert {
        path,
        temporary,
        _file: file,
    })
}

/// A new file of this process's own in the temporary directory. The name
/// is made unique when the file is created: a server killed by SIGKILL
/// leaves its file behind, and a later process given the same pid must
/// not stumble on it.
fn new_cert_file() -> Result<(PathBuf, std::fs::File), Error> {
    let dir = std::env::temp_dir();
    let made = tempfile::Builder::new()
        .prefix(&format!("tcpkit-self-signed-{}-", std::process::id()))
        .suffix(".pem")
        .tempfile_in(&dir)
        .map_err(|e| cert_not_written(&dir, e))?;
    // tempfile makes the file owner-only; a certificate is public, and
    // clients run by other users may pin it. Done before `keep`, so that a
    // failure here still removes the file.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        made.as_file()
            .set_permissions(std::fs::Permissions::from_mode(0o644))
            .map_err(|e| cert_not_written(made.path(), e))?;
    }
    let (file, path) = made.keep().map_err(|e| cert_not_written(&dir, e.error))?;
    Ok((path, file))
}

fn cert_not_written(path: &Path, e: std::io::Error) -> Error {
    Error::LocalFile {
        message: crate::words!("cannot write the certificate to {}", path.display()),
        source: Some(e),
    }
}
