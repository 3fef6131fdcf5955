//! What serve's log holds, as operators ask for it: `--log-format json`
//! (every line an object a log shipper parses, errors included) and
//! `--no-connection-logs` (the two lines per connection left out, the
//! rest kept).

#![cfg(unix)] // the server is stopped with SIGTERM

mod common;

use std::process::Command;

use common::{Proc, stdout_of, tcpkit};

/// Serves the tutorial's session once with `args`, stops the server with
/// a signal (or its own end), and returns its log lines.
fn one_session(global: &[&str], serve: &[&str]) -> Vec<String> {
    let mut cmd = Command::new(tcpkit());
    cmd.args(global)
        .arg("serve")
        .args(["--bind", "127.0.0.1:0"])
        .args(serve);
    let mut server = Proc::start(cmd, true);
    let out = common::talk(&[&server.addr.to_string(), "Michael"])
        .output()
        .unwrap();
    assert_eq!(stdout_of(&out), "Welcome!\nHello, Michael!\n");
    // The session's close is logged (or not) before a later connection's
    // accept: a second session whose lines we wait for, when they exist.
    let _ = common::talk(&[&server.addr.to_string(), "Tracy"]).output();
    assert!(server.logged("Waiting for connection"));
    std::thread::sleep(std::time::Duration::from_millis(300));
    server.signal(libc::SIGTERM);
    assert_eq!(server.wait(), Some(0));
    server.lines.lock().unwrap().clone()
}

#[test]
fn json_logs_are_one_object_a_line_with_time_level_message_and_target() {
    let lines = one_session(&["--log-format", "json"], &[]);
    let objects: Vec<serde_json::Value> = lines
        .iter()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: not JSON: {l}")))
        .collect();
    for object in &objects {
        for key in ["timestamp", "level", "message", "target"] {
            assert!(object[key].is_string(), "no {key}: {object}");
        }
    }
    let accepted = objects
        .iter()
        .find(|o| {
            o["message"]
                .as_str()
                .is_some_and(|m| m.starts_with("Accept new connection from 127.0.0.1:"))
        })
        .expect("the accept line");
    assert_eq!(accepted["level"], "INFO");
    assert_eq!(accepted["target"], tcpkit::server::CONNECTION_LOG);
    // The final error is an object too.
    let out = Command::new(tcpkit())
        .args(["--log-format", "json", "talk", "127.0.0.1:1", "Michael"])
        .output()
        .unwrap();
    let stderr = common::stderr_of(&out);
    let error: serde_json::Value = serde_json::from_str(stderr.trim())
        .unwrap_or_else(|e| panic!("{e}: not one JSON object: {stderr}"));
    assert_eq!(error["level"], "ERROR");
    assert!(
        error["message"]
            .as_str()
            .is_some_and(|m| m.starts_with("cannot connect to 127.0.0.1:1")),
        "{error}"
    );
}

#[test]
fn no_connection_logs_leaves_out_the_lines_per_connection_and_keeps_the_rest() {
    let said = |lines: &[String], text: &str| lines.iter().any(|l| l.contains(text));
    let quiet = one_session(&["--plain-logs"], &["--no-connection-logs"]);
    assert!(!said(&quiet, "Accept new connection"), "{quiet:?}");
    assert!(!said(&quiet, "Connection from"), "{quiet:?}");
    assert!(said(&quiet, "Waiting for connection on"), "{quiet:?}");
    assert!(said(&quiet, "Server stopped."), "{quiet:?}");
    // The same session without the flag logs both lines for each.
    let full = one_session(&["--plain-logs"], &[]);
    assert!(
        said(&full, "Accept new connection from 127.0.0.1:"),
        "{full:?}"
    );
    assert!(said(&full, "Connection from 127.0.0.1:"), "{full:?}");
}
