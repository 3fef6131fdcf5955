//! The endpoint: `GET /metrics` in the Prometheus text format, and `GET
//! /ready` for probes that speak HTTP, one request per connection.

use std::io;
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio_util::sync::CancellationToken;
use tracing::info;

use super::Metrics;

/// The longest request head the endpoint reads.
const MAX_REQUEST: usize = 8 * 1024;

/// How long a scraper may take to send its request.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(5);

/// Serves `GET /metrics` and `GET /ready` on `listener` until `stop` is
/// cancelled: one request per connection, `Connection: close`.
pub async fn serve(
    listener: TcpListener,
    metrics: Arc<Metrics>,
    health: Arc<super::super::agent::Health>,
    stop: CancellationToken,
) {
    if let Ok(addr) = listener.local_addr() {
        info!("Metrics on http://{addr}/metrics");
    }
    super::super::side::accept_each(listener, stop, "metrics endpoint", |stream| {
        let metrics = metrics.clone();
        let ready = health.state() == super::super::agent::State::Ready;
        async move {
            let _ = answer(stream, &metrics, ready).await;
        }
    })
    .await;
}

/// Reads one request head and answers it.
async fn answer(mut stream: TcpStream, metrics: &Arc<Metrics>, ready: bool) -> io::Result<()> {
    let mut head = Vec::with_capacity(512);
    let read = async {
        let mut piece = [0u8; 1024];
        while !head.windows(4).any(|w| w == b"\r\n\r\n") && head.len() < MAX_REQUEST {
            let n = stream.read(&mut piece).await?;
            if n == 0 {
                break;
            }
            head.extend_from_slice(&piece[..n]);
        }
        io::Result::Ok(())
    };
    tokio::time::timeout(REQUEST_TIMEOUT, read)
        .await
        .map_err(|_| io::Error::from(io::ErrorKind::TimedOut))??;
    let mut fields = [httparse::EMPTY_HEADER; 32];
    let mut request = httparse::Request::new(&mut fields);
    let parsed = request.parse(&head);
    // Only the metrics page is in Prometheus's text format; the rest is
    // plain text for a person or a probe.
    let mut kind = "text/plain; charset=utf-8";
    let (status, body) = match (parsed, request.method, request.path) {
        (Ok(httparse::Status::Complete(_)), Some("GET" | "HEAD"), Some("/metrics")) => {
            kind = "text/plain; version=0.0.4; charset=utf-8";
            ("200 OK", metrics.encode())
        }
        (Ok(httparse::Status::Complete(_)), Some("GET" | "HEAD"), Some("/ready")) => {
            if ready {
                ("200 OK", "ready\n".into())
            } else {
                ("503 Service Unavailable", "shutting down\n".into())
            }
        }
        (Ok(httparse::Status::Complete(_)), Some("GET" | "HEAD"), Some(_)) => (
            "404 Not Found",
            "Not found: the metrics are at /metrics, readiness at /ready\n".into(),
        ),
        (Ok(httparse::Status::Complete(_)), Some(_), _) => (
            "405 Method Not Allowed",
            "Only GET and HEAD are served\n".into(),
        ),
        _ => ("400 Bad Request", "Not an HTTP/1.1 request head\n".into()),
    };
    let mut response = format!(
        "HTTP/1.1 {status}\r\nContent-Type: {kind}\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    )
    .into_bytes();
    if request.method != Some("HEAD") {
        response.extend_from_slice(body.as_bytes());
    }
    stream.write_all(&response).await?;
    super::super::side::close_gently(&mut stream).await;
    Ok(())
}
