//! The peer tier for deploy/: the systemd units pass `systemd-analyze
//! verify`, and the command lines in the units and the Kubernetes
//! manifests start a real server (so every flag they use exists and
//! works). The manifests are parsed with PyYAML and cross-checked: no
//! cluster is at hand to apply them. (deploy/haproxy.cfg is run for real
//! in tests/haproxy_peers.rs.)

#![cfg(unix)] // the peers are Debian programs, driven with Unix signals

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use common::{Proc, require, stdout_of, tcpkit};

fn deploy(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("deploy")
        .join(name)
}

/// Starts `tcpkit ARGS` (a deploy file's command line) with its listening
/// addresses moved to free loopback ports, and checks it serves.
fn starts(args: &[String]) {
    let args: Vec<String> = args
        .iter()
        .map(|a| match a.as_str() {
            "0.0.0.0:9999" | "0.0.0.0:29999" | "127.0.0.1:29999" => "127.0.0.1:0".to_string(),
            _ => a.clone(),
        })
        .collect();
    let (global, serve) = args.split_at(args.iter().position(|a| a == "serve").unwrap());
    let mut cmd = Command::new(tcpkit());
    cmd.args(global).args(serve);
    if !serve.iter().any(|a| a == "--bind") {
        cmd.args(["--bind", "127.0.0.1:0"]); // systemd would pass the socket
    }
    let server = Proc::start(cmd, true);
    let out = common::talk(&[&server.addr.to_string(), "Michael"])
        .output()
        .unwrap();
    assert_eq!(stdout_of(&out), "Welcome!\nHello, Michael!\n");
}

#[test]
fn the_systemd_units_verify_and_their_command_line_serves() {
    require("systemd-analyze");
    let dir = tempfile::tempdir().unwrap();
    let service = std::fs::read_to_string(deploy("tcpkit.service")).unwrap();
    // verify checks that ExecStart's program exists: point it at ours.
    let ours = service.replace("/usr/local/bin/tcpkit", &tcpkit().display().to_string());
    std::fs::write(dir.path().join("tcpkit.service"), &ours).unwrap();
    std::fs::copy(deploy("tcpkit.socket"), dir.path().join("tcpkit.socket")).unwrap();
    let out = Command::new("systemd-analyze")
        .arg("verify")
        .arg(dir.path().join("tcpkit.socket"))
        .arg(dir.path().join("tcpkit.service"))
        .current_dir(dir.path())
        .output()
        .unwrap();
    // It exits 0 after a line it ignores: any complaint fails the test.
    let complaints = common::stderr_of(&out);
    assert!(
        out.status.success() && complaints.trim().is_empty(),
        "systemd-analyze verify: {complaints}"
    );
    let exec = service
        .lines()
        .find_map(|l| l.strip_prefix("ExecStart=/usr/local/bin/tcpkit "))
        .expect("ExecStart");
    let args: Vec<String> = exec.split_whitespace().map(str::to_string).collect();
    starts(&args);
    // The stop timeout covers the longest stop, and the exit after it.
    let stop: u64 = service
        .lines()
        .find_map(|l| l.strip_prefix("TimeoutStopSec="))
        .map(|v| v.trim_end_matches('s').parse().unwrap())
        .unwrap();
    let longest = longest_stop(&args);
    assert!(
        Duration::from_secs(stop) >= longest + EXIT,
        "TimeoutStopSec={stop}s is not past the longest stop, {longest:?}, and the exit"
    );
    // The real worst case, with the unit's own flags: a client that floods
    // the server without reading holds its connection through the drain
    // and the grace, and to the end of the bounded close.
    let took = stop_with_a_flooding_client(&args);
    assert!(
        took >= longest.saturating_sub(Duration::from_secs(2)) && took < Duration::from_secs(stop),
        "the worst stop took {took:?}; the unit allows {stop}s, the longest stop is {longest:?}"
    );
}

/// What the binary may take after "Server stopped.": its log's last
/// second, and the exit.
const EXIT: Duration = Duration::from_secs(2);

/// The longest stop of `tcpkit ARGS` (the library's own formula), from
/// the flags its command line gives and the defaults of the rest.
fn longest_stop(args: &[String]) -> Duration {
    let flag = |name: &str| {
        args.iter()
            .position(|a| a == name)
            .map(|at| tcpkit::units::duration(&args[at + 1]).unwrap())
    };
    let defaults = tcpkit::server::Config::default();
    tcpkit::server::Config {
        drain: flag("--drain").unwrap_or(defaults.drain),
        grace: flag("--grace").unwrap_or(defaults.grace),
        linger: flag("--linger").unwrap_or(defaults.linger),
        ..defaults
    }
    .longest_stop()
}

