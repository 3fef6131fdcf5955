//! Bench beyond one machine, simulated on this one (the peer tier: ip,
//! unshare, nsenter, python3 with PyYAML). Four network namespaces joined
//! by veth pairs to a bridge are four "machines", each with an address of
//! its own: a server in one, and in the three others a bench each, run
//! with deploy/bench-job.yaml's own arguments and one `--start-at`. Their
//! reports, merged, must equal the server's own counters to the message.

#![cfg(feature = "peer-tests")]

mod common;

use std::path::Path;
use std::process::Command;
use std::time::{Duration, SystemTime};

use common::{require, stderr_of, stdout_of, tcpkit};
use serde_json::Value;

/// The bench Job's container: its args and its environment.
fn the_jobs_bench() -> (Vec<String>, Vec<(String, String)>, Value) {
    let job = Path::new(env!("CARGO_MANIFEST_DIR")).join("deploy/bench-job.yaml");
    let parse = r#"
import json, sys, yaml
job = yaml.safe_load(open(sys.argv[1]))
spec = job["spec"]
container = spec["template"]["spec"]["containers"][0]
print(json.dumps({
    "args": container["args"],
    "env": [[e["name"], e["value"]] for e in container["env"]],
    "spec": {k: spec[k] for k in ("completionMode", "completions", "parallelism", "backoffLimit")},
    "restart": spec["template"]["spec"]["restartPolicy"],
}))
"#;
    // Debian's, where scripts/test.sh installs PyYAML (python3-yaml).
    let out = Command::new("/usr/bin/python3")
        .args(["-c", parse])
        .arg(&job)
        .output()
        .expect("python3 runs");
    assert!(out.status.success(), "{}", stderr_of(&out));
    let parsed: Value = serde_json::from_str(&stdout_of(&out)).expect("JSON");
    let args = parsed["args"]
        .as_array()
        .expect("args")
        .iter()
        .map(|a| a.as_str().expect("a string arg").to_string())
        .collect();
    let env = parsed["env"]
        .as_array()
        .expect("env")
        .iter()
        .map(|pair| {
            let text = |i: usize| pair[i].as_str().expect("a string").to_string();
            (text(0), text(1))
        })
        .collect();
    (args, env, parsed)
}

/// Four namespaces on a bridge (10.9.0.1 to .4): serve in the first, the
/// three benches in the others, then `bench merge` and the server's
/// `/metrics`, both written to `dir`.
const LAB: &str = r#"
set -e
pids=""
trap 'kill $pids 2>/dev/null || true' EXIT
ip link set lo up
ip link add br0 type bridge
ip link set br0 up
for i in 1 2 3 4; do
  unshare -n sleep 120 & pid=$!
  pids="$pids $pid"
  while [ "$(readlink /proc/$pid/ns/net)" = "$(readlink /proc/self/ns/net)" ]; do sleep 0.01; done
  eval "ns$i=$pid"
  ip link add veth$i type veth peer name eth0 netns $pid
  ip link set veth$i master br0 up
  nsenter -t $pid -n ip link set lo up
  nsenter -t $pid -n ip addr add 10.9.0.$i/24 dev eth0
  nsenter -t $pid -n ip link set eth0 up
done
nsenter -t $ns1 -n "$T" --plain-logs serve --bind 10.9.0.1:9999 --metrics 10.9.0.1:29999 2>"$D/serve.log" & server=$!
pids="$pids $server"
for i in $(seq 200); do grep -q Waiting "$D/serve.log" && break; sleep 0.05; done
benches=""
for i in 2 3 4; do
  nsenter -t $(eval echo \$ns$i) -n "$T" $BENCH >"$D/run$i.json" 2>"$D/run$i.err" & benches="$benches $!"
done
for b in $benches; do wait $b; done
"$T" bench merge --json "$D/run2.json" "$D/run3.json" "$D/run4.json" >"$D/merged.json"
for i in $(seq 200); do
  nsenter -t $ns1 -n "$T" -qq fetch -s -o - http://10.9.0.1:29999/metrics >"$D/metrics.txt"
  grep -q '^tcpkit_connections_open 0$' "$D/metrics.txt" && break
  sleep 0.05
done
kill -TERM $server
wait $server
"#;

