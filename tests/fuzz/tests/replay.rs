//! Replays every committed input of `fuzz/corpus/<target>/` and `fuzz/regressions/<target>/`
//! through its target, without libFuzzer: the corpus the fuzzer grew and every input that
//! once failed run in each `make test`.

use std::{
    fs,
    panic::{AssertUnwindSafe, catch_unwind},
    path::{Path, PathBuf},
};

use sportello_fuzz::{TARGETS, Target};

fn fuzz_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz")
}

/// The files of `dir`, sorted (none when it does not exist).
fn inputs(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = fs::read_dir(dir)
        .map(|entries| {
            entries
                .filter_map(Result::ok)
                .map(|e| e.path())
                .filter(|p| p.is_file())
                .collect()
        })
        .unwrap_or_default();
    files.sort();
    files
}

/// Runs every input of `dir` through `target`; returns how many ran and which failed.
fn replay(target: Target, dir: &Path) -> (usize, Vec<String>) {
    let files = inputs(dir);
    let mut failed = Vec::new();
    for file in &files {
        match fs::read(file) {
            Ok(data) if catch_unwind(AssertUnwindSafe(|| target(&data))).is_ok() => {}
            Ok(_) => failed.push(file.display().to_string()),
            Err(e) => failed.push(format!("{}: {e}", file.display())),
        }
    }
    (files.len(), failed)
}

#[test]
fn every_corpus_and_regression_input_passes_its_target() {
    let root = fuzz_dir();
    let mut failed = Vec::new();
    for (name, target) in TARGETS {
        let (seeds, mut bad) = replay(*target, &root.join("corpus").join(name));
        assert!(seeds > 0, "fuzz/corpus/{name} holds no input");
        failed.append(&mut bad);
        let (_, mut bad) = replay(*target, &root.join("regressions").join(name));
        failed.append(&mut bad);
    }
    assert!(
        failed.is_empty(),
        "inputs that fail their target: {failed:#?}"
    );
}

#[test]
fn every_target_has_a_cargo_fuzz_binary() {
    let root = fuzz_dir();
    for (name, _) in TARGETS {
        let source = root.join("fuzz_targets").join(format!("{name}.rs"));
        assert!(source.is_file(), "{} is missing", source.display());
    }
    let manifest = fs::read_to_string(root.join("Cargo.toml")).unwrap();
    for (name, _) in TARGETS {
        assert!(
            manifest.contains(&format!("name = \"{name}\"")),
            "fuzz/Cargo.toml has no [[bin]] {name}"
        );
    }
}
