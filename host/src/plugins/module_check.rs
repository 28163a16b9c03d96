//! What is said about a module before and after it runs: a file that cannot be a plugin is
//! refused before the compiler sees it, and compile and trap errors are cut to one bounded
//! line.

use super::error::{CallError, PluginError};

/// Largest plugin file accepted.
pub const MAX_MODULE_BYTES: usize = 64 << 20;
/// Longest reason kept from a compile or trap error (they can quote the whole input).
const MAX_REASON: usize = 300;

/// A one-line, bounded version of an error text for logs and admin views.
pub fn short_reason(text: &str) -> String {
    let line = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join(" | ");
    let mut out: String = line.chars().take(MAX_REASON).collect();
    if line.chars().count() > MAX_REASON {
        out.push_str(" ...");
    }
    out
}

/// Refuses what cannot be a plugin before the compiler sees it: too large, or neither a
/// binary module (`\0asm`) nor WebAssembly text.
pub fn check_module_bytes(plugin: &str, bytes: &[u8]) -> Result<(), PluginError> {
    let not = |reason: String| PluginError::Compile {
        plugin: plugin.to_string(),
        reason,
    };
    if bytes.len() > MAX_MODULE_BYTES {
        return Err(not(format!(
            "the file has {} bytes; plugins are at most {} MiB",
            bytes.len(),
            MAX_MODULE_BYTES >> 20
        )));
    }
    if bytes.starts_with(b"\0asm") {
        return Ok(());
    }
    let text = std::str::from_utf8(&bytes[..bytes.len().min(4096)]).map(str::trim_start);
    if matches!(text, Ok(t) if t.starts_with('(') || t.starts_with(";;")) {
        return Ok(());
    }
    let head: Vec<String> = bytes.iter().take(4).map(|b| format!("{b:02x}")).collect();
    Err(not(format!(
        "a .wasm file starts with 00 61 73 6d (\\0asm), this one {} ({}; truncated, or not the built plugin?)",
        if bytes.is_empty() {
            "is empty".to_string()
        } else {
            format!("with {}", head.join(" "))
        },
        if bytes.is_empty() {
            "0 bytes".to_string()
        } else {
            format!("{} bytes", bytes.len())
        },
    )))
}

/// A wasmtime error from a call, as the call's error (an interrupt is the CPU deadline).
pub(super) fn trap(e: wasmtime::Error) -> CallError {
    if matches!(
        e.downcast_ref::<wasmtime::Trap>(),
        Some(wasmtime::Trap::Interrupt)
    ) {
        return CallError::Timeout;
    }
    let text = format!("{e:#}");
    if text.contains("deadline:") || text.contains("interrupt") {
        CallError::Timeout
    } else {
        CallError::Trap(short_reason(&text))
    }
}
