//! `tcpkit fetch`'s arguments: curl's names where fetch has the feature.

use std::path::PathBuf;

use clap::Args;

use tcpkit::fetch;

use super::ConnectArgs;
use crate::values::{self, Limit};

#[derive(Debug, Args)]
pub struct FetchArgs {
    /// The URL: http://HOST[:PORT]/PATH or https://...; IPv6 hosts in
    /// brackets (http://[::1]:8080/). Without a scheme it is http, as in
    /// curl (127.0.0.1:8080/page).
    #[arg(value_name = "URL")]
    pub url: String,

    /// Save the body to FILE ('-' for stdout). Default: the URL's last
    /// path segment in the current directory, made safe (index.html for /).
    #[arg(short, long, value_name = "FILE")]
    pub output: Option<PathBuf>,

    /// Save under the URL's last path segment, as fetch does without -o
    /// (curl's -O).
    #[arg(short = 'O', long, conflicts_with = "output")]
    pub remote_name: bool,

    /// Overwrite FILE if it exists.
    #[arg(long)]
    pub force: bool,

    /// Continue an interrupted download from FILE.part: ask for the rest,
    /// checked against the ETag or Last-Modified saved with it (If-Range);
    /// if the file changed since, download it afresh.
    /// curl's `-C -` and `--continue-at -` are the same.
    #[arg(short = 'C', long = "continue", visible_alias = "continue-at")]
    pub resume: bool,

    /// Also write the response head(s) to FILE ('-' for stdout).
    #[arg(short = 'D', long, value_name = "FILE")]
    pub dump_header: Option<PathBuf>,

    /// Send HEAD instead of GET: print the head, save nothing.
    #[arg(short = 'I', long)]
    pub head: bool,

    /// Add a request header ('Name: value'); 'Name:' removes a default one.
    #[arg(short = 'H', long = "header", value_name = "HEADER")]
    pub headers: Vec<String>,

    /// Follow redirects (301, 302, 303, 307, 308).
    #[arg(short = 'L', long)]
    pub location: bool,

    /// Follow at most N redirects with -L.
    #[arg(long, value_name = "N", default_value_t = fetch::DEFAULT_MAX_REDIRS, value_parser = |s: &str| values::count::<u32>(s, 0, 1000), allow_negative_numbers = true)]
    pub max_redirs: u32,

    /// The tutorial's literal client: read to the end, save everything after
    /// the first blank line undecoded (chunk sizes and all).
    #[arg(long, conflicts_with_all = ["location", "head"])]
    pub raw: bool,

    /// Print neither the response head, nor the progress bar, nor the summary.
    #[arg(short, long)]
    pub silent: bool,

    /// Show errors with -s (curl's -S): fetch shows them always, so this
    /// is only accepted.
    #[arg(short = 'S', long)]
    pub show_error: bool,

    /// Ask for a compressed body (gzip or deflate) and save it decoded;
    /// --max-filesize bounds the decoded bytes.
    #[arg(long, conflicts_with_all = ["resume", "raw"])]
    pub compressed: bool,

    /// Fail (exit 12, save nothing) when the status is 400 or more.
    #[arg(short, long)]
    pub fail: bool,

    #[command(flatten)]
    pub connect: ConnectArgs,

    /// Trust the CA certificates in FILE (PEM) as well as the built-in ones.
    #[arg(long, value_name = "FILE")]
    pub cacert: Option<PathBuf>,

    /// Do not check the server's certificate (https only; says so loudly).
    #[arg(short = 'k', long)]
    pub insecure: bool,

    /// Give up when the server sends nothing for this long; 0: no limit.
    #[arg(long, value_name = "DURATION", default_value = "30s", value_parser = values::limit, allow_negative_numbers = true)]
    pub read_timeout: Limit,

    /// Give up when the whole transfer takes longer than this (0, as by
    /// default: no limit).
    #[arg(short = 'm', long, value_name = "DURATION", value_parser = values::limit, allow_negative_numbers = true)]
    pub max_time: Option<Limit>,

    /// The largest response head accepted; also bounds a chunk-size line and
    /// the trailers.
    #[arg(long, value_name = "SIZE", default_value = "64KiB", value_parser = values::size, allow_negative_numbers = true)]
    pub max_head: usize,

    /// Refuse a body larger than SIZE (exit 15): a Content-Length over it
    /// before anything is written, an endless body when it crosses it.
    #[arg(long, value_name = "SIZE", value_parser = values::size, allow_negative_numbers = true)]
    pub max_filesize: Option<usize>,

    /// The most header fields accepted in one response head.
    #[arg(long, value_name = "N", default_value_t = fetch::DEFAULT_MAX_HEADERS, value_parser = |s: &str| values::count::<usize>(s, 1, 10_000), allow_negative_numbers = true)]
    pub max_headers: usize,

    /// The most interim (1xx) responses skipped before the final one.
    #[arg(long, value_name = "N", default_value_t = fetch::DEFAULT_MAX_INTERIM, value_parser = |s: &str| values::count::<usize>(s, 0, 10_000), allow_negative_numbers = true)]
    pub max_interim: usize,
}

impl FetchArgs {
    /// The fetch options these arguments describe.
    pub fn options(&self, printer: &crate::printer::Printer) -> fetch::Options {
        use fetch::Destination;
        fetch::Options {
            url: self.url.clone(),
            destination: match &self.output {
                None => Destination::FromUrl,
                Some(p) if p.as_os_str() == "-" => Destination::Writer(printer.body()),
                Some(p) => Destination::File(p.clone()),
            },
            dump_head: self.dump_header.clone(),
            head_only: self.head,
            headers: self.headers.clone(),
            follow: self.location,
            max_redirs: self.max_redirs,
            raw: self.raw,
            force: self.force,
            resume: self.resume,
            compressed: self.compressed,
            heads: std::sync::Arc::new(fetch::Unshown),
            // -s: curl's silence, warnings and the bar too.
            notices: printer.notices(self.silent),
            fail: self.fail,
            family: self.connect.family(),
            cacert: self.cacert.clone(),
            insecure: self.insecure,
            connect_timeout: self.connect.connect_timeout.0,
            read_timeout: self.read_timeout.0,
            max_time: self.max_time.and_then(|limit| limit.0),
            max_filesize: self.max_filesize.map(|n| n as u64),
            limits: fetch::Limits {
                max_head: self.max_head,
                max_headers: self.max_headers,
                max_interim: self.max_interim,
            },
        }
    }
}
