//! A line of text as the JSON object `--log-format json` writes for each
//! log event (`timestamp`, `level`, `message`, `target`, as
//! tracing-subscriber's flattened JSON), so that the lines that are not
//! tracing events (the final error, notices, the count of dropped lines)
//! parse like the rest.

/// `text` (one line, its newline optional) as a JSON object and a
/// newline: its level and target from how it starts (`tcpkit: error: `,
/// `tcpkit: warning: `, `trace `), the time now.
pub fn line(text: &str) -> String {
    let text = text.trim_end_matches('\n');
    let (level, target, message) = [
        ("tcpkit: error: ", "ERROR", "tcpkit"),
        ("tcpkit: warning: ", "WARN", "tcpkit"),
        ("trace ", "INFO", "tcpkit::trace"),
        ("tcpkit: ", "INFO", "tcpkit"),
    ]
    .into_iter()
    .find_map(|(mark, level, target)| Some((level, target, text.strip_prefix(mark)?)))
    .unwrap_or(("INFO", "tcpkit", text));
    format!(
        "{{\"timestamp\":\"{}\",\"level\":\"{level}\",\"message\":\"{}\",\"target\":\"{target}\"}}\n",
        humantime::format_rfc3339_micros(std::time::SystemTime::now()),
        escaped(message)
    )
}

/// `text` as the inside of a JSON string (RFC 8259: the quote, the
/// backslash and control characters escaped).
fn escaped(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if u32::from(c) < 0x20 || c == '\u{7f}' => {
                out.push_str(&format!("\\u{:04x}", u32::from(c)));
            }
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn levels_come_from_the_start_and_the_message_is_escaped() {
        let error = line("tcpkit: error: cannot read \"a\\b\"\ttab\u{1b}[31m\n");
        assert!(error.ends_with("}\n"));
        assert!(error.contains("\"level\":\"ERROR\""), "{error}");
        assert!(
            error.contains(r#""message":"cannot read \"a\\b\"\ttab\u001b[31m""#),
            "{error}"
        );
        assert!(line("tcpkit: warning: x").contains("\"level\":\"WARN\""));
        assert!(line("trace 1.0ms accept").contains("\"target\":\"tcpkit::trace\""));
        let plain = line("Waiting");
        assert!(plain.contains("\"level\":\"INFO\",\"message\":\"Waiting\""));
    }
}
