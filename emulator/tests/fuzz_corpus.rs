//! Replays every input kept in `fuzz/corpus/emulator_request/` through the check its fuzz target runs, on
//! stable (the daemon's targets are replayed in the top-level `tests/fuzz_corpus.rs`). A missing or empty
//! corpus directory fails.

use std::fs;
use std::panic::{self, AssertUnwindSafe};
use std::path::{Path, PathBuf};

use route53_emulator::fuzzing::check_request_body;

#[test]
fn emulator_request_corpus() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz/corpus/emulator_request");
    let mut files: Vec<PathBuf> = fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|entry| entry.expect("a readable directory entry").path())
        .collect();
    files.sort();
    assert!(!files.is_empty(), "{} holds no input", dir.display());
    let failed: Vec<String> = files
        .iter()
        .filter(|file| {
            let input = fs::read(file).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
            panic::catch_unwind(AssertUnwindSafe(|| check_request_body(&input))).is_err()
        })
        .map(|file| file.display().to_string())
        .collect();
    assert!(
        failed.is_empty(),
        "the emulator_request check fails on {failed:?}"
    );
}
