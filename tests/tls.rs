//! `serve` over TLS, through the real binary and a rustls client: the
//! tutorial's transcript inside TLS 1.2 and 1.3, a ClientHello split a
//! byte at a time, pipelined and unread replies, plain-text and garbage
//! clients, the handshake timeout (and 0: no bound), PROXY before TLS,
//! SIGHUP reloads, and bad certificate files. Certificates are made here
//! with rcgen; the peer tier checks the same against openssl and ncat.

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{PATIENCE, Proc};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};

/// A certificate and key made for these tests.
struct Pair {
    cert_pem: String,
    key_pem: String,
}

/// A self-signed certificate for `names`, valid around now.
fn pair(names: &[&str]) -> Pair {
    let key = rcgen::KeyPair::generate().unwrap();
    let names: Vec<String> = names.iter().map(|n| n.to_string()).collect();
    let cert = rcgen::CertificateParams::new(names)
        .unwrap()
        .self_signed(&key)
        .unwrap();
    Pair {
        cert_pem: cert.pem(),
        key_pem: key.serialize_pem(),
    }
}

/// Writes a pair to `dir` as cert.pem and key.pem.
fn write_pair(dir: &Path, pair: &Pair) -> (PathBuf, PathBuf) {
    let (cert, key) = (dir.join("cert.pem"), dir.join("key.pem"));
    std::fs::write(&cert, &pair.cert_pem).unwrap();
    std::fs::write(&key, &pair.key_pem).unwrap();
    (cert, key)
}

