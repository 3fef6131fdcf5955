//! The library's fetch errors carry their data, not only words: the
//! status, the redirects followed and where the last pointed, the limit a
//! body crossed and the length it declared, what a stopped download kept.
//! A plain HTTP server on loopback answers every connection the same way.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener};
use std::thread;
use std::time::Duration;

use tcpkit::fetch::{self, Destination};
use tcpkit::{Error, ErrorKind, Naming, Setting};

/// Answers each connection with `response` (after reading its request).
fn answering(response: &'static str) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { return };
            let mut request = [0u8; 4096];
            let _ = stream.read(&mut request);
            let _ = stream.write_all(response.as_bytes());
        }
    });
    addr
}

fn options(addr: SocketAddr, dir: &tempfile::TempDir) -> fetch::Options {
    fetch::Options {
        url: format!("http://{addr}/file"),
        destination: Destination::File(dir.path().join("file")),
        read_timeout: Some(Duration::from_secs(5)),
        ..fetch::Options::default()
    }
}

fn fetch(opts: &fetch::Options) -> Error {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(fetch::run(opts)).unwrap_err()
}

#[test]
fn an_error_status_carries_its_code() {
    let addr = answering("HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n");
    let dir = tempfile::tempdir().unwrap();
    let opts = fetch::Options {
        fail: true,
        ..options(addr, &dir)
    };
    let err = fetch(&opts);
    assert_eq!(err.kind(), ErrorKind::HttpStatus, "{err}");
    let Error::HttpStatus { status, .. } = err else {
        panic!("{err}")
    };
    assert_eq!(status, 404);
}

#[test]
fn too_many_redirects_say_how_many_and_where_the_last_pointed() {
    let addr = answering("HTTP/1.1 302 Found\r\nLocation: /again\r\nContent-Length: 0\r\n\r\n");
    let dir = tempfile::tempdir().unwrap();
    let opts = fetch::Options {
        follow: true,
        max_redirs: 2,
        ..options(addr, &dir)
    };
    let err = fetch(&opts);
    let Error::Redirects {
        followed,
        ref location,
    } = err
    else {
        panic!("{err}")
    };
    assert_eq!((followed, location.as_str()), (2, "/again"));
    // The setting to raise is data too, named as the caller likes.
    assert_eq!(
        err.line().settings().collect::<Vec<_>>(),
        [Setting::MaxRedirs]
    );
    assert!(err.render(Naming::Flags).contains("raise --max-redirs"));
    assert!(err.to_string().contains("raise `max_redirs`"), "{err}");
}

#[test]
fn a_body_over_the_limit_says_the_limit_and_the_declared_length() {
    let addr = answering("HTTP/1.1 200 OK\r\nContent-Length: 2000\r\n\r\n");
    let dir = tempfile::tempdir().unwrap();
    let opts = fetch::Options {
        max_filesize: Some(1000),
        ..options(addr, &dir)
    };
    let err = fetch(&opts);
    let Error::TooLarge { limit, declared } = err else {
        panic!("{err}")
    };
    assert_eq!((limit, declared), (1000, Some(2000)));
}

#[test]
fn a_body_that_crosses_the_limit_as_it_comes_declares_no_length() {
    // 2000 bytes in a chunk, more than the limit of 1000.
    let body: &'static str = Box::leak(
        format!(
            "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n7d0\r\n{}\r\n0\r\n\r\n",
            "x".repeat(2000)
        )
        .into_boxed_str(),
    );
    let addr = answering(body);
    let dir = tempfile::tempdir().unwrap();
    let opts = fetch::Options {
        max_filesize: Some(1000),
        ..options(addr, &dir)
    };
    let err = fetch(&opts);
    assert_eq!(err.kind(), ErrorKind::TooLarge, "{err}");
    let Error::Context { source, .. } = &err else {
        panic!("{err}")
    };
    let Error::TooLarge { limit, declared } = **source else {
        panic!("{err}")
    };
    assert_eq!((limit, declared), (1000, None));
}

#[test]
fn a_stopped_download_says_what_it_kept_and_whether_it_can_go_on() {
    // Half of the body, then nothing: the download waits until stopped.
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    thread::spawn(move || {
        let Ok((mut stream, _)) = listener.accept() else {
            return;
        };
        let mut request = [0u8; 4096];
        let _ = stream.read(&mut request);
        let _ = stream.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 200\r\nETag: \"v1\"\r\n\r\n");
        let _ = stream.write_all(&[b'x'; 100]);
        thread::sleep(Duration::from_secs(10));
    });
    let dir = tempfile::tempdir().unwrap();
    let opts = options(addr, &dir);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let err = runtime
        .block_on(async {
            let stop = tokio::time::sleep(Duration::from_millis(500));
            fetch::run_until(&opts, stop).await
        })
        .unwrap_err();
    let Error::Interrupted { kept: Some(kept) } = &err else {
        panic!("{err}")
    };
    assert_eq!((kept.bytes, kept.resumable), (100, true), "{err}");
    assert_eq!(kept.part, dir.path().join("file.part"));
    assert!(
        err.render(Naming::Flags)
            .ends_with("(run the same command with -C to continue it)"),
        "{}",
        err.render(Naming::Flags)
    );
}
