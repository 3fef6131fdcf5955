//! Replays the committed fuzz corpus (`fuzz/corpus/TARGET/`) through the
//! same checks the fuzz targets run (`fuzz/checks.rs`), so every
//! `cargo test` re-checks each input the fuzzer found interesting. To grow
//! the corpus: `cargo fuzz run -s none TARGET` in `crates/wire/fuzz`, then
//! `cargo fuzz cmin -s none TARGET` (see `fuzz/README.md`).

#[path = "../fuzz/checks.rs"]
mod checks;

use std::path::PathBuf;

/// Runs `check` on every file of `target`'s corpus; there must be some.
fn replay(target: &str, check: fn(&[u8])) {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("fuzz/corpus")
        .join(target);
    let mut inputs = 0;
    for entry in std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
        let path = entry.expect("corpus entry").path();
        let data = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        check(&data);
        inputs += 1;
    }
    assert!(inputs > 0, "no corpus in {}", dir.display());
}

#[test]
fn greeting_corpus() {
    replay("greeting", checks::greeting);
}

#[test]
fn head_corpus() {
    replay("head", checks::head);
}

#[test]
fn chunked_corpus() {
    replay("chunked", checks::chunked);
}

#[test]
fn proxy_corpus() {
    replay("proxy", checks::proxy);
}

#[test]
fn range_corpus() {
    replay("range", checks::range);
}
