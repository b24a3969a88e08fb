//! docs.rs builds with every feature and `--cfg docsrs`: every public item behind a feature
//! must say which one in the API docs (`#[cfg_attr(docsrs, doc(cfg(...)))]`), or readers
//! cannot tell what to enable.

use std::path::{Path, PathBuf};

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// `file:line` of each public item gated by a feature without a `doc(cfg)` naming it.
fn unmarked_gates(source: &str) -> Vec<usize> {
    let lines: Vec<&str> = source.lines().collect();
    let mut unmarked = Vec::new();
    for (i, line) in lines.iter().enumerate() {
        let gate = line.trim();
        if !(gate.starts_with("#[cfg(") && gate.contains("feature")) {
            continue;
        }
        // The attributes after the gate, then the item they apply to.
        let rest = &lines[i + 1..];
        let attrs = rest
            .iter()
            .take_while(|l| l.trim().starts_with("#["))
            .count();
        let item = rest.get(attrs).map_or("", |l| l.trim());
        let marked = rest[..attrs].iter().any(|l| l.contains("doc(cfg("));
        if item.starts_with("pub ") && !marked {
            unmarked.push(i + 1);
        }
    }
    unmarked
}

#[test]
fn every_feature_gated_public_item_names_its_feature_in_the_docs() {
    let mut files = Vec::new();
    rust_files(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("src"),
        &mut files,
    );
    let mut faults = Vec::new();
    for file in files
        .iter()
        .filter(|f| !f.to_string_lossy().contains("/bin/"))
    {
        let source = std::fs::read_to_string(file).unwrap();
        for line in unmarked_gates(&source) {
            faults.push(format!("{}:{line}", file.display()));
        }
    }
    assert!(faults.is_empty(), "no doc(cfg) on: {faults:?}");
}

#[test]
fn a_gate_without_doc_cfg_is_found() {
    let source = "#[cfg(feature = \"redis\")]\npub use x::Y;\n\n#[cfg(feature = \"sqlite\")]\n#[cfg_attr(docsrs, doc(cfg(feature = \"sqlite\")))]\npub mod sqlite;\n#[cfg(feature = \"cache\")]\nfn private() {}\n";
    assert_eq!(unmarked_gates(source), [1]);
}