/// `serve --tls-cert --tls-key` with `extra` flags.
fn serve_files(cert: &Path, key: &Path, extra: &[&str]) -> Proc {
    let mut args = vec![
        "--bind",
        "127.0.0.1:0",
        "--linger",
        "200ms",
        "--tls-cert",
        cert.to_str().unwrap(),
        "--tls-key",
        key.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    Proc::serve(&args)
}

/// A rustls client configuration trusting the certificates in `pem`, for
/// the given protocol versions.
fn client_config(
    pem: &str,
    versions: &[&'static rustls::SupportedProtocolVersion],
) -> Arc<rustls::ClientConfig> {
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_slice_iter(pem.as_bytes()) {
        roots.add(cert.unwrap()).unwrap();
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_protocol_versions(versions)
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    Arc::new(config)
}

type Tls = rustls::StreamOwned<rustls::ClientConnection, TcpStream>;

/// A TLS connection to `addr` as `name`, trusting `pem`; with `preamble`
/// sent in plain text first (a PROXY header).
fn connect_tls(
    addr: SocketAddr,
    pem: &str,
    versions: &[&'static rustls::SupportedProtocolVersion],
    preamble: &[u8],
) -> BufReader<Tls> {
    let mut tcp = TcpStream::connect(addr).unwrap();
    tcp.set_read_timeout(Some(PATIENCE)).unwrap();
    tcp.write_all(preamble).unwrap();
    let name = ServerName::try_from("localhost").unwrap();
    let conn = rustls::ClientConnection::new(client_config(pem, versions), name).unwrap();
    BufReader::new(rustls::StreamOwned::new(conn, tcp))
}

fn line(tls: &mut BufReader<Tls>) -> String {
    let mut line = String::new();
    tls.read_line(&mut line).unwrap();
    line
}

/// The fingerprint the server's certificate has, as seen by a client.
#[cfg(unix)] // for the SIGHUP test
fn seen_fingerprint(tls: &mut BufReader<Tls>) -> String {
    let certs = tls.get_ref().conn.peer_certificates().unwrap();
    tcpkit::tls::fingerprint(certs[0].as_ref())
}

fn transcript(tls: &mut BufReader<Tls>) {
    assert_eq!(line(tls), "Welcome!\n");
    for name in ["Michael", "Tracy", "Sarah"] {
        tls.get_mut()
            .write_all(format!("{name}\n").as_bytes())
            .unwrap();
        assert_eq!(line(tls), format!("Hello, {name}!\n"));
    }
    tls.get_mut().write_all(b"exit\n").unwrap();
    // The server's close is a close_notify: a clean end, no truncation.
    let mut rest = Vec::new();
    tls.read_to_end(&mut rest).expect("a clean TLS close");
    assert_eq!(rest, b"");
}

#[test]
fn the_tutorial_transcript_runs_inside_tls_1_2_and_1_3() {
    let dir = tempfile::tempdir().unwrap();
    let (cert, key) = write_pair(dir.path(), &pair(&["localhost"]));
    let pem = std::fs::read_to_string(&cert).unwrap();
    let server = serve_files(&cert, &key, &[]);
    for (version, shown) in [
        (&rustls::version::TLS13, "TLS 1.3"),
        (&rustls::version::TLS12, "TLS 1.2"),
    ] {
        let mut tls = connect_tls(server.addr, &pem, &[version], b"");
        transcript(&mut tls);
        assert!(server.logged(&format!("({shown}, ")), "{}", server.log());
    }
    assert!(server.logged("client sent exit, 3 messages"));
}

#[test]
fn a_client_hello_that_arrives_a_byte_at_a_time_is_waited_for() {
    let dir = tempfile::tempdir().unwrap();
    let (cert, key) = write_pair(dir.path(), &pair(&["localhost"]));
    let pem = std::fs::read_to_string(&cert).unwrap();
    let server = serve_files(&cert, &key, &[]);
    let mut tcp = TcpStream::connect(server.addr).unwrap();
    tcp.set_nodelay(true).unwrap();
    tcp.set_read_timeout(Some(PATIENCE)).unwrap();
    let name = ServerName::try_from("localhost").unwrap();
    let config = client_config(&pem, &[&rustls::version::TLS13]);
    let mut conn = rustls::ClientConnection::new(config, name).unwrap();
    // The ClientHello, one byte per write, with pauses: many reads.
    let mut hello = Vec::new();
    conn.write_tls(&mut hello).unwrap();
    for byte in &hello {
        tcp.write_all(std::slice::from_ref(byte)).unwrap();
        std::thread::sleep(Duration::from_micros(200));
    }
    // Then the rest of the handshake, and a message split across records.
    conn.writer().write_all(b"Mich").unwrap();
    conn.writer().write_all(b"ael\nTra").unwrap();
    conn.writer().write_all(b"cy\n").unwrap();
    let mut tls = BufReader::new(rustls::StreamOwned::new(conn, tcp));
    assert_eq!(line(&mut tls), "Welcome!\n");
    assert_eq!(line(&mut tls), "Hello, Michael!\n");
    assert_eq!(line(&mut tls), "Hello, Tracy!\n");
}

#[test]
fn pipelined_and_unread_replies_all_arrive_over_tls() {
    let dir = tempfile::tempdir().unwrap();
    let (cert, key) = write_pair(dir.path(), &pair(&["localhost"]));
    let pem = std::fs::read_to_string(&cert).unwrap();
    let server = serve_files(&cert, &key, &[]);
    let mut tls = connect_tls(server.addr, &pem, &[&rustls::version::TLS13], b"");
    assert_eq!(line(&mut tls), "Welcome!\n");
    // 30,000 messages in one go, before reading any reply: the replies
    // (about 600 KB) outgrow every socket buffer, so the server must hold
    // them, stop reading, and go on once we read.
    let count = 30_000;
    let mut batch = Vec::new();
    for i in 0..count {
        batch.extend_from_slice(format!("n{i}\n").as_bytes());
    }
    let writer = {
        let mut tcp = tls.get_ref().sock.try_clone().unwrap();
        let mut records = Vec::new();
        let conn = &mut tls.get_mut().conn;
        conn.set_buffer_limit(None);
        conn.writer().write_all(&batch).unwrap();
        while conn.wants_write() {
            conn.write_tls(&mut records).unwrap();
        }
        std::thread::spawn(move || tcp.write_all(&records).unwrap())
    };
    std::thread::sleep(Duration::from_millis(500));
    for i in 0..count {
        assert_eq!(line(&mut tls), format!("Hello, n{i}!\n"));
    }
    writer.join().unwrap();
}

#[test]
fn a_plain_client_is_told_in_plain_text_and_the_log_says_what_it_sent() {
    let dir = tempfile::tempdir().unwrap();
    let (cert, key) = write_pair(dir.path(), &pair(&["localhost"]));
    let server = serve_files(&cert, &key, &[]);
    let mut plain = common::LineClient::connect(server.addr);
    plain.send(b"Michael\n");
    assert_eq!(
        plain.line(),
        "Error: this server speaks TLS; connect with TLS (tcpkit talk --tls, openssl s_client)\n"
    );
    assert_eq!(plain.rest(), b"");
    assert!(
        server.logged("failed: not a TLS client: it sent \"Michael\\n\" (told it in plain text).")
    );
}

#[test]
fn garbage_and_silence_are_closed_and_others_are_served_meanwhile() {
    let dir = tempfile::tempdir().unwrap();
    let (cert, key) = write_pair(dir.path(), &pair(&["localhost"]));
    let pem = std::fs::read_to_string(&cert).unwrap();
    let server = serve_files(&cert, &key, &["--tls-handshake-timeout", "1s"]);
    // A handshake record type with nonsense in it.
    let mut garbage = TcpStream::connect(server.addr).unwrap();
    garbage.set_read_timeout(Some(PATIENCE)).unwrap();
    garbage.write_all(b"\x16\x03\x01\x00\x05hello").unwrap();
    // A client that connects and sends nothing.
    let started = Instant::now();
    let mut silent = TcpStream::connect(server.addr).unwrap();
    silent.set_read_timeout(Some(PATIENCE)).unwrap();
    // The garbage is closed at once, not at the timeout.
    let mut got = Vec::new();
    let _ = garbage.read_to_end(&mut got);
    assert!(started.elapsed() < Duration::from_millis(900));
    assert!(
        got.is_empty() || got[0] == 0x15,
        "nothing or an alert: {got:?}"
    );
    // The silent one holds a connection; a real client is served
    // meanwhile.
    let mut tls = connect_tls(server.addr, &pem, &[&rustls::version::TLS13], b"");
    transcript(&mut tls);
    // The silent one is closed at the timeout, not before.
    let mut buf = [0u8; 64];
    let n = silent.read(&mut buf).unwrap_or(0);
    let waited = started.elapsed();
    assert_eq!(n, 0);
    assert!(
        waited >= Duration::from_millis(900),
        "closed after {waited:?}"
    );
    assert!(server.logged("not finished within 1s (see --tls-handshake-timeout)."));
    assert!(
        server.logged("failed: the peer sent a malformed TLS message"),
        "{}",
        server.log()
    );
}

#[test]
fn a_handshake_timeout_of_0_waits_as_long_as_it_takes() {
    let dir = tempfile::tempdir().unwrap();
    let (cert, key) = write_pair(dir.path(), &pair(&["localhost"]));
    let pem = std::fs::read_to_string(&cert).unwrap();
    let server = serve_files(&cert, &key, &["--tls-handshake-timeout", "0"]);
    let mut tcp = TcpStream::connect(server.addr).unwrap();
    tcp.set_read_timeout(Some(Duration::from_millis(2500)))
        .unwrap();
    let mut buf = [0u8; 1];
    let waited = tcp.read(&mut buf);
    assert!(
        waited.as_ref().is_err_and(|e| matches!(
            e.kind(),
            std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
        )),
        "with no bound the server kept waiting, but got {waited:?}"
    );
    // And the handshake still works afterwards on that same connection.
    tcp.set_read_timeout(Some(PATIENCE)).unwrap();
    let name = ServerName::try_from("localhost").unwrap();
    let config = client_config(&pem, &[&rustls::version::TLS13]);
    let conn = rustls::ClientConnection::new(config, name).unwrap();
    let mut tls = BufReader::new(rustls::StreamOwned::new(conn, tcp));
    transcript(&mut tls);
}

#[test]
fn a_proxy_header_comes_before_the_client_hello() {
    let dir = tempfile::tempdir().unwrap();
    let (cert, key) = write_pair(dir.path(), &pair(&["localhost"]));
    let pem = std::fs::read_to_string(&cert).unwrap();
    let server = serve_files(
        &cert,
        &key,
        &["--proxy-protocol", "any", "--proxy-from", "127.0.0.1"],
    );
    let client: SocketAddr = "203.0.113.7:4242".parse().unwrap();
    let header = tcpkit::wire::proxy::encode(tcpkit::wire::proxy::Version::V1, client, server.addr);
    let mut tls = connect_tls(server.addr, &pem, &[&rustls::version::TLS13], &header);
    transcript(&mut tls);
    assert!(
        server.logged("Accept new connection from 203.0.113.7:4242 (via 127.0.0.1:"),
        "{}",
        server.log()
    );
    assert!(server.logged(", TLS 1.3, "));
    // The header and the ClientHello in one write: the bytes read after
    // the header are the start of the handshake.
    let mut tcp = TcpStream::connect(server.addr).unwrap();
    tcp.set_read_timeout(Some(PATIENCE)).unwrap();
    let name = ServerName::try_from("localhost").unwrap();
    let config = client_config(&pem, &[&rustls::version::TLS13]);
    let mut conn = rustls::ClientConnection::new(config, name).unwrap();
    let mut together = header.clone();
    conn.write_tls(&mut together).unwrap();
    tcp.write_all(&together).unwrap();
    let mut tls = BufReader::new(rustls::StreamOwned::new(conn, tcp));
    transcript(&mut tls);
}

#[cfg(unix)]
#[test]
fn sighup_reads_the_certificate_again_and_a_broken_one_is_not_taken() {
    let dir = tempfile::tempdir().unwrap();
    let (first, second) = (pair(&["localhost"]), pair(&["localhost"]));
    let (cert, key) = write_pair(dir.path(), &first);
    let server = serve_files(&cert, &key, &[]);
    let versions = [&rustls::version::TLS13];
    let mut old = connect_tls(server.addr, &first.cert_pem, &versions, b"");
    assert_eq!(line(&mut old), "Welcome!\n");
    let first_print = seen_fingerprint(&mut old);
    assert!(server.logged(&format!("(SHA-256 fingerprint {first_print})")));

    write_pair(dir.path(), &second);
    server.signal(libc::SIGHUP);
    assert!(server.logged("SIGHUP: reloaded the TLS certificate from"));
    let mut new = connect_tls(server.addr, &second.cert_pem, &versions, b"");
    assert_eq!(line(&mut new), "Welcome!\n");
    let second_print = seen_fingerprint(&mut new);
    assert_ne!(first_print, second_print);
    // The session begun before the reload goes on.
    old.get_mut().write_all(b"Michael\n").unwrap();
    assert_eq!(line(&mut old), "Hello, Michael!\n");

    // A broken key: the reload fails and says why; the second pair stays.
    std::fs::write(&key, "not a key\n").unwrap();
    server.signal(libc::SIGHUP);
    assert!(
        server.logged(&format!(
            "SIGHUP: cannot reload the TLS certificate: --tls-key {} holds no PEM private key",
            key.display()
        )),
        "{}",
        server.log()
    );
    assert!(server.logged(&format!(
        "keeping the old one (SHA-256 fingerprint {second_print})"
    )));
    let mut after = connect_tls(server.addr, &second.cert_pem, &versions, b"");
    assert_eq!(line(&mut after), "Welcome!\n");
    assert_eq!(seen_fingerprint(&mut after), second_print);
}

#[test]
fn the_self_signed_certificate_is_written_out_and_trusted_by_its_fingerprint() {
    let dir = tempfile::tempdir().unwrap();
    let (server, out) = common::serve_tls_self_signed(dir.path());
    let out = std::path::PathBuf::from(out);
    let pem = std::fs::read_to_string(&out).unwrap();
    let mut tls = connect_tls(server.addr, &pem, &[&rustls::version::TLS13], b"");
    transcript(&mut tls);
    let der = CertificateDer::from_pem_slice(pem.as_bytes()).unwrap();
    let print = tcpkit::tls::fingerprint(der.as_ref());
    assert!(server.logged(&format!(
        "TLS with a self-signed certificate for localhost, 127.0.0.1, ::1, valid for 30 days, \
         SHA-256 fingerprint {print}. Its PEM is in {}",
        out.display()
    )));
}

#[test]
fn certificate_files_that_cannot_be_used_say_why() {
    let dir = tempfile::tempdir().unwrap();
    let (cert, key) = write_pair(dir.path(), &pair(&["localhost"]));
    let other = pair(&["localhost"]);
    let other_key = dir.path().join("other-key.pem");
    std::fs::write(&other_key, &other.key_pem).unwrap();
    let missing = dir.path().join("missing.pem");
    let serve = |cert: &Path, key: &Path| {
        let out = std::process::Command::new(common::tcpkit())
            .args(["serve", "--bind", "127.0.0.1:0", "--tls-cert"])
            .arg(cert)
            .arg("--tls-key")
            .arg(key)
            .output()
            .unwrap();
        (out.status.code(), common::stderr_of(&out))
    };
    let (code, err) = serve(&missing, &key);
    assert_eq!(code, Some(13), "{err}");
    assert!(
        err.contains(&format!("cannot read --tls-cert {}: ", missing.display())),
        "{err}"
    );
    let (code, err) = serve(&key, &key);
    assert_eq!(code, Some(13), "{err}");
    assert!(err.contains("holds no PEM certificate"), "{err}");
    let (code, err) = serve(&cert, &other_key);
    assert_eq!(code, Some(9), "{err}");
    assert!(err.contains("(is the key the certificate's own?"), "{err}");
    // One without the other is a usage error.
    let out = std::process::Command::new(common::tcpkit())
        .args(["serve", "--tls-cert"])
        .arg(&cert)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn a_reply_left_in_tls_buffers_goes_out_when_the_client_reads() {
    // The server's socket buffers are made tiny (accepted sockets inherit
    // the listener's), so one 60 KB reply cannot leave at once: rustls
    // takes it all, the socket takes a little, and the client sends
    // nothing more. Only the socket turning writable can push the rest.
    let dir = tempfile::tempdir().unwrap();
    let made = pair(&["localhost"]);
    let (cert, key) = write_pair(dir.path(), &made);
    let tls = tcpkit::tls::ServerTls::from_files(&cert, &key).unwrap();
    let socket = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
    socket.set_send_buffer_size(4096).unwrap();
    socket
        .bind(&"127.0.0.1:0".parse::<SocketAddr>().unwrap().into())
        .unwrap();
    socket.listen(16).unwrap();
    socket.set_nonblocking(true).unwrap();
    let listener: std::net::TcpListener = socket.into();
    let addr = listener.local_addr().unwrap();
    let config = tcpkit::server::Config {
        settings: tcpkit::wire::greeting::Settings {
            framing: tcpkit::wire::greeting::Framing::Line,
            ..Default::default()
        },
        tls: Some(Arc::new(tls)),
        ..Default::default()
    };
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let thread = std::thread::spawn(move || {
        let runtime = tokio::runtime::Runtime::new().unwrap();
        runtime.block_on(async move {
            let listener = tokio::net::TcpListener::from_std(listener).unwrap();
            tcpkit::server::run(vec![listener], config, async {
                let _ = stopped.await;
            })
            .await;
        });
    });
    let mut tls = connect_tls(addr, &made.cert_pem, &[&rustls::version::TLS13], b"");
    assert_eq!(line(&mut tls), "Welcome!\n");
    let name = "x".repeat(60_000);
    tls.get_mut()
        .write_all(format!("{name}\n").as_bytes())
        .unwrap();
    // Give the server time to write what fits and be left with the rest.
    std::thread::sleep(Duration::from_millis(300));
    let reply = line(&mut tls);
    assert!(
        reply == format!("Hello, {name}!\n"),
        "got {} bytes of the reply",
        reply.len()
    );
    // The client goes first: the server's shutdown would otherwise give
    // its open connection the whole default grace (10 s).
    drop(tls);
    let _ = stop.send(());
    thread.join().unwrap();
}

#[test]
fn a_flood_of_failed_handshakes_is_summed_up_not_logged_line_by_line() {
    let dir = tempfile::tempdir().unwrap();
    let (cert, key) = write_pair(dir.path(), &pair(&["localhost"]));
    let server = serve_files(&cert, &key, &[]);
    let flood = |n: usize| {
        for _ in 0..n {
            let mut plain = common::LineClient::connect(server.addr);
            plain.send(b"Michael\n");
            let _ = plain.rest();
        }
    };
    let started = Instant::now();
    flood(30);
    let fast = started.elapsed() < Duration::from_millis(900);
    std::thread::sleep(Duration::from_millis(1100));
    flood(1);
    assert!(server.logged("more failed handshakes were not logged one by one)"));
    let lines = server.log().matches("TLS handshake with").count();
    if fast {
        // All 30 within one second: 10 lines, then the summing one.
        assert_eq!(lines, 11, "{}", server.log());
        assert!(server.logged("(20 more failed handshakes were not logged one by one)"));
    }
}

/// A CA, and a leaf it signed for `names`, valid from `from` to `until`
/// (days from now); the CA's PEM, the leaf's PEM and the leaf's key.
fn signed(names: &[&str], from: i64, until: i64) -> (String, Pair) {
    let ca_key = rcgen::KeyPair::generate().unwrap();
    let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "tcpkit test CA");
    let ca = ca_params.self_signed(&ca_key).unwrap();
    let issuer = rcgen::Issuer::new(ca_params, ca_key);
    let key = rcgen::KeyPair::generate().unwrap();
    let names: Vec<String> = names.iter().map(|n| n.to_string()).collect();
    let mut params = rcgen::CertificateParams::new(names).unwrap();
    let now = time::OffsetDateTime::now_utc();
    params.not_before = now + time::Duration::days(from);
    params.not_after = now + time::Duration::days(until);
    let leaf = params.signed_by(&key, &issuer).unwrap();
    (
        ca.pem(),
        Pair {
            cert_pem: leaf.pem(),
            key_pem: key.serialize_pem(),
        },
    )
}

/// A self-signed CA certificate (CA:TRUE) for `names`, valid from..until
/// days from now, as `openssl req -x509` makes them by default.
fn ca_true(names: &[&str], from: i64, until: i64) -> Pair {
    let key = rcgen::KeyPair::generate().unwrap();
    let names: Vec<String> = names.iter().map(|n| n.to_string()).collect();
    let mut params = rcgen::CertificateParams::new(names).unwrap();
    params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    let now = time::OffsetDateTime::now_utc();
    params.not_before = now + time::Duration::days(from);
    params.not_after = now + time::Duration::days(until);
    Pair {
        cert_pem: params.self_signed(&key).unwrap().pem(),
        key_pem: key.serialize_pem(),
    }
}

#[test]
fn a_ca_certificate_served_as_its_own_is_trusted_when_pinned() {
    // The certificate `openssl req -x509` makes: CA:TRUE, served as the
    // server's own. Given byte for byte to --cacert, it is trusted, as
    // curl and openssl s_client trust it; its name and dates still count.
    let dir = tempfile::tempdir().unwrap();
    let (cert, key) = write_pair(dir.path(), &ca_true(&["localhost", "::1"], -1, 30));
    let server = serve_files(&cert, &key, &[]);
    let pinned = cert.to_str().unwrap();
    let (code, stdout, stderr) =
        talk_tls("localhost", server.addr, &["--cacert", pinned, "Michael"]);
    assert_eq!(code, Some(0), "{stderr}");
    assert_eq!(stdout, "Welcome!\nHello, Michael!\n");
    // Not the name dialled: refused, in words (no `IpAddress(...)`).
    let (code, _, stderr) = talk_tls("127.0.0.1", server.addr, &["--cacert", pinned, "Michael"]);
    assert_eq!(code, Some(9), "{stderr}");
    assert!(
        stderr.contains("failed: the certificate is not for 127.0.0.1 (it is for localhost, ::1)"),
        "{stderr}"
    );
    // Another certificate in --cacert: a CA used as a server's own is
    // refused, saying what it is and what to do.
    let other = dir.path().join("other.pem");
    std::fs::write(&other, ca_true(&["localhost"], -1, 30).cert_pem).unwrap();
    let (code, _, stderr) = talk_tls(
        "localhost",
        server.addr,
        &["--cacert", other.to_str().unwrap(), "Michael"],
    );
    assert_eq!(code, Some(9), "{stderr}");
    assert!(
        stderr.contains("the certificate is a CA certificate (basicConstraints CA:TRUE)")
            && stderr.contains("give that very certificate to --cacert"),
        "{stderr}"
    );
    // Pinned but expired: refused.
    let old = tempfile::tempdir().unwrap();
    let (cert, key) = write_pair(old.path(), &ca_true(&["localhost"], -30, -2));
    let server = serve_files(&cert, &key, &[]);
    let (code, _, stderr) = talk_tls(
        "localhost",
        server.addr,
        &["--cacert", cert.to_str().unwrap(), "Michael"],
    );
    assert_eq!(code, Some(9), "{stderr}");
    assert!(
        stderr.contains("failed: the certificate expired 2days ago"),
        "{stderr}"
    );
    assert!(
        !stderr.contains("Other(") && !stderr.contains("Address("),
        "{stderr}"
    );
}

/// `talk --tls ARGS...` against `addr`'s port on `host`; exit code, stdout
/// and stderr.
fn talk_tls(host: &str, addr: SocketAddr, args: &[&str]) -> (Option<i32>, String, String) {
    let target = format!("{host}:{}", addr.port());
    let mut all = vec!["--tls", target.as_str()];
    all.extend_from_slice(args);
    let out = common::talk(&all).output().unwrap();
    (
        out.status.code(),
        common::stdout_of(&out),
        common::stderr_of(&out),
    )
}

#[test]
fn talk_trusts_a_self_signed_server_through_its_pem_file() {
    let dir = tempfile::tempdir().unwrap();
    let (server, out) = common::serve_tls_self_signed(dir.path());
    let out = std::path::PathBuf::from(out);
    let cacert = out.to_str().unwrap();
    for host in ["localhost", "127.0.0.1"] {
        let (code, stdout, stderr) = talk_tls(
            host,
            server.addr,
            &["--cacert", cacert, "Michael", "Tracy", "Sarah"],
        );
        assert_eq!(code, Some(0), "{stderr}");
        assert_eq!(
            stdout,
            "Welcome!\nHello, Michael!\nHello, Tracy!\nHello, Sarah!\n"
        );
    }
    // Without trusting it: the exit code and hint fetch gives.
    let (code, stdout, stderr) = talk_tls("localhost", server.addr, &["Michael"]);
    assert_eq!(code, Some(9));
    assert_eq!(stdout, "");
    assert_eq!(
        stderr,
        format!(
            "tcpkit: error: TLS handshake with localhost:{} failed: the certificate was not \
             issued by a trusted CA (use --cacert FILE to trust a private CA or a self-signed \
             certificate, or --insecure to skip the check)\n",
            server.addr.port()
        )
    );
    // -k: served, with a warning.
    let (code, stdout, stderr) = talk_tls("localhost", server.addr, &["-k", "Michael"]);
    assert_eq!(code, Some(0), "{stderr}");
    assert_eq!(stdout, "Welcome!\nHello, Michael!\n");
    assert_eq!(
        stderr,
        "tcpkit: warning: --insecure: the server's certificate is not checked\n"
    );
}

#[test]
fn talk_says_what_is_wrong_with_a_certificate() {
    // What is wrong, valid from and until (days from now), the host to
    // dial, more flags, and what the error says.
    type Case<'a> = (&'a str, i64, i64, &'a str, &'a [&'a str], &'a str);
    let cases: [Case; 4] = [
        (
            "expired",
            -30,
            -1,
            "localhost",
            &[],
            "failed: the certificate expired 1day ago",
        ),
        (
            "not yet valid",
            1,
            30,
            "localhost",
            &[],
            "failed: the certificate is valid only from 1day from now",
        ),
        (
            "for another name",
            -1,
            30,
            "127.0.0.1",
            &[],
            "failed: the certificate is not for 127.0.0.1 (it is for localhost)",
        ),
        (
            "for another name, checked as --servername",
            -1,
            30,
            "127.0.0.1",
            &["--servername", "example.com"],
            "failed: the certificate is not for example.com (it is for localhost)",
        ),
    ];
    let hints = [
        "(check this machine's clock, or renew the certificate)\n",
        "(check this machine's clock, or renew the certificate)\n",
        "(connect by one of its names, or check another with --servername NAME)\n",
        "(connect by one of its names, or check another with --servername NAME)\n",
    ];
    for ((what, from, until, host, extra, said), hint) in cases.into_iter().zip(hints) {
        let dir = tempfile::tempdir().unwrap();
        let (ca, leaf) = signed(&["localhost"], from, until);
        let (cert, key) = write_pair(dir.path(), &leaf);
        let ca_file = dir.path().join("ca.pem");
        std::fs::write(&ca_file, &ca).unwrap();
        let server = serve_files(&cert, &key, &[]);
        let mut args = vec!["--cacert", ca_file.to_str().unwrap()];
        args.extend_from_slice(extra);
        args.push("Michael");
        let (code, stdout, stderr) = talk_tls(host, server.addr, &args);
        assert_eq!(code, Some(9), "{what}: {stderr}");
        assert_eq!(stdout, "", "{what}");
        assert!(stderr.contains(said), "{what}: {stderr}");
        assert!(stderr.ends_with(hint), "{what}: {stderr}");
        // The server logs the client's refusal once, with its alert.
        assert!(server.logged("failed: the peer refused it: "));
    }
    // The same CA and a valid leaf: served, by name, and by address with
    // --servername.
    let dir = tempfile::tempdir().unwrap();
    let (ca, leaf) = signed(&["localhost"], -1, 30);
    let (cert, key) = write_pair(dir.path(), &leaf);
    let ca_file = dir.path().join("ca.pem");
    std::fs::write(&ca_file, &ca).unwrap();
    let server = serve_files(&cert, &key, &[]);
    let ca_arg = ca_file.to_str().unwrap();
    let (code, stdout, stderr) =
        talk_tls("localhost", server.addr, &["--cacert", ca_arg, "Michael"]);
    assert_eq!(
        (code, stdout.as_str()),
        (Some(0), "Welcome!\nHello, Michael!\n"),
        "{stderr}"
    );
    let (code, _, stderr) = talk_tls(
        "127.0.0.1",
        server.addr,
        &["--cacert", ca_arg, "--servername", "localhost", "Michael"],
    );
    assert_eq!(code, Some(0), "{stderr}");
}

#[test]
fn talk_tls_to_a_plain_server_says_it_may_speak_plain_text() {
    let server = Proc::serve(&["--bind", "127.0.0.1:0"]);
    let (code, stdout, stderr) = talk_tls("127.0.0.1", server.addr, &["Michael"]);
    assert_eq!(code, Some(9));
    assert_eq!(stdout, "");
    assert!(
        stderr.ends_with("(is it a TLS server on that port? it may speak plain text)\n"),
        "{stderr}"
    );
}

#[test]
fn talk_tls_joins_stdin_and_stdout_and_half_closes() {
    let dir = tempfile::tempdir().unwrap();
    let (server, out) = common::serve_tls_self_signed(dir.path());
    let out = std::path::PathBuf::from(out);
    let target = format!("localhost:{}", server.addr.port());
    let talked = common::talk(&["--tls", "--cacert", out.to_str().unwrap(), &target])
        .write_stdin("Bob\nAli")
        .output()
        .unwrap();
    assert_eq!(
        talked.status.code(),
        Some(0),
        "{}",
        common::stderr_of(&talked)
    );
    // The unfinished last line is answered, unfinished too, when the
    // input ends: the server saw the end of the client's side. (That it
    // came with a close_notify is checked against openssl s_server, which
    // fails the session without one: tls_peers.rs.)
    assert_eq!(
        common::stdout_of(&talked),
        "Welcome!\nHello, Bob!\nHello, Ali!"
    );
    assert!(
        server.logged("(client closed, 2 messages)"),
        "{}",
        server.log()
    );
}

#[test]
fn bench_tls_runs_every_scenario_with_every_reply_checked() {
    let dir = tempfile::tempdir().unwrap();
    let (server, cacert) = common::serve_tls_self_signed(dir.path());
    let target = format!("localhost:{}", server.addr.port());
    for (scenario, unit) in [
        ("pingpong", "replies"),
        ("pipeline", "replies"),
        ("churn", "sessions"),
        ("handshake", "handshakes"),
        ("hold", "connections"),
    ] {
        let (code, report, stderr) = common::bench(&[
            scenario,
            &target,
            "--tls",
            "--cacert",
            &cacert,
            "-c",
            "4",
            "--duration",
            "300ms",
        ]);
        assert_eq!(code, 0, "{scenario}: {stderr}");
        assert_eq!(report["unit"], unit, "{scenario}");
        assert!(common::num(&report, "done") > 0, "{scenario}: {report}");
        assert_eq!(common::num(&report, "errors"), 0, "{scenario}: {report}");
        assert_eq!(
            common::num(&report, "mismatches"),
            0,
            "{scenario}: {report}"
        );
    }
    // Untrusted: the preflight says so with the TLS exit code.
    let (code, _, stderr) = common::bench(&["pingpong", &target, "--tls", "--duration", "1s"]);
    assert_eq!(code, 9, "{stderr}");
    assert!(
        stderr.contains("not issued by a trusted CA (use --cacert"),
        "{stderr}"
    );
}

#[test]
fn bench_handshake_resumes_sessions_unless_told_not_to() {
    let dir = tempfile::tempdir().unwrap();
    let (server, cacert) = common::serve_tls_self_signed(dir.path());
    let target = format!("localhost:{}", server.addr.port());
    let run = |extra: &[&str]| {
        let mut args = vec![
            "handshake",
            &target,
            "--tls",
            "--cacert",
            &cacert,
            "-c",
            "2",
            "--duration",
            "300ms",
        ];
        args.extend_from_slice(extra);
        let (code, report, stderr) = common::bench(&args);
        assert_eq!(code, 0, "{stderr}");
        common::num(&report, "done")
    };
    let full = run(&["--no-tls-resume"]);
    assert!(full > 0);
    assert!(!server.log().contains(", resumed)"), "{}", server.log());
    let resumed = run(&[]);
    assert!(resumed > 0);
    assert!(server.logged(", resumed)"));
}

#[cfg(unix)]
#[test]
fn sighup_with_a_self_signed_certificate_says_there_is_nothing_to_reload() {
    // SIGHUP's default action would end the process: with TLS it is
    // watched, and a self-signed certificate has no files to read again.
    let dir = tempfile::tempdir().unwrap();
    let (server, cacert) = common::serve_tls_self_signed(dir.path());
    server.signal(libc::SIGHUP);
    assert!(
        server.logged(
            "SIGHUP: a self-signed certificate has no files to read again; nothing reloaded."
        )
    );
    let pem = std::fs::read_to_string(&cacert).unwrap();
    let mut tls = connect_tls(server.addr, &pem, &[&rustls::version::TLS13], b"");
    transcript(&mut tls);
}

#[test]
fn an_unfinished_tls_record_counts_against_max_buffered() {
    // A record whose rest has not come is held by the connection, like an
    // unfinished line: with a budget too small for it the client is told
    // the server is busy; with no budget (0) it waits for the rest.
    let dir = tempfile::tempdir().unwrap();
    let made = pair(&["localhost"]);
    let (cert, key) = write_pair(dir.path(), &made);
    for (budget, refused) in [("8KiB", true), ("0", false)] {
        let server = serve_files(&cert, &key, &["--max-buffered", budget]);
        let mut tls = connect_tls(server.addr, &made.cert_pem, &[&rustls::version::TLS13], b"");
        assert_eq!(line(&mut tls), "Welcome!\n");
        let name = "x".repeat(15_000);
        let mut records = Vec::new();
        {
            let conn = &mut tls.get_mut().conn;
            conn.writer()
                .write_all(format!("{name}\n").as_bytes())
                .unwrap();
            while conn.wants_write() {
                conn.write_tls(&mut records).unwrap();
            }
        }
        let tcp = &mut tls.get_mut().sock;
        tcp.write_all(&records[..10_000]).unwrap();
        if refused {
            assert_eq!(
                line(&mut tls),
                "Error: server busy: no room to buffer more input; retry later\n"
            );
            assert!(
                server.logged("no room in the buffer budget"),
                "{}",
                server.log()
            );
        } else {
            std::thread::sleep(Duration::from_millis(300));
            tls.get_mut().sock.write_all(&records[10_000..]).unwrap();
            assert!(line(&mut tls) == format!("Hello, {name}!\n"));
        }
    }
}

#[test]
fn talk_tls_to_a_silent_server_times_out_at_the_connect_timeout() {
    // A listener that accepts (the kernel's backlog) and never answers.
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = silent.local_addr().unwrap();
    let started = Instant::now();
    let (code, stdout, stderr) =
        talk_tls("127.0.0.1", addr, &["--connect-timeout", "1s", "Michael"]);
    assert_eq!(code, Some(7), "{stderr}");
    assert_eq!(stdout, "");
    assert_eq!(
        stderr,
        format!(
            "tcpkit: error: waiting for the TLS handshake with 127.0.0.1:{} (is it a TLS \
             server?) timed out after 1s\n",
            addr.port()
        )
    );
    assert!(started.elapsed() < Duration::from_secs(10));
}

#[test]
fn a_self_signed_certificate_that_cannot_be_written_says_where() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("missing-dir").join("cert.pem");
    let run = std::process::Command::new(common::tcpkit())
        .args([
            "serve",
            "--bind",
            "127.0.0.1:0",
            "--tls-self-signed",
            "--tls-cert-out",
        ])
        .arg(&out)
        .output()
        .unwrap();
    assert_eq!(run.status.code(), Some(13));
    assert!(
        common::stderr_of(&run).contains(&format!(
            "tcpkit: error: cannot write the certificate to {}: ",
            out.display()
        )),
        "{}",
        common::stderr_of(&run)
    );
}

#[test]
#[cfg(unix)] // a real SIGTERM
fn the_self_signed_certificate_made_in_the_temporary_directory_goes_with_the_server() {
    let mut server = Proc::serve(&["--bind", "127.0.0.1:0", "--tls-self-signed"]);
    assert!(server.logged("Its PEM is in "), "{}", server.log());
    let path = made_pem_path(&server.log());
    assert!(path.exists(), "{} was not written", path.display());
    server.signal(libc::SIGTERM);
    assert_eq!(server.wait(), Some(0));
    assert!(!path.exists(), "{} was left behind", path.display());
    // Stopped at once by a second signal (a client keeps the first from
    // ending it): still removed.
    let mut server = Proc::serve(&["--bind", "127.0.0.1:0", "--tls-self-signed"]);
    let path = made_pem_path(&server.log());
    let _client = TcpStream::connect(server.addr).unwrap();
    std::thread::sleep(Duration::from_millis(200));
    server.signal(libc::SIGTERM);
    assert!(server.logged("Signal received"), "{}", server.log());
    server.signal(libc::SIGTERM);
    assert_eq!(server.wait(), Some(130));
    assert!(!path.exists(), "{} was left behind", path.display());
}

#[test]
#[cfg(unix)] // sh's exec keeps the pid
fn a_killed_servers_leftover_certificate_does_not_stop_the_next_with_its_pid() {
    // A server stopped by SIGKILL cannot remove its file; a later process
    // that the kernel gives the same pid still starts, and writes a file
    // of its own, readable by others (clients may pin it).
    let tmp = tempfile::tempdir().unwrap();
    let mut cmd = std::process::Command::new("sh");
    cmd.arg("-c")
        .arg(
            "echo stale > \"$TMPDIR/tcpkit-self-signed-$$.pem\"; \
             exec \"$0\" --plain-logs serve --bind 127.0.0.1:0 --tls-self-signed",
        )
        .arg(common::tcpkit())
        .env("TMPDIR", tmp.path());
    let mut server = Proc::start(cmd, true);
    let path = made_pem_path(&server.log());
    assert_eq!(path.parent(), Some(tmp.path()), "{}", path.display());
    let pem = std::fs::read_to_string(&path).unwrap();
    assert!(pem.starts_with("-----BEGIN CERTIFICATE-----"), "{pem}");
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(&path).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o644, "{mode:o}");
    server.signal(libc::SIGTERM);
    assert_eq!(server.wait(), Some(0));
    assert!(!path.exists(), "{} was left behind", path.display());
}

/// Where serve says it wrote the certificate it made.
#[cfg(unix)]
fn made_pem_path(log: &str) -> PathBuf {
    log.split("Its PEM is in ")
        .nth(1)
        .and_then(|rest| rest.lines().next())
        .map(|line| PathBuf::from(line.trim_end_matches('.')))
        .expect("the certificate's path in the log")
}

#[test]
fn a_running_servers_certificate_file_is_never_overwritten() {
    // Two servers told the same --tls-cert-out: the second refuses (exit
    // 13) and the first's certificate stays, byte for byte; once the first
    // is gone, a restart with the same flags writes its own.
    let dir = tempfile::tempdir().unwrap();
    let pem = dir.path().join("cert.pem");
    let args = [
        "--bind",
        "127.0.0.1:0",
        "--tls-self-signed",
        "--tls-cert-out",
        pem.to_str().unwrap(),
    ];
    let first = Proc::serve(&args);
    let written = std::fs::read(&pem).unwrap();
    // Bounded: a second server that took the file would serve on.
    let run = assert_cmd::Command::new(common::tcpkit())
        .arg("serve")
        .args(args)
        .timeout(Duration::from_secs(5))
        .output()
        .unwrap();
    let stderr = common::stderr_of(&run);
    assert_eq!(run.status.code(), Some(13), "{stderr}");
    assert!(
        stderr.contains("is the certificate of another tcpkit serve that is running"),
        "{stderr}"
    );
    assert_eq!(std::fs::read(&pem).unwrap(), written, "overwritten");
    drop(first);
    let again = Proc::serve(&args);
    assert_ne!(std::fs::read(&pem).unwrap(), written);
    drop(again);
}

#[test]
fn at_the_connection_limit_a_tls_client_is_closed_without_a_plain_text_line() {
    // Plain text would be noise to the client's TLS stack: the close alone.
    let server = Proc::serve(&[
        "--bind",
        "127.0.0.1:0",
        "--tls-self-signed",
        "--max-connections",
        "1",
    ]);
    // Holds the only slot, in the middle of its handshake (for up to the
    // 10 s handshake timeout); its accept logs nothing, so give it time.
    let _holder = TcpStream::connect(server.addr).unwrap();
    std::thread::sleep(Duration::from_millis(300));
    let started = Instant::now();
    let mut refused = TcpStream::connect(server.addr).unwrap();
    refused.set_read_timeout(Some(PATIENCE)).unwrap();
    let mut got = Vec::new();
    let _ = refused.read_to_end(&mut got);
    assert_eq!(got, b"", "a TLS client got plain text");
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "not closed at once: {:?}",
        started.elapsed()
    );
    assert!(
        server.logged("Connection limit reached (1 open"),
        "{}",
        server.log()
    );
}

#[test]
#[cfg(unix)] // pasted into sh, as a person would
fn the_trust_hint_in_the_log_can_be_pasted_as_it_is() {
    // A path with a space, so the quoting is tried too. The hint names
    // the port the server really got (0 was asked for).
    let dir = tempfile::tempdir().unwrap();
    let pem = dir.path().join("my cert.pem");
    let server = Proc::serve(&[
        "--bind",
        "127.0.0.1:0",
        "--tls-self-signed",
        "--tls-cert-out",
        pem.to_str().unwrap(),
    ]);
    let log = server.log();
    let command = log
        .split("Trust the certificate with `")
        .nth(1)
        .and_then(|rest| rest.split('`').next())
        .unwrap_or_else(|| panic!("no trust hint in: {log}"));
    assert!(
        command.ends_with(&format!(" 127.0.0.1:{}", server.addr.port())),
        "{command}"
    );
    let pasted = command.strip_prefix("tcpkit ").expect("a tcpkit command");
    let out = std::process::Command::new("sh")
        .arg("-c")
        .arg(format!("\"$0\" {pasted} Michael"))
        .arg(common::tcpkit())
        .output()
        .unwrap();
    assert_eq!(
        common::stdout_of(&out),
        "Welcome!\nHello, Michael!\n",
        "{}",
        common::stderr_of(&out)
    );
}

#[test]
fn plain_talk_to_a_tls_server_says_to_add_tls_within_seconds() {
    // A TLS server waits for the client's hello, so a plain client waiting
    // for the welcome hears nothing; talk finds out why on a second
    // connection instead of waiting out its --timeout in silence.
    let dir = tempfile::tempdir().unwrap();
    let (server, _) = common::serve_tls_self_signed(dir.path());
    let started = Instant::now();
    let out = common::talk(&[&server.addr.to_string(), "Michael"])
        .output()
        .unwrap();
    let stderr = common::stderr_of(&out);
    assert_eq!(out.status.code(), Some(8), "{stderr}");
    assert!(stderr.contains("it speaks TLS. Add --tls"), "{stderr}");
    assert!(started.elapsed() < Duration::from_secs(8), "{stderr}");
}

#[test]
fn plain_talk_joined_to_a_tls_server_says_to_add_tls_within_seconds() {
    // Without MESSAGEs, as a person at a terminal who has not typed yet:
    // stdin open, nothing on it.
    let dir = tempfile::tempdir().unwrap();
    let (server, _) = common::serve_tls_self_signed(dir.path());
    let started = Instant::now();
    let mut child = std::process::Command::new(common::tcpkit())
        .args(["talk", &server.addr.to_string()])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Held open: closing it would end the session (a half-close).
    let _stdin = child.stdin.take();
    let out = child.wait_with_output().unwrap();
    let stderr = common::stderr_of(&out);
    assert_eq!(out.status.code(), Some(8), "{stderr}");
    assert!(stderr.contains("it speaks TLS. Add --tls"), "{stderr}");
    assert!(started.elapsed() < Duration::from_secs(8), "{stderr}");
}

#[test]
fn plain_bench_against_a_tls_server_says_to_add_tls_within_seconds() {
    let dir = tempfile::tempdir().unwrap();
    let (server, _) = common::serve_tls_self_signed(dir.path());
    let started = Instant::now();
    let (code, _, stderr) = common::bench(&["pingpong", &server.addr.to_string()]);
    assert_eq!(code, 14, "{stderr}");
    assert!(stderr.contains("it speaks TLS. Add --tls"), "{stderr}");
    assert!(started.elapsed() < Duration::from_secs(6), "{stderr}");
}

#[test]
fn a_missing_cacert_is_the_users_file_whether_or_not_the_server_is_up() {
    // Nothing listens on the port: the file is still what is wrong first.
    let port = common::free_port();
    let out = common::talk(&[
        "--tls",
        "--cacert",
        "/nonexistent/ca.pem",
        &format!("127.0.0.1:{port}"),
        "Michael",
    ])
    .output()
    .unwrap();
    let stderr = common::stderr_of(&out);
    assert_eq!(out.status.code(), Some(13), "{stderr}");
    assert!(
        stderr.contains("cannot read --cacert /nonexistent/ca.pem"),
        "{stderr}"
    );
}

/// A server on 127.0.0.1:0 that answers every connection by `answer`,
/// given each read: an echo, an HTTP server, a liar.
fn answering(answer: fn(&[u8]) -> Vec<u8>) -> SocketAddr {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { return };
            std::thread::spawn(move || {
                let _ = stream.set_read_timeout(Some(PATIENCE));
                let mut buf = [0u8; 4096];
                while let Ok(n) = stream.read(&mut buf) {
                    if n == 0 || stream.write_all(&answer(&buf[..n])).is_err() {
                        return;
                    }
                }
            });
        }
    });
    addr
}

