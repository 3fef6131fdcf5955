//! Peer tier: `demo --diagram`'s HTML page in a real browser. Debian's
//! Chromium, headless, renders the page to a screenshot and prints its
//! DOM: the picture must be drawn (not a blank page) and say what the
//! session did. And `--pcap`'s file read by Debian's tshark: the packets
//! the picture draws, with their flags and bytes. Fails loudly when
//! chromium or tshark is missing.

mod common;

use std::process::Command;

use common::{stderr_of, tcpkit};

/// Debian's `chromium`, headless: as root (CI) it needs `--no-sandbox`.
fn chromium(args: &[&str]) -> std::process::Output {
    Command::new("chromium")
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--hide-scrollbars",
        ])
        .args(args)
        .output()
        .expect("chromium is not installed: apt-get install chromium (scripts/test.sh does)")
}

#[test]
fn the_diagram_page_renders_in_chromium() {
    let dir = tempfile::tempdir().unwrap();
    let page = dir.path().join("session.html");
    let out = Command::new(tcpkit())
        .args(["-q", "demo", "--scenario", "split", "--diagram"])
        .arg(&page)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr_of(&out));
    let url = format!("file://{}", page.display());

    // The DOM as the browser built it: the SVG's labels are text in it.
    let dom = chromium(&["--dump-dom", &url]);
    assert!(dom.status.success(), "{}", stderr_of(&dom));
    let dom = String::from_utf8_lossy(&dom.stdout);
    // The picture's own labels (the list below says "connect to ...").
    assert!(
        dom.contains("<svg") && dom.contains(">connect: handshake took"),
        "{dom}"
    );
    for text in [
        "connect: handshake took",
        "write 4 bytes \"Mich\"",
        "read 4 bytes \"ael\\n\"",
        "FIN: shutdown(write)",
        "One read is not one message",
    ] {
        assert!(
            dom.contains(&text.replace('"', "&quot;")) || dom.contains(text),
            "no {text:?} in\n{dom}"
        );
    }

    // The screenshot: the picture is drawn.
    assert_drawn(&url, dir.path(), "split");
}

/// Renders `url` in Chromium to a screenshot and checks that it is drawn:
/// text, lifelines and arrows make a few percent of it dark; a blank page
/// has none.
fn assert_drawn(url: &str, dir: &std::path::Path, name: &str) {
    let shot = dir.join(format!("{name}.png"));
    let out = chromium(&[
        &format!("--screenshot={}", shot.display()),
        "--window-size=1240,900",
        url,
    ]);
    assert!(out.status.success(), "{}", stderr_of(&out));
    let decoder = png::Decoder::new(std::io::BufReader::new(std::fs::File::open(&shot).unwrap()));
    let mut reader = decoder.read_info().unwrap();
    let mut pixels = vec![0; reader.output_buffer_size().unwrap()];
    let info = reader.next_frame(&mut pixels).unwrap();
    let pixels = &pixels[..info.buffer_size()];
    let step = info.color_type.samples();
    let dark = pixels
        .chunks(step)
        .filter(|p| p[..3].iter().all(|&c| c < 128))
        .count();
    let total = pixels.len() / step;
    assert!(
        dark * 1000 > total * 5,
        "{name}: the picture looks blank: {dark} dark pixels of {total}"
    );
}

#[test]
fn every_scenario_is_drawn_in_chromium_with_its_legend() {
    let dir = tempfile::tempdir().unwrap();
    for scenario in [
        "tutorial", "split", "merged", "framing", "reset", "backlog", "window", "nagle",
    ] {
        let path = dir.path().join(format!("{scenario}.svg"));
        let out = Command::new(tcpkit())
            .args(["-q", "demo", "--scenario", scenario, "--diagram"])
            .arg(&path)
            .output()
            .unwrap();
        assert_eq!(
            out.status.code(),
            Some(0),
            "{scenario}: {}",
            stderr_of(&out)
        );
        let url = format!("file://{}", path.display());
        let dom = chromium(&["--dump-dom", &url]);
        assert!(dom.status.success(), "{}", stderr_of(&dom));
        let dom = String::from_utf8_lossy(&dom.stdout);
        for meaning in ["write, connect", "TCP state after", "TCP segment sent"] {
            assert!(
                dom.contains(meaning),
                "{scenario}: no {meaning:?} in the legend"
            );
        }
        assert_drawn(&url, dir.path(), scenario);
    }
}

/// Debian's `tshark` on a pcap file: one line per packet, its TCP flags
/// and payload length, as Wireshark reads them.
fn tshark(pcap: &std::path::Path) -> Vec<(String, usize)> {
    common::require("tshark");
    let out = Command::new("tshark")
        .arg("-r")
        .arg(pcap)
        .args(["-T", "fields", "-e", "tcp.flags.str", "-e", "tcp.len"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr_of(&out));
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|line| {
            let (flags, len) = line.split_once('\t').unwrap_or((line, "0"));
            (flags.trim().to_string(), len.trim().parse().unwrap_or(0))
        })
        .collect()
}