#[test]
fn three_machines_benched_at_once_merge_to_the_servers_own_counts() {
    for program in ["ip", "unshare", "nsenter", "/usr/bin/python3"] {
        require(program);
    }
    let (args, env, spec) = the_jobs_bench();
    // The Job runs its pods side by side, once each: a retried or queued
    // bench would miss the window.
    assert_eq!(spec["spec"]["completionMode"], "Indexed", "{spec}");
    assert_eq!(
        spec["spec"]["completions"], spec["spec"]["parallelism"],
        "{spec}"
    );
    assert_eq!(spec["spec"]["backoffLimit"], 0, "{spec}");
    assert_eq!(spec["restart"], "Never", "{spec}");
    // Its args, with the Job's variables as Kubernetes expands them: the
    // server here, one start a few seconds ahead, a short run.
    let at = humantime::format_rfc3339_seconds(SystemTime::now() + Duration::from_secs(4));
    let mut values = env.clone();
    for (name, value) in &mut values {
        match name.as_str() {
            "TARGET" => *value = "10.9.0.1:9999".into(),
            "START_AT" => *value = at.to_string(),
            "DURATION" => *value = "1s".into(),
            _ => {}
        }
    }
    let bench: Vec<String> = args
        .iter()
        .map(|arg| {
            values.iter().fold(arg.clone(), |arg, (name, value)| {
                arg.replace(&format!("$({name})"), value)
            })
        })
        .collect();
    assert!(
        bench.iter().all(|a| !a.contains("$(") && !a.contains(' ')),
        "every variable is the Job's own: {bench:?}"
    );
    let dir = tempfile::tempdir().expect("a temporary directory");
    let out = Command::new("unshare")
        .args(["-n", "sh", "-c", LAB])
        .env("T", tcpkit())
        .env("D", dir.path())
        .env("BENCH", bench.join(" "))
        .output()
        .expect("unshare runs");
    let read = |name: &str| std::fs::read_to_string(dir.path().join(name)).unwrap_or_default();
    let log = read("serve.log");
    assert!(
        out.status.success(),
        "{}\nserve: {log}\nbench: {}",
        stderr_of(&out),
        read("run2.err")
    );
    // Each bench's stdout is its report alone (-qq), as kubectl logs
    // would give it; each measured from its own machine.
    let mut runs = Vec::new();
    for i in 2..=4 {
        let report: Value = serde_json::from_str(&read(&format!("run{i}.json")))
            .unwrap_or_else(|e| panic!("run{i}: {e}: {}", read(&format!("run{i}.err"))));
        assert_eq!(report["errors"], 0, "{report}");
        assert!(
            log.contains(&format!("Accept new connection from 10.9.0.{i}:")),
            "{log}"
        );
        runs.push(report);
    }
    let merged: Value = serde_json::from_str(&read("merged.json")).expect("the merged report");
    let metrics = read("metrics.txt");
    let counter = |name: &str| -> u64 {
        metrics
            .lines()
            .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.parse::<f64>().ok())
            .unwrap_or_else(|| panic!("no {name} in {metrics}")) as u64
    };
    let totals = &merged["totals"];
    assert_eq!(totals["unanswered"], 0, "{merged}");
    assert_eq!(
        totals["replies"].as_u64(),
        Some(counter("tcpkit_messages_total")),
        "{merged}\n{metrics}"
    );
    assert_eq!(
        totals["connections"].as_u64(),
        Some(counter("tcpkit_connections_accepted_total")),
        "{merged}\n{metrics}"
    );
    // One window for all: started together, so merge says nothing of
    // overlap, and each run started within 100 ms of the asked time.
    let notes = merged["notes"].to_string();
    assert!(notes.contains("merged from 3 runs"), "{notes}");
    assert!(
        !notes.contains("overlap") && !notes.contains("apart"),
        "{notes}"
    );
    let asked = merged["start_at_unix"].as_f64().expect("the asked start");
    for run in &runs {
        let late = run["window_start_unix"].as_f64().expect("start") - asked;
        assert!((0.0..0.1).contains(&late), "{late} s late: {run}");
    }
    let done: u64 = runs.iter().map(|r| r["done"].as_u64().expect("done")).sum();
    assert_eq!(merged["done"].as_u64(), Some(done));
}
