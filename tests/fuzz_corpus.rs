//! Replays every input kept in `fuzz/corpus/<target>/` through the check its fuzz target runs, on stable: the
//! fuzzer's properties hold in the ordinary suite, and an input that once crashed stays fixed. A corpus
//! directory that is missing or empty fails, as does a fuzz target that no replay covers. The emulator's
//! check lives in its crate (`route53_emulator::fuzzing`) and is replayed here with the others.

use std::fs;
use std::panic::{self, AssertUnwindSafe};
use std::path::{Path, PathBuf};

use route53_registrator::fuzzing;

/// Every fuzz target, each replayed below.
const TARGETS: &[&str] = &["classify", "config", "error_body", "emulator_request"];

fn fuzz_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz")
}

/// Runs `check` on every file of `fuzz/corpus/<target>/`, naming each input that fails; panics when the
/// directory is missing or empty.
fn replay(target: &str, check: fn(&[u8])) {
    let dir = fuzz_dir().join("corpus").join(target);
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
            panic::catch_unwind(AssertUnwindSafe(|| check(&input))).is_err()
        })
        .map(|file| file.display().to_string())
        .collect();
    assert!(failed.is_empty(), "the {target} check fails on {failed:?}");
}

#[test]
fn classify_corpus() {
    replay("classify", fuzzing::check_classify);
}

#[test]
fn config_corpus() {
    replay("config", fuzzing::check_config);
}

#[test]
fn error_body_corpus() {
    replay("error_body", fuzzing::check_error_body);
}

#[test]
fn emulator_request_corpus() {
    replay(
        "emulator_request",
        route53_emulator::fuzzing::check_request_body,
    );
}

/// A target added under `fuzz/fuzz_targets/` needs its corpus and its replay here.
#[test]
fn every_fuzz_target_is_replayed() {
    let dir = fuzz_dir().join("fuzz_targets");
    let mut found: Vec<String> = fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|entry| entry.expect("a readable directory entry").path())
        .filter_map(|path| Some(path.file_stem()?.to_str()?.to_owned()))
        .collect();
    found.sort();
    let mut known: Vec<String> = TARGETS.iter().map(|t| t.to_string()).collect();
    known.sort();
    assert_eq!(found, known, "fuzz targets against the replays");
}
