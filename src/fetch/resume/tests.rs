//! Tests of resuming: validators, marks, and the checks of an answer.

use super::*;
use tcpkit_wire::head::{Limits, parse};

fn head(fields: &str) -> Head {
    let raw = format!("HTTP/1.1 200 OK\r\n{fields}\r\n");
    parse(raw.as_bytes(), &Limits::default())
        .unwrap()
        .unwrap()
        .0
}

#[test]
fn strong_etags_first_then_dates_and_never_weak_tags() {
    let url = Url::parse("http://h/f").unwrap();
    let of = |fields: &str| Validator::of(&url, &url, &head(fields), None);
    let v = of("ETag: \"v1\"\r\nLast-Modified: Mon\r\n").unwrap();
    assert_eq!(v.if_range(), Some("\"v1\""));
    let v = of("ETag: W/\"v1\"\r\nLast-Modified: Mon\r\n").unwrap();
    assert_eq!(v.if_range(), Some("Mon"));
    assert_eq!(of("ETag: W/\"v1\"\r\n"), None);
    assert_eq!(of(""), None);
}

fn v1(length: Option<u64>) -> Validator {
    Validator {
        url: "http://h/f".into(),
        from: "http://h/f".into(),
        etag: Some("\"v1\"".into()),
        last_modified: None,
        length,
        part: None,
    }
}

#[test]
fn a_partial_answer_must_be_exactly_the_rest_of_the_same_file() {
    let ok = "ETag: \"v1\"\r\n";
    let check = |fields: &str, length| {
        check_partial(
            &head(&format!("{ok}{fields}")),
            400,
            &v1(Some(1000)),
            length,
        )
    };
    assert_eq!(
        check("Content-Range: bytes 400-999/1000\r\n", Some(600)),
        Ok(600)
    );
    assert_eq!(
        check("Content-Range: bytes 400-999/1000\r\n", None),
        Ok(600)
    );
    for (fields, length, says) in [
        ("", Some(600), "without a Content-Range"),
        (
            "Content-Range: bytes 0-599/1000\r\n",
            Some(600),
            "a range from byte 0",
        ),
        (
            "Content-Range: bytes 400-500/1000\r\n",
            Some(101),
            "ends at byte 500",
        ),
        (
            "Content-Range: bytes 400-999/1000\r\n",
            Some(100),
            "Content-Length 100",
        ),
        (
            "Content-Range: bytes 400-1999/2000\r\n",
            Some(1600),
            "it changed",
        ),
        (
            "Content-Range: bytes 400-999/*\r\n",
            Some(600),
            "does not say the file's length",
        ),
        ("Content-Range: bytes */1000\r\n", Some(0), "an empty range"),
        (
            "Content-Range: bytes 400-99999999999999999999999/1\r\n",
            Some(600),
            "too large",
        ),
        (
            "Content-Range: bytes 400-999/400\r\n",
            Some(600),
            "past the length",
        ),
    ] {
        let got = check(fields, length).unwrap_err();
        assert!(got.contains(says), "{fields:?}: {got}");
    }
    // Without a length saved (an older validator file), the range
    // still has to end at the length it names.
    let h = head(&format!("{ok}Content-Range: bytes 400-1999/2000\r\n"));
    assert_eq!(check_partial(&h, 400, &v1(None), None), Ok(1600));
}