/// Starts `tcpkit ARGS` on a free port, connects a client that writes
/// without ever reading, sends SIGTERM and measures how long the process
/// takes to exit.
fn stop_with_a_flooding_client(args: &[String]) -> Duration {
    let (global, serve) = args.split_at(args.iter().position(|a| a == "serve").unwrap());
    let serve: Vec<&str> = serve
        .iter()
        .map(|a| match a.as_str() {
            "127.0.0.1:29999" => "127.0.0.1:0",
            a => a,
        })
        .collect();
    let mut cmd = Command::new(tcpkit());
    cmd.args(global)
        .args(&serve)
        .args(["--bind", "127.0.0.1:0"]);
    let mut server = Proc::start(cmd, true);
    let addr = server.addr;
    // Writes until the server's window and buffers are full, then blocks
    // there; never reads. (Bounded: the server's close ends it.)
    let flood = std::thread::spawn(move || {
        use std::io::Write;
        let mut tcp = std::net::TcpStream::connect(addr).unwrap();
        let line = b"Michael\n".repeat(8192);
        while tcp.write_all(&line).is_ok() {}
    });
    std::thread::sleep(Duration::from_millis(300));
    let asked = std::time::Instant::now();
    // SAFETY: kill(2) on the pid of the child this test started.
    unsafe { libc::kill(server.child.id() as libc::pid_t, libc::SIGTERM) };
    let exited = server.child.wait().unwrap();
    let took = asked.elapsed();
    assert!(exited.success(), "{exited:?}");
    let _ = flood.join();
    took
}

/// Debian's python3, where apt installs PyYAML.
const PYTHON: &str = "/usr/bin/python3";

#[test]
fn the_kubernetes_manifests_parse_and_hang_together() {
    require(PYTHON);
    // Kinds, the container's args (one per line), the grace period, the
    // probes' paths and ports, and the PDB's and Service's selectors.
    let script = r#"
import sys, yaml
docs = list(yaml.safe_load_all(open(sys.argv[1])))
kinds = [d["kind"] for d in docs]
assert kinds == ["Deployment", "Service", "PodDisruptionBudget"], kinds
dep, svc, pdb = docs
pod = dep["spec"]["template"]
labels = pod["metadata"]["labels"]
assert dep["spec"]["selector"]["matchLabels"] == labels
assert svc["spec"]["selector"] == labels
assert pdb["spec"]["selector"]["matchLabels"] == labels
c = pod["spec"]["containers"][0]
ports = {p["name"]: p["containerPort"] for p in c["ports"]}
assert c["readinessProbe"]["httpGet"]["path"] == "/ready"
assert ports[c["readinessProbe"]["httpGet"]["port"]] == 29999
assert ports[c["livenessProbe"]["tcpSocket"]["port"]] == 9999
assert svc["spec"]["ports"][0]["targetPort"] in ports
print(pod["spec"]["terminationGracePeriodSeconds"])
for a in c["args"]:
    print(a)
"#;
    let ok = Command::new(PYTHON)
        .args(["-c", "import yaml"])
        .status()
        .is_ok_and(|s| s.success());
    assert!(
        ok,
        "python3-yaml is not installed: run the README's test command (scripts/test.sh)"
    );
    let out = Command::new(PYTHON)
        .args(["-c", script])
        .arg(deploy("kubernetes.yaml"))
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", common::stderr_of(&out));
    let text = stdout_of(&out);
    let mut lines = text.lines();
    let grace: u64 = lines.next().unwrap().parse().unwrap();
    let args: Vec<String> = lines.map(str::to_string).collect();
    let longest = longest_stop(&args);
    assert!(
        Duration::from_secs(grace) >= longest + EXIT,
        "terminationGracePeriodSeconds {grace} must cover the longest stop, {longest:?}, and the exit"
    );
    starts(&args);
}

/// `tcpkit --generate KIND`'s output.
fn generated(kind: &str) -> String {
    let out = Command::new(tcpkit())
        .args(["--generate", kind])
        .output()
        .unwrap();
    assert!(out.status.success(), "{kind}: {}", common::stderr_of(&out));
    stdout_of(&out)
}

#[test]
fn bash_completes_from_the_generated_script() {
    require("bash");
    let dir = tempfile::tempdir().unwrap();
    let script = dir.path().join("tcpkit.bash");
    std::fs::write(&script, generated("complete-bash")).unwrap();
    // What bash offers after `tcpkit se<TAB>` and `tcpkit bench <TAB>`.
    let complete = |words: &str, index: usize| {
        let out = Command::new("bash")
            .arg("-c")
            .arg(format!(
                "source {}; COMP_WORDS=({words}); COMP_CWORD={index}; \
                 COMP_LINE='{words}'; COMP_POINT=${{#COMP_LINE}}; \
                 _tcpkit tcpkit \"${{COMP_WORDS[COMP_CWORD]}}\" \"${{COMP_WORDS[COMP_CWORD-1]}}\"; \
                 printf '%s\\n' \"${{COMPREPLY[@]}}\"",
                script.display()
            ))
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", common::stderr_of(&out));
        stdout_of(&out)
    };
    assert_eq!(complete("tcpkit se", 1).trim(), "serve");
    let scenarios = complete("tcpkit bench ''", 2);
    for scenario in ["pingpong", "pipeline", "churn", "hold", "handshake"] {
        assert!(scenarios.lines().any(|l| l == scenario), "{scenarios}");
    }
    // zsh's, fish's and PowerShell's are made too.
    for kind in ["complete-zsh", "complete-fish", "complete-powershell"] {
        assert!(generated(kind).contains("tcpkit"), "{kind}");
    }
}