#[test]
fn only_a_real_tls_answer_is_taken_for_tls() {
    use tcpkit::tls::client::answers_tls;
    let limit = Duration::from_secs(2);
    let echo = answering(|got| got.to_vec());
    let http = answering(|_| b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n".to_vec());
    // Starts like a TLS handshake record; the rest is noise.
    let lookalike = answering(|_| {
        let mut noise: Vec<u8> = vec![0x16, 0x03, 0x03, 0x00, 0x40];
        noise.extend((0..64u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 24) as u8));
        noise
    });
    let short_lookalike = answering(|_| vec![0x16, 0x03, 0x99, 0x12, 0x34, 0x56, 0x78]);
    // A fatal handshake_failure alert: a TLS server refusing the hello.
    let alert = answering(|_| vec![0x15, 0x03, 0x03, 0x00, 0x02, 0x02, 0x28]);
    for (what, addr, tls) in [
        ("an echo server", echo, false),
        ("an HTTP server", http, false),
        ("random bytes starting 16 03", lookalike, false),
        ("a bad record length after 16 03", short_lookalike, false),
        ("a TLS alert", alert, true),
    ] {
        assert_eq!(answers_tls(addr, limit), tls, "{what}");
    }
    let dir = tempfile::tempdir().unwrap();
    let (server, _) = common::serve_tls_self_signed(dir.path());
    assert!(answers_tls(server.addr, limit), "a TLS server");
}

