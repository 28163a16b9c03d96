//! `cargo xtask <task>`: the project's set-up commands.
//!
//! - `test`  — everything CI runs: builds the server, runs unit, property and end-to-end tests.
//! - `serve` — builds the plugins and starts the server with examples/serve.toml (the embedded
//!   default plus the bundled plugins) unless given `-- --config FILE`.
//! - `bench` — builds and runs the benchmark, printing figures next to same-run ceilings.
//! - `plugins [--path DIR]` — builds the plugins (Rust and C) or one plugin crate.
//! - `schema` — regenerates the ABI's JSON Schema (plugin-sdk/abi/schema.json).

mod c_plugins;
mod plugins;
mod tools;

use std::path::PathBuf;
use std::process::{Command, ExitCode};

use anyhow::{Context, bail};

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("xtask: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn run() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let task = args.next().unwrap_or_default();
    let rest: Vec<String> = args.collect();
    match task.as_str() {
        "test" => test(&rest),
        "serve" => serve(&rest),
        "bench" => bench(&rest),
        "schema" => schema(),
        "plugins" => match rest.as_slice() {
            [flag, dir] if flag == "--path" => plugins::build_crate(std::path::Path::new(dir)),
            [] => all_plugins(),
            _ => bail!("usage: cargo xtask plugins [--path DIR]"),
        },
        _ => {
            eprintln!("usage: cargo xtask <test|serve|bench|plugins> [args]");
            eprintln!(
                "  plugins       build every plugin (Rust and C examples) to wasm32 into target/plugins/"
            );
            eprintln!(
                "  plugins --path DIR  build the plugin crate in DIR (e.g. from `ftpsd plugin new`)"
            );
            eprintln!("  test          build and run every test (what CI runs)");
            eprintln!("  schema        write the ABI's JSON Schema to plugin-sdk/abi/schema.json");
            eprintln!(
                "  serve [ARGS]  build and run `ftpsd serve [ARGS]` (default: embedded config)"
            );
            eprintln!(
                "  bench [ARGS]  run the benchmark (`--quick` for a short run, `--plugins-only`, `--swap-only`, `--startup-only`, `--bandwidth-only`, `--transfers-only`, `--sessions-only`, `--memory-only`, `--storm-only`, `--cluster-only`)"
            );
            bail!("unknown task '{task}'")
        }
    }
}

/// The workspace root (xtask lives one level below it).
fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(PathBuf::from)
        .unwrap_or_default()
}

fn cargo() -> Command {
    let mut c = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
    // Backtraces on every error cost tens of µs and flood test output.
    c.env("RUST_LIB_BACKTRACE", "0");
    c
}

fn status(mut c: Command) -> anyhow::Result<()> {
    let desc = format!("{c:?}");
    let s = c.status().with_context(|| format!("running {desc}"))?;
    if !s.success() {
        bail!("{desc} failed ({s})");
    }
    Ok(())
}

/// The Rust plugins and the C example, into target/plugins/.
fn all_plugins() -> anyhow::Result<()> {
    let out = plugins::build(&root())?;
    c_plugins::build(&root(), &out)?;
    Ok(())
}

fn test(extra: &[String]) -> anyhow::Result<()> {
    // The clients and servers the end-to-end tests drive, installed when missing.
    tools::ensure(&root())?;
    // Plugins first: their native tests, then the .wasm files the end-to-end tests load.
    plugins::test_native(&root())?;
    all_plugins()?;
    // The CLI tests run the real binary: build it first, with every test target in the same
    // invocation so features resolve exactly as for `cargo test` (no second wasmtime build).
    let mut build = cargo();
    build.args(["build", "--release", "--workspace", "--all-targets"]);
    status(build)?;
    let mut t = cargo();
    t.args(["test", "--release", "--workspace"]).args(extra);
    status(t)
}

/// Regenerates plugin-sdk/abi/schema.json from the SDK's types (a test checks it is current).
fn schema() -> anyhow::Result<()> {
    let mut c = cargo();
    c.args([
        "run",
        "--release",
        "-q",
        "-p",
        "ftpsd-plugin-sdk",
        "--features",
        "schema",
        "--example",
        "abi_schema",
    ]);
    let out = c.output().context("running the abi_schema example")?;
    if !out.status.success() {
        bail!(
            "generating the schema failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let path = root().join("plugin-sdk/abi/schema.json");
    std::fs::write(&path, &out.stdout).with_context(|| format!("writing {}", path.display()))?;
    eprintln!("xtask: wrote {}", path.display());
    Ok(())
}

fn serve(extra: &[String]) -> anyhow::Result<()> {
    // `cargo xtask serve -- --config F` and `cargo xtask serve --config F` both work.
    let extra = extra.strip_prefix(&["--".to_string()]).unwrap_or(extra);
    let root = root();
    // The bundled plugins are loaded by examples/serve.toml; build them first.
    plugins::build(&root)?;
    let mut c = cargo();
    c.args([
        "run",
        "--release",
        "-p",
        "ftpsd",
        "--bin",
        "ftpsd",
        "--",
        "serve",
    ]);
    if extra.is_empty() {
        c.arg("--config").arg(root.join("examples/serve.toml"));
    }
    c.args(extra);
    status(c)
}

fn bench(extra: &[String]) -> anyhow::Result<()> {
    plugins::build(&root())?;
    let mut build = cargo();
    build.args(["build", "--release", "--workspace", "--all-targets"]);
    status(build)?;
    let mut c = cargo();
    c.args([
        "run",
        "--release",
        "-p",
        "ftpsd-e2e",
        "--bin",
        "ftpsd-bench",
        "--",
    ])
    .args(extra);
    status(c)
}
