//! The file name `fetch` saves a body under, made from the URL.
//!
//! A name taken from the URL is reduced to one plain file name in the
//! current directory: no `/`, `\`, NUL or control bytes, no leading `.`
//! (so never `..` or a hidden file), at most [`MAX_NAME`] bytes. Whatever
//! the server or URL says, the file lands in the current directory.

use url::Url;

/// The longest file name we make, in bytes; with `.part` it stays under
/// the 255-byte limit of common file systems.
pub const MAX_NAME: usize = 200;

/// The file name for a URL: its last path segment, percent-decoded and
/// made safe; `index.html` when there is none.
pub fn name_from_url(url: &Url) -> String {
    let segment = url
        .path_segments()
        .and_then(|mut s| s.next_back())
        .unwrap_or("");
    let decoded: Vec<u8> = percent_encoding::percent_decode_str(segment).collect();
    safe_name(&decoded)
}

/// Makes any bytes into one harmless file name (see the module docs).
pub fn safe_name(raw: &[u8]) -> String {
    let text = String::from_utf8_lossy(raw);
    let mut name: String = text
        .chars()
        .map(|c| {
            if c == '/' || c == '\\' || c.is_control() {
                '_'
            } else {
                c
            }
        })
        .collect();
    let dots = name.len() - name.trim_start_matches('.').len();
    name.replace_range(..dots, &"_".repeat(dots));
    let name = name.trim();
    let mut end = name.len().min(MAX_NAME);
    while !name.is_char_boundary(end) {
        end -= 1;
    }
    let name = &name[..end];
    if name.is_empty() {
        "index.html".to_string()
    } else {
        name.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn name(url: &str) -> String {
        name_from_url(&Url::parse(url).unwrap())
    }

    #[test]
    fn names_come_from_the_last_segment() {
        assert_eq!(name("http://h/"), "index.html");
        assert_eq!(name("http://h"), "index.html");
        assert_eq!(name("http://h/a/b.tar.gz?x=1#y"), "b.tar.gz");
        assert_eq!(name("http://h/dir/"), "index.html");
        assert_eq!(name("http://h/hello%20world.txt"), "hello world.txt");
    }

    #[test]
    fn hostile_names_stay_in_this_directory() {
        for (url, want) in [
            // The url crate resolves %2e%2e as a dot segment.
            ("http://h/a/%2e%2e", "index.html"),
            ("http://h/x/%2e%2e%2e", "___"),
            ("http://h/..%2f..%2fetc%2fpasswd", "___.._etc_passwd"),
            ("http://h/a%5c..%5cb", "a_.._b"),
            ("http://h/.bashrc", "_bashrc"),
            ("http://h/x%00y%0a%1b", "x_y__"),
            ("http://h/%2fetc%2fpasswd", "_etc_passwd"),
            ("http://h/%ff%fe", "\u{fffd}\u{fffd}"),
        ] {
            let got = name(url);
            assert_eq!(got, want, "{url}");
            assert!(!got.contains('/') && !got.starts_with('.'));
        }
        assert_eq!(safe_name(b".."), "__");
        assert_eq!(safe_name(b"  "), "index.html");
        let long = format!("http://h/{}", "é".repeat(300));
        let got = name(&long);
        assert!(got.len() <= MAX_NAME && got.chars().all(|c| c == 'é'));
    }
}
