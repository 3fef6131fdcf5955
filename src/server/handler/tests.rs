//! Tests of one connection's policy on the in-memory double.

use std::sync::Arc;
use std::time::Duration;

/// Every idle connection keeps this future; the README's under-1-KiB
/// figure depends on it. Doubling it (an awaited future captured by an
/// `async move` block, an unboxed rare path) fails here first.
#[tokio::test]
async fn connection_future_stays_small() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let shared = Arc::new(super::super::Shared {
        config: super::super::Config {
            write_timeout: Some(Duration::from_secs(1)),
            message_timeout: Some(Duration::from_secs(1)),
            linger: Duration::from_secs(1),
            metrics: Some(Default::default()),
            tls_handshake_timeout: None,
            refuse_rate: None,
            ..Default::default()
        },
        welcome: Vec::new(),
        token: Default::default(),
        kill: Default::default(),
        clock: super::super::IdleClock::new(Some(Duration::from_secs(1)), None),
        budget: super::super::Budget::new(None),
        tls_failures: Default::default(),
        probes: Default::default(),
        lane: tokio::sync::Semaphore::new(1),
        started: std::time::Instant::now(),
        open: Default::default(),
    });
    let permit = Arc::new(tokio::sync::Semaphore::new(1))
        .try_acquire_owned()
        .unwrap();
    let future = super::serve(stream, addr, shared, permit);
    let size = std::mem::size_of_val(&future);
    // 336 before TLS; the boxed rustls state beside the socket costs
    // one pointer (8 bytes) on every connection, plain ones too. The
    // opening time for the duration histogram (a u32) fits in the
    // optimized layout, which is what a server pays; an unoptimized
    // build keeps 8 bytes more.
    let limit = if cfg!(debug_assertions) { 352 } else { 344 };
    assert!(size <= limit, "the connection future grew to {size} bytes");
}
