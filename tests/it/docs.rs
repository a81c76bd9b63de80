//! The README stays true to the code: its schema tables name every Parquet column that
//! `results::schema` defines, and its Layout table names every folder under `src/`.

use std::path::Path;

use ablate::results::schema::TABLES;

fn readme() -> String {
    std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md")).unwrap()
}

/// The README section that starts at the heading `### {table}`.
fn section<'a>(text: &'a str, heading: &str) -> &'a str {
    let start = text
        .find(heading)
        .unwrap_or_else(|| panic!("README has no `{heading}`"));
    let rest = &text[start + heading.len()..];
    &rest[..rest.find("\n#").unwrap_or(rest.len())]
}

#[test]
fn readme_documents_every_column() {
    let text = readme();
    for (table, cols) in TABLES {
        let s = section(&text, &format!("### {table} ("));
        let missing: Vec<&str> = cols
            .iter()
            .map(|c| c.name)
            .filter(|n| !s.contains(n))
            .collect();
        assert!(
            missing.is_empty(),
            "README's {table} table lacks {missing:?}"
        );
    }
}

#[test]
fn readme_layout_lists_every_source_folder() {
    let text = readme();
    let layout = section(&text, "## Layout");
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    for e in std::fs::read_dir(&src).unwrap().flatten() {
        if e.path().is_dir() {
            let name = format!("`src/{}/`", e.file_name().to_string_lossy());
            assert!(layout.contains(&name), "README's Layout lacks {name}");
        }
    }
}