#[test]
fn a_partial_answer_must_carry_the_validator_sent() {
    let range = "Content-Range: bytes 400-999/1000\r\n";
    let check = |fields: &str, saved: &Validator| {
        check_partial(&head(&format!("{range}{fields}")), 400, saved, Some(600))
    };
    let other = check("ETag: \"v2\"\r\n", &v1(None)).unwrap_err();
    assert!(
        other.contains(r#"ETag "\"v2\"" for If-Range "\"v1\"""#),
        "{other}"
    );
    let none = check("", &v1(None)).unwrap_err();
    assert!(none.contains("no ETag"), "{none}");
    let dated = Validator {
        etag: None,
        last_modified: Some("Mon".into()),
        ..v1(None)
    };
    assert_eq!(check("Last-Modified: Mon\r\n", &dated), Ok(600));
    // RFC 9110 §15.3.7 does not require Last-Modified on a 206.
    assert_eq!(check("", &dated), Ok(600));
    let later = check("Last-Modified: Tue\r\n", &dated).unwrap_err();
    assert!(
        later.contains(r#"Last-Modified "Tue" for If-Range "Mon""#),
        "{later}"
    );
    // Both saved: the same tag with another date is another version.
    let both = Validator {
        last_modified: Some("Mon".into()),
        ..v1(None)
    };
    let tag = "ETag: \"v1\"\r\n";
    assert_eq!(
        check(&format!("{tag}Last-Modified: Mon\r\n"), &both),
        Ok(600)
    );
    assert_eq!(check(tag, &both), Ok(600));
    let spliced = check(&format!("{tag}Last-Modified: Tue\r\n"), &both).unwrap_err();
    assert!(spliced.contains("with the same ETag"), "{spliced}");
}

#[test]
fn a_partial_answer_with_two_of_a_kind_another_coding_or_several_parts_is_refused() {
    let range = "Content-Range: bytes 400-999/1000\r\n";
    let tag = "ETag: \"v1\"\r\n";
    let check = |fields: &str| {
        check_partial(
            &head(&format!("{range}{tag}{fields}")),
            400,
            &v1(None),
            Some(600),
        )
    };
    assert_eq!(check("Content-Encoding: identity\r\n"), Ok(600));
    for (fields, says) in [
        ("ETag: \"v2\"\r\n", "2 ETag fields"),
        (
            "Last-Modified: Mon\r\nLast-Modified: Tue\r\n",
            "2 Last-Modified",
        ),
        (range, "2 Content-Range"),
        ("Content-Encoding: gzip\r\n", "encoded (\"gzip\""),
        (
            "Content-Type: multipart/byteranges; boundary=x\r\n",
            "multipart",
        ),
    ] {
        let got = check(fields).unwrap_err();
        assert!(got.contains(says), "{fields:?}: {got}");
    }
}

#[test]
fn a_validator_with_two_tags_or_dates_is_not_kept() {
    let url = Url::parse("http://h/f").unwrap();
    let of = |fields: &str| Validator::of(&url, &url, &head(fields), None);
    assert_eq!(of("ETag: \"v1\"\r\nETag: \"v2\"\r\n"), None);
    assert_eq!(of("Last-Modified: Mon\r\nLast-Modified: Tue\r\n"), None);
}

#[test]
fn a_mark_sees_a_changed_length_start_or_end() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("p");
    let mark = |bytes: &[u8]| {
        fs::write(&path, bytes).unwrap();
        Mark::of(&File::open(&path).unwrap()).unwrap()
    };
    let big: Vec<u8> = (0..300_000u32).map(|i| (i % 251) as u8).collect();
    let base = mark(&big);
    assert_eq!(base.length, 300_000);
    assert_eq!(mark(&big), base);
    let mut start = big.clone();
    start[10] ^= 1;
    assert_ne!(mark(&start).digest, base.digest);
    let mut end = big.clone();
    end[299_990] ^= 1;
    assert_ne!(mark(&end).digest, base.digest);
    assert_eq!(mark(b"").length, 0);
    assert_eq!(
        Mark::parse(&format!("{} {}", base.length, base.digest)),
        Some(base)
    );
    assert_eq!(Mark::parse("12 nothex"), None);
}

#[test]
fn unsatisfied_ranges_name_the_length() {
    assert_eq!(
        unsatisfied_length(&head("Content-Range: bytes */1000\r\n")),
        Some(1000)
    );
    assert_eq!(
        unsatisfied_length(&head("Content-Range: bytes 0-1/2\r\n")),
        None
    );
    assert_eq!(unsatisfied_length(&head("")), None);
}

#[test]
fn a_validator_file_round_trips_and_an_edited_one_cannot_forge_headers() {
    let dir = tempfile::tempdir().unwrap();
    let part = dir.path().join("f.part");
    let v = v1(Some(1000));
    v.save(&part).unwrap();
    assert_eq!(Validator::load(&part), Some(v.clone()));
    v.save(&part).unwrap();
    fs::write(file_for(&part), "url: http://h/f\netag: \"a\"\rX-Evil: 1\n").unwrap();
    assert_eq!(Validator::load(&part), None);
    fs::write(
        file_for(&part),
        "url: http://h/f\netag: \"a\"\nlength: -1\n",
    )
    .unwrap();
    assert_eq!(Validator::load(&part), None, "a length that is no number");
    forget(&part).unwrap();
    forget(&part).unwrap();
    assert!(!file_for(&part).exists());
}