#[test]
fn wireshark_reads_the_pcap_as_the_picture_draws_it() {
    // SAFETY: geteuid(2) cannot fail.
    assert_eq!(
        unsafe { libc::geteuid() },
        0,
        "the peer tier runs as root (CI does), which may capture on lo"
    );
    let dir = tempfile::tempdir().unwrap();
    let pcap = dir.path().join("merged.pcap");
    let out = Command::new(tcpkit())
        .args([
            "-q",
            "demo",
            "--scenario",
            "merged",
            "--diagram",
            "-",
            "--pcap",
        ])
        .arg(&pcap)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr_of(&out));
    let chart = String::from_utf8_lossy(&out.stdout);
    let packets = tshark(&pcap);
    // As many packets as the chart draws segments.
    let drawn = chart
        .lines()
        .filter(|l| l.contains('▷') || l.contains('◁'))
        .count();
    assert_eq!(packets.len(), drawn, "{chart}");
    // tshark's flags string: ·······S·, ·······A··S·, ...
    let has = |flag: char| packets.iter().filter(|(f, _)| f.contains(flag)).count();
    assert_eq!(has('S'), 2, "SYN and SYN-ACK: {packets:?}");
    assert_eq!(has('F'), 2, "a FIN each way: {packets:?}");
    assert_eq!(has('R'), 0, "{packets:?}");
    // The merged scenario's bytes, both ways: the welcome, the three
    // messages in one write, the three replies, exit.
    let payload: usize = packets.iter().map(|(_, n)| n).sum();
    assert_eq!(payload, 9 + 20 + 44 + 5, "{packets:?}");
}

#[test]
fn without_the_right_to_capture_the_calls_are_drawn_and_the_pcap_refused() {
    // As nobody (Debian's setpriv): no CAP_NET_RAW.
    common::require("setpriv");
    let dir = tempfile::tempdir().unwrap();
    let mut perms = std::fs::metadata(dir.path()).unwrap().permissions();
    std::os::unix::fs::PermissionsExt::set_mode(&mut perms, 0o777);
    std::fs::set_permissions(dir.path(), perms).unwrap();
    let (svg, pcap) = (dir.path().join("a.svg"), dir.path().join("a.pcap"));
    let out = Command::new("setpriv")
        .args(["--reuid=65534", "--regid=65534", "--clear-groups"])
        .arg(tcpkit())
        .args(["-q", "demo", "--diagram"])
        .arg(&svg)
        .arg("--pcap")
        .arg(&pcap)
        .output()
        .unwrap();
    let stderr = stderr_of(&out);
    assert_eq!(out.status.code(), Some(13), "{stderr}");
    // Said once, with what to do, and the picture drawn from the calls.
    assert_eq!(
        stderr.matches("the picture shows the calls only").count(),
        1,
        "{stderr}"
    );
    assert!(stderr.contains("setcap cap_net_raw+ep"), "{stderr}");
    let drawn = std::fs::read_to_string(&svg).unwrap();
    assert!(drawn.contains("connect: handshake took"));
    assert!(!drawn.contains("class=\"segment\""));
    assert!(!pcap.exists(), "an empty capture was left");
}

#[test]
fn setcap_gives_a_plain_user_the_packets_as_the_hint_says() {
    // The hint's own remedy: `setcap cap_net_raw+ep` on the binary, then
    // run as nobody (Debian's setcap and setpriv).
    common::require("setcap");
    common::require("setpriv");
    let dir = tempfile::tempdir().unwrap();
    let open = |path: &std::path::Path, mode| {
        let mut perms = std::fs::metadata(path).unwrap().permissions();
        std::os::unix::fs::PermissionsExt::set_mode(&mut perms, mode);
        std::fs::set_permissions(path, perms).unwrap();
    };
    open(dir.path(), 0o777);
    let binary = dir.path().join("tcpkit");
    std::fs::copy(tcpkit(), &binary).unwrap();
    open(&binary, 0o755);
    let set = Command::new("setcap")
        .arg("cap_net_raw+ep")
        .arg(&binary)
        .output()
        .unwrap();
    assert!(set.status.success(), "setcap: {}", stderr_of(&set));
    let out = Command::new("setpriv")
        .args(["--reuid=65534", "--regid=65534", "--clear-groups"])
        .arg(&binary)
        .args(["-q", "demo", "--diagram", "-"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr_of(&out));
    assert!(
        !stderr_of(&out).contains("calls only"),
        "{}",
        stderr_of(&out)
    );
    let chart = String::from_utf8_lossy(&out.stdout);
    assert!(
        chart.contains("SYN seq 0"),
        "no packets as nobody with the capability:\n{chart}"
    );
}
