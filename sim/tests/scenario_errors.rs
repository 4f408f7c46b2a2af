//! Every file in `scenarios-rejected/` must be rejected, with the exact message a user would
//! read: file, line, column, field and what was expected. Each message is an insta snapshot
//! named after its file, so a change in wording or location shows up in review.

use std::path::{Path, PathBuf};

use kafkasim_sim::scenario::{load, parse};

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("sim/ has a parent")
        .to_path_buf()
}

fn rejected_files() -> Vec<PathBuf> {
    let dir = repo_root().join("scenarios-rejected");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("cannot list {}: {e}", dir.display()))
        .map(|entry| entry.expect("directory entry").path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "toml"))
        .collect();
    files.sort();
    files
}

#[test]
fn every_rejected_scenario_is_rejected_with_its_message() {
    let files = rejected_files();
    assert!(
        files.len() >= 17,
        "expected the whole rejection catalogue, found {}",
        files.len()
    );
    for file in files {
        let name = file.file_stem().unwrap().to_str().unwrap().to_string();
        // Messages carry the path as given; a relative one keeps snapshots machine-independent.
        let shown = format!("scenarios-rejected/{name}.toml");
        let text = std::fs::read_to_string(&file).unwrap();
        let error = match parse(&shown, &text) {
            Ok(_) => panic!("{shown} was accepted, but it exists to be rejected"),
            Err(error) => error,
        };
        assert_eq!(error.file, shown);
        assert!(error.line >= 1 && error.column >= 1, "{shown}: {error}");
        insta::assert_snapshot!(name, error.to_string());
    }
}

#[test]
fn load_names_the_path_as_given() {
    // Tests run in sim/, so this relative path is what a user in sim/ would type.
    let path = Path::new("../scenarios-rejected/unknown-table.toml");
    let error = load(path).unwrap_err();
    assert_eq!(error.file, "../scenarios-rejected/unknown-table.toml");
    assert!(
        error
            .to_string()
            .starts_with("../scenarios-rejected/unknown-table.toml:"),
        "{error}"
    );
}

#[test]
fn load_reports_a_missing_file() {
    let error = load(Path::new("scenarios/no-such-file.toml")).unwrap_err();
    assert_eq!(error.file, "scenarios/no-such-file.toml");
    assert!(error.message.starts_with("cannot read"), "{error}");
}
