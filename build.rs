//! Records the git revision and the candle version for the results' provenance columns, and
//! whether the SmolLM2 and Gemma 3 GGUFs are cached (the cfgs `ablate_smollm2`, `ablate_gemma3`), so that the tests that need it
//! run where it is and show as ignored, with the reason, where it is not.

use std::path::PathBuf;
use std::process::Command;

/// The cache folder as `models::fetch::cache_dir` computes it.
fn model_cache() -> PathBuf {
    for v in ["ABLATE_CACHE_DIR", "XDG_CACHE_HOME", "HOME"] {
        println!("cargo:rerun-if-env-changed={v}");
    }
    if let Some(d) = std::env::var_os("ABLATE_CACHE_DIR") {
        return PathBuf::from(d).join("models");
    }
    if let Some(d) = std::env::var_os("XDG_CACHE_HOME") {
        return PathBuf::from(d).join("ablate").join("models");
    }
    let home = std::env::var_os("HOME").map_or_else(|| PathBuf::from("."), PathBuf::from);
    home.join(".cache").join("ablate").join("models")
}

fn main() {
    // New commits move a branch ref (or packed-refs), not only HEAD.
    for p in [
        ".git/HEAD",
        ".git/index",
        ".git/refs/heads",
        ".git/packed-refs",
        "Cargo.lock",
    ] {
        println!("cargo:rerun-if-changed={p}");
    }
    let rev = Command::new("git")
        .args(["describe", "--always", "--dirty", "--abbrev=12"])
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_else(|| "unknown".into());
    println!("cargo:rustc-env=ABLATE_GIT_REV={rev}");
    let lock = std::fs::read_to_string("Cargo.lock").unwrap_or_default();
    let candle = lock
        .split("[[package]]")
        .find(|p| p.contains("name = \"candle-core\""))
        .and_then(|p| p.lines().find_map(|l| l.strip_prefix("version = ")))
        .map(|v| v.trim_matches('"').to_string())
        .unwrap_or_else(|| "unknown".into());
    println!("cargo:rustc-env=ABLATE_CANDLE_VERSION={candle}");

    // Watch the cache folder (created so that watching it works), so a fetch flips the cfg.
    println!("cargo::rustc-check-cfg=cfg(ablate_smollm2)");
    println!("cargo::rustc-check-cfg=cfg(ablate_gemma3)");
    let cache = model_cache();
    let _ = std::fs::create_dir_all(&cache);
    println!("cargo:rerun-if-changed={}", cache.display());
    if cache.join("SmolLM2-135M-Instruct.Q4_1.gguf").is_file() {
        println!("cargo:rustc-cfg=ablate_smollm2");
    }
    if cache.join("gemma-3-270m-q4_k_m.gguf").is_file() {
        println!("cargo:rustc-cfg=ablate_gemma3");
    }
}
