//! Tidy checks over the whole repository, run with the rest of `cargo test`.

use xtask::{MAX_LINES, MAX_SUMMARY_CHARS, SOURCE_FOLDERS, crate_folders, repo_root, rust_files};

#[test]
fn every_source_file_opens_with_a_doc_line_saying_what_it_is() {
    let root = repo_root();
    let missing: Vec<_> = rust_files(&root, SOURCE_FOLDERS)
        .into_iter()
        .filter(|path| {
            let text = std::fs::read_to_string(path).unwrap_or_default();
            !text.starts_with("//!")
        })
        .map(|path| path.strip_prefix(&root).unwrap().display().to_string())
        .collect();
    assert!(
        missing.is_empty(),
        "files without a leading //! line: {missing:#?}"
    );
}

#[test]
fn every_first_doc_line_is_a_summary_of_at_most_a_hundred_characters() {
    let root = repo_root();
    let long: Vec<_> = rust_files(&root, SOURCE_FOLDERS)
        .into_iter()
        .filter_map(|path| {
            let text = std::fs::read_to_string(&path).unwrap_or_default();
            let first = text.lines().next().unwrap_or_default();
            let chars = first.chars().count();
            (chars > MAX_SUMMARY_CHARS).then(|| {
                format!(
                    "{} ({chars} characters)",
                    path.strip_prefix(&root).unwrap().display()
                )
            })
        })
        .collect();
    assert!(
        long.is_empty(),
        "shorten these first //! lines to {MAX_SUMMARY_CHARS} characters (the rest goes in a \
         paragraph below): {long:#?}"
    );
}

#[test]
fn no_source_file_grows_past_the_size_budget() {
    let root = repo_root();
    let long: Vec<_> = rust_files(&root, SOURCE_FOLDERS)
        .into_iter()
        .filter_map(|path| {
            let lines = std::fs::read_to_string(&path)
                .unwrap_or_default()
                .lines()
                .count();
            (lines > MAX_LINES).then(|| {
                format!(
                    "{} ({lines} lines)",
                    path.strip_prefix(&root).unwrap().display()
                )
            })
        })
        .collect();
    assert!(long.is_empty(), "split these by responsibility: {long:#?}");
}

#[test]
fn every_crate_has_a_heading_in_the_architecture_code_map() {
    let root = repo_root();
    let map =
        std::fs::read_to_string(root.join("ARCHITECTURE.md")).expect("ARCHITECTURE.md exists");
    let unmapped: Vec<_> = crate_folders(&root)
        .into_iter()
        .filter(|folder| !map.contains(&format!("### `{folder}`")))
        .collect();
    assert!(
        unmapped.is_empty(),
        "add a ### heading to ARCHITECTURE.md for: {unmapped:?}"
    );
}

#[test]
fn no_test_is_ignored() {
    let root = repo_root();
    let marker = ["#[", "ignore"].concat();
    let ignored: Vec<_> = rust_files(&root, SOURCE_FOLDERS)
        .into_iter()
        .filter(|path| {
            std::fs::read_to_string(path)
                .unwrap_or_default()
                .contains(&marker)
        })
        .map(|path| path.strip_prefix(&root).unwrap().display().to_string())
        .collect();
    assert!(
        ignored.is_empty(),
        "ignored tests prove nothing: {ignored:?}"
    );
}