#[test]
fn talk_to_an_echo_or_web_server_names_it_not_tls() {
    let echo = answering(|got| got.to_vec());
    let out = common::talk(&["--timeout", "3s", &echo.to_string(), "Michael"])
        .output()
        .unwrap();
    let stderr = common::stderr_of(&out);
    assert!(!stderr.contains("speaks TLS"), "{stderr}");
    // Found out for sure, so said at once: no wait for the timeout.
    assert!(
        stderr.contains("it is an echo server, which sends no welcome (--no-welcome --reply '{}'"),
        "{stderr}"
    );
    assert_eq!(out.status.code(), Some(8), "{stderr}");
    // A web server likewise; bench says the same before its run.
    let web = answering(|_| b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n".to_vec());
    let out = common::talk(&["--timeout", "20s", &web.to_string(), "Michael"])
        .output()
        .unwrap();
    let stderr = common::stderr_of(&out);
    assert_eq!(out.status.code(), Some(8), "{stderr}");
    assert!(
        stderr.contains("it is a web server, which sends no welcome (tcpkit fetch http://"),
        "{stderr}"
    );
    let (code, _, stderr) = common::bench(&["pingpong", &echo.to_string(), "-d", "200ms"]);
    assert_eq!(code, 14, "{stderr}");
    assert!(
        stderr.contains("before the run, ") && stderr.contains("it is an echo server"),
        "{stderr}"
    );
}
