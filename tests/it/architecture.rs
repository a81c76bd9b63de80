//! The house's one-way arrows, checked from the source: every top-level module of the library
//! has a floor, and a module may use only modules on floors below its own. A circle or an upward
//! arrow (config reaching into train, models into strategies' rules...) fails here.

use std::collections::BTreeMap;
use std::path::Path;

/// Floor of each top-level module: data flows config -> data -> model -> train -> record ->
/// report. Modules on the same floor may not use each other either.
const FLOORS: [(&str, u8); 13] = [
    ("strategy", 0),
    ("nn", 0),
    ("measure", 0),
    ("results", 0),
    ("config", 1),
    ("data", 2),
    ("models", 3),
    ("eval", 4),
    ("train", 5),
    ("bench", 6),
    ("device_check", 6),
    ("runner", 6),
    ("report", 6),
];

fn rust_files(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let p = e.path();
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

/// module -> (used module -> first file that uses it), from `crate::x` paths outside comments.
fn uses() -> BTreeMap<String, BTreeMap<String, String>> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let path_re = regex::Regex::new(r"crate::([a-z_]+)").unwrap();
    let group_re = regex::Regex::new(r"crate::\{([^}]*)\}").unwrap();
    let mut out: BTreeMap<String, BTreeMap<String, String>> = BTreeMap::new();
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    for f in files {
        let rel = f.strip_prefix(&src).unwrap();
        let module = rel
            .components()
            .next()
            .unwrap()
            .as_os_str()
            .to_string_lossy()
            .trim_end_matches(".rs")
            .to_string();
        if ["lib", "main", "cli"].contains(&module.as_str()) {
            continue;
        }
        let text = std::fs::read_to_string(&f).unwrap();
        let code: String = text
            .lines()
            .filter(|l| !l.trim_start().starts_with("//"))
            .collect::<Vec<_>>()
            .join("\n");
        let mut used: Vec<String> = path_re
            .captures_iter(&code)
            .map(|c| c[1].to_string())
            .collect();
        for g in group_re.captures_iter(&code) {
            used.extend(g[1].split(',').filter_map(|s| {
                let s = s.trim().split("::").next()?.trim();
                (!s.is_empty()).then(|| s.to_string())
            }));
        }
        for u in used.into_iter().filter(|u| *u != module) {
            out.entry(module.clone())
                .or_default()
                .entry(u)
                .or_insert_with(|| rel.display().to_string());
        }
    }
    out
}

#[test]
fn modules_only_use_modules_below_them() {
    let floor: BTreeMap<&str, u8> = FLOORS.into_iter().collect();
    let graph = uses();
    let mut wrong = Vec::new();
    for (module, used) in &graph {
        let Some(&mine) = floor.get(module.as_str()) else {
            wrong.push(format!("module `{module}` has no floor in FLOORS"));
            continue;
        };
        for (u, file) in used {
            match floor.get(u.as_str()) {
                Some(&theirs) if theirs < mine => {}
                Some(&theirs) => wrong.push(format!(
                    "{file}: `{module}` (floor {mine}) uses `{u}` (floor {theirs})"
                )),
                None => wrong.push(format!("{file}: uses unknown module `{u}`")),
            }
        }
    }
    assert!(
        wrong.is_empty(),
        "arrows that do not point down:\n{}",
        wrong.join("\n")
    );
    // The check sees real edges (it would pass vacuously on an empty graph).
    assert!(graph["train"].contains_key("models") && graph["config"].contains_key("strategy"));
}
