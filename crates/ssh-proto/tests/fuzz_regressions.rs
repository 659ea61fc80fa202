//! Replays the fuzz corpus in plain `cargo test -p ssh-proto --features fuzzing`: every file
//! under `fuzz/seeds/<target>/` and `fuzz/regressions/<target>/` through the body of
//! `<target>` in `ssh_proto::fuzz`, plus the seeds as `ssh_proto::fuzz::seeds()` builds them
//! now (the committed ones are a snapshot and may lag behind the code).
//!
//! A crash found by `cargo fuzz` goes to `fuzz/regressions/<target>/` (see `fuzz/README.md`).
//! While the bug is open, name the file `open-<something>`: it must still panic (the test
//! fails once it stops, so the fix renames it and it becomes a plain regression).
//!
//! Regenerate the committed seeds with
//! `cargo test -p ssh-proto --features fuzzing --test fuzz_regressions -- --ignored write_seeds`.

#![cfg(feature = "fuzzing")]

use std::fs;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};

use ssh_proto::fuzz::{FuzzBody, TARGETS, seeds};

fn fuzz_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz")
}

fn body(target: &str) -> Option<FuzzBody> {
    TARGETS.iter().find(|(name, _)| *name == target).map(|(_, f)| *f)
}

/// `(target, path)` for every file under `fuzz/<kind>/<target>/`.
fn files(kind: &str) -> Vec<(String, PathBuf)> {
    let mut out = Vec::new();
    let Ok(dirs) = fs::read_dir(fuzz_dir().join(kind)) else { return out };
    for dir in dirs.flatten() {
        let target = dir.file_name().to_string_lossy().into_owned();
        let Ok(entries) = fs::read_dir(dir.path()) else { continue };
        for f in entries.flatten() {
            let path = f.path();
            let name = f.file_name().to_string_lossy().into_owned();
            if path.is_file() && !name.starts_with('.') && name != "README.md" {
                out.push((target.clone(), path));
            }
        }
    }
    out.sort();
    out
}

fn replay(kind: &str) -> usize {
    let mut count = 0;
    for (target, path) in files(kind) {
        let f = body(&target).unwrap_or_else(|| panic!("{}: no fuzz body named {target:?}", path.display()));
        let data = fs::read(&path).unwrap();
        let open = path.file_name().is_some_and(|n| n.to_string_lossy().starts_with("open-"));
        if open {
            let r = catch_unwind(AssertUnwindSafe(|| f(&data)));
            assert!(
                r.is_err(),
                "{} no longer fails: the bug looks fixed; drop the `open-` prefix so it stays a regression test",
                path.display()
            );
            eprintln!("known open finding still reproduces: {}", path.display());
        } else {
            f(&data);
        }
        count += 1;
    }
    count
}

#[test]
fn committed_seeds() {
    let n = replay("seeds");
    assert!(n > 0, "no seeds found under {}", fuzz_dir().join("seeds").display());
    for (target, _) in TARGETS {
        assert!(fuzz_dir().join("seeds").join(target).is_dir(), "no seed directory for {target}");
    }
}

#[test]
fn regressions() {
    replay("regressions");
}

#[test]
fn generated_seeds() {
    let seeds = seeds();
    for (target, _) in TARGETS {
        assert!(seeds.iter().any(|(t, _, _)| t == target), "no generated seed for {target}");
    }
    for (target, name, data) in &seeds {
        let f = body(target).unwrap();
        let r = catch_unwind(AssertUnwindSafe(|| f(data)));
        assert!(r.is_ok(), "seed {target}/{name} failed");
    }
}

/// The bodies must accept anything, including nothing and short garbage.
#[test]
fn trivial_inputs() {
    let inputs: [&[u8]; 6] = [b"", b"\0", b"\xff", &[0xff; 64], &[0; 64], b"SSH-2.0-x\r\n"];
    for (_, f) in TARGETS {
        for data in inputs {
            f(data);
        }
    }
}

/// Rewrites `fuzz/seeds/` from `seeds()`.
#[test]
#[ignore = "writes fuzz/seeds; run explicitly to regenerate the committed corpus"]
fn write_seeds() {
    let root = fuzz_dir().join("seeds");
    for (target, _) in TARGETS {
        let dir = root.join(target);
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
    }
    for (target, name, data) in seeds() {
        fs::write(root.join(target).join(name), data).unwrap();
    }
}
