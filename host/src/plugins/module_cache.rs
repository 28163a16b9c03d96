//! Compiled modules by the SHA-256 of their bytes, so a reload (SIGHUP, a config edit, the admin
//! API) compiles only the plugins whose file changed: an unchanged module is reused at once.
//! Bounded: past [`MAX_MODULES`] distinct modules the cache starts over. Behind it, when the
//! server has set one with [`keep_on_disk`], a folder of compiled modules
//! ([`super::compiled_dir`]) makes a restart as quick as a reload.

use std::collections::HashMap;
use std::sync::{Mutex, OnceLock, RwLock};

use wasmtime::Module;

use super::compiled_dir::{CompiledDir, Unusable, sha256};

/// Distinct modules kept (plugins in use plus a few versions being swapped).
pub const MAX_MODULES: usize = 32;

type Key = [u8; 32];

fn cache() -> &'static Mutex<HashMap<Key, Module>> {
    static CACHE: OnceLock<Mutex<HashMap<Key, Module>>> = OnceLock::new();
    CACHE.get_or_init(Default::default)
}

fn disk() -> &'static RwLock<Option<CompiledDir>> {
    static DISK: RwLock<Option<CompiledDir>> = RwLock::new(None);
    &DISK
}

/// Compiled copies still being written to disk.
fn keeping() -> &'static Mutex<Vec<std::thread::JoinHandle<()>>> {
    static KEEPING: Mutex<Vec<std::thread::JoinHandle<()>>> = Mutex::new(Vec::new());
    &KEEPING
}

/// Waits until every compiled copy started so far is on disk (a CLI that precompiles for a
/// server must not exit before).
pub fn wait_kept() {
    let pending = std::mem::take(&mut *keeping().lock().unwrap_or_else(|e| e.into_inner()));
    for h in pending {
        let _ = h.join();
    }
}

/// Modules compiled from now on are kept in (and looked up in) `dir`.
pub fn keep_on_disk(dir: CompiledDir) {
    *disk().write().unwrap_or_else(|e| e.into_inner()) = Some(dir);
}

/// The compiled module for `bytes` (of plugin `plugin`, for the log): from the cache, or
/// compiled by `compile` and kept.
pub fn get_or_compile<E>(
    plugin: &str,
    bytes: &[u8],
    compile: impl FnOnce() -> Result<Module, E>,
) -> Result<Module, E> {
    let k = sha256(bytes);
    if let Some(m) = cache().lock().unwrap_or_else(|e| e.into_inner()).get(&k) {
        return Ok(m.clone());
    }
    let dir = disk().read().unwrap_or_else(|e| e.into_inner()).clone();
    let engine = super::engine::engine();
    let kept = dir.as_ref().map(|d| d.load(engine, &k));
    // Compiled outside the lock: other plugins load meanwhile.
    let module = match kept {
        Some(Ok(m)) => {
            tracing::debug!(plugin, "plugin module loaded from its compiled copy");
            m
        }
        _ => {
            let m = compile()?;
            if let Some(d) = &dir {
                if let Some(Err(why)) = &kept
                    && !matches!(why, Unusable::Missing)
                {
                    tracing::warn!(plugin, file = %d.path(engine, &k).display(), reason = %why, "compiled plugin copy not used; compiled again");
                }
                // Kept in the background: writing and syncing megabytes of native code is
                // not on the way of a hot swap (the copy only speeds up the next start).
                let (d, m, plugin) = (d.clone(), m.clone(), plugin.to_string());
                let kept = std::thread::Builder::new()
                    .name("ftpsd-keep-compiled".into())
                    .spawn(move || {
                        if let Err(e) = d.store(super::engine::engine(), &k, &m) {
                            tracing::warn!(plugin, folder = %d.dir().display(), error = %e, "cannot keep the compiled plugin; the next start compiles it again");
                        }
                    });
                if let Ok(handle) = kept {
                    let mut pending = keeping().lock().unwrap_or_else(|e| e.into_inner());
                    pending.retain(|h| !h.is_finished());
                    pending.push(handle);
                }
            }
            m
        }
    };
    let mut c = cache().lock().unwrap_or_else(|e| e.into_inner());
    if c.len() >= MAX_MODULES {
        c.clear();
    }
    c.insert(k, module.clone());
    Ok(module)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_bytes_compile_once() {
        let wat = b"(module (func (export \"f\")))";
        let mut compiled = 0;
        for _ in 0..3 {
            get_or_compile::<wasmtime::Error>("t", wat, || {
                compiled += 1;
                Module::new(crate::plugins::engine::engine(), wat)
            })
            .unwrap();
        }
        assert_eq!(compiled, 1);
        let other = b"(module (func (export \"g\")))";
        get_or_compile::<wasmtime::Error>("t", other, || {
            compiled += 1;
            Module::new(crate::plugins::engine::engine(), other)
        })
        .unwrap();
        assert_eq!(compiled, 2);
    }
}
