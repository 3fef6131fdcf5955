//! The plainest idiomatic tokio server for the greeting protocol: the Rust
//! baseline of `bench/compare.sh`. A task per connection, a `BufReader`
//! over the read half, `lines()`, and one `write_all` per reply — what
//! most people would write first. tcpkit's `serve` is measured against it.
//!
//!     cargo run --release --example plain_tokio_server -- 127.0.0.1:9998

use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let addr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:9999".to_string());
    let listener = TcpListener::bind(&addr).await?;
    eprintln!("Waiting for connection on {}...", listener.local_addr()?);
    loop {
        let (socket, peer) = match listener.accept().await {
            Ok(accepted) => accepted,
            Err(e) => {
                eprintln!("accept failed: {e}");
                continue;
            }
        };
        tokio::spawn(async move {
            if let Err(e) = handle(socket).await {
                eprintln!("{peer}: {e}");
            }
        });
    }
}

async fn handle(socket: TcpStream) -> std::io::Result<()> {
    socket.set_nodelay(true)?;
    let (reader, mut writer) = socket.into_split();
    writer.write_all(b"Welcome!\n").await?;
    let mut lines = BufReader::new(reader).lines();
    while let Some(line) = lines.next_line().await? {
        if line == "exit" {
            break;
        }
        writer
            .write_all(format!("Hello, {line}!\n").as_bytes())
            .await?;
    }
    Ok(())
}
