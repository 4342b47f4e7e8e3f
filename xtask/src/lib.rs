//! Repository checks ("tidy").
//!
//! Every source file says what it is, stays a reviewable size, and every crate is on the code map.

use std::path::{Path, PathBuf};

/// Longest source file accepted; split by responsibility before this.
pub const MAX_LINES: usize = 800;

/// Longest first `//!` line accepted, in characters: the one-line summary a reader skims.
pub const MAX_SUMMARY_CHARS: usize = 100;

/// The folders whose `.rs` files the tidy checks read.
pub const SOURCE_FOLDERS: &[&str] = &["crates", "services", "tests", "bench", "xtask"];

/// The repository root (the parent of `xtask/`).
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask sits in the repository")
        .to_path_buf()
}

/// Every `.rs` file under the given folders, recursively, sorted.
pub fn rust_files(root: &Path, folders: &[&str]) -> Vec<PathBuf> {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                if path
                    .file_name()
                    .is_some_and(|n| n == "target" || n == "node_modules")
                {
                    continue;
                }
                walk(&path, out);
            } else if path.extension().is_some_and(|e| e == "rs") {
                out.push(path);
            }
        }
    }
    let mut files = Vec::new();
    for folder in folders {
        walk(&root.join(folder), &mut files);
    }
    files.sort();
    files
}

/// The crate folders (`crates/*`, `services/*`, `tests/*`, `bench`, `xtask`) ARCHITECTURE.md maps.
pub fn crate_folders(root: &Path) -> Vec<String> {
    let mut folders = Vec::new();
    for parent in ["crates", "services", "tests"] {
        if let Ok(entries) = std::fs::read_dir(root.join(parent)) {
            for entry in entries.flatten() {
                if entry.path().join("Cargo.toml").exists() {
                    folders.push(format!("{parent}/{}", entry.file_name().to_string_lossy()));
                }
            }
        }
    }
    folders.extend(["bench".to_owned(), "xtask".to_owned()]);
    folders.sort();
    folders
}
