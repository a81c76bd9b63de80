//! Hub loading against a local server on 127.0.0.1 that serves the tiny GPT-Neo fixture in the
//! hub's URL layout (`/{repo}/resolve/{revision}/{file}`, with the headers hf-hub reads), through
//! the real binary with `HF_ENDPOINT` and `HF_HOME` set for it alone: a model that loads and
//! scores exactly as the local folder does, a 404, and a download cut short.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::path::Path;
use std::process::{Command, Output};
use std::sync::Arc;

use crate::common::fixture;

/// Serve `files` (URL path -> bytes); paths in `truncate` send half their bytes, then hang up.
fn serve(files: HashMap<String, Vec<u8>>, truncate: Vec<String>) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let files = Arc::new(files);
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let files = files.clone();
            let truncate = truncate.clone();
            std::thread::spawn(move || {
                let mut reader = BufReader::new(stream.try_clone().unwrap());
                let mut first = String::new();
                reader.read_line(&mut first).unwrap_or(0);
                let path = first.split_whitespace().nth(1).unwrap_or("/").to_string();
                let mut from = 0usize;
                let mut to: Option<usize> = None;
                loop {
                    let mut line = String::new();
                    if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                        break;
                    }
                    if let Some(r) = line.to_ascii_lowercase().strip_prefix("range: bytes=") {
                        let (a, b) = r.trim().split_once('-').unwrap_or(("0", ""));
                        from = a.parse().unwrap_or(0);
                        to = b.parse().ok();
                    }
                }
                let mut out = stream;
                let Some(body) = files.get(&path) else {
                    let _ = out.write_all(
                        b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
                    );
                    return;
                };
                let n = body.len();
                let end = to.unwrap_or(n - 1).min(n - 1);
                let part = &body[from..=end];
                // Content hash as ETag: hf-hub names its cache blob after it.
                let etag = {
                    use std::hash::{Hash, Hasher};
                    let mut h = std::collections::hash_map::DefaultHasher::new();
                    body.hash(&mut h);
                    format!("{:016x}", h.finish())
                };
                let head = format!(
                    "HTTP/1.1 206 Partial Content\r\nContent-Length: {}\r\nContent-Range: bytes {from}-{end}/{n}\r\nETag: \"{etag}\"\r\nX-Repo-Commit: {}\r\nConnection: close\r\n\r\n",
                    part.len(),
                    "0123456789abcdef0123456789abcdef01234567"
                );
                let _ = out.write_all(head.as_bytes());
                let sent = if truncate.contains(&path) && to.is_none() {
                    &part[..part.len() / 2]
                } else {
                    part
                };
                let _ = out.write_all(sent);
            });
        }
    });
    format!("http://{addr}")
}

/// The tiny GPT-Neo fixture as hub repo `test-org/{name}`.
fn repo_files(name: &str) -> HashMap<String, Vec<u8>> {
    ["config.json", "tokenizer.json", "model.safetensors"]
        .iter()
        .map(|f| {
            (
                format!("/test-org/{name}/resolve/main/{f}"),
                std::fs::read(fixture("tiny-gpt-neo").join(f)).unwrap(),
            )
        })
        .collect()
}

fn eval(model: &str, endpoint: &str, home: &Path) -> Output {
    let text = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/data/general");
    Command::new(env!("CARGO_BIN_EXE_ablate"))
        .args(["eval", "--model", model, "--data"])
        .arg(text)
        .args(["--seq-len", "16", "--max-blocks", "8"])
        .env("HF_ENDPOINT", endpoint)
        .env("HF_HOME", home)
        // ureq would send even 127.0.0.1 through a proxy (it ignores NO_PROXY).
        .env_remove("ALL_PROXY")
        .env_remove("all_proxy")
        .env_remove("HTTPS_PROXY")
        .env_remove("https_proxy")
        .env_remove("HTTP_PROXY")
        .env_remove("http_proxy")
        .output()
        .unwrap()
}

fn ppl_line(o: &Output) -> String {
    let out = String::from_utf8_lossy(&o.stdout);
    out.lines()
        .find(|l| l.contains("eval perplexity"))
        .map(|l| l.split(", ").next().unwrap_or(l).to_string())
        .unwrap_or_else(|| {
            panic!(
                "no perplexity in {out} / {}",
                String::from_utf8_lossy(&o.stderr)
            )
        })
}

#[test]
fn hub_model_from_a_local_endpoint() {
    let home = tempfile::tempdir().unwrap();
    let endpoint = serve(repo_files("tiny-gpt-neo"), vec![]);
    let hub = eval("test-org/tiny-gpt-neo", &endpoint, home.path());
    assert!(
        hub.status.success(),
        "{}",
        String::from_utf8_lossy(&hub.stderr)
    );
    let local = eval(
        fixture("tiny-gpt-neo").to_str().unwrap(),
        &endpoint,
        home.path(),
    );
    // The downloaded model scores exactly as the local folder (same tokens, same weights).
    assert_eq!(ppl_line(&hub), ppl_line(&local));
    assert!(
        home.path()
            .join("hub/models--test-org--tiny-gpt-neo/snapshots")
            .is_dir()
    );

    // A model the server does not have: the error names the model and the file.
    let missing = eval("test-org/nothing-here", &endpoint, home.path());
    let err = String::from_utf8_lossy(&missing.stderr);
    eprintln!("{err}");
    assert!(!missing.status.success());
    assert!(
        err.contains("test-org/nothing-here") && err.contains("config.json"),
        "{err}"
    );
}

#[test]
fn a_download_cut_short_is_an_error() {
    let home = tempfile::tempdir().unwrap();
    let weights = "/test-org/tiny-cut/resolve/main/model.safetensors".to_string();
    let endpoint = serve(repo_files("tiny-cut"), vec![weights]);
    let cut = eval("test-org/tiny-cut", &endpoint, home.path());
    let err = String::from_utf8_lossy(&cut.stderr);
    eprintln!("{err}");
    assert!(!cut.status.success(), "a truncated download loaded");
    assert!(
        err.contains("model.safetensors")
            && err.contains("test-org/tiny-cut")
            && err.contains("before all bytes"),
        "{err}"
    );
}
