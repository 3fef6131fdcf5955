//! The server's side listeners (`--metrics`, `--agent`): an accept loop
//! that answers each connection on a task of its own, and a gentle close.

use std::future::Future;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio_util::sync::CancellationToken;
use tracing::warn;

/// Runs `answer` for each connection on `listener` until `stop`. An
/// accept error (out of file descriptors) is logged and retried after a
/// pause; these listeners are small and must not die.
pub(super) async fn accept_each<F, Fut>(
    listener: TcpListener,
    stop: CancellationToken,
    what: &str,
    answer: F,
) where
    F: Fn(TcpStream) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    loop {
        let accepted = tokio::select! {
            () = stop.cancelled() => return,
            accepted = listener.accept() => accepted,
        };
        match accepted {
            Ok((stream, _)) => {
                tokio::spawn(answer(stream));
            }
            Err(e) => {
                warn!("{what}: accept failed: {e}");
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    }
}

/// Shuts down our side, then reads and drops what the peer still sends
/// for up to a second: closing with unread input would send a reset that
/// can destroy the answer.
pub(super) async fn close_gently(stream: &mut TcpStream) {
    if stream.shutdown().await.is_err() {
        return;
    }
    let mut sink = [0u8; 1024];
    let drain = async { while matches!(stream.read(&mut sink).await, Ok(n) if n > 0) {} };
    let _ = tokio::time::timeout(Duration::from_secs(1), drain).await;
}
