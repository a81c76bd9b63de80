//! The house's one-way arrows, checked from the source: every top-level module of the library
//! has a floor, and a module may use only modules on floors below its own. A circle or an upward
//! arrow (config reaching into train, models into strategies' rules...) fails here.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use crate::common::rust_files;

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

/// module -> (used module -> first file that uses it): the file edges of [`file_edges`], seen
/// from their top-level modules (the binary's `cli` stands outside the library's floors).
fn uses() -> BTreeMap<String, BTreeMap<String, String>> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let module = |rel: &str| {
        rel.split('/')
            .next()
            .unwrap()
            .trim_end_matches(".rs")
            .to_string()
    };
    let mut out: BTreeMap<String, BTreeMap<String, String>> = BTreeMap::new();
    for (file, targets) in file_edges(&src) {
        let from = module(&file);
        if ["lib", "main", "cli"].contains(&from.as_str()) {
            continue;
        }
        for to in targets.iter().map(|t| module(t)).filter(|t| *t != from) {
            out.entry(from.clone())
                .or_default()
                .entry(to)
                .or_insert_with(|| file.clone());
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

/// Files as modules: `nn/linear.rs` is `[nn, linear]`, `nn/mod.rs` is `[nn]`; lib.rs and
/// main.rs are the crate root.
fn module_files(src: &Path) -> BTreeMap<Vec<String>, String> {
    let mut files = Vec::new();
    rust_files(src, &mut files);
    files
        .into_iter()
        .map(|f| {
            let rel = f
                .strip_prefix(src)
                .unwrap()
                .to_string_lossy()
                .replace('\\', "/");
            let mut parts: Vec<String> = rel
                .trim_end_matches(".rs")
                .split('/')
                .map(String::from)
                .collect();
            if matches!(
                parts.last().map(String::as_str),
                Some("mod" | "lib" | "main")
            ) {
                parts.pop();
            }
            (parts, rel)
        })
        .collect()
}

/// A `use` tree's leaves as paths: `super::{a, b::{c, D}}` -> super::a, super::b::c, super::b::D.
fn use_paths(prefix: &[String], tree: &str) -> Vec<Vec<String>> {
    let tree = tree.trim();
    let (head, rest) = match tree.find('{') {
        Some(i) if tree.ends_with('}') => (&tree[..i], Some(&tree[i + 1..tree.len() - 1])),
        _ => (tree, None),
    };
    let mut path = prefix.to_vec();
    path.extend(
        head.split("::")
            .map(|s| s.split(" as ").next().unwrap().trim().to_string())
            .filter(|s| !s.is_empty()),
    );
    let Some(inner) = rest else {
        return vec![path];
    };
    let (mut parts, mut depth, mut cur) = (Vec::new(), 0, String::new());
    for ch in inner.chars() {
        match ch {
            '{' => depth += 1,
            '}' => depth -= 1,
            ',' if depth == 0 => {
                parts.push(std::mem::take(&mut cur));
                continue;
            }
            _ => {}
        }
        cur.push(ch);
    }
    parts.push(cur);
    parts
        .iter()
        .filter(|p| !p.trim().is_empty() && p.trim() != "self")
        .flat_map(|p| use_paths(&path, p))
        .collect()
}

/// The code of a file as far as edges go: no comments, no `#[cfg(test)]` items, no `mod`
/// declarations, and in a mod.rs no `pub use` re-exports. Each kept line comes with the inline
/// modules (`mod imp { ... }`) it sits in, which `super::` inside them must climb out of.
fn edge_code(text: &str, is_mod_rs: bool) -> Vec<(usize, String)> {
    let decl = regex::Regex::new(r"^(pub(\([a-z]+\))? )?mod \w+;").unwrap();
    let inline = regex::Regex::new(r"^(pub(\([a-z]+\))? )?mod \w+ \{").unwrap();
    let reexport = regex::Regex::new(r"^pub(\([a-z]+\))? use ").unwrap();
    let (mut out, mut depth, mut inline_at) = (Vec::new(), 0i64, Vec::<i64>::new());
    let (mut skip_until, mut skip_item, mut in_reexport) = (None::<i64>, false, false);
    for line in text.lines() {
        let s = line.trim();
        if s.starts_with("//") {
            continue;
        }
        let delta = line.matches('{').count() as i64 - line.matches('}').count() as i64;
        if let Some(d) = skip_until {
            depth += delta;
            if depth <= d {
                skip_until = None;
            }
            continue;
        }
        if in_reexport {
            in_reexport = !s.ends_with(';');
            continue;
        }
        if skip_item {
            // The item after #[cfg(test)]: one line, or a block to its closing brace.
            skip_item = s.starts_with("#[");
            if !skip_item && delta > 0 {
                skip_until = Some(depth);
                depth += delta;
            }
            continue;
        }
        if s.starts_with("#[cfg(test)]") {
            skip_item = true;
            continue;
        }
        if decl.is_match(s) {
            continue;
        }
        if is_mod_rs && reexport.is_match(s) {
            in_reexport = !s.ends_with(';');
            continue;
        }
        if inline.is_match(s) {
            inline_at.push(depth);
        }
        depth += delta;
        while inline_at.last().is_some_and(|&d| depth <= d) {
            inline_at.pop();
        }
        out.push((inline_at.len(), line.to_string()));
    }
    out
}

/// file -> files it uses: `use` trees and paths through `crate::`, `super::`, `self::`, and a
/// mod.rs's bare paths into its own child modules, each resolved to the file of the longest
/// module prefix. Edges to the crate root are left out.
fn file_edges(src: &Path) -> BTreeMap<String, BTreeSet<String>> {
    let modules = module_files(src);
    let path_re = regex::Regex::new(r"\b(?:crate|super|self)(?:::\w+)+").unwrap();
    let use_re = regex::Regex::new(r"\buse\s+((?:crate|super|self)\b[^;]*);").unwrap();
    let mut edges: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (module, rel) in &modules {
        let text = std::fs::read_to_string(src.join(rel)).unwrap();
        let is_mod_rs = rel.ends_with("mod.rs") || module.is_empty();
        let children: Vec<&String> = modules
            .keys()
            .filter(|k| k.len() == module.len() + 1 && k.starts_with(module))
            .map(|k| k.last().unwrap())
            .collect();
        let child_re = (!children.is_empty()).then(|| {
            let names: Vec<&str> = children.iter().map(|c| c.as_str()).collect();
            regex::Regex::new(&format!(r"(?:^|[^\w:])((?:{})::\w+)", names.join("|"))).unwrap()
        });
        let lines = edge_code(&text, is_mod_rs);
        let mut paths: Vec<(usize, Vec<String>)> = Vec::new();
        // `use` statements may span lines: join each inline-module level's code.
        for level in 0..=lines.iter().map(|l| l.0).max().unwrap_or(0) {
            let code: String = lines
                .iter()
                .filter(|l| l.0 == level)
                .map(|l| l.1.as_str())
                .collect::<Vec<_>>()
                .join("\n");
            for c in use_re.captures_iter(&code) {
                let tree: String = c[1].split_whitespace().collect::<Vec<_>>().join(" ");
                paths.extend(use_paths(&[], &tree).into_iter().map(|p| (level, p)));
            }
            for m in path_re.find_iter(&code) {
                paths.push((level, m.as_str().split("::").map(String::from).collect()));
            }
            if let Some(re) = &child_re {
                for c in re.captures_iter(&code) {
                    let mut p = vec!["self".to_string()];
                    p.extend(c[1].split("::").map(String::from));
                    paths.push((level, p));
                }
            }
        }
        for (level, path) in paths {
            // Inside `mod imp { }` the current module is one level deeper than the file's.
            let mut base: Vec<String> = module.clone();
            base.extend((0..level).map(|_| String::new()));
            let mut rest = path.as_slice();
            if rest.first().is_some_and(|p| p == "crate") {
                base.clear();
                rest = &rest[1..];
            }
            while let Some(first) = rest.first() {
                match first.as_str() {
                    "super" => {
                        base.pop();
                    }
                    "self" => {}
                    _ => break,
                }
                rest = &rest[1..];
            }
            let mut full: Vec<String> = base.into_iter().filter(|s| !s.is_empty()).collect();
            full.extend(rest.iter().cloned());
            let target = (0..=full.len())
                .rev()
                .find_map(|n| modules.get(&full[..n]).filter(|_| n > 0));
            if let Some(t) = target
                && t != rel
            {
                edges.entry(rel.clone()).or_default().insert(t.clone());
            }
        }
    }
    edges
}

/// A circle of files, if any: each uses the next, the last the first.
fn find_circle(edges: &BTreeMap<String, BTreeSet<String>>) -> Option<Vec<String>> {
    fn visit(
        f: &str,
        edges: &BTreeMap<String, BTreeSet<String>>,
        state: &mut BTreeMap<String, u8>,
        stack: &mut Vec<String>,
    ) -> Option<Vec<String>> {
        state.insert(f.to_string(), 1);
        stack.push(f.to_string());
        for g in edges.get(f).into_iter().flatten() {
            match state.get(g.as_str()) {
                Some(1) => {
                    let i = stack.iter().position(|s| s == g).unwrap();
                    return Some(stack[i..].to_vec());
                }
                Some(_) => {}
                None => {
                    if let Some(c) = visit(g, edges, state, stack) {
                        return Some(c);
                    }
                }
            }
        }
        stack.pop();
        state.insert(f.to_string(), 2);
        None
    }
    let mut state = BTreeMap::new();
    for f in edges.keys() {
        if !state.contains_key(f.as_str())
            && let Some(c) = visit(f, edges, &mut state, &mut Vec::new())
        {
            return Some(c);
        }
    }
    None
}

#[test]
fn no_two_source_files_use_each_other_even_through_a_chain() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let edges = file_edges(&src);
    if let Some(circle) = find_circle(&edges) {
        panic!("files in a circle: {}", circle.join(" -> "));
    }
    // The check sees edges inside modules, not only between them.
    let has = |a: &str, b: &str| edges.get(a).is_some_and(|e| e.contains(b));
    assert!(has("nn/linear.rs", "nn/lora.rs") && has("nn/lora.rs", "nn/linear_ops.rs"));
    assert!(has("models/llama.rs", "models/causal_lm.rs") && has("cli/train.rs", "cli/lookup.rs"));
    assert!(
        has("models/mod.rs", "models/llama.rs"),
        "bare child paths count"
    );
}

#[test]
fn the_file_circle_check_can_fail() {
    let dir = tempfile::tempdir().unwrap();
    let write = |p: &str, text: &str| {
        let p = dir.path().join(p);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, text).unwrap();
    };
    write("lib.rs", "pub mod m;\n");
    write(
        "m/mod.rs",
        "mod a;\nmod b;\npub use a::A;\n#[cfg(test)]\nmod tests {\n    use super::b::B;\n}\n",
    );
    // a -> b through a grouped use, b -> a through a path in code: a circle of two files.
    write("m/a.rs", "use super::{b::{B, C}};\npub struct A;\n");
    write(
        "m/b.rs",
        "pub struct B;\npub struct C;\nfn f() { let _ = crate::m::a::A; }\n",
    );
    let edges = file_edges(dir.path());
    let circle = find_circle(&edges).expect("the circle a -> b -> a is found");
    assert_eq!(circle.len(), 2, "{circle:?}");
    // Re-exports in mod.rs and test code are not edges; `super::` in an inline module climbs out
    // of it first.
    assert!(!edges.contains_key("m/mod.rs"), "{edges:?}");
    write(
        "m/b.rs",
        "pub struct B;\npub struct C;\nmod imp {\n    use super::B;\n}\n",
    );
    let edges = file_edges(dir.path());
    assert_eq!(find_circle(&edges), None, "{edges:?}");
    assert!(
        !edges.get("m/b.rs").is_some_and(|e| e.contains("m/mod.rs")),
        "{edges:?}"
    );
}
