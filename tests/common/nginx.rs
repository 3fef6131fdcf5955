//! A private nginx on loopback ports (http and https), with a test CA and
//! a server certificate for localhost made by openssl: for the peer tier
//! (`fetch_peers.rs`, `tls_peers.rs`, `wine_peers.rs`).

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use super::{PATIENCE, free_port, require};

/// A private nginx on loopback ports, stopped (by pid) when dropped.
pub struct Nginx {
    child: Child,
    dir: tempfile::TempDir,
    /// The http port on 127.0.0.1.
    pub http: u16,
    /// The https port on 127.0.0.1 and ::1.
    pub https: u16,
}

impl Drop for Nginx {
    fn drop(&mut self) {
        stop(&mut self.child);
    }
}

/// Stops nginx by its pid: SIGTERM lets the master stop its workers
/// (SIGKILL would orphan them); SIGKILL only if it does not go.
pub fn stop(child: &mut Child) {
    if let Ok(pid) = i32::try_from(child.id()) {
        // SAFETY: kill(2) with a pid we spawned and have not yet reaped.
        unsafe { libc::kill(pid, libc::SIGTERM) };
    }
    let deadline = Instant::now() + Duration::from_secs(5);
    while Instant::now() < deadline {
        if let Ok(Some(_)) = child.try_wait() {
            return;
        }
        thread::sleep(Duration::from_millis(20));
    }
    let _ = child.kill();
    let _ = child.wait();
}

pub fn run(cmd: &mut Command) {
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "{cmd:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A directory holding ca.pem and server.pem/server.key for localhost.
pub fn certificates() -> tempfile::TempDir {
    require("openssl");
    let dir = tempfile::tempdir().unwrap();
    make_certificates(dir.path());
    dir
}

/// Makes a CA and a server certificate for localhost and 127.0.0.1.
pub fn make_certificates(dir: &Path) {
    let openssl = || {
        let mut cmd = Command::new("openssl");
        cmd.current_dir(dir);
        cmd
    };
    let key = [
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:prime256v1",
        "-nodes",
    ];
    run(openssl()
        .args(["req", "-x509"])
        .args(key)
        .args(["-keyout", "ca.key", "-out", "ca.pem", "-days", "2"])
        .args(["-subj", "/CN=tcpkit test CA"]));
    run(openssl()
        .arg("req")
        .args(key)
        .args(["-keyout", "server.key", "-out", "server.csr"])
        .args(["-subj", "/CN=localhost"]));
    std::fs::write(
        dir.join("ext.cnf"),
        "subjectAltName=DNS:localhost,IP:127.0.0.1\nbasicConstraints=CA:FALSE\n\
         extendedKeyUsage=serverAuth\n",
    )
    .unwrap();
    run(openssl()
        .args([
            "x509",
            "-req",
            "-in",
            "server.csr",
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca.key",
        ])
        .args(["-CAcreateserial", "-out", "server.pem", "-days", "2"])
        .args(["-extfile", "ext.cnf"]));
}

/// Starts nginx serving `www/` over http and https (on 127.0.0.1 and ::1).
pub fn start_nginx() -> Nginx {
    require("nginx");
    require("openssl");
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    make_certificates(root);
    std::fs::create_dir(root.join("www")).unwrap();
    std::fs::create_dir(root.join("tmp")).unwrap();
    for attempt in 0.. {
        let (http, https) = (free_port(), free_port());
        let conf = format!(
            "user root;\n\
             worker_processes 1;\n\
             daemon off;\n\
             pid {root}/nginx.pid;\n\
             error_log {root}/error.log;\n\
             events {{ worker_connections 64; }}\n\
             http {{\n\
               access_log off;\n\
               client_body_temp_path {root}/tmp;\n\
               proxy_temp_path {root}/tmp;\n\
               fastcgi_temp_path {root}/tmp;\n\
               uwsgi_temp_path {root}/tmp;\n\
               scgi_temp_path {root}/tmp;\n\
               types {{ text/plain txt; application/octet-stream bin; }}\n\
               gzip on; gzip_types *; gzip_min_length 0;\n\
               map $http_range $slow {{ default 64k; \"~.\" 0; }}\n\
               server {{\n\
                 listen 127.0.0.1:{http};\n\
                 listen 127.0.0.1:{https} ssl;\n\
                 listen [::1]:{https} ssl;\n\
                 ssl_certificate {root}/server.pem;\n\
                 ssl_certificate_key {root}/server.key;\n\
                 root {root}/www;\n\
                 location /moved {{ return 302 /page.txt; }}\n\
                 location /slow/ {{ alias {root}/www/; limit_rate $slow; }}\n\
                 location /downgrade {{ return 302 http://127.0.0.1:{http}/page.txt; }}\n\
               }}\n\
             }}\n",
            root = root.display()
        );
        std::fs::write(root.join("nginx.conf"), conf).unwrap();
        let mut child = Command::new("nginx")
            .args(["-p", &root.display().to_string(), "-c"])
            .arg(root.join("nginx.conf"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let deadline = Instant::now() + PATIENCE;
        let mut up = false;
        while Instant::now() < deadline {
            if let Ok(Some(_)) = child.try_wait() {
                break; // it exited: most likely a port was taken meanwhile
            }
            if std::net::TcpStream::connect(("127.0.0.1", https)).is_ok()
                && std::net::TcpStream::connect(("127.0.0.1", http)).is_ok()
            {
                up = true;
                break;
            }
            thread::sleep(Duration::from_millis(20));
        }
        if up {
            return Nginx {
                child,
                dir,
                http,
                https,
            };
        }
        stop(&mut child);
        let log = std::fs::read_to_string(root.join("error.log")).unwrap_or_default();
        assert!(attempt < 3, "nginx did not start: {log}");
    }
    unreachable!()
}

impl Nginx {
    /// Writes a file under the document root.
    pub fn put(&self, name: &str, bytes: &[u8]) -> PathBuf {
        let path = self.dir.path().join("www").join(name);
        std::fs::write(&path, bytes).unwrap();
        path
    }

    pub fn ca(&self) -> String {
        self.dir.path().join("ca.pem").display().to_string()
    }
}
