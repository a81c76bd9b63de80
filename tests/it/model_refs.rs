//! The one rule for a model reference (README "Models", `ablate run --help`): a known name always
//! means the known model, then an existing local path, then a hub id; `./` forces a local path.
//! And every grid under ablations/ dry-runs through the real resolution code.

use std::path::Path;
use std::process::Command;

use ablate::models::ModelSpec;
use ablate::models::fetch::KnownModel;

use super::common::fixture;

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// A folder holding a model folder named like the known model, and one named like a hub id.
fn folder_with_lookalikes() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for sub in ["smollm2-135m", "owner/local-model"] {
        let d = dir.path().join(sub);
        std::fs::create_dir_all(&d).unwrap();
        std::fs::copy(fixture("tiny-llama/config.json"), d.join("config.json")).unwrap();
    }
    dir
}

#[test]
fn a_known_name_means_the_known_model_even_beside_a_folder_of_that_name() {
    let dir = folder_with_lookalikes();
    let smollm2 = KnownModel::by_alias("smollm2-135m").unwrap();
    let r = ModelSpec::resolve("smollm2-135m", dir.path()).unwrap();
    assert_eq!(r.spec, ModelSpec::Alias(smollm2));
    let note = r
        .note
        .expect("a note says the local folder was passed over");
    assert!(
        note.contains("./smollm2-135m") && note.contains("known model"),
        "{note}"
    );
    // The other name of the same model, with no folder of that name: no note.
    let r = ModelSpec::resolve("smollm2", dir.path()).unwrap();
    assert_eq!((r.spec, r.note), (ModelSpec::Alias(smollm2), None));
    // random: applies the same rule to what follows it.
    let r = ModelSpec::resolve("random:smollm2-135m", dir.path()).unwrap();
    assert_eq!(
        r.spec,
        ModelSpec::Random(Box::new(ModelSpec::Alias(smollm2)))
    );
}

#[test]
fn dot_slash_forces_a_local_path_and_hub_ids_come_last() {
    let dir = folder_with_lookalikes();
    let local = ModelSpec::resolve("./smollm2-135m", dir.path()).unwrap();
    assert_eq!(
        local.spec,
        ModelSpec::HfDir(dir.path().join("./smollm2-135m"))
    );
    assert!(local.note.is_none());
    // owner/name: a local folder where one exists, else a hub id.
    assert_eq!(
        ModelSpec::resolve("owner/local-model", dir.path())
            .unwrap()
            .spec,
        ModelSpec::HfDir(dir.path().join("owner/local-model"))
    );
    assert_eq!(
        ModelSpec::resolve("EleutherAI/gpt-neo-125M", dir.path())
            .unwrap()
            .spec,
        ModelSpec::Hub("EleutherAI/gpt-neo-125M".into())
    );
    // A forced local path that is not there is an error naming it, never a hub id.
    for missing in ["./owner/nothing", "./nothing", "nothing", "a/b/c"] {
        let e = format!("{:#}", ModelSpec::resolve(missing, dir.path()).unwrap_err());
        assert!(
            e.contains(missing) && e.contains("no such file or folder"),
            "{e}"
        );
    }
}

#[test]
fn a_resolved_location_parses_back_to_the_same_model_wherever_it_is_read() {
    let dir = folder_with_lookalikes();
    let grid_dir = dir.path().join("owner");
    for reference in [
        "smollm2-135m",
        "random:smollm2",
        "local-model",
        "./local-model",
        "random:local-model",
        "EleutherAI/gpt-neo-125M",
    ] {
        let spec = ModelSpec::resolve(reference, &grid_dir).unwrap().spec;
        let back = ModelSpec::parse(&spec.location()).unwrap();
        assert_eq!(back.describe(), spec.describe(), "{reference}");
        assert_eq!(std::mem::discriminant(&back), std::mem::discriminant(&spec));
    }
    // A relative local path keeps its `./`, so a known name in the working directory cannot
    // capture it.
    let rel = ModelSpec::HfDir("smollm2-135m".into());
    assert_eq!(rel.location(), "./smollm2-135m");
}

/// A grid beside a folder named like its known model, resolved by the runner's own code: the
/// known model is taken and a note says so (the order before this rule took the folder).
#[test]
fn a_grid_resolves_its_known_model_past_a_same_named_folder() {
    let dir = folder_with_lookalikes();
    let grid = dir.path().join("grid.toml");
    std::fs::write(&grid, "models = [\"smollm2-135m\", \"./smollm2-135m\"]\n").unwrap();
    let known = ablate::runner::resolve::model_of(&grid, "smollm2-135m").unwrap();
    assert_eq!(
        known.spec,
        ModelSpec::Alias(KnownModel::by_alias("smollm2-135m").unwrap())
    );
    assert!(known.note.unwrap().contains("grid.toml"));
    let local = ablate::runner::resolve::model_of(&grid, "./smollm2-135m").unwrap();
    assert!(
        matches!(local.spec, ModelSpec::HfDir(_)),
        "{:?}",
        local.spec
    );
}

