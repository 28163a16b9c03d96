//! Plugins written in C (examples/c-plugins/*), built with Debian's clang-22 and wasi-libc:
//! the proof that the plugin ABI (plugin-sdk/abi/schema.json) is usable without Rust or the
//! SDK. Each folder is one plugin; its `.c` files become `target/plugins/c_<folder>.wasm`.
//! The packages are installed when missing (as root), like the Rust plugins' Debian route.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, bail};

const PACKAGES: [&str; 4] = [
    "clang-22",
    "lld-22",
    "wasi-libc",
    "libclang-rt-22-dev-wasm32",
];

fn ready() -> bool {
    Command::new("clang-22").arg("--version").output().is_ok()
        && Path::new("/usr/bin/wasm-ld-22").exists()
        && Path::new("/usr/lib/wasm32-wasi/libc.a").exists()
        && Path::new("/usr/lib/llvm-22/lib/clang/22/lib/wasi").exists()
}

fn install() -> anyhow::Result<()> {
    crate::tools::apt_install(&PACKAGES, "the C wasm toolchain (clang-22, wasi-libc)")?;
    if !ready() {
        bail!("installing {} failed", PACKAGES.join(" "));
    }
    Ok(())
}

/// Builds every C plugin into `out`; returns the .wasm files written.
pub fn build(root: &Path, out: &Path) -> anyhow::Result<Vec<PathBuf>> {
    let dir = root.join("examples/c-plugins");
    let Ok(entries) = std::fs::read_dir(&dir) else {
        return Ok(Vec::new());
    };
    let mut plugins: Vec<PathBuf> = entries
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.is_dir())
        .collect();
    plugins.sort();
    if plugins.is_empty() {
        return Ok(Vec::new());
    }
    if !ready() {
        install()?;
    }
    std::fs::create_dir_all(out)?;
    let mut built = Vec::new();
    for plugin in plugins {
        let name = plugin
            .file_name()
            .map(|n| n.to_string_lossy().replace('-', "_"))
            .unwrap_or_default();
        let mut sources: Vec<PathBuf> = std::fs::read_dir(&plugin)?
            .flatten()
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|x| x == "c"))
            .collect();
        sources.sort();
        if sources.is_empty() {
            continue;
        }
        let wasm = out.join(format!("c_{name}.wasm"));
        // A WASI reactor (exports called many times, `_initialize` once), warnings as errors,
        // symbols stripped; the exports are named in the source with `export_name`.
        let status = Command::new("clang-22")
            .args([
                "--target=wasm32-wasi",
                "--sysroot=/usr",
                "-Wno-deprecated",
                "-std=c11",
                "-O2",
                "-Wall",
                "-Wextra",
                "-Werror",
                "-mexec-model=reactor",
                "-fuse-ld=/usr/bin/wasm-ld-22",
                "-Wl,--strip-all",
                "-o",
            ])
            .arg(&wasm)
            .args(&sources)
            .status()
            .context("running clang-22")?;
        if !status.success() {
            bail!(
                "building the C plugin {} failed ({status})",
                plugin.display()
            );
        }
        eprintln!(
            "xtask: {} ({} KB, C)",
            wasm.display(),
            std::fs::metadata(&wasm)?.len() / 1024
        );
        built.push(wasm);
    }
    Ok(built)
}