#[test]
fn man_renders_the_generated_page_with_every_subcommand() {
    require("man");
    let dir = tempfile::tempdir().unwrap();
    let page = dir.path().join("tcpkit.1");
    std::fs::write(&page, generated("man")).unwrap();
    let out = Command::new("man")
        .arg("-l")
        .arg(&page)
        .env("MANPAGER", "cat")
        .env("MANWIDTH", "100")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", common::stderr_of(&out));
    let text = stdout_of(&out);
    assert!(
        text.contains("NAME") && text.contains("tcpkit - A TCP toolkit"),
        "{text}"
    );
    for sub in ["serve", "talk", "demo", "fetch", "bench"] {
        assert!(
            text.contains(&format!("tcpkit-{sub}(1)")),
            "no {sub}: {text}"
        );
    }
    // A KIND it does not make is a usage error that names the kinds.
    let out = Command::new(tcpkit())
        .args(["--generate", "html"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(common::stderr_of(&out).contains("complete-bash"));
}

/// Exporters' ports outside Prometheus's range that its port allocation
/// list names ("Exporters outside of the standard port ranges").
const EXPORTERS_ELSEWHERE: &[u16] = &[
    3903, 7300, 8080, 8082, 8088, 8089, 8292, 8404, 9042, 9087, 9095, 9097, 9099, 16995, 19091,
    19999, 24231, 42004, 44322, 61091,
];

#[test]
fn the_metrics_port_is_nobody_elses() {
    assert!(
        Path::new("/etc/services").exists(),
        "/etc/services is missing: run the README's test command (scripts/test.sh), which installs netbase"
    );
    let service = std::fs::read_to_string(deploy("tcpkit.service")).unwrap();
    let unit_port = service
        .split_whitespace()
        .skip_while(|w| *w != "--metrics")
        .nth(1)
        .and_then(|addr| addr.rsplit(':').next())
        .and_then(|p| p.parse::<u16>().ok())
        .expect("the unit's --metrics port");
    let manifest = std::fs::read_to_string(deploy("kubernetes.yaml")).unwrap();
    let pod_port = manifest
        .lines()
        .find_map(|l| l.trim().strip_prefix("- {name: metrics, containerPort: "))
        .and_then(|p| p.trim_end_matches('}').parse::<u16>().ok())
        .expect("the pod's metrics port");
    assert_eq!(unit_port, pod_port, "one metrics port for both");
    let port = unit_port;
    // Prometheus's own (9090-9094) and the exporters' range (9100-9999,
    // full since 2023: new exporters are given ports past it).
    assert!(
        !(9090..=10999).contains(&port),
        "{port} is in Prometheus's allocated range"
    );
    assert!(
        !EXPORTERS_ELSEWHERE.contains(&port),
        "{port} is an exporter's"
    );
    let services = std::fs::read_to_string("/etc/services").unwrap();
    let named = format!("{port}/tcp");
    assert!(
        !services.split_whitespace().any(|w| w == named),
        "{port} is a registered service's (/etc/services)"
    );
    // A port in the ephemeral range may be taken by any outgoing connect.
    let range = std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range").unwrap();
    let low: u16 = range.split_whitespace().next().unwrap().parse().unwrap();
    assert!(port < low, "{port} is in the ephemeral range (from {low})");
}

#[test]
fn the_alert_rules_pass_promtool_and_their_own_cases() {
    require("promtool");
    let dir = deploy("prometheus");
    for args in [
        &["check", "rules", "alerts.yml"][..],
        &["test", "rules", "alerts_test.yml"][..],
    ] {
        let out = Command::new("promtool")
            .args(args)
            .current_dir(&dir)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "promtool {args:?}: {}{}",
            stdout_of(&out),
            common::stderr_of(&out)
        );
    }
    // Every alert has a case that fires it in the tests.
    let rules = std::fs::read_to_string(dir.join("alerts.yml")).unwrap();
    let cases = std::fs::read_to_string(dir.join("alerts_test.yml")).unwrap();
    let alerts: Vec<&str> = rules
        .lines()
        .filter_map(|l| l.trim().strip_prefix("- alert: "))
        .collect();
    assert!(alerts.len() >= 6, "{alerts:?}");
    for alert in alerts {
        assert!(
            cases.contains(&format!(
                "alertname: {alert}\n        exp_alerts:\n          - exp_labels"
            )),
            "no case fires {alert}"
        );
    }
}
