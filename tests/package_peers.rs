//! The peer tier for what operators install: the .deb (cargo-deb,
//! checked with dpkg-deb, dpkg -x, systemd-analyze and lintian) and the
//! container image (a static binary in an empty image, built and run with
//! Debian's podman).

#![cfg(unix)] // Debian's tools

mod common;

use std::path::Path;
use std::process::Command;

use common::{require, stdout_of};

/// Runs a program to its end, failing the test (with what it said) when
/// it fails; its stdout.
fn ran(cmd: &mut Command) -> String {
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "{cmd:?}: {}{}",
        stdout_of(&out),
        common::stderr_of(&out)
    );
    stdout_of(&out)
}

#[test]
fn the_deb_puts_everything_in_place_and_its_units_verify_installed() {
    for program in ["dpkg-deb", "lintian", "systemd-analyze", "cargo-deb"] {
        require(program);
    }
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    // The package of the binary under test (a release is built the same
    // way, by `bash scripts/package.sh`).
    ran(Command::new("bash")
        .args(["scripts/package.sh", "--profile", "dev", "--no-build"])
        .current_dir(root));
    let deb = root.join(format!(
        "target/debian/tcpkit_{}-1_amd64.deb",
        env!("CARGO_PKG_VERSION")
    ));
    let contents = ran(Command::new("dpkg-deb").arg("--contents").arg(&deb));
    for path in [
        "./usr/bin/tcpkit",
        "./usr/share/man/man1/tcpkit.1.gz",
        "./usr/share/bash-completion/completions/tcpkit",
        "./usr/share/zsh/vendor-completions/_tcpkit",
        "./usr/share/fish/vendor_completions.d/tcpkit.fish",
        "./usr/lib/systemd/system/tcpkit.service",
        "./usr/lib/systemd/system/tcpkit.socket",
        "./usr/share/doc/tcpkit/copyright",
        "./usr/share/doc/tcpkit/changelog.Debian.gz",
        "./usr/share/doc/tcpkit/examples/alerts.yml",
        "./usr/share/doc/tcpkit/examples/tcpkit.json",
    ] {
        assert!(
            contents.lines().any(|l| l.ends_with(&format!(" {path}"))),
            "no {path} in the package:\n{contents}"
        );
    }
    let depends = ran(Command::new("dpkg-deb")
        .arg("--field")
        .arg(&deb)
        .arg("Depends"));
    assert!(depends.contains("adduser"), "{depends}");

    // Installed into a scratch root: the units verify there, against the
    // binary the package put in /usr/bin (the host's own targets and
    // slices beside them, as on a real system).
    let scratch = tempfile::tempdir().unwrap();
    ran(Command::new("dpkg").arg("-x").arg(&deb).arg(scratch.path()));
    let units = scratch.path().join("usr/lib/systemd/system");
    for entry in std::fs::read_dir("/usr/lib/systemd/system").unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().to_string();
        if name.ends_with(".target") || name.ends_with(".slice") {
            let _ = std::fs::copy(&path, units.join(name));
        }
    }
    let out = Command::new("systemd-analyze")
        .arg("verify")
        .arg(format!("--root={}", scratch.path().display()))
        .args(["tcpkit.socket", "tcpkit.service"])
        .output()
        .unwrap();
    let complaints = common::stderr_of(&out);
    assert!(
        out.status.success() && complaints.trim().is_empty(),
        "systemd-analyze verify: {complaints}"
    );
    let unit = std::fs::read_to_string(units.join("tcpkit.service")).unwrap();
    assert!(unit.contains("\nExecStart=/usr/bin/tcpkit "), "{unit}");
    assert!(unit.contains("\nUser=tcpkit\nGroup=tcpkit\n"), "{unit}");
    assert!(!unit.contains("DynamicUser"), "{unit}");
    let version = ran(Command::new(scratch.path().join("usr/bin/tcpkit")).arg("--version"));
    assert_eq!(
        version.trim(),
        format!("tcpkit {}", env!("CARGO_PKG_VERSION"))
    );

    // postinst makes the system user, with stand-ins for the system's
    // programs: this machine's users are left alone.
    let control = tempfile::tempdir().unwrap();
    ran(Command::new("dpkg-deb")
        .arg("-e")
        .arg(&deb)
        .arg(control.path()));
    let stubs = tempfile::tempdir().unwrap();
    let log = stubs.path().join("log");
    for (name, body) in [
        (
            "adduser",
            format!("echo \"adduser $*\" >> {}", log.display()),
        ),
        ("getent", "exit 2".to_string()),
        ("deb-systemd-helper", "exit 0".to_string()),
        ("deb-systemd-invoke", "exit 0".to_string()),
    ] {
        let stub = stubs.path().join(name);
        std::fs::write(&stub, format!("#!/bin/sh\n{body}\n")).unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&stub, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    let path = format!(
        "{}:{}",
        stubs.path().display(),
        std::env::var("PATH").unwrap()
    );
    ran(Command::new("sh")
        .arg(control.path().join("postinst"))
        .arg("configure")
        .env("PATH", path));
    let made = std::fs::read_to_string(&log).unwrap_or_default();
    assert!(
        made.starts_with("adduser --system --group ") && made.trim_end().ends_with(" tcpkit"),
        "postinst ran: {made}"
    );

    // Lintian: clean, but for the tags explained in the overrides, each
    // after its reason.
    let out = Command::new("lintian")
        .args(["--tag-display-limit", "0"])
        .arg(&deb)
        .output()
        .unwrap();
    let tags: Vec<String> = stdout_of(&out)
        .lines()
        .filter(|l| l.get(1..3) == Some(": "))
        .map(str::to_string)
        .collect();
    assert!(tags.is_empty(), "lintian: {tags:#?}");
    let overrides =
        std::fs::read_to_string(root.join("packaging/debian/lintian-overrides")).unwrap();
    let mut explained = false;
    for line in overrides.lines() {
        if line.starts_with('#') {
            explained = true;
        } else if line.trim().is_empty() {
            explained = false;
        } else {
            assert!(explained, "an override without its reason: {line}");
        }
    }
}

