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

/// Each README schema table is the declaration's column list: the same names, no more, each
/// with its declared kind (a type cell names one kind for every column of its row, or one per
/// column).
#[test]
fn readme_schema_tables_are_the_declared_columns_with_their_kinds() {
    use ablate::results::schema::ColumnKind;
    let text = readme();
    for (table, cols) in TABLES {
        let s = section(&text, &format!("### {table} ("));
        let mut documented = std::collections::BTreeMap::new();
        for line in s
            .lines()
            .filter(|l| l.starts_with("| ") && !l.starts_with("| ---"))
        {
            let cells: Vec<&str> = line.split('|').map(str::trim).collect();
            let (names, kinds) = (cells[1], cells[2]);
            if names == "column" || names.is_empty() {
                continue;
            }
            let names: Vec<&str> = names.split(", ").map(|n| n.trim_matches('`')).collect();
            let kinds: Vec<&str> = kinds.split(", ").collect();
            for (i, n) in names.iter().enumerate() {
                let k = if kinds.len() == names.len() {
                    kinds[i]
                } else {
                    kinds[0]
                };
                let kind = match k {
                    "str" => Some(ColumnKind::Str),
                    "i64" => Some(ColumnKind::Int),
                    "f64" => Some(ColumnKind::Float),
                    // A cell without a type (the evals table's run_id) states none.
                    "" => None,
                    other => panic!("README {table}: `{n}` has type `{other}`"),
                };
                documented.insert(n.to_string(), kind);
            }
        }
        let declared: std::collections::BTreeMap<String, Option<ColumnKind>> = cols
            .iter()
            .map(|c| (c.name.to_string(), Some(c.kind)))
            .collect();
        let extra: Vec<&String> = documented
            .keys()
            .filter(|n| !declared.contains_key(*n))
            .collect();
        assert!(
            extra.is_empty(),
            "README's {table} table names undeclared {extra:?}"
        );
        for (n, k) in &documented {
            if let Some(k) = k {
                assert_eq!(Some(*k), declared[n], "README {table}: kind of `{n}`");
            }
        }
    }
}