/// The grid files under ablations/ and its program folders (ablations/frontier/...): every TOML
/// that names models or a base, less the bases that are not grids by themselves (no datasets).
fn committed_grids() -> Vec<(std::path::PathBuf, Vec<String>)> {
    let mut out = Vec::new();
    let top = root().join("ablations");
    let mut files: Vec<std::path::PathBuf> = Vec::new();
    for e in std::fs::read_dir(&top).unwrap().flatten() {
        let p = e.path();
        if p.is_dir()
            && p.file_name()
                .is_some_and(|n| n != "configs" && n != "probes")
        {
            files.extend(std::fs::read_dir(&p).unwrap().flatten().map(|e| e.path()));
        } else {
            files.push(p);
        }
    }
    for p in files {
        if p.extension().is_none_or(|x| x != "toml") {
            continue;
        }
        let t: toml::Table = std::fs::read_to_string(&p).unwrap().parse().unwrap();
        let is_grid = t.contains_key("base") || t.get("datasets").is_some_and(|d| d.is_array());
        if !is_grid {
            continue;
        }
        let grid = ablate::config::grid::Grid::load(&p).unwrap();
        let mut models: Vec<String> = grid.runs.iter().map(|r| r.model.clone()).collect();
        models.dedup();
        out.push((p, models));
    }
    out.sort();
    assert!(out.len() >= 9, "{out:?}");
    out
}

fn dry_run(grid: &Path, results: &Path) -> std::process::Output {
    let hub_cache = tempfile::tempdir().unwrap();
    Command::new(env!("CARGO_BIN_EXE_ablate"))
        .current_dir(root())
        .args(["run", "--dry-run", "--results"])
        .arg(results)
        .arg(grid.strip_prefix(root()).unwrap())
        // No test touches the network: the hub client is pointed at a closed local port.
        .env("HF_ENDPOINT", "http://127.0.0.1:9")
        .env("HF_HOME", hub_cache.path())
        .output()
        .unwrap()
}

/// Every committed grid dry-runs: one naming a known model lists its runs (where the model is
/// cached: tests never fetch), one naming a hub id lists its runs or says clearly that it cannot
/// download it.
#[test]
fn every_committed_grid_dry_runs() {
    let cached = KnownModel::by_alias("smollm2-135m")
        .unwrap()
        .path()
        .is_file();
    let mut listed = 0;
    for (grid, models) in committed_grids() {
        let known = models.iter().all(|m| KnownModel::by_alias(m).is_some());
        let uncached: Vec<&String> = models
            .iter()
            .filter(|m| KnownModel::by_alias(m).is_some_and(|k| !k.path().is_file()))
            .collect();
        if !uncached.is_empty() {
            eprintln!("{}: skipped, {uncached:?} not cached", grid.display());
            continue;
        }
        let results = tempfile::tempdir().unwrap();
        let out = dry_run(&grid, results.path());
        let (stdout, stderr) = (
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr),
        );
        let name = grid.file_name().unwrap().to_string_lossy();
        if out.status.success() {
            let summary = stdout
                .lines()
                .find(|l| l.contains(" runs: "))
                .unwrap_or_else(|| panic!("{name}: no summary\n{stdout}"));
            let n: usize = summary.split_whitespace().next().unwrap().parse().unwrap();
            // A header, one line per run, the summary.
            assert!(n > 0 && stdout.lines().count() == n + 2, "{name}\n{stdout}");
            assert!(
                summary.contains(&format!("0 finished, {n} pending")),
                "{name}: {summary}"
            );
            for m in &models {
                assert!(
                    stdout.contains(m.as_str()),
                    "{name}: {m} not listed\n{stdout}"
                );
            }
            listed += 1;
        } else {
            assert!(!known, "{name} failed:\n{stderr}");
            // The clear offline error: the file, the model and what could not be downloaded.
            assert!(
                stderr.contains(name.as_ref())
                    && models
                        .iter()
                        .any(|m| stderr.contains(&format!("model `{m}`")))
                    && stderr.contains("cannot download"),
                "{name}: {stderr}"
            );
        }
    }
    if cached {
        assert!(listed >= 3, "the SmolLM2 grids list their runs");
    }
}

/// The README's main command on the committed results: every run of the paper grid is finished,
/// so it would run none (asserted through --dry-run, never by starting the grid). The run ids
/// are unchanged, or the committed rows would not match.
#[cfg_attr(
    not(ablate_smollm2),
    ignore = "the SmolLM2 GGUF is not cached: run `ablate fetch smollm2` (.ci/run does), then rebuild"
)]
#[test]
fn the_paper_grid_is_finished_in_the_committed_results() {
    let out = Command::new(env!("CARGO_BIN_EXE_ablate"))
        .current_dir(root())
        .args(["run", "ablations/grid.toml", "--dry-run"])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("30 candle runs: 30 finished, 0 pending"),
        "{stdout}"
    );
    assert_eq!(stdout.matches("  done").count(), 30, "{stdout}");
}

/// `ablate run --help` and the README's rule name every known model by every name it answers to,
/// from the one list of known models (the help once listed only SmolLM2's names).
#[test]
fn the_rule_as_stated_names_every_known_model() {
    let help = Command::new(env!("CARGO_BIN_EXE_ablate"))
        .args(["run", "--help"])
        .output()
        .unwrap();
    assert!(help.status.success());
    let help = String::from_utf8_lossy(&help.stdout).replace(char::is_whitespace, "");
    let readme = std::fs::read_to_string(root().join("README.md")).unwrap();
    let readme_rule = readme
        .lines()
        .find(|l| l.starts_with("1. a known name"))
        .expect("README: the rule's first step");
    for known in ablate::models::fetch::KNOWN {
        for name in known.names() {
            assert!(help.contains(name), "`ablate run --help` omits `{name}`");
            assert!(
                readme_rule.contains(&format!("`{name}`")),
                "README's rule omits `{name}`"
            );
        }
    }
}
