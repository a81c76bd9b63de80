use candle_core::quantized::gguf_file;
use std::path::{Path, PathBuf};

pub fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

/// Copy a fixture folder into a temp dir so a test can damage it.
pub fn copy_fixture(name: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for e in std::fs::read_dir(fixture(name)).unwrap() {
        let p = e.unwrap().path();
        std::fs::copy(&p, dir.path().join(p.file_name().unwrap())).unwrap();
    }
    dir
}

pub fn err_text(e: anyhow::Error) -> String {
    format!("{e:#}")
}

/// max |a - b| over all elements.
pub fn max_abs_diff(a: &candle_core::Tensor, b: &candle_core::Tensor) -> f32 {
    (a - b)
        .unwrap()
        .abs()
        .unwrap()
        .max_all()
        .unwrap()
        .to_scalar::<f32>()
        .unwrap()
}

/// Run `cmd`, which must succeed (its stderr is the failure message).
pub fn run_ok(cmd: &mut std::process::Command) -> std::process::Output {
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// Run the tiny grid (tests/fixtures/tiny-grid.toml) into `results` with the real binary.
pub fn run_tiny_grid(results: &Path) {
    run_ok(
        std::process::Command::new(env!("CARGO_BIN_EXE_ablate"))
            .arg("run")
            .arg(fixture("tiny-grid.toml"))
            .arg("--results")
            .arg(results),
    );
}

/// Every `.rs` file below `dir`.
pub fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let p = e.path();
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

/// The GGUF fixture `source` rewritten as `name` with `edit` applied to its metadata, `extra`
/// tensors (4 ones) added and the tensors named in `drop` left out.
pub fn edited_gguf(
    source: &str,
    name: &str,
    edit: impl FnOnce(&mut std::collections::HashMap<String, gguf_file::Value>),
    extra: &[&str],
    drop: &[&str],
) -> (tempfile::TempDir, String) {
    use candle_core::Device;
    use candle_core::quantized::{GgmlDType, QTensor};
    let mut reader = std::io::BufReader::new(std::fs::File::open(fixture(source)).unwrap());
    let content = gguf_file::Content::read(&mut reader).unwrap();
    let mut md = content.metadata.clone();
    edit(&mut md);
    let mut names: Vec<&String> = content
        .tensor_infos
        .keys()
        .filter(|n| !drop.contains(&n.as_str()))
        .collect();
    names.sort();
    let mut tensors: Vec<(String, QTensor)> = names
        .iter()
        .map(|n| {
            (
                (*n).clone(),
                content.tensor(&mut reader, n, &Device::Cpu).unwrap(),
            )
        })
        .collect();
    for n in extra {
        let t = candle_core::Tensor::ones(4, candle_core::DType::F32, &Device::Cpu).unwrap();
        tensors.push((
            n.to_string(),
            QTensor::quantize(&t, GgmlDType::F32).unwrap(),
        ));
    }
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(name);
    let mut f = std::fs::File::create(&path).unwrap();
    let md_refs: Vec<(&str, &gguf_file::Value)> = md.iter().map(|(k, v)| (k.as_str(), v)).collect();
    let t_refs: Vec<(&str, &QTensor)> = tensors.iter().map(|(k, v)| (k.as_str(), v)).collect();
    gguf_file::write(&mut f, &md_refs, &t_refs).unwrap();
    let p = path.to_string_lossy().into_owned();
    (dir, p)
}
