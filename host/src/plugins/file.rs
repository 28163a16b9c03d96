//! A plugin from its file: read with the limits a wrong path needs (regular files only, capped),
//! then loaded.

use std::path::Path;

use super::{Loaded, PluginError, PluginSection, instance};
use crate::state::SharedStore;

/// Reads and loads one plugin section (relative paths against `base`).
pub fn load_section(
    section: &PluginSection,
    base: &Path,
    kv: SharedStore,
) -> Result<Loaded, PluginError> {
    load_with_bytes(section, base, kv).map(|(p, _)| p)
}

/// As [`load_section`], also returning the module's bytes (to keep them as the last good).
pub(crate) fn load_with_bytes(
    section: &PluginSection,
    base: &Path,
    kv: SharedStore,
) -> Result<(Loaded, Vec<u8>), PluginError> {
    let path = if section.path.is_absolute() {
        section.path.clone()
    } else {
        base.join(&section.path)
    };
    let bytes = read_module(&section.name, &path).map_err(|e| match e {
        PluginError::Read {
            plugin,
            path,
            reason,
            ..
        } if section.path.is_relative() && reason.kind() == std::io::ErrorKind::NotFound => {
            PluginError::Read {
                plugin,
                path,
                reason,
                hint: format!(
                    " (a relative path starts at the config file's folder, {})",
                    base.display()
                ),
            }
        }
        e => e,
    })?;
    Loaded::load(&bytes, section.with_base(base), kv).map(|p| (p, bytes))
}

/// Reads a plugin file: a regular file of at most `MAX_MODULE_BYTES`. A device (`/dev/zero`)
/// or a FIFO is refused before it is opened, and the read is capped whatever the file claims
/// to be, so a wrong `path` can neither fill the memory nor hang a load.
fn read_module(plugin: &str, path: &Path) -> Result<Vec<u8>, PluginError> {
    use std::io::Read;
    use std::os::unix::fs::OpenOptionsExt;
    let read = |reason| PluginError::Read {
        plugin: plugin.to_string(),
        path: path.to_path_buf(),
        reason,
        hint: String::new(),
    };
    let too_large = |size: String| PluginError::Compile {
        plugin: plugin.to_string(),
        reason: format!(
            "the file has {size} bytes; plugins are at most {} MiB",
            instance::MAX_MODULE_BYTES >> 20
        ),
    };
    let meta = std::fs::metadata(path).map_err(read)?;
    if !meta.is_file() {
        return Err(read(std::io::Error::other(
            "not a regular file (a plugin is a .wasm file)",
        )));
    }
    if meta.len() > instance::MAX_MODULE_BYTES as u64 {
        return Err(too_large(meta.len().to_string()));
    }
    // Non-blocking open: a FIFO swapped in after the check cannot hang the load.
    let file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(path)
        .map_err(read)?;
    let mut bytes = Vec::with_capacity(meta.len() as usize);
    file.take(instance::MAX_MODULE_BYTES as u64 + 1)
        .read_to_end(&mut bytes)
        .map_err(read)?;
    if bytes.len() > instance::MAX_MODULE_BYTES {
        return Err(too_large("more than that".into()));
    }
    Ok(bytes)
}
