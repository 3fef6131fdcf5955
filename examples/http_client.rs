//! The tutorial's web client, written against the tcpkit library: open a
//! connection, send `GET / HTTP/1.1` with `Host` and `Connection: close`,
//! print the response head, save the body to a file.
//!
//! Unlike the tutorial it does not read to EOF and split at the blank
//! line: the body is framed by Content-Length or chunked coding, so the
//! file holds exactly the body and a cut transfer is an error.
//!
//!     cargo run --example http_client -- http://127.0.0.1:8080/ page.html

use std::time::Duration;

use tcpkit::fetch::{
    self, ConnectOptions, Destination, Limits, Plan, Target, UserHeaders, build_request, copy_body,
    read_head, tls_config,
};

#[tokio::main(flavor = "current_thread")]
async fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let url = args
        .next()
        .unwrap_or_else(|| "http://127.0.0.1:8080/".into());
    let file = args.next().unwrap_or_else(|| "page.html".into());

    // Connect: resolve, try each address, TLS for https.
    let target = Target::parse(&url)?;
    let options = ConnectOptions {
        family: tcpkit::net::Family::Any,
        connect_timeout: Some(Duration::from_secs(10)),
        read_timeout: Some(Duration::from_secs(30)),
        max_head: fetch::DEFAULT_MAX_HEAD,
        tls: tls_config(None, false)?,
    };
    let mut conn = fetch::open(&target, &options).await?;

    // Send the request: GET / HTTP/1.1, Host, Connection: close.
    conn.send(&build_request("GET", &target, &UserHeaders::default()))
        .await?;

    // Print the head (skipping any 1xx interim responses).
    let limits = Limits::default();
    let mut head = read_head(&mut conn, &limits).await?;
    while head.is_interim() {
        head = read_head(&mut conn, &limits).await?;
    }
    print!("{}", String::from_utf8_lossy(&head.raw));

    // Save the body, framed as the head says, via page.html.part.
    let (framing, _warnings) = head.framing(false)?;
    let plan = Plan::new(&Destination::File(file.clone().into()), &target.url, true)?;
    let mut sink = plan.open(None)?;
    let copied = copy_body(&mut conn, framing, limits.max_head, &mut sink).await;
    let bytes = sink.written();
    match copied {
        Ok(_) => sink.finish()?,
        Err(e) => {
            sink.abandon();
            return Err(e.into());
        }
    }
    eprintln!("saved {bytes} bytes to {file}");
    Ok(())
}
