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
            "0.0.0.0:9999" | "0.0.0.0:9100" | "127.0.0.1:9100" => "127.0.0.1:0".to_string(),
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
    // The stop timeout covers the drain and the grace period.
    let seconds = |flag: &str| -> u64 {
        let at = args.iter().position(|a| a == flag).unwrap();
        args[at + 1].trim_end_matches('s').parse().unwrap()
    };
    let stop: u64 = service
        .lines()
        .find_map(|l| l.strip_prefix("TimeoutStopSec="))
        .map(|v| v.trim_end_matches('s').parse().unwrap())
        .unwrap();
    assert!(stop > seconds("--drain") + seconds("--grace"));
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
assert ports[c["readinessProbe"]["httpGet"]["port"]] == 9100
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
    let seconds = |flag: &str| -> u64 {
        let at = args.iter().position(|a| a == flag).unwrap();
        args[at + 1].trim_end_matches('s').parse().unwrap()
    };
    assert!(
        grace > seconds("--drain") + seconds("--grace"),
        "terminationGracePeriodSeconds {grace} must cover --drain and --grace"
    );
    starts(&args);
}