/// The image the test builds, removed (with its containers) when done.
struct Image(String);

impl Drop for Image {
    fn drop(&mut self) {
        let _ = Command::new("podman")
            .args(["rmi", "--force", &self.0])
            .output();
    }
}

/// `podman ARGS`, with the runtime named (None: podman's default).
fn podman(runtime: Option<&str>, args: &[&str]) -> std::process::Output {
    let mut cmd = Command::new("podman");
    if let Some(runtime) = runtime {
        cmd.args(["--runtime", runtime]);
    }
    cmd.args(args).output().unwrap()
}

#[test]
fn the_image_is_one_static_binary_run_as_nobody_and_serves() {
    for program in ["podman", "musl-gcc", "ldd"] {
        require(program);
    }
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let image = Image(format!("tcpkit-test:{}", std::process::id()));
    ran(Command::new("bash")
        .args(["scripts/image.sh", "--tag", &image.0])
        .current_dir(root));
    let linked = ran(Command::new("ldd")
        .arg(root.join("target/image/tcpkit"))
        .env("LC_ALL", "C"));
    assert!(linked.contains("statically linked"), "{linked}");

    // Nothing but the binary: one layer on nothing, run as nobody.
    let inspect = ran(Command::new("podman").args(["image", "inspect", &image.0]));
    let inspected: serde_json::Value = serde_json::from_str(&inspect).unwrap();
    let config = &inspected[0]["Config"];
    assert_eq!(config["User"], "65534:65534", "{config}");
    assert_eq!(config["Entrypoint"][0], "/usr/bin/tcpkit", "{config}");
    let layers = inspected[0]["RootFS"]["Layers"].as_array().unwrap().len();
    assert_eq!(layers, 1, "{inspect}");
    let size = inspected[0]["Size"].as_u64().unwrap();
    assert!(size < 32 << 20, "{size} bytes");

    // Run, where this machine lets podman run containers: crun (podman's
    // default) first, then runc; the limits are set to what this sandbox
    // allows (podman would raise them past its hard limits).
    let port = common::free_port().to_string();
    let bind = format!("127.0.0.1:{port}");
    let name = format!("tcpkit-test-{}", std::process::id());
    let mut refusals = Vec::new();
    let mut runtime = None;
    for candidate in [None, Some("runc")] {
        let (_, hard) = rlimit::getrlimit(rlimit::Resource::NOFILE).unwrap();
        let nofile = format!("nofile={hard}:{hard}");
        let out = podman(
            candidate,
            &[
                "run",
                "--detach",
                "--name",
                &name,
                "--network",
                "host",
                "--ulimit",
                &nofile,
                "--ulimit",
                "nproc=1024:1024",
                &image.0,
                "--plain-logs",
                "serve",
                "--bind",
                &bind,
            ],
        );
        if out.status.success() {
            runtime = Some(candidate);
            break;
        }
        refusals.push(format!(
            "{}: {}",
            candidate.unwrap_or("crun"),
            common::stderr_of(&out).trim()
        ));
    }
    let Some(runtime) = runtime else {
        eprintln!(
            "NOT RUN: podman cannot run containers on this machine ({}); the image was built \
             and inspected, not run.",
            refusals.join("; ")
        );
        return;
    };
    let mut served = String::new();
    let deadline = std::time::Instant::now() + common::PATIENCE;
    while std::time::Instant::now() < deadline {
        let out = common::talk(&[&bind, "Michael"]).output().unwrap();
        served = stdout_of(&out);
        if out.status.success() {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    assert_eq!(served, "Welcome!\nHello, Michael!\n");
    let top = stdout_of(&podman(runtime, &["top", &name, "user", "pid"]));
    assert!(
        top.lines()
            .nth(1)
            .is_some_and(|l| l.split_whitespace().eq(["65534", "1"])),
        "{top}"
    );
    // podman stop sends SIGTERM to serve, PID 1: the graceful stop, and
    // exit 0 (a PID 1 without a handler would ignore it until the kill).
    let stopped = podman(runtime, &["stop", "--time", "10", &name]);
    assert!(stopped.status.success(), "{}", common::stderr_of(&stopped));
    let logs = podman(runtime, &["logs", &name]);
    let logs = format!("{}{}", stdout_of(&logs), common::stderr_of(&logs));
    assert!(
        logs.contains("Accept new connection") && logs.contains("Server stopped."),
        "{logs}"
    );
    let code = stdout_of(&podman(
        runtime,
        &["inspect", "--format", "{{.State.ExitCode}}", &name],
    ));
    assert_eq!(code.trim(), "0", "{logs}");
}
